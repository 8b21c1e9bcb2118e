//! The capability declaration of `conformance_tests!` is checked both
//! ways: a backend cannot hide a missing operation behind a passing case,
//! nor declare lacking one it has.

use std::sync::Arc;

use deepagent_state::StateBackend;
use deepagent_testkit::cases::{capability, B};
use deepagent_testkit::run_case;
use deepagent_testkit::Fixture;

fn state() -> B {
    Arc::new(StateBackend::new())
}

async fn state_fixture() -> Fixture {
    Fixture::new(StateBackend::new())
}

#[test]
fn the_right_declaration_passes() {
    run_case("declared", state_fixture, |b| {
        capability::declared_capabilities_agree_with_info(b, &["execute"])
    });
}

#[test]
#[should_panic(
    expected = "`execute`: info() says not supported, the invocation does not declare it lacking"
)]
fn an_undeclared_missing_operation_fails() {
    run_case("undeclared", state_fixture, |b| {
        capability::declared_capabilities_agree_with_info(b, &[])
    });
}

#[test]
#[should_panic(expected = "`delete`: info() says supported, the invocation declares it lacking")]
fn declaring_a_present_operation_lacking_fails() {
    run_case("overdeclared", state_fixture, |b| {
        capability::declared_capabilities_agree_with_info(b, &["delete", "execute"])
    });
}

#[test]
#[should_panic(expected = "declare it: conformance_tests!(lacks [execute]")]
fn a_case_needing_a_missing_operation_fails_instead_of_passing() {
    run_case("execute_exit_codes", state_fixture, |b| {
        deepagent_testkit::cases::execute::execute_exit_codes(b)
    });
}

#[test]
fn an_ignored_case_run_by_hand_checks_the_lack() {
    run_case("execute", state_fixture, |b| {
        capability::lacks(b, "execute")
    });
    // And what it checks is the backend itself, not the fixture.
    assert!(state().as_sandbox().is_none());
}

#[test]
#[should_panic(expected = "declared to lack `rename`, but its info() says it has it")]
fn an_ignored_case_run_by_hand_fails_when_the_backend_has_it() {
    run_case("rename", state_fixture, |b| capability::lacks(b, "rename"));
}

// The macro itself: with `lacks [execute]` the execute group is generated
// (as ignored tests) and the rest runs; this module compiling and passing
// is the check, `cargo test -- --list --ignored` shows the five.
mod generated {
    use super::*;
    deepagent_testkit::conformance_tests!(lacks[execute], state_fixture);
}
