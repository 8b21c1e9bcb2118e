//! The one error type every backend returns.
//!
//! Messages are written for two readers: the developer who sees them in a
//! log, and the model that sees them as a tool result. Each names the path
//! (or pattern, or operation) and says what to do next.

use std::time::Duration;

/// Result alias used throughout deepagent.
pub type Result<T, E = BackendError> = std::result::Result<T, E>;

/// Everything that can go wrong in a backend operation.
///
/// The agent's tool layer turns these into text for the model with
/// `to_string()`; a backend never formats errors as successful output.
///
/// ```
/// use deepagent_core::BackendError;
/// let err = BackendError::not_found("/src/app.py");
/// assert!(err.to_string().contains("/src/app.py"));
/// assert!(err.is_not_found());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// No file (or directory, for `ls`) is stored at the path.
    #[error("not found: {path} (check the path with ls or glob)")]
    NotFound {
        /// The path as the caller sees it.
        path: String,
    },
    /// A file operation was given a directory.
    #[error("{path} is a directory, not a file (use ls to list it)")]
    IsADirectory {
        /// The directory path.
        path: String,
    },
    /// A directory operation was given a file, or a file sits where a
    /// directory is needed (e.g. writing `/a/b` when `/a` is a file).
    #[error("{path} is a file, not a directory")]
    NotADirectory {
        /// The file path.
        path: String,
    },
    /// Something already exists where the operation would create it.
    #[error("{path} already exists")]
    AlreadyExists {
        /// The path.
        path: String,
    },
    /// The path cannot be used: it climbs above `/`, contains NUL, starts
    /// with `~`, or is a drive-letter path.
    #[error("invalid path {path:?}: {reason} (use a path under /, such as /src/main.rs)")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Why it was refused.
        reason: String,
    },
    /// The operation is not allowed on this path: a read-only mount, a
    /// permission rule, or a path outside the backend's root.
    #[error("permission denied: {path}: {reason}")]
    PermissionDenied {
        /// The path (or command) refused.
        path: String,
        /// Why.
        reason: String,
    },
    /// A regex or glob pattern does not compile.
    #[error("invalid pattern {pattern:?}: {reason}")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// The parser's message.
        reason: String,
    },
    /// An argument is unusable (e.g. an empty `old_string`).
    #[error("invalid argument: {message}")]
    InvalidArgument {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// `edit` found no occurrence of the old string.
    #[error("edit failed: the text to replace was not found in {path} (read the file and copy the text exactly, including whitespace)")]
    EditNotFound {
        /// The file.
        path: String,
    },
    /// `edit` found several occurrences and `replace_all` was not set.
    #[error("edit failed: the text to replace occurs {occurrences} times in {path} (add surrounding lines to make it unique, or set replace_all)")]
    EditAmbiguous {
        /// The file.
        path: String,
        /// How many non-overlapping occurrences there are.
        occurrences: usize,
    },
    /// A read started past the end of the file.
    #[error("offset {offset} is past the end of {path}, which has {total_lines} lines (use an offset below {total_lines})")]
    OffsetOutOfRange {
        /// The file.
        path: String,
        /// The 0-based line offset asked for.
        offset: usize,
        /// The file's line count.
        total_lines: usize,
    },
    /// The file is larger than the backend is configured to read whole.
    #[error("{path} is {size} bytes, over the read limit of {limit} bytes (read a slice with offset and limit instead)")]
    TooLarge {
        /// The file.
        path: String,
        /// Its size in bytes.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// The backend cannot do this at all (e.g. `execute` on a store).
    #[error("{operation} is not supported by {backend}")]
    Unsupported {
        /// The operation, e.g. `execute`.
        operation: String,
        /// The backend's name, e.g. `StateBackend`.
        backend: String,
    },
    /// The operation ran out of time.
    #[error("{operation} timed out after {:.1}s", .after.as_secs_f64())]
    Timeout {
        /// What timed out.
        operation: String,
        /// The limit that was hit.
        after: Duration,
    },
    /// An I/O error, with the path it happened on.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A service the backend depends on (a container engine, a remote
    /// store) did not answer. Retrying later may succeed
    /// ([`BackendError::is_temporary`] is true).
    #[error("{message}")]
    Unavailable {
        /// What could not be reached and how to bring it back.
        message: String,
        /// The transport error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The sandbox this backend runs in (a container) has died or was
    /// removed; its files went with it. Retrying does not help: create a
    /// new sandbox.
    #[error("{message}")]
    SandboxGone {
        /// The sandbox's id or name.
        sandbox: String,
        /// What happened and what to do, naming the sandbox.
        message: String,
    },
    /// Any other backend failure (an engine error, a protocol error, ...),
    /// with the error that caused it when there is one.
    ///
    /// Build it with [`BackendError::other`] or
    /// [`BackendError::other_with_source`].
    #[error("{message}")]
    Other {
        /// What failed, naming the path or sandbox.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
}

/// A boxed error that can cross threads: the `source` of the catch-all
/// and service variants.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl BackendError {
    /// A [`BackendError::NotFound`] for `path`.
    pub fn not_found(path: impl Into<String>) -> Self {
        Self::NotFound { path: path.into() }
    }

    /// A [`BackendError::InvalidPath`].
    pub fn invalid_path(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidPath {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// A [`BackendError::PermissionDenied`].
    pub fn permission_denied(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::PermissionDenied {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// A [`BackendError::InvalidPattern`].
    pub fn invalid_pattern(pattern: impl Into<String>, reason: impl ToString) -> Self {
        Self::InvalidPattern {
            pattern: pattern.into(),
            reason: reason.to_string(),
        }
    }

    /// A [`BackendError::Unsupported`].
    pub fn unsupported(operation: impl Into<String>, backend: impl Into<String>) -> Self {
        Self::Unsupported {
            operation: operation.into(),
            backend: backend.into(),
        }
    }

    /// A [`BackendError::Io`], mapping the common kinds to their own
    /// variants so callers can match on `NotFound` whatever the backend.
    pub fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        let path = path.into();
        match source.kind() {
            std::io::ErrorKind::NotFound => Self::NotFound { path },
            std::io::ErrorKind::IsADirectory => Self::IsADirectory { path },
            std::io::ErrorKind::NotADirectory => Self::NotADirectory { path },
            std::io::ErrorKind::AlreadyExists => Self::AlreadyExists { path },
            std::io::ErrorKind::PermissionDenied => Self::PermissionDenied {
                path,
                reason: source.to_string(),
            },
            _ => Self::Io { path, source },
        }
    }

    /// A [`BackendError::Other`] without a source.
    ///
    /// ```
    /// use deepagent_core::{BackendError, ErrorKind};
    /// let e = BackendError::other("the engine sent a malformed answer for /a.txt");
    /// assert_eq!(e.kind(), ErrorKind::Other);
    /// ```
    pub fn other(message: impl Into<String>) -> Self {
        Self::Other {
            message: message.into(),
            source: None,
        }
    }

    /// A [`BackendError::Other`] caused by `source`, which stays reachable
    /// through [`std::error::Error::source`].
    ///
    /// ```
    /// use std::error::Error;
    /// use deepagent_core::BackendError;
    /// let io = std::io::Error::other("socket closed");
    /// let e = BackendError::other_with_source("list of /src failed", io);
    /// assert_eq!(e.source().map(|s| s.to_string()).as_deref(), Some("socket closed"));
    /// ```
    pub fn other_with_source(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Other {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A [`BackendError::Unavailable`]: `message` names the service and
    /// says how to bring it back.
    ///
    /// ```
    /// use deepagent_core::BackendError;
    /// let e = BackendError::unavailable("the engine at unix:///run/docker.sock is not reachable", None);
    /// assert!(e.is_temporary());
    /// ```
    pub fn unavailable(message: impl Into<String>, source: Option<BoxError>) -> Self {
        Self::Unavailable {
            message: message.into(),
            source,
        }
    }

    /// A [`BackendError::SandboxGone`] for `sandbox`; `message` says what
    /// happened and what to do.
    ///
    /// ```
    /// use deepagent_core::{BackendError, ErrorKind};
    /// let e = BackendError::sandbox_gone("box-1", "sandbox box-1 is no longer running; create a new one");
    /// assert_eq!(e.kind(), ErrorKind::SandboxGone);
    /// assert!(!e.is_temporary());
    /// ```
    pub fn sandbox_gone(sandbox: impl Into<String>, message: impl Into<String>) -> Self {
        Self::SandboxGone {
            sandbox: sandbox.into(),
            message: message.into(),
        }
    }

    /// The [`BackendError::InvalidArgument`] for `delete` or `rename` of
    /// `/`, which no backend does: the root is where everything else lives.
    pub fn refused_on_root(operation: &str) -> Self {
        Self::InvalidArgument {
            message: format!(
                "{operation} of / refused: the root cannot be removed or moved; {operation} the entries below it instead"
            ),
        }
    }

    /// True for [`BackendError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// True when the same call may succeed if retried later: a service
    /// that did not answer, an operation that ran out of time, or an I/O
    /// error of a transient kind (interrupted, timed out, connection
    /// reset). Everything else fails the same way again until something
    /// changes, including [`BackendError::SandboxGone`] (a new sandbox is
    /// needed, not a retry).
    ///
    /// ```
    /// use std::time::Duration;
    /// use deepagent_core::BackendError;
    /// assert!(BackendError::Timeout { operation: "read /a".into(), after: Duration::from_secs(1) }.is_temporary());
    /// assert!(!BackendError::not_found("/a").is_temporary());
    /// ```
    pub fn is_temporary(&self) -> bool {
        match self {
            Self::Unavailable { .. } | Self::Timeout { .. } => true,
            Self::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::BrokenPipe
            ),
            _ => false,
        }
    }

    /// The kind of error, for matching without destructuring.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::IsADirectory { .. } => ErrorKind::IsADirectory,
            Self::NotADirectory { .. } => ErrorKind::NotADirectory,
            Self::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Self::InvalidPath { .. } => ErrorKind::InvalidPath,
            Self::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            Self::InvalidPattern { .. } => ErrorKind::InvalidPattern,
            Self::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Self::EditNotFound { .. } => ErrorKind::EditNotFound,
            Self::EditAmbiguous { .. } => ErrorKind::EditAmbiguous,
            Self::OffsetOutOfRange { .. } => ErrorKind::OffsetOutOfRange,
            Self::TooLarge { .. } => ErrorKind::TooLarge,
            Self::Unsupported { .. } => ErrorKind::Unsupported,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::Io { .. } => ErrorKind::Io,
            Self::Unavailable { .. } => ErrorKind::Unavailable,
            Self::SandboxGone { .. } => ErrorKind::SandboxGone,
            Self::Other { .. } => ErrorKind::Other,
        }
    }

    /// Rewrites every path this error names with `f`.
    ///
    /// A router (see `deepagent-composite`) uses this to put its mount
    /// prefix back, so the caller sees paths in its own terms.
    pub fn map_path(self, f: impl Fn(&str) -> String) -> Self {
        match self {
            Self::NotFound { path } => Self::NotFound { path: f(&path) },
            Self::IsADirectory { path } => Self::IsADirectory { path: f(&path) },
            Self::NotADirectory { path } => Self::NotADirectory { path: f(&path) },
            Self::AlreadyExists { path } => Self::AlreadyExists { path: f(&path) },
            Self::InvalidPath { path, reason } => Self::InvalidPath {
                path: f(&path),
                reason,
            },
            Self::PermissionDenied { path, reason } => Self::PermissionDenied {
                path: f(&path),
                reason,
            },
            Self::EditNotFound { path } => Self::EditNotFound { path: f(&path) },
            Self::EditAmbiguous { path, occurrences } => Self::EditAmbiguous {
                path: f(&path),
                occurrences,
            },
            Self::OffsetOutOfRange {
                path,
                offset,
                total_lines,
            } => Self::OffsetOutOfRange {
                path: f(&path),
                offset,
                total_lines,
            },
            Self::TooLarge { path, size, limit } => Self::TooLarge {
                path: f(&path),
                size,
                limit,
            },
            Self::Io { path, source } => Self::Io {
                path: f(&path),
                source,
            },
            other => other,
        }
    }
}

/// The kind of a [`BackendError`], without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum ErrorKind {
    NotFound,
    IsADirectory,
    NotADirectory,
    AlreadyExists,
    InvalidPath,
    PermissionDenied,
    InvalidPattern,
    InvalidArgument,
    EditNotFound,
    EditAmbiguous,
    OffsetOutOfRange,
    TooLarge,
    Unsupported,
    Timeout,
    Io,
    /// A service did not answer ([`BackendError::Unavailable`]).
    Unavailable,
    /// The sandbox died ([`BackendError::SandboxGone`]).
    SandboxGone,
    /// The catch-all ([`BackendError::Other`]).
    Other,
}
