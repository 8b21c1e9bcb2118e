//! Shared gating and cleanup for the tests that need a Docker engine.
#![allow(dead_code, unused_imports)]

use deepagent_docker::{remove_container_blocking, DockerSandbox, RuntimeConfig};

pub use deepagent_testkit::docker::{busybox_image, python_image, required, say, SKIP_NO_ENGINE};

/// Whether the engine answers and has `image` (the testkit's gate: prints
/// why not, or panics when Docker is required).
pub async fn ready(image: &str) -> bool {
    let up = deepagent_docker::engine_available().await;
    deepagent_testkit::docker::gate(up, &deepagent_docker::engine_address(), image)
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
