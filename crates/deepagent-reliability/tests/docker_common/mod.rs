//! Gating for the Docker tests, the same as deepagent-docker's: without an
//! engine (or the test image) they print why and return, unless
//! `DEEPAGENT_REQUIRE_DOCKER=1`, which turns a skip into a failure.
#![allow(dead_code)]

use std::process::Command;

/// The busybox test image built by `cargo xtask test-docker`.
pub fn busybox_image() -> String {
    std::env::var("DEEPAGENT_TEST_IMAGE")
        .unwrap_or_else(|_| "deepagent-test/busybox:current".into())
}

fn required() -> bool {
    std::env::var("DEEPAGENT_REQUIRE_DOCKER").is_ok_and(|v| v == "1")
}

/// True when the engine answers and has the busybox image.
pub async fn ready() -> bool {
    if !deepagent_docker::engine_available().await {
        if required() {
            panic!(
                "DEEPAGENT_REQUIRE_DOCKER=1 but no Docker engine answers at {}",
                deepagent_docker::engine_address()
            );
        }
        eprintln!("skipped: no Docker engine");
        return false;
    }
    let image = busybox_image();
    let present = Command::new("docker")
        .args(["image", "inspect", &image])
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        if required() {
            panic!("DEEPAGENT_REQUIRE_DOCKER=1 but test image {image} is missing (run cargo xtask test-docker)");
        }
        eprintln!(
            "skipped: no Docker engine image {image} (build it with: cargo xtask test-docker)"
        );
        return false;
    }
    true
}

/// A runtime name unique to this process and test, so label filters find
/// only this test's containers.
pub fn runtime_name(test: &str) -> String {
    format!("rel-{test}-{}", std::process::id())
}

/// Containers (running or not) carrying `deepagent.runtime=<runtime>`.
pub fn containers_of(runtime: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label={}={runtime}", deepagent_docker::RUNTIME_LABEL),
        ])
        .output()
        .expect("docker CLI");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Removes this test's containers whatever happened (a guard for panics).
pub struct Sweep(pub String);

impl Drop for Sweep {
    fn drop(&mut self) {
        for id in containers_of(&self.0) {
            let _ = Command::new("docker").args(["rm", "-f", &id]).output();
        }
    }
}

/// The processes in container `name` whose command line contains
/// `pattern` (`pid user args` lines), as `ps` inside the container sees
/// them.
pub fn processes_matching(name: &str, pattern: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["exec", name, "ps", "-o", "pid,user,args"])
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "ps in {name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(pattern))
        .map(str::to_owned)
        .collect()
}

/// `docker inspect` of one container, parsed.
pub fn inspect(name: &str) -> serde_json::Value {
    let out = Command::new("docker")
        .args(["inspect", name])
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "docker inspect {name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).expect("inspect JSON");
    all[0].clone()
}
