//! A timeout kills every process the command started, and so does
//! dropping the `execute` future: also the processes that drop the
//! `DEEPAGENT_EXEC` marker (`env -i`, `env -u`, `unset; exec`), leave the
//! session (`setsid`) or double-fork away from their parent. Each escape
//! class starts a `sleep` with a number of its own and checks, right
//! after `execute` returned with exit code 124, that `ps` in the container
//! no longer shows it.

mod docker_common;

use std::time::{Duration, Instant};

use deepagent_core::Sandbox;
use deepagent_docker::{DockerSandbox, RuntimeConfig, TIMEOUT_EXIT_CODE};
use docker_common::{busybox_image, processes_matching, ready, runtime_name, Sweep};

/// Runs `command` (which leaves a `sleep <tag>` behind and then blocks)
/// with a 1 s timeout and returns what is left of `sleep <tag>`.
async fn left_after_timeout(sb: &DockerSandbox, command: &str, tag: &str) -> Vec<String> {
    let res = sb
        .execute(command, Some(Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(res.exit_code, TIMEOUT_EXIT_CODE, "{command}: {res:?}");
    processes_matching(sb.container_name(), &format!("sleep {tag}"))
}

async fn escape_class(test: &str, runtime: RuntimeConfig, command: &str, tag: &str) {
    let _sweep = Sweep(runtime.name.clone());
    let sb = DockerSandbox::new(runtime).unwrap();
    // The escape must have had the time to happen before the timeout:
    // start the container first, so the command's second is its own.
    sb.execute("true", None).await.unwrap();
    let left = left_after_timeout(&sb, command, tag).await;
    sb.shutdown().await.unwrap();
    assert!(
        left.is_empty(),
        "{test}: processes survived the timeout: {left:?}"
    );
}

fn busybox(test: &str) -> RuntimeConfig {
    RuntimeConfig::new(runtime_name(test), busybox_image())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_a_child_started_with_env_i() {
    if !ready().await {
        return;
    }
    escape_class(
        "env -i",
        busybox("kill-env-i"),
        "env -i sleep 3001 & sleep 60",
        "3001",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_a_child_started_with_env_u() {
    if !ready().await {
        return;
    }
    escape_class(
        "env -u",
        busybox("kill-env-u"),
        "env -u DEEPAGENT_EXEC sleep 3002 & sleep 60",
        "3002",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_a_child_that_unsets_the_marker_and_execs() {
    if !ready().await {
        return;
    }
    escape_class(
        "unset; exec",
        busybox("kill-unset"),
        "(unset DEEPAGENT_EXEC; exec sleep 3003) & sleep 60",
        "3003",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_a_child_in_a_new_session_with_env_i() {
    if !ready().await {
        return;
    }
    escape_class(
        "setsid env -i",
        busybox("kill-setsid"),
        "setsid env -i sleep 3004 & sleep 60",
        "3004",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_a_double_forked_grandchild() {
    if !ready().await {
        return;
    }
    // The middle process exits at once: the grandchild is an orphan in a
    // session of its own, with an empty environment.
    escape_class(
        "double fork",
        busybox("kill-dfork"),
        "(setsid env -i sh -c 'sleep 3005 &' &) ; sleep 60",
        "3005",
    )
    .await;
}

/// The same classes when commands run as the image's user (root here):
/// the tree still holds; only killing its own reaper is within a root
/// command's reach (not tried here, see the crate docs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_every_class_when_commands_run_as_root() {
    if !ready().await {
        return;
    }
    let runtime = busybox("kill-root").run_as_image_user();
    let _sweep = Sweep(runtime.name.clone());
    let sb = DockerSandbox::new(runtime).unwrap();
    sb.execute("true", None).await.unwrap();
    let classes = [
        ("env -i", "env -i sleep 3011 & sleep 60", "3011"),
        (
            "env -u",
            "env -u DEEPAGENT_EXEC sleep 3012 & sleep 60",
            "3012",
        ),
        (
            "unset; exec",
            "(unset DEEPAGENT_EXEC; exec sleep 3013) & sleep 60",
            "3013",
        ),
        (
            "setsid env -i",
            "setsid env -i sleep 3014 & sleep 60",
            "3014",
        ),
        (
            "double fork",
            "(setsid env -i sh -c 'sleep 3015 &' &) ; sleep 60",
            "3015",
        ),
    ];
    let mut escaped = Vec::new();
    for (class, command, tag) in classes {
        let left = left_after_timeout(&sb, command, tag).await;
        if !left.is_empty() {
            escaped.push((class, left));
        }
    }
    sb.shutdown().await.unwrap();
    assert!(escaped.is_empty(), "escaped as root: {escaped:?}");
}

/// Dropping the `execute` future (a caller's timeout, a cancelled agent
/// run) kills the command's whole tree within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_execute_kills_the_whole_tree_within_a_second() {
    if !ready().await {
        return;
    }
    let runtime = busybox("kill-dropped");
    let _sweep = Sweep(runtime.name.clone());
    let sb = DockerSandbox::new(runtime).unwrap();
    sb.execute("true", None).await.unwrap();
    let command =
        "sleep 3101 & setsid env -i sleep 3102 & (env -i sh -c 'sleep 3103 &' &); sleep 3104";
    let cut = tokio::time::timeout(
        Duration::from_millis(1500),
        sb.execute(command, Some(Duration::from_secs(60))),
    )
    .await;
    assert!(cut.is_err(), "the command should still run: {cut:?}");
    let dropped_at = Instant::now();
    let mut left = processes_matching(sb.container_name(), "sleep 310");
    while !left.is_empty() && dropped_at.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = processes_matching(sb.container_name(), "sleep 310");
    }
    let took = dropped_at.elapsed();
    sb.shutdown().await.unwrap();
    assert!(
        left.is_empty(),
        "1 s after the execute future was dropped these still run: {left:?}"
    );
    eprintln!(
        "dropped execute: tree gone {} ms after the drop",
        took.as_millis()
    );
}
