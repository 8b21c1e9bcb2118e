//! No container outlives its owner. Four ways leaked before, each tried
//! 20 times here, and each must leave 0 containers:
//!
//! 1. a first start cut off by the caller (`timeout(.., start())`), then
//!    `shutdown()`;
//! 2. `shutdown()` while the first `execute` is still starting the
//!    container;
//! 3. a process whose `main` ends holding a sandbox without `shutdown()`
//!    (a child process: this binary re-executed);
//! 4. a child process that panics while holding a sandbox.
//!
//! Each test counts the containers carrying its own runtime label, after
//! waiting a moment for any create request still in the engine.

mod docker_common;

use std::process::Command;
use std::time::Duration;

use deepagent_core::{Backend, Sandbox};
use deepagent_docker::{DockerSandbox, RuntimeConfig};
use docker_common::{busybox_image, containers_of, ready, runtime_name, Sweep};

const ITERATIONS: u64 = 20;
/// Long enough for a create request that was on its way to land.
const SETTLE: Duration = Duration::from_secs(1);
const CHILD_ENV: &str = "RELIABILITY_LIFECYCLE_RUNTIME";

fn sandbox(runtime: &str) -> DockerSandbox {
    DockerSandbox::new(RuntimeConfig::new(runtime, busybox_image())).unwrap()
}

/// Counts what is left of `runtime` after the settle time, reports it,
/// and removes it.
async fn left_over(way: &str, runtime: &str) -> usize {
    tokio::time::sleep(SETTLE).await;
    let left = containers_of(runtime).len();
    eprintln!("{way}: {left} container(s) left after {ITERATIONS} iterations");
    left
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_first_start_then_shutdown_leaves_no_container() {
    if !ready().await {
        return;
    }
    let runtime = runtime_name("life-cancel");
    let _sweep = Sweep(runtime.clone());
    for i in 0..ITERATIONS {
        let sb = sandbox(&runtime);
        // Cut the start at different points: connecting, looking up the
        // image, creating, starting.
        let cut = Duration::from_millis(2 + (i * 13) % 120);
        let _ = tokio::time::timeout(cut, sb.start()).await;
        sb.shutdown().await.unwrap();
    }
    assert_eq!(left_over("cancelled first start", &runtime).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_racing_the_first_execute_leaves_no_container() {
    if !ready().await {
        return;
    }
    let runtime = runtime_name("life-race");
    let _sweep = Sweep(runtime.clone());
    for i in 0..ITERATIONS {
        let sb = sandbox(&runtime);
        let run = {
            let sb = sb.clone();
            tokio::spawn(async move { sb.execute("echo hi", None).await })
        };
        tokio::time::sleep(Duration::from_millis((i * 11) % 150)).await;
        sb.shutdown().await.unwrap();
        // The command may have run or been refused; either is fine.
        let _ = run.await.unwrap();
    }
    assert_eq!(left_over("shutdown racing execute", &runtime).await, 0);
}

/// Child: holds a started sandbox when its test (its `main`) ends,
/// without calling `shutdown`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_ends_main_holding_a_sandbox() {
    let Ok(runtime) = std::env::var(CHILD_ENV) else {
        return;
    };
    let sb = sandbox(&runtime);
    sb.write("/workspace/x", "1".into()).await.unwrap();
    println!("child holds {}", sb.container_name());
}

/// Child: panics while holding a started sandbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_panics_holding_a_sandbox() {
    let Ok(runtime) = std::env::var(CHILD_ENV) else {
        return;
    };
    let sb = sandbox(&runtime);
    sb.write("/workspace/x", "1".into()).await.unwrap();
    panic!("deliberate panic while holding {}", sb.container_name());
}

/// Runs one child test of this binary in a process of its own; true when
/// it passed.
fn run_child(test: &str, runtime: &str) -> (bool, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, runtime)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_ending_main_without_shutdown_leaves_no_container() {
    if !ready().await {
        return;
    }
    let runtime = runtime_name("life-main");
    let _sweep = Sweep(runtime.clone());
    for _ in 0..ITERATIONS {
        let (ok, text) = run_child("child_ends_main_holding_a_sandbox", &runtime);
        assert!(ok && text.contains("child holds"), "child failed: {text}");
    }
    assert_eq!(left_over("end of main", &runtime).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_process_leaves_no_container() {
    if !ready().await {
        return;
    }
    let runtime = runtime_name("life-panic");
    let _sweep = Sweep(runtime.clone());
    for _ in 0..ITERATIONS {
        let (ok, text) = run_child("child_panics_holding_a_sandbox", &runtime);
        assert!(
            !ok && text.contains("deliberate panic"),
            "the child must have panicked: {text}"
        );
    }
    assert_eq!(left_over("panic", &runtime).await, 0);
}
