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
        Err(_) => Err(BackendError::unavailable(
            format!(
                "Docker engine at {address} did not answer within {}s (is it running? start one with `dockerd --bridge=none --iptables=false &` or set DOCKER_HOST)",
                CONNECT_TIMEOUT.as_secs()
            ),
            None,
        )),
    }
}

/// True when an engine answers at the configured address.
pub async fn engine_available() -> bool {
    connect().await.is_ok()
}

fn unreachable(address: &str, e: &DockerError) -> BackendError {
    BackendError::unavailable(
        format!(
            "Docker engine at {address} is not reachable: {e} (start one with `dockerd --bridge=none --iptables=false &` or set DOCKER_HOST)"
        ),
        Some(Box::new(clone_error(e))),
    )
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

/// Maps an engine error during `operation` on the container `name`.
pub(crate) fn engine_error(operation: &str, name: &str, e: DockerError) -> BackendError {
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
                "{operation} in container {name} failed: the Docker engine at {} did not answer: {e}",
                engine_address()
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
        let e = engine_error("exec", "box-1", DockerError::RequestTimeoutError);
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.is_temporary());
        let refused = engine_error(
            "exec",
            "box-1",
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
