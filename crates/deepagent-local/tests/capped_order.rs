//! A capped grep or glob returns exactly the first `max_count` results of
//! the uncapped one, in path order, whatever the names.
//!
//! The capped search walks each directory in name order, keeps the
//! smallest paths it has seen and skips what sorts after all of them.
//! Results are ordered by their whole path as a string, which differs from
//! the walk's order where a name sorts before `/` (`a.txt` comes before
//! `a/x` as a string, after it in a depth-first walk), so the names here
//! are drawn to hit those cases: `.`, `-`, `_`, `!`, digits, upper and
//! lower case, and a non-ASCII letter.

use std::fs;
use std::path::Path;

use deepagent_core::{Backend, GlobQuery, GrepQuery};
use deepagent_local::LocalBackend;
use proptest::prelude::*;

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(f)
}

/// A name from a few pieces that sort on both sides of `/` (0x2F).
fn name() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("a"),
            Just("a.txt"),
            Just("a-b"),
            Just("a_b"),
            Just("A"),
            Just("0"),
            Just("é"),
            Just("!"),
        ],
        1..3,
    )
    .prop_map(|parts| parts.concat())
}

/// Relative file paths one to three levels deep.
fn tree() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(proptest::collection::vec(name(), 1..4), 1..40).prop_map(|paths| {
        paths
            .into_iter()
            .map(|parts| parts.join("/"))
            .collect::<Vec<_>>()
    })
}

/// Writes the files; a path that collides with a directory (or runs
/// through a file) is left out, as on any real disk.
fn write_tree(root: &Path, files: &[String]) {
    for rel in files {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            if fs::create_dir_all(parent).is_err() {
                continue;
            }
        }
        if path.is_dir() {
            continue;
        }
        let _ = fs::write(&path, format!("needle in {rel}\nother\nneedle again\n"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn capped_results_are_the_first_of_the_uncapped(files in tree(), cap in 1usize..12) {
        let dir = tempfile::tempdir().expect("tempdir");
        write_tree(dir.path(), &files);
        let b = LocalBackend::builder(dir.path()).enable_execute(false).build().expect("backend");

        let all = run(b.grep(&GrepQuery::new("needle").max_count(usize::MAX))).expect("grep");
        let capped = run(b.grep(&GrepQuery::new("needle").max_count(cap))).expect("grep");
        let keep = cap.min(all.matches.len());
        prop_assert_eq!(&capped.matches[..], &all.matches[..keep]);
        prop_assert_eq!(capped.truncated, all.matches.len() > cap);

        let all = run(b.glob(&GlobQuery::new("**/*").max_count(usize::MAX))).expect("glob");
        let capped = run(b.glob(&GlobQuery::new("**/*").max_count(cap))).expect("glob");
        let paths = |r: &deepagent_core::GlobResult| {
            r.files.iter().map(|f| f.path.to_string()).collect::<Vec<_>>()
        };
        let keep = cap.min(all.files.len());
        prop_assert_eq!(paths(&capped), paths(&all)[..keep].to_vec());
        prop_assert_eq!(capped.truncated, all.files.len() > cap);
    }
}
