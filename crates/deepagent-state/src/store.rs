//! The map behind a [`StateBackend`](crate::StateBackend) and the
//! synchronous operations on it. Nothing here awaits, so a lock is never
//! held across an `.await`.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::time::SystemTime;

use bytes::Bytes;
use deepagent_core::{BackendError, Result, VPath};

use crate::line_index::LineIndexSlot;

/// One stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileData {
    /// The exact bytes written.
    pub content: Bytes,
    /// When the file was first written (a rewrite keeps it).
    pub created_at: SystemTime,
    /// When the file was last written or edited.
    pub modified_at: SystemTime,
}

impl FileData {
    /// A file created now.
    pub fn new(content: Bytes) -> Self {
        let now = SystemTime::now();
        FileData {
            content,
            created_at: now,
            modified_at: now,
        }
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.content.len() as u64
    }
}

/// A map key that can be looked up and ranged over by `&str`, so a lookup
/// never allocates. Ordering is the string's byte order, the same as
/// `VPath`'s, which is what makes `Borrow<str>` sound.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key(pub(crate) VPath);

impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        self.0.as_str()
    }
}

/// A stored file and the line index of its current content. The index
/// lives here rather than in the public [`FileData`] so that snapshots stay
/// plain data; [`Entry::set_content`] is the one way to change content, and
/// it replaces the index with it.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) data: FileData,
    index: LineIndexSlot,
}

impl Entry {
    fn new(content: Bytes) -> Self {
        Entry {
            data: FileData::new(content),
            index: LineIndexSlot::default(),
        }
    }

    /// Replaces the content and drops the old content's index. A reader
    /// still holding the old slot keeps a consistent (old) pair.
    pub(crate) fn set_content(&mut self, content: Bytes) {
        self.data.content = content;
        self.data.modified_at = SystemTime::now();
        self.index = LineIndexSlot::default();
    }

    /// The content and its index slot, to slice after the lock is released.
    pub(crate) fn content_and_index(&self) -> (Bytes, LineIndexSlot) {
        (self.data.content.clone(), self.index.clone())
    }
}

pub(crate) type Map = BTreeMap<Key, Entry>;

/// Every file strictly below `dir`, in path order.
///
/// A range, not a scan: descendants of `/a` are exactly the keys in
/// `["/a/", "/a0")` because `0` is the byte after `/`.
pub(crate) fn descendants<'a>(
    map: &'a Map,
    dir: &VPath,
) -> impl Iterator<Item = (&'a VPath, &'a FileData)> + 'a {
    let range = if dir.is_root() {
        map.range::<str, _>(..)
    } else {
        let lo = format!("{dir}/");
        let hi = format!("{dir}0");
        map.range::<str, _>((Bound::Included(lo.as_str()), Bound::Excluded(hi.as_str())))
    };
    range.map(|(k, v)| (&k.0, &v.data))
}

/// True when `path` is a directory: the root, or a prefix of some file.
pub(crate) fn is_dir(map: &Map, path: &VPath) -> bool {
    path.is_root() || descendants(map, path).next().is_some()
}

/// The file at `path`, or the error a file operation on it should return.
pub(crate) fn file<'a>(map: &'a Map, path: &VPath) -> Result<&'a Entry> {
    match map.get(path.as_str()) {
        Some(f) => Ok(f),
        None if is_dir(map, path) => Err(BackendError::IsADirectory {
            path: path.to_string(),
        }),
        None => Err(missing(map, path)),
    }
}

/// The first proper ancestor of `path` that is a file, if any: `/a.txt`
/// for `/a.txt/b/c` when `/a.txt` is a file.
pub(crate) fn file_ancestor<'a>(map: &Map, path: &'a VPath) -> Option<&'a str> {
    // Slicing the string at every `/` checks the ancestors without
    // allocating.
    let s = path.as_str();
    s.match_indices('/')
        .skip(1)
        .map(|(idx, _)| &s[..idx])
        .find(|ancestor| map.contains_key(*ancestor))
}

/// The error for a path with nothing stored at or below it: `NotADirectory`
/// when a file sits where a directory on the way should be (as a disk
/// reports ENOTDIR), else `NotFound`.
pub(crate) fn missing(map: &Map, path: &VPath) -> BackendError {
    match file_ancestor(map, path) {
        Some(file) => BackendError::NotADirectory {
            path: file.to_owned(),
        },
        None => BackendError::not_found(path.as_str()),
    }
}

/// Creates or replaces the file at `path`, keeping `created_at` on a
/// rewrite. Refuses directories and paths below a file.
pub(crate) fn write(map: &mut Map, path: &VPath, content: Bytes) -> Result<()> {
    if let Some(existing) = map.get_mut(path.as_str()) {
        existing.set_content(content);
        return Ok(());
    }
    if is_dir(map, path) {
        return Err(BackendError::IsADirectory {
            path: path.to_string(),
        });
    }
    // Each proper ancestor must not be a file.
    if let Some(ancestor) = file_ancestor(map, path) {
        return Err(BackendError::NotADirectory {
            path: ancestor.to_owned(),
        });
    }
    map.insert(Key(path.clone()), Entry::new(content));
    Ok(())
}
