//! The shared behaviour suite, each case on a fresh temporary directory.

use deepagent_local::LocalBackend;
use deepagent_testkit::Fixture;

deepagent_testkit::conformance_tests!(|| async {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let backend = LocalBackend::new(dir.path()).expect("open the temporary directory");
    Fixture::new(backend).with_guard(dir)
});

/// The same suite with each case inside a task on a multi-thread runtime,
/// where the single-file calls run through `block_in_place` rather than
/// the blocking pool (see the crate doc).
mod on_workers {
    use deepagent_local::LocalBackend;
    use deepagent_testkit::Fixture;

    deepagent_testkit::conformance_tests!(workers, || async {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let backend = LocalBackend::new(dir.path()).expect("open the temporary directory");
        Fixture::new(backend).with_guard(dir)
    });
}
