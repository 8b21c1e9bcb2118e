//! # deepagent-testkit
//!
//! What every deepagent backend is tested with, in one place (the model is
//! OpenDAL's behavior tests and testkit):
//!
//! - the conformance suite: one async function per behaviour in [`cases`],
//!   one module per operation, and [`conformance_tests!`] to turn them into
//!   one `#[test]` each for a backend factory, so a backend in this
//!   repository and one you write are held to the same rules. Cases for an
//!   optional operation are filtered by the backend's
//!   [`Capabilities`](deepagent_core::Capabilities); the `execute` group
//!   runs for every [`Sandbox`](deepagent_core::Sandbox);
//! - [`recording::RecordingSandbox`]: a sandbox double that records
//!   commands instead of running them;
//! - [`docker`]: the skip-or-fail gate of the tests that need an engine;
//! - [`prop`]: proptest configuration; [`rng::Rng`]: a seeded generator.
//!
//! ```ignore
//! // tests/conformance.rs of your crate, with deepagent-testkit in
//! // dev-dependencies:
//! use deepagent_testkit::Fixture;
//!
//! deepagent_testkit::conformance_tests!(|| async {
//!     let dir = tempfile::tempdir().unwrap();
//!     let backend = MyBackend::new(dir.path());
//!     Fixture::new(backend).with_guard(dir) // the guard lives as long as the test
//! });
//! ```
//!
//! Every case starts from an empty backend and uses absolute paths from
//! `/`. A backend whose `/` is not empty (a container, say) runs the suite
//! through [`Scoped`](deepagent_core::layers::Scoped) over a fresh directory.

#![warn(missing_docs)]

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use deepagent_core::Backend;

pub mod cases;
pub mod docker;
pub mod prop;
pub mod recording;
pub mod rng;

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
/// [`conformance_tests!`]; call it directly to
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

/// Calls `$callback!` with the one list of cases, as `module::case`
/// pairs: the tests ([`conformance_tests!`]) and [`CASE_NAMES`] are both
/// generated from it, so a case cannot be in one and not the other.
#[doc(hidden)]
#[macro_export]
macro_rules! __with_cases {
    ($callback:path; $($args:tt)*) => {
        $callback!($($args)*;
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
            paths::root_spellings_agree,
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
            ls::ls_empty_root,
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
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __case_names {
    (; $($module:ident :: $case:ident),* $(,)?) => {
        /// The names of every case, in the order the tests are generated.
        pub const CASE_NAMES: &[&str] = &[$(stringify!($case)),*];
    };
}

__with_cases!(__case_names;);

/// Generates one `#[test]` per conformance case for a backend factory.
///
/// The factory is called once per case and returns a [`Fixture`] holding
/// a fresh, empty backend. Invoke it once per module; wrap it in
/// `mod name { ... }` to run several layouts in one file. Cases for an
/// operation the backend's [`info`](deepagent_core::Backend::info) says it
/// lacks (`delete`, `rename`, `execute`) print `skipped-by-capability`.
///
/// ```ignore
/// deepagent_testkit::conformance_tests!(|| async {
///     deepagent_testkit::Fixture::new(StateBackend::new())
/// });
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::__with_cases!($crate::__conformance_tests; $factory);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    ($factory:expr; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::run_case(
                    stringify!($case),
                    $factory,
                    $crate::cases::$module::$case,
                );
            }
        )*
    };
}
