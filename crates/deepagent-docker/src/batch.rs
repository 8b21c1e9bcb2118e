//! The 0.2 operations of `DockerSandbox`: what it reports about itself,
//! delete and rename through the in-container shell, and batch upload and
//! download as one tar each.

use deepagent_core::{BackendInfo, Capabilities, Durability, Limits};

use crate::DockerSandbox;

/// A container's files: gone with the container, commands supported.
pub(crate) fn info(sandbox: &DockerSandbox) -> BackendInfo {
    BackendInfo::new("DockerSandbox", Durability::Ephemeral)
        .with_summary("inside a container")
        .with_capabilities(Capabilities::read_write().with_execute())
        .with_limits(Limits::none().with_max_output_bytes(sandbox.inner.output_limit))
}
