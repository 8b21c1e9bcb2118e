//! Small-file reads, writes and lookups over the persistent shells.
//!
//! Why two paths for file content:
//!
//! - **Shell path (here)**: every archive call (`download_from_container`,
//!   `upload_to_container`) costs the engine 70-120 ms on docker.io 20.10,
//!   so an agent writing many small files spends minutes waiting. A
//!   request on an already open shell (see `shell`) is one round trip on a
//!   stream plus a few forks in the container: ~5 ms. Files are handled by
//!   shells of their own, running as the command user (`run_as_uid`, else
//!   root), so a file tool can read and write exactly what a command can.
//! - **Archive path (`files`)**: the fallback. Past a size the shell loses
//!   (a read's bytes go through a temp copy and the attached stream, which
//!   is slower per byte than an archive download; see [`SHELL_READ_MAX`]
//!   and [`SHELL_WRITE_MAX`]), for containers whose image lacks the tools
//!   the in-shell snippets use (`base64`, `dd` with `iflag=fullblock`,
//!   `stat`, `readlink`, ...), and for any request whose shell broke
//!   mid-way: reads and whole-file writes are idempotent, so doing one
//!   again through the archive API is safe, and it reports a dead
//!   container or engine with the usual errors. The archive API acts as
//!   root, so it stands in only when the command user is root; for any
//!   other user, `userfs` runs helper commands as that user instead.

use std::sync::atomic::Ordering;
use std::time::Duration;

use deepagent_core::{BackendError, Result, VPath};

use crate::engine::is_gone_error;
use crate::shell::{FileAnswer, FileOp, RunError, Shell};
use crate::DockerSandbox;

/// The largest write that goes through a shell; bigger content goes as an
/// archive. Measured on docker.io 20.10 over three runs on a shared,
/// noisy machine (`tests/bench.rs`, `bench_shell_vs_archive_by_size`, ms
/// per write, shell vs archive): 1 KiB 5-11 vs 72-122, 1 MiB 14-25 vs
/// 92-103, 2 MiB 23-42 vs 85-109, 4 MiB 42-117 vs 102-202, 8 MiB 103-199
/// vs 162-174, 16 MiB 192-310 vs 142-197. The curves cross between 4 and
/// 16 MiB depending on load; at 4 MiB the shell won every run by at least
/// 1.7x, so writes up to 4 MiB take the shell. The cap also bounds the
/// buffer `dd` takes inside a possibly memory-limited container.
pub(crate) const SHELL_WRITE_MAX: usize = 4 * 1024 * 1024;

/// The largest file a read takes through a shell (bigger files answer
/// "too big" and are read as an archive). Measured as above, ms per read,
/// shell vs archive: 1 KiB 6-18 vs 67-119, 1 MiB 35-56 vs 79-115, 2 MiB
/// 75-96 vs 106-126, 3 MiB 115-126 vs 132-164, 4 MiB 156-228 vs 104-213.
/// A read's bytes cross the attached stream more slowly than an archive
/// download, so the curves cross near 3 MiB; reads up to 2 MiB (where the
/// shell won every run) take the shell.
pub(crate) const SHELL_READ_MAX: usize = 2 * 1024 * 1024;

/// How long one file request may take before its shell is dropped.
const FILE_TIMEOUT: Duration = Duration::from_secs(60);

/// The most diagnostics a failed request may answer with.
const DIAGNOSTICS_MAX: usize = 64 * 1024;

/// The statuses the in-shell snippets return (see `shell::SERVER`).
mod status {
    pub const OK: i32 = 0;
    pub const NOT_FOUND: i32 = 2;
    pub const PERMISSION: i32 = 13;
    pub const NOT_A_DIRECTORY: i32 = 20;
    pub const IS_A_DIRECTORY: i32 = 21;
    pub const NOT_REGULAR: i32 = 22;
    pub const TOO_BIG: i32 = 27;
}

/// What the shell path made of an operation.
pub(crate) enum Via<T> {
    /// Done (or failed with a definite answer, as an `Err`).
    Done(T),
    /// Not for the shell path: do it through the archive API.
    Archive,
}

/// The error for reading something that is not a regular file.
pub(crate) fn not_regular(path: &VPath) -> BackendError {
    BackendError::InvalidArgument {
        message: format!(
            "{path} is not a regular file (a device, socket or fifo); it cannot be read"
        ),
    }
}

impl DockerSandbox {
    /// Sends `op` to an idle file shell (or a new one). `None` when the
    /// shell path cannot answer and the archive path must.
    async fn file_request(&self, op: &FileOp<'_>, max_body: usize) -> Result<Option<FileAnswer>> {
        if self.inner.shell_files_off.load(Ordering::Relaxed) {
            return Ok(None);
        }
        if matches!(op, FileOp::Exists { .. }) && self.inner.shell_read_max == 0 {
            // Limits of 0 mean "archive API only", lookups included.
            return Ok(None);
        }
        let target = self.target().await?;
        // Busy shells are never shared: a shell is out of the pool for
        // the whole request, so concurrent requests get shells of their
        // own.
        let idle = self.inner.file_shells.lock().ok().and_then(|mut s| s.pop());
        let mut shell = match idle {
            Some(s) => s,
            // As the command user: a file tool never reads or writes what
            // a command could not.
            None => match Shell::start(&target, self.file_user(), None, "/", 0).await {
                Ok(s) => s,
                // A container that stopped or was removed: say so, as
                // `execute` does (the archive API would still read and
                // write a stopped container's files).
                Err(e) if is_gone_error(&e) => return Err(e),
                Err(e) => {
                    // The server's own complaint (no sh, no writable temp
                    // dir) will not go away: stop paying for a start per
                    // call. A temporary failure (an engine that did not
                    // answer) may, so it keeps the shell path on. Engine errors (a dead container) are for the
                    // archive path to report.
                    if !e.is_temporary() {
                        self.inner.shell_files_off.store(true, Ordering::Relaxed);
                    }
                    return Ok(None);
                }
            },
        };
        if !shell.serves_files() {
            self.inner.shell_files_off.store(true, Ordering::Relaxed);
            return Ok(None);
        }
        match shell.file(&target, op, max_body, FILE_TIMEOUT).await {
            Ok(answer) => {
                if let Ok(mut shells) = self.inner.file_shells.lock() {
                    shells.push(shell);
                }
                Ok(Some(answer))
            }
            Err(RunError { error, .. }) if is_gone_error(&error) => Err(error),
            // The shell is dropped; the archive path redoes the request
            // (safe: see the module docs) and reports what went wrong.
            Err(_) => Ok(None),
        }
    }

    /// Reads a regular file at `path` through a shell.
    pub(crate) async fn read_via_shell(&self, path: &VPath) -> Result<Via<Vec<u8>>> {
        let max = self.inner.shell_read_max;
        if max == 0 {
            return Ok(Via::Archive);
        }
        let op = FileOp::Read {
            path: path.as_str(),
            max,
        };
        let Some(answer) = self.file_request(&op, max.max(DIAGNOSTICS_MAX)).await? else {
            return Ok(Via::Archive);
        };
        match answer.status {
            status::OK => Ok(Via::Done(answer.body)),
            status::TOO_BIG => Ok(Via::Archive),
            status::NOT_FOUND => Err(BackendError::not_found(path.as_str())),
            status::IS_A_DIRECTORY => Err(BackendError::IsADirectory {
                path: path.to_string(),
            }),
            status::NOT_REGULAR => Err(not_regular(path)),
            other => Err(self.failed("reading", path, other, &answer.body)),
        }
    }

    /// Writes `content` to `path` through a shell: a new file gets mode
    /// 0644 and the run-as user; with `keep` (edit), the file a symlink
    /// names is written and keeps its mode and owner.
    pub(crate) async fn write_via_shell(
        &self,
        path: &VPath,
        content: &[u8],
        keep: bool,
    ) -> Result<Via<()>> {
        if content.len() > self.inner.shell_write_max {
            return Ok(Via::Archive);
        }
        if path.is_root() {
            return Err(BackendError::IsADirectory {
                path: path.to_string(),
            });
        }
        let uid = u64::from(self.inner.runtime.run_as_uid.unwrap_or(0));
        let op = FileOp::Write {
            path: path.as_str(),
            content,
            keep,
            mode: 0o644,
            uid,
            gid: uid,
        };
        let Some(answer) = self.file_request(&op, DIAGNOSTICS_MAX).await? else {
            return Ok(Via::Archive);
        };
        match answer.status {
            status::OK => Ok(Via::Done(())),
            status::IS_A_DIRECTORY => Err(BackendError::IsADirectory {
                path: path.to_string(),
            }),
            status::NOT_A_DIRECTORY => Err(BackendError::NotADirectory {
                path: path.to_string(),
            }),
            other => Err(self.failed("writing", path, other, &answer.body)),
        }
    }

    /// Whether a regular file is at `path` (after symlinks), through a
    /// shell.
    pub(crate) async fn exists_via_shell(&self, path: &VPath) -> Result<Via<bool>> {
        let op = FileOp::Exists {
            path: path.as_str(),
        };
        let Some(answer) = self.file_request(&op, DIAGNOSTICS_MAX).await? else {
            return Ok(Via::Archive);
        };
        match answer.status {
            status::OK => Ok(Via::Done(true)),
            status::NOT_FOUND => Ok(Via::Done(false)),
            other => Err(self.failed("looking up", path, other, &answer.body)),
        }
    }

    /// The error for a status the caller has no better mapping for.
    fn failed(&self, doing: &str, path: &VPath, status: i32, body: &[u8]) -> BackendError {
        let detail = String::from_utf8_lossy(body).trim().to_owned();
        if status == status::PERMISSION {
            return BackendError::permission_denied(path.as_str(), detail);
        }
        BackendError::other(format!(
            "{doing} {path} in container {} failed (status {status}): {detail}",
            self.inner.name
        ))
    }
}
