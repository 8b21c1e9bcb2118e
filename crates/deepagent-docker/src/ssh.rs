//! `ssh://` engines: HTTP to the engine through the system `ssh` running
//! `docker system dial-stdio` on the remote host, as `docker -H ssh://`
//! does.
//!
//! bollard's own `ssh` transport hands `user@host:port` to `ssh` as one
//! host name (the port is lost) and takes neither an identity file nor a
//! `known_hosts` file, so this module plugs its own connector into
//! bollard's custom transport: one `ssh` process per HTTP connection,
//! kept alive in hyper's pool, with the port, key and `known_hosts` file
//! on the command line and `BatchMode` on (never a password prompt).
//! Connections share one SSH session per host (`ControlMaster`, in a
//! private directory of this user's, kept 30 s after its last use): an
//! exec takes a connection of its own, and a handshake per connection
//! made the conformance suite five times slower than over TLS.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bollard::{BollardRequest, ClientVersion, Docker};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How to reach the remote host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SshTarget {
    /// `[user@]host`.
    pub destination: String,
    pub port: Option<u16>,
    pub identity: Option<PathBuf>,
    pub known_hosts: Option<PathBuf>,
}

impl SshTarget {
    /// Splits `[user@]host[:port]`.
    pub fn parse(spec: &str) -> Self {
        let spec = spec.trim_start_matches("ssh://").trim_end_matches('/');
        let (destination, port) = match spec.rsplit_once(':') {
            Some((d, p)) if !d.ends_with(']') || !d.contains('[') => match p.parse::<u16>() {
                Ok(port) => (d.to_owned(), Some(port)),
                Err(_) => (spec.to_owned(), None),
            },
            _ => (spec.to_owned(), None),
        };
        SshTarget {
            destination,
            port,
            identity: None,
            known_hosts: None,
        }
    }

    /// `[user@]host[:port]`, for messages.
    pub fn display(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.destination),
            None => self.destination.clone(),
        }
    }

    /// The `ssh` arguments before the remote command.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "-o".to_owned(),
            "BatchMode=yes".to_owned(),
            "-o".to_owned(),
            "ConnectTimeout=10".to_owned(),
        ];
        if let Some(port) = self.port {
            args.extend(["-p".to_owned(), port.to_string()]);
        }
        if let Some(key) = &self.identity {
            args.extend([
                "-i".to_owned(),
                key.display().to_string(),
                "-o".to_owned(),
                "IdentitiesOnly=yes".to_owned(),
            ]);
        }
        if let Some(dir) = control_dir() {
            // ssh's %C covers host, port and user but not the key or the
            // known_hosts file: without this prefix an engine configured
            // with another (even a wrong) key would ride on an existing
            // master's login.
            let settings = format!(
                "{}\0{:?}\0{:?}\0{:?}",
                self.destination, self.port, self.identity, self.known_hosts
            );
            let tag = crate::hash::fnv1a64(settings.as_bytes());
            args.extend([
                "-o".to_owned(),
                "ControlMaster=auto".to_owned(),
                "-o".to_owned(),
                format!("ControlPath={}/{tag:016x}-%C", dir.display()),
                "-o".to_owned(),
                "ControlPersist=30".to_owned(),
            ]);
        }
        if let Some(file) = &self.known_hosts {
            args.extend([
                "-o".to_owned(),
                format!("UserKnownHostsFile={}", file.display()),
                "-o".to_owned(),
                "StrictHostKeyChecking=yes".to_owned(),
            ]);
        }
        args.push("--".to_owned());
        args.push(self.destination.clone());
        args
    }
}

/// A directory only this user can enter, for the ssh control sockets:
/// `/tmp/deepagent-ssh-<uid>`, made 0700; `None` (no multiplexing) when
/// it exists but belongs to someone else or is open to others.
fn control_dir() -> Option<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    static DIR: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let uid = std::fs::metadata("/proc/self").ok()?.uid();
        let dir = std::env::temp_dir().join(format!("deepagent-ssh-{uid}"));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        let meta = std::fs::symlink_metadata(&dir).ok()?;
        (meta.is_dir() && meta.uid() == uid && meta.mode() & 0o077 == 0).then_some(dir)
    })
    .clone()
}

/// What the last `ssh` printed on stderr, for the error when it fails.
pub(crate) type SshStderr = Arc<Mutex<String>>;

#[derive(Clone)]
struct SshConnector {
    target: Arc<SshTarget>,
    stderr: SshStderr,
}

struct SshStream {
    _child: Child,
    stdin: TokioIo<ChildStdin>,
    stdout: TokioIo<ChildStdout>,
}

impl tower_service::Service<hyper::Uri> for SshConnector {
    type Response = SshStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<SshStream>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: hyper::Uri) -> Self::Future {
        let target = self.target.clone();
        let stderr_sink = self.stderr.clone();
        Box::pin(async move {
            let mut child = Command::new("ssh")
                .args(target.args())
                .args(["docker", "system", "dial-stdio"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| io::Error::other(format!("cannot run ssh: {e}")))?;
            let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
                return Err(io::Error::other("ssh has no stdin or stdout"));
            };
            if let Some(mut stderr) = child.stderr.take() {
                tokio::spawn(async move {
                    let mut text = String::new();
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = stderr.read(&mut buf).await {
                        if n == 0 || text.len() > 4096 {
                            break;
                        }
                        text.push_str(&String::from_utf8_lossy(&buf[..n]));
                        if let Ok(mut sink) = stderr_sink.lock() {
                            sink.clone_from(&text);
                        }
                    }
                });
            }
            Ok(SshStream {
                _child: child,
                stdin: TokioIo::new(stdin),
                stdout: TokioIo::new(stdout),
            })
        })
    }
}

impl hyper::rt::Read for SshStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdout).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for SshStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stdin).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_shutdown(cx)
    }
}

impl Connection for SshStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

/// A bollard client whose connections are `ssh` processes.
pub(crate) fn client(
    target: SshTarget,
    timeout_secs: u64,
    version: &ClientVersion,
) -> Result<(Docker, SshStderr), bollard::errors::Error> {
    let stderr = SshStderr::default();
    let connector = SshConnector {
        target: Arc::new(target),
        stderr: stderr.clone(),
    };
    let http = Client::builder(TokioExecutor::new()).build(connector);
    let transport = move |request: BollardRequest| {
        let http = http.clone();
        async move {
            http.request(request)
                .await
                .map_err(bollard::errors::Error::from)
        }
    };
    // The address only fills the request URIs; the connector ignores it.
    let docker = Docker::connect_with_custom_transport(
        transport,
        Some("http://docker-over-ssh"),
        timeout_secs,
        version,
    )?;
    Ok((docker, stderr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_and_files_reach_the_command_line() {
        let mut t = SshTarget::parse("ssh://root@127.0.0.1:2222");
        assert_eq!(t.destination, "root@127.0.0.1");
        assert_eq!(t.port, Some(2222));
        assert_eq!(t.display(), "root@127.0.0.1:2222");
        t.identity = Some("/k/id".into());
        t.known_hosts = Some("/k/known".into());
        let args = t.args().join(" ");
        assert!(args.contains("-p 2222"), "{args}");
        assert!(args.contains("-i /k/id"), "{args}");
        assert!(args.contains("UserKnownHostsFile=/k/known"), "{args}");
        assert!(args.ends_with("-- root@127.0.0.1"), "{args}");
        // Another key never shares a connection with this one.
        let path = |t: &SshTarget| t.args().into_iter().find(|a| a.starts_with("ControlPath="));
        let mut other = t.clone();
        other.identity = Some("/k/other".into());
        if path(&t).is_some() {
            assert_ne!(path(&t), path(&other));
        }
        let plain = SshTarget::parse("deploy@build-host");
        assert_eq!(plain.port, None);
        assert_eq!(plain.destination, "deploy@build-host");
    }
}
