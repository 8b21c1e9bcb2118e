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

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

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
pub(crate) fn sweep(root: &Path, older_than: Duration, budget: usize) -> io::Result<usize> {
    let now = SystemTime::now();
    let mut removed = 0;
    let mut seen = 0;
    let mut stack: Vec<(PathBuf, usize)> = vec![(root.to_path_buf(), 0)];
    let mut first = true;
    while let Some((dir, depth)) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if first => return Err(e),
            Err(_) => continue,
        };
        first = false;
        for entry in entries {
            seen += 1;
            if seen > budget {
                return Ok(removed);
            }
            let Ok(entry) = entry else { continue };
            // `file_type` does not follow links: a link is neither.
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if depth < MAX_DEPTH {
                    stack.push((entry.path(), depth + 1));
                }
            } else if kind.is_file()
                && is_temp_name(&entry.file_name())
                && is_stale(&entry, now, older_than)
                && fs::remove_file(entry.path()).is_ok()
            {
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// True when the file was last modified at least `older_than` ago (a
/// modification time in the future is never stale).
fn is_stale(entry: &fs::DirEntry, now: SystemTime, older_than: Duration) -> bool {
    entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| now.duration_since(t).ok())
        .is_some_and(|age| age >= older_than)
}
