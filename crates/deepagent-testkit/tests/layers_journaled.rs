//! The `Journaled` layer: transparent to the whole conformance suite,
//! and undo puts every file of a turn back, across the mounts of a
//! composite, after any sequence of operations (proptest).

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use deepagent_composite::CompositeBackend;
use deepagent_core::layers::{Journaled, ReadOnly, Turn};
use deepagent_core::{Backend, Bytes, ErrorKind, Replace};
use deepagent_local::LocalBackend;
use deepagent_state::StateBackend;
use deepagent_testkit::Fixture;
use proptest::prelude::*;
use support::block_on;

mod conformance_over_memory {
    use super::*;
    deepagent_testkit::conformance_tests!(lacks[execute], || async {
        Fixture::new(Journaled::new(StateBackend::new()))
    });
}

mod conformance_over_disk {
    use super::*;
    // LocalBackend can execute, so the execute group runs through the layer too.
    deepagent_testkit::conformance_tests!(|| async {
        let dir = tempfile::tempdir().expect("a temp dir");
        let local = LocalBackend::new(dir.path()).expect("a LocalBackend");
        Fixture::new(Journaled::new(local)).with_guard(dir)
    });
}

/// Every file below `/` with its content.
async fn snapshot(backend: &dyn Backend) -> BTreeMap<String, Bytes> {
    let mut out = BTreeMap::new();
    let mut stack = vec!["/".to_owned()];
    while let Some(dir) = stack.pop() {
        let entries = match backend.ls(&dir).await {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => panic!("ls {dir}: {e}"),
        };
        for entry in entries {
            if entry.is_dir {
                stack.push(entry.path);
            } else {
                let content = backend.read_bytes(&entry.path).await.expect("read");
                out.insert(entry.path, content);
            }
        }
    }
    out
}

/// Memory at `/`, a directory on disk at `/disk/`, and a read-only
/// memory store at `/ro/`.
fn composite(dir: &std::path::Path) -> (CompositeBackend, StateBackend) {
    let memory = StateBackend::new();
    let ro = StateBackend::new();
    let backend = CompositeBackend::builder(memory)
        .route("/disk/", LocalBackend::new(dir).expect("a LocalBackend"))
        .route("/ro/", ReadOnly::new(ro.clone()))
        .build();
    (backend, ro)
}

#[test]
fn undo_restores_a_turn_across_mounts_and_diff_shows_it() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (backend, ro) = composite(dir.path());
        ro.write("/fixed.txt", "read only\n".into()).await.unwrap();
        let j = Journaled::new(backend);
        j.write("/disk/keep.txt", "v1\n".into()).await.unwrap();
        j.write("/disk/gone.txt", "bye\n".into()).await.unwrap();
        j.write("/scratch.txt", "memory v1\n".into()).await.unwrap();
        let before = snapshot(&j).await;

        j.begin_turn("change things");
        j.edit("/disk/keep.txt", "v1", "v2", Replace::Once)
            .await
            .unwrap();
        j.delete("/disk/gone.txt", false).await.unwrap();
        j.write("/disk/new/deep/file.txt", "new\n".into())
            .await
            .unwrap();
        j.write("/scratch.txt", "memory v2\n".into()).await.unwrap();
        j.rename("/scratch.txt", "/moved.txt").await.unwrap();
        let refused = j.write("/ro/fixed.txt", "nope".into()).await.unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::PermissionDenied);
        assert!(dir.path().join("new/deep/file.txt").is_file());

        let diff = j.diff().await.unwrap();
        let summary: Vec<(&str, bool, bool)> = diff
            .iter()
            .map(|c| (c.path.as_str(), c.before.is_some(), c.after.is_some()))
            .collect();
        assert_eq!(
            summary,
            [
                ("/disk/keep.txt", true, true),
                ("/disk/gone.txt", true, false),
                ("/disk/new/deep/file.txt", false, true),
                ("/scratch.txt", true, false),
                ("/moved.txt", false, true),
            ],
            "the refused write is no change"
        );
        assert_eq!(diff[0].after.as_deref(), Some(&b"v2\n"[..]));

        let report = j.undo().await.unwrap().expect("a turn to undo");
        assert_eq!(report.label, "change things");
        assert_eq!(
            report.restored,
            ["/disk/keep.txt", "/disk/gone.txt", "/scratch.txt"]
        );
        assert_eq!(report.removed, ["/disk/new/deep/file.txt", "/moved.txt"]);
        assert_eq!(snapshot(&j).await, before);
        // On disk, and the directories the turn created are gone again.
        assert_eq!(
            std::fs::read_to_string(dir.path().join("keep.txt")).unwrap(),
            "v1\n"
        );
        assert!(dir.path().join("gone.txt").is_file());
        assert!(!dir.path().join("new").exists(), "created dirs removed");
        assert!(j.undo().await.unwrap().is_some(), "the setup turn is next");
        assert!(j.undo().await.unwrap().is_none(), "then nothing is left");
    });
}

#[test]
fn recursive_delete_and_directory_rename_come_back() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let j = Journaled::new(LocalBackend::new(dir.path()).unwrap());
        for (p, c) in [
            ("/src/a.rs", "a"),
            ("/src/sub/b.rs", "b"),
            ("/src/.hidden", "h"),
            ("/docs/x.md", "x"),
        ] {
            j.write(p, c.into()).await.unwrap();
        }
        let before = snapshot(&j).await;
        j.begin_turn("reorganize");
        j.delete("/src", true).await.unwrap();
        j.rename("/docs", "/manual").await.unwrap();
        j.write("/src", "now a file".into()).await.unwrap();
        assert_eq!(j.last_turn().unwrap().changes().len(), 6);
        j.undo().await.unwrap().unwrap();
        assert_eq!(snapshot(&j).await, before);
        assert!(!dir.path().join("manual").exists());
    });
}

#[test]
fn commands_are_noted_and_an_empty_turn_is_skipped() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let j = Journaled::new(LocalBackend::new(dir.path()).unwrap());
        j.begin_turn("write");
        j.write("/a.txt", "1".into()).await.unwrap();
        j.begin_turn("run");
        let sandbox = j.as_sandbox().expect("forwards the sandbox");
        let out = sandbox.execute("echo hi > b.txt", None).await.unwrap();
        assert_eq!(out.exit_code, 0, "{}", out.output);
        j.begin_turn("ask a question"); // changes nothing
        let report = j.undo().await.unwrap().unwrap();
        assert_eq!(report.label, "run");
        assert!(report.ran_commands, "undo says it cannot reverse commands");
        assert!(dir.path().join("b.txt").exists(), "and indeed did not");
        let report = j.undo().await.unwrap().unwrap();
        assert_eq!(report.removed, ["/a.txt"]);
        assert!(!dir.path().join("a.txt").exists());
    });
}

#[test]
fn a_saved_journal_undoes_in_another_process() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let first = Journaled::new(LocalBackend::new(dir.path()).unwrap());
        first.write("/a.txt", "old".into()).await.unwrap();
        first.begin_turn("edit");
        first.write("/a.txt", "new".into()).await.unwrap();
        let saved: Vec<Turn> = first.turns();
        drop(first);
        // A fresh layer (a new process) over the same directory.
        let second = Journaled::new(LocalBackend::new(dir.path()).unwrap()).with_history(saved);
        second.begin_turn("something else");
        second.write("/b.txt", "b".into()).await.unwrap();
        second.undo().await.unwrap().unwrap();
        let report = second.undo().await.unwrap().unwrap();
        assert_eq!(report.label, "edit");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
            "old"
        );
    });
}

#[test]
fn a_paused_turn_continued_in_another_process_is_undone_whole() {
    block_on(async {
        let store = StateBackend::new();
        let first = Journaled::new(store.clone());
        first.write("/a", "a0".into()).await.unwrap();
        first.begin_turn("task");
        first.write("/a", "a1".into()).await.unwrap();
        let saved = first.turns();
        let second = Journaled::new(store.clone()).with_history(saved);
        second.continue_turn("task");
        second.write("/a", "a2".into()).await.unwrap(); // already recorded: a0 stands
        second.write("/b", "b".into()).await.unwrap();
        assert_eq!(second.turns().len(), 2, "no third turn");
        let report = second.undo().await.unwrap().unwrap();
        assert_eq!(report.label, "task");
        assert_eq!(&store.read_bytes("/a").await.unwrap()[..], b"a0");
        assert!(!store.exists("/b").await.unwrap());
        // Another label starts a new turn.
        second.continue_turn("other");
        second.write("/c", "c".into()).await.unwrap();
        assert_eq!(second.last_turn().unwrap().label(), "other");
    });
}

#[test]
fn a_refused_read_refuses_the_change_with_the_same_error() {
    block_on(async {
        use deepagent_core::layers::{Operation, Permissioned, Rule, Ruleset};
        let mut rules = Ruleset::permissive();
        for op in [Operation::Read, Operation::Write] {
            rules = rules.with_rule(op, Rule::deny("/secret/**", "not yours"));
        }
        let j = Journaled::new(Permissioned::new(StateBackend::new(), rules).unwrap());
        j.begin_turn("try");
        let err = j.write("/secret/x", "x".into()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        assert!(j.last_turn().is_none(), "nothing recorded");
    });
}

#[test]
fn concurrent_writes_of_one_file_keep_the_state_before_the_turn() {
    block_on(async {
        let j = Arc::new(Journaled::new(StateBackend::new()));
        j.write("/f", "original".into()).await.unwrap();
        j.begin_turn("race");
        let writes = (0..16).map(|i| {
            let j = j.clone();
            async move { j.write("/f", format!("v{i}").into()).await }
        });
        for r in futures::future::join_all(writes).await {
            r.unwrap();
        }
        j.undo().await.unwrap().unwrap();
        assert_eq!(&j.read_bytes("/f").await.unwrap()[..], b"original");
    });
}

/// One operation of a random sequence.
#[derive(Debug, Clone)]
enum Op {
    Write(&'static str, &'static str),
    Edit(&'static str, &'static str, &'static str, bool),
    Delete(&'static str, bool),
    Rename(&'static str, &'static str),
    Upload(Vec<(&'static str, &'static str)>),
}

const FILES: &[&str] = &[
    "/a",
    "/b",
    "/d/x",
    "/d/y",
    "/d/e/z",
    "/disk/p",
    "/disk/q/r",
    "/disk/q/s",
];
const DIRS: &[&str] = &["/d", "/d/e", "/disk/q"];
const CONTENTS: &[&str] = &["", "one", "two", "one two", "x\ny\n"];

fn op() -> impl Strategy<Value = Op> {
    let file = proptest::sample::select(FILES);
    let any_path = proptest::sample::select([FILES, DIRS].concat());
    let content = proptest::sample::select(CONTENTS);
    let word = proptest::sample::select(&["one", "two", "x", "zz"][..]);
    prop_oneof![
        3 => (file.clone(), content.clone()).prop_map(|(p, c)| Op::Write(p, c)),
        2 => (file.clone(), word.clone(), word, any::<bool>())
            .prop_map(|(p, o, n, all)| Op::Edit(p, o, n, all)),
        1 => (any_path.clone(), any::<bool>()).prop_map(|(p, r)| Op::Delete(p, r)),
        1 => (any_path.clone(), any_path).prop_map(|(f, t)| Op::Rename(f, t)),
        1 => proptest::collection::vec((file, content), 1..3).prop_map(Op::Upload),
    ]
}

async fn apply(j: &Journaled, op: &Op) {
    // Failures are part of the test: a refused operation must leave
    // nothing for undo to get wrong.
    let _ = match op {
        Op::Write(p, c) => j.write(p, Bytes::from_static(c.as_bytes())).await.map(drop),
        Op::Edit(p, o, n, all) => {
            let replace = if *all { Replace::All } else { Replace::Once };
            j.edit(p, o, n, replace).await.map(drop)
        }
        Op::Delete(p, r) => j.delete(p, *r).await,
        Op::Rename(f, t) => j.rename(f, t).await,
        Op::Upload(files) => j
            .upload(
                files
                    .iter()
                    .map(|(p, c)| ((*p).to_owned(), Bytes::from_static(c.as_bytes())))
                    .collect(),
            )
            .await
            .map(drop),
    };
}

proptest! {
    #![proptest_config(deepagent_testkit::prop::quiet(deepagent_testkit::prop::cases(48)))]

    /// Turns of random operations over memory and disk mounts; undoing
    /// them one by one walks back through the snapshot taken before each.
    #[test]
    fn undo_returns_to_the_snapshot_before_each_turn(
        setup in proptest::collection::vec(op(), 0..8),
        turns in proptest::collection::vec(proptest::collection::vec(op(), 1..8), 1..4),
    ) {
        block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let (backend, _) = composite(dir.path());
            let j = Journaled::new(backend);
            for op in &setup {
                apply(&j, op).await;
            }
            let mut snapshots = Vec::new();
            for (i, ops) in turns.iter().enumerate() {
                snapshots.push(snapshot(&j).await);
                j.begin_turn(format!("turn {i}"));
                for op in ops {
                    apply(&j, op).await;
                }
            }
            for (i, expected) in snapshots.iter().enumerate().rev() {
                let label = format!("turn {i}");
                if j.last_turn().map(|t| t.label().to_owned()) != Some(label.clone()) {
                    // Nothing in this turn reached a file (every operation
                    // was refused before recording): it changed nothing,
                    // and undo skips it.
                    prop_assert_eq!(&snapshot(&j).await, expected, "empty {}", label);
                    continue;
                }
                let undone = j.undo().await.unwrap();
                prop_assert_eq!(undone.map(|r| r.label), Some(label.clone()));
                prop_assert_eq!(&snapshot(&j).await, expected, "after undoing {}", label);
            }
            Ok(())
        })?;
    }
}
