//! The gate of the tests that need a Docker engine: without an engine (or
//! the test image) they print why and skip, unless
//! `DEEPAGENT_REQUIRE_DOCKER=1` (set by `cargo xtask test-docker`), which
//! turns a skip into a failure so CI never passes silently.
//!
//! The engine check itself is the caller's (`deepagent_docker::engine_available`),
//! so this crate does not depend on the Docker client.

use std::process::Command;

/// What a test skipped for want of an engine prints.
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

/// True when a missing engine or image must fail the test.
pub fn required() -> bool {
    std::env::var("DEEPAGENT_REQUIRE_DOCKER").is_ok_and(|v| v == "1")
}

/// Prints past the test harness's output capture, so a skip is visible
/// in a plain `cargo test` run.
pub fn say(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// Whether a test may use `image` on the engine at `address`, given
/// whether that engine answered. Prints why not and returns false, or
/// panics when Docker is [`required`].
pub fn gate(engine_available: bool, address: &str, image: &str) -> bool {
    if !engine_available {
        if required() {
            panic!("DEEPAGENT_REQUIRE_DOCKER=1 but no Docker engine answers at {address}");
        }
        say(SKIP_NO_ENGINE);
        return false;
    }
    let present = Command::new("docker")
        .args(["image", "inspect", image])
        .output()
        .map(|o| o.status.success())
        // No CLI: let the test find out through the API.
        .unwrap_or(true);
    if !present {
        if required() {
            panic!("DEEPAGENT_REQUIRE_DOCKER=1 but test image {image} is missing (run cargo xtask test-docker)");
        }
        say(&format!(
            "skipped: test image {image} is missing (build it with: cargo xtask test-docker)"
        ));
        return false;
    }
    true
}
