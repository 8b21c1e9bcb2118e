//! The `Backend` and `Sandbox` traits.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::Result;
use crate::info::{BackendInfo, Capabilities, Durability};
use crate::types::{
    EditResult, ExecuteResponse, FileDownload, FileInfo, GlobQuery, GlobResult, GrepQuery,
    GrepResult, ReadSlice, Replace, WriteResult,
};
use crate::{BackendError, VPath};

/// A file store an agent works through.
///
/// Paths are virtual POSIX paths (see [`VPath`](crate::VPath)): each
/// operation normalizes its input with the shared rules, so `src/a.py`,
/// `/src/./a.py` and `//src/a.py` are one file and `../x` is
/// [`InvalidPath`](crate::BackendError::InvalidPath) everywhere. Every path
/// in a result is normalized and in the caller's terms.
///
/// The trait is object safe; agents hold an `Arc<dyn Backend>`.
///
/// ```
/// use std::sync::Arc;
/// use deepagent_core::{Backend, GlobQuery};
///
/// async fn python_files(backend: Arc<dyn Backend>) -> deepagent_core::Result<Vec<String>> {
///     let found = backend.glob(&GlobQuery::new("**/*.py")).await?;
///     Ok(found.files.into_iter().map(|f| f.path).collect())
/// }
/// ```
#[async_trait]
pub trait Backend: Send + Sync {
    /// A short name for messages, e.g. `StateBackend`.
    fn name(&self) -> &str;

    /// True when a **file** is stored at `path`; a directory or nothing is
    /// `false`.
    ///
    /// Files only, on purpose: several backends (memory, object stores)
    /// have no directories of their own, only paths implied by files, so
    /// "is there a directory" has no single answer. Ask
    /// [`ls`](Backend::ls) to tell a directory from a missing path.
    async fn exists(&self, path: &str) -> Result<bool>;

    /// The direct children of a directory, directories first, then by
    /// name. `ls` of a file lists that one file; of a missing path,
    /// [`NotFound`](crate::BackendError::NotFound).
    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>>;

    /// The whole file, byte-exact.
    async fn read_bytes(&self, path: &str) -> Result<Bytes>;

    /// Lines `offset..offset + limit` (0-based) and the total line count.
    ///
    /// The default cuts the slice out of [`Backend::read_bytes`]; backends
    /// that can stream override it.
    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadSlice> {
        let content = self.read_bytes(path).await?;
        let vpath = crate::VPath::new(path)?;
        crate::text::read_slice(vpath.as_str(), &content, offset, limit)
    }

    /// Creates or replaces a file; parent directories are implied.
    async fn write(&self, path: &str, content: Bytes) -> Result<WriteResult>;

    /// Replaces `old` with `new` exactly, [once or everywhere](Replace)
    /// (see [`apply_edit`](crate::edit::apply_edit) for the rules); atomic
    /// with respect to other edits of the same file.
    async fn edit(&self, path: &str, old: &str, new: &str, replace: Replace) -> Result<EditResult>;

    /// Files under `query.path` whose relative path matches the pattern,
    /// sorted by path.
    async fn glob(&self, query: &GlobQuery) -> Result<GlobResult>;

    /// Lines matching a regex, sorted by path then line.
    async fn grep(&self, query: &GrepQuery) -> Result<GrepResult>;

    /// Where each of `paths` really leads once every symbolic link on the
    /// way is resolved, in this backend's own virtual terms: one answer
    /// per path, in order.
    ///
    /// The [`Permissioned`](crate::layers::Permissioned) layer checks its
    /// rules against both the spelling and this answer, so a link
    /// (`docs/notes.txt -> ../.env`) gives no access a rule denies.
    ///
    /// - A path (or its tail) that does not exist yet is resolved as far as
    ///   it exists and the rest appended, so a write's target can be judged
    ///   before it is created.
    /// - `None`: the path leads somewhere this backend cannot name (a link
    ///   out of a [`Scoped`](crate::layers::Scoped) view, or out of a
    ///   local root, which the backend refuses anyway); only the spelling
    ///   can be judged.
    /// - An invalid path is [`InvalidPath`](crate::BackendError::InvalidPath)
    ///   for the whole call.
    ///
    /// The default is the normalized path itself: right for a backend
    /// without links. A backend with links overrides it, and a layer or
    /// router forwards it, mapping paths in and out as it does for the
    /// other operations. The permission layer also relies on `glob` and
    /// `grep` not following links below their base (the base itself is
    /// resolved here), as every backend in this workspace does.
    ///
    /// ```
    /// # async fn demo(backend: &dyn deepagent_core::Backend) -> deepagent_core::Result<()> {
    /// let real = backend.resolve_links(&["/docs/./notes.txt".to_owned()]).await?;
    /// assert_eq!(real.len(), 1); // e.g. Some("/.env") when notes.txt links there
    /// # Ok(()) }
    /// ```
    async fn resolve_links(&self, paths: &[String]) -> Result<Vec<Option<String>>> {
        paths
            .iter()
            .map(|p| Ok(Some(crate::VPath::new(p)?.into_string())))
            .collect()
    }

    /// This backend as a [`Sandbox`], when it can run commands.
    fn as_sandbox(&self) -> Option<&dyn Sandbox> {
        None
    }

    /// What this backend is and what it supports: its kind, whether its
    /// files outlive the program, which optional operations work, its size
    /// limits and, for a router, its mounts.
    ///
    /// Ask this instead of matching [`Backend::name`] or downcasting.
    /// The default describes a backend that implements only the required
    /// methods: kind = `name()`, durability unknown, reads and writes,
    /// `execute` when [`Backend::as_sandbox`] is `Some`, no `delete` or
    /// `rename`. Override it when you implement more.
    ///
    /// ```
    /// use deepagent_core::{Backend, Capabilities};
    /// fn can_clean_up(backend: &dyn Backend) -> bool {
    ///     backend.info().capabilities.delete
    /// }
    /// ```
    fn info(&self) -> BackendInfo {
        let mut capabilities = Capabilities::read_write();
        if self.as_sandbox().is_some() {
            capabilities = capabilities.with_execute();
        }
        BackendInfo::new(self.name(), Durability::Unknown).with_capabilities(capabilities)
    }

    /// Removes the file at `path`; a directory (and everything below it)
    /// only with `recursive`.
    ///
    /// Errors: [`NotFound`](BackendError::NotFound) when nothing is there,
    /// [`IsADirectory`](BackendError::IsADirectory) for a directory without
    /// `recursive`, [`InvalidArgument`](BackendError::InvalidArgument) for
    /// `/` (delete its entries instead). A recursive delete that fails part
    /// way may leave some entries behind, never anything outside `path`.
    ///
    /// The default is [`Unsupported`](BackendError::Unsupported) (after
    /// checking the path), and [`Capabilities::delete`] says whether a
    /// backend overrides it.
    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let _ = recursive;
        VPath::new(path)?;
        Err(BackendError::unsupported("delete", self.name()))
    }

    /// Moves the file or directory at `from` to `to` within this backend;
    /// parents of `to` are implied, as for `write`.
    ///
    /// An existing file at `to` is replaced (atomically where
    /// [`Capabilities::atomic_rename`] says so); an existing directory at
    /// `to`, or a file there when `from` is a directory, is
    /// [`AlreadyExists`](BackendError::AlreadyExists). Renaming a path onto
    /// itself does nothing; into its own subtree, or renaming `/`, is
    /// [`InvalidArgument`](BackendError::InvalidArgument).
    ///
    /// The default is [`Unsupported`](BackendError::Unsupported) (after
    /// checking both paths); see [`Capabilities::rename`].
    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        VPath::new(from)?;
        VPath::new(to)?;
        Err(BackendError::unsupported("rename", self.name()))
    }

    /// Writes many files in one call; returns one [`WriteResult`] per file,
    /// in order. A later entry for the same path wins.
    ///
    /// Every path is checked before anything is written, so an invalid
    /// path fails the whole batch untouched. The batch is not a
    /// transaction: when one write fails, files before it stay written and
    /// the error names the failing path.
    ///
    /// The default writes one file after another; a backend with a cheaper
    /// bulk path (one archive, one lock) overrides it and sets
    /// [`Capabilities::native_batch`].
    async fn upload(&self, files: Vec<(String, Bytes)>) -> Result<Vec<WriteResult>> {
        for (path, _) in &files {
            VPath::new(path)?;
        }
        let mut written = Vec::with_capacity(files.len());
        for (path, content) in files {
            written.push(self.write(&path, content).await?);
        }
        Ok(written)
    }

    /// Reads many files in one call: one [`FileDownload`] per path, in
    /// order, each with its content or its own error (a missing file does
    /// not fail the others). The outer error is for the backend itself
    /// failing (an engine that does not answer).
    ///
    /// The default reads one file after another.
    async fn download(&self, paths: &[&str]) -> Result<Vec<FileDownload>> {
        let mut out = Vec::with_capacity(paths.len());
        for path in paths {
            let (path, content) = match VPath::new(path) {
                Ok(p) => {
                    let content = self.read_bytes(p.as_str()).await;
                    (p.into_string(), content)
                }
                Err(e) => ((*path).to_owned(), Err(e)),
            };
            out.push(FileDownload { path, content });
        }
        Ok(out)
    }
}

/// A backend that can also run shell commands.
#[async_trait]
pub trait Sandbox: Backend {
    /// A stable identifier (a container id, a directory).
    fn id(&self) -> &str;

    /// Runs `command` with `sh -c`, stdout and stderr interleaved, output
    /// capped at [`DEFAULT_OUTPUT_LIMIT`](crate::DEFAULT_OUTPUT_LIMIT)
    /// bytes. A command past its timeout is killed and reported with exit
    /// code 124 and `timed_out`.
    async fn execute(&self, command: &str, timeout: Option<Duration>) -> Result<ExecuteResponse>;
}

macro_rules! forward_backend {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: Backend + ?Sized> Backend for $ty {
            fn name(&self) -> &str { (**self).name() }
            async fn exists(&self, path: &str) -> Result<bool> { (**self).exists(path).await }
            async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> { (**self).ls(path).await }
            async fn read_bytes(&self, path: &str) -> Result<Bytes> { (**self).read_bytes(path).await }
            async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadSlice> {
                (**self).read(path, offset, limit).await
            }
            async fn write(&self, path: &str, content: Bytes) -> Result<WriteResult> {
                (**self).write(path, content).await
            }
            async fn edit(&self, path: &str, old: &str, new: &str, replace: Replace) -> Result<EditResult> {
                (**self).edit(path, old, new, replace).await
            }
            async fn glob(&self, query: &GlobQuery) -> Result<GlobResult> { (**self).glob(query).await }
            async fn grep(&self, query: &GrepQuery) -> Result<GrepResult> { (**self).grep(query).await }
            async fn resolve_links(&self, paths: &[String]) -> Result<Vec<Option<String>>> {
                (**self).resolve_links(paths).await
            }
            fn as_sandbox(&self) -> Option<&dyn Sandbox> { (**self).as_sandbox() }
            fn info(&self) -> BackendInfo { (**self).info() }
            async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
                (**self).delete(path, recursive).await
            }
            async fn rename(&self, from: &str, to: &str) -> Result<()> {
                (**self).rename(from, to).await
            }
            async fn upload(&self, files: Vec<(String, Bytes)>) -> Result<Vec<WriteResult>> {
                (**self).upload(files).await
            }
            async fn download(&self, paths: &[&str]) -> Result<Vec<FileDownload>> {
                (**self).download(paths).await
            }
        }
    )*};
}

forward_backend!(Arc<T>, Box<T>, &T);
