//! proptest configuration shared by the property tests.

use proptest::test_runner::Config;

/// `default` cases, or `PROPTEST_CASES` when set (to run more).
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// proptest's config with `cases` and without failure files (integration
/// test binaries have no source path to put them next to).
///
/// ```
/// let config = deepagent_testkit::prop::quiet(64);
/// assert_eq!(config.cases, 64);
/// assert!(config.failure_persistence.is_none());
/// ```
pub fn quiet(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}
