//! Shared by the permission and read-only tests: a sandbox that records
//! the commands it is given instead of running them, an approver that
//! records what it is asked, and a runtime.

#![allow(dead_code)]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use deepagent_core::layers::{approver_fn, ApprovalRequest, Approver, PermissionDecision};
use deepagent_core::{
    Backend, Bytes, EditResult, ExecuteResponse, FileInfo, GlobQuery, GlobResult, GrepQuery,
    GrepResult, ReadSlice, Result, Sandbox, WriteResult,
};
use deepagent_state::StateBackend;

/// Runs a test body on a fresh current-thread runtime.
pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}

/// A StateBackend that claims to be a sandbox: `execute` records the
/// command and "succeeds", so a test can tell a refused command (not
/// recorded) from one that reached the backend.
#[derive(Clone, Default)]
pub struct RecordingSandbox {
    pub store: StateBackend,
    pub ran: Arc<Mutex<Vec<String>>>,
}

impl RecordingSandbox {
    pub fn ran(&self) -> Vec<String> {
        self.ran.lock().unwrap().clone()
    }
}

#[async_trait]
impl Backend for RecordingSandbox {
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
    fn as_sandbox(&self) -> Option<&dyn Sandbox> {
        Some(self)
    }
}

#[async_trait]
impl Sandbox for RecordingSandbox {
    fn id(&self) -> &str {
        "recording-sandbox"
    }
    async fn execute(&self, command: &str, _timeout: Option<Duration>) -> Result<ExecuteResponse> {
        self.ran.lock().unwrap().push(command.to_owned());
        Ok(ExecuteResponse::new(format!("ran: {command}"), 0, false))
    }
}

/// An approver that answers `decision` and remembers every request.
pub fn recording_approver(
    decision: PermissionDecision,
) -> (impl Approver + 'static, Arc<Mutex<Vec<ApprovalRequest>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let approver = approver_fn(move |req: ApprovalRequest| {
        log.lock().unwrap().push(req);
        let decision = decision.clone();
        async move { decision }
    });
    (approver, seen)
}
