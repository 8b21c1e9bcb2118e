//! The seed's "Docker + Local hybrid": a composite whose default is a
//! DockerSandbox and with a LocalBackend at `/local/`. Commands run in the
//! container; `/local/` files live on the host.

mod common;

use deepagent_composite::CompositeBackend;
use deepagent_core::{Backend, GrepQuery};
use deepagent_local::LocalBackend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composite_executes_in_the_container_and_stores_local_files_on_the_host() {
    let Some((sandbox, _cleanup)) = common::busybox().await else {
        return;
    };
    let host = tempfile::tempdir().unwrap();
    let local = LocalBackend::new(host.path()).unwrap();
    let composite = CompositeBackend::builder(sandbox.clone())
        .route("/local/", local)
        .build();

    composite
        .write("/local/notes.md", "# on the host\n".into())
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(host.path().join("notes.md")).unwrap(),
        "# on the host\n"
    );
    composite
        .write("/workspace/app.sh", "echo in-container\n".into())
        .await
        .unwrap();
    let exec = composite.as_sandbox().expect("the default is a sandbox");
    let res = exec
        .execute("sh /workspace/app.sh; ls /local 2>&1 | head -1", None)
        .await
        .unwrap();
    assert!(res.output.starts_with("in-container\n"), "{res:?}");
    // The container does not see the host mount: /local is composite-only.
    assert!(!res.output.contains("notes.md"), "{res:?}");
    assert!(!sandbox.exists("/local/notes.md").await.unwrap());
    assert!(!host.path().join("workspace").exists());

    let hits = composite.grep(&GrepQuery::new("host|container")).await;
    let hits = hits.unwrap();
    let paths: Vec<&str> = hits.matches.iter().map(|m| m.path.as_str()).collect();
    assert!(paths.contains(&"/local/notes.md"), "{paths:?}");
    assert!(paths.contains(&"/workspace/app.sh"), "{paths:?}");
    sandbox.shutdown().await.unwrap();
}
