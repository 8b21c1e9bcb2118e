//! A temporary directory holding a backend root and, beside it, a sentinel
//! the backend must never reach.
//!
//! ```text
//! <tmp>/root/                 the backend's `/`
//! <tmp>/outside/secret.txt    SENTINEL_CONTENT, must never be read or changed
//! ```
//!
//! [`Yard::outside_snapshot`] records every entry outside `root/` (names,
//! kinds, sizes, content hashes and link targets), so a test compares the
//! snapshots before and after to prove nothing outside was written.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::hostile::{OUTSIDE_DIR, SENTINEL_NAME};

/// The sentinel's content. A backend result containing it proves a read
/// escaped the root.
pub const SENTINEL_CONTENT: &str = "SENTINEL-7f3a9c: this file lies outside the root\n";

/// A tempdir with `root/` and `outside/secret.txt`; removed on drop.
#[derive(Debug)]
pub struct Yard {
    dir: tempfile::TempDir,
    root: PathBuf,
}

/// What one entry outside the root looked like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A directory.
    Dir,
    /// A file: its length and an FNV-1a hash of its content.
    File(u64, u64),
    /// A symbolic link and its target.
    Link(PathBuf),
}

impl Yard {
    /// Creates the layout in a fresh tempdir.
    pub fn new() -> io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("deepagent-yard-")
            .tempdir()?;
        let root = dir.path().join("root");
        fs::create_dir(&root)?;
        let outside = dir.path().join(OUTSIDE_DIR);
        fs::create_dir(&outside)?;
        fs::write(outside.join(SENTINEL_NAME), SENTINEL_CONTENT)?;
        Ok(Yard { dir, root })
    }

    /// The backend root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory beside the root holding the sentinel.
    pub fn outside(&self) -> PathBuf {
        self.dir.path().join(OUTSIDE_DIR)
    }

    /// The sentinel file.
    pub fn sentinel(&self) -> PathBuf {
        self.outside().join(SENTINEL_NAME)
    }

    /// The tempdir holding both.
    pub fn base(&self) -> &Path {
        self.dir.path()
    }

    /// Every entry under the base except the root's subtree, keyed by path
    /// relative to the base. Links are recorded, never followed.
    pub fn outside_snapshot(&self) -> io::Result<BTreeMap<PathBuf, Entry>> {
        let mut out = BTreeMap::new();
        walk(self.dir.path(), self.dir.path(), &self.root, &mut out)?;
        Ok(out)
    }

    /// Panics unless the sentinel still holds [`SENTINEL_CONTENT`].
    pub fn assert_sentinel_intact(&self) {
        let content = fs::read_to_string(self.sentinel()).expect("sentinel readable");
        assert_eq!(
            content, SENTINEL_CONTENT,
            "the sentinel outside the root changed"
        );
    }
}

fn walk(
    base: &Path,
    dir: &Path,
    skip: &Path,
    out: &mut BTreeMap<PathBuf, Entry>,
) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if path == skip {
            continue;
        }
        let rel = path.strip_prefix(base).unwrap_or(&path).to_path_buf();
        let ft = entry.file_type()?;
        if ft.is_symlink() {
            out.insert(rel, Entry::Link(fs::read_link(&path)?));
        } else if ft.is_dir() {
            out.insert(rel, Entry::Dir);
            walk(base, &path, skip, out)?;
        } else {
            let content = fs::read(&path)?;
            out.insert(rel, Entry::File(content.len() as u64, fnv1a(&content)));
        }
    }
    Ok(())
}

/// FNV-1a, 64-bit: enough to notice a changed file without a dependency.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
