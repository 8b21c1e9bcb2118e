//! The file operations. Each function is blocking and runs on tokio's
//! blocking pool (see `LocalBackend::blocking`).

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use bytes::Bytes;
use deepagent_core::{
    edit::apply_edit, sort_listing, BackendError, EditResult, FileInfo, Result, VPath, WriteResult,
};

use crate::config::Config;
use crate::dirfd;
use crate::jail::{child_vpath, dir_handle_path, io_error, is_temp_name, not_regular, Reach};

/// True when a regular file (not a directory, FIFO or device) is at
/// `path`.
///
/// Like a read, the answer comes from an opened handle that is checked for
/// where it really is: a directory on the way swapped for a link after
/// resolving cannot make an outside file look present. The handle is
/// opened with `O_PATH` on Linux, so nothing is read and a FIFO or device
/// is never opened for real.
pub(crate) fn exists(cfg: &Config, path: &VPath) -> Result<bool> {
    let absent = |e: &io::Error| {
        matches!(
            e.kind(),
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
        )
    };
    let host = match cfg.jail.resolve(path, Reach::Inside) {
        Ok(r) => r.host,
        Err(BackendError::NotFound { .. } | BackendError::NotADirectory { .. }) => {
            return Ok(false)
        }
        Err(e) => return Err(e),
    };
    let handle = match dirfd::open_for_stat(&host) {
        Ok(h) => h,
        Err(e) if absent(&e) => return Ok(false),
        Err(e) => return Err(io_error(path, e)),
    };
    cfg.jail.verify_open(path, &handle, Reach::Inside)?;
    match handle.metadata() {
        Ok(meta) => Ok(meta.is_file()),
        Err(e) if absent(&e) => Ok(false),
        Err(e) => Err(io_error(path, e)),
    }
}

/// Direct children of a directory, or the one file named.
pub(crate) fn ls(cfg: &Config, path: &VPath) -> Result<Vec<FileInfo>> {
    let resolved = cfg.jail.resolve(path, Reach::Browse)?;
    refuse_special(path, resolved.kind)?;
    let host = resolved.host;
    let handle = dirfd::open_nonblocking(&host).map_err(|e| io_error(path, e))?;
    cfg.jail.verify_open(path, &handle, Reach::Browse)?;
    let meta = handle.metadata().map_err(|e| io_error(path, e))?;
    refuse_special(path, Some(meta.file_type()))?;
    if !meta.is_dir() {
        if !cfg.jail.inside(path) {
            return Err(cfg.jail.not_allowed(path));
        }
        return Ok(vec![FileInfo::file(path, meta.len(), meta.modified().ok())]);
    }
    let mut out = Vec::new();
    let dir = dir_handle_path(&handle, &host);
    for entry in fs::read_dir(&dir).map_err(|e| io_error(path, e))? {
        // An entry that vanishes mid-listing is simply not listed.
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        if is_temp_name(&name) {
            continue;
        }
        let Some(child) = child_vpath(path, &name) else {
            continue;
        };
        if !cfg.jail.visible(&child) {
            continue;
        }
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let meta = if file_type.is_symlink() {
            // Only links that resolve inside the root are listed, as what
            // they point to; dangling or escaping links are left out.
            match cfg.jail.resolve(&child, Reach::Browse) {
                Ok(r) => match fs::metadata(&r.host) {
                    Ok(m) => m,
                    Err(_) => continue,
                },
                Err(_) => continue,
            }
        } else {
            match entry.metadata() {
                Ok(m) => m,
                Err(_) => continue,
            }
        };
        if meta.is_dir() {
            out.push(FileInfo::dir(&child, meta.modified().ok()));
        } else if meta.is_file() {
            out.push(FileInfo::file(&child, meta.len(), meta.modified().ok()));
        }
    }
    sort_listing(&mut out);
    Ok(out)
}

/// Refuses a FIFO, socket or device (see [`not_regular`]).
fn refuse_special(path: &VPath, kind: Option<fs::FileType>) -> Result<()> {
    match kind.and_then(dirfd::special_kind) {
        Some(what) => Err(not_regular(path, what)),
        None => Ok(()),
    }
}

/// Opens `path` for reading as a regular file, with its size.
///
/// A FIFO, socket or device is refused: by the type resolving saw, without
/// opening it, and again by the opened handle's type (the open never
/// blocks), in case one was swapped in between.
pub(crate) fn open_file(cfg: &Config, path: &VPath) -> Result<(fs::File, u64)> {
    if let Some(opened) = open_file_fast(cfg, path) {
        return Ok(opened);
    }
    let resolved = cfg.jail.resolve(path, Reach::Inside)?;
    refuse_special(path, resolved.kind)?;
    let file = dirfd::open_nonblocking(&resolved.host).map_err(|e| io_error(path, e))?;
    cfg.jail.verify_open(path, &file, Reach::Inside)?;
    let meta = file.metadata().map_err(|e| io_error(path, e))?;
    refuse_special(path, Some(meta.file_type()))?;
    if meta.is_dir() {
        return Err(BackendError::IsADirectory {
            path: path.as_str().to_owned(),
        });
    }
    Ok((file, meta.len()))
}

/// The host path relative to the root that a virtual path names when no
/// link is on the way: its string without the leading `/`.
pub(crate) fn host_rel(path: &VPath) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(&path.as_str()[1..])
}

/// [`open_file`] through the kernel's resolver, for the common case only:
/// a regular file with no link on the way. `None` sends the caller the
/// portable way, which decides every other case (links, specials,
/// missing files, errors) as before.
///
/// The `fstatat` first keeps the old promise that a FIFO, socket or
/// device is refused without being opened: only what is a regular file
/// is opened here. It may look through a link on the way (plain
/// `fstatat` does); that only sends such paths to the portable way,
/// since the open that follows refuses every link.
fn open_file_fast(cfg: &Config, path: &VPath) -> Option<(fs::File, u64)> {
    let root = cfg.jail.kernel_root()?;
    if path.is_root() {
        return None;
    }
    let rel = host_rel(path);
    let st = dirfd::lstat_at(root, rel).ok()??;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return None;
    }
    let file = dirfd::open_beneath(root, rel, dirfd::READ_NONBLOCKING, 0).ok()?;
    let meta = file.metadata().ok()?;
    // Swapped for something else since the stat: the portable way words it.
    if !meta.is_file() {
        return None;
    }
    Some((file, meta.len()))
}

fn check_size(cfg: &Config, path: &VPath, size: u64) -> Result<()> {
    match cfg.max_read_bytes {
        Some(limit) if size > limit => Err(BackendError::TooLarge {
            path: path.as_str().to_owned(),
            size,
            limit,
        }),
        _ => Ok(()),
    }
}

/// The whole file.
pub(crate) fn read_bytes(cfg: &Config, path: &VPath) -> Result<Bytes> {
    let (mut file, size) = open_file(cfg, path)?;
    check_size(cfg, path, size)?;
    let buf = read_to_end_sized(&mut file, size).map_err(|e| io_error(path, e))?;
    Ok(Bytes::from(buf))
}

/// Reads to the end of `file`, whose size `size` is already known from its
/// metadata. `File::read_to_end` would stat and seek the file again to
/// size its buffer; this costs one read of the content and one to see the
/// end (the file may have grown since, which is still read whole).
fn read_to_end_sized(file: &mut fs::File, size: u64) -> io::Result<Vec<u8>> {
    use io::Read;
    let mut buf = vec![0; usize::try_from(size).unwrap_or(0)];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            let mut probe = [0u8; 256];
            match file.read(&mut probe) {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&probe[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            filled = buf.len();
            // Grown since the stat: make room for a larger read next.
            buf.resize(filled + filled.max(8192), 0);
            continue;
        }
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// The read-only rule, worded as core's `ReadOnly` layer words it.
pub(crate) fn check_writable(cfg: &Config, operation: &str, target: &str) -> Result<()> {
    if cfg.read_only {
        return Err(deepagent_core::layers::read_only_denial(operation, target));
    }
    Ok(())
}

/// Creates or replaces a file.
pub(crate) fn write(cfg: &Config, path: &VPath, content: &[u8]) -> Result<WriteResult> {
    check_writable(cfg, "write", path.as_str())?;
    match write_fast(cfg, path, content) {
        Some(done) => done?,
        None => {
            let host = cfg.jail.resolve(path, Reach::Inside)?.host;
            let _guard = cfg.locks.lock(&host);
            write_resolved(cfg, path, &host, content)?;
        }
    }
    Ok(WriteResult::new(
        path.as_str().to_owned(),
        content.len() as u64,
    ))
}

/// Replaces text in a file, holding the file's lock across the
/// read-modify-write.
pub(crate) fn edit(
    cfg: &Config,
    path: &VPath,
    old: &str,
    new: &str,
    replace_all: deepagent_core::Replace,
) -> Result<EditResult> {
    check_writable(cfg, "edit", path.as_str())?;
    deepagent_core::edit::validate_edit(old, new)?;
    let host = cfg.jail.resolve(path, Reach::Inside)?.host;
    let _guard = cfg.locks.lock(&host);
    let content = read_bytes(cfg, path)?;
    let (updated, occurrences) = apply_edit(path.as_str(), &content, old, new, replace_all)?;
    write_resolved(cfg, path, &host, &updated)?;
    Ok(EditResult::new(path.as_str().to_owned(), occurrences))
}

/// Writes `content` to a temporary file next to `host` and renames it over
/// `host`, so a reader sees the old file or the new one, never half.
fn write_resolved(cfg: &Config, path: &VPath, host: &Path, content: &[u8]) -> Result<()> {
    let is_dir = || BackendError::IsADirectory {
        path: path.as_str().to_owned(),
    };
    if path.is_root() {
        return Err(is_dir());
    }
    // Writing goes through directory handles with short names and would
    // succeed where every later read by path fails; refuse it the same way.
    if host.as_os_str().len() >= libc::PATH_MAX as usize {
        return Err(io_error(
            path,
            io::Error::from_raw_os_error(libc::ENAMETOOLONG),
        ));
    }
    let parent = host.parent().ok_or_else(is_dir)?;
    let name = host.file_name().ok_or_else(is_dir)?;
    // Everything below goes through a handle on the parent directory that
    // has been checked to be inside, so swapping a directory on the way for
    // a link cannot redirect the write.
    let parent_handle = open_dirs_inside(cfg, path, parent)?;
    cfg.jail.verify_open(path, &parent_handle, Reach::Inside)?;
    let existing_mode = match dirfd::entry_at(&parent_handle, name) {
        Ok(dirfd::Entry::Dir) => return Err(is_dir()),
        Ok(dirfd::Entry::File(mode)) => Some(mode),
        // A link that appeared since resolving is replaced, not followed.
        Ok(dirfd::Entry::Other | dirfd::Entry::Missing) => None,
        Err(e) => return Err(io_error(path, e)),
    };
    write_into(cfg, path, &parent_handle, name, existing_mode, content)
}

/// [`write`] through the kernel's resolver, for the common case only: the
/// parent directory exists with no link on the way, and the name is a
/// regular file or free. `None` sends the caller the portable way (which
/// creates missing directories, follows links that stay inside and words
/// every error); this way stops before it has changed anything.
///
/// With no link on the way the real host path is the root joined with the
/// virtual path, which is what resolving would give: the same lock, the
/// same length check, the same temporary file and rename.
fn write_fast(cfg: &Config, path: &VPath, content: &[u8]) -> Option<Result<()>> {
    let root = cfg.jail.kernel_root()?;
    let name = std::ffi::OsStr::new(path.file_name()?);
    let host = cfg.jail.root().join(host_rel(path));
    if host.as_os_str().len() >= libc::PATH_MAX as usize {
        return None;
    }
    let _guard = cfg.locks.lock(&host);
    let parent_rel = path.parent()?;
    let opened;
    let parent = if parent_rel.is_root() {
        root
    } else {
        let flags = libc::O_DIRECTORY | dirfd::DIR_HANDLE_FLAGS;
        opened = dirfd::open_beneath(root, host_rel(&parent_rel), flags, 0).ok()?;
        &opened
    };
    let existing_mode = match dirfd::entry_at(parent, name).ok()? {
        dirfd::Entry::Dir => {
            return Some(Err(BackendError::IsADirectory {
                path: path.as_str().to_owned(),
            }))
        }
        dirfd::Entry::File(mode) => Some(mode),
        dirfd::Entry::Missing => None,
        // A link to follow, or a special file: the portable way decides.
        dirfd::Entry::Other => return None,
    };
    Some(write_into(cfg, path, parent, name, existing_mode, content))
}

/// The temporary file and rename of a write, inside the checked directory
/// handle `parent`.
fn write_into(
    cfg: &Config,
    path: &VPath,
    parent_handle: &fs::File,
    name: &std::ffi::OsStr,
    existing_mode: Option<libc::mode_t>,
    content: &[u8],
) -> Result<()> {
    // Dropping `tmp` on any error below removes the temporary file.
    let tmp = dirfd::TempFile::create_in(parent_handle).map_err(|e| io_error(path, e))?;
    let mut out = tmp.file();
    out.write_all(content).map_err(|e| io_error(path, e))?;
    // A replaced file keeps its own permission bits, but never setuid or
    // setgid: new content written by an agent must not inherit the right
    // to run with the old file's owner or group. A new file has 0666
    // minus umask.
    if let Some(mode) = existing_mode {
        let mode = mode & !(libc::S_ISUID | libc::S_ISGID);
        dirfd::set_mode(tmp.file(), mode).map_err(|e| io_error(path, e))?;
    }
    if cfg.sync_writes {
        tmp.file().sync_all().map_err(|e| io_error(path, e))?;
    }
    tmp.rename_to(name).map_err(|e| io_error(path, e))?;
    Ok(())
}

/// Opens (creating what is missing) the host directory `dir`, one
/// component at a time from the root, each through the handle of the one
/// before and without following links: `create_dir_all` by path would
/// follow a directory swapped for a link and create directories outside.
/// `dir` is already resolved, so a link met here appeared since; refused.
pub(crate) fn open_dirs_inside(cfg: &Config, path: &VPath, dir: &Path) -> Result<fs::File> {
    let root = cfg.jail.root();
    let rel = dir.strip_prefix(root).map_err(|_| {
        BackendError::permission_denied(path.as_str(), "outside the backend's root")
    })?;
    let mut handle = fs::File::open(root).map_err(|e| io_error(path, e))?;
    for comp in rel.components() {
        let name = comp.as_os_str();
        // Open first: the directory nearly always exists, and this way a
        // write costs no failing mkdir per component.
        let opened = match dirfd::open_dir_at(&handle, name) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match dirfd::mkdir_at(&handle, name) {
                    // Another writer may have created it in between.
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_error(path, e)),
                }
                dirfd::open_dir_at(&handle, name)
            }
            other => other,
        };
        handle = opened.map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                BackendError::permission_denied(
                    path.as_str(),
                    "a directory on the way was replaced by a symbolic link",
                )
            } else {
                io_error(path, e)
            }
        })?;
    }
    Ok(handle)
}
