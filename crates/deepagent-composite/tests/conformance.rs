//! The shared behaviour suite, run against `CompositeBackend` in several
//! layouts.
//!
//! The suite starts each case from an empty `/` and checks, for example,
//! that `ls /` of an empty backend is empty. A composite's mount points
//! are always listed, so a layout with mounts runs the suite through
//! `Scoped` at a mount point: every call then crosses the composite's
//! routing, prefix stripping and restoring.

use std::sync::Arc;

use deepagent_composite::CompositeBackend;
use deepagent_core::layers::Scoped;
use deepagent_core::Backend;
use deepagent_state::StateBackend;
use deepagent_testkit::Fixture;

fn scoped(backend: CompositeBackend, dir: &str) -> Fixture {
    let inner: Arc<dyn Backend> = Arc::new(backend);
    match Scoped::new(inner, dir) {
        Ok(s) => Fixture::new(s),
        Err(e) => panic!("scope {dir}: {e}"),
    }
}

/// (a) A default backend and no routes: pure pass-through.
mod default_only {
    use super::*;
    deepagent_testkit::conformance_tests!(lacks[execute], || async {
        Fixture::new(CompositeBackend::builder(StateBackend::new()).build())
    });
}

/// (b) The suite runs inside a StateBackend mounted at `/mnt/`.
mod mounted_state {
    use super::*;
    deepagent_testkit::conformance_tests!(lacks[execute], || async {
        let c = CompositeBackend::builder(StateBackend::new())
            .route("/mnt/", StateBackend::new())
            .build();
        scoped(c, "/mnt")
    });
}

/// (c) A mount two levels deep, next to a sibling mount and default files.
mod deep_mount_with_neighbours {
    use super::*;
    deepagent_testkit::conformance_tests!(lacks[execute], || async {
        let memory = StateBackend::with_files([("/srv/other.txt", "default's file\n")])
            .unwrap_or_else(|e| panic!("{e}"));
        let c = CompositeBackend::builder(memory)
            .route("/srv/data/", StateBackend::new())
            .route("/srv/logs/", StateBackend::new())
            .build();
        scoped(c, "/srv/data")
    });
}

/// (d) The seed's layout: one backend at `/project/` and `/workspace/`,
/// a different default; the suite runs at `/project`.
mod seed_layout_project {
    use super::*;
    deepagent_testkit::conformance_tests!(lacks[execute], || async {
        let shared = StateBackend::new();
        let c = CompositeBackend::builder(StateBackend::new())
            .route("/project/", shared.clone())
            .route("/workspace/", shared)
            .build();
        scoped(c, "/project")
    });
}

/// (d') The same layout, the suite at the second prefix.
mod seed_layout_workspace {
    use super::*;
    deepagent_testkit::conformance_tests!(lacks[execute], || async {
        let shared = StateBackend::new();
        let c = CompositeBackend::builder(StateBackend::new())
            .route("/project/", shared.clone())
            .route("/workspace/", shared)
            .build();
        scoped(c, "/workspace")
    });
}

/// (e) A composite mounted inside a composite.
mod nested_composites {
    use super::*;
    deepagent_testkit::conformance_tests!(lacks[execute], || async {
        let inner = CompositeBackend::builder(StateBackend::new()).build();
        let outer = CompositeBackend::builder(StateBackend::new())
            .route("/outer/", inner)
            .build();
        scoped(outer, "/outer")
    });
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"))
}

fn local(dir: &std::path::Path) -> deepagent_local::LocalBackend {
    deepagent_local::LocalBackend::new(dir).unwrap_or_else(|e| panic!("LocalBackend: {e}"))
}

/// (f) A LocalBackend mounted at `/project/`, memory as the default: the
/// seed's layout with a real directory.
mod local_mounted {
    use super::*;
    deepagent_testkit::conformance_tests!(lacks[execute], || async {
        let dir = tempdir();
        let c = CompositeBackend::builder(StateBackend::new())
            .route("/project/", local(dir.path()))
            .build();
        scoped(c, "/project").with_guard(dir)
    });
}

/// (g) A LocalBackend as the default with a memory mount beside the
/// suite's directory, which is an existing empty directory on disk.
///
/// Its shell is off: `Scoped` passes commands through unchanged, so they
/// run in the default's root rather than in `/suite` (a work dir in
/// `Scoped` is issue 13 item 1); the execute group runs in (h) instead.
mod local_default {
    use super::*;
    deepagent_testkit::conformance_tests!(lacks[execute], || async {
        let dir = tempdir();
        std::fs::create_dir(dir.path().join("suite")).unwrap_or_else(|e| panic!("mkdir: {e}"));
        let no_shell = deepagent_local::LocalBackend::builder(dir.path())
            .enable_execute(false)
            .build()
            .unwrap_or_else(|e| panic!("LocalBackend: {e}"));
        let c = CompositeBackend::builder(no_shell)
            .route("/mnt/", StateBackend::new())
            .build();
        scoped(c, "/suite").with_guard(dir)
    });
}

/// (h) A LocalBackend as the default and no routes: the suite at `/`.
mod local_default_only {
    use super::*;
    deepagent_testkit::conformance_tests!(|| async {
        let dir = tempdir();
        let c = CompositeBackend::builder(local(dir.path())).build();
        Fixture::new(c).with_guard(dir)
    });
}
