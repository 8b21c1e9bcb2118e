//! Removing the temporary files of writes that never finished.
//!
//! A write puts its content in `.deepagent-tmp-*` next to the target and
//! renames it into place. A process killed in between leaves that file
//! behind for good: invisible to `ls`, `glob` and `grep`, but taking disk.
//!
//! Only files old enough are removed, because the directory may be shared:
//! another process's backend over the same root may be in the middle of a
//! write, and its temporary file looks the same as debris. A live write
//! touches its file (creating it, then writing to it) until the rename, so
//! a file untouched for [`BUILD_SWEEP_AGE`] (15 minutes, far beyond any
//! write short of a multi-gigabyte one on a stalled disk) is safe to treat
//! as dead.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::dirfd;
use crate::jail::is_temp_name;

/// Age past which `build()` removes leftover temporary files.
pub(crate) const BUILD_SWEEP_AGE: Duration = Duration::from_secs(15 * 60);

/// Directory entries the sweep at `build()` looks at before giving up, so
/// building over a huge tree stays quick.
pub(crate) const BUILD_SWEEP_BUDGET: usize = 20_000;

/// Directory entries an explicit sweep looks at before giving up.
pub(crate) const FULL_SWEEP_BUDGET: usize = 1_000_000;

/// How deep a sweep goes below the root.
const MAX_DEPTH: usize = 256;

/// Removes temporary files under `root` not modified for `older_than`;
/// returns how many. Links are never followed (only regular files named
/// `.deepagent-tmp-*` are ever removed), unreadable directories and files
/// that vanish are skipped, and the walk stops after `budget` entries. An
/// error means the root itself could not be read.
///
/// Everything happens relative to directory handles: each directory is
/// opened through its parent's handle without following a link, listed
/// through its own handle, and a file is checked and removed by name
/// inside that handle. So a directory swapped for a link to outside while
/// the sweep runs is not entered, and nothing outside the root can be
/// removed. Open handles stay bounded by the depth: a directory's handle
/// is shared by its pending subdirectories and closed once they are done.
pub(crate) fn sweep(root: &Path, older_than: Duration, budget: usize) -> io::Result<usize> {
    let now = SystemTime::now();
    let root = File::open(root)?;
    let mut removed = 0;
    let mut seen = 0;
    // Directories still to list: (parent handle, name), or the root.
    let mut stack: Vec<(Arc<File>, Option<std::ffi::OsString>, usize)> =
        vec![(Arc::new(root), None, 0)];
    let mut first = true;
    while let Some((parent, name, depth)) = stack.pop() {
        let dir = match &name {
            None => parent,
            Some(name) => match dirfd::open_dir_at(&parent, name) {
                Ok(dir) => Arc::new(dir),
                // Gone, swapped for a link (ELOOP), or unreadable.
                Err(_) => continue,
            },
        };
        let entries = match dirfd::read_dir_at(&dir) {
            Ok(entries) => entries,
            Err(e) if first => return Err(e),
            Err(_) => continue,
        };
        first = false;
        for (name, is_dir) in entries {
            seen += 1;
            if seen > budget {
                return Ok(removed);
            }
            let temp = is_temp_name(&name);
            match is_dir {
                // readdir's type never follows a link, and opening the
                // directory later refuses one that appears meanwhile.
                Some(true) => {
                    if depth < MAX_DEPTH {
                        stack.push((dir.clone(), Some(name), depth + 1));
                    }
                    continue;
                }
                Some(false) if !temp => continue,
                _ => {}
            }
            // lstat inside the handle: a link is neither a file nor a
            // directory here.
            let Ok(Some(st)) = dirfd::lstat_at(&dir, &name) else {
                continue;
            };
            match st.st_mode & libc::S_IFMT {
                libc::S_IFDIR if depth < MAX_DEPTH => {
                    stack.push((dir.clone(), Some(name), depth + 1))
                }
                libc::S_IFREG
                    if temp
                        && is_stale(&st, now, older_than)
                        && dirfd::unlink_at(&dir, &name).is_ok() =>
                {
                    removed += 1
                }
                _ => {}
            }
        }
    }
    Ok(removed)
}

/// True when the file was last modified at least `older_than` ago (a
/// modification time in the future is never stale).
fn is_stale(st: &libc::stat, now: SystemTime, older_than: Duration) -> bool {
    let Ok(secs) = u64::try_from(st.st_mtime) else {
        return false;
    };
    let nanos = u32::try_from(st.st_mtime_nsec).unwrap_or(0);
    let modified = UNIX_EPOCH + Duration::new(secs, nanos);
    now.duration_since(modified)
        .is_ok_and(|age| age >= older_than)
}
