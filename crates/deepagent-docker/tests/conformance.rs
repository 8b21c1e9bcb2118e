//! The shared conformance suite against a busybox container, through
//! `Scoped` (the suite works from `/`; the container's `/` is not empty).
//!
//! One container per case, so cases cannot see each other's files. Runs
//! with `--features engine-tests` (as `cargo xtask test-docker` does),
//! because the generated tests cannot skip themselves without an engine.

mod common;

#[cfg(feature = "engine-tests")]
mod suite {
    use std::sync::Arc;

    use deepagent_core::layers::Scoped;
    use deepagent_docker::{DockerSandbox, RuntimeConfig};
    use deepagent_testkit::Fixture;

    use super::common;

    deepagent_testkit::conformance_tests!(|| async {
        if !common::ready(&common::busybox_image()).await {
            panic!("{}", common::SKIP_NO_ENGINE);
        }
        // The engine creates the work dir at start, so the scoped root
        // exists (and is empty) from the first call on.
        let runtime =
            RuntimeConfig::new("conformance", common::busybox_image()).work_dir("/conformance");
        let sandbox = DockerSandbox::new(runtime).expect("valid runtime");
        let cleanup = common::Cleanup(sandbox.container_name().to_owned());
        let scoped = Scoped::new(Arc::new(sandbox), "/conformance").expect("valid dir");
        Fixture::new(scoped).with_guard(cleanup)
    });
}

#[cfg(not(feature = "engine-tests"))]
#[test]
fn conformance_needs_engine_tests_feature() {
    // Asked for Docker but built without the suite: that is a failure, not a skip.
    assert!(
        !matches!(std::env::var("DEEPAGENT_REQUIRE_DOCKER").as_deref(), Ok("1")),
        "DEEPAGENT_REQUIRE_DOCKER=1 but the conformance suite is compiled out: add --features engine-tests"
    );
    common::say(
        "skipped: the conformance suite against a container runs with --features engine-tests (cargo xtask test-docker)",
    );
}
