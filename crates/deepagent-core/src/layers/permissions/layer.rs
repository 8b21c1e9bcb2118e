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
/// - Rules match the file, not only the spelling: the layer asks the
///   backend where a path really leads
///   ([`Backend::resolve_links`]) and checks both names, the stricter
///   answer winning. A link committed to a repository
///   (`docs/notes.txt -> ../.env`, `keys -> .ssh`) gives no access a rule
///   denies, for read, write, edit, ls, glob and grep; listings leave out
///   entries whose target is denied. Only asked when the ruleset has path
///   rules, one call per operation (a batch for an `ls`).
/// - An edit needs read permission as well as its own: its answer says
///   whether `old` is in the file, so with read denied it would be a read
///   oracle. The stricter of the two verdicts applies.
/// - A denial is [`BackendError::PermissionDenied`] naming the path and
///   the rule's description; an `ask` with no approver is denied with a
///   message saying approval was required.
/// - No bypass through listings: entries whose `read` (or the listing
///   operation's own rule) is `deny` are left out of `ls`, `glob` and
///   `grep` results and `exists` reports them absent. `truncated` stays
///   honest: when hidden entries made room, the inner backend is asked
///   again with a larger cap.
/// - With everything allowed (`Ruleset::permissive()`) the layer is
///   transparent: the conformance suite passes through it.
///
/// # The command check is a tripwire
///
/// A command is refused when its own rule denies it, or when a word in it,
/// read as a path, is denied for read, write or edit. That catches a model
/// that names a secret (`cat .env`); it does **not** stop one that means to
/// get around it, and cannot, because a shell computes paths at run time:
///
/// - globs: `cat .en?`, `cat */*.pe[m]`;
/// - variables and substitution: `f=.e; cat ${f}nv`, `cat $(printf .env)`;
/// - indirect reads: `grep -r TOKEN .`, `tar c . | tar xO`, `find -exec`,
///   a script the agent wrote, a link made with `ln -s` and read through.
///
/// So when an agent can run commands, the file rules hold only as far as
/// the commands cannot reach: against a hostile agent, run it in a
/// `DockerSandbox` that holds no secrets at all, and use the rules to keep
/// an honest model away from what it should not touch. A link planted by
/// a command and then used through the file tools is resolved and checked
/// like any other, but a command could swap it between the check and the
/// use. See `SECURITY.md` in the repository for the threat model.
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

    /// Where `paths` really lead, for each one that a symbolic link makes
    /// lead elsewhere (`None` where the spelling is the file, or where the
    /// backend cannot name the target). Without path rules nothing could
    /// change an answer, so the inner backend is not asked.
    async fn real_paths(&self, paths: &[VPath]) -> Result<Vec<Option<VPath>>> {
        if paths.is_empty() || !self.policy.has_path_rules() {
            return Ok(vec![None; paths.len()]);
        }
        let asked: Vec<String> = paths.iter().map(|p| p.as_str().to_owned()).collect();
        let real = self.inner.resolve_links(&asked).await?;
        if real.len() != asked.len() {
            return Err(BackendError::other(format!(
                "{}: resolve_links answered {} paths for {} asked; permissions cannot be \
                 checked, so the operation was refused (a bug in that backend)",
                self.inner.name(),
                real.len(),
                asked.len()
            )));
        }
        Ok(real
            .into_iter()
            .zip(paths)
            .map(|(r, p)| r.and_then(|r| VPath::new(&r).ok()).filter(|r| r != p))
            .collect())
    }

    /// [`Self::real_paths`] of one path.
    async fn real_path(&self, path: &VPath) -> Result<Option<VPath>> {
        Ok(self
            .real_paths(std::slice::from_ref(path))
            .await?
            .pop()
            .flatten())
    }

    /// The verdict for `op` on `path`, which may lead to `real`: the
    /// stricter of the two, so a link never gives access the target's
    /// rules deny.
    fn verdict(&self, op: Operation, path: &VPath, real: Option<&VPath>) -> Verdict {
        let spelled = self.policy.check_path(op, path);
        let Some(real) = real else {
            return spelled;
        };
        let resolved = self.policy.check_path(op, real);
        if strictness(resolved.action) > strictness(spelled.action) {
            let reason = format!(
                "{} ({path} leads to {real} through a symbolic link)",
                resolved.reason
            );
            Verdict { reason, ..resolved }
        } else {
            spelled
        }
    }

    /// Checks `op` on `path` (leading to `real`).
    async fn check(&self, op: Operation, path: &VPath, real: Option<&VPath>) -> Result<()> {
        self.authorize(self.verdict(op, path, real), path.as_str())
            .await
    }

    /// Fails when `op` denies `path` (or where it leads); asking does not
    /// count (a search the caller was allowed to run covers the files it
    /// reads).
    fn refuse_if_denied(&self, op: Operation, path: &VPath, real: Option<&VPath>) -> Result<()> {
        let verdict = self.verdict(op, path, real);
        if verdict.action == Action::Deny {
            return Err(denial(&verdict, path.as_str()));
        }
        Ok(())
    }

    /// True when a result entry must not be shown by listing operation
    /// `op`: its read is denied, or `op`'s own rules deny it.
    fn hidden(&self, op: Operation, path: &str) -> bool {
        match VPath::new(path) {
            Ok(p) => self.hidden_path(op, &p),
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
                self.refuse_if_denied(op, &path, None)?;
            }
            if let (Some(dest), Some(rel)) = (dest, path.relative_to(dir)) {
                let moved = dest.join(rel)?;
                self.refuse_if_denied(Operation::Write, &moved, None)?;
            }
        }
        Ok(())
    }

    fn hidden_path(&self, op: Operation, p: &VPath) -> bool {
        self.policy.denies(Operation::Read, p) || self.policy.denies(op, p)
    }

    /// [`Self::hidden`] for a search result below `base`, which really is
    /// `real_base`: the entry is judged under both names. Walks do not
    /// follow links below their base (see [`Backend::resolve_links`]), so
    /// the base is the only link a result can have crossed.
    fn hidden_below(
        &self,
        op: Operation,
        path: &str,
        base: &VPath,
        real_base: Option<&VPath>,
    ) -> bool {
        let Ok(p) = VPath::new(path) else {
            return true;
        };
        if self.hidden_path(op, &p) {
            return true;
        }
        let Some(real_base) = real_base else {
            return false;
        };
        match p.relative_to(base) {
            Some(rel) => match VPath::root().join(rel) {
                Ok(rel) => self.hidden_path(op, &rel.under(real_base)),
                Err(_) => true,
            },
            // A result outside the base it was asked for: do not guess.
            None => true,
        }
    }

    /// The start of `glob`/`grep`: the base must be searchable under both
    /// its names.
    async fn check_search_base(
        &self,
        op: Operation,
        base: &VPath,
        real: Option<&VPath>,
    ) -> Result<()> {
        self.refuse_if_denied(Operation::Read, base, real)?;
        self.check(op, base, real).await
    }
}

/// Orders actions by how much they restrict: deny over ask over allow.
fn strictness(action: Action) -> u8 {
    match action {
        Action::Allow => 0,
        Action::Ask => 1,
        Action::Deny => 2,
    }
}

/// The verdict for editing: an edit reads the file (its answer tells
/// whether `old` is there), so it needs what a read needs as well as its
/// own permission. The stricter of the two wins, reported as an edit.
fn edit_verdict(edit: Verdict, read: Verdict) -> Verdict {
    if strictness(read.action) > strictness(edit.action) {
        Verdict {
            action: read.action,
            operation: Operation::Edit,
            pattern: read.pattern,
            reason: format!(
                "an edit reads the file, so it needs read permission too: {}",
                read.reason
            ),
        }
    } else {
        edit
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
    ($self:ident, $query:ident, $base:ident, $real:expr, $op:expr, $call:ident, $items:ident, $finish:path) => {{
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
                    let hidden = $self.hidden_below($op, &item.path, &$base, $real);
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
        if self.hidden_path(Operation::Ls, &p) {
            return Ok(false);
        }
        if let Some(real) = self.real_path(&p).await? {
            if self.hidden_path(Operation::Ls, &real) {
                return Ok(false);
            }
        }
        self.inner.exists(p.as_str()).await
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        let p = VPath::new(path)?;
        let real = self.real_path(&p).await?;
        self.refuse_if_denied(Operation::Read, &p, real.as_ref())?;
        self.check(Operation::Ls, &p, real.as_ref()).await?;
        let mut entries = self.inner.ls(p.as_str()).await?;
        entries.retain(|e| !self.hidden(Operation::Ls, &e.path));
        // An entry may itself be a link (listed as what it points to), so
        // each is judged where it really leads too: one batched question.
        let spelled: Vec<VPath> = entries
            .iter()
            .filter_map(|e| VPath::new(&e.path).ok())
            .collect();
        if spelled.len() != entries.len() {
            entries.retain(|e| VPath::new(&e.path).is_ok());
        }
        let reals = self.real_paths(&spelled).await?;
        let mut reals = reals.into_iter();
        entries.retain(|_| match reals.next().flatten() {
            Some(real) => !self.hidden_path(Operation::Ls, &real),
            None => true,
        });
        Ok(entries)
    }

    async fn read_bytes(&self, path: &str) -> Result<Bytes> {
        let p = VPath::new(path)?;
        let real = self.real_path(&p).await?;
        self.check(Operation::Read, &p, real.as_ref()).await?;
        self.inner.read_bytes(p.as_str()).await
    }

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadSlice> {
        let p = VPath::new(path)?;
        let real = self.real_path(&p).await?;
        self.check(Operation::Read, &p, real.as_ref()).await?;
        self.inner.read(p.as_str(), offset, limit).await
    }

    async fn write(&self, path: &str, content: Bytes) -> Result<WriteResult> {
        let p = VPath::new(path)?;
        let real = self.real_path(&p).await?;
        self.check(Operation::Write, &p, real.as_ref()).await?;
        self.inner.write(p.as_str(), content).await
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        all: crate::Replace,
    ) -> Result<EditResult> {
        let p = VPath::new(path)?;
        let real = self.real_path(&p).await?;
        let verdict = edit_verdict(
            self.verdict(Operation::Edit, &p, real.as_ref()),
            self.verdict(Operation::Read, &p, real.as_ref()),
        );
        self.authorize(verdict, p.as_str()).await?;
        self.inner.edit(p.as_str(), old, new, all).await
    }

    async fn glob(&self, query: &GlobQuery) -> Result<GlobResult> {
        let base = VPath::new(&query.path)?;
        let real = self.real_path(&base).await?;
        self.check_search_base(Operation::Glob, &base, real.as_ref())
            .await?;
        Ok(filtered_search!(
            self,
            query,
            base,
            real.as_ref(),
            Operation::Glob,
            glob,
            files,
            GlobResult::finish
        ))
    }

    async fn grep(&self, query: &GrepQuery) -> Result<GrepResult> {
        let base = VPath::new(&query.path)?;
        let real = self.real_path(&base).await?;
        self.check_search_base(Operation::Grep, &base, real.as_ref())
            .await?;
        Ok(filtered_search!(
            self,
            query,
            base,
            real.as_ref(),
            Operation::Grep,
            grep,
            matches,
            GrepResult::finish
        ))
    }

    async fn resolve_links(&self, paths: &[String]) -> Result<Vec<Option<String>>> {
        self.inner.resolve_links(paths).await
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
        let real = self.real_path(&p).await?;
        self.check(Operation::Write, &p, real.as_ref()).await?;
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
        let real = self.real_paths(&[src.clone(), dst.clone()]).await?;
        let (real_src, real_dst) = (real[0].as_ref(), real[1].as_ref());
        self.check(Operation::Read, &src, real_src).await?;
        self.check(Operation::Write, &src, real_src).await?;
        self.check(Operation::Write, &dst, real_dst).await?;
        self.refuse_denied_below(&src, &[Operation::Read, Operation::Write], Some(&dst))
            .await?;
        self.inner.rename(src.as_str(), dst.as_str()).await
    }

    /// Every file is checked as a `write` before any is written.
    async fn upload(&self, files: Vec<(String, Bytes)>) -> Result<Vec<WriteResult>> {
        let mut spelled = Vec::with_capacity(files.len());
        for (path, _) in &files {
            spelled.push(VPath::new(path)?);
        }
        let real = self.real_paths(&spelled).await?;
        let mut checked = Vec::with_capacity(files.len());
        for ((p, real), (_, content)) in spelled.into_iter().zip(real).zip(files) {
            self.check(Operation::Write, &p, real.as_ref()).await?;
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
                Ok(p) => match self.real_path(&p).await {
                    Ok(real) => self
                        .check(Operation::Read, &p, real.as_ref())
                        .await
                        .map(|()| p.into_string()),
                    Err(e) => Err(e),
                },
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
