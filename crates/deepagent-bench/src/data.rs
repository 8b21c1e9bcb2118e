//! Deterministic data sets, shared with the Python side through the files
//! on disk and `params.json`.
//!
//! Every byte comes from a fixed-seed generator, so two runs (and the two
//! languages) see the same content. The Python scripts never generate
//! trees themselves: they read what `gen` wrote, plus the sizes in
//! `params.json` for the few workloads that build content in memory.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::Error;

/// Bumped when a generator changes, so stale data is rebuilt.
const DATA_VERSION: u32 = 1;

/// The regex every grep workload searches for (Rust `regex`, Python `re`
/// and ripgrep read it the same way).
pub const GREP_PATTERN: &str = r"fn needle_[0-9]+\(";

/// The sizes of one bench run: full (the issue's numbers) or `--quick`.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Files in the in-memory grep set (workload 1).
    pub state_grep_files: usize,
    /// Lines per file there.
    pub state_grep_lines: usize,
    /// Visible files in the on-disk grep tree (workload 2).
    pub local_grep_files: usize,
    /// Lines per file there (~64 bytes each).
    pub local_grep_lines: usize,
    /// Files under ignored paths (`build/`, `*.log`) in that tree.
    pub local_grep_ignored: usize,
    /// Directories per level of the glob tree (three levels).
    pub glob_fanout: usize,
    /// Entries (files + directories) in the glob tree (workload 3).
    pub glob_entries: usize,
    /// Lines in the big file (workload 4).
    pub read_lines: usize,
    /// The slice read from it: offset and limit.
    pub read_offset: usize,
    /// See `read_offset`.
    pub read_limit: usize,
    /// Small files written and read back (workload 5).
    pub composite_files: usize,
    /// Lines in the edited file (workload 6).
    pub edit_lines: usize,
    /// Edits applied to it.
    pub edit_count: usize,
    /// Small files written into a container (workload 7).
    pub docker_files: usize,
    /// `execute("true")` round trips timed per iteration.
    pub docker_execs: usize,
    /// Files held in memory (workload 8), each `memory_file_size` bytes.
    pub memory_files: usize,
    /// See `memory_files`.
    pub memory_file_size: usize,
}

impl Sizes {
    /// The issue's sizes, or a fast smoke-run subset.
    pub fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                state_grep_files: 1_000,
                state_grep_lines: 100,
                local_grep_files: 1_000,
                local_grep_lines: 160,
                local_grep_ignored: 100,
                glob_fanout: 4,
                glob_entries: 10_000,
                read_lines: 100_000,
                read_offset: 50_000,
                read_limit: 2_000,
                composite_files: 1_000,
                edit_lines: 10_000,
                edit_count: 100,
                docker_files: 20,
                docker_execs: 5,
                memory_files: 10_000,
                memory_file_size: 1024,
            }
        } else {
            Sizes {
                state_grep_files: 10_000,
                state_grep_lines: 100,
                local_grep_files: 10_000,
                local_grep_lines: 160,
                local_grep_ignored: 1_000,
                glob_fanout: 10,
                glob_entries: 100_000,
                read_lines: 1_000_000,
                read_offset: 50_000,
                read_limit: 2_000,
                composite_files: 10_000,
                edit_lines: 10_000,
                edit_count: 1_000,
                docker_files: 1_000,
                docker_execs: 20,
                memory_files: 100_000,
                memory_file_size: 1024,
            }
        }
    }

    /// The sizes as JSON, for `params.json`.
    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "version": DATA_VERSION,
            "grep_pattern": GREP_PATTERN,
            "state_grep_files": self.state_grep_files,
            "state_grep_lines": self.state_grep_lines,
            "local_grep_files": self.local_grep_files,
            "local_grep_lines": self.local_grep_lines,
            "local_grep_ignored": self.local_grep_ignored,
            "glob_fanout": self.glob_fanout,
            "glob_entries": self.glob_entries,
            "read_lines": self.read_lines,
            "read_offset": self.read_offset,
            "read_limit": self.read_limit,
            "composite_files": self.composite_files,
            "edit_lines": self.edit_lines,
            "edit_count": self.edit_count,
            "docker_files": self.docker_files,
            "docker_execs": self.docker_execs,
            "memory_files": self.memory_files,
            "memory_file_size": self.memory_file_size,
        })
    }
}

/// splitmix64, from the testkit: tiny, fast and identical everywhere.
pub use deepagent_testkit::rng::Rng;

const WORDS: [&str; 32] = [
    "alpha", "beta", "gamma", "delta", "value", "result", "buffer", "index", "count", "state",
    "config", "handle", "request", "response", "error", "parse", "render", "offset", "limit",
    "path", "token", "stream", "cache", "queue", "worker", "match", "table", "record", "field",
    "module", "return", "let",
];

/// One line of source-like text, without the newline: usually 6–10 words,
/// and about one line in 256 a `fn needle_N(` line the grep pattern finds.
pub fn text_line(rng: &mut Rng, out: &mut Vec<u8>) {
    if rng.below(256) == 0 {
        let n = rng.below(1000);
        let _ = write!(out, "    fn needle_{n}(x: u32) -> u32 {{ x + {n} }}");
        return;
    }
    out.extend_from_slice(b"    ");
    let words = 6 + rng.below(5);
    for i in 0..words {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
    }
    out.push(b';');
}

/// `lines` lines of text (each ending in `\n`).
pub fn text_file(rng: &mut Rng, lines: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines * 64);
    for _ in 0..lines {
        text_line(rng, &mut out);
        out.push(b'\n');
    }
    out
}

/// The content of file `i` in the memory workload: its number, then `x`s,
/// then a newline, `size` bytes in all (Python builds the same string).
pub fn memory_file(i: usize, size: usize) -> Vec<u8> {
    // Exact capacity: `Bytes::from(Vec)` keeps the allocation as it is,
    // so a doubled Vec would be charged to the store.
    let mut out = Vec::with_capacity(size);
    let _ = write!(out, "{i:08}");
    out.resize(size.saturating_sub(1), b'x');
    out.push(b'\n');
    out
}

/// The file edited in workload 6: line `i` holds `value_{i:05} = ...`.
pub fn edit_file(lines: usize) -> String {
    let mut out = String::with_capacity(lines * 40);
    for i in 0..lines {
        out.push_str(&format!("    value_{i:05} = compute({i}, state)\n"));
    }
    out
}

/// The `(old, new)` strings of edit number `k` (each `old` occurs once).
pub fn edit_pair(k: usize, lines: usize, count: usize) -> (String, String) {
    let step = (lines / count.max(1)).max(1);
    let line = (k * step) % lines;
    (format!("value_{line:05} ="), format!("renamed_{line:05} ="))
}

/// The small file `i` of the composite and Docker workloads.
pub fn small_file(i: usize) -> String {
    format!("# file {i}\nprint('hello from file {i}')\nvalue = {i}\n")
}

/// Generates every data set the named workloads need under `dir`, unless
/// an up-to-date copy is there already.
pub fn generate(dir: &Path, sizes: Sizes, workloads: &[String]) -> Result<(), Error> {
    fs::create_dir_all(dir)?;
    fs::write(
        dir.join("params.json"),
        serde_json::to_string_pretty(&sizes.to_json())?,
    )?;
    for w in workloads {
        match w.as_str() {
            "state-grep" => once(dir, "state-grep", |d| gen_state_grep(d, sizes))?,
            "local-grep" => once(dir, "local-grep", |d| gen_local_grep(d, sizes))?,
            "glob" => once(dir, "glob-tree", |d| gen_glob_tree(d, sizes))?,
            "read" => once(dir, "read", |d| gen_read(d, sizes))?,
            _ => {}
        }
    }
    Ok(())
}

/// Runs `make` into `dir/name` unless its stamp says it is current.
fn once(
    dir: &Path,
    name: &str,
    make: impl FnOnce(&Path) -> Result<(), Error>,
) -> Result<(), Error> {
    let target = dir.join(name);
    let stamp = dir.join(format!("{name}.stamp"));
    let want = format!("v{DATA_VERSION}");
    if fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) && target.is_dir() {
        return Ok(());
    }
    if target.exists() {
        fs::remove_dir_all(&target)?;
    }
    fs::create_dir_all(&target)?;
    eprintln!("generating {}", target.display());
    make(&target)?;
    fs::write(stamp, want)?;
    Ok(())
}

fn gen_state_grep(dir: &Path, s: Sizes) -> Result<(), Error> {
    let mut rng = Rng::new(1);
    for i in 0..s.state_grep_files {
        let sub = dir.join(format!("d{:03}", i % 100));
        if i < 100 {
            fs::create_dir_all(&sub)?;
        }
        fs::write(
            sub.join(format!("f{i:05}.txt")),
            text_file(&mut rng, s.state_grep_lines),
        )?;
    }
    Ok(())
}

/// A source tree with a `.git` marker (ripgrep honours `.gitignore` only
/// inside a repository), a `.gitignore` excluding `build/` and `*.log`,
/// and files under both that carry needles too, so ignoring them matters.
fn gen_local_grep(dir: &Path, s: Sizes) -> Result<(), Error> {
    let mut rng = Rng::new(2);
    fs::create_dir_all(dir.join(".git"))?;
    fs::write(dir.join(".git/HEAD"), "ref: refs/heads/main\n")?;
    fs::write(dir.join(".gitignore"), "build/\n*.log\n")?;
    for i in 0..s.local_grep_files {
        let sub = dir.join(format!("src/m{:03}", i % 100));
        if i < 100 {
            fs::create_dir_all(&sub)?;
        }
        fs::write(
            sub.join(format!("f{i:05}.rs")),
            text_file(&mut rng, s.local_grep_lines),
        )?;
    }
    fs::create_dir_all(dir.join("build"))?;
    fs::create_dir_all(dir.join("logs"))?;
    for i in 0..s.local_grep_ignored {
        let (sub, name) = if i % 2 == 0 {
            ("build", format!("out{i:05}.rs"))
        } else {
            ("logs", format!("run{i:05}.log"))
        };
        fs::write(
            dir.join(sub).join(name),
            text_file(&mut rng, s.local_grep_lines),
        )?;
    }
    Ok(())
}

/// Three levels of `glob_fanout` directories, files spread over the
/// leaves until the tree holds `glob_entries` entries; a quarter `.py`.
fn gen_glob_tree(dir: &Path, s: Sizes) -> Result<(), Error> {
    let mut rng = Rng::new(3);
    let f = s.glob_fanout;
    let mut leaves = Vec::new();
    for a in 0..f {
        for b in 0..f {
            for c in 0..f {
                leaves.push(dir.join(format!("a{a}/b{b}/c{c}")));
            }
        }
    }
    for leaf in &leaves {
        fs::create_dir_all(leaf)?;
    }
    let dirs = f + f * f + f * f * f;
    let files = s.glob_entries.saturating_sub(dirs);
    const EXTS: [&str; 8] = ["py", "py", "rs", "txt", "md", "json", "toml", "js"];
    for i in 0..files {
        let ext = EXTS[rng.below(EXTS.len() as u64) as usize];
        let leaf = &leaves[i % leaves.len()];
        fs::write(leaf.join(format!("f{i:06}.{ext}")), format!("# {i}\n"))?;
    }
    Ok(())
}

/// One file of `read_lines` numbered lines.
fn gen_read(dir: &Path, s: Sizes) -> Result<(), Error> {
    let mut rng = Rng::new(4);
    let file = fs::File::create(dir.join("big.txt"))?;
    let mut out = BufWriter::new(file);
    let mut line = Vec::with_capacity(128);
    for i in 0..s.read_lines {
        line.clear();
        let _ = write!(line, "{i:07}");
        text_line(&mut rng, &mut line);
        line.push(b'\n');
        out.write_all(&line)?;
    }
    out.flush()?;
    Ok(())
}

/// Every file under `dir` as `(virtual path, content)`, sorted by path.
pub fn load_tree(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) -> Result<(), Error> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let vpath = format!("{prefix}/{name}");
        if entry.file_type()?.is_dir() {
            walk(&entry.path(), &vpath, out)?;
        } else {
            out.push((vpath, fs::read(entry.path())?));
        }
    }
    Ok(())
}
