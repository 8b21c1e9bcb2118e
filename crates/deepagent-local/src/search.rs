//! `grep` and `glob` over the directory tree with ripgrep's crates.
//!
//! Both walk in parallel with `ignore::WalkBuilder` and never follow
//! symbolic links (a link found in a walk is skipped, as `rg` does without
//! `--follow`), so a walk cannot leave the root. Results are kept in a
//! bounded "smallest N+1 by path" set, so memory stays bounded and the
//! answer is exactly the first `max_count` in sorted order, with
//! `truncated` set only when something was dropped. Once that set is full,
//! files and directories that sort after all of it are skipped.
//!
//! - grep honours `.gitignore`, `.ignore` and `info/exclude` files
//!   (inside the search directory, and in its parents up to the backend
//!   root but never above it), read through the jail by the `ignores`
//!   module rather than by the walker, skips hidden entries and the usual junk directories when
//!   `ignore_hidden`, and skips binary files by core's rule.
//! - glob matches what is on disk: no `.gitignore` or hidden filtering, so
//!   `**/.env` finds the file; only `.git` is never entered.

use std::collections::BinaryHeap;
use std::fs;
use std::io::{self, Read};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use deepagent_core::glob::{file_filter, FileFilter, PathGlob};
use deepagent_core::text::{self, BINARY_SNIFF_LEN};
use deepagent_core::{
    BackendError, FileInfo, GlobQuery, GlobResult, GrepMatch, GrepQuery, GrepResult, Result, VPath,
};
use grep_matcher::LineTerminator;
use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use grep_searcher::{sinks, BinaryDetection, Searcher, SearcherBuilder};
use ignore::{DirEntry, WalkBuilder, WalkState};

use crate::config::Config;
use crate::dirfd;
use crate::ignores::Ignores;
use crate::jail::{io_error, is_temp_name, join_relative, Reach};

/// Directories grep skips with `ignore_hidden`, hidden or not.
pub(crate) const JUNK_DIRS: &[&str] = &[".git", "node_modules", "target", "__pycache__", ".venv"];

/// Keeps the `cap` smallest items pushed, and whether any was dropped.
struct Smallest<T: Ord> {
    heap: BinaryHeap<T>,
    cap: usize,
}

impl<T: Ord> Smallest<T> {
    fn new(cap: usize) -> Self {
        Smallest {
            heap: BinaryHeap::new(),
            cap,
        }
    }

    fn push(&mut self, item: T) {
        if self.heap.len() < self.cap {
            self.heap.push(item);
        } else if let Some(mut top) = self.heap.peek_mut() {
            if item < *top {
                *top = item;
            }
        }
    }

    fn is_full(&self) -> bool {
        self.heap.len() >= self.cap
    }
}

/// A result that sorts by its path first.
trait Keyed: Ord {
    fn path(&self) -> &str;
}

/// The results of one walk, shared by its threads.
///
/// Once `cap` results are kept, the largest kept path is published as a
/// bound: a file or directory whose path sorts after it cannot contribute
/// (everything below a directory sorts after the directory itself), so the
/// walk skips it. That keeps the answer exact while letting a search with
/// many hits stop reading most files.
struct Collector<T: Ord> {
    kept: Mutex<Smallest<T>>,
    bound: RwLock<Option<String>>,
}

impl<T: Keyed> Collector<T> {
    fn new(cap: usize) -> Self {
        Collector {
            kept: Mutex::new(Smallest::new(cap)),
            bound: RwLock::new(None),
        }
    }

    fn extend(&self, items: impl IntoIterator<Item = T>) {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        for item in items {
            kept.push(item);
        }
        if kept.is_full() {
            if let Some(top) = kept.heap.peek() {
                let mut bound = self.bound.write().unwrap_or_else(|p| p.into_inner());
                if bound.as_deref() != Some(top.path()) {
                    *bound = Some(top.path().to_owned());
                }
            }
        }
    }

    /// True when `path` and everything below it sort after what is kept.
    fn beyond(&self, path: &str) -> bool {
        let bound = self.bound.read().unwrap_or_else(|p| p.into_inner());
        bound.as_deref().is_some_and(|b| path > b)
    }

    fn take(&self) -> Vec<T> {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut kept.heap).into_vec()
    }
}

/// A grep match ordered by (path, line).
#[derive(PartialEq, Eq)]
struct Hit(GrepMatch);

impl Ord for Hit {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&self.0.path, self.0.line_number).cmp(&(&other.0.path, other.0.line_number))
    }
}

impl Keyed for Hit {
    fn path(&self) -> &str {
        &self.0.path
    }
}

impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A glob result ordered by path.
#[derive(PartialEq, Eq)]
struct Found(FileInfo);

impl Ord for Found {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.path.cmp(&other.0.path)
    }
}

impl Keyed for Found {
    fn path(&self) -> &str {
        &self.0.path
    }
}

impl PartialOrd for Found {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

fn worker_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(8))
}

/// Lines matching `query`.
pub(crate) fn grep(cfg: &Arc<Config>, query: &GrepQuery, base: &VPath) -> Result<GrepResult> {
    let matcher = build_matcher(query)?;
    let filter = file_filter(query.glob.as_deref())?;
    let start = cfg.jail.resolve(base, Reach::Browse)?.host;
    let meta = fs::metadata(&start).map_err(|e| io_error(base, e))?;
    let keep = query.max_count.saturating_add(1);

    if !meta.is_dir() {
        if !cfg.jail.inside(base) {
            return Err(cfg.jail.not_allowed(base));
        }
        let name = base.file_name().unwrap_or_default();
        let mut hits = Vec::new();
        if filter.as_ref().is_none_or(|f| f.is_match(name)) {
            let (file, _) = crate::files::open_file(cfg, base)?;
            let mut searcher = new_searcher(cfg.grep_line_limit);
            hits = search_file(&matcher, &mut searcher, file, base, keep)
                .map_err(|e| io_error(base, e))?;
        }
        return Ok(GrepResult::finish(hits, query.max_count, false));
    }

    let found = Arc::new(Collector::new(keep));
    let walk = grep_walker(cfg, &start, base, query.ignore_hidden, found.clone());
    walk.build_parallel().run(|| {
        let matcher = matcher.clone();
        let filter = filter.clone();
        let found = &found;
        let mut searcher = new_searcher(cfg.grep_line_limit);
        let start = &start;
        let jail = &cfg.jail;
        Box::new(move |entry| {
            let Some((entry, vpath, rel)) = walked_file(entry, start, base) else {
                return WalkState::Continue;
            };
            if !matches_filter(filter.as_ref(), &rel) || found.beyond(vpath.as_str()) {
                return WalkState::Continue;
            }
            // A file that cannot be read (gone, no permission) is skipped,
            // as rg does, rather than failing the whole search; so is one
            // that turns out to be outside (a directory on the way was
            // swapped for a link mid-walk).
            // Non-blocking: a file swapped for a FIFO since the walk saw it
            // must not hang this worker (reading it then ends at once).
            let Ok(file) = dirfd::open_nonblocking(entry.path()) else {
                return WalkState::Continue;
            };
            if jail.verify_open(&vpath, &file, Reach::Inside).is_err() {
                return WalkState::Continue;
            }
            if let Ok(hits) = search_file(&matcher, &mut searcher, file, &vpath, keep) {
                if !hits.is_empty() {
                    found.extend(hits.into_iter().map(Hit));
                }
            }
            WalkState::Continue
        })
    });
    let hits = found.take().into_iter().map(|h| h.0).collect();
    Ok(GrepResult::finish(hits, query.max_count, false))
}

/// The line matcher, after core's regex has accepted the pattern.
fn build_matcher(query: &GrepQuery) -> Result<RegexMatcher> {
    // Core's regex decides what is valid and words the error.
    query.regex()?;
    RegexMatcherBuilder::new()
        .case_insensitive(query.case_insensitive)
        .fixed_strings(query.fixed_strings)
        // The searcher hands whole buffers to the matcher, so `^`/`$` must
        // be line anchors (and `$` must accept `\r\n`) to act per line.
        .multi_line(true)
        .crlf(true)
        .build(&query.pattern)
        .map_err(|e| {
            BackendError::invalid_pattern(
                &query.pattern,
                format!("{e} (grep matches within one line; a pattern cannot span lines)"),
            )
        })
}

fn matches_filter(filter: Option<&FileFilter>, rel: &str) -> bool {
    filter.is_none_or(|f| f.is_match(rel))
}

/// A regular file met in a walk, with its virtual path and its path
/// relative to the search directory. Directories, links and errors are
/// `None`.
fn walked_file(
    entry: std::result::Result<DirEntry, ignore::Error>,
    start: &Path,
    base: &VPath,
) -> Option<(DirEntry, VPath, String)> {
    let entry = entry.ok()?;
    if !entry.file_type()?.is_file() {
        return None;
    }
    let rel_host = entry.path().strip_prefix(start).ok()?;
    let vpath = join_relative(base, rel_host)?;
    let rel = vpath.relative_to(base)?.to_owned();
    Some((entry, vpath, rel))
}

/// A searcher that holds at most `line_limit` bytes beyond its first
/// buffer, so one huge line cannot make it buffer the whole file.
fn new_searcher(line_limit: usize) -> Searcher {
    SearcherBuilder::new()
        .heap_limit(Some(line_limit))
        .line_number(true)
        .line_terminator(LineTerminator::crlf())
        // Binary files are decided by core's rule before searching (see
        // `search_file`), so every backend skips the same files.
        .binary_detection(BinaryDetection::none())
        .build()
}

/// Matches in one file, at most `keep` of them (later lines of a file
/// sort after its earlier ones, so more could never make the cut).
///
/// A file with a line longer than the searcher's limit is skipped whole,
/// like a binary file: it yields no matches and no error (the limit exists
/// so one minified or corrupt file cannot take gigabytes of memory, and
/// half a file's matches would be a silent lie). Read errors still fail.
fn search_file(
    matcher: &RegexMatcher,
    searcher: &mut Searcher,
    mut file: fs::File,
    vpath: &VPath,
    keep: usize,
) -> io::Result<Vec<GrepMatch>> {
    let mut head = Vec::with_capacity(BINARY_SNIFF_LEN);
    (&mut file)
        .take(BINARY_SNIFF_LEN as u64)
        .read_to_end(&mut head)?;
    if text::is_binary(&head) {
        return Ok(Vec::new());
    }
    let mut hits = Vec::new();
    let sink = sinks::Bytes(|line_number, bytes| {
        for (i, line) in text::lines(bytes).enumerate() {
            hits.push(GrepMatch::new(
                vpath.as_str().to_owned(),
                line_number + i as u64,
                cut_line(line),
            ));
        }
        Ok(hits.len() < keep)
    });
    if head.len() < BINARY_SNIFF_LEN {
        // The sniff read the whole file (most source files): search the
        // bytes in hand instead of reading again.
        searcher.search_slice(matcher, &head, sink)?;
    } else {
        let mut reader = Watched {
            inner: io::Cursor::new(head).chain(file),
            failed: false,
        };
        if let Err(e) = searcher.search_reader(matcher, &mut reader, sink) {
            // The sink never fails and the reader did not: the searcher
            // hit its heap limit, i.e. a line too long.
            return if reader.failed {
                Err(e)
            } else {
                Ok(Vec::new())
            };
        }
    }
    hits.truncate(keep);
    Ok(hits)
}

/// A reader that remembers whether a read failed, to tell a read error
/// from the searcher's own "line too long" error.
struct Watched<R> {
    inner: R,
    failed: bool,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let res = self.inner.read(buf);
        if res.is_err() {
            self.failed = true;
        }
        res
    }
}

/// A matched line as reported: lossy UTF-8, at most
/// [`GREP_LINE_CHARS`](crate::GREP_LINE_CHARS) characters, then a note
/// with the full length when cut.
fn cut_line(line: &[u8]) -> String {
    let max = crate::GREP_LINE_CHARS;
    // A character is at most 4 bytes, so this prefix holds `max` of them;
    // converting only it keeps a long line from being copied whole.
    let prefix = &line[..line.len().min(max * 4 + 4)];
    let text = String::from_utf8_lossy(prefix);
    match text.char_indices().nth(max) {
        None => text.into_owned(),
        Some((at, _)) => format!("{}… [line cut: {} bytes in all]", &text[..at], line.len()),
    }
}

/// The walker for grep: ignore files, hidden entries and junk directories
/// as `query.ignore_hidden` asks, and the allowed directories.
fn grep_walker(
    cfg: &Arc<Config>,
    start: &Path,
    base: &VPath,
    ignore_hidden: bool,
    found: Arc<Collector<Hit>>,
) -> WalkBuilder {
    let mut walk = WalkBuilder::new(start);
    walk.follow_links(false)
        .threads(worker_threads())
        .hidden(ignore_hidden)
        // The walker would read ignore files by itself, following links
        // and blocking on FIFOs; `Ignores` reads them through the jail
        // instead (see the `ignores` module), from the root down, never
        // above it.
        .parents(false)
        .git_global(false)
        .git_ignore(false)
        .git_exclude(false)
        .ignore(false)
        .require_git(false);
    let ignores = Ignores::new(&cfg.jail, start);
    let cfg = cfg.clone();
    let base = base.clone();
    let start = start.to_path_buf();
    walk.filter_entry(move |entry| {
        if entry.depth() == 0 {
            return true;
        }
        if is_temp_name(entry.file_name()) {
            return false;
        }
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        if ignore_hidden && is_dir {
            if let Some(name) = entry.file_name().to_str() {
                if JUNK_DIRS.contains(&name) {
                    return false;
                }
            }
        }
        if ignores.is_ignored(entry.path(), is_dir) {
            return false;
        }
        if !wanted_entry(&cfg, &start, &base, entry, &*found) {
            return false;
        }
        if is_dir {
            ignores.enter(&cfg.jail, entry.path());
        }
        true
    });
    walk
}

/// Whether a walk enters `entry`: it must be visible (with allowed
/// directories, a walk from a parent of them only enters the way to them)
/// and able to make the cut (see [`Collector`]).
fn wanted_entry<T: Keyed>(
    cfg: &Config,
    start: &Path,
    base: &VPath,
    entry: &DirEntry,
    found: &Collector<T>,
) -> bool {
    let Ok(rel) = entry.path().strip_prefix(start) else {
        return false;
    };
    match join_relative(base, rel) {
        Some(vpath) => cfg.jail.visible(&vpath) && !found.beyond(vpath.as_str()),
        None => false,
    }
}

/// Files under `base` whose relative path matches the pattern.
pub(crate) fn glob(cfg: &Arc<Config>, query: &GlobQuery, base: &VPath) -> Result<GlobResult> {
    let pattern = PathGlob::new(&query.pattern)?;
    let start = match cfg.jail.resolve(base, Reach::Browse) {
        Ok(r) => r.host,
        Err(BackendError::NotFound { .. } | BackendError::NotADirectory { .. }) => {
            return Ok(GlobResult::default())
        }
        Err(e) => return Err(e),
    };
    match fs::metadata(&start) {
        Ok(meta) if meta.is_dir() => {}
        // A missing base or a file base has nothing below it.
        Ok(_) => return Ok(GlobResult::default()),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(GlobResult::default())
        }
        Err(e) => return Err(io_error(base, e)),
    }
    let keep = query.max_count.saturating_add(1);
    let found = Arc::new(Collector::new(keep));
    let mut walk = WalkBuilder::new(&start);
    walk.standard_filters(false)
        .follow_links(false)
        .threads(worker_threads());
    {
        let cfg = cfg.clone();
        let base = base.clone();
        let start = start.clone();
        let found = found.clone();
        walk.filter_entry(move |entry| {
            if entry.depth() == 0 {
                return true;
            }
            let name = entry.file_name();
            if is_temp_name(name) {
                return false;
            }
            if name == ".git" && entry.file_type().is_some_and(|t| t.is_dir()) {
                return false;
            }
            wanted_entry(&cfg, &start, &base, entry, &*found)
        });
    }
    walk.build_parallel().run(|| {
        let pattern = pattern.clone();
        let found = &found;
        let start = &start;
        Box::new(move |entry| {
            let Some((entry, vpath, rel)) = walked_file(entry, start, base) else {
                return WalkState::Continue;
            };
            if pattern.is_match(&rel) {
                if let Ok(meta) = entry.metadata() {
                    let info = FileInfo::file(&vpath, meta.len(), meta.modified().ok());
                    found.extend([Found(info)]);
                }
            }
            WalkState::Continue
        })
    });
    let files = found.take().into_iter().map(|f| f.0).collect();
    Ok(GlobResult::finish(files, query.max_count, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_matching(pattern: &str, content: &[u8]) -> Vec<(u64, String)> {
        let q = GrepQuery::new(pattern);
        let matcher = build_matcher(&q).unwrap();
        let mut out = Vec::new();
        new_searcher(1 << 20)
            .search_slice(
                &matcher,
                content,
                sinks::Bytes(|n, b| {
                    out.push((n, String::from_utf8_lossy(b).into_owned()));
                    Ok(true)
                }),
            )
            .unwrap();
        out
    }

    #[test]
    fn anchors_work_per_line() {
        assert_eq!(lines_matching("^k$", b"x\nk\n").len(), 1);
        assert_eq!(lines_matching("^k$", b"k\r\nx\r\n").len(), 1);
        assert_eq!(lines_matching("k$", b"k").len(), 1);
    }
}
