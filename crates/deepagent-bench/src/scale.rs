//! `cargo xtask bench --scale`: how grep, glob and ls cost grows with the
//! workspace, on StateBackend, LocalBackend and a CompositeBackend.
//!
//! ```text
//! deepagent-bench scale-gen --data DIR FILES
//! deepagent-bench scale     --data DIR BACKEND FILES
//! deepagent-bench usable    --data DIR FILES QUERY
//! ```
//!
//! `scale-gen` writes `DIR/scale-FILES/` once (a stamp marks it done):
//! `src/dNNNN/` directories of 1,000 files (a quarter `.py`, one file in
//! 64 holding a grep needle) and `flat/` holding FILES / 10 files, the
//! directory `ls` lists. `scale` loads the tree into BACKEND (`state`,
//! `local` or `composite`: memory default, the tree mounted at `/ws/`)
//! and prints one JSON object: per operation its seconds and the peak RSS
//! it added, plus the process's peak RSS. `usable` runs one query of a
//! huge workspace on LocalBackend: the capped ones (`glob100`, `grep100`:
//! max_count 100; `ls_flat`: ls of `flat/`) and, to show where memory
//! grows, uncapped grep of the whole tree (`grep_all`) against `src/`
//! alone (`grep_src`).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use deepagent_composite::CompositeBackend;
use deepagent_core::{Backend, GlobQuery, GrepQuery};
use deepagent_local::LocalBackend;
use deepagent_state::StateBackend;
use tokio::runtime::Runtime;

use crate::data::{self, GREP_PATTERN};
use crate::measure;
use crate::Error;

const DIR_FILES: usize = 1_000;
const STAMP: &str = "v1";

fn tree(data: &Path, files: usize) -> std::path::PathBuf {
    data.join(format!("scale-{files}"))
}

/// The content of scale file `i`: two short lines, a needle in one in 64.
fn content(i: usize) -> String {
    if i.is_multiple_of(64) {
        format!("# {i}\nfn needle_{i}(x: u32) -> u32 {{ x }}\n")
    } else {
        format!("# {i}\nvalue = {i}\n")
    }
}

fn name(i: usize) -> String {
    const EXTS: [&str; 4] = ["py", "rs", "txt", "md"];
    format!("f{i:07}.{}", EXTS[i % 4])
}

/// Writes the tree for `files` unless its stamp says it is there.
pub fn generate(data: &Path, files: usize) -> Result<(), Error> {
    let dir = tree(data, files);
    let stamp = data.join(format!("scale-{files}.stamp"));
    if fs::read_to_string(&stamp).ok().as_deref() == Some(STAMP) && dir.is_dir() {
        return Ok(());
    }
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    eprintln!(
        "generating {} ({files} files + {} in flat/)",
        dir.display(),
        files / 10
    );
    for i in 0..files {
        let sub = dir.join(format!("src/d{:04}", i / DIR_FILES));
        if i.is_multiple_of(DIR_FILES) {
            fs::create_dir_all(&sub)?;
        }
        fs::write(sub.join(name(i)), content(i))?;
    }
    let flat = dir.join("flat");
    fs::create_dir_all(&flat)?;
    for i in 0..files / 10 {
        fs::write(flat.join(name(i)), content(i))?;
    }
    fs::write(stamp, STAMP)?;
    Ok(())
}

/// One operation's cost.
fn op<T>(
    rt: &Runtime,
    f: impl Fn() -> Result<T, Error>,
    count: impl Fn(&T) -> usize,
) -> Result<serde_json::Value, Error> {
    // First run: peak RSS it adds (and warms the page cache); second: time.
    let before = measure::vm_rss();
    measure::reset_peak();
    let first = Instant::now();
    let out = f()?;
    let first_secs = first.elapsed().as_secs_f64();
    let peak = measure::vm_hwm();
    let found = count(&out);
    drop(out);
    let start = Instant::now();
    drop(f()?);
    let secs = start.elapsed().as_secs_f64();
    let _ = rt;
    Ok(serde_json::json!({
        "secs": secs,
        "first_secs": first_secs,
        "rss_delta": match (before, peak) { (Some(b), Some(p)) => Some(p.saturating_sub(b)), _ => None },
        "peak_rss": peak,
        "count": found,
    }))
}

/// Loads the backend and measures grep, glob and ls; prints one JSON line.
pub fn run(data: &Path, backend: &str, files: usize) -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let dir = tree(data, files);
    let start = Instant::now();
    let (b, prefix): (Arc<dyn Backend>, &str) = match backend {
        "state" => (
            Arc::new(StateBackend::with_files(data::load_tree(&dir)?)?),
            "",
        ),
        "local" => (
            Arc::new(LocalBackend::builder(&dir).enable_execute(false).build()?),
            "",
        ),
        "composite" => {
            let local = LocalBackend::builder(&dir).enable_execute(false).build()?;
            let c = CompositeBackend::builder(StateBackend::new())
                .route("/ws/", local)
                .build();
            (Arc::new(c), "/ws")
        }
        other => return Err(format!("unknown backend {other}").into()),
    };
    let load_secs = start.elapsed().as_secs_f64();
    // Before any reset: the peak of loading (the whole tree, for state).
    let load_peak = measure::vm_hwm();
    let root = if prefix.is_empty() {
        "/".to_owned()
    } else {
        prefix.to_owned()
    };
    let grep_q = GrepQuery::new(GREP_PATTERN)
        .path(&root)
        .max_count(usize::MAX);
    let glob_q = GlobQuery::new("**/*.py").path(&root).max_count(usize::MAX);
    let flat = format!("{prefix}/flat");
    let grep = op(
        &rt,
        || Ok(rt.block_on(b.grep(&grep_q))?),
        |r| r.matches.len(),
    )?;
    let glob = op(&rt, || Ok(rt.block_on(b.glob(&glob_q))?), |r| r.files.len())?;
    let ls = op(&rt, || Ok(rt.block_on(b.ls(&flat))?), |r| r.len())?;
    let line = serde_json::json!({
        "backend": backend,
        "files": files,
        "load_secs": load_secs,
        "load_peak_rss": load_peak,
        "grep_pattern": GREP_PATTERN,
        "grep": grep,
        "glob": glob,
        "ls": ls,
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    Ok(())
}

/// One query of a huge workspace on LocalBackend (see the module doc),
/// alone in this process so its peak RSS is its own.
pub fn usable(data: &Path, files: usize, query: &str) -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let b = LocalBackend::builder(tree(data, files))
        .enable_execute(false)
        .build()?;
    let glob_q = GlobQuery::new("**/*.py").max_count(100);
    let grep_q = GrepQuery::new(GREP_PATTERN).max_count(100);
    let result = match query {
        "glob100" => op(&rt, || Ok(rt.block_on(b.glob(&glob_q))?), |r| r.files.len())?,
        "grep100" => op(
            &rt,
            || Ok(rt.block_on(b.grep(&grep_q))?),
            |r| r.matches.len(),
        )?,
        "ls_flat" => op(&rt, || Ok(rt.block_on(b.ls("/flat"))?), |r| r.len())?,
        // Uncapped, for memory: the whole tree against `src/` alone (no
        // directory there holds more than 1,000 entries).
        "grep_all" | "grep_src" => {
            let path = if query == "grep_all" { "/" } else { "/src" };
            let q = GrepQuery::new(GREP_PATTERN)
                .path(path)
                .max_count(usize::MAX);
            op(&rt, || Ok(rt.block_on(b.grep(&q))?), |r| r.matches.len())?
        }
        other => return Err(format!("unknown query {other}").into()),
    };
    println!("{result}");
    Ok(())
}
