//! Gating for the Docker tests, the same as deepagent-docker's: without an
//! engine (or the test image) they print why and return, unless
//! `DEEPAGENT_REQUIRE_DOCKER=1`, which turns a skip into a failure.
#![allow(dead_code)]

use std::process::Command;

pub use deepagent_testkit::docker::busybox_image;

/// True when the engine answers and has the busybox image (the testkit's
/// gate).
pub async fn ready() -> bool {
    let up = deepagent_docker::engine_available().await;
    deepagent_testkit::docker::gate(up, &deepagent_docker::engine_address(), &busybox_image())
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
