use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{
    Backend, BackendError, BackendInfo, EditResult, ExecuteResponse, FileDownload, FileInfo,
    GlobQuery, GlobResult, GrepQuery, GrepResult, ReadSlice, Result, Sandbox, VPath, WriteResult,
};

/// The error every read-only rule returns, so `ReadOnly` and
/// `LocalBackend::read_only(true)` say the same thing.
///
/// ```
/// use deepagent_core::{layers::read_only_denial, ErrorKind};
/// let e = read_only_denial("write", "/src/main.rs");
/// assert_eq!(e.kind(), ErrorKind::PermissionDenied);
/// assert!(e.to_string().contains("/src/main.rs"));
/// ```
pub fn read_only_denial(operation: &str, target: &str) -> BackendError {
    BackendError::permission_denied(
        target,
        format!("{operation} refused: this location is read-only; write your changes elsewhere"),
    )
}

/// Wraps any backend so that it can be read but never changed.
///
/// Reads, `ls`, `glob`, `grep` and `download` pass through; `write`,
/// `edit`, `delete`, `rename`, `upload` and `execute` fail with [`BackendError::PermissionDenied`] before the inner
/// backend is touched. The layer does not advertise itself as a sandbox
/// (`as_sandbox()` is `None`), so an agent is never offered a command tool
/// that could only fail, and its [`info`](Backend::info) says it cannot
/// write, delete, rename or execute.
///
/// ```
/// use deepagent_core::layers::ReadOnly;
/// # fn wrap(source: impl deepagent_core::Backend + 'static) {
/// let source = ReadOnly::new(source); // mount it at /src/ in a composite
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ReadOnly<B> {
    inner: B,
    name: String,
}

impl<B: Backend> ReadOnly<B> {
    /// Makes `inner` read-only.
    pub fn new(inner: B) -> Self {
        let name = format!("ReadOnly({})", inner.name());
        ReadOnly { inner, name }
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }
}

fn refuse(operation: &str, path: &str) -> BackendError {
    // Normalize first so an invalid path is reported as such, exactly as
    // the inner backend would.
    match VPath::new(path) {
        Ok(p) => read_only_denial(operation, p.as_str()),
        Err(e) => e,
    }
}

#[async_trait]
impl<B: Backend> Backend for ReadOnly<B> {
    fn name(&self) -> &str {
        &self.name
    }
    async fn exists(&self, path: &str) -> Result<bool> {
        self.inner.exists(path).await
    }
    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        self.inner.ls(path).await
    }
    async fn read_bytes(&self, path: &str) -> Result<Bytes> {
        self.inner.read_bytes(path).await
    }
    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadSlice> {
        self.inner.read(path, offset, limit).await
    }
    async fn write(&self, path: &str, _content: Bytes) -> Result<WriteResult> {
        Err(refuse("write", path))
    }
    async fn edit(
        &self,
        path: &str,
        _old: &str,
        _new: &str,
        _all: crate::Replace,
    ) -> Result<EditResult> {
        Err(refuse("edit", path))
    }
    async fn glob(&self, query: &GlobQuery) -> Result<GlobResult> {
        self.inner.glob(query).await
    }
    async fn grep(&self, query: &GrepQuery) -> Result<GrepResult> {
        self.inner.grep(query).await
    }
    async fn resolve_links(&self, paths: &[String]) -> Result<Vec<Option<String>>> {
        self.inner.resolve_links(paths).await
    }
    fn info(&self) -> BackendInfo {
        self.inner.info().into_read_only()
    }
    async fn delete(&self, path: &str, _recursive: bool) -> Result<()> {
        Err(refuse("delete", path))
    }
    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        VPath::new(to)?;
        Err(refuse("rename", from))
    }
    async fn upload(&self, files: Vec<(String, Bytes)>) -> Result<Vec<WriteResult>> {
        for (path, _) in &files {
            VPath::new(path)?;
        }
        match files.first() {
            Some((path, _)) => Err(refuse("upload", path)),
            None => Ok(Vec::new()),
        }
    }
    async fn download(&self, paths: &[&str]) -> Result<Vec<FileDownload>> {
        self.inner.download(paths).await
    }
}

#[async_trait]
impl<B: Backend> Sandbox for ReadOnly<B> {
    fn id(&self) -> &str {
        &self.name
    }
    async fn execute(&self, command: &str, _timeout: Option<Duration>) -> Result<ExecuteResponse> {
        Err(read_only_denial("execute", command))
    }
}
