//! The shared behaviour suite, run against `StateBackend`.

use deepagent_core::conformance::Fixture;
use deepagent_state::StateBackend;

deepagent_core::conformance_tests!(|| async { Fixture::new(StateBackend::new()) });
