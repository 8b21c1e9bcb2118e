//! The builder and the settings a [`LocalBackend`](crate::LocalBackend)
//! shares between its clones.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use deepagent_core::{BackendError, Result, VPath, DEFAULT_EXECUTE_TIMEOUT, DEFAULT_OUTPUT_LIMIT};

use crate::jail::Jail;
use crate::locks::LockSet;
use crate::LocalBackend;

/// Settings fixed when the backend is built.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) jail: Jail,
    pub(crate) id: String,
    pub(crate) enable_execute: bool,
    pub(crate) read_only: bool,
    pub(crate) max_read_bytes: Option<u64>,
    pub(crate) output_limit: usize,
    pub(crate) default_timeout: Duration,
    pub(crate) sync_writes: bool,
    pub(crate) grep_line_limit: usize,
    pub(crate) locks: LockSet,
}

/// Configures a [`LocalBackend`]; start with [`LocalBackend::builder`].
///
/// ```
/// use std::time::Duration;
/// use deepagent_local::LocalBackend;
///
/// let dir = tempfile::tempdir()?;
/// let backend = LocalBackend::builder(dir.path())
///     .enable_execute(false)
///     .allowed_directories(["/src", "/docs"])
///     .max_read_bytes(10 * 1024 * 1024)
///     .default_timeout(Duration::from_secs(30))
///     .build()?;
/// assert!(deepagent_core::Backend::as_sandbox(&backend).is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct LocalBackendBuilder {
    root: PathBuf,
    enable_execute: bool,
    read_only: bool,
    allowed: Vec<String>,
    max_read_bytes: Option<u64>,
    output_limit: usize,
    default_timeout: Duration,
    sync_writes: bool,
    grep_line_limit: usize,
}

impl LocalBackendBuilder {
    pub(crate) fn new(root: PathBuf) -> Self {
        LocalBackendBuilder {
            root,
            enable_execute: true,
            read_only: false,
            allowed: Vec::new(),
            max_read_bytes: None,
            output_limit: DEFAULT_OUTPUT_LIMIT,
            default_timeout: DEFAULT_EXECUTE_TIMEOUT,
            sync_writes: true,
            grep_line_limit: crate::DEFAULT_GREP_LINE_LIMIT,
        }
    }

    /// Whether `execute` runs shell commands (default true). When false the
    /// backend is not a [`Sandbox`](deepagent_core::Sandbox):
    /// `as_sandbox()` is `None` and `execute` returns `Unsupported`.
    pub fn enable_execute(mut self, yes: bool) -> Self {
        self.enable_execute = yes;
        self
    }

    /// Refuses `write`, `edit` and `execute` with `PermissionDenied`
    /// (default false).
    pub fn read_only(mut self, yes: bool) -> Self {
        self.read_only = yes;
        self
    }

    /// Virtual directories (e.g. `/src`) that are the only ones reachable;
    /// any other path is `PermissionDenied`. Their parents can still be
    /// listed and searched, showing only the way to the allowed
    /// directories. Empty (the default) allows everything under the root.
    pub fn allowed_directories<I, S>(mut self, dirs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.allowed = dirs.into_iter().map(|d| d.as_ref().to_owned()).collect();
        self
    }

    /// Whole-file reads (`read_bytes`, `edit`) of files larger than this are
    /// `TooLarge` (default: no limit). `read` of a line slice streams and
    /// is never limited.
    pub fn max_read_bytes(mut self, bytes: u64) -> Self {
        self.max_read_bytes = Some(bytes);
        self
    }

    /// Bytes of command output `execute` keeps (default
    /// [`DEFAULT_OUTPUT_LIMIT`]).
    pub fn output_limit(mut self, bytes: usize) -> Self {
        self.output_limit = bytes;
        self
    }

    /// How long `execute` lets a command run when the caller gives no
    /// timeout (default [`DEFAULT_EXECUTE_TIMEOUT`], 120 s).
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.default_timeout = timeout;
        self
    }

    /// Whether `write` and `edit` fsync the new content before renaming it
    /// into place (default true). Without it a reader still never sees half
    /// a file, but a power cut may lose the latest write.
    pub fn sync_writes(mut self, yes: bool) -> Self {
        self.sync_writes = yes;
        self
    }

    /// The longest line, in bytes, `grep` will hold in memory (default
    /// [`DEFAULT_GREP_LINE_LIMIT`](crate::DEFAULT_GREP_LINE_LIMIT), 8 MiB).
    /// A file with a longer line is skipped, like a binary file, so one
    /// minified bundle or corrupt log cannot take gigabytes. Each search
    /// thread may hold this much at once (up to 8 threads).
    pub fn grep_line_limit(mut self, bytes: usize) -> Self {
        self.grep_line_limit = bytes;
        self
    }

    /// Creates the root directory if missing and builds the backend.
    ///
    /// Unless read-only, it also removes temporary files that crashed
    /// writes left under the root more than 15 minutes ago (best effort,
    /// looking at no more than 20,000 entries; see
    /// [`LocalBackend::sweep_temp_files`]).
    ///
    /// Fails when the root cannot be created or resolved, or when an
    /// allowed directory is not a valid virtual path.
    pub fn build(self) -> Result<LocalBackend> {
        let shown = self.root.display().to_string();
        std::fs::create_dir_all(&self.root).map_err(|e| BackendError::io(&shown, e))?;
        let root = std::fs::canonicalize(&self.root).map_err(|e| BackendError::io(&shown, e))?;
        if !root.is_dir() {
            return Err(BackendError::NotADirectory { path: shown });
        }
        let allowed = self
            .allowed
            .iter()
            .map(|d| VPath::new(d))
            .collect::<Result<Vec<_>>>()?;
        if !self.read_only {
            // Best effort: debris must never stop the backend from working.
            let _ = crate::sweep::sweep(
                &root,
                crate::sweep::BUILD_SWEEP_AGE,
                crate::sweep::BUILD_SWEEP_BUDGET,
            );
        }
        let id = root.display().to_string();
        Ok(LocalBackend {
            config: Arc::new(Config {
                jail: Jail::new(root, allowed),
                id,
                enable_execute: self.enable_execute,
                read_only: self.read_only,
                max_read_bytes: self.max_read_bytes,
                output_limit: self.output_limit,
                default_timeout: self.default_timeout,
                sync_writes: self.sync_writes,
                grep_line_limit: self.grep_line_limit,
                locks: LockSet::new(),
            }),
        })
    }
}
