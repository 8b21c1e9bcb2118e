//! The shared behaviour suite, run against `StateBackend`.

use deepagent_state::StateBackend;
use deepagent_testkit::Fixture;

deepagent_testkit::conformance_tests!(lacks[execute], || async {
    Fixture::new(StateBackend::new())
});
