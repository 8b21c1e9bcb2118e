//! # deepagent-testkit
//!
//! What every deepagent backend is tested with, in one place (the model is
//! OpenDAL's behavior tests and testkit):
//!
//! - the conformance suite: one async function per behaviour in [`cases`],
//!   one module per operation, and [`conformance_tests!`] to turn them into
//!   one `#[test]` each for a backend factory, so a backend in this
//!   repository and one you write are held to the same rules. Cases for an
//!   optional operation the backend lacks (declared with `lacks [..]` and
//!   checked against its [`Capabilities`](deepagent_core::Capabilities))
//!   are ignored tests, never passes; the `execute` group runs for every
//!   [`Sandbox`](deepagent_core::Sandbox);
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
    let runtime = case_runtime(name, tokio::runtime::Builder::new_current_thread());
    runtime.block_on(async {
        let fixture = factory().await;
        let Fixture { backend, guard } = fixture;
        case(backend).await;
        drop(guard);
    });
}

/// Runs one case like [`run_case`], but inside a task spawned on a
/// two-worker multi-thread runtime, where an agent's tool calls run: a
/// backend that behaves differently there (tokio's `block_in_place`, for
/// one) is checked on that path too. Used by
/// [`conformance_tests!(workers, ..)`](conformance_tests).
pub fn run_case_on_workers<F, Fut, C, CFut>(name: &str, factory: F, case: C)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Fixture>,
    C: FnOnce(Arc<dyn Backend>) -> CFut,
    CFut: Future<Output = ()> + Send + 'static,
{
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2);
    let runtime = case_runtime(name, builder);
    runtime.block_on(async {
        let Fixture { backend, guard } = factory().await;
        let outcome = tokio::spawn(case(backend)).await;
        drop(guard);
        if let Err(e) = outcome {
            match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(e) => panic!("conformance case {name}: its task failed: {e}"),
            }
        }
    });
}

/// The runtime a case runs on, with every driver on.
fn case_runtime(name: &str, mut builder: tokio::runtime::Builder) -> tokio::runtime::Runtime {
    match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => panic!("conformance case {name}: cannot start a tokio runtime: {e}"),
    }
}

/// Calls `$callback!` with the one list of cases, as `module::case
/// (capability)`: the tests ([`conformance_tests!`]) and [`CASE_NAMES`]
/// are both generated from it, so a case cannot be in one and not the
/// other. The capability is the optional operation the case needs
/// (`delete`, `rename`, `execute`), or `any`.
#[doc(hidden)]
#[macro_export]
macro_rules! __with_cases {
    ($callback:path; $($args:tt)*) => {
        $callback!($($args)*;
            write::write_read_round_trip (any),
            write::binary_round_trip (any),
            write::unicode_spaces_and_emoji (any),
            write::deep_paths (any),
            write::overwrite_replaces_whole_file (any),
            write::empty_file (any),
            write::write_below_a_file_fails (any),
            write::write_onto_directory_fails (any),
            paths::paths_are_normalized (any),
            paths::write_result_path_is_normalized (any),
            paths::root_spellings_agree (any),
            paths::invalid_paths_everywhere (any),
            read::read_slices (any),
            read::read_default_limit_and_tail (any),
            read::read_crlf_and_unterminated_last_line (any),
            read::read_past_end_names_line_count (any),
            read::read_missing_and_directory (any),
            edit::edit_unique (any),
            edit::edit_not_found_leaves_file (any),
            edit::edit_ambiguous_reports_count (any),
            edit::edit_replace_all_counts (any),
            edit::edit_missing_file (any),
            edit::edit_invalid_arguments (any),
            edit::edit_preserves_binary_around_text (any),
            ls::ls_direct_children_sorted (any),
            ls::ls_of_file (any),
            ls::ls_missing (any),
            ls::ls_empty_root (any),
            ls::exists_files_dirs_missing (any),
            glob::glob_recursive_and_relative (any),
            glob::glob_files_only (any),
            glob::glob_missing_base_is_empty (any),
            glob::glob_cap_and_truncation (any),
            glob::glob_invalid_pattern (any),
            grep::grep_regex_and_line_numbers (any),
            grep::grep_file_vs_directory (any),
            grep::grep_glob_filter (any),
            grep::grep_hidden_entries (any),
            grep::grep_invalid_regex (any),
            grep::grep_skips_binary (any),
            grep::grep_cap_and_truncation (any),
            grep::grep_missing_path (any),
            grep::grep_flags (any),
            grep::grep_sorted_across_files (any),
            concurrency::concurrent_edits_lose_nothing (any),
            concurrency::concurrent_writes_distinct_files (any),
            delete::delete_files_and_directories (delete),
            rename::rename_files_and_directories (rename),
            batch::upload_and_download_batches (any),
            execute::execute_exit_codes (execute),
            execute::execute_timeout_is_124 (execute),
            execute::execute_output_is_capped (execute),
            execute::execute_interleaves_stderr (execute),
            execute::execute_working_directory (execute),
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __case_names {
    (; $($module:ident :: $case:ident ($cap:ident)),* $(,)?) => {
        /// The names of every case, in the order the tests are generated.
        pub const CASE_NAMES: &[&str] = &[$(stringify!($case)),*];
    };
}

__with_cases!(__case_names;);

/// Generates one `#[test]` per conformance case for a backend factory.
///
/// The factory is called once per case and returns a [`Fixture`] holding
/// a fresh, empty backend. Invoke it once per module; wrap it in
/// `mod name { ... }` to run several layouts in one file.
///
/// A backend without an optional operation (`delete`, `rename`,
/// `execute`) says so with `lacks [..]`: the cases that need it are
/// generated with `#[ignore = "backend lacks <op>"]`, so cargo counts them
/// as ignored, never as passed. A generated test,
/// `declared_capabilities_agree_with_info`, fails when the list and the
/// backend's [`info`](deepagent_core::Backend::info) disagree (a
/// capability declared lacking that the backend has, or one it lacks
/// that is not declared), and a case run against a backend lacking its
/// operation fails too. A name outside the three does not compile.
///
/// ```ignore
/// // Everything supported:
/// deepagent_testkit::conformance_tests!(|| async {
///     deepagent_testkit::Fixture::new(LocalBackend::new(dir)?)
/// });
/// // A store without commands:
/// deepagent_testkit::conformance_tests!(lacks [execute], || async {
///     deepagent_testkit::Fixture::new(StateBackend::new())
/// });
/// // Every case again, each inside a task on a multi-thread runtime
/// // (see run_case_on_workers); `lacks [..]` may follow `workers,`:
/// mod on_workers {
///     deepagent_testkit::conformance_tests!(workers, || async { /* .. */ });
/// }
/// ```
#[macro_export]
macro_rules! conformance_tests {
    (workers, lacks [$($lacks:ident),* $(,)?], $factory:expr $(,)?) => {
        $crate::__conformance_tests_with!($crate::run_case_on_workers; [$($lacks),*]; $factory);
    };
    (workers, $factory:expr $(,)?) => {
        $crate::__conformance_tests_with!($crate::run_case_on_workers; []; $factory);
    };
    (lacks [$($lacks:ident),* $(,)?], $factory:expr $(,)?) => {
        $crate::__conformance_tests_with!($crate::run_case; [$($lacks),*]; $factory);
    };
    ($factory:expr $(,)?) => {
        $crate::conformance_tests!(lacks [], $factory);
    };
}

/// The body of [`conformance_tests!`], with the function that runs a case.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests_with {
    ($runner:path; [$($lacks:ident),*]; $factory:expr) => {
        $($crate::__known_capability!($lacks);)*
        $crate::__with_cases!($crate::__conformance_tests; $runner; [$($lacks),*]; $factory);

        #[test]
        fn declared_capabilities_agree_with_info() {
            $runner(
                "declared_capabilities_agree_with_info",
                $factory,
                |b| $crate::cases::capability::declared_capabilities_agree_with_info(
                    b,
                    &[$(stringify!($lacks)),*],
                ),
            );
        }
    };
}

/// Accepts only the optional capabilities, so a misspelt `lacks [..]`
/// entry is a compile error rather than a silently run case.
#[doc(hidden)]
#[macro_export]
macro_rules! __known_capability {
    (delete) => {};
    (rename) => {};
    (execute) => {};
}

/// `$yes` when `$cap` is in the bracketed list, `$no` otherwise.
/// (`macro_rules` cannot compare two identifiers, only an identifier with
/// a literal one, hence an arm per capability.)
#[doc(hidden)]
#[macro_export]
macro_rules! __if_lacks {
    ($cap:ident in [] { $($yes:tt)* } else { $($no:tt)* }) => { $($no)* };
    (delete in [delete $(, $rest:ident)*] { $($yes:tt)* } else { $($no:tt)* }) => { $($yes)* };
    (rename in [rename $(, $rest:ident)*] { $($yes:tt)* } else { $($no:tt)* }) => { $($yes)* };
    (execute in [execute $(, $rest:ident)*] { $($yes:tt)* } else { $($no:tt)* }) => { $($yes)* };
    ($cap:ident in [$first:ident $(, $rest:ident)*] { $($yes:tt)* } else { $($no:tt)* }) => {
        $crate::__if_lacks!($cap in [$($rest),*] { $($yes)* } else { $($no)* });
    };
}

/// The `#[ignore]` reason for a capability (a literal, as the attribute
/// needs).
#[doc(hidden)]
#[macro_export]
macro_rules! __ignored_test {
    (delete, $($item:tt)*) => {
        #[test]
        #[ignore = "backend lacks delete (declared in conformance_tests!(lacks [..]))"]
        $($item)*
    };
    (rename, $($item:tt)*) => {
        #[test]
        #[ignore = "backend lacks rename (declared in conformance_tests!(lacks [..]))"]
        $($item)*
    };
    (execute, $($item:tt)*) => {
        #[test]
        #[ignore = "backend lacks execute (declared in conformance_tests!(lacks [..]))"]
        $($item)*
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    ($runner:path; $lacks:tt; $factory:expr; $($module:ident :: $case:ident ($cap:ident)),* $(,)?) => {
        $(
            $crate::__if_lacks!($cap in $lacks {
                // Run with --ignored: checks the operation is refused.
                $crate::__ignored_test!($cap,
                    fn $case() {
                        $runner(
                            stringify!($case),
                            $factory,
                            |b| $crate::cases::capability::lacks(b, stringify!($cap)),
                        );
                    }
                );
            } else {
                #[test]
                fn $case() {
                    $runner(
                        stringify!($case),
                        $factory,
                        $crate::cases::$module::$case,
                    );
                }
            });
        )*
    };
}
