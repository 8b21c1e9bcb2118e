//! Docker faults: a container killed mid-run, 20 concurrent sessions, a
//! fork bomb under a pids limit. Skipped without an engine (see
//! `docker_common`).

mod docker_common;

use std::time::{Duration, Instant};

use deepagent_core::{Backend, Sandbox};
use deepagent_docker::{DockerSandbox, RuntimeConfig, SessionManager};
use docker_common::{busybox_image, containers_of, ready, runtime_name, Sweep};

/// A call that hangs is the failure this file exists to catch.
const NO_HANG: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_killed_mid_run_fails_the_run_and_later_calls_clearly() {
    if !ready().await {
        return;
    }
    let name = runtime_name("killed");
    let _sweep = Sweep(name.clone());
    let sb = DockerSandbox::new(RuntimeConfig::new(&name, busybox_image())).unwrap();
    sb.write("/workspace/keep.txt", "x".into()).await.unwrap();
    let container = sb.container_name().to_owned();
    let running = {
        let sb = sb.clone();
        tokio::spawn(async move {
            sb.execute(
                "echo started; sleep 50; echo never",
                Some(Duration::from_secs(55)),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let kill = std::process::Command::new("docker")
        .args(["kill", &container])
        .output()
        .unwrap();
    assert!(
        kill.status.success(),
        "{}",
        String::from_utf8_lossy(&kill.stderr)
    );
    let started = Instant::now();
    let outcome = tokio::time::timeout(NO_HANG, running)
        .await
        .expect("execute hung after its container was killed")
        .unwrap();
    eprintln!(
        "killed mid-run: execute returned after {:.1?}: {outcome:?}",
        started.elapsed()
    );
    match &outcome {
        Ok(r) => {
            assert!(!r.output.contains("never"));
            assert_ne!(r.exit_code, 0, "a killed command cannot succeed: {r:?}");
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    // The next command fails fast and says the container is gone (the
    // documented behaviour: no silent restart). File calls may still work
    // on the stopped container (the engine copies archives out of and into
    // stopped containers), but must never hang.
    let t = Instant::now();
    let err = tokio::time::timeout(NO_HANG, sb.execute("echo hi", None))
        .await
        .expect("execute after the kill hung")
        .expect_err("a dead container cannot run commands");
    let msg = err.to_string();
    eprintln!("after kill, execute: {:.1?}: {msg}", t.elapsed());
    assert!(
        msg.contains("no longer running") && msg.contains(&container),
        "{msg}"
    );
    let t = Instant::now();
    let read = tokio::time::timeout(NO_HANG, sb.read_bytes("/workspace/keep.txt"))
        .await
        .expect("read after the kill hung");
    let write = tokio::time::timeout(NO_HANG, sb.write("/workspace/new.txt", "y".into()))
        .await
        .expect("write after the kill hung");
    eprintln!(
        "after kill, read: {:?}, write: {:?} ({:.1?})",
        read.as_ref().map(|b| b.len()).map_err(|e| e.to_string()),
        write.as_ref().map(|w| w.size).map_err(|e| e.to_string()),
        t.elapsed()
    );
    if let Ok(b) = &read {
        assert_eq!(
            b.as_ref(),
            b"x",
            "a read after the kill returns the file as it was"
        );
    }
    sb.shutdown().await.unwrap();
    assert!(
        containers_of(&name).is_empty(),
        "container left after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_manager_replaces_a_killed_sandbox() {
    if !ready().await {
        return;
    }
    let name = runtime_name("replace");
    let _sweep = Sweep(name.clone());
    let sessions = SessionManager::new(
        RuntimeConfig::new(&name, busybox_image()),
        Duration::from_secs(600),
    );
    let first = sessions.get("s").await.unwrap();
    first.execute("true", None).await.unwrap();
    let kill = std::process::Command::new("docker")
        .args(["kill", first.container_name()])
        .output()
        .unwrap();
    assert!(kill.status.success());
    let second = tokio::time::timeout(NO_HANG, sessions.get("s"))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(first.container_name(), second.container_name());
    let r = second.execute("echo back", None).await.unwrap();
    assert_eq!(r.output, "back\n");
    sessions.shutdown_all().await.unwrap();
    assert!(
        containers_of(&name).is_empty(),
        "containers left: {:?}",
        containers_of(&name)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_sessions_all_work_and_are_all_removed() {
    if !ready().await {
        return;
    }
    let name = runtime_name("twenty");
    let _sweep = Sweep(name.clone());
    let sessions = std::sync::Arc::new(SessionManager::new(
        RuntimeConfig::new(&name, busybox_image()),
        Duration::from_secs(600),
    ));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let sessions = sessions.clone();
        tasks.push(tokio::spawn(async move {
            let sb = sessions.get(&format!("session-{i}")).await?;
            sb.write("/workspace/id.txt", format!("{i}\n").into())
                .await?;
            let r = sb
                .execute("cat id.txt; echo $((6*7))", Some(Duration::from_secs(60)))
                .await?;
            Ok::<_, deepagent_core::BackendError>((i, r.output, sb.container_name().to_owned()))
        }));
    }
    let mut names = std::collections::HashSet::new();
    for t in tasks {
        let (i, out, container) = tokio::time::timeout(Duration::from_secs(240), t)
            .await
            .expect("a session hung")
            .unwrap()
            .unwrap_or_else(|e| panic!("a session failed: {e}"));
        assert_eq!(out, format!("{i}\n42\n"));
        names.insert(container);
    }
    assert_eq!(names.len(), 20, "every session gets its own container");
    let live = containers_of(&name).len();
    sessions.shutdown_all().await.unwrap();
    let left = containers_of(&name);
    eprintln!("20 sessions: all answered in {:.1?}; {live} containers while live, {} left after shutdown_all", started.elapsed(), left.len());
    assert_eq!(live, 20);
    assert!(left.is_empty(), "containers left: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_bomb_is_contained_by_the_pids_limit() {
    if !ready().await {
        return;
    }
    let name = runtime_name("forkbomb");
    let _sweep = Sweep(name.clone());
    let sb = DockerSandbox::new(RuntimeConfig::new(&name, busybox_image()).pids_limit(64)).unwrap();
    let t = Instant::now();
    let r = tokio::time::timeout(
        NO_HANG,
        sb.execute(
            "bomb() { bomb | bomb & }; bomb; sleep 3; echo survived",
            Some(Duration::from_secs(10)),
        ),
    )
    .await
    .expect("fork bomb hung the call");
    eprintln!(
        "fork bomb: returned after {:.1?}: {:?}",
        t.elapsed(),
        r.as_ref()
            .map(|r| (r.exit_code, r.timed_out, r.output.len()))
    );
    // Whatever the bomb did, the limit held and the sandbox still answers
    // once its timeout-kill has cleared the processes.
    let after = tokio::time::timeout(NO_HANG, async {
        for _ in 0..20 {
            if let Ok(r) = sb
                .execute("echo alive", Some(Duration::from_secs(10)))
                .await
            {
                if r.output.contains("alive") {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        false
    })
    .await
    .expect("sandbox hung after the fork bomb");
    assert!(after, "sandbox never recovered from the fork bomb");
    let pids = sb
        .execute("ls -d /proc/[0-9]* | wc -l", None)
        .await
        .unwrap();
    eprintln!(
        "fork bomb: processes in the container afterwards: {}",
        pids.output.trim()
    );
    let n: u32 = pids.output.trim().parse().unwrap_or(0);
    assert!(n <= 64, "more processes than the pids limit: {n}");
    sb.shutdown().await.unwrap();
    assert!(containers_of(&name).is_empty());
}
