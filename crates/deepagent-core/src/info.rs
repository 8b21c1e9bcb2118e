//! What a backend is and what it can do: [`BackendInfo`], returned by
//! [`Backend::info`](crate::Backend::info).
//!
//! In the manner of OpenDAL's `Capability`: callers (an agent describing
//! its filesystem to the model, a test suite choosing its cases, a program
//! deciding whether to offer a shell) ask the backend instead of matching
//! its name or downcasting it. Every layer forwards the inner backend's
//! info and adjusts what it changes (`ReadOnly` turns writing off); a
//! router lists its mounts.

/// Whether what a backend stores outlives the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Durability {
    /// Stored somewhere that outlives the program (a disk, a remote store).
    Durable,
    /// Gone when the program, or the sandbox holding the files, ends.
    Ephemeral,
    /// A router whose mounts differ; ask each [`Mount`].
    Mixed,
    /// The backend did not say.
    Unknown,
}

/// The optional operations a backend supports. Reading, listing and
/// searching are always supported.
///
/// Build one from [`Capabilities::read_only`] or
/// [`Capabilities::read_write`] and the `with_*` methods; the fields are
/// public to read.
///
/// ```
/// use deepagent_core::Capabilities;
/// let caps = Capabilities::read_write().with_delete().with_rename();
/// assert!(caps.write && caps.delete && caps.rename);
/// assert!(!caps.execute);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Capabilities {
    /// `write`, `edit` and `upload` can change files.
    pub write: bool,
    /// `execute` runs commands ([`Backend::as_sandbox`](crate::Backend::as_sandbox) is `Some`).
    pub execute: bool,
    /// `delete` removes files and (recursively) directories.
    pub delete: bool,
    /// `rename` moves a file or directory within the backend.
    pub rename: bool,
    /// A `rename` is atomic: a concurrent reader sees the old path or the
    /// new one, never neither and never a partial file.
    pub atomic_rename: bool,
    /// `upload` and `download` move many files in one round trip (one
    /// request, one lock), rather than the default loop over
    /// `write`/`read_bytes`.
    pub native_batch: bool,
}

impl Capabilities {
    /// Reads only: nothing optional.
    pub const fn read_only() -> Self {
        Capabilities {
            write: false,
            execute: false,
            delete: false,
            rename: false,
            atomic_rename: false,
            native_batch: false,
        }
    }

    /// Reads and writes, and nothing else optional: what the trait's
    /// default methods give a backend that implements only the required
    /// ones.
    pub const fn read_write() -> Self {
        Capabilities {
            write: true,
            ..Self::read_only()
        }
    }

    /// Adds `execute`.
    pub const fn with_execute(mut self) -> Self {
        self.execute = true;
        self
    }

    /// Adds `delete`.
    pub const fn with_delete(mut self) -> Self {
        self.delete = true;
        self
    }

    /// Adds `rename`.
    pub const fn with_rename(mut self) -> Self {
        self.rename = true;
        self
    }

    /// Adds `rename`, atomic.
    pub const fn with_atomic_rename(mut self) -> Self {
        self.rename = true;
        self.atomic_rename = true;
        self
    }

    /// Says `upload`/`download` are native batches.
    pub const fn with_native_batch(mut self) -> Self {
        self.native_batch = true;
        self
    }

    /// The same with every changing operation off (`write`, `delete`,
    /// `rename`, `execute`): what a read-only layer advertises.
    pub const fn without_changes(self) -> Self {
        Capabilities {
            native_batch: self.native_batch,
            ..Self::read_only()
        }
    }

    /// What holds on both (a router's view: a caller may rely on a
    /// capability only where every mount has it).
    pub fn intersect(self, other: Capabilities) -> Self {
        Capabilities {
            write: self.write && other.write,
            execute: self.execute && other.execute,
            delete: self.delete && other.delete,
            rename: self.rename && other.rename,
            atomic_rename: self.atomic_rename && other.atomic_rename,
            native_batch: self.native_batch && other.native_batch,
        }
    }
}

impl Default for Capabilities {
    fn default() -> Self {
        Self::read_write()
    }
}

/// Sizes past which a backend refuses an operation (`None`: no limit of
/// its own).
///
/// ```
/// use deepagent_core::Limits;
/// let limits = Limits::none().with_max_read_bytes(10 << 20);
/// assert_eq!(limits.max_read_bytes, Some(10 << 20));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct Limits {
    /// The largest file `read_bytes`/`read` return whole
    /// ([`TooLarge`](crate::BackendError::TooLarge) past it).
    pub max_read_bytes: Option<u64>,
    /// The most bytes one `upload` (or `download`) moves in one call.
    pub max_batch_bytes: Option<u64>,
    /// The most bytes of output `execute` keeps.
    pub max_output_bytes: Option<usize>,
}

impl Limits {
    /// No limits.
    pub const fn none() -> Self {
        Limits {
            max_read_bytes: None,
            max_batch_bytes: None,
            max_output_bytes: None,
        }
    }

    /// Sets [`Limits::max_read_bytes`].
    pub const fn with_max_read_bytes(mut self, bytes: u64) -> Self {
        self.max_read_bytes = Some(bytes);
        self
    }

    /// Sets [`Limits::max_batch_bytes`].
    pub const fn with_max_batch_bytes(mut self, bytes: u64) -> Self {
        self.max_batch_bytes = Some(bytes);
        self
    }

    /// Sets [`Limits::max_output_bytes`].
    pub const fn with_max_output_bytes(mut self, bytes: usize) -> Self {
        self.max_output_bytes = Some(bytes);
        self
    }
}

/// One mount of a router, as listed in [`BackendInfo::mounts`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mount {
    /// The prefix with a trailing `/`, e.g. `/project/`; `/` for the
    /// backend that takes every path no other mount matches.
    pub prefix: String,
    /// The mounted backend.
    pub info: BackendInfo,
}

impl Mount {
    /// `info` mounted at `prefix` (which should end with `/`).
    pub fn new(prefix: impl Into<String>, info: BackendInfo) -> Self {
        Mount {
            prefix: prefix.into(),
            info,
        }
    }

    /// True for the router's default (the mount at `/`).
    pub fn is_default(&self) -> bool {
        self.prefix == "/"
    }
}

/// What a backend is and what it can do; see [`Backend::info`](crate::Backend::info).
///
/// ```
/// use deepagent_core::{BackendInfo, Capabilities, Durability};
/// let info = BackendInfo::new("MapBackend", Durability::Ephemeral)
///     .with_summary("in memory; gone when the program ends")
///     .with_capabilities(Capabilities::read_write().with_delete());
/// assert_eq!(info.describe(), "MapBackend (in memory; gone when the program ends)");
/// assert_eq!(
///     info.clone().with_capabilities(Capabilities::read_only()).describe(),
///     "MapBackend (in memory; gone when the program ends; read-only)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackendInfo {
    /// The implementation, e.g. `LocalBackend`. Layers keep their inner
    /// backend's kind (a read-only `LocalBackend` is still one); see
    /// [`Backend::name`](crate::Backend::name) for the decorated name.
    pub kind: String,
    /// Whether the files outlive the program.
    pub durability: Durability,
    /// Where the files live and how long, in a few words a model reads
    /// (e.g. `files on disk; they persist`); empty when unknown.
    pub summary: String,
    /// The optional operations supported.
    pub capabilities: Capabilities,
    /// Size limits.
    pub limits: Limits,
    /// For a router, its mounts (the default as the mount at `/`), sorted
    /// by prefix; empty otherwise.
    pub mounts: Vec<Mount>,
}

impl BackendInfo {
    /// A backend of `kind` that reads and writes, with no summary, limits
    /// or mounts.
    pub fn new(kind: impl Into<String>, durability: Durability) -> Self {
        BackendInfo {
            kind: kind.into(),
            durability,
            summary: String::new(),
            capabilities: Capabilities::read_write(),
            limits: Limits::none(),
            mounts: Vec::new(),
        }
    }

    /// Sets [`BackendInfo::summary`].
    pub fn with_summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = summary.into();
        self
    }

    /// Sets [`BackendInfo::capabilities`].
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Sets [`BackendInfo::limits`].
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets [`BackendInfo::mounts`] (sorted by prefix here).
    pub fn with_mounts(mut self, mut mounts: Vec<Mount>) -> Self {
        mounts.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        self.mounts = mounts;
        self
    }

    /// The same info with every changing operation off, also on each
    /// mount: what a read-only layer reports.
    pub fn into_read_only(mut self) -> Self {
        self.capabilities = self.capabilities.without_changes();
        for mount in &mut self.mounts {
            let info = std::mem::replace(
                &mut mount.info,
                BackendInfo::new(String::new(), Durability::Unknown),
            );
            mount.info = info.into_read_only();
        }
        self
    }

    /// One line for a person or a model: the kind, then the summary and
    /// `read-only` when writing is off, e.g.
    /// `LocalBackend (files on disk; they persist)`.
    pub fn describe(&self) -> String {
        let mut notes: Vec<&str> = Vec::new();
        if !self.summary.is_empty() {
            notes.push(&self.summary);
        }
        if !self.capabilities.write {
            notes.push("read-only");
        }
        if notes.is_empty() {
            self.kind.clone()
        } else {
            format!("{} ({})", self.kind, notes.join("; "))
        }
    }
}
