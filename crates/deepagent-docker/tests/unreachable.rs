//! An engine that is not there is a fast, clear error (needs no engine).
//! Its own binary, because it changes DOCKER_HOST for the process.

use std::time::{Duration, Instant};

use deepagent_core::{Backend, Sandbox};
use deepagent_docker::{DockerSandbox, RuntimeConfig};

#[tokio::test]
async fn unreachable_engine_fails_fast_naming_the_address() {
    let address = "unix:///nonexistent/deepagent-test.sock";
    std::env::set_var("DOCKER_HOST", address);
    let sb = DockerSandbox::new(RuntimeConfig::new("t", "busybox")).unwrap();
    let start = Instant::now();
    let err = sb.execute("true", None).await.unwrap_err().to_string();
    assert!(err.contains(address), "{err}");
    assert!(err.contains("dockerd"), "says how to start one: {err}");
    let err = sb.read_bytes("/x").await.unwrap_err().to_string();
    assert!(err.contains(address), "{err}");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(!deepagent_docker::engine_available().await);
}
