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

// Needs no engine: the `engine` option reaches the sandbox (its error
// names that address, not DOCKER_HOST's), TLS paths are taken relative to
// the TOML file, and half a TLS setting is refused.
#[tokio::test]
async fn a_docker_mount_takes_its_engine_from_the_options() {
    let dir = tempfile::tempdir().expect("temp dir");
    let toml = "default = { url = \"docker://t\", options = { image = \"busybox\", engine = \"unix:///nonexistent/deepagent-config.sock\" } }\n";
    let backend = BackendConfig::from_toml(toml, dir.path())
        .expect("config parses")
        .build()
        .expect("builds without touching the engine");
    let err = backend
        .as_sandbox()
        .expect("a sandbox")
        .execute("true", None)
        .await
        .expect_err("no engine there")
        .to_string();
    assert!(
        err.contains("unix:///nonexistent/deepagent-config.sock"),
        "{err}"
    );

    let tls = "default = { url = \"docker://t\", options = { image = \"busybox\", engine = \"tcp://127.0.0.1:1\", tls_ca = \"certs/ca.pem\", tls_cert = \"certs/cert.pem\", tls_key = \"certs/key.pem\" } }\n";
    let backend = BackendConfig::from_toml(tls, dir.path())
        .expect("config parses")
        .build()
        .expect("builds");
    let err = backend
        .as_sandbox()
        .expect("a sandbox")
        .execute("true", None)
        .await
        .expect_err("no certificates there")
        .to_string();
    assert!(
        err.contains(&dir.path().join("certs/ca.pem").display().to_string()),
        "paths are relative to the TOML file: {err}"
    );

    let half = "default = { url = \"docker://t\", options = { engine = \"tcp://h:2376\", tls_ca = \"ca.pem\" } }\n";
    let err = BackendConfig::from_toml(half, dir.path())
        .and_then(|c| c.build().map(|_| ()))
        .expect_err("half a TLS setting")
        .to_string();
    assert!(err.contains("tls_ca, tls_cert and tls_key"), "{err}");
}
