//! `reap_orphans` removes every labelled container it does not own, so it
//! runs in a test binary of its own (tests of one binary run in parallel).

mod common;

use std::time::Duration;

use deepagent_core::Backend;
use deepagent_docker::{DockerSandbox, RuntimeConfig, SessionManager};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reap_orphans_removes_leftovers_but_not_own_sandboxes() {
    if !common::ready(&common::busybox_image()).await {
        return;
    }
    let runtime = RuntimeConfig::new("orphans", common::busybox_image()).run_as_image_user();
    // An "orphan": started, then forgotten without shutdown (as after a
    // crash; the drop-time cleanup is skipped by leaking it).
    let orphan = DockerSandbox::for_session(runtime.clone(), "crashed").unwrap();
    let _guard = common::Cleanup(orphan.container_name().to_owned());
    orphan.write("/workspace/x", "1".into()).await.unwrap();
    let orphan_name = orphan.container_name().to_owned();
    std::mem::forget(orphan);

    let sessions = SessionManager::new(runtime, Duration::from_secs(600));
    let own = sessions.get("live").await.unwrap();
    let _own_guard = common::Cleanup(own.container_name().to_owned());
    own.write("/workspace/y", "1".into()).await.unwrap();
    let reaped = sessions.reap_orphans().await.unwrap();
    assert!(reaped.contains(&orphan_name), "{reaped:?}");
    assert!(!reaped.contains(&own.container_name().to_owned()));
    assert!(own.is_alive().await);
    sessions.shutdown_all().await.unwrap();
}
