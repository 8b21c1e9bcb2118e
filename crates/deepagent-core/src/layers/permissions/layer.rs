//! The layer that enforces a [`Policy`] over any backend.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::approval::{ApprovalRequest, Approver, PermissionDecision};
use super::command::path_candidates;
use super::policy::{Policy, Verdict};
use super::rules::{Action, Operation, Ruleset};
use crate::{
    Backend, BackendError, BackendInfo, EditResult, ExecuteResponse, FileDownload, FileInfo,
    GlobQuery, GlobResult, GrepQuery, GrepResult, ReadSlice, Result, Sandbox, VPath, WriteResult,
};

/// The most files below a directory that a recursive `delete` or a
/// directory `rename` checks one by one; past it the operation is refused
/// rather than allowed unchecked.
const MAX_CHECKED_BELOW: usize = 100_000;

/// How many times a filtered `glob`/`grep` re-asks the inner backend with
/// a larger cap before it reports `truncated` without being sure.
const MAX_REFILLS: usize = 6;

/// Wraps any backend with a permission [`Ruleset`]: each operation is
/// allowed, denied, or put to an [`Approver`].
///
/// - Paths are checked after normalization, so `/a/../.env`, `//.env` and
///   `./.env` are all `/.env`.
/// - A denial is [`BackendError::PermissionDenied`] naming the path and
///   the rule's description; an `ask` with no approver is denied with a
///   message saying approval was required.
/// - No bypass through listings: entries whose `read` (or the listing
///   operation's own rule) is `deny` are left out of `ls`, `glob` and
///   `grep` results and `exists` reports them absent. `truncated` stays
///   honest: when hidden entries made room, the inner backend is asked
///   again with a larger cap.
/// - A command is refused when its own rule denies it, or when any word
///   in it, read as a path, is denied for read, write or edit (see the
///   `command` notes: a tripwire, not a shell parser).
/// - With everything allowed (`Ruleset::permissive()`) the layer is
///   transparent: the conformance suite passes through it.
///
/// ```
/// # async fn demo(backend: impl deepagent_core::Backend + 'static) -> deepagent_core::Result<()> {
/// use deepagent_core::layers::{approver_fn, PermissionDecision, Permissioned, Ruleset};
/// use deepagent_core::Backend;
///
/// let guarded = Permissioned::new(backend, Ruleset::default_preset())?
///     .with_approver(approver_fn(|req| async move {
///         println!("allow {} {}? ({})", req.operation, req.target, req.reason);
///         PermissionDecision::Allow
///     }));
/// assert!(guarded.read_bytes("/app/../.env").await.is_err());
/// # Ok(()) }
/// ```
pub struct Permissioned<B> {
    inner: B,
    policy: Arc<Policy>,
    approver: Option<Arc<dyn Approver>>,
    name: String,
}

impl<B: Clone> Clone for Permissioned<B> {
    fn clone(&self) -> Self {
        Permissioned {
            inner: self.inner.clone(),
            policy: self.policy.clone(),
            approver: self.approver.clone(),
            name: self.name.clone(),
        }
    }
}

impl<B> fmt::Debug for Permissioned<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permissioned")
            .field("name", &self.name)
            .field("ruleset", self.policy.ruleset())
            .field("approver", &self.approver.is_some())
            .finish()
    }
}

impl<B: Backend> Permissioned<B> {
    /// Enforces `ruleset` over `inner`; a rule pattern that does not
    /// compile is [`BackendError::InvalidPattern`].
    pub fn new(inner: B, ruleset: Ruleset) -> Result<Self> {
        Ok(Self::with_policy(inner, Arc::new(Policy::new(ruleset)?)))
    }

    /// Enforces an already compiled (and possibly shared) policy.
    pub fn with_policy(inner: B, policy: Arc<Policy>) -> Self {
        let name = format!("Permissioned({})", inner.name());
        Permissioned {
            inner,
            policy,
            approver: None,
            name,
        }
    }

    /// Sends `ask` verdicts to `approver`.
    pub fn with_approver(self, approver: impl Approver + 'static) -> Self {
        self.with_shared_approver(Arc::new(approver))
    }

    /// Sends `ask` verdicts to a shared approver.
    pub fn with_shared_approver(mut self, approver: Arc<dyn Approver>) -> Self {
        self.approver = Some(approver);
        self
    }

    /// The policy enforced.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// Allows, refuses, or asks, as the verdict says.
    async fn authorize(&self, verdict: Verdict, target: &str) -> Result<()> {
        match verdict.action {
            Action::Allow => Ok(()),
            Action::Deny => Err(denial(&verdict, target)),
            Action::Ask => {
                let op = verdict.operation;
                let Some(approver) = &self.approver else {
                    return Err(BackendError::permission_denied(
                        target,
                        format!(
                            "approval required: {op} needs approval ({}), but no approver is \
                             configured, so it was refused; ask the user to allow it",
                            verdict.reason
                        ),
                    ));
                };
                let request = ApprovalRequest {
                    operation: op,
                    target: target.to_owned(),
                    reason: verdict.reason,
                };
                match approver.decide(request).await {
                    PermissionDecision::Allow => Ok(()),
                    PermissionDecision::Deny { reason } => Err(BackendError::permission_denied(
                        target,
                        format!("{op} was denied by the approver: {reason}"),
                    )),
                }
            }
        }
    }

    /// Checks `op` on `path`.
    async fn check(&self, op: Operation, path: &VPath) -> Result<()> {
        self.authorize(self.policy.check_path(op, path), path.as_str())
            .await
    }

    /// Fails when `op` denies `path`; asking does not count (a search the
    /// caller was allowed to run covers the files it reads).
    fn refuse_if_denied(&self, op: Operation, path: &VPath) -> Result<()> {
        let verdict = self.policy.check_path(op, path);
        if verdict.action == Action::Deny {
            return Err(denial(&verdict, path.as_str()));
        }
        Ok(())
    }

    /// True when a result entry must not be shown by listing operation
    /// `op`: its read is denied, or `op`'s own rules deny it.
    fn hidden(&self, op: Operation, path: &str) -> bool {
        match VPath::new(path) {
            Ok(p) => self.policy.denies(Operation::Read, &p) || self.policy.denies(op, &p),
            // Not a path we can judge: leaving it out cannot leak.
            Err(_) => true,
        }
    }

    /// Refuses when any file below the directory `dir` is denied one of
    /// `ops`, so a recursive delete or a directory rename cannot remove
    /// or move a file the rules protect. `dest` re-roots each file to
    /// check its new path too (a rename). A plain file has nothing below.
    async fn refuse_denied_below(
        &self,
        dir: &VPath,
        ops: &[Operation],
        dest: Option<&VPath>,
    ) -> Result<()> {
        // `exists` is true for files only, and a file has nothing below.
        if !dir.is_root() && self.inner.exists(dir.as_str()).await.unwrap_or(false) {
            return Ok(());
        }
        let found = match self
            .inner
            .glob(
                &GlobQuery::new("**")
                    .path(dir.as_str())
                    .max_count(MAX_CHECKED_BELOW),
            )
            .await
        {
            Ok(found) => found,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        if found.truncated {
            return Err(BackendError::permission_denied(
                dir.as_str(),
                format!(
                    "refused: more than {MAX_CHECKED_BELOW} files below it to check against the \
                     permission rules; work on smaller directories"
                ),
            ));
        }
        for file in found.files {
            let Ok(path) = VPath::new(&file.path) else {
                continue;
            };
            for &op in ops {
                self.refuse_if_denied(op, &path)?;
            }
            if let (Some(dest), Some(rel)) = (dest, path.relative_to(dir)) {
                let moved = dest.join(rel)?;
                self.refuse_if_denied(Operation::Write, &moved)?;
            }
        }
        Ok(())
    }

    /// The start of `glob`/`grep`: the base must be searchable.
    async fn check_search_base(&self, op: Operation, base: &VPath) -> Result<()> {
        self.refuse_if_denied(Operation::Read, base)?;
        self.check(op, base).await
    }
}

fn denial(verdict: &Verdict, target: &str) -> BackendError {
    let op = verdict.operation;
    let reason = match &verdict.pattern {
        Some(pattern) => format!("{op} denied by rule {pattern:?}: {}", verdict.reason),
        None => verdict.reason.clone(),
    };
    BackendError::permission_denied(target, reason)
}

/// Re-runs a capped search until the visible results are complete or
/// exceed the cap, so hidden entries never make `truncated` lie.
macro_rules! filtered_search {
    ($self:ident, $query:ident, $base:ident, $op:expr, $call:ident, $items:ident, $finish:path) => {{
        let want = $query.max_count;
        let mut q = $query.clone();
        q.path = $base.as_str().to_owned();
        // One more than wanted tells "exactly at the cap" from "more".
        let mut cap = want.saturating_add(1);
        let mut round = 0;
        loop {
            q.max_count = cap;
            let res = $self.inner.$call(&q).await?;
            let total = res.$items.len();
            // Results come sorted by path, and grep repeats a path once per
            // matching line: judge each path once.
            let mut last: Option<(String, bool)> = None;
            let visible: Vec<_> = res
                .$items
                .into_iter()
                .filter(|item| {
                    if let Some((path, hidden)) = &last {
                        if *path == item.path {
                            return !*hidden;
                        }
                    }
                    let hidden = $self.hidden($op, &item.path);
                    last = Some((item.path.clone(), hidden));
                    !hidden
                })
                .collect();
            let hid = total - visible.len();
            if !res.truncated || visible.len() > want || hid == 0 || round == MAX_REFILLS {
                // A give-up with the inner result still truncated keeps
                // `truncated`: something past the cap may be visible.
                break $finish(visible, want, res.truncated);
            }
            round += 1;
            cap = cap.saturating_mul(2);
        }
    }};
}

#[async_trait]
impl<B: Backend> Backend for Permissioned<B> {
    fn name(&self) -> &str {
        &self.name
    }

    async fn exists(&self, path: &str) -> Result<bool> {
        let p = VPath::new(path)?;
        if self.hidden(Operation::Ls, p.as_str()) {
            return Ok(false);
        }
        self.inner.exists(p.as_str()).await
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        let p = VPath::new(path)?;
        self.refuse_if_denied(Operation::Read, &p)?;
        self.check(Operation::Ls, &p).await?;
        let mut entries = self.inner.ls(p.as_str()).await?;
        entries.retain(|e| !self.hidden(Operation::Ls, &e.path));
        Ok(entries)
    }

    async fn read_bytes(&self, path: &str) -> Result<Bytes> {
        let p = VPath::new(path)?;
        self.check(Operation::Read, &p).await?;
        self.inner.read_bytes(p.as_str()).await
    }

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadSlice> {
        let p = VPath::new(path)?;
        self.check(Operation::Read, &p).await?;
        self.inner.read(p.as_str(), offset, limit).await
    }

    async fn write(&self, path: &str, content: Bytes) -> Result<WriteResult> {
        let p = VPath::new(path)?;
        self.check(Operation::Write, &p).await?;
        self.inner.write(p.as_str(), content).await
    }

    async fn edit(&self, path: &str, old: &str, new: &str, all: bool) -> Result<EditResult> {
        let p = VPath::new(path)?;
        self.check(Operation::Edit, &p).await?;
        self.inner.edit(p.as_str(), old, new, all).await
    }

    async fn glob(&self, query: &GlobQuery) -> Result<GlobResult> {
        let base = VPath::new(&query.path)?;
        self.check_search_base(Operation::Glob, &base).await?;
        Ok(filtered_search!(
            self,
            query,
            base,
            Operation::Glob,
            glob,
            files,
            GlobResult::finish
        ))
    }

    async fn grep(&self, query: &GrepQuery) -> Result<GrepResult> {
        let base = VPath::new(&query.path)?;
        self.check_search_base(Operation::Grep, &base).await?;
        Ok(filtered_search!(
            self,
            query,
            base,
            Operation::Grep,
            grep,
            matches,
            GrepResult::finish
        ))
    }

    fn as_sandbox(&self) -> Option<&dyn Sandbox> {
        self.inner.as_sandbox().map(|_| self as &dyn Sandbox)
    }

    /// The inner backend's: rules are per path, so every operation is
    /// still supported where they allow it.
    fn info(&self) -> BackendInfo {
        self.inner.info()
    }

    /// Checked as a `write` of `path` and, when recursive, refused if any
    /// file below is write-denied.
    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let p = VPath::new(path)?;
        self.check(Operation::Write, &p).await?;
        if recursive {
            self.refuse_denied_below(&p, &[Operation::Write], None)
                .await?;
        }
        self.inner.delete(p.as_str(), recursive).await
    }

    /// Needs `read` and `write` of the source and `write` of the
    /// destination; for a directory, every file below is checked the same
    /// way (denials only: one approval covers the whole move).
    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        let src = VPath::new(from)?;
        let dst = VPath::new(to)?;
        self.check(Operation::Read, &src).await?;
        self.check(Operation::Write, &src).await?;
        self.check(Operation::Write, &dst).await?;
        self.refuse_denied_below(&src, &[Operation::Read, Operation::Write], Some(&dst))
            .await?;
        self.inner.rename(src.as_str(), dst.as_str()).await
    }

    /// Every file is checked as a `write` before any is written.
    async fn upload(&self, files: Vec<(String, Bytes)>) -> Result<Vec<WriteResult>> {
        let mut checked = Vec::with_capacity(files.len());
        for (path, content) in files {
            let p = VPath::new(&path)?;
            self.check(Operation::Write, &p).await?;
            checked.push((p.into_string(), content));
        }
        self.inner.upload(checked).await
    }

    /// Each path is checked as a `read`; a refused one gets its own
    /// `PermissionDenied` and the rest are read in one call.
    async fn download(&self, paths: &[&str]) -> Result<Vec<FileDownload>> {
        let mut prepared = Vec::with_capacity(paths.len());
        for path in paths {
            prepared.push(match VPath::new(path) {
                Ok(p) => self
                    .check(Operation::Read, &p)
                    .await
                    .map(|()| p.into_string()),
                Err(e) => Err(e),
            });
        }
        crate::layers::download_prepared(&self.inner, paths, prepared, |f| f).await
    }
}

#[async_trait]
impl<B: Backend> Sandbox for Permissioned<B> {
    fn id(&self) -> &str {
        match self.inner.as_sandbox() {
            Some(sandbox) => sandbox.id(),
            None => &self.name,
        }
    }

    async fn execute(&self, command: &str, timeout: Option<Duration>) -> Result<ExecuteResponse> {
        let Some(sandbox) = self.inner.as_sandbox() else {
            return Err(BackendError::unsupported("execute", self.inner.name()));
        };
        // Every deny before any ask: a human is never asked about a
        // command that would be refused anyway.
        let verdict = self.policy.check_command(command);
        if verdict.action == Action::Deny {
            return Err(denial(&verdict, command));
        }
        for path in path_candidates(command) {
            for op in [Operation::Read, Operation::Write, Operation::Edit] {
                let named = self.policy.check_path(op, &path);
                if named.action == Action::Deny {
                    return Err(BackendError::permission_denied(
                        path.as_str(),
                        format!(
                            "execute refused: the command names {path}, and {op} of it is \
                             denied{}: {} (command: {command})",
                            named
                                .pattern
                                .as_deref()
                                .map(|p| format!(" by rule {p:?}"))
                                .unwrap_or_default(),
                            named.reason
                        ),
                    ));
                }
            }
        }
        self.authorize(verdict, command).await?;
        sandbox.execute(command, timeout).await
    }
}
