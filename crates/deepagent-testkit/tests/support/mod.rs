//! Shared by the permission and read-only tests: a sandbox that records
//! the commands it is given instead of running them, an approver that
//! records what it is asked, and a runtime.

#![allow(dead_code)]

use std::future::Future;
use std::sync::{Arc, Mutex};

use deepagent_core::layers::{approver_fn, ApprovalRequest, Approver, PermissionDecision};
use deepagent_state::StateBackend;

/// Runs a test body on a fresh current-thread runtime.
pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}

/// The testkit's recording sandbox over a StateBackend: `execute`
/// records the command and "succeeds", so a test can tell a refused
/// command (not recorded) from one that reached the backend.
pub type RecordingSandbox = deepagent_testkit::recording::RecordingSandbox<StateBackend>;

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
