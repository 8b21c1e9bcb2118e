//! Layers: backends that wrap another backend and change one aspect of
//! it, in the manner of OpenDAL's layers. Wrapping beats flags: any
//! backend, including one you wrote, gets the behaviour unchanged.
//!
//! - [`ReadOnly`]: reads pass, writes, edits and commands are refused;
//! - [`Scoped`]: the inner backend's directory becomes `/`;
//! - [`Permissioned`]: a permission [`Ruleset`] (allow / deny / ask per
//!   operation and path) with an [`Approver`] for the asks;
//! - [`Journaled`]: records what each turn changed, to show it
//!   ([`Journaled::diff`]) and take it back ([`Journaled::undo`]).

mod journaled;
mod permissions;
mod read_only;
mod scoped;

pub use journaled::{FileBefore, FileChange, Journaled, Turn, UndoReport, DEFAULT_MAX_TURNS};
pub use permissions::{
    approver_fn, Action, ApprovalRequest, Approver, FnApprover, Operation, OperationRules,
    PermissionDecision, Permissioned, Policy, Rule, Ruleset, Verdict,
};
pub use read_only::{read_only_denial, ReadOnly};
pub use scoped::Scoped;

/// A layer's `download`: each path was `prepared` into the inner
/// backend's path or into this file's own error (refused, invalid); the
/// prepared ones go to `inner` in one call, and every answer comes back in
/// the caller's order through `outward`.
pub(crate) async fn download_prepared(
    inner: &dyn crate::Backend,
    paths: &[&str],
    prepared: Vec<crate::Result<String>>,
    outward: impl Fn(crate::FileDownload) -> crate::FileDownload,
) -> crate::Result<Vec<crate::FileDownload>> {
    let asked: Vec<&str> = prepared
        .iter()
        .filter_map(|p| p.as_ref().ok().map(String::as_str))
        .collect();
    let mut answers = if asked.is_empty() {
        Vec::new()
    } else {
        inner.download(&asked).await?
    }
    .into_iter();
    let mut out = Vec::with_capacity(paths.len());
    let asked_count = asked.len();
    drop(asked);
    for (path, prep) in paths.iter().zip(prepared) {
        match prep {
            Ok(_) => match answers.next() {
                Some(answer) => out.push(outward(answer)),
                None => {
                    return Err(crate::BackendError::other(format!(
                        "{} answered a download of {} paths with fewer files",
                        inner.name(),
                        asked_count
                    )))
                }
            },
            Err(e) => out.push(crate::FileDownload {
                path: (*path).to_owned(),
                content: Err(e),
            }),
        }
    }
    Ok(out)
}
