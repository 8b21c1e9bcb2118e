//! `StateBackend` and its `Backend` implementation.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use bytes::Bytes;
use deepagent_core::glob::{file_filter, PathGlob};
use deepagent_core::{
    edit, listing, text, Backend, BackendError, BackendInfo, Capabilities, Durability, EditResult,
    FileDownload, FileInfo, GlobQuery, GlobResult, GrepMatch, GrepQuery, GrepResult, ReadSlice,
    Result, VPath, WriteResult,
};

use crate::store::{self, FileData, Map};
use deepagent_core::search::Searcher;

/// An in-memory, ephemeral file store.
///
/// Cloning the handle shares the store, so you can keep one clone and hand
/// another to an agent or a
/// [`CompositeBackend`](https://docs.rs/deepagent-composite), then inspect
/// [`files`](StateBackend::files) after the run.
///
/// Directories are implied by file paths: writing `/a/b.txt` makes `/a` a
/// directory, and it disappears with its last file. Content is kept
/// byte-exact. Every operation takes a lock for its whole read-modify-write
/// and never across an `.await`, so concurrent edits of one file never lose
/// an update.
#[derive(Clone, Default)]
pub struct StateBackend {
    files: Arc<RwLock<Map>>,
}

impl std::fmt::Debug for StateBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateBackend")
            .field("files", &self.read_map().len())
            .finish()
    }
}

impl StateBackend {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `files`, each `(path, content)`.
    ///
    /// Paths are normalized like every other path; an invalid one, or one
    /// that conflicts with another (a file where a directory is needed),
    /// is an error.
    ///
    /// ```
    /// use deepagent_state::StateBackend;
    /// let store = StateBackend::with_files([("/a.txt", "a"), ("b/c.txt", "c")])?;
    /// assert_eq!(store.paths(), ["/a.txt", "/b/c.txt"]);
    /// assert!(StateBackend::with_files([("../x", "")]).is_err());
    /// # Ok::<(), deepagent_core::BackendError>(())
    /// ```
    pub fn with_files<I, P, C>(files: I) -> Result<Self>
    where
        I: IntoIterator<Item = (P, C)>,
        P: AsRef<str>,
        C: Into<Bytes>,
    {
        let mut map = Map::new();
        for (path, content) in files {
            let path = VPath::new(path.as_ref())?;
            store::write(&mut map, &path, content.into())?;
        }
        Ok(StateBackend {
            files: Arc::new(RwLock::new(map)),
        })
    }

    /// A snapshot of every file, keyed by path. Contents are shared, not
    /// copied.
    pub fn files(&self) -> BTreeMap<String, FileData> {
        self.read_map()
            .iter()
            .map(|(k, v)| (k.0.as_str().to_owned(), v.data.clone()))
            .collect()
    }

    /// Every file path, sorted.
    pub fn paths(&self) -> Vec<String> {
        self.read_map()
            .keys()
            .map(|k| k.0.as_str().to_owned())
            .collect()
    }

    /// How many files are stored.
    pub fn len(&self) -> usize {
        self.read_map().len()
    }

    /// True when no file is stored.
    pub fn is_empty(&self) -> bool {
        self.read_map().is_empty()
    }

    /// One file's data, if a file is stored at `path`.
    pub fn get(&self, path: &str) -> Result<Option<FileData>> {
        let path = VPath::new(path)?;
        Ok(self.read_map().get(path.as_str()).map(|e| e.data.clone()))
    }

    /// Removes every file.
    pub fn clear(&self) {
        self.write_map().clear();
    }

    // A panic while holding the lock cannot leave the map half-updated
    // (each mutation is one map call), so a poisoned lock is still usable.
    fn read_map(&self) -> RwLockReadGuard<'_, Map> {
        self.files.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_map(&self) -> RwLockWriteGuard<'_, Map> {
        self.files.write().unwrap_or_else(|e| e.into_inner())
    }

    fn file_content(&self, path: &VPath) -> Result<Bytes> {
        Ok(store::file(&self.read_map(), path)?.data.content.clone())
    }

    fn ls_sync(&self, path: &VPath) -> Result<Vec<FileInfo>> {
        let map = self.read_map();
        if let Some(e) = map.get(path.as_str()) {
            let f = &e.data;
            return Ok(vec![FileInfo::file(path, f.size(), Some(f.modified_at))]);
        }
        let entries =
            store::descendants(&map, path).map(|(p, f)| (p, f.size(), Some(f.modified_at)));
        listing::children_of(path, entries).ok_or_else(|| store::missing(&map, path))
    }

    fn edit_sync(
        &self,
        path: &VPath,
        old: &str,
        new: &str,
        replace_all: deepagent_core::Replace,
    ) -> Result<usize> {
        let mut map = self.write_map();
        let current = store::file(&map, path)?;
        let (updated, occurrences) =
            edit::apply_edit(path.as_str(), &current.data.content, old, new, replace_all)?;
        if let Some(e) = map.get_mut(path.as_str()) {
            e.set_content(Bytes::from(updated));
        }
        Ok(occurrences)
    }

    fn glob_sync(&self, query: &GlobQuery) -> Result<GlobResult> {
        let pattern = PathGlob::new(&query.pattern)?;
        let base = VPath::new(&query.path)?;
        let keep = query.max_count.saturating_add(1);
        let map = self.read_map();
        let mut found = Vec::new();
        for (path, f) in store::descendants(&map, &base) {
            let rel = path.relative_to(&base).unwrap_or_default();
            if pattern.is_match(rel) {
                found.push(FileInfo::file(path, f.size(), Some(f.modified_at)));
                if found.len() >= keep {
                    break;
                }
            }
        }
        Ok(GlobResult::finish(found, query.max_count, false))
    }

    fn grep_sync(&self, query: &GrepQuery) -> Result<GrepResult> {
        let searcher = Searcher::new(query)?;
        let filter = file_filter(query.glob.as_deref())?;
        let base = VPath::new(&query.path)?;
        let keep = query.max_count.saturating_add(1);
        let map = self.read_map();
        let mut found = Vec::new();
        // Returns whether the budget has room for more.
        let mut search = |path: &VPath, content: &[u8]| {
            if text::is_binary(content) {
                return true;
            }
            searcher.search(content, |line_number, line| {
                found.push(GrepMatch::new(
                    path.as_str().to_owned(),
                    line_number,
                    line.to_owned(),
                ));
                found.len() < keep
            });
            found.len() < keep
        };
        if let Some(e) = map.get(base.as_str()) {
            // A named file is searched even when hidden; the filter sees
            // its name, as it would in a walk of its directory.
            let name = base.file_name().unwrap_or_default();
            if filter.as_ref().is_none_or(|g| g.is_match(name)) {
                search(&base, &e.data.content);
            }
        } else if store::is_dir(&map, &base) {
            for (path, f) in store::descendants(&map, &base) {
                let rel = path.relative_to(&base).unwrap_or_default();
                if query.ignore_hidden && rel.split('/').any(|c| c.starts_with('.')) {
                    continue;
                }
                if filter.as_ref().is_some_and(|g| !g.is_match(rel)) {
                    continue;
                }
                if !search(path, &f.content) {
                    break;
                }
            }
        } else {
            return Err(BackendError::not_found(base.as_str()));
        }
        drop(map);
        Ok(GrepResult::finish(found, query.max_count, false))
    }
}

#[async_trait]
impl Backend for StateBackend {
    fn name(&self) -> &str {
        "StateBackend"
    }

    fn info(&self) -> BackendInfo {
        BackendInfo::new("StateBackend", Durability::Ephemeral)
            .with_summary("in memory; gone when the program ends")
            .with_capabilities(
                Capabilities::read_write()
                    .with_delete()
                    .with_atomic_rename()
                    .with_native_batch(),
            )
    }

    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let path = VPath::new(path)?;
        crate::ops::delete(&mut self.write_map(), &path, recursive)
    }

    /// Atomic: one lock covers the whole move, also of a directory.
    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (from, to) = (VPath::new(from)?, VPath::new(to)?);
        crate::ops::rename(&mut self.write_map(), &from, &to)
    }

    /// One lock for the whole batch: no other operation sees it half done
    /// (a failing file still leaves the ones before it written).
    async fn upload(&self, files: Vec<(String, Bytes)>) -> Result<Vec<WriteResult>> {
        let checked = files
            .into_iter()
            .map(|(p, c)| Ok((VPath::new(&p)?, c)))
            .collect::<Result<Vec<_>>>()?;
        let mut map = self.write_map();
        let mut written = Vec::with_capacity(checked.len());
        for (path, content) in checked {
            let size = content.len() as u64;
            store::write(&mut map, &path, content)?;
            written.push(WriteResult::new(path.into_string(), size));
        }
        Ok(written)
    }

    /// One read lock: a consistent snapshot of every file asked for.
    async fn download(&self, paths: &[&str]) -> Result<Vec<FileDownload>> {
        let map = self.read_map();
        Ok(paths
            .iter()
            .map(|p| match VPath::new(p) {
                Ok(path) => FileDownload {
                    content: store::file(&map, &path).map(|e| e.data.content.clone()),
                    path: path.into_string(),
                },
                Err(e) => FileDownload {
                    path: (*p).to_owned(),
                    content: Err(e),
                },
            })
            .collect())
    }

    async fn exists(&self, path: &str) -> Result<bool> {
        let path = VPath::new(path)?;
        Ok(self.read_map().contains_key(path.as_str()))
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        self.ls_sync(&VPath::new(path)?)
    }

    async fn read_bytes(&self, path: &str) -> Result<Bytes> {
        self.file_content(&VPath::new(path)?)
    }

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadSlice> {
        let path = VPath::new(path)?;
        // Slice (and build a missing index) outside the lock: `Bytes` and
        // the index slot are cheap shared handles.
        let (content, index) = store::file(&self.read_map(), &path)?.content_and_index();
        index.read_slice(path.as_str(), &content, offset, limit)
    }

    async fn write(&self, path: &str, content: Bytes) -> Result<WriteResult> {
        let path = VPath::new(path)?;
        let size = content.len() as u64;
        store::write(&mut self.write_map(), &path, content)?;
        Ok(WriteResult::new(path.into_string(), size))
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: deepagent_core::Replace,
    ) -> Result<EditResult> {
        let path = VPath::new(path)?;
        let occurrences = self.edit_sync(&path, old, new, replace_all)?;
        Ok(EditResult::new(path.into_string(), occurrences))
    }

    async fn glob(&self, query: &GlobQuery) -> Result<GlobResult> {
        self.glob_sync(query)
    }

    async fn grep(&self, query: &GrepQuery) -> Result<GrepResult> {
        self.grep_sync(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
            .block_on(f)
    }

    // A read builds the index of the content it sees; a later write or
    // edit must not be sliced with that stale index.
    #[test]
    fn write_and_edit_replace_the_line_index() {
        block_on(async {
            let store = StateBackend::new();
            let big: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
            store.write("/big.txt", big.clone().into()).await?;
            let first = store.read("/big.txt", 15_000, 2).await?;
            assert_eq!(first.lines, ["line 15000", "line 15001"]);
            assert_eq!(first.total_lines, 20_000);

            // Shift every line down by two and shorten the file.
            let shorter = format!("a\nb\n{}", &big[..big.len() / 2]);
            store.write("/big.txt", shorter.clone().into()).await?;
            let after_write = store.read("/big.txt", 5_000, 2).await?;
            let want = text::read_slice("/big.txt", shorter.as_bytes(), 5_000, 2)?;
            assert_eq!(after_write, want);
            assert_eq!(after_write.lines, ["line 4998", "line 4999"]);

            store
                .edit("/big.txt", "a\nb\n", "", deepagent_core::Replace::Once)
                .await?;
            let after_edit = store.read("/big.txt", 5_000, 1).await?;
            assert_eq!(after_edit.lines, ["line 5000"]);
            assert_eq!(
                after_edit.total_lines,
                text::count_lines(&shorter.as_bytes()[4..])
            );
            assert!(matches!(
                store.read("/big.txt", 15_000, 1).await,
                Err(BackendError::OffsetOutOfRange { .. })
            ));
            Ok::<(), BackendError>(())
        })
        .expect("reads follow writes and edits");
    }
}
