//! The 0.2 operations of `LocalBackend`: what it reports about itself,
//! and (through the dirfd and jail helpers) delete, rename and batches.

use deepagent_core::{BackendInfo, Capabilities, Durability, Limits};

use crate::config::Config;

/// Files on disk, durable; `execute` when enabled; read-only when built so.
pub(crate) fn info(cfg: &Config) -> BackendInfo {
    let mut caps = Capabilities::read_write();
    if cfg.enable_execute {
        caps = caps.with_execute();
    }
    let mut limits = Limits::none().with_max_output_bytes(cfg.output_limit);
    if let Some(max) = cfg.max_read_bytes {
        limits = limits.with_max_read_bytes(max);
    }
    let info = BackendInfo::new("LocalBackend", Durability::Durable)
        .with_summary("files on disk; they persist")
        .with_capabilities(caps)
        .with_limits(limits);
    if cfg.read_only {
        info.into_read_only()
    } else {
        info
    }
}
