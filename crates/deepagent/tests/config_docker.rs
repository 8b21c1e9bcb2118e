//! A TOML-described composite whose default is a `DockerSandbox`: the
//! `docker://` URL builds a working sandbox, files route by mount, and
//! commands run in the container. Needs the `docker` feature and an
//! engine with the test image (`cargo xtask test-docker` runs it with
//! `DEEPAGENT_REQUIRE_DOCKER=1`); without them it says it skipped.

#![cfg(feature = "docker")]

use deepagent::config::BackendConfig;
use deepagent::{Backend, Bytes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_toml_composite_with_a_docker_default_runs_commands_and_routes_files() {
    let image = deepagent_testkit::docker::busybox_image();
    let up = deepagent_docker::engine_available().await;
    if !deepagent_testkit::docker::gate(up, &deepagent_docker::engine_address(), &image) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let name = format!("config-docker-{}", std::process::id());
    let toml = format!(
        "default = {{ url = \"docker://{name}\", options = {{ image = \"{image}\" }} }}\n\
         [mounts]\n\"/local/\" = \"file://./local\"\n"
    );
    let config = BackendConfig::from_toml(&toml, dir.path()).expect("config parses");
    let backend = config.build().expect("composite builds");

    let sandbox = backend
        .as_sandbox()
        .expect("a docker default makes a sandbox");
    let ran = sandbox
        .execute("echo in-container > /tmp/probe && cat /tmp/probe", None)
        .await
        .expect("execute");
    assert_eq!((ran.exit_code, ran.output.as_str()), (0, "in-container\n"));
    // The default's files live in the container, the mount's on disk.
    assert_eq!(
        backend.read_bytes("/tmp/probe").await.expect("read"),
        Bytes::from("in-container\n")
    );
    backend
        .write("/local/notes.md", "on the host\n".into())
        .await
        .expect("write to the mount");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("local/notes.md")).expect("on disk"),
        "on the host\n"
    );
    // Dropping the last handle removes the container (issue 11).
    drop(backend);
    let left = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("name={name}")])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    assert_eq!(left, "", "container {name} outlived its last handle");
}
