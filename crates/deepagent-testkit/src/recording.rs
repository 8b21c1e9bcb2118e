//! A sandbox double: files go to a real backend, commands are recorded
//! and answered `ran: <command>` instead of run, so a test can tell a
//! refused command (not recorded) from one that reached the backend.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use deepagent_core::{
    Backend, Bytes, EditResult, ExecuteResponse, FileDownload, FileInfo, GlobQuery, GlobResult,
    GrepQuery, GrepResult, ReadSlice, Result, Sandbox, WriteResult,
};

/// Wraps `B` (any backend, e.g. a `StateBackend`) as a [`Sandbox`] that
/// records commands. Cloning shares the store and the record.
///
/// ```
/// # use deepagent_testkit::recording::RecordingSandbox;
/// # fn demo<B: deepagent_core::Backend + Clone>(store: B) {
/// let sandbox = RecordingSandbox::new(store);
/// assert!(sandbox.ran().is_empty());
/// # }
/// ```
#[derive(Clone, Default)]
pub struct RecordingSandbox<B> {
    /// The backend the files go to.
    pub store: B,
    ran: Arc<Mutex<Vec<String>>>,
}

impl<B> RecordingSandbox<B> {
    /// A recording sandbox over `store`.
    pub fn new(store: B) -> Self {
        RecordingSandbox {
            store,
            ran: Arc::default(),
        }
    }

    /// The commands `execute` was given, in order.
    pub fn ran(&self) -> Vec<String> {
        self.ran.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl<B: Backend> Backend for RecordingSandbox<B> {
    fn name(&self) -> &str {
        "RecordingSandbox"
    }
    async fn exists(&self, path: &str) -> Result<bool> {
        self.store.exists(path).await
    }
    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        self.store.ls(path).await
    }
    async fn read_bytes(&self, path: &str) -> Result<Bytes> {
        self.store.read_bytes(path).await
    }
    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadSlice> {
        self.store.read(path, offset, limit).await
    }
    async fn write(&self, path: &str, content: Bytes) -> Result<WriteResult> {
        self.store.write(path, content).await
    }
    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        all: deepagent_core::Replace,
    ) -> Result<EditResult> {
        self.store.edit(path, old, new, all).await
    }
    async fn glob(&self, query: &GlobQuery) -> Result<GlobResult> {
        self.store.glob(query).await
    }
    async fn grep(&self, query: &GrepQuery) -> Result<GrepResult> {
        self.store.grep(query).await
    }
    async fn download(&self, paths: &[&str]) -> Result<Vec<FileDownload>> {
        self.store.download(paths).await
    }
    fn as_sandbox(&self) -> Option<&dyn Sandbox> {
        Some(self)
    }
}

#[async_trait]
impl<B: Backend> Sandbox for RecordingSandbox<B> {
    fn id(&self) -> &str {
        "recording-sandbox"
    }
    async fn execute(&self, command: &str, _timeout: Option<Duration>) -> Result<ExecuteResponse> {
        if let Ok(mut ran) = self.ran.lock() {
            ran.push(command.to_owned());
        }
        Ok(ExecuteResponse::new(format!("ran: {command}"), 0, false))
    }
}
