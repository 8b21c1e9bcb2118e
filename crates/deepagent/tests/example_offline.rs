//! The seed example's offline path, end to end: the demo model drives the
//! real tool loop through a composite of memory and a temporary directory.

#[allow(dead_code)]
#[path = "../../../examples/composite_backend.rs"]
mod example;

use std::sync::Arc;

use deepagent::models::demo::demo_model;

#[tokio::test]
async fn offline_demo_puts_project_files_on_disk_and_notes_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let report = example::run_example(dir.path(), Arc::new(demo_model()))
        .await
        .unwrap();

    // /project/ is mounted at the directory: the prefix is stripped.
    let app = std::fs::read_to_string(dir.path().join("src/app.py")).unwrap();
    assert!(app.contains("from flask import Flask"), "{app}");
    let reqs = std::fs::read_to_string(dir.path().join("requirements.txt")).unwrap();
    assert!(reqs.contains("flask"));
    assert!(dir.path().join("README.md").is_file());
    assert!(!dir.path().join("scratch").exists());
    assert!(!dir.path().join("notes.txt").exists());

    assert_eq!(report.memory_paths, ["/scratch/notes.txt"]);
    assert_eq!(
        report.disk_paths,
        ["/README.md", "/requirements.txt", "/src/app.py"]
    );
    for path in [
        "/project/src/app.py",
        "/project/requirements.txt",
        "/scratch/notes.txt",
        "/project/README.md",
    ] {
        assert!(
            report.output.contains(path),
            "{path} missing from: {}",
            report.output
        );
    }
    assert!(!report.output.contains("failed"), "{}", report.output);
}

#[tokio::test]
async fn the_system_prompt_describes_the_mounts() {
    let memory = deepagent::StateBackend::new();
    let dir = tempfile::tempdir().unwrap();
    let local = deepagent::LocalBackend::new(dir.path()).unwrap();
    let backend = deepagent::CompositeBackend::builder(memory)
        .route("/project/", local.clone())
        .route("/workspace/", local)
        .build();
    let deps = deepagent::DeepAgentDeps::new(backend);
    let agent = deepagent::create_deep_agent()
        .model("test")
        .build()
        .unwrap();
    let prompt = agent.system_prompt(&deps);
    assert!(
        prompt.contains(
            "The filesystem is made of these areas:\n\
         - /project/: LocalBackend (files on disk; they persist)\n\
         - /workspace/: LocalBackend (files on disk; they persist)\n\
         - any other path: StateBackend (in memory; gone when the program ends)"
        ),
        "{prompt}"
    );
}
