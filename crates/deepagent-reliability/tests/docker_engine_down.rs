//! The engine unreachable: every call fails fast with a message naming
//! the engine address. A test binary of its own, because it sets
//! `DOCKER_HOST` for the whole process.

use std::time::{Duration, Instant};

use deepagent_core::{Backend, Sandbox};
use deepagent_docker::{DockerSandbox, RuntimeConfig, SessionManager};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_engine_fails_fast_naming_the_address() {
    let dir = tempfile::tempdir().unwrap();
    // A unix socket nobody listens on any more: connect gets ECONNREFUSED.
    let sock = dir.path().join("docker.sock");
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    let host = format!("unix://{}", sock.display());
    std::env::set_var("DOCKER_HOST", &host);

    assert!(!deepagent_docker::engine_available().await);
    let sb = DockerSandbox::new(RuntimeConfig::new(
        "rel-down",
        "deepagent-test/busybox:current",
    ))
    .unwrap();
    let sessions = SessionManager::new(
        RuntimeConfig::new("rel-down", "deepagent-test/busybox:current"),
        Duration::from_secs(60),
    );
    let mut worst = Duration::ZERO;
    for op in 0..5 {
        let t = Instant::now();
        let r = tokio::time::timeout(Duration::from_secs(30), async {
            match op {
                0 => sb.execute("true", None).await.map(|_| ()),
                1 => sb.read_bytes("/workspace/x").await.map(|_| ()),
                2 => sb.write("/workspace/x", "1".into()).await.map(|_| ()),
                3 => sb.ls("/").await.map(|_| ()),
                _ => sessions.reap_orphans().await.map(|_| ()),
            }
        })
        .await
        .expect("a call hung with the engine down");
        let elapsed = t.elapsed();
        worst = worst.max(elapsed);
        let msg = r.expect_err("no engine, no success").to_string();
        eprintln!("engine down, op {op}: {elapsed:.2?}: {msg}");
        assert!(
            msg.contains(&sock.display().to_string()),
            "the message must name the engine address: {msg}"
        );
        assert!(
            elapsed < Duration::from_secs(10),
            "slow failure: {elapsed:?}"
        );
    }
    eprintln!("engine down: slowest failure {worst:.2?}");
}
