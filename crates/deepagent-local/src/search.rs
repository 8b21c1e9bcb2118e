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
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
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
use crate::jail::{io_error, is_temp_name, Reach};

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
/// Each thread keeps its own smallest-N set (a [`Kept`]) and hands it in
/// once, when the walk ends, so a match costs no lock. Once a thread's set
/// is full, the largest path it keeps is published as a bound: nothing
/// sorting after it can make the cut (that thread alone holds `cap`
/// smaller results), and everything below a directory sorts after the
/// directory itself, so the walk skips such files and directories. That
/// keeps the answer exact while letting a search with many hits stop
/// reading most files.
struct Collector<T: Ord> {
    cap: usize,
    handed_in: Mutex<Vec<T>>,
    /// Set once `bound` holds a path: lets the walk skip the lock while
    /// no thread's set is full (always, for an uncapped search).
    has_bound: AtomicBool,
    bound: RwLock<Option<String>>,
}

impl<T: Keyed> Collector<T> {
    fn new(cap: usize) -> Self {
        Collector {
            cap,
            handed_in: Mutex::new(Vec::new()),
            has_bound: AtomicBool::new(false),
            bound: RwLock::new(None),
        }
    }

    /// A thread's own set, handed in when dropped.
    fn local(&self) -> Kept<'_, T> {
        Kept {
            kept: Smallest::new(self.cap),
            published: None,
            shared: self,
        }
    }

    /// Lowers the bound to `top` (a path some thread's full set ends at).
    fn publish(&self, top: &str) {
        let mut bound = self.bound.write().unwrap_or_else(|p| p.into_inner());
        if bound.as_deref().is_none_or(|b| top < b) {
            *bound = Some(top.to_owned());
            self.has_bound.store(true, AtomicOrdering::Release);
        }
    }

    /// True once some thread's set is full (see [`Collector::beyond`]).
    fn bounded(&self) -> bool {
        self.has_bound.load(AtomicOrdering::Acquire)
    }

    /// True when `path` and everything below it sort after what is kept.
    fn beyond(&self, path: &str) -> bool {
        if !self.bounded() {
            return false;
        }
        let bound = self.bound.read().unwrap_or_else(|p| p.into_inner());
        bound.as_deref().is_some_and(|b| path > b)
    }

    /// The `cap` smallest of everything handed in (call after the walk).
    fn take(&self) -> Vec<T> {
        let items = std::mem::take(&mut *self.handed_in.lock().unwrap_or_else(|p| p.into_inner()));
        let mut all = Smallest::new(self.cap);
        for item in items {
            all.push(item);
        }
        all.heap.into_vec()
    }
}

/// One walker thread's results (see [`Collector`]).
struct Kept<'a, T: Keyed> {
    kept: Smallest<T>,
    /// The bound this thread last published.
    published: Option<String>,
    shared: &'a Collector<T>,
}

impl<T: Keyed> Kept<'_, T> {
    fn push(&mut self, item: T) {
        self.kept.push(item);
        if !self.kept.is_full() {
            return;
        }
        if let Some(top) = self.kept.heap.peek() {
            if self.published.as_deref() != Some(top.path()) {
                self.shared.publish(top.path());
                self.published = Some(top.path().to_owned());
            }
        }
    }

    /// [`Collector::beyond`], or beyond this thread's own full set.
    fn beyond(&self, path: &str) -> bool {
        self.published.as_deref().is_some_and(|b| path > b) || self.shared.beyond(path)
    }
}

impl<T: Keyed> Drop for Kept<'_, T> {
    fn drop(&mut self) {
        let mine = std::mem::take(&mut self.kept.heap);
        if !mine.is_empty() {
            let mut all = self
                .shared
                .handed_in
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            all.extend(mine);
        }
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
            hits = search_file(
                &matcher,
                &mut searcher,
                cfg.grep_line_limit,
                &mut FileBuf::default(),
                file,
                base,
                keep,
            )
            .map_err(|e| io_error(base, e))?;
        }
        return Ok(GrepResult::finish(hits, query.max_count, false));
    }

    // Files are opened below a handle on the search directory through the
    // kernel's resolver (see `Jail::kernel_root`): below it by
    // construction, so no per-file read-back of where the file really is.
    // Where that is not possible, each opened file is checked instead.
    let start_dir = cfg.jail.kernel_root().and_then(|root| {
        let rel = start.strip_prefix(cfg.jail.root()).ok()?;
        if rel.as_os_str().is_empty() {
            return root.try_clone().ok();
        }
        let flags = libc::O_DIRECTORY | dirfd::DIR_HANDLE_FLAGS;
        dirfd::open_beneath(root, rel.as_os_str(), flags, 0).ok()
    });
    let search = GrepSearch {
        cfg,
        matcher,
        filter,
        start,
        start_dir,
        base,
        keep,
    };

    // A capped search first walks in name order, one thread, within a
    // budget: the first results in path order come first, the bound then
    // skips the rest of the tree, and a million-file workspace answers
    // without being read. When the budget runs out first, the full
    // parallel walk below starts over; the answer is the same either way.
    if keep <= SORTED_FIRST_MAX_KEEP {
        let found = Arc::new(Collector::new(keep));
        let mut walk = grep_walker(cfg, &search.start, base, query.ignore_hidden, found.clone());
        sort_by_name(&mut walk);
        let mut visitor = search.visitor(&found);
        let mut complete = true;
        for entry in walk.build() {
            visitor.visit(entry);
            if visitor.searched > SORTED_FIRST_FILES {
                complete = false;
                break;
            }
        }
        drop(visitor);
        if complete {
            let hits = found.take().into_iter().map(|h| h.0).collect();
            return Ok(GrepResult::finish(hits, query.max_count, false));
        }
    }

    let found = Arc::new(Collector::new(keep));
    let walk = grep_walker(cfg, &search.start, base, query.ignore_hidden, found.clone());
    walk.build_parallel().run(|| {
        let mut visitor = search.visitor(&found);
        Box::new(move |entry| {
            visitor.visit(entry);
            WalkState::Continue
        })
    });
    let hits = found.take().into_iter().map(|h| h.0).collect();
    Ok(GrepResult::finish(hits, query.max_count, false))
}

/// Makes a walk yield each directory's entries in byte order of their
/// names. Entries sorted together share their parent, so comparing whole
/// paths as bytes orders them by name; it is one `memcmp`, where asking
/// each path for its file name (what `sort_by_file_name` does) parses it
/// from the back on every comparison: 40% of a capped glob's time in a
/// 100,000-entry directory. (The order makes a capped walk stop early;
/// the answer does not depend on it, see [`Collector`].)
fn sort_by_name(walk: &mut WalkBuilder) {
    walk.sort_by_file_path(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
}

/// Caps up to this many results (`max_count + 1`) try the sorted walk
/// first (see [`grep`] and [`glob`]).
const SORTED_FIRST_MAX_KEEP: usize = 10_001;
/// Files the sorted grep walk may search before it gives way.
const SORTED_FIRST_FILES: usize = 10_000;
/// Entries the sorted glob walk may see before it gives way.
const SORTED_FIRST_ENTRIES: usize = 20_000;

/// What every walker thread of one grep shares.
struct GrepSearch<'a> {
    cfg: &'a Config,
    matcher: RegexMatcher,
    filter: Option<FileFilter>,
    start: std::path::PathBuf,
    start_dir: Option<fs::File>,
    base: &'a VPath,
    keep: usize,
}

impl<'a> GrepSearch<'a> {
    fn visitor<'b>(&'b self, found: &'b Collector<Hit>) -> GrepVisitor<'b> {
        GrepVisitor {
            search: self,
            matcher: self.matcher.clone(),
            searcher: new_searcher(self.cfg.grep_line_limit),
            buf: FileBuf::default(),
            kept: found.local(),
            searched: 0,
        }
    }
}

/// One walker thread's grep: its own matcher, searcher, buffer and results.
struct GrepVisitor<'b> {
    search: &'b GrepSearch<'b>,
    matcher: RegexMatcher,
    searcher: Searcher,
    buf: FileBuf,
    kept: Kept<'b, Hit>,
    /// Files opened so far.
    searched: usize,
}

impl GrepVisitor<'_> {
    fn visit(&mut self, entry: std::result::Result<DirEntry, ignore::Error>) {
        let s = self.search;
        let Some((entry, vpath)) = walked_file(entry, &s.start, s.base) else {
            return;
        };
        if !matches_filter(s.filter.as_ref(), relative(&vpath, s.base))
            || self.kept.beyond(vpath.as_str())
        {
            return;
        }
        self.searched += 1;
        #[cfg(test)]
        tests::OPENED.fetch_add(1, AtomicOrdering::Relaxed);
        // A file that cannot be read (gone, no permission) is skipped,
        // as rg does, rather than failing the whole search; so is one
        // that turns out to be outside (a directory on the way was
        // swapped for a link mid-walk).
        let Some(file) = open_walked(&s.cfg.jail, s.start_dir.as_ref(), &s.start, &entry, &vpath)
        else {
            return;
        };
        if let Ok(hits) = search_file(
            &self.matcher,
            &mut self.searcher,
            s.cfg.grep_line_limit,
            &mut self.buf,
            file,
            &vpath,
            s.keep,
        ) {
            for hit in hits {
                self.kept.push(Hit(hit));
            }
        }
    }
}

/// Opens a file the walk found, for reading, never blocking (a file
/// swapped for a FIFO since the walk saw it must not hang this worker;
/// reading it then ends at once). Below `start_dir` with no link on the
/// way when there is such a handle; otherwise (or when that fails: a link
/// swapped in, which may still lead inside) by path, then checked for
/// where it really is.
fn open_walked(
    jail: &crate::jail::Jail,
    start_dir: Option<&fs::File>,
    start: &Path,
    entry: &DirEntry,
    vpath: &VPath,
) -> Option<fs::File> {
    if let Some(dir) = start_dir {
        if let Some(rel) = below_start(start, entry.path()) {
            if let Ok(file) = dirfd::open_beneath(dir, rel, dirfd::READ_NONBLOCKING, 0) {
                return Some(file);
            }
        }
    }
    let file = dirfd::open_nonblocking(entry.path()).ok()?;
    jail.verify_open(vpath, &file, Reach::Inside).ok()?;
    Some(file)
}

/// `vpath` relative to `base` (`""` when equal), as the glob filters see it.
fn relative<'a>(vpath: &'a VPath, base: &VPath) -> &'a str {
    vpath.relative_to(base).unwrap_or_default()
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

/// A regular file met in a walk, with its virtual path and its host path
/// relative to the walk's start. Directories, links and errors are `None`.
fn walked_file(
    entry: std::result::Result<DirEntry, ignore::Error>,
    start: &Path,
    base: &VPath,
) -> Option<(DirEntry, VPath)> {
    let entry = entry.ok()?;
    if !entry.file_type()?.is_file() {
        return None;
    }
    let vpath = walked_vpath(start, base, entry.path())?;
    Some((entry, vpath))
}

/// `host` (a path the walker built by joining names onto `start`) relative
/// to `start`, compared as bytes: the walker's paths always begin with
/// `start`'s own bytes, and this runs for every entry, where
/// `Path::strip_prefix` would compare component by component.
fn below_start<'a>(start: &Path, host: &'a Path) -> Option<&'a OsStr> {
    let rest = host
        .as_os_str()
        .as_bytes()
        .strip_prefix(start.as_os_str().as_bytes())?;
    let rest = match rest.first() {
        None => rest,
        Some(b'/') => &rest[1..],
        // `start` ended in `/` already (the root `/`), or a sibling name
        // merely shares the prefix (`/a` and `/ab`): only the former is below.
        Some(_) if start.as_os_str().as_bytes().ends_with(b"/") => rest,
        Some(_) => return None,
    };
    Some(OsStr::from_bytes(rest))
}

/// The virtual path of a host path met in a walk below `start` (the host
/// directory of `base`), built in one allocation. `None` when a name on
/// the way cannot be a virtual path component (see
/// [`child_vpath`](crate::jail::child_vpath)): not UTF-8, or a backslash.
fn walked_vpath(start: &Path, base: &VPath, host: &Path) -> Option<VPath> {
    let rel = below_start(start, host)?.to_str()?;
    if rel.is_empty() {
        return Some(base.clone());
    }
    if rel.contains('\\') {
        return None;
    }
    let mut out = String::with_capacity(base.as_str().len() + 1 + rel.len());
    out.push_str(base.as_str());
    if !base.is_root() {
        out.push('/');
    }
    out.push_str(rel);
    // A walk yields no empty, `.` or `..` components and no NUL, so this
    // is already normalized and `new` only checks it.
    VPath::new(&out).ok()
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

/// Files below this size are read whole into the thread's buffer and
/// searched in memory; larger ones stream through the searcher. Half the
/// line limit at most (see [`slurp_limit`]).
const SLURP_LIMIT: usize = 1 << 20;

/// The size below which a file is searched in memory: a file under half
/// the searcher's line limit can never reach that limit (its buffer would
/// hold the whole file), so searching it whole skips exactly the files
/// the streaming search would skip, i.e. none.
fn slurp_limit(line_limit: usize) -> usize {
    SLURP_LIMIT.min(line_limit / 2).max(1)
}

/// The buffer a walker thread reads files into, kept between files so a
/// search allocates nothing per file once it has grown.
#[derive(Default)]
struct FileBuf(Vec<u8>);

impl FileBuf {
    /// Reads up to `limit` bytes of `file`; the bytes read.
    ///
    /// One `read` into a buffer larger than a typical source file, then
    /// one to see the end: `read_to_end` would start with 8 KiB reads and
    /// take three calls for a 10 KiB file.
    fn fill(&mut self, file: &mut fs::File, limit: usize) -> io::Result<&[u8]> {
        let start = limit.min(64 * 1024);
        if self.0.len() < start {
            self.0.resize(start, 0);
        }
        let mut filled = 0;
        loop {
            if filled == self.0.len().min(limit) {
                if filled >= limit {
                    break;
                }
                self.0.resize((filled * 2).min(limit), 0);
            }
            let end = limit.min(self.0.len());
            match file.read(&mut self.0[filled..end]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(&self.0[..filled])
    }
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
    line_limit: usize,
    buf: &mut FileBuf,
    mut file: fs::File,
    vpath: &VPath,
    keep: usize,
) -> io::Result<Vec<GrepMatch>> {
    let limit = slurp_limit(line_limit);
    let head = buf.fill(&mut file, limit)?;
    if text::is_binary(&head[..head.len().min(BINARY_SNIFF_LEN)]) {
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
    if head.len() < limit {
        // The whole file is in hand (nearly every source file): search
        // the bytes without reading again.
        searcher.search_slice(matcher, head, sink)?;
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
    // Without allowed directories and before any bound, every entry is
    // wanted: no virtual path to build for it (files build theirs once,
    // in `walked_file`, which also leaves out names that cannot be one).
    if cfg.jail.everything_visible() && !found.bounded() {
        return true;
    }
    match walked_vpath(start, base, entry.path()) {
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
    let walker = |found: &Arc<Collector<Found>>| {
        let mut walk = WalkBuilder::new(&start);
        walk.standard_filters(false)
            .follow_links(false)
            .threads(worker_threads());
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
        walk
    };
    let visit = |kept: &mut Kept<'_, Found>, entry| {
        let Some((entry, vpath)) = walked_file(entry, &start, base) else {
            return;
        };
        if pattern.is_match(relative(&vpath, base)) && !kept.beyond(vpath.as_str()) {
            #[cfg(test)]
            tests::OPENED.fetch_add(1, AtomicOrdering::Relaxed);
            if let Ok(meta) = entry.metadata() {
                let info = FileInfo::file(&vpath, meta.len(), meta.modified().ok());
                kept.push(Found(info));
            }
        }
    };

    // As in grep: a capped glob first walks in name order within a budget.
    if keep <= SORTED_FIRST_MAX_KEEP {
        let found = Arc::new(Collector::new(keep));
        let mut walk = walker(&found);
        sort_by_name(&mut walk);
        let mut kept = found.local();
        let mut complete = true;
        for (seen, entry) in walk.build().enumerate() {
            if seen > SORTED_FIRST_ENTRIES {
                complete = false;
                break;
            }
            visit(&mut kept, entry);
        }
        drop(kept);
        if complete {
            let files = found.take().into_iter().map(|f| f.0).collect();
            return Ok(GlobResult::finish(files, query.max_count, false));
        }
    }

    let found = Arc::new(Collector::new(keep));
    walker(&found).build_parallel().run(|| {
        let mut kept = found.local();
        let visit = &visit;
        Box::new(move |entry| {
            visit(&mut kept, entry);
            WalkState::Continue
        })
    });
    let files = found.take().into_iter().map(|f| f.0).collect();
    Ok(GlobResult::finish(files, query.max_count, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Files grep opened and files glob took metadata of, in this process
    /// (the one test that reads it runs alone: it is the only walk here).
    pub(super) static OPENED: AtomicUsize = AtomicUsize::new(0);

    /// A capped grep or glob on a big tree reads a small corner of it, and
    /// still returns exactly the first results in path order.
    #[test]
    fn capped_searches_stop_early_with_the_exact_answer() {
        let dir = tempfile::tempdir().unwrap();
        let backend = crate::LocalBackend::new(dir.path()).unwrap();
        for d in 0..60 {
            let sub = dir.path().join(format!("d{d:02}"));
            fs::create_dir(&sub).unwrap();
            for f in 0..50 {
                fs::write(sub.join(format!("f{f:02}.py")), "x = 1\nneedle\n").unwrap();
            }
        }
        let cfg = &backend.config;
        let root = VPath::root();
        let all = grep(cfg, &GrepQuery::new("needle").max_count(usize::MAX), &root).unwrap();
        assert_eq!(all.matches.len(), 3000);

        OPENED.store(0, AtomicOrdering::Relaxed);
        let capped = grep(cfg, &GrepQuery::new("needle").max_count(100), &root).unwrap();
        let opened = OPENED.load(AtomicOrdering::Relaxed);
        assert!(capped.truncated);
        assert_eq!(capped.matches, all.matches[..100]);
        assert!(opened <= 150, "grep opened {opened} of 3000 files");

        OPENED.store(0, AtomicOrdering::Relaxed);
        let q = GlobQuery::new("**/*.py").max_count(100);
        let globbed = glob(cfg, &q, &root).unwrap();
        let seen = OPENED.load(AtomicOrdering::Relaxed);
        assert!(globbed.truncated);
        let paths: Vec<&str> = globbed.files.iter().map(|f| f.path.as_str()).collect();
        let want: Vec<&str> = all.matches[..100].iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, want);
        assert!(seen <= 150, "glob took metadata of {seen} of 3000 files");
    }

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
