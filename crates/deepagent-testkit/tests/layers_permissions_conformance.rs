//! A permissive `Permissioned` layer is transparent: the whole conformance
//! suite passes through it unchanged. So does the DEFAULT preset with an
//! approver that allows every ask (the suite touches no secrets).

use deepagent_core::layers::{approver_fn, PermissionDecision, Permissioned, Ruleset};
use deepagent_state::StateBackend;
use deepagent_testkit::Fixture;

mod permissive {
    use super::*;
    deepagent_testkit::conformance_tests!(lacks[execute], || async {
        match Permissioned::new(StateBackend::new(), Ruleset::permissive()) {
            Ok(layer) => Fixture::new(layer),
            Err(e) => panic!("permissive ruleset must compile: {e}"),
        }
    });
}

mod default_preset_all_approved {
    use super::*;
    deepagent_testkit::conformance_tests!(lacks[execute], || async {
        match Permissioned::new(StateBackend::new(), Ruleset::default_preset()) {
            Ok(layer) => Fixture::new(
                layer.with_approver(approver_fn(|_| async { PermissionDecision::Allow })),
            ),
            Err(e) => panic!("default preset must compile: {e}"),
        }
    });
}
