//! A test that panics while holding a sandbox leaves nothing behind once
//! the reaper runs. The panicking test is a child process (this binary
//! re-executed), so its exit is a real process exit mid-test.
//!
//! `SessionManager::reap_orphans` removes every sandbox container its
//! manager does not own, on the whole engine. It runs when the engine is
//! ours alone: under `cargo xtask test-docker` (`DEEPAGENT_REQUIRE_DOCKER=1`)
//! or with `DEEPAGENT_RELIABILITY_REAP=1`. Otherwise (other people's tests
//! may be running on this engine) the test removes only its own leftovers
//! and says so.

mod docker_common;

use std::process::Command;

use deepagent_core::Backend;
use deepagent_docker::{DockerSandbox, RuntimeConfig, SessionManager};
use docker_common::{busybox_image, containers_of, ready, Sweep};

const CHILD_ENV: &str = "RELIABILITY_PANIC_RUNTIME";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_holder_child() {
    let Ok(runtime) = std::env::var(CHILD_ENV) else {
        return;
    };
    let sb = DockerSandbox::for_session(RuntimeConfig::new(&runtime, busybox_image()), "doomed")
        .unwrap();
    sb.write("/workspace/x", "1".into()).await.unwrap();
    panic!(
        "deliberate panic while holding sandbox {}",
        sb.container_name()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_test_leaves_nothing_once_the_reaper_runs() {
    if !ready().await {
        return;
    }
    let runtime = format!("rel-panic-{}", std::process::id());
    let _sweep = Sweep(runtime.clone());
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "panicking_holder_child", "--nocapture"])
        .env(CHILD_ENV, &runtime)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && stdout.contains("FAILED"),
        "the child must have panicked: {stdout}"
    );
    let left_by_panic = containers_of(&runtime).len();
    let global = std::env::var("DEEPAGENT_REQUIRE_DOCKER").is_ok_and(|v| v == "1")
        || std::env::var("DEEPAGENT_RELIABILITY_REAP").is_ok_and(|v| v == "1");
    if global {
        let reaped = SessionManager::new(
            RuntimeConfig::new("reaper", busybox_image()),
            std::time::Duration::from_secs(60),
        )
        .reap_orphans()
        .await
        .unwrap();
        eprintln!("panic: {left_by_panic} container(s) left by the panicking child; reap_orphans removed {reaped:?}");
    } else {
        eprintln!(
            "panic: {left_by_panic} container(s) left by the panicking child; global reap skipped \
             (set DEEPAGENT_RELIABILITY_REAP=1 on an engine of your own), removing only ours"
        );
        for id in containers_of(&runtime) {
            let _ = Command::new("docker").args(["rm", "-f", &id]).output();
        }
    }
    let left = containers_of(&runtime);
    assert!(
        left.is_empty(),
        "containers left after the reaper: {left:?}"
    );
}

const HOLDER_ENV: &str = "RELIABILITY_LIVE_HOLDER_RUNTIME";

/// Child: holds a started sandbox and stays alive until killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_holder_child() {
    let Ok(runtime) = std::env::var(HOLDER_ENV) else {
        return;
    };
    let sb =
        DockerSandbox::for_session(RuntimeConfig::new(&runtime, busybox_image()), "live").unwrap();
    sb.write("/workspace/x", "1".into()).await.unwrap();
    println!("holds {}", sb.container_name());
    tokio::time::sleep(std::time::Duration::from_secs(600)).await;
}

/// The owner label: another process's live sandbox is not an orphan,
/// and becomes one when that process dies without cleaning up (killed:
/// no drop runs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reap_orphans_spares_a_live_owner_and_reaps_a_dead_one() {
    use std::io::BufRead;
    if !ready().await {
        return;
    }
    let global = std::env::var("DEEPAGENT_REQUIRE_DOCKER").is_ok_and(|v| v == "1")
        || std::env::var("DEEPAGENT_RELIABILITY_REAP").is_ok_and(|v| v == "1");
    if !global {
        eprintln!("skipped: reap_orphans is engine-wide; set DEEPAGENT_RELIABILITY_REAP=1 on an engine of your own");
        return;
    }
    let runtime = format!("rel-live-{}", std::process::id());
    let _sweep = Sweep(runtime.clone());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "live_holder_child", "--nocapture"])
        .env(HOLDER_ENV, &runtime)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let name = loop {
        let line = lines.next().expect("the child ended early").unwrap();
        if let Some(name) = line.strip_prefix("holds ") {
            break name.to_owned();
        }
    };
    let reaper = SessionManager::new(
        RuntimeConfig::new("reaper", busybox_image()),
        std::time::Duration::from_secs(60),
    );
    let first = reaper.reap_orphans().await.unwrap();
    let kept = containers_of(&runtime).len();
    child.kill().unwrap();
    child.wait().unwrap();
    let second = reaper.reap_orphans().await.unwrap();
    let left = containers_of(&runtime).len();
    assert!(
        !first.contains(&name) && kept == 1,
        "the live owner's sandbox {name} was reaped: {first:?}"
    );
    assert!(
        second.contains(&name) && left == 0,
        "the dead owner's sandbox {name} was not reaped: {second:?}"
    );
}
