//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod http;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deepagent::{
    Backend, BackendResult as Result, Bytes, EditResult, ExecuteResponse, FileInfo, GlobQuery,
    GlobResult, GrepQuery, GrepResult, Sandbox, StateBackend, WriteResult,
};

/// A StateBackend that pretends to run commands: `execute` answers
/// `ran: <command>` and records it.
#[derive(Clone, Default)]
pub struct EchoSandbox {
    pub inner: StateBackend,
    pub commands: Arc<std::sync::Mutex<Vec<String>>>,
}

#[async_trait]
impl Backend for EchoSandbox {
    fn name(&self) -> &str {
        "EchoSandbox"
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
    async fn write(&self, path: &str, content: Bytes) -> Result<WriteResult> {
        self.inner.write(path, content).await
    }
    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        all: deepagent_core::Replace,
    ) -> Result<EditResult> {
        self.inner.edit(path, old, new, all).await
    }
    async fn glob(&self, q: &GlobQuery) -> Result<GlobResult> {
        self.inner.glob(q).await
    }
    async fn grep(&self, q: &GrepQuery) -> Result<GrepResult> {
        self.inner.grep(q).await
    }
    fn as_sandbox(&self) -> Option<&dyn Sandbox> {
        Some(self)
    }
}

#[async_trait]
impl Sandbox for EchoSandbox {
    fn id(&self) -> &str {
        "echo"
    }
    async fn execute(&self, command: &str, _timeout: Option<Duration>) -> Result<ExecuteResponse> {
        self.commands.lock().unwrap().push(command.to_owned());
        Ok(ExecuteResponse::new(format!("ran: {command}"), 0, false))
    }
}

/// A StateBackend with a few files.
pub async fn seeded() -> StateBackend {
    let b = StateBackend::new();
    for (p, c) in [
        ("/src/app.py", "import os\n\ndef main():\n    print('hi')\n"),
        ("/src/util.py", "def helper():\n    return 1\n"),
        ("/README.md", "# Demo\nmain entry\n"),
    ] {
        b.write(p, Bytes::from(c)).await.unwrap();
    }
    b
}
