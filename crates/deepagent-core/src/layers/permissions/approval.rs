//! Asking a human (or a policy service) when a rule says `ask`.

use std::future::Future;

use async_trait::async_trait;

use super::rules::Operation;

/// What the approver is asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRequest {
    /// The operation waiting.
    pub operation: Operation,
    /// The normalized path, or the command for `execute`.
    pub target: String,
    /// Why approval is needed: the matching rule's description, or the
    /// operation's default.
    pub reason: String,
}

/// The approver's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead, this once.
    Allow,
    /// Refuse; `reason` reaches the caller (and the model) in the
    /// `PermissionDenied` message.
    Deny {
        /// Why, in words the model can act on.
        reason: String,
    },
}

impl Decision {
    /// A denial with a reason.
    pub fn deny(reason: impl Into<String>) -> Self {
        Decision::Deny {
            reason: reason.into(),
        }
    }
}

/// Decides operations whose rule says `ask`.
///
/// Called once per operation, concurrently when operations run
/// concurrently; decisions are not remembered, so an approver that wants
/// "allow for the rest of the session" keeps that state itself.
#[async_trait]
pub trait Approver: Send + Sync {
    /// Allows or denies one operation.
    async fn decide(&self, request: ApprovalRequest) -> Decision;
}

/// An [`Approver`] made from an async closure; see [`approver_fn`].
pub struct FnApprover<F>(F);

/// Makes an [`Approver`] from an async closure.
///
/// ```
/// use deepagent_core::layers::{approver_fn, Decision, Operation};
/// let approver = approver_fn(|req| async move {
///     if req.operation == Operation::Execute {
///         Decision::deny("no commands today")
///     } else {
///         Decision::Allow
///     }
/// });
/// # let _ = approver;
/// ```
pub fn approver_fn<F, Fut>(f: F) -> FnApprover<F>
where
    F: Fn(ApprovalRequest) -> Fut + Send + Sync,
    Fut: Future<Output = Decision> + Send,
{
    FnApprover(f)
}

#[async_trait]
impl<F, Fut> Approver for FnApprover<F>
where
    F: Fn(ApprovalRequest) -> Fut + Send + Sync,
    Fut: Future<Output = Decision> + Send,
{
    async fn decide(&self, request: ApprovalRequest) -> Decision {
        (self.0)(request).await
    }
}
