//! Layers: backends that wrap another backend and change one aspect of
//! it, in the manner of OpenDAL's layers. Wrapping beats flags: any
//! backend, including one you wrote, gets the behaviour unchanged.
//!
//! - [`ReadOnly`]: reads pass, writes, edits and commands are refused;
//! - [`Scoped`]: the inner backend's directory becomes `/`;
//! - [`Permissioned`]: a permission [`Ruleset`] (allow / deny / ask per
//!   operation and path) with an [`Approver`] for the asks.

mod permissions;
mod read_only;
mod scoped;

pub use permissions::{
    approver_fn, Action, ApprovalRequest, Approver, FnApprover, Operation, OperationRules,
    PermissionDecision, Permissioned, Policy, Rule, Ruleset, Verdict,
};
pub use read_only::{read_only_denial, ReadOnly};
pub use scoped::Scoped;
