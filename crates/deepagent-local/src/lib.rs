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
//! following links. `exists` answers from such a checked handle too
//! (opened with `O_PATH`, so nothing is read), and the temporary-file
//! sweep lists and removes only through directory handles opened without
//! following links, so a swapped directory can never make it delete
//! outside. What remains: `glob` could report names (never content) from
//! a directory swapped in the middle of its walk.
//!
//! With [allowed directories](LocalBackendBuilder::allowed_directories),
//! a link inside one of them that leads to a parent of one (`/src/up ->
//! ..`) is refused: only the real path of such a parent may be listed or
//! searched, and then only the way to the allowed directories shows.
//!
//! ### Files that are not regular files
//!
//! FIFOs, sockets and devices inside the root are never read: `read`,
//! `read_bytes`, `edit`, `ls` and `grep` of such a path fail at once with
//! `PermissionDenied` naming what it is, and `grep` walks skip them. The
//! type seen while resolving refuses them before any open; every open for
//! reading is non-blocking and the opened handle's type is checked again,
//! so one swapped in between cannot hang a worker either. (Opening a
//! device node a privileged user planted there and swapped in at that very
//! moment would still run its driver's `open`; creating one needs root.)
//! `write` over one replaces it with a regular file.
//!
//! ### Ignore files
//!
//! `grep` reads `.gitignore`, `.ignore`, `.git/info/exclude` and a `.git`
//! file's `gitdir:`/`commondir` pointers itself (ripgrep's walker does not
//! read them): only regular files, not links themselves (git 2.32+ does
//! not follow a linked `.gitignore` either), whose opened handle lies under
//! the root, at most 1 MiB each (4 KiB for the pointers). A file failing
//! any of this counts as absent, so a repository cannot make grep read
//! `/dev/zero`, hang on a FIFO, or take rules from outside the root. A
//! worktree whose git directory lies outside the root therefore loses its
//! `info/exclude`.
//!
//! ### What a path jail cannot see
//!
//! A hard link is the file itself, not a pointer: a hard link inside the
//! root to a file outside it (made by anyone who can write both places, or
//! that came with an unpacked archive) is read and written like any file
//! in the root, and no path check can tell. Keep roots on a filesystem
//! where untrusted parties cannot create such links to files that matter,
//! or use a container sandbox. Bind mounts inside the root likewise count
//! as inside.
//!
//! `write` keeps a replaced file's permission bits except setuid and
//! setgid, which it drops: content written by an agent never runs with the
//! old file's owner or group.
//!
//! ### `execute`
//!
//! `execute` is different: it runs `sh -c` in the root with the rights of
//! this process, and a shell can reach anything those rights allow. Turn it
//! off with [`LocalBackendBuilder::enable_execute`] when the directory is
//! all an agent should touch, or use a container sandbox.
//!
//! What it does promise is that a command ends when it should. On Linux
//! each command runs under a small supervisor process forked for it, which
//! makes itself a *child subreaper* (`PR_SET_CHILD_SUBREAPER`, no privilege
//! needed): every process the command starts stays its descendant, also
//! after `setsid`, a daemonizing double fork or `env -i`. At a timeout,
//! when the call's future is dropped (within about 20 ms), or when this
//! process dies, the supervisor kills all of them. Your own process is
//! never made a subreaper, and the command inherits none of its open file
//! descriptors besides stdin (`/dev/null`), stdout and stderr. Limits: a
//! command can kill its supervisor first (it runs as the same user; then
//! only the shell's process group is killed, as on other systems), a
//! process started through another service (`systemd-run`, `at`, ssh to
//! localhost, a Docker daemon) is outside the tree, and an unprivileged
//! process cannot kill a setuid program it started. No cgroup or PID
//! namespace is used, since a library cannot count on the privileges they
//! need. Outside Linux only the shell's process group is killed.
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
//! - `grep` honours `.gitignore`/`.ignore` files and `.git/info/exclude`
//!   (from the root down, never above it; see above), skips binary files, and with `ignore_hidden` skips hidden
//!   entries and `.git`, `node_modules`, `target`, `__pycache__`, `.venv`.
//!   A file with a line longer than
//!   [`grep_line_limit`](LocalBackendBuilder::grep_line_limit) (8 MiB) is
//!   skipped too, so memory stays bounded; matched lines are cut to
//!   [`GREP_LINE_CHARS`] characters.
//!   `glob` matches what is on disk, hidden and ignored files included;
//!   only `.git` is never entered. Both walk in parallel.
//! - `execute` interleaves stdout and stderr, caps the output, and on
//!   timeout kills everything the command started (see above) and reports
//!   exit code 124. A background job still holding the output when the
//!   shell exits (`sleep 100 &`) gets 100 ms, then everything the command
//!   started is killed; when nothing holds the output, what runs in the
//!   background (`server > log 2>&1 &`) keeps running.
//! - [`read_only(true)`](LocalBackendBuilder::read_only) refuses `write`,
//!   `edit` and `execute` with the same error as core's `ReadOnly` layer.
//! - The async runtime is never blocked. `grep`, `glob`, `ls`, `delete`,
//!   batches and the shell run on tokio's blocking pool. The single-file
//!   calls (`read`, `read_bytes`, `write`, `edit`, `exists`, `rename`),
//!   made from a task on the multi-thread runtime (`tokio::spawn`), run on
//!   that worker through [`block_in_place`](tokio::task::block_in_place):
//!   the worker hands its other tasks to another thread for the call,
//!   which costs ~1 µs here against ~25 µs for a `spawn_blocking` round
//!   trip, most of a small file's cost. Futures joined inside the same
//!   task (`join!`) wait for such a call; other tasks do not. Made from
//!   `block_on`'s own future or on the current-thread runtime they take
//!   the blocking pool too, and outside a runtime everything runs inline.
//!   No IO or time driver is needed.
//!
//! ## Cancellation
//!
//! Dropping a future does **not** stop the file work it started: an
//! operation on tokio's blocking pool finishes after its caller has gone,
//! and one run in place completes inside a single poll, so a started
//! `write` or `edit` always finishes (temporary file, then rename). So a
//! cancelled write leaves either the old file or the new one, never a
//! torn one; the only leftover a crash (not a cancel) can leave is
//! a `.deepagent-tmp-*` file, swept as described above. A dropped
//! `execute` is the exception that stops: its supervisor kills the
//! command's whole tree (see above); the output is discarded. Outside a tokio runtime
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
mod ignores;
mod jail;
mod locks;
mod ops;
mod read;
mod search;
#[cfg(target_os = "linux")]
mod supervisor;
mod sweep;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use deepagent_core::{
    Backend, BackendError, BackendInfo, EditResult, ExecuteResponse, FileInfo, GlobQuery,
    GlobResult, GrepQuery, GrepResult, ReadSlice, Result, Sandbox, VPath, WriteResult,
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

    /// Runs a short single-file step on the calling worker when the caller
    /// is a task on tokio's multi-thread runtime, through `block_in_place`
    /// (the worker's other tasks move to another thread meanwhile, so the
    /// runtime is not blocked); everywhere else as [`Self::blocking`]. A
    /// `spawn_blocking` round trip costs ~25 µs on a 2-core VM, more than
    /// writing a small file; `block_in_place` ~1 µs.
    ///
    /// Not in `block_on`'s own future: that is usually the main thread,
    /// and glibc's main heap gives freed large buffers back to the kernel
    /// at once, so a 400 KB edit there faults its pages in again each time
    /// (1,000 such edits: 0.9 s against 0.6 s on a pool thread). Not on the
    /// current-thread runtime, where `block_in_place` is not allowed. Long
    /// or unbounded work (walks, listings, the shell) always goes to
    /// [`Self::blocking`], where it can run beside other futures of the
    /// same task and be abandoned by a timeout or cancellation.
    async fn in_place<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Arc<config::Config>) -> Result<T> + Send + 'static,
    {
        use tokio::runtime::{Handle, RuntimeFlavor};
        let on_worker = tokio::task::try_id().is_some()
            && Handle::try_current()
                .is_ok_and(|handle| handle.runtime_flavor() == RuntimeFlavor::MultiThread);
        if on_worker {
            tokio::task::block_in_place(|| work(&self.config))
        } else {
            self.blocking(work).await
        }
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
                .map_err(|e| {
                    BackendError::other_with_source(format!("LocalBackend worker failed: {e}"), e)
                })?,
            Err(_) => work(&cfg),
        }
    }
}

#[async_trait]
impl Backend for LocalBackend {
    fn name(&self) -> &str {
        "LocalBackend"
    }

    fn info(&self) -> BackendInfo {
        ops::info(&self.config)
    }

    /// Through checked directory handles (`unlinkat`), never following a
    /// link: a link is removed, not its target.
    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let path = VPath::new(path)?;
        self.blocking(move |cfg| ops::delete(cfg, &path, recursive))
            .await
    }

    /// One `renameat` between checked directory handles: atomic on one
    /// filesystem.
    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (from, to) = (VPath::new(from)?, VPath::new(to)?);
        self.in_place(move |cfg| ops::rename(cfg, &from, &to)).await
    }

    async fn exists(&self, path: &str) -> Result<bool> {
        let path = VPath::new(path)?;
        self.in_place(move |cfg| files::exists(cfg, &path)).await
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        let path = VPath::new(path)?;
        self.blocking(move |cfg| files::ls(cfg, &path)).await
    }

    async fn read_bytes(&self, path: &str) -> Result<Bytes> {
        let path = VPath::new(path)?;
        self.in_place(move |cfg| files::read_bytes(cfg, &path))
            .await
    }

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadSlice> {
        let path = VPath::new(path)?;
        self.in_place(move |cfg| read::read(cfg, &path, offset, limit))
            .await
    }

    async fn write(&self, path: &str, content: Bytes) -> Result<WriteResult> {
        let path = VPath::new(path)?;
        self.in_place(move |cfg| files::write(cfg, &path, &content))
            .await
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: deepagent_core::Replace,
    ) -> Result<EditResult> {
        let path = VPath::new(path)?;
        let (old, new) = (old.to_owned(), new.to_owned());
        self.in_place(move |cfg| files::edit(cfg, &path, &old, &new, replace_all))
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

    /// Resolves through the same path jail every operation uses: each
    /// link on the way is followed, and the answer is the virtual path of
    /// where it lands. A link leading out of the root (or the allowed
    /// directories) is `None`: every operation refuses it anyway.
    async fn resolve_links(&self, paths: &[String]) -> Result<Vec<Option<String>>> {
        let paths = paths
            .iter()
            .map(|p| VPath::new(p))
            .collect::<Result<Vec<_>>>()?;
        self.blocking(move |cfg| Ok(real_vpaths(cfg, &paths))).await
    }

    fn as_sandbox(&self) -> Option<&dyn Sandbox> {
        if self.config.enable_execute {
            Some(self)
        } else {
            None
        }
    }
}

/// Sets its flag when dropped: tells a running `execute` that its caller
/// is gone.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The virtual path `path` really names: the jail's resolution mapped back
/// below the root, or `None` when it leads outside (or cannot be named).
fn real_vpath(cfg: &config::Config, path: &VPath) -> Option<(VPath, std::path::PathBuf)> {
    let host = cfg.jail.resolve(path, jail::Reach::Browse).ok()?.host;
    let rel = host.strip_prefix(cfg.jail.root()).ok()?;
    Some((jail::join_relative(&VPath::root(), rel)?, host))
}

/// [`real_vpath`] of each path. Siblings (what an `ls` lists) share their
/// parent's resolution and an open handle on it, so each costs one
/// `fstatat` unless it is itself a link (or not a file or directory),
/// which the jail then resolves in full. Only without allowed
/// directories: with them, every path takes the jail's full check.
fn real_vpaths(cfg: &config::Config, paths: &[VPath]) -> Vec<Option<String>> {
    let shortcut = cfg.jail.inside(&VPath::root());
    let mut parent: Option<(VPath, Option<(VPath, std::fs::File)>)> = None;
    paths
        .iter()
        .map(|p| {
            if let (true, Some(dir), Some(name)) = (shortcut, p.parent(), p.file_name()) {
                if parent.as_ref().map(|(d, _)| d) != Some(&dir) {
                    let opened = real_vpath(cfg, &dir).and_then(|(real, host)| {
                        let handle = std::fs::File::open(host).ok()?;
                        // The handle is where the jail said, not a link
                        // swapped in since.
                        cfg.jail
                            .verify_open(&dir, &handle, jail::Reach::Browse)
                            .ok()?;
                        Some((real, handle))
                    });
                    parent = Some((dir, opened));
                }
                if let Some((_, Some((real_dir, handle)))) = &parent {
                    // Nothing there yet is nothing to follow: the jail
                    // would append it as is.
                    if let Ok(dirfd::Entry::Dir | dirfd::Entry::File(_) | dirfd::Entry::Missing) =
                        dirfd::entry_at(handle, std::ffi::OsStr::new(name))
                    {
                        return Some(real_dir.child(name).into_string());
                    }
                }
            }
            real_vpath(cfg, p).map(|(v, _)| v.into_string())
        })
        .collect()
}

#[async_trait]
impl Sandbox for LocalBackend {
    fn id(&self) -> &str {
        &self.config.id
    }

    /// Runs `command` with `sh -c` in the root directory; see the
    /// [crate docs](crate) for the timeout and output rules. Dropping the
    /// returned future kills the command and everything it started (on
    /// Linux, within about 20 ms). Unsupported when execute is disabled;
    /// PermissionDenied when read-only.
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
        // Dropping this future (a cancelled run, a caller's own timeout)
        // drops the guard, and the worker then kills the whole command
        // within one poll tick.
        let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
        let flag = cancel.0.clone();
        self.blocking(move |cfg| exec::execute(cfg, &command, timeout, &flag))
            .await
    }
}
