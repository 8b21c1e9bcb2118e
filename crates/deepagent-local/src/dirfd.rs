//! Filesystem calls relative to an open directory handle (`openat`,
//! `mkdirat`, `renameat`, ...).
//!
//! A write works inside a parent directory handle that has been checked to
//! be inside the root. Going through the handle itself keeps a swapped
//! directory on the way from redirecting anything, like the
//! `/proc/self/fd/N/<name>` paths did, but without the kernel walking the
//! procfs magic link on every lookup, and it works where `/proc` is absent.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::jail::TEMP_PREFIX;

/// A name as the C string the calls take; a NUL byte is refused (never
/// produced by a virtual path, but host names are checked anyway).
pub(crate) fn c_name(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// Turns a `-1` return into the `errno` error.
pub(crate) fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Opens the directory `name` inside `dir` without following a link:
/// a link there fails with `ELOOP`, a file with `ENOTDIR`.
pub(crate) fn open_dir_at(dir: &File, name: &OsStr) -> io::Result<File> {
    let name = c_name(name)?;
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: `dir` is an open descriptor and `name` a NUL-terminated
    // string, both alive for the call.
    let fd = check(unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags) })?;
    // SAFETY: `fd` was just returned by openat and is owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Creates the directory `name` inside `dir` (mode 0777 minus umask, as
/// `fs::create_dir` does).
pub(crate) fn mkdir_at(dir: &File, name: &OsStr) -> io::Result<()> {
    let name = c_name(name)?;
    // SAFETY: `dir` is an open descriptor and `name` a NUL-terminated
    // string, both alive for the call.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o777) })?;
    Ok(())
}

/// What is at a name, without following a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    Missing,
    Dir,
    /// A regular file, with its permission bits.
    File(libc::mode_t),
    /// A link, socket, fifo or device.
    Other,
}

/// `fstatat(AT_SYMLINK_NOFOLLOW)` of `name` inside `dir`.
pub(crate) fn entry_at(dir: &File, name: &OsStr) -> io::Result<Entry> {
    Ok(match lstat_at(dir, name)? {
        None => Entry::Missing,
        Some(st) => entry_of(st.st_mode),
    })
}

fn entry_of(mode: libc::mode_t) -> Entry {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => Entry::Dir,
        libc::S_IFREG => Entry::File(mode & 0o7777),
        _ => Entry::Other,
    }
}

/// `fstatat(AT_SYMLINK_NOFOLLOW)` of `name` inside `dir`; `None` when
/// nothing is there.
pub(crate) fn lstat_at(dir: &File, name: &OsStr) -> io::Result<Option<libc::stat>> {
    let name = c_name(name)?;
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `dir` is an open descriptor, `name` a NUL-terminated string
    // and `st` writable memory for one `stat`, all alive for the call.
    let ret = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    match check(ret) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    }
    // SAFETY: fstatat succeeded, so it filled in `st`.
    Ok(Some(unsafe { st.assume_init() }))
}

/// Removes the file `name` inside `dir` (never a directory; a link is
/// removed itself, not what it points to).
pub(crate) fn unlink_at(dir: &File, name: &OsStr) -> io::Result<()> {
    let name = c_name(name)?;
    // SAFETY: `dir` is an open descriptor and `name` a NUL-terminated
    // string, both alive for the call.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) })?;
    Ok(())
}

/// The names in the open directory `dir` (without `.` and `..`), each with
/// whether it is a directory as `readdir` reports it (`None` when the
/// filesystem does not say; ask [`entry_at`] then). Reading through the
/// handle means a directory swapped for a link after it was opened cannot
/// redirect the listing.
pub(crate) fn read_dir_at(dir: &File) -> io::Result<Vec<(OsString, Option<bool>)>> {
    // fdopendir takes the descriptor over (closedir closes it), so it gets
    // its own duplicate.
    // SAFETY: `dir` is an open descriptor for the call.
    let fd = check(unsafe { libc::fcntl(dir.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) })?;
    // SAFETY: `fd` is an open directory descriptor that we own.
    let stream = unsafe { libc::fdopendir(fd) };
    if stream.is_null() {
        let err = io::Error::last_os_error();
        // SAFETY: fdopendir failed, so `fd` is still ours to close.
        unsafe { libc::close(fd) };
        return Err(err);
    }
    // A duplicate shares the file offset: start from the top whatever
    // happened to the original before.
    // SAFETY: `stream` is a valid directory stream.
    unsafe { libc::rewinddir(stream) };
    let mut out = Vec::new();
    loop {
        // SAFETY: `stream` is a valid directory stream; the entry it
        // returns stays valid until the next readdir on it.
        let ent = unsafe { libc::readdir(stream) };
        if ent.is_null() {
            break;
        }
        // SAFETY: readdir returned a valid entry whose name is
        // NUL-terminated.
        let (name, kind) = unsafe {
            let name = std::ffi::CStr::from_ptr((*ent).d_name.as_ptr());
            (name.to_bytes(), (*ent).d_type)
        };
        if name == b"." || name == b".." {
            continue;
        }
        let is_dir = match kind {
            libc::DT_DIR => Some(true),
            libc::DT_UNKNOWN => None,
            _ => Some(false),
        };
        out.push((OsStr::from_bytes(name).to_os_string(), is_dir));
    }
    // SAFETY: `stream` is valid and closed exactly once.
    unsafe { libc::closedir(stream) };
    Ok(out)
}

/// Opens `path` to read its content without ever blocking in `open`: a
/// FIFO with no writer would otherwise hang the thread for good. The flag
/// changes nothing for regular files or directories; callers check the
/// type with `fstat` before reading.
pub(crate) fn open_nonblocking(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// [`open_nonblocking`] that also refuses a link as the last component
/// (`ELOOP`).
pub(crate) fn open_nonblocking_nofollow(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_NOFOLLOW)
        .open(path)
}

/// Opens `path` only to ask what it is and where it is: on Linux with
/// `O_PATH`, which neither reads nor runs a device's open nor blocks on a
/// FIFO; elsewhere like [`open_nonblocking`].
pub(crate) fn open_for_stat(path: &Path) -> io::Result<File> {
    #[cfg(target_os = "linux")]
    {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH)
            .open(path)
    }
    #[cfg(not(target_os = "linux"))]
    {
        open_nonblocking(path)
    }
}

/// What a file that is neither a regular file nor a directory is, worded
/// for an error message; `None` for files and directories (and links,
/// which callers resolve first).
pub(crate) fn special_kind(kind: std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        Some("a named pipe (FIFO)")
    } else if kind.is_socket() {
        Some("a socket")
    } else if kind.is_char_device() {
        Some("a character device")
    } else if kind.is_block_device() {
        Some("a block device")
    } else {
        None
    }
}

/// Renames `from` to `to`, both inside `dir`; replaces `to` atomically.
pub(crate) fn rename_at(dir: &File, from: &OsStr, to: &OsStr) -> io::Result<()> {
    let (from, to) = (c_name(from)?, c_name(to)?);
    let fd = dir.as_raw_fd();
    // SAFETY: `fd` is an open descriptor and both names NUL-terminated
    // strings, all alive for the call.
    check(unsafe { libc::renameat(fd, from.as_ptr(), fd, to.as_ptr()) })?;
    Ok(())
}

/// Sets a file's permission bits.
pub(crate) fn set_mode(file: &File, mode: libc::mode_t) -> io::Result<()> {
    // SAFETY: `file` is an open descriptor for the call.
    check(unsafe { libc::fchmod(file.as_raw_fd(), mode) })?;
    Ok(())
}

/// A temporary file inside a directory handle, removed on drop unless
/// [`TempFile::rename_to`] put it in place: an error or a panic half-way
/// through a write leaves nothing behind (a crash still can; the sweep
/// removes those).
pub(crate) struct TempFile<'a> {
    dir: &'a File,
    name: CString,
    file: File,
    placed: bool,
}

/// Tries before giving up on finding a free temporary name; a clash is
/// already all but impossible with 64 random bits.
const TEMP_ATTEMPTS: usize = 16;

/// 64 bits unlikely to repeat: std's random hash keys (seeded from the OS
/// once per thread, so no syscall here) over a counter and the time.
/// Uniqueness is not what keeps the write safe (`O_EXCL` is); it only
/// avoids retries, even between processes writing into one directory.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.finish()
}

impl<'a> TempFile<'a> {
    /// Creates `.deepagent-tmp-<random>` inside `dir`, exclusively (never
    /// an existing file or a link), mode 0666 minus umask like any new file.
    pub(crate) fn create_in(dir: &'a File) -> io::Result<Self> {
        let flags = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC;
        let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
        for _ in 0..TEMP_ATTEMPTS {
            let name = format!("{TEMP_PREFIX}{:016x}", random_u64());
            let name = c_name(OsStr::new(&name))?;
            // SAFETY: `dir` is an open descriptor and `name` a
            // NUL-terminated string, both alive for the call; the mode is
            // passed as the variadic argument O_CREAT requires.
            let ret = unsafe {
                libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, 0o666 as libc::c_uint)
            };
            match check(ret) {
                Ok(fd) => {
                    // SAFETY: `fd` was just returned by openat and is owned
                    // by nobody else.
                    let file = unsafe { File::from_raw_fd(fd) };
                    return Ok(TempFile {
                        dir,
                        name,
                        file,
                        placed: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// The open temporary file.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Renames the temporary file over `target` in the same directory.
    pub(crate) fn rename_to(mut self, target: &OsStr) -> io::Result<()> {
        rename_at(self.dir, OsStr::from_bytes(self.name.as_bytes()), target)?;
        self.placed = true;
        Ok(())
    }
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if !self.placed {
            // SAFETY: `dir` is an open descriptor and `name` a
            // NUL-terminated string, both alive for the call. Best effort:
            // a failure leaves debris for the sweep, nothing worse.
            unsafe { libc::unlinkat(self.dir.as_raw_fd(), self.name.as_ptr(), 0) };
        }
    }
}

/// `openat2` flags that keep a lookup under `dir` and refuse every
/// symbolic link on the way (the last component too): the kernel then
/// does in one call what resolving component by component and checking
/// the opened handle's real path did in several.
#[cfg(target_os = "linux")]
const BENEATH_NO_LINKS: u64 =
    libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;

/// Whether `openat2` works here: 0 unknown, 1 yes, 2 no (an older kernel,
/// or a seccomp filter that refuses it). Learnt from the first call.
#[cfg(target_os = "linux")]
static OPENAT2: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Opens `rel` (a relative path without `..`) below the directory `dir`
/// through the kernel's own resolver (`openat2` with `RESOLVE_BENEATH |
/// RESOLVE_NO_SYMLINKS`): the result is below `dir` by construction, and
/// a symbolic link anywhere on the way fails with `ELOOP` (or `EXDEV`).
///
/// Every failure, including `Unsupported` where `openat2` is missing
/// (Linux before 5.6, a seccomp filter, other systems), tells the caller
/// to take the portable path, which resolves links itself and decides
/// what the error is. So this is only ever a faster way to the same
/// answer, never a different one.
pub(crate) fn open_beneath(
    dir: &File,
    rel: &OsStr,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<File> {
    #[cfg(target_os = "linux")]
    {
        if OPENAT2.load(Ordering::Relaxed) == 2 {
            return Err(io::Error::from(io::ErrorKind::Unsupported));
        }
        let name = c_name(rel)?;
        // `open_how` is non-exhaustive in libc (the kernel may grow it):
        // start from zeroes, which the kernel reads as "not set".
        // SAFETY: `open_how` is plain integers, for which zero is valid.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = (flags | libc::O_CLOEXEC) as u64;
        if flags & libc::O_CREAT != 0 {
            how.mode = u64::from(mode);
        }
        how.resolve = BENEATH_NO_LINKS;
        // SAFETY: `dir` is an open descriptor, `name` a NUL-terminated
        // string and `how` an initialized `open_how` whose size is passed,
        // all alive for the call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                name.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if ret < 0 {
            let err = io::Error::last_os_error();
            if matches!(err.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) {
                // EPERM from openat2 itself is a seccomp filter's answer
                // (permissions give EACCES): stop trying.
                OPENAT2.store(2, Ordering::Relaxed);
                return Err(io::Error::from(io::ErrorKind::Unsupported));
            }
            return Err(err);
        }
        OPENAT2.store(1, Ordering::Relaxed);
        // SAFETY: the syscall returned a new descriptor owned by nobody else.
        Ok(unsafe { File::from_raw_fd(ret as libc::c_int) })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (dir, rel, flags, mode);
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// Flags of a read-only open that never blocks (see [`open_nonblocking`]).
pub(crate) const READ_NONBLOCKING: libc::c_int = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY;

/// Flags of a directory handle that is only a base for lookups, never
/// read: `O_PATH` on Linux (no read permission needed, nothing opened for
/// real).
#[cfg(target_os = "linux")]
pub(crate) const DIR_HANDLE_FLAGS: libc::c_int = libc::O_PATH;
#[cfg(not(target_os = "linux"))]
pub(crate) const DIR_HANDLE_FLAGS: libc::c_int = libc::O_RDONLY;

/// Opens a directory to hold as the base of [`open_beneath`] lookups.
pub(crate) fn open_dir_handle(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(DIR_HANDLE_FLAGS | libc::O_DIRECTORY)
        .open(path)
}
