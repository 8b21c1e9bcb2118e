//! The shared behaviour suite, each case on a fresh temporary directory.

use deepagent_core::conformance::Fixture;
use deepagent_local::LocalBackend;

deepagent_core::conformance_tests!(|| async {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let backend = LocalBackend::new(dir.path()).expect("open the temporary directory");
    Fixture::new(backend).with_guard(dir)
});
