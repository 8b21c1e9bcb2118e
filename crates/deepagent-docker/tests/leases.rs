//! Owner leases across two processes sharing one engine (issue 14, item
//! 4): this test binary starts itself again as a child process that owns
//! a sandbox with a 3-second lease it renews. Neither process's
//! `reap_orphans` removes the other's live sandbox, even long after the
//! label's lease ran out; once the child hangs (SIGSTOP: alive, but no
//! longer renewing), its sandbox is reaped when the lease runs out.
//!
//! A binary of its own: `reap_orphans` looks at every sandbox container
//! on the engine.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use deepagent_core::Backend;
use deepagent_docker::{RuntimeConfig, SessionManager};

const LEASE: Duration = Duration::from_secs(3);

fn runtime() -> RuntimeConfig {
    RuntimeConfig::new("leases", common::busybox_image()).run_as_image_user()
}

/// The child's side: a sandbox with a short lease, renewed in the
/// background, and a reaper run every half second, whose results go to
/// stdout for the parent. Run only by the parent (ignored otherwise).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of a_live_owner_keeps_its_sandbox_and_a_hung_one_loses_it"]
async fn lease_child() {
    if std::env::var("DEEPAGENT_LEASE_CHILD").is_err() {
        return;
    }
    let sessions = SessionManager::new(runtime(), Duration::from_secs(600)).with_lease(LEASE);
    let sandbox = sessions.get("child").await.expect("sandbox");
    sandbox
        .write("/workspace/alive", "1".into())
        .await
        .expect("start");
    println!("READY {}", sandbox.container_name());
    for _ in 0..240 {
        let reaped = sessions.reap_orphans().await.expect("reap");
        println!("REAPED {}", reaped.join(" "));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Kills the child when the test ends, however it ends.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-CONT", &pid]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn container_exists(name: &str) -> bool {
    let docker = deepagent_docker::connect().await.expect("engine");
    docker
        .inspect_container(
            name,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_owner_keeps_its_sandbox_and_a_hung_one_loses_it() {
    if !common::ready(&common::busybox_image()).await {
        return;
    }
    // This process's own live sandbox, also with a short lease.
    let sessions = SessionManager::new(runtime(), Duration::from_secs(600)).with_lease(LEASE);
    let mine = sessions.get("parent").await.expect("sandbox");
    mine.write("/workspace/alive", "1".into())
        .await
        .expect("start");
    let mine_name = mine.container_name().to_owned();

    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["--ignored", "--exact", "lease_child", "--nocapture"])
        .env("DEEPAGENT_LEASE_CHILD", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child");
    let stdout = child.stdout.take().expect("stdout");
    let child = ChildGuard(child);
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let recv = |timeout: Duration| rx.recv_timeout(timeout).ok();
    let theirs = loop {
        match recv(Duration::from_secs(120)) {
            Some(line) if line.starts_with("READY ") => break line[6..].to_owned(),
            Some(_) => continue,
            None => panic!("the child never said READY"),
        }
    };
    let _their_guard = common::Cleanup(theirs.clone());

    // Well past the labels' 3-second leases: only renewals keep either.
    let until = Instant::now() + LEASE * 3;
    while Instant::now() < until {
        let reaped = sessions.reap_orphans().await.expect("reap");
        assert!(
            !reaped.contains(&theirs),
            "reaped the live child's sandbox: {reaped:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Nor did the child reap ours.
    while let Ok(line) = rx.try_recv() {
        assert!(
            !line.contains(&mine_name),
            "the child reaped this process's live sandbox: {line}"
        );
    }
    assert!(container_exists(&theirs).await);
    assert!(mine.is_alive().await);

    // The child hangs: its pid lives, but it renews nothing.
    let pid = child.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .expect("kill")
        .success());
    tokio::time::sleep(LEASE + Duration::from_secs(2)).await;
    let reaped = sessions.reap_orphans().await.expect("reap");
    assert!(
        reaped.contains(&theirs),
        "the hung owner's expired lease was not reaped: {reaped:?}"
    );
    assert!(!container_exists(&theirs).await);
    assert!(
        mine.is_alive().await,
        "our own sandbox outlived the reaping"
    );
    drop(child);
    sessions.shutdown_all().await.expect("shutdown");
}
