//! The connection to a Docker engine and the mapping of its errors.
//!
//! [`EngineConfig`] says which engine a sandbox or session manager talks
//! to: a unix socket, `tcp://` (with TLS client certificates, or plain
//! HTTP on a trusted network), `ssh://` (the system `ssh` running
//! `docker system dial-stdio` on the remote host), or the standard
//! environment (`DOCKER_HOST`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`).
//! Each sandbox carries its own, so one process can drive several engines.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::errors::Error as DockerError;
use bollard::{Docker, API_DEFAULT_VERSION};
use deepagent_core::{BackendError, Result};

/// How long connecting and negotiating the API version may take before the
/// engine counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// bollard's per-request timeout, in seconds (its own default).
const REQUEST_TIMEOUT_SECS: u64 = 120;

/// The local socket Docker listens on unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

const LOCAL_HINT: &str =
    "start one with `dockerd --bridge=none --iptables=false &` or point DOCKER_HOST (or the engine setting) at one";

/// The client certificate, its key and the CA that signed the engine's
/// certificate: the three files `docker --tlsverify` uses
/// (`ca.pem`, `cert.pem`, `key.pem` in `DOCKER_CERT_PATH`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA certificate the engine's certificate must be signed by.
    pub ca: PathBuf,
    /// The client certificate (signed by a CA the engine trusts).
    pub cert: PathBuf,
    /// The client certificate's private key.
    pub key: PathBuf,
}

impl TlsFiles {
    /// `ca.pem`, `cert.pem` and `key.pem` in `dir`, as `DOCKER_CERT_PATH`
    /// lays them out.
    pub fn from_dir(dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }

    /// Fails naming the first file that cannot be read.
    fn check(&self, address: &str) -> Result<()> {
        for (what, path) in [
            ("CA certificate", &self.ca),
            ("client certificate", &self.cert),
            ("client key", &self.key),
        ] {
            if let Err(e) = std::fs::metadata(path) {
                return Err(BackendError::InvalidArgument {
                    message: format!(
                        "cannot read the {what} {} for the Docker engine at {address}: {e} (set DOCKER_CERT_PATH, or the engine's ca/cert/key paths, to the files `docker --tlsverify` uses)",
                        path.display()
                    ),
                });
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Unix(PathBuf),
    /// `host:port`.
    Tcp(String),
    Ssh(crate::ssh::SshTarget),
}

/// Which Docker engine to use, and how to reach it.
///
/// ```
/// use deepagent_docker::{EngineConfig, TlsFiles};
///
/// let local = EngineConfig::unix("/run/docker.sock");
/// let remote = EngineConfig::tcp("10.0.0.5:2376").with_tls(TlsFiles::from_dir("/etc/deepagent/certs"));
/// let over_ssh = EngineConfig::parse("ssh://deploy@build-host")?;
/// assert_eq!(remote.address(), "tcp://10.0.0.5:2376");
/// assert!(remote.tls().is_some());
/// assert_eq!(over_ssh.address(), "ssh://deploy@build-host");
/// # let _ = local;
/// # Ok::<(), deepagent_core::BackendError>(())
/// ```
///
/// `ssh://` runs the system `ssh` (keys from `ssh-agent` or
/// `~/.ssh/config`, the host from `known_hosts`, new hosts accepted on
/// first use) and `docker system dial-stdio` on the remote host, as
/// `docker -H ssh://...` does: the remote user needs the docker CLI and
/// access to an engine there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    host: Host,
    tls: Option<TlsFiles>,
}

impl Default for EngineConfig {
    /// The local socket, [`DEFAULT_SOCKET`].
    fn default() -> Self {
        EngineConfig::unix(DEFAULT_SOCKET)
    }
}

impl EngineConfig {
    /// An engine on a unix socket.
    pub fn unix(path: impl Into<PathBuf>) -> Self {
        EngineConfig {
            host: Host::Unix(path.into()),
            tls: None,
        }
    }

    /// An engine at `host:port` over TCP: plain HTTP unless
    /// [`with_tls`](EngineConfig::with_tls) adds client certificates.
    /// Plain HTTP hands anyone on the network root on the engine's host;
    /// use it on loopback or a trusted network only.
    pub fn tcp(address: impl Into<String>) -> Self {
        let address: String = address.into();
        let address = address
            .trim_start_matches("tcp://")
            .trim_end_matches('/')
            .to_owned();
        EngineConfig {
            host: Host::Tcp(address),
            tls: None,
        }
    }

    /// An engine reached over SSH at `[user@]host[:port]`.
    pub fn ssh(destination: impl Into<String>) -> Self {
        let destination: String = destination.into();
        EngineConfig {
            host: Host::Ssh(crate::ssh::SshTarget::parse(&destination)),
            tls: None,
        }
    }

    /// Logs in with this private key (`ssh -i`) instead of the keys of
    /// `ssh-agent` and `~/.ssh/config` (`ssh://` engines only).
    pub fn with_ssh_identity(mut self, key: impl Into<PathBuf>) -> Self {
        if let Host::Ssh(t) = &mut self.host {
            t.identity = Some(key.into());
        }
        self
    }

    /// Checks the host key against this file only, and refuses hosts not
    /// in it (`UserKnownHostsFile`, `StrictHostKeyChecking=yes`;
    /// `ssh://` engines only). Without it, `ssh`'s own settings apply.
    pub fn with_ssh_known_hosts(mut self, file: impl Into<PathBuf>) -> Self {
        if let Host::Ssh(t) = &mut self.host {
            t.known_hosts = Some(file.into());
        }
        self
    }

    /// Talks TLS with these certificates (`tcp://` engines only; ignored
    /// by the others).
    pub fn with_tls(mut self, files: TlsFiles) -> Self {
        self.tls = Some(files);
        self
    }

    /// The certificates in use, when TLS is on.
    pub fn tls(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    /// Parses `unix:///path`, `tcp://host:port` (plain; add TLS with
    /// [`with_tls`](EngineConfig::with_tls)), `https://host:port` (TLS
    /// with the certificates in `DOCKER_CERT_PATH`), or
    /// `ssh://[user@]host[:port]`. A bare absolute path is a socket.
    pub fn parse(url: &str) -> Result<Self> {
        let url = url.trim();
        if let Some(path) = url.strip_prefix("unix://") {
            return Ok(EngineConfig::unix(path));
        }
        if url.starts_with('/') {
            return Ok(EngineConfig::unix(url));
        }
        if let Some(rest) = url.strip_prefix("tcp://") {
            return nonempty(rest, url).map(EngineConfig::tcp);
        }
        if let Some(rest) = url.strip_prefix("https://") {
            return nonempty(rest, url)
                .map(|a| EngineConfig::tcp(a).with_tls(TlsFiles::from_dir(cert_dir_from_env())));
        }
        if let Some(rest) = url.strip_prefix("ssh://") {
            return nonempty(rest, url).map(EngineConfig::ssh);
        }
        Err(BackendError::InvalidArgument {
            message: format!(
                "unsupported Docker engine address {url:?}: use unix:///path/to/docker.sock, tcp://host:port (with TLS certificates), or ssh://user@host"
            ),
        })
    }

    /// The engine the standard environment names, as the docker CLI reads
    /// it: `DOCKER_HOST` (default: the local socket); for `tcp://`, TLS
    /// when `DOCKER_TLS_VERIFY` is set to anything but empty or `0`, with
    /// the certificates in `DOCKER_CERT_PATH` (default `~/.docker`).
    pub fn from_env() -> Result<Self> {
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.trim().is_empty());
        let Some(host) = host else {
            return Ok(EngineConfig::default());
        };
        let config = EngineConfig::parse(&host)?;
        let verify = std::env::var("DOCKER_TLS_VERIFY")
            .ok()
            .is_some_and(|v| !v.is_empty() && v != "0");
        Ok(match config.host {
            Host::Tcp(_) if verify => config.with_tls(TlsFiles::from_dir(cert_dir_from_env())),
            _ => config,
        })
    }

    /// The address as a URL, for messages: `unix:///run/docker.sock`,
    /// `tcp://host:2376`, `ssh://user@host`.
    pub fn address(&self) -> String {
        match &self.host {
            Host::Unix(p) => format!("unix://{}", p.display()),
            Host::Tcp(a) => format!("tcp://{a}"),
            Host::Ssh(t) => format!("ssh://{}", t.display()),
        }
    }

    /// A client for this engine, with the API version negotiated down to
    /// what the engine speaks (Debian's docker.io 20.10 speaks 1.41).
    /// Fails fast (10 seconds at most), with an error naming the address
    /// and what to do, when the engine cannot be reached or the TLS
    /// settings do not match it.
    pub async fn connect(&self) -> Result<Docker> {
        let address = self.address();
        let (docker, ssh_stderr) = self.client()?;
        match tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version()).await {
            Ok(Ok(docker)) => Ok(docker),
            Ok(Err(e)) => {
                let said = ssh_stderr
                    .and_then(|s| s.lock().ok().map(|s| s.trim().to_owned()))
                    .filter(|s| !s.is_empty());
                let err = self.connect_error(&e);
                Err(match said {
                    Some(said) => BackendError::unavailable(
                        format!("{err}; ssh said: {said}"),
                        Some(Box::new(clone_error(&e))),
                    ),
                    None => err,
                })
            }
            Err(_) => Err(BackendError::unavailable(
                format!(
                    "Docker engine at {address} did not answer within {}s ({})",
                    CONNECT_TIMEOUT.as_secs(),
                    self.hint()
                ),
                None,
            )),
        }
    }

    /// True when an engine answers at this address.
    pub async fn is_available(&self) -> bool {
        self.connect().await.is_ok()
    }

    /// The bollard client, not yet connected (and, over SSH, where the
    /// `ssh` process's complaints land).
    fn client(&self) -> Result<(Docker, Option<crate::ssh::SshStderr>)> {
        let address = self.address();
        let made = match (&self.host, &self.tls) {
            (Host::Unix(path), _) => {
                Docker::connect_with_unix(&address, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
                    .map_err(|e| match e {
                        DockerError::SocketNotFoundError(_) => BackendError::unavailable(
                            format!(
                                "Docker engine at {address} is not reachable: no socket at {} ({LOCAL_HINT})",
                                path.display()
                            ),
                            None,
                        ),
                        other => self.connect_error(&other),
                    })?
            }
            (Host::Tcp(a), None) => Docker::connect_with_http(
                &format!("tcp://{a}"),
                REQUEST_TIMEOUT_SECS,
                API_DEFAULT_VERSION,
            )
            .map_err(|e| self.connect_error(&e))?,
            (Host::Tcp(a), Some(tls)) => {
                tls.check(&address)?;
                Docker::connect_with_ssl(
                    &format!("tcp://{a}"),
                    &tls.key,
                    &tls.cert,
                    &tls.ca,
                    REQUEST_TIMEOUT_SECS,
                    API_DEFAULT_VERSION,
                )
                .map_err(|e| self.connect_error(&e))?
            }
            (Host::Ssh(target), _) => {
                let (docker, stderr) =
                    crate::ssh::client(target.clone(), REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
                        .map_err(|e| self.connect_error(&e))?;
                return Ok((docker, Some(stderr)));
            }
        };
        Ok((made, None))
    }

    /// What to do when this engine cannot be reached.
    fn hint(&self) -> String {
        match (&self.host, &self.tls) {
            (Host::Unix(_), _) => LOCAL_HINT.to_owned(),
            (Host::Tcp(_), Some(_)) => format!(
                "is dockerd listening there with --tlsverify? check the address, that port is open from here, and `docker --tlsverify -H {} version`",
                self.address()
            ),
            (Host::Tcp(_), None) => format!(
                "is dockerd listening there? check the address and that the port is open from here (`docker -H {} version`)",
                self.address()
            ),
            (Host::Ssh(_), _) => format!(
                "check that `ssh {} docker system dial-stdio` works from here: the key (the engine's identity, ssh-agent or ~/.ssh/config), the host key in known_hosts, and the docker CLI on the remote host able to reach its engine",
                match &self.host {
                    Host::Ssh(t) => t.args().join(" "),
                    _ => String::new(),
                }
            ),
        }
    }

    /// Maps a failure to connect into an error naming the address, the
    /// likely cause and the fix.
    fn connect_error(&self, e: &DockerError) -> BackendError {
        let address = self.address();
        let detail = error_chain(e);
        let lower = detail.to_ascii_lowercase();
        let source = Some(Box::new(clone_error(e)) as deepagent_core::BoxError);
        let tls_on = self.tls.is_some();
        if lower.contains("http request to an https server") {
            return BackendError::unavailable(
                format!(
                    "the Docker engine at {address} speaks TLS, and this client sent plain HTTP: configure TLS (set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to the directory with ca.pem, cert.pem and key.pem, or give the engine's ca/cert/key paths)"
                ),
                source,
            );
        }
        if let (Host::Tcp(_), true) = (&self.host, tls_on) {
            if lower.contains("certificate")
                || lower.contains("unknownissuer")
                || lower.contains("alert")
                || lower.contains("handshake")
            {
                return BackendError::unavailable(
                    format!(
                        "TLS with the Docker engine at {address} failed: {detail}. The engine's certificate must be signed by the CA in {ca} and name the host you connect to, and {cert} must be a client certificate signed by a CA the engine trusts (its --tlscacert)",
                        ca = self.tls.as_ref().map(|t| t.ca.display().to_string()).unwrap_or_default(),
                        cert = self.tls.as_ref().map(|t| t.cert.display().to_string()).unwrap_or_default(),
                    ),
                    source,
                );
            }
            if lower.contains("corrupt message") || lower.contains("invalidcontenttype") {
                return BackendError::unavailable(
                    format!(
                        "the Docker engine at {address} does not speak TLS ({detail}): drop the TLS settings if it really listens on plain HTTP, or point at its TLS port (usually 2376)"
                    ),
                    source,
                );
            }
        }
        if let DockerError::CertPathError { path } = e {
            return BackendError::InvalidArgument {
                message: format!(
                    "cannot read {} for the Docker engine at {address} (set DOCKER_CERT_PATH, or the engine's ca/cert/key paths, to the files `docker --tlsverify` uses)",
                    path.display()
                ),
            };
        }
        BackendError::unavailable(
            format!(
                "Docker engine at {address} is not reachable: {detail} ({})",
                self.hint()
            ),
            source,
        )
    }
}

fn nonempty<'a>(rest: &'a str, url: &str) -> Result<&'a str> {
    if rest.trim_matches('/').is_empty() {
        return Err(BackendError::InvalidArgument {
            message: format!("the Docker engine address {url:?} names no host"),
        });
    }
    Ok(rest)
}

/// `DOCKER_CERT_PATH`, else `~/.docker`.
fn cert_dir_from_env() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCKER_CERT_PATH").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    PathBuf::from(home).join(".docker")
}

/// An error and its sources, joined: bollard's own message often hides
/// the cause (a refused connection, a TLS alert) in the chain.
fn error_chain(e: &DockerError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// The engine address the environment names (`DOCKER_HOST`, or the local
/// socket), for messages.
pub fn engine_address() -> String {
    EngineConfig::from_env()
        .map(|c| c.address())
        .unwrap_or_else(|_| std::env::var("DOCKER_HOST").unwrap_or_default())
}

/// Connects to the engine the environment names ([`EngineConfig::from_env`]):
/// `DOCKER_HOST` with `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` honoured,
/// else the local socket.
pub async fn connect() -> Result<Docker> {
    EngineConfig::from_env()?.connect().await
}

/// True when the engine the environment names answers.
pub async fn engine_available() -> bool {
    connect().await.is_ok()
}

/// bollard's errors are not `Clone`; a source only needs the message.
fn clone_error(e: &DockerError) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// The HTTP status and message of an engine error, when it is one.
pub(crate) fn status_of(e: &DockerError) -> Option<(u16, &str)> {
    match e {
        DockerError::DockerResponseServerError {
            status_code,
            message,
        } => Some((*status_code, message.as_str())),
        _ => None,
    }
}

/// True when the engine says the container no longer exists or is not
/// running.
pub(crate) fn is_container_gone(e: &DockerError) -> bool {
    match status_of(e) {
        Some((404, msg)) => msg.contains("No such container"),
        Some((409, msg)) => msg.contains("is not running") || msg.contains("is paused"),
        _ => false,
    }
}

/// Maps an engine error during `operation` on the container `name`, on
/// the engine at `address`.
pub(crate) fn engine_error(
    operation: &str,
    name: &str,
    address: &str,
    e: DockerError,
) -> BackendError {
    if is_container_gone(&e) {
        return container_gone(name, &e.to_string());
    }
    match &e {
        DockerError::DockerResponseServerError { .. } => BackendError::other_with_source(
            format!("{operation} in container {name} failed: {e}"),
            e,
        ),
        _ => BackendError::unavailable(
            format!(
                "{operation} in container {name} failed: the Docker engine at {address} did not answer: {e}"
            ),
            Some(Box::new(e)),
        ),
    }
}

/// Maps an engine error that concerns no container (an image, a listing,
/// a removal): an answer of the engine is [`BackendError::Other`] with the
/// engine's error as its source; no answer at all is
/// [`BackendError::Unavailable`] (retryable). `message` says what was
/// being done.
pub(crate) fn engine_call_error(message: String, e: DockerError) -> BackendError {
    match &e {
        DockerError::DockerResponseServerError { .. } => {
            BackendError::other_with_source(format!("{message}: {e}"), e)
        }
        _ => BackendError::unavailable(
            format!(
                "{message}: the Docker engine at {} did not answer: {e}",
                engine_address()
            ),
            Some(Box::new(e)),
        ),
    }
}

/// True for the error `container_gone` makes: decided by its kind, never
/// by its text.
pub(crate) fn is_gone_error(e: &BackendError) -> bool {
    e.kind() == deepagent_core::ErrorKind::SandboxGone
}

/// The error for a container that died or was removed under us.
pub(crate) fn container_gone(name: &str, detail: &str) -> BackendError {
    BackendError::sandbox_gone(
        name,
        format!(
            "sandbox container {name} is no longer running ({detail}); its files are gone with it. This sandbox does not restart it: create a new one (a SessionManager replaces dead sandboxes on its own)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepagent_core::ErrorKind;

    #[test]
    fn parses_the_three_kinds_of_address() {
        assert_eq!(
            EngineConfig::parse("unix:///run/x.sock").unwrap(),
            EngineConfig::unix("/run/x.sock")
        );
        assert_eq!(
            EngineConfig::parse("/run/x.sock").unwrap().address(),
            "unix:///run/x.sock"
        );
        let tcp = EngineConfig::parse("tcp://127.0.0.1:2376").unwrap();
        assert_eq!(tcp.address(), "tcp://127.0.0.1:2376");
        assert!(tcp.tls().is_none());
        let ssh = EngineConfig::parse("ssh://root@127.0.0.1:2222").unwrap();
        assert_eq!(ssh.address(), "ssh://root@127.0.0.1:2222");
        for bad in ["npipe:////./pipe/docker", "tcp://", "ftp://x", ""] {
            let e = EngineConfig::parse(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}: {e}");
        }
    }

    // A TLS config naming a missing file fails before any connection,
    // naming the file and the setting to fix.
    #[tokio::test]
    async fn missing_certificates_are_named() {
        let dir = std::env::temp_dir().join("deepagent-no-such-certs");
        let engine = EngineConfig::tcp("127.0.0.1:1").with_tls(TlsFiles::from_dir(&dir));
        let e = engine.connect().await.unwrap_err().to_string();
        assert!(e.contains("ca.pem"), "{e}");
        assert!(e.contains("tcp://127.0.0.1:1"), "{e}");
        assert!(e.contains("DOCKER_CERT_PATH"), "{e}");
    }

    /// A port on loopback nothing listens on.
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    #[tokio::test]
    async fn an_unreachable_host_is_unavailable_naming_the_address() {
        let port = closed_port();
        let engine = EngineConfig::tcp(format!("127.0.0.1:{port}"));
        let start = std::time::Instant::now();
        let e = engine.connect().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
        let text = e.to_string();
        assert!(text.contains(&format!("tcp://127.0.0.1:{port}")), "{text}");
        assert!(text.contains("is dockerd listening there"), "{text}");
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(!engine.is_available().await);
    }

    /// A server that answers every request as Go's HTTP server does when
    /// a TLS port receives plain HTTP.
    async fn fake_tls_engine() -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let _ = conn
                    .write_all(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
                    .await;
            }
        });
        port
    }

    #[tokio::test]
    async fn plain_http_against_a_tls_engine_says_to_configure_tls() {
        let port = fake_tls_engine().await;
        let e = EngineConfig::tcp(format!("127.0.0.1:{port}"))
            .connect()
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(text.contains(&format!("tcp://127.0.0.1:{port}")), "{text}");
        assert!(text.contains("speaks TLS"), "{text}");
        assert!(text.contains("DOCKER_TLS_VERIFY"), "{text}");
    }

    #[tokio::test]
    async fn tls_against_a_plain_engine_says_it_does_not_speak_tls() {
        // Any plain HTTP server: the fake answers in cleartext.
        let port = fake_tls_engine().await;
        let dir = std::env::temp_dir().join(format!("deepagent-certs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ok = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=t",
            ])
            .arg("-keyout")
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(dir.join("cert.pem"))
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: no openssl to make a certificate");
            return;
        }
        std::fs::copy(dir.join("cert.pem"), dir.join("ca.pem")).unwrap();
        let e = EngineConfig::tcp(format!("127.0.0.1:{port}"))
            .with_tls(TlsFiles::from_dir(&dir))
            .connect()
            .await
            .unwrap_err();
        let text = e.to_string();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(text.contains(&format!("tcp://127.0.0.1:{port}")), "{text}");
        assert!(text.contains("does not speak TLS"), "{text}");
    }

    #[tokio::test]
    async fn a_missing_socket_says_how_to_start_an_engine() {
        let e = EngineConfig::unix("/nonexistent/deepagent.sock")
            .connect()
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        let text = e.to_string();
        assert!(
            text.contains("unix:///nonexistent/deepagent.sock"),
            "{text}"
        );
        assert!(text.contains("dockerd"), "{text}");
    }

    // The gone check used to search the message for a phrase; it is the
    // kind now, so rewording the message cannot break it.
    #[test]
    fn gone_is_a_kind_not_a_phrase() {
        let gone = container_gone("box-1", "exit 137");
        assert_eq!(gone.kind(), ErrorKind::SandboxGone);
        assert!(is_gone_error(&gone));
        assert!(gone.to_string().contains("box-1 is no longer running"));
        let look_alike = BackendError::other("sandbox container x is no longer running");
        assert!(!is_gone_error(&look_alike));
    }

    #[test]
    fn an_engine_that_does_not_answer_is_temporary() {
        let e = engine_error(
            "exec",
            "box-1",
            "unix:///x.sock",
            DockerError::RequestTimeoutError,
        );
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.is_temporary());
        let refused = engine_error(
            "exec",
            "box-1",
            "unix:///x.sock",
            DockerError::DockerResponseServerError {
                status_code: 500,
                message: "boom".into(),
            },
        );
        assert_eq!(refused.kind(), ErrorKind::Other);
        assert!(std::error::Error::source(&refused).is_some());
    }

    // Image, listing and removal calls used to give a bare message (the
    // 0.1 catch-all): a dead engine was not retryable and the engine's
    // error was lost as a source.
    #[test]
    fn calls_outside_a_container_keep_their_kind_and_source() {
        let down = engine_call_error(
            "cannot inspect image x".into(),
            DockerError::RequestTimeoutError,
        );
        assert_eq!(down.kind(), ErrorKind::Unavailable);
        assert!(down.is_temporary());
        assert!(down.to_string().contains("cannot inspect image x"));
        let refused = engine_call_error(
            "cannot remove container c".into(),
            DockerError::DockerResponseServerError {
                status_code: 500,
                message: "driver failed".into(),
            },
        );
        assert_eq!(refused.kind(), ErrorKind::Other);
        assert!(!refused.is_temporary());
        let source = std::error::Error::source(&refused).map(|s| s.to_string());
        assert!(source.is_some_and(|s| s.contains("driver failed")));
    }
}
