//! The behaviour suite every backend runs.
//!
//! One async function per behaviour lives in [`cases`]; the
//! [`conformance_tests!`](crate::conformance_tests) macro turns them into
//! one `#[test]` each for a backend factory, so a backend in this
//! repository and a backend you write yourself are held to the same rules.
//! The model is OpenDAL's behavior tests and object_store's shared test
//! functions.
//!
//! ```ignore
//! // tests/conformance.rs of your crate; needs
//! // deepagent-core = { version = "…", features = ["conformance"] } in dev-dependencies.
//! use deepagent_core::conformance::Fixture;
//!
//! deepagent_core::conformance_tests!(|| async {
//!     let dir = tempfile::tempdir().unwrap();
//!     let backend = MyBackend::new(dir.path());
//!     Fixture::new(backend).with_guard(dir) // the guard lives as long as the test
//! });
//! ```
//!
//! Every case starts from an empty backend and uses absolute paths from
//! `/`. A backend whose `/` is not empty (a container, say) runs the suite
//! through [`Scoped`](crate::layers::Scoped) over a fresh directory.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use crate::Backend;

pub mod cases;

/// A backend under test and whatever must live as long as it (a temp dir,
/// a container handle).
pub struct Fixture {
    backend: Arc<dyn Backend>,
    guard: Option<Box<dyn Any + Send>>,
}

impl Fixture {
    /// Tests `backend`.
    pub fn new(backend: impl Backend + 'static) -> Self {
        Fixture {
            backend: Arc::new(backend),
            guard: None,
        }
    }

    /// Tests an already shared backend.
    pub fn from_arc(backend: Arc<dyn Backend>) -> Self {
        Fixture {
            backend,
            guard: None,
        }
    }

    /// Keeps `guard` alive until the case ends (dropped after the backend).
    pub fn with_guard(mut self, guard: impl Any + Send) -> Self {
        self.guard = Some(Box::new(guard));
        self
    }

    /// The backend under test.
    pub fn backend(&self) -> Arc<dyn Backend> {
        self.backend.clone()
    }
}

/// Runs one case against a fresh fixture on its own runtime. Used by
/// [`conformance_tests!`](crate::conformance_tests); call it directly to
/// run a case from your own harness.
pub fn run_case<F, Fut, C, CFut>(name: &str, factory: F, case: C)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Fixture>,
    C: FnOnce(Arc<dyn Backend>) -> CFut,
    CFut: Future<Output = ()>,
{
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("conformance case {name}: cannot start a tokio runtime: {e}"),
    };
    runtime.block_on(async {
        let fixture = factory().await;
        let Fixture { backend, guard } = fixture;
        case(backend).await;
        drop(guard);
    });
}

/// The names of every case in [`cases`], in the order the macro runs them.
/// The macro checks its own list against this one, so a case added to
/// [`cases`] but not to the macro fails the build's tests.
pub const CASE_NAMES: &[&str] = &[
    "write_read_round_trip",
    "binary_round_trip",
    "unicode_spaces_and_emoji",
    "deep_paths",
    "overwrite_replaces_whole_file",
    "empty_file",
    "paths_are_normalized",
    "write_result_path_is_normalized",
    "read_slices",
    "read_default_limit_and_tail",
    "read_crlf_and_unterminated_last_line",
    "read_past_end_names_line_count",
    "read_missing_and_directory",
    "edit_unique",
    "edit_not_found_leaves_file",
    "edit_ambiguous_reports_count",
    "edit_replace_all_counts",
    "edit_missing_file",
    "edit_invalid_arguments",
    "edit_preserves_binary_around_text",
    "ls_direct_children_sorted",
    "ls_of_file",
    "ls_missing",
    "ls_empty_root",
    "exists_files_dirs_missing",
    "root_spellings_agree",
    "glob_recursive_and_relative",
    "glob_files_only",
    "glob_missing_base_is_empty",
    "glob_cap_and_truncation",
    "glob_invalid_pattern",
    "grep_regex_and_line_numbers",
    "grep_file_vs_directory",
    "grep_glob_filter",
    "grep_hidden_entries",
    "grep_invalid_regex",
    "grep_skips_binary",
    "grep_cap_and_truncation",
    "grep_missing_path",
    "grep_flags",
    "grep_sorted_across_files",
    "invalid_paths_everywhere",
    "write_below_a_file_fails",
    "write_onto_directory_fails",
    "concurrent_edits_lose_nothing",
    "concurrent_writes_distinct_files",
    "delete_files_and_directories",
    "rename_files_and_directories",
    "upload_and_download_batches",
];

/// Generates one `#[test]` per conformance case for a backend factory.
///
/// The factory is called once per case and returns a
/// [`Fixture`](crate::conformance::Fixture) holding a fresh, empty backend.
/// Invoke it once per module; wrap it in `mod name { ... }` to run several
/// layouts in one file.
///
/// ```ignore
/// deepagent_core::conformance_tests!(|| async {
///     deepagent_core::conformance::Fixture::new(StateBackend::new())
/// });
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::__conformance_tests!(
            $factory;
            write_read_round_trip,
            binary_round_trip,
            unicode_spaces_and_emoji,
            deep_paths,
            overwrite_replaces_whole_file,
            empty_file,
            paths_are_normalized,
            write_result_path_is_normalized,
            read_slices,
            read_default_limit_and_tail,
            read_crlf_and_unterminated_last_line,
            read_past_end_names_line_count,
            read_missing_and_directory,
            edit_unique,
            edit_not_found_leaves_file,
            edit_ambiguous_reports_count,
            edit_replace_all_counts,
            edit_missing_file,
            edit_invalid_arguments,
            edit_preserves_binary_around_text,
            ls_direct_children_sorted,
            ls_of_file,
            ls_missing,
            ls_empty_root,
            exists_files_dirs_missing,
            root_spellings_agree,
            glob_recursive_and_relative,
            glob_files_only,
            glob_missing_base_is_empty,
            glob_cap_and_truncation,
            glob_invalid_pattern,
            grep_regex_and_line_numbers,
            grep_file_vs_directory,
            grep_glob_filter,
            grep_hidden_entries,
            grep_invalid_regex,
            grep_skips_binary,
            grep_cap_and_truncation,
            grep_missing_path,
            grep_flags,
            grep_sorted_across_files,
            invalid_paths_everywhere,
            write_below_a_file_fails,
            write_onto_directory_fails,
            concurrent_edits_lose_nothing,
            concurrent_writes_distinct_files,
            delete_files_and_directories,
            rename_files_and_directories,
            upload_and_download_batches,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    ($factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::conformance::run_case(
                    stringify!($case),
                    $factory,
                    $crate::conformance::cases::$case,
                );
            }
        )*

        #[test]
        fn conformance_suite_is_complete() {
            let listed: &[&str] = &[$(stringify!($case)),*];
            assert_eq!(listed, $crate::conformance::CASE_NAMES);
        }
    };
}
