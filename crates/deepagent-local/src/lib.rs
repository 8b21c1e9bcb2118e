//! # deepagent-local
//!
//! [`LocalBackend`]: a directory on disk as a deepagent
//! [`Backend`], and optionally a [`Sandbox`] that runs shell commands in it.
//!
//! ```
//! use deepagent_core::{Backend, GrepQuery, Bytes};
//! use deepagent_local::LocalBackend;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let rt = tokio::runtime::Builder::new_current_thread().build()?;
//! # rt.block_on(async {
//! let dir = tempfile::tempdir()?;
//! let backend = LocalBackend::new(dir.path())?;
//!
//! backend.write("/src/app.py", Bytes::from("def main():\n    print('hi')\n")).await?;
//! let slice = backend.read("/src/app.py", 1, 10).await?;
//! assert_eq!(slice.lines, ["    print('hi')"]);
//!
//! let hits = backend.grep(&GrepQuery::new(r"def \w+").glob("*.py")).await?;
//! assert_eq!(hits.matches[0].path, "/src/app.py");
//!
//! // Virtual paths never leave the directory.
//! assert!(backend.read_bytes("/../etc/passwd").await.is_err());
//! assert!(backend.read_bytes("/etc/passwd").await.unwrap_err().is_not_found());
//!
//! if let Some(shell) = backend.as_sandbox() {
//!     let run = shell.execute("ls src && echo done >&2", None).await?;
//!     assert_eq!(run.output, "app.py\ndone\n");
//!     assert_eq!(run.exit_code, 0);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })
//! # }
//! ```
//!
//! ## What stays inside the root
//!
//! Virtual `/` is the root directory. A path is normalized by core's
//! [`VPath`] (so `..` cannot climb out and `/etc/passwd` means
//! `<root>/etc/passwd`), then resolved: every symbolic link on the way is
//! followed and the result must still lie under the root (and inside the
//! [allowed directories](LocalBackendBuilder::allowed_directories), when
//! set), or the operation is `PermissionDenied`. `ls` leaves out links that
//! lead outside (and dangling ones); `glob` and `grep` never follow links
//! while walking (like `rg` without `--follow`). Entries whose host names
//! cannot be virtual paths (not UTF-8, or containing a backslash) are not listed.
//! Error messages show virtual paths, never the host path.
//!
//! Resolving and then opening by path would leave a gap in which someone
//! swaps a directory on the way for a link to outside. So every opened
//! handle is checked again for where it really is (via `/proc/self/fd` on
//! Linux; elsewhere that second check is skipped), and writes create
//! directories and the file through checked directory handles without
//! following links. What remains: `glob` could report names (never
//! content) from a directory swapped in the middle of its walk.
//!
//! `execute` is different: it runs `sh -c` in the root with the rights of
//! this process, and a shell can reach anything those rights allow. Turn it
//! off with [`LocalBackendBuilder::enable_execute`] when the directory is
//! all an agent should touch, or use a container sandbox.
//!
//! ## Behaviour worth knowing
//!
//! - Writes are crash-safe: content goes to a temporary file in the same
//!   directory (named `.deepagent-tmp-*`, never listed or searched) and is
//!   renamed over the target, so a reader sees the old file or the new one.
//!   A replaced file keeps its permissions. Temporary files left by a
//!   crash are removed by `build()` once 15 minutes old, or by
//!   [`LocalBackend::sweep_temp_files`]. `edit` holds a per-file lock
//!   across read, replace and rename, so concurrent edits in this process
//!   lose nothing.
//! - `read` streams the file: memory stays near the slice asked for, even
//!   on a file of gigabytes. `read_bytes` and `edit` load the whole file and
//!   obey [`max_read_bytes`](LocalBackendBuilder::max_read_bytes).
//! - `grep` honours `.gitignore`/`.ignore` files (from the root down, never
//!   above it), skips binary files, and with `ignore_hidden` skips hidden
//!   entries and `.git`, `node_modules`, `target`, `__pycache__`, `.venv`.
//!   A file with a line longer than
//!   [`grep_line_limit`](LocalBackendBuilder::grep_line_limit) (8 MiB) is
//!   skipped too, so memory stays bounded; matched lines are cut to
//!   [`GREP_LINE_CHARS`] characters.
//!   `glob` matches what is on disk, hidden and ignored files included;
//!   only `.git` is never entered. Both walk in parallel.
//! - `execute` interleaves stdout and stderr, caps the output, and on
//!   timeout kills the whole process group and reports exit code 124. A
//!   background job still holding the output when the shell exits
//!   (`sleep 100 &`) gets 100 ms, then its process group is killed; one
//!   that redirects its output (`server > log 2>&1 &`) keeps running.
//! - [`read_only(true)`](LocalBackendBuilder::read_only) refuses `write`,
//!   `edit` and `execute` with the same error as core's `ReadOnly` layer.
//! - All filesystem work and the shell run on tokio's blocking pool, so the
//!   async runtime is never blocked. Only tokio's `rt` feature is needed,
//!   and no IO or time driver: any tokio runtime works (outside one, the
//!   work runs inline on the calling thread).
//!
//! ## Cancellation
//!
//! Dropping a future does **not** stop the work it started: every
//! operation runs on tokio's blocking pool, and a started `write` or
//! `edit` finishes (temporary file, then rename) after its caller has
//! gone. So a cancelled write leaves either the old file or the new one,
//! never a torn one; the only leftover a crash (not a cancel) can leave is
//! a `.deepagent-tmp-*` file, swept as described above. A dropped
//! `execute` keeps running until the command exits or its timeout kills
//! its process group; the output is discarded. Outside a tokio runtime
//! the work runs inline, so it cannot be dropped half-way at all.

#![warn(missing_docs)]

// The jail opens files relative to held directory handles without
// following links (openat, O_NOFOLLOW, /proc/self/fd) and the shell runs in
// its own process group: none of that exists off Unix, and a jail that
// silently degraded would be worse than none.
#[cfg(not(unix))]
compile_error!(
    "deepagent-local supports Unix targets only (Linux, macOS, the BSDs). \
     On other platforms use deepagent-state or deepagent-docker, or build \
     deepagent with `default-features = false` and without the `local` feature."
);

// The README's examples compile and run as doctests, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod config;
mod dirfd;
mod exec;
mod files;
mod jail;
mod locks;
mod read;
mod search;
mod sweep;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use deepagent_core::{
    Backend, BackendError, EditResult, ExecuteResponse, FileInfo, GlobQuery, GlobResult, GrepQuery,
    GrepResult, ReadSlice, Result, Sandbox, VPath, WriteResult,
};

pub use config::LocalBackendBuilder;

/// Characters of a matched line that `grep` reports; a longer line is cut
/// there and ends with `… [line cut: N bytes in all]`. The agent sees the
/// match in context and can `read` the file for the rest; a minified file
/// must not flood its context. (Other backends report lines whole.)
pub const GREP_LINE_CHARS: usize = 2000;

/// Default of [`LocalBackendBuilder::grep_line_limit`]: 8 MiB.
pub const DEFAULT_GREP_LINE_LIMIT: usize = 8 << 20;

/// A directory on disk as a backend; see the [crate docs](crate).
///
/// Cloning is cheap and shares the configuration and the edit locks.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    config: Arc<config::Config>,
}

impl LocalBackend {
    /// A backend over `root_dir` (created if missing) with the defaults:
    /// execute enabled, writable, every directory reachable.
    pub fn new(root_dir: impl AsRef<Path>) -> Result<Self> {
        Self::builder(root_dir).build()
    }

    /// Configures a backend over `root_dir`.
    pub fn builder(root_dir: impl AsRef<Path>) -> LocalBackendBuilder {
        LocalBackendBuilder::new(root_dir.as_ref().to_path_buf())
    }

    /// The canonical host directory that is virtual `/`.
    pub fn root(&self) -> &Path {
        self.config.jail.root()
    }

    /// Removes the temporary files (`.deepagent-tmp-*`) that writes killed
    /// mid-way left under the root and that were last modified at least
    /// `older_than` ago; returns how many were removed. `build()` already
    /// does this with 15 minutes; call it for a long-running backend.
    ///
    /// Keep `older_than` well above the longest write any process sharing
    /// this directory may be doing: a younger temporary file may belong to
    /// a write still in progress, which would then fail. Symbolic links
    /// are never followed, files that cannot be removed are skipped, and
    /// the walk stops after a million entries. This blocks; from async
    /// code run it with `spawn_blocking`.
    ///
    /// ```
    /// use std::time::Duration;
    /// # let dir = tempfile::tempdir()?;
    /// let backend = deepagent_local::LocalBackend::new(dir.path())?;
    /// let removed = backend.sweep_temp_files(Duration::from_secs(3600))?;
    /// assert_eq!(removed, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// Fails with `PermissionDenied` on a read-only backend, or when the
    /// root cannot be read.
    pub fn sweep_temp_files(&self, older_than: Duration) -> Result<usize> {
        files::check_writable(&self.config, "sweep_temp_files", "/")?;
        sweep::sweep(self.root(), older_than, sweep::FULL_SWEEP_BUDGET)
            .map_err(|e| BackendError::io("/", e))
    }

    /// True when this backend refuses writes, edits and commands.
    pub fn is_read_only(&self) -> bool {
        self.config.read_only
    }

    /// Runs blocking filesystem work on tokio's blocking pool. Outside a
    /// tokio runtime (another executor, a plain `block_on`) it runs inline,
    /// so the backend still works, just without the offloading.
    async fn blocking<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Arc<config::Config>) -> Result<T> + Send + 'static,
    {
        let cfg = self.config.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle
                .spawn_blocking(move || work(&cfg))
                .await
                .map_err(|e| BackendError::Backend(format!("LocalBackend worker failed: {e}")))?,
            Err(_) => work(&cfg),
        }
    }
}

#[async_trait]
impl Backend for LocalBackend {
    fn name(&self) -> &str {
        "LocalBackend"
    }

    async fn exists(&self, path: &str) -> Result<bool> {
        let path = VPath::new(path)?;
        self.blocking(move |cfg| files::exists(cfg, &path)).await
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        let path = VPath::new(path)?;
        self.blocking(move |cfg| files::ls(cfg, &path)).await
    }

    async fn read_bytes(&self, path: &str) -> Result<Bytes> {
        let path = VPath::new(path)?;
        self.blocking(move |cfg| files::read_bytes(cfg, &path))
            .await
    }

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadSlice> {
        let path = VPath::new(path)?;
        self.blocking(move |cfg| read::read(cfg, &path, offset, limit))
            .await
    }

    async fn write(&self, path: &str, content: Bytes) -> Result<WriteResult> {
        let path = VPath::new(path)?;
        self.blocking(move |cfg| files::write(cfg, &path, &content))
            .await
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<EditResult> {
        let path = VPath::new(path)?;
        let (old, new) = (old.to_owned(), new.to_owned());
        self.blocking(move |cfg| files::edit(cfg, &path, &old, &new, replace_all))
            .await
    }

    async fn glob(&self, query: &GlobQuery) -> Result<GlobResult> {
        let base = VPath::new(&query.path)?;
        let query = query.clone();
        self.blocking(move |cfg| search::glob(cfg, &query, &base))
            .await
    }

    async fn grep(&self, query: &GrepQuery) -> Result<GrepResult> {
        let base = VPath::new(&query.path)?;
        let query = query.clone();
        self.blocking(move |cfg| search::grep(cfg, &query, &base))
            .await
    }

    fn as_sandbox(&self) -> Option<&dyn Sandbox> {
        if self.config.enable_execute {
            Some(self)
        } else {
            None
        }
    }
}

#[async_trait]
impl Sandbox for LocalBackend {
    fn id(&self) -> &str {
        &self.config.id
    }

    /// Runs `command` with `sh -c` in the root directory; see the
    /// [crate docs](crate) for the timeout and output rules. Unsupported
    /// when execute is disabled; PermissionDenied when read-only.
    async fn execute(&self, command: &str, timeout: Option<Duration>) -> Result<ExecuteResponse> {
        if !self.config.enable_execute {
            return Err(BackendError::unsupported(
                "execute (disabled with enable_execute(false))",
                "LocalBackend",
            ));
        }
        files::check_writable(&self.config, "execute", command)?;
        let command = command.to_owned();
        let timeout = timeout.unwrap_or(self.config.default_timeout);
        self.blocking(move |cfg| exec::execute(cfg, &command, timeout))
            .await
    }
}
