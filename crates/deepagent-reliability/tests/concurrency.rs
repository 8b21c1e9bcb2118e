//! Concurrency: many tasks editing one file lose nothing, and readers never
//! see a half-written file, on StateBackend, LocalBackend and a composite
//! mount (multi-threaded tokio runtime).
//!
//! Size: the issue asks for 64 tasks x 500 edits. On StateBackend that
//! runs as is. On LocalBackend every edit reads, rewrites and renames the
//! whole (growing) file under the file's lock, so the 32,000 edits are
//! serial disk work; on this 2-core machine the default is 64 x 100 for the
//! disk-backed cases and `RELIABILITY_FULL=1` runs the full 64 x 500
//! everywhere. Measured here under load: Local 64 x 100 in ~17-21 s,
//! 64 x 500 in 153 s (fsync on, the default); State 64 x 500 in ~2 s.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use deepagent_composite::CompositeBackend;
use deepagent_core::Backend;
use deepagent_local::LocalBackend;
use deepagent_reliability::yard::fnv1a;
use deepagent_state::StateBackend;

const TASKS: usize = 64;
const MARK: &str = "<END>";

fn full() -> bool {
    std::env::var("RELIABILITY_FULL").is_ok_and(|v| v == "1")
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .expect("runtime")
}

/// `TASKS` tasks each append `per_task` unique tokens to `path` with
/// `edit`; returns how many tokens were checked.
async fn edits_lose_nothing(backend: Arc<dyn Backend>, path: &str, per_task: usize) -> usize {
    backend
        .write(path, format!("start\n{MARK}\n").into())
        .await
        .unwrap();
    let started = Instant::now();
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let (b, path) = (backend.clone(), path.to_owned());
        handles.push(tokio::spawn(async move {
            for i in 0..per_task {
                let token = format!("tok-{t:02}-{i:03};");
                let r = b
                    .edit(
                        &path,
                        MARK,
                        &format!("{token}{MARK}"),
                        deepagent_core::Replace::Once,
                    )
                    .await
                    .unwrap_or_else(|e| panic!("edit {token} failed: {e}"));
                assert_eq!(r.occurrences, 1);
            }
        }));
    }
    for h in handles {
        h.await.expect("edit task panicked");
    }
    let content = backend.read_bytes(path).await.unwrap();
    let text = std::str::from_utf8(&content).unwrap();
    let body = text
        .strip_prefix("start\n")
        .and_then(|s| s.strip_suffix(&format!("{MARK}\n")))
        .expect("frame intact");
    let tokens: Vec<&str> = body.split_terminator(';').collect();
    let unique: HashSet<&str> = tokens.iter().copied().collect();
    assert_eq!(unique.len(), tokens.len(), "a token appears twice");
    for t in 0..TASKS {
        for i in 0..per_task {
            let token = format!("tok-{t:02}-{i:03}");
            assert!(
                unique.contains(token.as_str()),
                "lost update: {token} missing"
            );
        }
    }
    // Each task's own tokens are in its order: edits are not reordered.
    for t in 0..TASKS {
        let prefix = format!("tok-{t:02}-");
        let mine: Vec<&str> = tokens
            .iter()
            .copied()
            .filter(|s| s.starts_with(&prefix))
            .collect();
        let mut sorted = mine.clone();
        sorted.sort();
        assert_eq!(mine, sorted, "task {t}'s edits out of order");
    }
    eprintln!(
        "{} {path}: {TASKS} x {per_task} edits, {} tokens checked in {:.1?}",
        backend.name(),
        tokens.len(),
        started.elapsed()
    );
    tokens.len()
}

/// Self-checking content: `LEN <n> SUM <fnv> GEN <g>\n` then `n` bytes.
fn framed(generation: u64, writer: usize) -> Vec<u8> {
    let body_len = 1000 + (generation as usize * 7919 + writer * 104_729) % 200_000;
    let mut body = Vec::with_capacity(body_len);
    let mut x = generation.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while body.len() < body_len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Printable, with newlines, so line reads see many lines.
        let b = b'a' + (x % 27) as u8;
        body.push(if b > b'z' { b'\n' } else { b });
    }
    let mut out = format!(
        "LEN {} SUM {:016x} GEN {generation}\n",
        body.len(),
        fnv1a(&body)
    )
    .into_bytes();
    out.extend(body);
    out
}

fn check_framed(content: &[u8]) -> Result<(), String> {
    let nl = content
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("no header line")?;
    let header = std::str::from_utf8(&content[..nl]).map_err(|_| "header not UTF-8")?;
    let parts: Vec<&str> = header.split(' ').collect();
    let [_, len, _, sum, ..] = parts[..] else {
        return Err(format!("bad header {header:?}"));
    };
    let body = &content[nl + 1..];
    if body.len().to_string() != len {
        return Err(format!(
            "torn: header says {len} bytes, body has {}",
            body.len()
        ));
    }
    if format!("{:016x}", fnv1a(body)) != sum {
        return Err(format!("torn: checksum mismatch ({header})"));
    }
    Ok(())
}

/// Writers replace whole files with framed content while readers check
/// every whole read and every line read. Returns (writes, reads checked).
async fn readers_never_see_half(
    backend: Arc<dyn Backend>,
    paths: &[&str],
    writes_per_writer: u64,
) -> (usize, usize) {
    for p in paths {
        backend.write(p, framed(0, 0).into()).await.unwrap();
    }
    let done = Arc::new(AtomicBool::new(false));
    let (writes, reads) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (b, writes) = (backend.clone(), writes.clone());
        let paths: Vec<String> = paths.iter().map(|s| s.to_string()).collect();
        writers.push(tokio::spawn(async move {
            for g in 1..=writes_per_writer {
                let p = &paths[(g as usize + w) % paths.len()];
                b.write(p, framed(g * 4 + w as u64, w).into())
                    .await
                    .unwrap();
                writes.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut readers = Vec::new();
    for r in 0..4 {
        let (b, done, reads) = (backend.clone(), done.clone(), reads.clone());
        let paths: Vec<String> = paths.iter().map(|s| s.to_string()).collect();
        readers.push(tokio::spawn(async move {
            let mut i = r;
            while !done.load(Ordering::Relaxed) {
                let p = &paths[i % paths.len()];
                let whole = b.read_bytes(p).await.unwrap();
                check_framed(&whole).unwrap_or_else(|e| panic!("read_bytes {p}: {e}"));
                // A line read must come from one version of the file too.
                let slice = b.read(p, 0, usize::MAX).await.unwrap();
                assert_eq!(slice.lines.len(), slice.total_lines);
                // The lines lose only whether the file ended with `\n`;
                // one of the two spellings must check out.
                let mut joined = slice.lines.join("\n").into_bytes();
                let first = check_framed(&joined);
                joined.push(b'\n');
                if let (Err(e), Err(_)) = (first, check_framed(&joined)) {
                    panic!("read {p}: {e}");
                }
                reads.fetch_add(2, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    for w in writers {
        w.await.expect("writer panicked");
    }
    done.store(true, Ordering::Relaxed);
    for r in readers {
        r.await.expect("reader saw a torn file");
    }
    let (w, r) = (
        writes.load(Ordering::Relaxed),
        reads.load(Ordering::Relaxed),
    );
    eprintln!(
        "{}: {w} whole-file writes, {r} reads checked, none torn",
        backend.name()
    );
    (w, r)
}

fn local(dir: &std::path::Path) -> LocalBackend {
    LocalBackend::new(dir).unwrap()
}

#[test]
fn state_backend_edits_lose_nothing() {
    let b: Arc<dyn Backend> = Arc::new(StateBackend::new());
    let n = rt().block_on(edits_lose_nothing(b, "/shared/log.txt", 500));
    assert_eq!(n, TASKS * 500);
}

#[test]
fn local_backend_edits_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let per_task = if full() { 500 } else { 100 };
    let b: Arc<dyn Backend> = Arc::new(local(dir.path()));
    let n = rt().block_on(edits_lose_nothing(b, "/shared/log.txt", per_task));
    assert_eq!(n, TASKS * per_task);
}

#[test]
fn composite_mount_edits_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let per_task = if full() { 500 } else { 100 };
    let b: Arc<dyn Backend> = Arc::new(
        CompositeBackend::builder(StateBackend::new())
            .route("/project/", local(dir.path()))
            .build(),
    );
    let rt = rt();
    let n = rt.block_on(edits_lose_nothing(
        b.clone(),
        "/project/shared/log.txt",
        per_task,
    ));
    assert_eq!(n, TASKS * per_task);
    // The default backend behind the router too.
    let n = rt.block_on(edits_lose_nothing(b, "/scratch/log.txt", 500));
    assert_eq!(n, TASKS * 500);
}

#[test]
fn state_backend_readers_never_see_half_a_file() {
    let b: Arc<dyn Backend> = Arc::new(StateBackend::new());
    let (w, r) = rt().block_on(readers_never_see_half(b, &["/a.txt", "/b/c.txt"], 300));
    assert_eq!(w, 1200);
    assert!(r > 0);
}

#[test]
fn local_backend_readers_never_see_half_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let b: Arc<dyn Backend> = Arc::new(local(dir.path()));
    let (w, r) = rt().block_on(readers_never_see_half(b, &["/a.txt", "/b/c.txt"], 150));
    assert_eq!(w, 600);
    assert!(r > 0);
}

#[test]
fn composite_mount_readers_never_see_half_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let b: Arc<dyn Backend> = Arc::new(
        CompositeBackend::builder(StateBackend::new())
            .route("/project/", local(dir.path()))
            .build(),
    );
    let (w, r) = rt().block_on(readers_never_see_half(
        b,
        &["/project/a.txt", "/project/b/c.txt", "/mem.txt"],
        150,
    ));
    assert_eq!(w, 600);
    assert!(r > 0);
}
