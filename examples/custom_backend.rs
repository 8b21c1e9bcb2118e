//! Writing your own backend: a `BTreeMap` behind a mutex.
//!
//! Everything that must behave the same in every backend comes from
//! `deepagent-core`: path normalization (`VPath`), listings
//! (`listing::children_of`), the edit rules (`edit::apply_edit`), line
//! slicing and binary detection (`text`), glob rules (`glob::PathGlob`,
//! `glob::FileFilter`), the regex syntax (`GrepQuery::regex`) and result
//! capping (`GlobResult::finish`, `GrepResult::finish`). A backend only
//! decides where bytes live.
//!
//! The conformance suite runs against this backend at the bottom of the
//! file, under `#[cfg(test)]`; `cargo test -p deepagent-composite` runs
//! it. Run the demo with `cargo run --example custom_backend`.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use async_trait::async_trait;
use deepagent_core::glob::{file_filter, PathGlob};
use deepagent_core::{
    edit, listing, text, Backend, BackendError, Bytes, EditResult, FileInfo, GlobQuery, GlobResult,
    GrepMatch, GrepQuery, GrepResult, ReadSlice, Result, VPath, WriteResult,
};

/// A file store in a sorted map. Directories are implied by file paths.
#[derive(Default)]
pub struct MapBackend {
    files: Mutex<BTreeMap<VPath, (Bytes, SystemTime)>>,
}

type Files = BTreeMap<VPath, (Bytes, SystemTime)>;

impl MapBackend {
    fn lock(&self) -> MutexGuard<'_, Files> {
        // Each change is a single map call, so a panic elsewhere cannot
        // leave the map half-updated: a poisoned lock is still good.
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A path is a directory when it is the root or some file lies below it.
fn is_dir(files: &Files, path: &VPath) -> bool {
    path.is_root() || files.keys().any(|p| p != path && p.starts_with(path))
}

/// The file at `path`, or the error a file operation there returns.
fn file<'a>(files: &'a Files, path: &VPath) -> Result<&'a Bytes> {
    match files.get(path) {
        Some((content, _)) => Ok(content),
        None if is_dir(files, path) => Err(BackendError::IsADirectory {
            path: path.to_string(),
        }),
        None => Err(BackendError::not_found(path.as_str())),
    }
}

#[async_trait]
impl Backend for MapBackend {
    fn name(&self) -> &str {
        "MapBackend"
    }

    async fn exists(&self, path: &str) -> Result<bool> {
        let path = VPath::new(path)?;
        Ok(self.lock().contains_key(&path))
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        let path = VPath::new(path)?;
        let files = self.lock();
        if let Some((content, modified)) = files.get(&path) {
            return Ok(vec![FileInfo::file(
                &path,
                content.len() as u64,
                Some(*modified),
            )]);
        }
        let entries = files
            .iter()
            .map(|(p, (c, m))| (p, c.len() as u64, Some(*m)));
        listing::children_of(&path, entries).ok_or_else(|| BackendError::not_found(path.as_str()))
    }

    async fn read_bytes(&self, path: &str) -> Result<Bytes> {
        let path = VPath::new(path)?;
        Ok(file(&self.lock(), &path)?.clone())
    }

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadSlice> {
        let path = VPath::new(path)?;
        let content = file(&self.lock(), &path)?.clone();
        text::read_slice(path.as_str(), &content, offset, limit)
    }

    async fn write(&self, path: &str, content: Bytes) -> Result<WriteResult> {
        let path = VPath::new(path)?;
        let mut files = self.lock();
        if !files.contains_key(&path) {
            if is_dir(&files, &path) {
                return Err(BackendError::IsADirectory {
                    path: path.to_string(),
                });
            }
            let mut ancestor = path.parent();
            while let Some(dir) = ancestor {
                if files.contains_key(&dir) {
                    return Err(BackendError::NotADirectory {
                        path: dir.to_string(),
                    });
                }
                ancestor = dir.parent();
            }
        }
        let size = content.len() as u64;
        files.insert(path.clone(), (content, SystemTime::now()));
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
        // One lock across read, replace and store: concurrent edits of the
        // same file cannot lose an update.
        let mut files = self.lock();
        let current = file(&files, &path)?;
        let (updated, occurrences) =
            edit::apply_edit(path.as_str(), current, old, new, replace_all)?;
        files.insert(path.clone(), (Bytes::from(updated), SystemTime::now()));
        Ok(EditResult::new(path.into_string(), occurrences))
    }

    async fn glob(&self, query: &GlobQuery) -> Result<GlobResult> {
        let pattern = PathGlob::new(&query.pattern)?;
        let base = VPath::new(&query.path)?;
        let files = self.lock();
        let found = files
            .iter()
            .filter(|(p, _)| {
                p.relative_to(&base)
                    .is_some_and(|rel| !rel.is_empty() && pattern.is_match(rel))
            })
            .map(|(p, (c, m))| FileInfo::file(p, c.len() as u64, Some(*m)))
            .collect();
        Ok(GlobResult::finish(found, query.max_count, false))
    }

    async fn grep(&self, query: &GrepQuery) -> Result<GrepResult> {
        let regex = query.regex()?;
        let filter = file_filter(query.glob.as_deref())?;
        let base = VPath::new(&query.path)?;
        let files = self.lock();
        let targets: Vec<(&VPath, &Bytes)> = match files.get(&base) {
            // A named file is searched even when hidden; the filter sees
            // its name, as it would in a walk of its directory.
            Some((content, _)) => {
                let name = base.file_name().unwrap_or_default();
                if filter.as_ref().is_none_or(|f| f.is_match(name)) {
                    vec![(&base, content)]
                } else {
                    Vec::new()
                }
            }
            None if is_dir(&files, &base) => files
                .iter()
                .filter(|(p, _)| {
                    let Some(rel) = p.relative_to(&base) else {
                        return false;
                    };
                    !(query.ignore_hidden && p.is_hidden_below(&base))
                        && filter.as_ref().is_none_or(|f| f.is_match(rel))
                })
                .map(|(p, (c, _))| (p, c))
                .collect(),
            None => return Err(BackendError::not_found(base.as_str())),
        };
        let mut matches = Vec::new();
        for (path, content) in targets {
            if text::is_binary(content) {
                continue;
            }
            for (i, line) in text::lines(content).enumerate() {
                let line = String::from_utf8_lossy(line);
                if regex.is_match(&line) {
                    matches.push(GrepMatch::new(
                        path.to_string(),
                        i as u64 + 1,
                        line.into_owned(),
                    ));
                }
            }
        }
        Ok(GrepResult::finish(matches, query.max_count, false))
    }
}

#[cfg_attr(test, allow(dead_code))]
fn main() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| BackendError::io("tokio runtime", e))?;
    runtime.block_on(async {
        let backend = MapBackend::default();
        backend
            .write(
                "/notes/todo.md",
                Bytes::from("- write a backend\n- run the suite\n"),
            )
            .await?;
        backend
            .write(
                "notes/../src/lib.rs",
                Bytes::from("pub fn answer() -> u32 { 42 }\n"),
            )
            .await?;

        println!("ls /:");
        for entry in backend.ls("/").await? {
            let kind = if entry.is_dir { "dir " } else { "file" };
            println!("  {kind} {}", entry.path);
        }

        let edited = backend
            .edit(
                "/notes/todo.md",
                "- run the suite",
                "- run the suite (done)",
                deepagent_core::Replace::Once,
            )
            .await?;
        println!("edited {} ({} occurrence)", edited.path, edited.occurrences);

        let slice = backend.read("/notes/todo.md", 0, 10).await?;
        println!("{}", text::render_read(&slice));

        for hit in backend.grep(&GrepQuery::new(r"fn \w+")).await?.matches {
            println!("{}:{}: {}", hit.path, hit.line_number, hit.line);
        }

        // Errors name the path and say what to do.
        if let Err(e) = backend.read_bytes("/missing.txt").await {
            println!("error: {e}");
        }
        Ok(())
    })
}

#[cfg(test)]
mod conformance {
    use super::MapBackend;
    use deepagent_testkit::Fixture;

    // A store that implements only the required methods: no delete,
    // rename or execute. Their cases are reported as ignored, and a
    // generated test checks that `info()` agrees.
    deepagent_testkit::conformance_tests!(lacks[delete, rename, execute], || async {
        Fixture::new(MapBackend::default())
    });
}
