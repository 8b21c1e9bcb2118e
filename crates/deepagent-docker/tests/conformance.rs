//! The shared conformance suite against a busybox container: the whole
//! suite through `Scoped` (the suite starts from an empty `/`, and a
//! container's `/` never is: `/proc`, `/dev`, the tools), and every case
//! but the two about `/` as a whole, unscoped, so the sandbox's own path
//! rules are what is tested (issue 13: a relative path is taken from `/`
//! on every backend).
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

/// The suite's cases on an unscoped sandbox, each in a fresh container
/// whose cases work in directories of their own below `/`.
///
/// Every case of the suite is either run here or listed with why not, as
/// an ignored test (`every_case_is_run_or_excluded` keeps the two lists
/// complete when a case is added to the suite).
#[cfg(feature = "engine-tests")]
mod unscoped {
    use deepagent_docker::{DockerSandbox, RuntimeConfig};
    use deepagent_testkit::{cases, run_case, Fixture, CASE_NAMES};

    use super::common;

    async fn fixture() -> Fixture {
        if !common::ready(&common::busybox_image()).await {
            panic!("{}", common::SKIP_NO_ENGINE);
        }
        // As the image's user (root): the cases write in directories of
        // their own below `/`, which only root may, and the file tools act
        // as the command user. Commands start in `/`, where the file
        // tools' relative paths start too (a work dir elsewhere is what
        // `Scoped` is for; the scoped run covers that layout).
        let runtime = RuntimeConfig::new("conformance-unscoped", common::busybox_image())
            .run_as_image_user()
            .work_dir("/");
        let sandbox = DockerSandbox::new(runtime).expect("valid runtime");
        let cleanup = common::Cleanup(sandbox.container_name().to_owned());
        Fixture::new(sandbox).with_guard(cleanup)
    }

    macro_rules! unscoped_cases {
        ($($module:ident :: $case:ident),* $(,)?) => {
            $(
                #[test]
                fn $case() {
                    run_case(stringify!($case), fixture, cases::$module::$case);
                }
            )*
            const RUN: &[&str] = &[$(stringify!($case)),*];
        };
    }

    /// Cases whose rule is about `/` as a whole: on a container, `/` holds
    /// the image (`/bin`, `/etc`, `/proc`...), so they cannot hold
    /// unscoped. They run in the scoped suite above, where `/` is an
    /// empty directory. Ignored tests, so cargo shows them; run with
    /// `--ignored` they fail, as they should.
    macro_rules! excluded_cases {
        ($($module:ident :: $case:ident => $why:literal),* $(,)?) => {
            $(
                #[test]
                #[ignore = $why]
                fn $case() {
                    run_case(stringify!($case), fixture, cases::$module::$case);
                }
            )*
            const EXCLUDED: &[&str] = &[$(stringify!($case)),*];
        };
    }

    excluded_cases!(
        ls::ls_empty_root => "needs an empty `/` (ls, glob and grep of `/` find nothing); a container's `/` is its image",
        paths::root_spellings_agree => "lists, globs and greps the whole of `/` and expects the two files it wrote; on a container that is the image and /proc, /sys",
    );

    unscoped_cases!(
        write::write_read_round_trip,
        write::binary_round_trip,
        write::unicode_spaces_and_emoji,
        write::deep_paths,
        write::overwrite_replaces_whole_file,
        write::empty_file,
        write::write_below_a_file_fails,
        write::write_onto_directory_fails,
        paths::paths_are_normalized,
        paths::write_result_path_is_normalized,
        paths::invalid_paths_everywhere,
        read::read_slices,
        read::read_default_limit_and_tail,
        read::read_crlf_and_unterminated_last_line,
        read::read_past_end_names_line_count,
        read::read_missing_and_directory,
        edit::edit_unique,
        edit::edit_not_found_leaves_file,
        edit::edit_ambiguous_reports_count,
        edit::edit_replace_all_counts,
        edit::edit_missing_file,
        edit::edit_invalid_arguments,
        edit::edit_preserves_binary_around_text,
        ls::ls_direct_children_sorted,
        ls::ls_of_file,
        ls::ls_missing,
        ls::exists_files_dirs_missing,
        glob::glob_recursive_and_relative,
        glob::glob_files_only,
        glob::glob_missing_base_is_empty,
        glob::glob_cap_and_truncation,
        glob::glob_invalid_pattern,
        grep::grep_regex_and_line_numbers,
        grep::grep_file_vs_directory,
        grep::grep_glob_filter,
        grep::grep_hidden_entries,
        grep::grep_invalid_regex,
        grep::grep_skips_binary,
        grep::grep_cap_and_truncation,
        grep::grep_missing_path,
        grep::grep_flags,
        grep::grep_sorted_across_files,
        concurrency::concurrent_edits_lose_nothing,
        concurrency::concurrent_writes_distinct_files,
        delete::delete_files_and_directories,
        rename::rename_files_and_directories,
        batch::upload_and_download_batches,
        execute::execute_exit_codes,
        execute::execute_timeout_is_124,
        execute::execute_output_is_capped,
        execute::execute_interleaves_stderr,
        execute::execute_working_directory,
    );

    /// A case added to the suite must be run here or excluded with a
    /// reason; neither list may name a case twice or one that is gone.
    #[test]
    fn every_case_is_run_or_excluded() {
        let mut listed: Vec<&str> = RUN.iter().chain(EXCLUDED).copied().collect();
        listed.sort_unstable();
        let mut all: Vec<&str> = CASE_NAMES.to_vec();
        all.sort_unstable();
        assert_eq!(listed, all);
    }
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
