//! The 0.2 operations of `LocalBackend`: what it reports about itself,
//! and (through the dirfd and jail helpers) delete, rename and batches.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use deepagent_core::{BackendError, BackendInfo, Capabilities, Durability, Limits, Result, VPath};

use crate::config::Config;
use crate::dirfd::{self, Entry};
use crate::files;
use crate::jail::{dir_handle_path, io_error, Reach};

/// Files on disk, durable; `execute` when enabled; read-only when built so.
pub(crate) fn info(cfg: &Config) -> BackendInfo {
    let mut caps = Capabilities::read_write()
        .with_delete()
        .with_atomic_rename();
    if cfg.enable_execute {
        caps = caps.with_execute();
    }
    let mut limits = Limits::none().with_max_output_bytes(cfg.output_limit);
    if let Some(max) = cfg.max_read_bytes {
        limits = limits.with_max_read_bytes(max);
    }
    let info = BackendInfo::new("LocalBackend", Durability::Durable)
        .with_summary("files on disk; they persist")
        .with_capabilities(caps)
        .with_limits(limits);
    if cfg.read_only {
        info.into_read_only()
    } else {
        info
    }
}

/// `unlinkat(dir, name, flags)`: removes a file or link (flags 0) or an
/// empty directory (`AT_REMOVEDIR`) by name inside a checked handle,
/// never following a link.
fn unlink_at(dir: &File, name: &OsStr, flags: libc::c_int) -> io::Result<()> {
    let name = dirfd::c_name(name)?;
    // SAFETY: `dir` is an open descriptor and `name` a NUL-terminated
    // string, both alive for the call.
    dirfd::check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) })?;
    Ok(())
}

/// `renameat` between two checked directory handles: atomic, replaces a
/// file at `to`, never follows a link at either name.
fn rename_between(from_dir: &File, from: &OsStr, to_dir: &File, to: &OsStr) -> io::Result<()> {
    let (from, to) = (dirfd::c_name(from)?, dirfd::c_name(to)?);
    // SAFETY: both descriptors are open and both names NUL-terminated
    // strings, all alive for the call.
    dirfd::check(unsafe {
        libc::renameat(
            from_dir.as_raw_fd(),
            from.as_ptr(),
            to_dir.as_raw_fd(),
            to.as_ptr(),
        )
    })?;
    Ok(())
}

/// The handle of `path`'s parent directory, opened from the root one
/// component at a time without following links and without creating
/// anything, checked to be inside; with the entry's own name.
fn parent_handle<'p>(cfg: &Config, path: &'p VPath) -> Result<(File, &'p OsStr)> {
    let parent = path.parent().unwrap_or_else(VPath::root);
    let name = OsStr::new(path.file_name().unwrap_or_default());
    // Symlinks on the way are resolved (and must stay inside); the last
    // component is the entry itself, never followed.
    let host = cfg.jail.resolve(&parent, Reach::Browse)?.host;
    let rel = host.strip_prefix(cfg.jail.root()).map_err(|_| {
        BackendError::permission_denied(path.as_str(), "outside the backend's root")
    })?;
    let mut handle = File::open(cfg.jail.root()).map_err(|e| io_error(path, e))?;
    for comp in rel.components() {
        handle = dirfd::open_dir_at(&handle, comp.as_os_str()).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => BackendError::not_found(path.as_str()),
            _ if e.raw_os_error() == Some(libc::ENOTDIR) => BackendError::NotADirectory {
                path: parent.to_string(),
            },
            _ => io_error(path, e),
        })?;
    }
    cfg.jail.verify_open(path, &handle, Reach::Browse)?;
    Ok((handle, name))
}

/// Removes a file, or with `recursive` a directory tree; links are removed,
/// never followed, so nothing outside the root can be touched.
pub(crate) fn delete(cfg: &Config, path: &VPath, recursive: bool) -> Result<()> {
    files::check_writable(cfg, "delete", path.as_str())?;
    if path.is_root() {
        return Err(BackendError::refused_on_root("delete"));
    }
    // The allowed directories apply to the entry itself.
    if !cfg.jail.inside(path) {
        return Err(cfg.jail.not_allowed(path));
    }
    let (parent, name) = parent_handle(cfg, path)?;
    match dirfd::entry_at(&parent, name).map_err(|e| io_error(path, e))? {
        Entry::Missing => Err(BackendError::not_found(path.as_str())),
        Entry::Dir if !recursive => Err(BackendError::IsADirectory {
            path: path.to_string(),
        }),
        Entry::Dir => remove_tree(&parent, name).map_err(|e| io_error(path, e)),
        Entry::File(_) | Entry::Other => {
            let host = dir_handle_path(&parent, cfg.jail.root()).join(name);
            // An edit in progress finishes first (it holds this lock across
            // its read-modify-write), so it cannot put the file back.
            let _guard = cfg.locks.lock(&host);
            unlink_at(&parent, name, 0).map_err(|e| io_error(path, e))
        }
    }
}

/// Removes the directory `name` in `parent` and everything below it,
/// depth first, through handles opened without following links.
fn remove_tree(parent: &File, name: &OsStr) -> io::Result<()> {
    let dir = dirfd::open_dir_at(parent, name)?;
    let listing = std::fs::read_dir(dir_handle_path(&dir, Path::new("/nonexistent")))?;
    for entry in listing {
        let child = entry?.file_name();
        match dirfd::entry_at(&dir, &child)? {
            Entry::Dir => remove_tree(&dir, &child)?,
            Entry::Missing => {}
            Entry::File(_) | Entry::Other => unlink_at(&dir, &child, 0)?,
        }
    }
    unlink_at(parent, name, libc::AT_REMOVEDIR)
}

/// Moves a file or directory with one `renameat`: atomic, and crash safe
/// (after a crash the entry is at one name or the other).
pub(crate) fn rename(cfg: &Config, from: &VPath, to: &VPath) -> Result<()> {
    files::check_writable(cfg, "rename", from.as_str())?;
    if from.is_root() || to.is_root() {
        return Err(BackendError::refused_on_root("rename"));
    }
    for p in [from, to] {
        if !cfg.jail.inside(p) {
            return Err(cfg.jail.not_allowed(p));
        }
    }
    let (src_dir, src_name) = parent_handle(cfg, from)?;
    let src = dirfd::entry_at(&src_dir, src_name).map_err(|e| io_error(from, e))?;
    if src == Entry::Missing {
        return Err(BackendError::not_found(from.as_str()));
    }
    if from == to {
        return Ok(());
    }
    if to.starts_with(from) {
        return Err(BackendError::InvalidArgument {
            message: format!("cannot rename {from} into itself ({to})"),
        });
    }
    // The destination's parents are implied, as for write, and created
    // through checked handles.
    let to_parent = to.parent().unwrap_or_else(VPath::root);
    let to_parent_host = cfg.jail.resolve(&to_parent, Reach::Inside)?.host;
    let dst_dir = files::open_dirs_inside(cfg, to, &to_parent_host)?;
    cfg.jail.verify_open(to, &dst_dir, Reach::Inside)?;
    let dst_name = OsStr::new(to.file_name().unwrap_or_default());
    match dirfd::entry_at(&dst_dir, dst_name).map_err(|e| io_error(to, e))? {
        Entry::Dir => {
            return Err(BackendError::AlreadyExists {
                path: to.to_string(),
            })
        }
        Entry::File(_) | Entry::Other if src == Entry::Dir => {
            return Err(BackendError::AlreadyExists {
                path: to.to_string(),
            })
        }
        _ => {}
    }
    let host = dir_handle_path(&src_dir, cfg.jail.root()).join(src_name);
    let _guard = cfg.locks.lock(&host);
    rename_between(&src_dir, src_name, &dst_dir, dst_name).map_err(|e| io_error(from, e))
}
