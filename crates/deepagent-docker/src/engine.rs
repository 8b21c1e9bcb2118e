//! The connection to the Docker engine and the mapping of its errors.

use std::time::Duration;

use bollard::errors::Error as DockerError;
use bollard::Docker;
use deepagent_core::BackendError;

/// How long connecting and negotiating the API version may take before the
/// engine counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The engine address in effect: `DOCKER_HOST`, or the local socket.
pub fn engine_address() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned())
}

/// Connects with bollard's defaults (`DOCKER_HOST` honoured) and negotiates
/// the API version down to what the engine speaks (Debian's docker.io 20.10
/// speaks 1.41). Fails fast, naming the address, when nothing answers.
pub async fn connect() -> Result<Docker, BackendError> {
    let address = engine_address();
    let docker = Docker::connect_with_defaults().map_err(|e| unreachable(&address, &e))?;
    match tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version()).await {
        Ok(Ok(docker)) => Ok(docker),
        Ok(Err(e)) => Err(unreachable(&address, &e)),
        Err(_) => Err(BackendError::Backend(format!(
            "Docker engine at {address} did not answer within {}s (is it running? start one with `dockerd --bridge=none --iptables=false &` or set DOCKER_HOST)",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// True when an engine answers at the configured address.
pub async fn engine_available() -> bool {
    connect().await.is_ok()
}

fn unreachable(address: &str, e: &dyn std::fmt::Display) -> BackendError {
    BackendError::Backend(format!(
        "Docker engine at {address} is not reachable: {e} (start one with `dockerd --bridge=none --iptables=false &` or set DOCKER_HOST)"
    ))
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

/// Maps an engine error during `operation` on the container `name`.
pub(crate) fn engine_error(operation: &str, name: &str, e: DockerError) -> BackendError {
    if is_container_gone(&e) {
        return container_gone(name, &e.to_string());
    }
    match &e {
        DockerError::DockerResponseServerError { .. } => {
            BackendError::Backend(format!("{operation} in container {name} failed: {e}"))
        }
        _ => BackendError::Backend(format!(
            "{operation} in container {name} failed: the Docker engine at {} did not answer: {e}",
            engine_address()
        )),
    }
}

/// True for the error `container_gone` makes.
pub(crate) fn is_gone_error(e: &BackendError) -> bool {
    matches!(e, BackendError::Backend(m) if m.contains(GONE_MARK))
}

/// The phrase that marks a `container_gone` error (`explain` and the
/// file path look for it).
pub(crate) const GONE_MARK: &str = "is no longer running";

/// The error for a container that died or was removed under us.
pub(crate) fn container_gone(name: &str, detail: &str) -> BackendError {
    BackendError::Backend(format!(
        "sandbox container {name} {GONE_MARK} ({detail}); its files are gone with it. This sandbox does not restart it: create a new one (a SessionManager replaces dead sandboxes on its own)"
    ))
}
