//! The engine pool over two real engines (issue 14, items 3 and 5): the
//! main engine (`DOCKER_HOST`, a unix socket) and the TLS engine that
//! `cargo xtask test-docker` starts, which runs its sandboxes under gVisor
//! (`runsc`). Sessions spread over both; the TLS engine is then stopped
//! half-way (by its pidfile): its sessions report `Unavailable`, new
//! sessions go to the main engine, and the health check says which
//! engine is down. Skips without the TLS engine.
//!
//! Stops an engine, so `cargo xtask test-docker` runs it last, on its own.

mod common;

use std::time::{Duration, Instant};

use deepagent_core::{ErrorKind, Sandbox};
use deepagent_docker::{EngineConfig, EnginePool, EngineSpec, RuntimeConfig, TlsFiles};

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

async fn runtime_of(engine: &EngineConfig, container: &str) -> Option<String> {
    let docker = engine.connect().await.expect("engine");
    docker
        .inspect_container(
            container,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .expect("inspect")
        .host_config
        .and_then(|h| h.runtime)
}

/// Whether the process runs: not gone, and not a zombie (the engine is
/// the child of `cargo xtask`, which reaps it later).
fn pid_alive(pid: &str) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, Some("Z" | "X") | None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_spread_and_survive_an_engine_stopped_mid_run() {
    let (Some(address), Some(certs), Some(pidfile)) = (
        var("DEEPAGENT_TEST_TLS_ADDRESS"),
        var("DEEPAGENT_TEST_TLS_CERTS"),
        var("DEEPAGENT_TEST_TLS_PIDFILE"),
    ) else {
        common::say("skipped: no TLS engine (cargo xtask test-docker starts one)");
        return;
    };
    if !common::ready(&common::busybox_image()).await {
        return;
    }
    let local = EngineConfig::from_env().expect("DOCKER_HOST");
    let tls = EngineConfig::tcp(&address).with_tls(TlsFiles::from_dir(&certs));
    // gVisor on the TLS engine when it has it (xtask registers runsc
    // when /usr/bin/runsc exists, as .ci/run installs it).
    let runsc = var("DEEPAGENT_TEST_TLS_RUNSC").as_deref() == Some("1");
    let mut tls_spec = EngineSpec::new(tls.clone());
    if runsc {
        tls_spec = tls_spec.oci_runtime("runsc");
    } else {
        common::say("note: the TLS engine has no runsc; the pool runs runc there");
    }
    let pool = EnginePool::new(
        RuntimeConfig::new("pool", common::busybox_image()).run_as_image_user(),
        Duration::from_secs(600),
        vec![EngineSpec::new(local.clone()), tls_spec],
    )
    .expect("pool");

    // Four sessions: two on each engine, least-loaded first.
    let mut on_tls = Vec::new();
    for i in 0..4 {
        let id = format!("s{i}");
        let sandbox = pool.get(&id).await.expect("session");
        let ran = sandbox.execute("echo hi", None).await.expect("execute");
        assert_eq!(ran.output, "hi\n");
        if pool.engine_of(&id).await == Some(tls.address()) {
            on_tls.push((id, sandbox));
        }
    }
    let status = pool.engines().await;
    assert_eq!(
        status.iter().map(|s| s.sessions).collect::<Vec<_>>(),
        vec![2, 2],
        "{status:?}"
    );
    // The TLS engine's sandboxes run under gVisor.
    if runsc {
        assert_eq!(
            runtime_of(&tls, on_tls[0].1.container_name())
                .await
                .as_deref(),
            Some("runsc")
        );
    }

    // Stop the TLS engine mid-run, by its PID.
    let pid = std::fs::read_to_string(&pidfile)
        .expect("pidfile")
        .trim()
        .to_owned();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let deadline = Instant::now() + Duration::from_secs(60);
    while pid_alive(&pid) {
        assert!(Instant::now() < deadline, "the TLS engine did not stop");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Its sessions report the unreachable-service error...
    for (id, sandbox) in &on_tls {
        let e = sandbox
            .execute("echo still-there?", None)
            .await
            .expect_err("the engine is gone");
        assert!(
            matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::SandboxGone),
            "{id}: {e:?}"
        );
        let e = pool.get(id).await.expect_err("the engine is gone");
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{id}: {e}");
        assert!(e.to_string().contains(&tls.address()), "{e}");
    }
    // ...the health check says so...
    let status = pool.check_health().await;
    assert!(status[0].healthy && !status[1].healthy, "{status:?}");
    assert!(
        status[1]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains(&tls.address())),
        "{status:?}"
    );
    // ...and new sessions go to the engine that is left, while the old
    // ones there keep working.
    for i in 4..7 {
        let id = format!("s{i}");
        let sandbox = pool.get(&id).await.expect("session on the local engine");
        assert_eq!(pool.engine_of(&id).await, Some(local.address()));
        sandbox.execute("true", None).await.expect("execute");
    }
    for id in ["s0", "s1", "s2", "s3"] {
        if pool.engine_of(id).await == Some(local.address()) {
            let sandbox = pool.get(id).await.expect("live session");
            sandbox.execute("true", None).await.expect("execute");
        }
    }
    // Removing a session of the dead engine forgets it; the next `get`
    // starts it over on the live one.
    let (dead_id, _) = &on_tls[0];
    assert!(pool.remove(dead_id).await.expect("remove"));
    pool.get(dead_id).await.expect("restarted elsewhere");
    assert_eq!(pool.engine_of(dead_id).await, Some(local.address()));

    pool.shutdown_all().await.expect("shutdown");
    assert!(pool.sessions().await.is_empty());
}

/// Idle sessions are evicted (their containers removed), busy ones kept;
/// a cap full everywhere is an error that says so. The main engine only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_are_evicted_and_caps_hold() {
    if !common::ready(&common::busybox_image()).await {
        return;
    }
    let local = EngineConfig::from_env().expect("DOCKER_HOST");
    let pool = EnginePool::new(
        RuntimeConfig::new("pool-idle", common::busybox_image()).run_as_image_user(),
        Duration::from_secs(2),
        vec![EngineSpec::new(local.clone()).max_sessions(2)],
    )
    .expect("pool");
    let idle = pool.get("idle").await.expect("session");
    let busy = pool.get("busy").await.expect("session");
    let e = pool.get("third").await.expect_err("the cap is 2");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.to_string().contains("session cap"), "{e}");
    let idle_name = idle.container_name().to_owned();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        busy.execute("true", None).await.expect("execute");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(pool.reap_idle().await.expect("reap"), vec!["idle"]);
    assert_eq!(pool.sessions().await, vec!["busy"]);
    let docker = local.connect().await.expect("engine");
    assert!(docker
        .inspect_container(
            &idle_name,
            None::<bollard::query_parameters::InspectContainerOptions>
        )
        .await
        .is_err());
    // Room again under the cap.
    pool.get("third").await.expect("session");
    pool.shutdown_all().await.expect("shutdown");
}
