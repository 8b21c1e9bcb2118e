//! The shared behaviour suite, run against `StateBackend`.

use deepagent_state::StateBackend;
use deepagent_testkit::Fixture;

deepagent_testkit::conformance_tests!(lacks[execute], || async {
    Fixture::new(StateBackend::new())
});

/// A case that greps `/` must not count what else a backend's `/` holds.
/// On an unscoped Docker sandbox `/etc/hostname` is the random container
/// id, and `grep_flags`' regex `a.b` matched one like `…0a3b…` (a flaky
/// `cargo xtask test-docker`: 3 matches where 2 were expected).
#[test]
fn grep_flags_ignores_files_outside_its_own_directory() {
    deepagent_testkit::run_case(
        "grep_flags",
        || async {
            let host = StateBackend::with_files([("/etc/hostname", "0a3b1c9d2e4f\n")])
                .expect("a populated store");
            Fixture::new(host)
        },
        deepagent_testkit::cases::grep::grep_flags,
    );
}
