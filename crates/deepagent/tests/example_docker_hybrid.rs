//! The seed's Docker + Local hybrid, end to end through
//! `examples/docker_hybrid.rs`: the script is written and run in the
//! container, the report lands on the host, and no container is left.
//! Needs the `docker` feature and an engine with the Python test image
//! (`cargo xtask test-docker` runs it with `DEEPAGENT_REQUIRE_DOCKER=1`).

#![cfg(feature = "docker")]

#[allow(dead_code)]
#[path = "../../../examples/docker_hybrid.rs"]
mod example;

use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_script_runs_in_the_container_and_the_report_lands_on_the_host() {
    let image = deepagent_testkit::docker::python_image();
    let up = deepagent_docker::engine_available().await;
    if !deepagent_testkit::docker::gate(up, &deepagent_docker::engine_address(), &image) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let session = format!("hybrid-example-{}", std::process::id());
    let report = example::run_example(
        &dir.path().join("local"),
        &image,
        &session,
        Arc::new(example::offline_model()),
    )
    .await
    .expect("the example runs");

    // statistics.mean of the samples, computed by python3 in the container.
    assert!(
        report.command_output.contains("n=5 mean=3.08"),
        "{}",
        report.command_output
    );
    assert_eq!(report.local_report, "# Samples\n\nn=5 mean=3.08\n");
    // The script stayed in the container: nothing but the report on disk.
    let names: Vec<_> = std::fs::read_dir(dir.path().join("local"))
        .expect("local dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["report.md"]);

    let left = std::process::Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("name={}", report.container),
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    assert_eq!(left, "", "container {} outlived the run", report.container);
}
