//! Shared gating and cleanup for the tests that need a Docker engine.
#![allow(dead_code)]

use deepagent_docker::{remove_container_blocking, DockerSandbox, RuntimeConfig};

/// What a skipped test prints.
pub const SKIP_NO_ENGINE: &str =
    "skipped: no Docker engine (start one with: dockerd --bridge=none --iptables=false &)";

/// The busybox test image (`cargo xtask test-docker` builds it).
pub fn busybox_image() -> String {
    std::env::var("DEEPAGENT_TEST_IMAGE")
        .unwrap_or_else(|_| "deepagent-test/busybox:current".into())
}

/// The Debian + python3 test image (`cargo xtask test-docker` builds it).
pub fn python_image() -> String {
    std::env::var("DEEPAGENT_TEST_PYTHON_IMAGE")
        .unwrap_or_else(|_| "deepagent-test/python:current".into())
}

/// True when a missing engine or image must fail the test instead of
/// skipping it (the xtask sets this, so CI never passes silently).
pub fn required() -> bool {
    std::env::var("DEEPAGENT_REQUIRE_DOCKER").is_ok_and(|v| v == "1")
}

/// Whether the engine answers and has `image`. Prints why not and returns
/// false (or panics when the engine is required).
pub async fn ready(image: &str) -> bool {
    if !deepagent_docker::engine_available().await {
        if required() {
            panic!(
                "DEEPAGENT_REQUIRE_DOCKER=1 but no Docker engine answers at {}",
                deepagent_docker::engine_address()
            );
        }
        say(SKIP_NO_ENGINE);
        return false;
    }
    let present = std::process::Command::new("docker")
        .args(["image", "inspect", image])
        .output()
        .map(|o| o.status.success())
        // No CLI: let the test find out through the API.
        .unwrap_or(true);
    if !present {
        if required() {
            panic!("DEEPAGENT_REQUIRE_DOCKER=1 but test image {image} is missing (run cargo xtask test-docker)");
        }
        eprintln!(
            "skipped: test image {image} is missing (build it with: cargo xtask test-docker)"
        );
        return false;
    }
    true
}

/// Prints past the test harness's output capture, so a skip is visible
/// in a plain `cargo test` run.
pub fn say(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// Removes the sandbox's container when dropped, even when the test
/// panicked.
pub struct Cleanup(pub String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = remove_container_blocking(&self.0);
    }
}

/// A busybox sandbox and its cleanup guard, or `None` when skipped. As
/// the image's user (root): the tests write all over `/`, and the file
/// tools act as the command user.
pub async fn busybox() -> Option<(DockerSandbox, Cleanup)> {
    sandbox(RuntimeConfig::new("test-busybox", busybox_image()).run_as_image_user()).await
}

/// A sandbox for `runtime` and its cleanup guard, or `None` when skipped.
pub async fn sandbox(runtime: RuntimeConfig) -> Option<(DockerSandbox, Cleanup)> {
    let image = runtime
        .base_image
        .clone()
        .unwrap_or_else(|| runtime.image.clone());
    if !ready(&image).await {
        return None;
    }
    let sandbox = DockerSandbox::new(runtime).expect("valid runtime");
    let cleanup = Cleanup(sandbox.container_name().to_owned());
    Some((sandbox, cleanup))
}
