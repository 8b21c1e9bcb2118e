//! The remote engines of `cargo xtask test-docker`: a second `dockerd`
//! listening on 127.0.0.1 with `--tlsverify` (certificates made here with
//! `openssl`), and an `sshd` on a loopback port whose logins reach the
//! main engine through `docker system dial-stdio`. Everything lives in a
//! scratch directory of its own (data root, exec root, pidfile, keys) and
//! is stopped by PID.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `dockerd` with `--tlsverify` on `127.0.0.1:<port>`, plus a unix
/// socket of its own (for `docker load` and the leftover check).
pub struct TlsEngine {
    child: Option<Child>,
    args: Vec<String>,
    log: PathBuf,
    /// `127.0.0.1:<port>`.
    pub address: String,
    /// `unix://...` of the same engine.
    pub socket: String,
    /// `ca.pem`, `cert.pem`, `key.pem` of a client the engine trusts.
    pub client_certs: PathBuf,
    /// The right CA, and a client certificate from a CA the engine does
    /// not trust.
    pub untrusted_client: PathBuf,
    /// A CA that did not sign the engine's certificate, and a good
    /// client certificate.
    pub wrong_ca: PathBuf,
    /// The pidfile (the engine-pool test stops the engine through it).
    pub pidfile: PathBuf,
    /// Whether the engine has gVisor's `runsc` registered.
    pub runsc: bool,
}

/// An `sshd` on `127.0.0.1:<port>` that lets `root` in with a generated
/// key, with `DOCKER_HOST` set for the login to the main engine.
pub struct SshServer {
    child: Option<Child>,
    /// `root@127.0.0.1:<port>`.
    pub destination: String,
    /// The client's private key.
    pub identity: PathBuf,
    /// A known_hosts file holding the server's host key.
    pub known_hosts: PathBuf,
    /// A directory with an `ssh` wrapper that uses the key and the
    /// known_hosts file, to put first on `PATH` (as a user's
    /// `~/.ssh/config` would): the docker CLI and the sandbox's `ssh`
    /// both go through it.
    pub wrapper_dir: PathBuf,
}

/// The scratch directory for this run (short: socket paths are limited).
pub fn scratch() -> crate::Result<PathBuf> {
    let dir = PathBuf::from(format!("/tmp/deepagent-xtask-{}", std::process::id()));
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

fn free_port() -> crate::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("cannot find a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn run_in(dir: &Path, program: &str, args: &[&str]) -> crate::Result {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!("cannot run {program}: {e} (apt-get install openssl openssh-server)")
        })?;
    if !out.status.success() {
        return Err(format!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// A CA (`<name>-ca.pem`, `<name>-ca-key.pem`) in `dir`.
fn make_ca(dir: &Path, name: &str) -> crate::Result {
    let key = format!("{name}-ca-key.pem");
    let cert = format!("{name}-ca.pem");
    run_in(dir, "openssl", &["genrsa", "-out", &key, "2048"])?;
    run_in(
        dir,
        "openssl",
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            &key,
            "-days",
            "2",
            "-subj",
            &format!("/CN=deepagent test {name} CA"),
            "-out",
            &cert,
        ],
    )
}

/// A key and a certificate signed by the CA `ca`, with the extensions in
/// `ext` (one per line).
fn make_cert(dir: &Path, ca: &str, name: &str, cn: &str, ext: &str) -> crate::Result {
    let key = format!("{name}-key.pem");
    let csr = format!("{name}.csr");
    let ext_file = format!("{name}.ext");
    fs::write(dir.join(&ext_file), ext).map_err(|e| e.to_string())?;
    run_in(dir, "openssl", &["genrsa", "-out", &key, "2048"])?;
    run_in(
        dir,
        "openssl",
        &[
            "req",
            "-new",
            "-key",
            &key,
            "-subj",
            &format!("/CN={cn}"),
            "-out",
            &csr,
        ],
    )?;
    run_in(
        dir,
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{ca}-ca.pem"),
            "-CAkey",
            &format!("{ca}-ca-key.pem"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext_file,
            "-out",
            &format!("{name}-cert.pem"),
        ],
    )
}

/// `ca.pem`, `cert.pem`, `key.pem` in `dir/<name>`, as DOCKER_CERT_PATH
/// lays them out.
fn client_dir(dir: &Path, name: &str, ca: &str, client: &str) -> crate::Result<PathBuf> {
    let out = dir.join(name);
    fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    for (from, to) in [
        (format!("{ca}-ca.pem"), "ca.pem"),
        (format!("{client}-cert.pem"), "cert.pem"),
        (format!("{client}-key.pem"), "key.pem"),
    ] {
        fs::copy(dir.join(&from), out.join(to)).map_err(|e| format!("copy {from}: {e}"))?;
    }
    Ok(out)
}

impl TlsEngine {
    /// Makes the certificates, starts the engine, waits until it answers
    /// over TLS, and loads `images` into it from the main engine.
    pub fn start(dir: &Path, images: &[&str]) -> crate::Result<TlsEngine> {
        let certs = dir.join("certs");
        fs::create_dir_all(&certs).map_err(|e| e.to_string())?;
        make_ca(&certs, "engine")?;
        make_ca(&certs, "other")?;
        make_cert(
            &certs,
            "engine",
            "server",
            "127.0.0.1",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )?;
        make_cert(
            &certs,
            "engine",
            "client",
            "deepagent-client",
            "extendedKeyUsage=clientAuth\n",
        )?;
        make_cert(
            &certs,
            "other",
            "stranger",
            "deepagent-stranger",
            "extendedKeyUsage=clientAuth\n",
        )?;
        let client_certs = client_dir(&certs, "client", "engine", "client")?;
        let untrusted_client = client_dir(&certs, "untrusted", "engine", "stranger")?;
        let wrong_ca = client_dir(&certs, "wrong-ca", "other", "client")?;

        let port = free_port()?;
        let data_root = dir.join("tls-data");
        let exec_root = dir.join("tls-exec");
        let pidfile = dir.join("tls-dockerd.pid");
        let sock = dir.join("tls.sock");
        let config = dir.join("tls-dockerd.json");
        // runsc as a second runtime, as in .ci/run, so the engine pool can
        // name an isolation runtime per engine.
        let runsc = Path::new("/usr/bin/runsc").exists();
        fs::write(
            &config,
            if runsc {
                r#"{"runtimes": {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none"]}}}"#
            } else {
                "{}"
            },
        )
        .map_err(|e| e.to_string())?;
        let p = |p: &Path| p.display().to_string();
        let args = vec![
            "--bridge=none".to_owned(),
            "--iptables=false".to_owned(),
            "--tlsverify".to_owned(),
            format!("--tlscacert={}", p(&certs.join("engine-ca.pem"))),
            format!("--tlscert={}", p(&certs.join("server-cert.pem"))),
            format!("--tlskey={}", p(&certs.join("server-key.pem"))),
            format!("--host=tcp://127.0.0.1:{port}"),
            format!("--host=unix://{}", p(&sock)),
            format!("--data-root={}", p(&data_root)),
            format!("--exec-root={}", p(&exec_root)),
            format!("--pidfile={}", p(&pidfile)),
            format!("--config-file={}", p(&config)),
        ];
        let log = dir.join("tls-dockerd.log");
        let mut engine = TlsEngine {
            child: None,
            args,
            log,
            address: format!("127.0.0.1:{port}"),
            socket: format!("unix://{}", p(&sock)),
            client_certs,
            untrusted_client,
            wrong_ca,
            pidfile,
            runsc,
        };
        engine.launch()?;
        load_images(&engine.socket, images)?;
        Ok(engine)
    }

    /// Starts (or restarts) dockerd with the same settings and waits
    /// until it answers over TLS.
    pub fn launch(&mut self) -> crate::Result {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| e.to_string())?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new("dockerd")
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("cannot start dockerd: {e}"))?;
        eprintln!(
            "test-docker: TLS engine at tcp://{} (pid {}, log {})",
            self.address,
            child.id(),
            self.log.display()
        );
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self
                .docker(&["info", "--format", "{{.ServerVersion}}"])
                .is_ok()
            {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "the TLS engine exited ({status}); see {}",
                        self.log.display()
                    ));
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the TLS engine did not answer within 60s; see {}",
                    self.log.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// The environment that points the docker CLI and the tests at this
    /// engine over TLS.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DOCKER_HOST", format!("tcp://{}", self.address)),
            ("DOCKER_TLS_VERIFY", "1".to_owned()),
            ("DOCKER_CERT_PATH", self.client_certs.display().to_string()),
        ]
    }

    /// `docker --tlsverify ... <args>` against this engine.
    pub fn docker(&self, args: &[&str]) -> crate::Result<String> {
        let mut cmd = Command::new("docker");
        cmd.args(args).stdin(Stdio::null());
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run docker: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// True while the dockerd this started still runs.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Stops dockerd by its PID and waits for it (and its containerd).
    pub fn stop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            stop_child(child, "the TLS engine");
        }
        self.child = None;
    }
}

impl Drop for TlsEngine {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `docker save <images> | docker -H <socket> load`.
fn load_images(socket: &str, images: &[&str]) -> crate::Result {
    eprintln!(
        "test-docker: loading {} into the TLS engine",
        images.join(", ")
    );
    let mut save = Command::new("docker")
        .arg("save")
        .args(images)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run docker save: {e}"))?;
    let stdout = save.stdout.take().ok_or("docker save has no stdout")?;
    let status = Command::new("docker")
        .args(["-H", socket, "load", "-q"])
        .env_remove("DOCKER_TLS_VERIFY")
        .stdin(stdout)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run docker load: {e}"))?;
    let saved = save.wait().map_err(|e| e.to_string())?;
    if !status.success() || !saved.success() {
        return Err("docker save | docker load into the TLS engine failed".into());
    }
    Ok(())
}

/// SIGTERM, then up to 30 s for the process to go; SIGKILL after that.
fn stop_child(child: &mut Child, what: &str) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            eprintln!("test-docker: stopped {what} (pid {pid})");
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("test-docker: {what} (pid {pid}) ignored SIGTERM; killing it");
    let _ = child.kill();
    let _ = child.wait();
}

impl SshServer {
    /// Generates host and client keys and starts `sshd -D` on a loopback
    /// port; logins get `DOCKER_HOST=<engine>` (the main engine).
    pub fn start(dir: &Path, engine: &str) -> crate::Result<SshServer> {
        let ssh = dir.join("ssh");
        fs::create_dir_all(&ssh).map_err(|e| e.to_string())?;
        for key in ["host_key", "client_key"] {
            run_in(
                &ssh,
                "ssh-keygen",
                &["-q", "-t", "ed25519", "-N", "", "-C", key, "-f", key],
            )?;
        }
        let read = |f: &str| {
            fs::read_to_string(ssh.join(f))
                .map(|s| s.trim().to_owned())
                .map_err(|e| format!("read {f}: {e}"))
        };
        let client_pub = read("client_key.pub")?;
        let host_pub = read("host_key.pub")?;
        // The login's DOCKER_HOST, so `docker system dial-stdio` on the
        // "remote" side reaches an engine.
        fs::write(
            ssh.join("authorized_keys"),
            format!("environment=\"DOCKER_HOST={engine}\" {client_pub}\n"),
        )
        .map_err(|e| e.to_string())?;
        let port = free_port()?;
        let host_key_line: Vec<&str> = host_pub.split_whitespace().take(2).collect();
        fs::write(
            ssh.join("known_hosts"),
            format!("[127.0.0.1]:{port} {}\n", host_key_line.join(" ")),
        )
        .map_err(|e| e.to_string())?;
        let p = |f: &str| ssh.join(f).display().to_string();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             PermitRootLogin prohibit-password\nAllowUsers root\nStrictModes no\nUsePAM no\n\
             PermitUserEnvironment DOCKER_HOST\nMaxStartups 100\nMaxSessions 100\n",
            p("host_key"),
            p("sshd.pid"),
            p("authorized_keys"),
        );
        fs::write(ssh.join("sshd_config"), config).map_err(|e| e.to_string())?;
        // sshd's privilege separation directory.
        fs::create_dir_all("/run/sshd").map_err(|e| format!("mkdir /run/sshd: {e}"))?;
        let log = fs::File::create(ssh.join("sshd.log")).map_err(|e| e.to_string())?;
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f", &p("sshd_config")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| {
                format!("cannot start /usr/sbin/sshd: {e} (apt-get install openssh-server)")
            })?;
        eprintln!(
            "test-docker: sshd on 127.0.0.1:{port} (pid {}, log {})",
            child.id(),
            p("sshd.log")
        );
        let wrapper_dir = ssh.join("bin");
        fs::create_dir_all(&wrapper_dir).map_err(|e| e.to_string())?;
        let wrapper = wrapper_dir.join("ssh");
        fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec /usr/bin/ssh -i {} -o IdentitiesOnly=yes -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes \"$@\"\n",
                p("client_key"),
                p("known_hosts")
            ),
        )
        .map_err(|e| e.to_string())?;
        fs::set_permissions(
            &wrapper,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .map_err(|e| e.to_string())?;
        let mut server = SshServer {
            child: Some(child),
            destination: format!("root@127.0.0.1:{port}"),
            identity: ssh.join("client_key"),
            known_hosts: ssh.join("known_hosts"),
            wrapper_dir,
        };
        // Up once a login runs the docker CLI against the engine.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = Command::new("ssh")
                .args(["-o", "BatchMode=yes", "-p", &port.to_string()])
                .args(["-i", &p("client_key"), "-o", "IdentitiesOnly=yes"])
                .args(["-o", &format!("UserKnownHostsFile={}", p("known_hosts"))])
                .args(["-o", "StrictHostKeyChecking=yes", "root@127.0.0.1"])
                .args(["docker", "version", "--format", "{{.Server.APIVersion}}"])
                .stdin(Stdio::null())
                .output();
            match out {
                Ok(o) if o.status.success() => break,
                Ok(o) if Instant::now() > deadline => {
                    server.stop();
                    return Err(format!(
                        "a login through sshd on 127.0.0.1:{port} cannot reach the engine: {}",
                        String::from_utf8_lossy(&o.stderr).trim()
                    ));
                }
                Err(e) => {
                    server.stop();
                    return Err(format!(
                        "cannot run ssh: {e} (apt-get install openssh-client)"
                    ));
                }
                _ => std::thread::sleep(Duration::from_millis(300)),
            }
        }
        Ok(server)
    }

    /// The environment that points the tests at the main engine through
    /// this server, with the `ssh` wrapper first on PATH.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let path = std::env::var("PATH").unwrap_or_default();
        vec![
            ("DOCKER_HOST", format!("ssh://{}", self.destination)),
            ("PATH", format!("{}:{path}", self.wrapper_dir.display())),
        ]
    }

    /// Stops sshd by its PID.
    pub fn stop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            stop_child(child, "sshd");
        }
        self.child = None;
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        self.stop();
    }
}
