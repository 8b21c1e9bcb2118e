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

/// An [`Approver`]'s answer about one operation a [`Permissioned`]
/// backend's rule says to `ask` about.
///
/// Named for the permission layer because the agent runtime
/// (`deepagent::Decision`) has its own answer type for approving tool
/// calls, with approve/deny/edit; the two are imported side by side.
///
/// [`Permissioned`]: super::Permissioned
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermissionDecision {
    /// Go ahead, this once.
    Allow,
    /// Refuse; `reason` reaches the caller (and the model) in the
    /// `PermissionDenied` message.
    Deny {
        /// Why, in words the model can act on.
        reason: String,
    },
}

impl PermissionDecision {
    /// A denial with a reason.
    pub fn deny(reason: impl Into<String>) -> Self {
        PermissionDecision::Deny {
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
    async fn decide(&self, request: ApprovalRequest) -> PermissionDecision;
}

/// An [`Approver`] made from an async closure; see [`approver_fn`].
pub struct FnApprover<F>(F);

/// Makes an [`Approver`] from an async closure.
///
/// ```
/// use deepagent_core::layers::{approver_fn, PermissionDecision, Operation};
/// let approver = approver_fn(|req| async move {
///     if req.operation == Operation::Execute {
///         PermissionDecision::deny("no commands today")
///     } else {
///         PermissionDecision::Allow
///     }
/// });
/// # let _ = approver;
/// ```
pub fn approver_fn<F, Fut>(f: F) -> FnApprover<F>
where
    F: Fn(ApprovalRequest) -> Fut + Send + Sync,
    Fut: Future<Output = PermissionDecision> + Send,
{
    FnApprover(f)
}

#[async_trait]
impl<F, Fut> Approver for FnApprover<F>
where
    F: Fn(ApprovalRequest) -> Fut + Send + Sync,
    Fut: Future<Output = PermissionDecision> + Send,
{
    async fn decide(&self, request: ApprovalRequest) -> PermissionDecision {
        (self.0)(request).await
    }
}
