//! The plain data that crosses the [`Backend`](crate::Backend) boundary.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// How many lines `read` returns when the caller gives no limit.
pub const DEFAULT_READ_LIMIT: usize = 2000;
/// How many results `glob` and `grep` return before setting `truncated`.
pub const DEFAULT_MAX_COUNT: usize = 1000;
/// How many bytes of command output `execute` keeps.
pub const DEFAULT_OUTPUT_LIMIT: usize = 100_000;
/// How long `execute` waits when the caller gives no timeout.
pub const DEFAULT_EXECUTE_TIMEOUT: Duration = Duration::from_secs(120);

/// One entry of a listing (`ls`, `glob`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileInfo {
    /// The last path component, e.g. `app.py`.
    pub name: String,
    /// The full virtual path, e.g. `/project/src/app.py`.
    pub path: String,
    /// True for a directory.
    pub is_dir: bool,
    /// Size in bytes, for files where the backend knows it.
    pub size: Option<u64>,
    /// Last modification time, where the backend knows it.
    pub modified: Option<SystemTime>,
}

impl FileInfo {
    /// An entry with every field given; [`FileInfo::file`] and
    /// [`FileInfo::dir`] fill `name` from a checked path.
    pub fn new(
        name: impl Into<String>,
        path: impl Into<String>,
        is_dir: bool,
        size: Option<u64>,
        modified: Option<SystemTime>,
    ) -> Self {
        FileInfo {
            name: name.into(),
            path: path.into(),
            is_dir,
            size,
            modified,
        }
    }

    /// A file entry.
    pub fn file(path: &crate::VPath, size: u64, modified: Option<SystemTime>) -> Self {
        FileInfo {
            name: path.file_name().unwrap_or("/").to_owned(),
            path: path.as_str().to_owned(),
            is_dir: false,
            size: Some(size),
            modified,
        }
    }

    /// A directory entry.
    pub fn dir(path: &crate::VPath, modified: Option<SystemTime>) -> Self {
        FileInfo {
            name: path.file_name().unwrap_or("/").to_owned(),
            path: path.as_str().to_owned(),
            is_dir: true,
            size: None,
            modified,
        }
    }
}

impl FileInfo {
    /// The same entry under another path (a router putting its mount
    /// prefix back, a layer removing its root). The name is unchanged.
    pub fn map_path(mut self, f: impl Fn(&str) -> String) -> Self {
        self.path = f(&self.path);
        self
    }
}

/// Sorts a listing the way `ls` returns it: directories first, then by name.
pub fn sort_listing(entries: &mut [FileInfo]) {
    entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
}

/// A slice of a file's lines, as returned by `read`.
///
/// Lines are split on `\n`; a trailing `\r` is dropped and invalid UTF-8 is
/// replaced, because this is the model-facing view. Use `read_bytes` for
/// the exact content. Render it with [`crate::text::render_read`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReadSlice {
    /// The file read.
    pub path: String,
    /// 0-based index of the first line in `lines`.
    pub offset: usize,
    /// The lines, without their terminators.
    pub lines: Vec<String>,
    /// How many lines the whole file has.
    pub total_lines: usize,
}

impl ReadSlice {
    /// A slice of `path` starting at 0-based line `offset`.
    pub fn new(
        path: impl Into<String>,
        offset: usize,
        lines: Vec<String>,
        total_lines: usize,
    ) -> Self {
        ReadSlice {
            path: path.into(),
            offset,
            lines,
            total_lines,
        }
    }

    /// Lines after this slice.
    pub fn remaining(&self) -> usize {
        self.total_lines
            .saturating_sub(self.offset + self.lines.len())
    }
}

/// The result of `write`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WriteResult {
    /// The path written, in the caller's terms.
    pub path: String,
    /// Bytes written.
    pub size: u64,
}

impl WriteResult {
    /// `size` bytes written to `path`.
    pub fn new(path: impl Into<String>, size: u64) -> Self {
        WriteResult {
            path: path.into(),
            size,
        }
    }
}

/// The result of `edit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EditResult {
    /// The file edited, in the caller's terms.
    pub path: String,
    /// How many occurrences were replaced.
    pub occurrences: usize,
}

impl EditResult {
    /// `occurrences` replaced in `path`.
    pub fn new(path: impl Into<String>, occurrences: usize) -> Self {
        EditResult {
            path: path.into(),
            occurrences,
        }
    }
}

/// How many occurrences [`Backend::edit`](crate::Backend::edit) replaces.
///
/// ```
/// use deepagent_core::{edit::apply_edit, Replace};
/// let (out, n) = apply_edit("/a.txt", b"a-a", "a", "b", Replace::All)?;
/// assert_eq!((out.as_slice(), n), (&b"b-b"[..], 2));
/// assert_eq!(Replace::all_if(false), Replace::Once);
/// # Ok::<(), deepagent_core::BackendError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Replace {
    /// Exactly one occurrence; several are
    /// [`EditAmbiguous`](crate::BackendError::EditAmbiguous).
    #[default]
    Once,
    /// Every occurrence, however many (at least one).
    All,
}

impl Replace {
    /// `All` when `replace_all` is true: the JSON field models send.
    pub fn all_if(replace_all: bool) -> Self {
        if replace_all {
            Replace::All
        } else {
            Replace::Once
        }
    }

    /// True for [`Replace::All`].
    pub fn is_all(self) -> bool {
        self == Replace::All
    }
}

/// A glob search: files under `path` whose path relative to it matches
/// `pattern`.
///
/// Patterns use [globset] syntax with `*` stopping at `/` and `**` crossing
/// it: `*.py` matches top-level files only, `**/*.py` any depth.
///
/// ```
/// use deepagent_core::GlobQuery;
/// let q = GlobQuery::new("**/*.rs").path("/src").max_count(50);
/// assert_eq!(q.path, "/src");
/// ```
///
/// [globset]: https://docs.rs/globset
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GlobQuery {
    /// The pattern, relative to `path`.
    pub pattern: String,
    /// The directory to search from (default `/`).
    pub path: String,
    /// The most results to return (default [`DEFAULT_MAX_COUNT`]).
    pub max_count: usize,
}

impl GlobQuery {
    /// A query for `pattern` from `/`.
    pub fn new(pattern: impl Into<String>) -> Self {
        GlobQuery {
            pattern: pattern.into(),
            path: "/".to_owned(),
            max_count: DEFAULT_MAX_COUNT,
        }
    }

    /// Searches from `path` instead of `/`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Caps the results.
    pub fn max_count(mut self, n: usize) -> Self {
        self.max_count = n;
        self
    }
}

/// Files found by `glob`, sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GlobResult {
    /// Matching files (never directories), sorted by path.
    pub files: Vec<FileInfo>,
    /// True when more files matched than `max_count`.
    pub truncated: bool,
}

/// A regex search over file contents.
///
/// ```
/// use deepagent_core::GrepQuery;
/// let q = GrepQuery::new(r"fn \w+").path("/src").glob("*.rs");
/// assert!(q.ignore_hidden);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GrepQuery {
    /// A regular expression (Rust `regex` syntax), or a literal with
    /// `fixed_strings`.
    pub pattern: String,
    /// A file or directory to search (default `/`).
    pub path: String,
    /// Only files matching this glob: a pattern without `/` matches the
    /// file name (`*.py`), one with `/` the path below `path`
    /// (`src/**/*.py`).
    pub glob: Option<String>,
    /// Skip entries whose name starts with `.` below `path` (default true).
    /// A hidden file or directory named by `path` itself is still searched.
    pub ignore_hidden: bool,
    /// Match case-insensitively.
    pub case_insensitive: bool,
    /// Treat `pattern` as a literal string.
    pub fixed_strings: bool,
    /// The most matches to return (default [`DEFAULT_MAX_COUNT`]).
    pub max_count: usize,
}

impl GrepQuery {
    /// A query for `pattern` under `/`.
    pub fn new(pattern: impl Into<String>) -> Self {
        GrepQuery {
            pattern: pattern.into(),
            path: "/".to_owned(),
            glob: None,
            ignore_hidden: true,
            case_insensitive: false,
            fixed_strings: false,
            max_count: DEFAULT_MAX_COUNT,
        }
    }

    /// Searches `path` (a file or a directory).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Only files matching `glob`.
    pub fn glob(mut self, glob: impl Into<String>) -> Self {
        self.glob = Some(glob.into());
        self
    }

    /// Whether to skip hidden entries while walking.
    pub fn ignore_hidden(mut self, yes: bool) -> Self {
        self.ignore_hidden = yes;
        self
    }

    /// Case-insensitive matching.
    pub fn case_insensitive(mut self, yes: bool) -> Self {
        self.case_insensitive = yes;
        self
    }

    /// Literal matching.
    pub fn fixed_strings(mut self, yes: bool) -> Self {
        self.fixed_strings = yes;
        self
    }

    /// Caps the matches.
    pub fn max_count(mut self, n: usize) -> Self {
        self.max_count = n;
        self
    }

    /// Compiles the pattern with the query's flags, or
    /// [`BackendError::InvalidPattern`](crate::BackendError::InvalidPattern).
    /// Every backend that matches in Rust uses this, so the syntax is one.
    pub fn regex(&self) -> crate::Result<regex::Regex> {
        let source = if self.fixed_strings {
            regex::escape(&self.pattern)
        } else {
            self.pattern.clone()
        };
        regex::RegexBuilder::new(&source)
            .case_insensitive(self.case_insensitive)
            .build()
            .map_err(|e| crate::BackendError::invalid_pattern(&self.pattern, e))
    }
}

/// One matching line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GrepMatch {
    /// The file, in the caller's terms.
    pub path: String,
    /// 1-based line number.
    pub line_number: u64,
    /// The line without its terminator (lossy UTF-8).
    pub line: String,
}

impl GrepMatch {
    /// Line `line_number` (1-based) of `path`, without its terminator.
    pub fn new(path: impl Into<String>, line_number: u64, line: impl Into<String>) -> Self {
        GrepMatch {
            path: path.into(),
            line_number,
            line: line.into(),
        }
    }
}

/// Matches found by `grep`, sorted by path then line number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GrepResult {
    /// The matches.
    pub matches: Vec<GrepMatch>,
    /// True when more lines matched than `max_count`.
    pub truncated: bool,
}

impl GrepResult {
    /// `matches` as they are (see [`GrepResult::finish`] to sort and cap).
    pub fn new(matches: Vec<GrepMatch>, truncated: bool) -> Self {
        GrepResult { matches, truncated }
    }

    /// Rewrites every path with `f`.
    pub fn map_paths(mut self, f: impl Fn(&str) -> String) -> Self {
        for m in &mut self.matches {
            m.path = f(&m.path);
        }
        self
    }

    /// Sorts by (path, line) and applies the cap, setting `truncated` only
    /// when something was actually dropped.
    pub fn finish(mut matches: Vec<GrepMatch>, max_count: usize, already_truncated: bool) -> Self {
        matches.sort_by(|a, b| a.path.cmp(&b.path).then(a.line_number.cmp(&b.line_number)));
        let truncated = already_truncated || matches.len() > max_count;
        matches.truncate(max_count);
        GrepResult { matches, truncated }
    }
}

impl GlobResult {
    /// `files` as they are (see [`GlobResult::finish`] to sort and cap).
    pub fn new(files: Vec<FileInfo>, truncated: bool) -> Self {
        GlobResult { files, truncated }
    }

    /// Rewrites every path with `f` (see [`FileInfo::map_path`]).
    pub fn map_paths(mut self, f: impl Fn(&str) -> String) -> Self {
        for file in &mut self.files {
            file.path = f(&file.path);
        }
        self
    }

    /// Sorts by path and applies the cap, like [`GrepResult::finish`].
    pub fn finish(mut files: Vec<FileInfo>, max_count: usize, already_truncated: bool) -> Self {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let truncated = already_truncated || files.len() > max_count;
        files.truncate(max_count);
        GlobResult { files, truncated }
    }
}

/// What `execute` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExecuteResponse {
    /// stdout and stderr interleaved as the process wrote them (lossy
    /// UTF-8), capped.
    pub output: String,
    /// The exit code; 124 when the command timed out, like `timeout(1)`.
    pub exit_code: i32,
    /// True when output past the cap was dropped.
    pub truncated: bool,
    /// True when the command was killed for running past its timeout.
    pub timed_out: bool,
}

impl ExecuteResponse {
    /// A command that ran to its end: its (capped) output, exit code, and
    /// whether output was dropped. For one killed at its timeout use
    /// [`ExecuteResponse::killed_at_timeout`].
    pub fn new(output: impl Into<String>, exit_code: i32, truncated: bool) -> Self {
        ExecuteResponse {
            output: output.into(),
            exit_code,
            truncated,
            timed_out: false,
        }
    }

    /// The exit code of a command killed at its timeout, as `timeout(1)`
    /// reports it.
    pub const TIMEOUT_EXIT_CODE: i32 = 124;

    /// The answer for a command killed at its timeout: what it wrote so
    /// far, then one line saying so. Every sandbox words it this way, since
    /// the model reads it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use deepagent_core::ExecuteResponse;
    ///
    /// let r = ExecuteResponse::killed_at_timeout("tick".into(), false, Duration::from_secs(2));
    /// assert_eq!(r.output, "tick\n[command timed out after 2.0s and was killed]");
    /// assert_eq!(r.exit_code, ExecuteResponse::TIMEOUT_EXIT_CODE);
    /// assert!(r.timed_out);
    /// ```
    pub fn killed_at_timeout(mut output: String, truncated: bool, timeout: Duration) -> Self {
        if !output.is_empty() && !output.ends_with('\n') {
            output.push('\n');
        }
        output.push_str(&format!(
            "[command timed out after {:.1}s and was killed]",
            timeout.as_secs_f64()
        ));
        ExecuteResponse {
            output,
            exit_code: Self::TIMEOUT_EXIT_CODE,
            truncated,
            timed_out: true,
        }
    }
}

/// One file of a [`download`](crate::Backend::download): its path in the
/// caller's terms (normalized when it could be) and its content, or why it
/// could not be read. One missing file does not fail the batch.
#[derive(Debug)]
pub struct FileDownload {
    /// The path asked for, normalized.
    pub path: String,
    /// The whole file, byte-exact, or this file's error.
    pub content: crate::Result<bytes::Bytes>,
}
