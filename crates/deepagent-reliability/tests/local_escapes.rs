//! Hostile paths and hostile symlinks against LocalBackend (and a
//! CompositeBackend with a LocalBackend mount): nothing outside the root is
//! read, listed, written or executed in.
//!
//! Every test works in a [`Yard`]: the root, and beside it `outside/`
//! holding a sentinel file. After each case the whole of the yard outside
//! the root is compared with a snapshot taken before.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deepagent_composite::CompositeBackend;
use deepagent_core::{Backend, GlobQuery, GrepQuery};
use deepagent_local::LocalBackend;
use deepagent_reliability::hostile::{self, SENTINEL_NAME};
use deepagent_reliability::probe::{probe, Forbidden, Tally};
use deepagent_reliability::yard::{Yard, SENTINEL_CONTENT};
use deepagent_state::StateBackend;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

use deepagent_testkit::prop::{cases, quiet};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime")
}

fn local(root: &Path) -> LocalBackend {
    // fsync has nothing to do with escaping and would only slow the cases.
    LocalBackend::builder(root)
        .sync_writes(false)
        .build()
        .expect("backend")
}

fn forbid(yard: &Yard) -> Forbidden {
    Forbidden {
        host_prefix: Some(yard.base().display().to_string()),
    }
}

/// Runs `n` probes of `strategy` on `backend`, checking the yard after each.
fn hammer(
    label: &str,
    n: u32,
    yard: &Yard,
    backend: &dyn Backend,
    strategy: impl Strategy<Value = String>,
) -> Tally {
    let rt = rt();
    let before = yard.outside_snapshot().unwrap();
    let forbid = forbid(yard);
    let total = std::cell::Cell::new(Tally::default());
    let mut runner = TestRunner::new(quiet(n));
    runner
        .run(&strategy, |input| {
            let t = rt
                .block_on(probe(backend, &input, &forbid))
                .map_err(TestCaseError::fail)?;
            let after = yard
                .outside_snapshot()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(
                &after,
                &before,
                "something outside the root changed after {:?}",
                input
            );
            let mut sum = total.get();
            sum += t;
            total.set(sum);
            Ok(())
        })
        .unwrap();
    yard.assert_sentinel_intact();
    let t = total.get();
    eprintln!("{label}: {n} cases, {t:?}");
    t
}

fn seed(rt: &tokio::runtime::Runtime, backend: &dyn Backend) {
    rt.block_on(async {
        for p in [
            "/a/b.txt",
            "/%2e%2e/x.txt",
            "/\u{FF0E}\u{FF0E}/y.txt",
            "/outside/in.txt",
        ] {
            backend.write(p, "seed PROBE\n".into()).await.unwrap();
        }
    });
}

#[test]
fn local_backend_keeps_every_hostile_path_inside() {
    let yard = Yard::new().unwrap();
    let backend = local(yard.root());
    seed(&rt(), &backend);
    let t = hammer(
        "local",
        cases(1024),
        &yard,
        &backend,
        prop_oneof![
            hostile::path(),
            hostile::dotdot_everywhere(),
            hostile::very_long_path()
        ],
    );
    assert!(t.invalid > 0 && t.writes > 0, "{t:?}");
}

#[test]
fn composite_with_local_mount_keeps_every_hostile_path_inside() {
    let yard = Yard::new().unwrap();
    let mounted = local(yard.root());
    let backend = CompositeBackend::builder(StateBackend::new())
        .route("/outside/", mounted.clone())
        .route("/a/", mounted)
        .build();
    seed(&rt(), &backend);
    let t = hammer(
        "composite",
        cases(1024),
        &yard,
        &backend,
        prop_oneof![hostile::path(), hostile::dotdot_everywhere()],
    );
    assert!(t.invalid > 0 && t.writes > 0, "{t:?}");
}

/// Links inside the root that point out of it, in every shape.
fn plant_links(yard: &Yard) {
    use std::os::unix::fs::symlink;
    let root = yard.root();
    let outside = yard.outside();
    std::fs::create_dir_all(root.join("deep/nested")).unwrap();
    std::fs::create_dir_all(root.join("real")).unwrap();
    std::fs::write(root.join("real/ok.txt"), "inside PROBE\n").unwrap();
    symlink(yard.sentinel(), root.join("abs_file")).unwrap();
    symlink(&outside, root.join("abs_dir")).unwrap();
    symlink("../outside", root.join("rel_dir")).unwrap();
    symlink(format!("../outside/{SENTINEL_NAME}"), root.join("rel_file")).unwrap();
    symlink("../../../outside", root.join("deep/nested/up")).unwrap();
    symlink("chain_b", root.join("chain_a")).unwrap();
    symlink("chain_c", root.join("chain_b")).unwrap();
    symlink("../outside", root.join("chain_c")).unwrap();
    symlink("real/../../outside", root.join("sneaky")).unwrap();
    symlink("../outside/missing.txt", root.join("dangling")).unwrap();
    symlink("../outside/nodir/x.txt", root.join("dangling_deep")).unwrap();
    symlink("/nonexistent-deepagent/x", root.join("dangling_abs")).unwrap();
    // Controls: links that stay inside keep working.
    symlink("real", root.join("inner_dir")).unwrap();
    symlink("real/ok.txt", root.join("inner_file")).unwrap();
}

const LINKS: &[&str] = &[
    "abs_file",
    "abs_dir",
    "rel_dir",
    "rel_file",
    "deep/nested/up",
    "chain_a",
    "chain_b",
    "chain_c",
    "sneaky",
    "dangling",
    "dangling_deep",
    "dangling_abs",
    "inner_dir",
    "inner_file",
];

/// The links to directories outside; nothing may be found below them.
const ESCAPING_DIRS: &[&str] = &[
    "abs_dir", "rel_dir", "chain_a", "chain_b", "chain_c", "sneaky",
];

fn through_links() -> impl Strategy<Value = String> {
    (
        prop::sample::select(LINKS),
        prop::sample::select(
            &[
                "",
                "/",
                "/secret.txt",
                "/new.txt",
                "/sub/new.txt",
                "/.",
                "/..",
                "/../secret.txt",
                "/./secret.txt",
                "/ok.txt",
                "/missing.txt",
            ][..],
        ),
        any::<bool>(),
    )
        .prop_map(|(link, tail, abs)| format!("{}{link}{tail}", if abs { "/" } else { "" }))
}

#[test]
fn symlinks_pointing_outside_are_never_followed_out() {
    let yard = Yard::new().unwrap();
    plant_links(&yard);
    let backend = local(yard.root());
    let rt = rt();
    let t = hammer("symlinks", cases(512), &yard, &backend, through_links());
    assert!(t.other_err > 0, "escaping links must be refused: {t:?}");
    rt.block_on(async {
        // Links inside the root still work.
        let inner = backend.read_bytes("/inner_file").await.unwrap();
        let real = std::fs::read(yard.root().join("real/ok.txt")).unwrap();
        assert_eq!(inner.as_ref(), &real[..]);
        assert!(backend.exists("/inner_dir/ok.txt").await.unwrap());
        // Refusals say why, in virtual terms.
        let err = backend.read_bytes("/abs_file").await.unwrap_err();
        assert!(err.to_string().contains("/abs_file"), "{err}");
        assert!(
            !err.to_string().contains(&yard.base().display().to_string()),
            "{err}"
        );
        // Whole-tree searches from the root never return the sentinel.
        for hidden in [true, false] {
            let hits = backend
                .grep(&GrepQuery::new("SENTINEL").ignore_hidden(hidden))
                .await
                .unwrap();
            assert!(
                hits.matches.is_empty(),
                "grep followed a link out: {hits:?}"
            );
            let files = backend.glob(&GlobQuery::new("**/*")).await.unwrap();
            for f in &files.files {
                let first = f
                    .path
                    .trim_start_matches('/')
                    .split('/')
                    .next()
                    .unwrap_or("");
                assert!(
                    !ESCAPING_DIRS.contains(&first) || f.path == format!("/{first}"),
                    "glob walked through an escaping link: {f:?}"
                );
                let content = backend.read_bytes(&f.path).await.unwrap();
                assert!(
                    !content.starts_with(b"SENTINEL"),
                    "glob found the sentinel at {}",
                    f.path
                );
            }
        }
        // Escaping links that are still links are not listed at all.
        let listing = backend.ls("/").await.unwrap();
        for f in &listing {
            let on_disk = std::fs::symlink_metadata(yard.root().join(&f.name)).unwrap();
            if on_disk.file_type().is_symlink() {
                assert!(
                    f.name.starts_with("inner_"),
                    "ls shows an escaping link: {f:?}"
                );
            }
        }
    });
    yard.assert_sentinel_intact();
}

#[test]
fn execute_runs_in_the_root() {
    let yard = Yard::new().unwrap();
    let backend = LocalBackend::new(yard.root()).unwrap();
    let rt = rt();
    let out = rt.block_on(async {
        let sandbox = backend.as_sandbox().expect("execute enabled by default");
        sandbox.execute("pwd -P", None).await.unwrap()
    });
    let root = std::fs::canonicalize(yard.root()).unwrap();
    assert_eq!(out.output.trim_end(), root.display().to_string());
}

/// A thread swaps `/swap` between a real directory and a link to outside
/// while writers, editors and readers work through it. The check-then-use
/// gap is the classic way out of a resolve-then-open jail.
#[test]
fn swapping_a_directory_for_an_escaping_link_never_lets_anything_out() {
    let yard = Yard::new().unwrap();
    let backend = local(yard.root());
    let before = yard.outside_snapshot().unwrap();
    let swap = yard.root().join("swap");
    let outside = yard.outside();
    std::fs::create_dir(&swap).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicUsize::new(0));
    let swapper = {
        let (stop, swaps, swap) = (stop.clone(), swaps.clone(), swap.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = std::fs::remove_dir_all(&swap);
                let _ = std::os::unix::fs::symlink(&outside, &swap);
                std::thread::yield_now();
                let _ = std::fs::remove_file(&swap);
                let _ = std::fs::create_dir(&swap);
                std::thread::yield_now();
                swaps.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let rt = rt();
    let ops = Arc::new(AtomicUsize::new(0));
    let leaked_reads = Arc::new(AtomicUsize::new(0));
    let budget = Duration::from_secs(
        std::env::var("SWAP_RACE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(4),
    );
    rt.block_on(async {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..4 {
            let (b, ops, leaked) = (backend.clone(), ops.clone(), leaked_reads.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0u64;
                while start.elapsed() < budget {
                    let name = format!("/swap/w{w}-{i}.txt");
                    let _ = b.write(&name, "PROBE\n".into()).await;
                    let _ = b
                        .write("/swap/secret.txt", "overwritten PROBE\n".into())
                        .await;
                    let _ = b
                        .edit(
                            "/swap/secret.txt",
                            "SENTINEL",
                            "EDITED",
                            deepagent_core::Replace::Once,
                        )
                        .await;
                    let _ = b.write("/swap/sub/deep.txt", "PROBE\n".into()).await;
                    for r in [b
                        .read_bytes("/swap/secret.txt")
                        .await
                        .ok()
                        .map(|b| b.to_vec())]
                    {
                        if r.is_some_and(|c| c.starts_with(b"SENTINEL")) {
                            leaked.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if let Ok(s) = b.read("/swap/secret.txt", 0, 10).await {
                        if s.lines.iter().any(|l| l.contains("SENTINEL")) {
                            leaked.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if let Ok(g) = b.grep(&GrepQuery::new("SENTINEL").path("/swap")).await {
                        leaked.fetch_add(g.matches.len(), Ordering::Relaxed);
                    }
                    if let Ok(l) = b.ls("/swap").await {
                        if l.iter().any(|f| {
                            f.name == SENTINEL_NAME && f.size == Some(SENTINEL_CONTENT.len() as u64)
                        }) {
                            leaked.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    i += 1;
                    ops.fetch_add(8, Ordering::Relaxed);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    let after = yard.outside_snapshot().unwrap();
    let new_outside: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    eprintln!(
        "swap race: {} ops, {} swaps, {} leaked reads, {} new entries outside: {:?}",
        ops.load(Ordering::Relaxed),
        swaps.load(Ordering::Relaxed),
        leaked_reads.load(Ordering::Relaxed),
        new_outside.len(),
        new_outside
            .iter()
            .filter(|p| !p.to_string_lossy().contains(".deepagent-tmp-"))
            .take(8)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        leaked_reads.load(Ordering::Relaxed),
        0,
        "a read returned the sentinel"
    );
    assert_eq!(after, before, "something was written outside the root");
    yard.assert_sentinel_intact();
}

/// Paths reach a backend as `&str`, so non-UTF-8 can only come from the
/// disk: names the host created inside the root. They must neither break
/// a listing or a search nor come back as a mangled path that names some
/// other file.
#[test]
fn non_utf8_names_on_disk_never_break_or_alias() {
    use std::os::unix::ffi::OsStrExt;
    let yard = Yard::new().unwrap();
    let root = yard.root();
    let bad = std::ffi::OsStr::from_bytes(b"bad-\xff\xfe.txt");
    std::fs::write(root.join(bad), "PROBE in a non-UTF-8 name\n").unwrap();
    std::fs::create_dir(root.join(std::ffi::OsStr::from_bytes(b"dir-\xc3\x28"))).unwrap();
    std::fs::write(root.join("good.txt"), "PROBE good\n").unwrap();
    let backend = local(root);
    let rt = rt();
    rt.block_on(async {
        let listing = backend.ls("/").await.unwrap();
        let globbed = backend.glob(&GlobQuery::new("**")).await.unwrap();
        let hits = backend
            .grep(&GrepQuery::new("PROBE").ignore_hidden(false))
            .await
            .unwrap();
        let paths: Vec<&str> = listing
            .iter()
            .map(|f| f.path.as_str())
            .chain(globbed.files.iter().map(|f| f.path.as_str()))
            .chain(hits.matches.iter().map(|m| m.path.as_str()))
            .collect();
        eprintln!("non-UTF-8: backend shows {paths:?}");
        for p in paths {
            // Every path shown must name exactly the file it came from.
            assert!(
                !p.contains('\u{FFFD}'),
                "a lossy name would alias another file: {p:?}"
            );
            if !p.ends_with('/') && backend.exists(p).await.unwrap() {
                backend.read_bytes(p).await.unwrap();
            }
        }
        assert!(hits.matches.iter().any(|m| m.path == "/good.txt"));
    });
}
