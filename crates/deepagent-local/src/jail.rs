//! Mapping virtual paths onto the host, and keeping them inside the root.
//!
//! A [`VPath`] can never climb above `/` (core refuses `..` that would), so
//! joining it to the root is lexically safe. What remains is symbolic
//! links: a link inside the root may point anywhere. Every explicit path is
//! therefore resolved component by component, each link with
//! `canonicalize`, and the result must stay under the canonical root (and
//! inside the allowed directories, when they are set). Walks never follow
//! links at all.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use deepagent_core::{BackendError, Result, VPath};

/// How far an operation needs to reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Reading or changing the path itself: it must be inside an allowed
    /// directory.
    Inside,
    /// Listing or searching: a parent of an allowed directory is fine too;
    /// the caller then shows only what [`Jail::visible`] admits.
    Browse,
}

/// A resolved path.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// The real host path: every existing symlink resolved, under the root.
    pub(crate) host: PathBuf,
    /// What is at `host`, when resolving already saw it (the last
    /// component was not a link): lets a read refuse a FIFO or device
    /// without opening it. `None` when unknown or missing.
    pub(crate) kind: Option<fs::FileType>,
}

/// The root directory and the allowed virtual directories.
#[derive(Debug)]
pub(crate) struct Jail {
    root: PathBuf,
    allowed: Vec<VPath>,
    /// A handle on the root, held for the kernel's own resolution (see
    /// [`Jail::kernel_root`]); `None` where it could not be opened.
    root_dir: Option<fs::File>,
}

/// Names of the temporary files a write renames into place. They start with
/// `.` so hidden-aware walks skip them; listings skip them always.
pub(crate) const TEMP_PREFIX: &str = ".deepagent-tmp-";

/// True for an in-progress write's temporary file.
pub(crate) fn is_temp_name(name: &OsStr) -> bool {
    name.as_encoded_bytes().starts_with(TEMP_PREFIX.as_bytes())
}

/// The virtual path of `name` inside `parent`, or `None` when the host name
/// cannot be a virtual path component (not UTF-8, or a backslash, which
/// core refuses), so such entries are left out of listings.
pub(crate) fn child_vpath(parent: &VPath, name: &OsStr) -> Option<VPath> {
    let name = name.to_str()?;
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return None;
    }
    Some(parent.child(name))
}

/// The virtual path below `base` for a host-relative path, component by
/// component with the rules of [`child_vpath`].
pub(crate) fn join_relative(base: &VPath, rel: &Path) -> Option<VPath> {
    let mut out = base.clone();
    for comp in rel.components() {
        out = child_vpath(&out, comp.as_os_str())?;
    }
    Some(out)
}

fn escapes(path: &VPath) -> BackendError {
    BackendError::permission_denied(
        path.as_str(),
        "it leads through a symbolic link to a location outside the backend's root",
    )
}

fn not_allowed(path: &VPath, allowed: &[VPath]) -> BackendError {
    let list: Vec<&str> = allowed.iter().map(VPath::as_str).collect();
    BackendError::permission_denied(
        path.as_str(),
        format!("only these directories are accessible: {}", list.join(", ")),
    )
}

impl Jail {
    /// `root` must already be canonical.
    pub(crate) fn new(root: PathBuf, allowed: Vec<VPath>) -> Self {
        let root_dir = crate::dirfd::open_dir_handle(&root).ok();
        Jail {
            root,
            allowed,
            root_dir,
        }
    }

    /// The root handle to resolve below with
    /// [`open_beneath`](crate::dirfd::open_beneath), when that alone keeps
    /// an operation inside: only without allowed directories, whose rules
    /// need a path's real location, which a lookup that refuses every
    /// link does not report. Callers fall back to [`Jail::resolve`] on any
    /// failure, so both ways give the same answers; the kernel's is the
    /// fast one (no `lstat` per component, no `/proc/self/fd` read-back).
    ///
    /// The handle is the root directory as it was when the backend was
    /// built: a lookup that finds nothing below it (the root deleted and
    /// made again) falls back to the path; a root renamed while the
    /// backend lives keeps serving what it holds.
    pub(crate) fn kernel_root(&self) -> Option<&fs::File> {
        if self.allowed.is_empty() {
            self.root_dir.as_ref()
        } else {
            None
        }
    }

    /// The canonical host root.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Whether `path` may appear in a listing or a walk: inside an allowed
    /// directory, or on the way to one.
    pub(crate) fn visible(&self, path: &VPath) -> bool {
        self.reach_of(path).is_some()
    }

    /// True when no allowed directories are set: every path is visible.
    pub(crate) fn everything_visible(&self) -> bool {
        self.allowed.is_empty()
    }

    /// Whether `path` is inside an allowed directory (not just on the way).
    pub(crate) fn inside(&self, path: &VPath) -> bool {
        self.reach_of(path) == Some(Reach::Inside)
    }

    /// The refusal for a path outside the allowed directories.
    pub(crate) fn not_allowed(&self, path: &VPath) -> BackendError {
        not_allowed(path, &self.allowed)
    }

    fn reach_of(&self, path: &VPath) -> Option<Reach> {
        if self.allowed.is_empty() || self.allowed.iter().any(|a| path.starts_with(a)) {
            Some(Reach::Inside)
        } else if self.allowed.iter().any(|a| a.starts_with(path)) {
            Some(Reach::Browse)
        } else {
            None
        }
    }

    /// Resolves `path` to its real host location, refusing anything outside
    /// the root or the allowed directories.
    pub(crate) fn resolve(&self, path: &VPath, reach: Reach) -> Result<Resolved> {
        match self.reach_of(path) {
            Some(r) if r == Reach::Inside || reach == Reach::Browse => {}
            _ => return Err(not_allowed(path, &self.allowed)),
        }
        let (host, kind) = self.resolve_links(path)?;
        if !self.allowed.is_empty() {
            self.check_real_allowed(path, &host, reach)?;
        }
        Ok(Resolved { host, kind })
    }

    /// Walks the components, resolving each symlink met on the way. The
    /// part of the path that does not exist yet is appended as is: nothing
    /// there can be a link.
    fn resolve_links(&self, path: &VPath) -> Result<(PathBuf, Option<fs::FileType>)> {
        let comps: Vec<&str> = path.components().collect();
        let mut cur = self.root.clone();
        let mut kind = None;
        for (i, comp) in comps.iter().enumerate() {
            kind = None;
            let next = cur.join(comp);
            match fs::symlink_metadata(&next) {
                Ok(meta) if meta.file_type().is_symlink() => match fs::canonicalize(&next) {
                    Ok(real) if real.starts_with(&self.root) => cur = real,
                    Ok(_) => return Err(escapes(path)),
                    // A dangling link as the last component: reads find
                    // nothing and a write replaces the link itself (rename
                    // never follows it), so both stay inside.
                    Err(e) if e.kind() == io::ErrorKind::NotFound && i + 1 == comps.len() => {
                        cur = next
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        return Err(BackendError::not_found(path.as_str()))
                    }
                    Err(e) => return Err(io_error(path, e)),
                },
                Ok(meta) => {
                    cur = next;
                    kind = Some(meta.file_type());
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    cur = next;
                    cur.extend(&comps[i + 1..]);
                    return Ok((cur, None));
                }
                Err(e) => return Err(io_error(path, e)),
            }
        }
        Ok((cur, kind))
    }

    /// Whether an open file really lies under the root (true where that
    /// cannot be checked, as [`Jail::verify_open`] does). For files the
    /// backend reads for itself, such as ignore files, which have no
    /// virtual path of their own.
    pub(crate) fn holds(&self, file: &fs::File) -> bool {
        match opened_at(file) {
            Some(real) if real.is_absolute() => real.starts_with(&self.root),
            _ => true,
        }
    }

    /// Checks where an opened file or directory really is. Resolving and
    /// then opening by path leaves a gap in which a directory on the way
    /// could be swapped for a link to outside; the open handle cannot be
    /// swapped, so this closes the gap for whatever is read or written
    /// through it.
    pub(crate) fn verify_open(&self, path: &VPath, file: &fs::File, reach: Reach) -> Result<()> {
        let Some(real) = opened_at(file) else {
            return Ok(());
        };
        if !real.is_absolute() {
            // Not a filesystem path (an unusual mount setup): nothing to check.
            return Ok(());
        }
        if !real.starts_with(&self.root) {
            return Err(escapes(path));
        }
        if !self.allowed.is_empty() {
            self.check_real_allowed(path, &real, reach)?;
        }
        Ok(())
    }

    /// With allowed directories, a symlink inside an allowed directory must
    /// not lead to a part of the root that is not allowed.
    fn check_real_allowed(&self, path: &VPath, host: &Path, reach: Reach) -> Result<()> {
        let real = host
            .strip_prefix(&self.root)
            .ok()
            .and_then(|rel| join_relative(&VPath::root(), rel));
        if let Some(real) = &real {
            match self.reach_of(real) {
                Some(Reach::Inside) => return Ok(()),
                // Only the way to an allowed directory, spelled as itself:
                // a link inside an allowed directory that leads up to a
                // parent of it (`/src/up -> ..`) would otherwise list and
                // walk everything the parent holds under allowed-looking
                // names.
                Some(Reach::Browse) if reach == Reach::Browse && real == path => return Ok(()),
                _ => {}
            }
        }
        // An allowed directory may itself be a symlink to elsewhere in the
        // root; its real location counts as allowed.
        for dir in &self.allowed {
            if let Ok((real_dir, _)) = self.resolve_links(dir) {
                if host.starts_with(&real_dir) {
                    return Ok(());
                }
            }
        }
        Err(not_allowed(path, &self.allowed))
    }
}

/// Where an open file or directory really is, from `/proc/self/fd`
/// (`None` where that is not available).
#[cfg(target_os = "linux")]
fn opened_at(file: &fs::File) -> Option<PathBuf> {
    use std::os::fd::AsRawFd;
    fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()
}

#[cfg(not(target_os = "linux"))]
fn opened_at(_file: &fs::File) -> Option<PathBuf> {
    None
}

/// A path naming an open directory itself, so later lookups through it
/// cannot be redirected by someone swapping the directory's old path for a
/// symlink. Falls back to `fallback` where `/proc/self/fd` is missing.
pub(crate) fn dir_handle_path(dir: &fs::File, fallback: &Path) -> PathBuf {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        use std::sync::OnceLock;
        // Whether /proc/self/fd works cannot change while the process runs,
        // so it is checked once, on the first handle, not with a stat per call.
        static PROC_FD_WORKS: OnceLock<bool> = OnceLock::new();
        let handle = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
        if *PROC_FD_WORKS.get_or_init(|| handle.is_dir()) {
            return handle;
        }
    }
    let _ = dir;
    fallback.to_path_buf()
}

/// The refusal for a FIFO, socket or device: the backend reads only
/// regular files, so nothing can make it block on a pipe or stream a
/// device forever.
pub(crate) fn not_regular(path: &VPath, what: &str) -> BackendError {
    BackendError::permission_denied(
        path.as_str(),
        format!("it is {what}, not a regular file; LocalBackend only reads regular files"),
    )
}

/// Maps an OS error onto the virtual path, dropping any host path the error
/// may carry so messages never show the host layout.
pub(crate) fn io_error(path: &VPath, err: io::Error) -> BackendError {
    let clean = match err.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None if err.get_ref().is_some() => io::Error::from(err.kind()),
        None => err,
    };
    BackendError::io(path.as_str(), clean)
}
