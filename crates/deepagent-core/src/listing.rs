//! Listings for stores that keep files in a flat map (directories are
//! implied by file paths), such as `StateBackend` or your own backend.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::path::VPath;
use crate::types::{sort_listing, FileInfo};

/// The direct children of `dir`, given every file as `(path, size,
/// modified)`. Returns `None` when `dir` holds no file at any depth (so it
/// does not exist), except for the root, which always exists.
///
/// ```
/// use deepagent_core::{listing::children_of, VPath};
/// let files = [(VPath::new("/a/b.txt")?, 1, None), (VPath::new("/c.txt")?, 2, None)];
/// let ls = children_of(&VPath::root(), files.iter().map(|(p, s, m)| (p, *s, *m))).unwrap();
/// assert_eq!(ls.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["a", "c.txt"]);
/// assert!(ls[0].is_dir);
/// # Ok::<(), deepagent_core::BackendError>(())
/// ```
pub fn children_of<'a>(
    dir: &VPath,
    files: impl IntoIterator<Item = (&'a VPath, u64, Option<SystemTime>)>,
) -> Option<Vec<FileInfo>> {
    let mut children: BTreeMap<&'a str, FileInfo> = BTreeMap::new();
    let mut seen = false;
    for (path, size, modified) in files {
        let Some(rel) = path.relative_to(dir) else {
            continue;
        };
        if rel.is_empty() {
            continue;
        }
        seen = true;
        match rel.split_once('/') {
            Some((first, _)) => {
                let entry = children
                    .entry(first)
                    .or_insert_with(|| FileInfo::dir(&dir.child(first), modified));
                if entry.is_dir {
                    entry.modified = entry.modified.max(modified);
                }
            }
            None => {
                children.insert(rel, FileInfo::file(path, size, modified));
            }
        }
    }
    if !seen && !dir.is_root() {
        return None;
    }
    let mut out: Vec<FileInfo> = children.into_values().collect();
    sort_listing(&mut out);
    Some(out)
}
