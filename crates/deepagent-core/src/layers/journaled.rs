use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{
    Backend, BackendError, BackendInfo, EditResult, ErrorKind, ExecuteResponse, FileDownload,
    FileInfo, GlobQuery, GlobResult, GrepQuery, GrepResult, ReadSlice, Replace, Result, Sandbox,
    VPath, WriteResult,
};

/// How many turns a [`Journaled`] keeps by default; older ones are dropped
/// (and can no longer be undone).
pub const DEFAULT_MAX_TURNS: usize = 50;

/// What one file held before a turn first changed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileBefore {
    /// The normalized path, in the journaled backend's terms.
    pub path: String,
    /// The content, or `None` when no file was there.
    pub before: Option<Bytes>,
}

/// The changes of one turn: the previous content (or absence) of every
/// file it wrote, edited, deleted or renamed, recorded when the turn first
/// touched the file.
///
/// Build one by hand only to restore a journal saved elsewhere (see
/// [`Journaled::with_history`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Turn {
    label: String,
    changes: Vec<FileBefore>,
    created_dirs: Vec<String>,
    ran_commands: bool,
}

impl Turn {
    /// An empty turn named `label` (a prompt, a timestamp: whatever tells
    /// the user which turn this was).
    pub fn new(label: impl Into<String>) -> Self {
        Turn {
            label: label.into(),
            ..Turn::default()
        }
    }

    /// Adds a recorded file (when loading a saved journal). A path already
    /// in the turn keeps its first record, as during a turn.
    pub fn with_change(mut self, path: impl Into<String>, before: Option<Bytes>) -> Self {
        let path = path.into();
        if !self.changes.iter().any(|c| c.path == path) {
            self.changes.push(FileBefore { path, before });
        }
        self
    }

    /// Adds a directory the turn created (when loading a saved journal).
    pub fn with_created_dir(mut self, dir: impl Into<String>) -> Self {
        let dir = dir.into();
        if !self.created_dirs.contains(&dir) {
            self.created_dirs.push(dir);
        }
        self
    }

    /// Marks the turn as having run commands (when loading a saved
    /// journal).
    pub fn with_ran_commands(mut self, ran: bool) -> Self {
        self.ran_commands = ran;
        self
    }

    /// The label given to [`Journaled::begin_turn`].
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Every file the turn changed, with what it held before, in the order
    /// the turn first touched them.
    pub fn changes(&self) -> &[FileBefore] {
        &self.changes
    }

    /// Directories that did not exist before the turn wrote below them
    /// (the topmost new one of each write). Undo removes them again when
    /// they are left empty.
    pub fn created_dirs(&self) -> &[String] {
        &self.created_dirs
    }

    /// True when the turn ran commands: their effects on files are not in
    /// the journal, so undo cannot reverse them.
    pub fn ran_commands(&self) -> bool {
        self.ran_commands
    }

    /// True when the turn changed nothing and ran no command.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && !self.ran_commands
    }
}

/// One file as a turn left it: before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// The path.
    pub path: String,
    /// The content before the turn; `None`: the turn created the file.
    pub before: Option<Bytes>,
    /// The content now; `None`: the turn deleted (or moved away) the file.
    pub after: Option<Bytes>,
}

/// What [`Journaled::undo`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UndoReport {
    /// The undone turn's label.
    pub label: String,
    /// Files written back with their earlier content (edited, overwritten,
    /// deleted or moved away by the turn).
    pub restored: Vec<String>,
    /// Files the turn created, now removed.
    pub removed: Vec<String>,
    /// True when the turn also ran commands, whose effects undo cannot
    /// reverse.
    pub ran_commands: bool,
}

#[derive(Debug)]
struct Journal {
    turns: Vec<Turn>,
    /// Paths recorded in the last turn, to skip re-reading them.
    recorded: HashSet<String>,
    max_turns: usize,
}

impl Journal {
    fn current(&mut self) -> &mut Turn {
        if self.turns.is_empty() {
            self.turns.push(Turn::new(""));
        }
        let last = self.turns.len() - 1;
        &mut self.turns[last]
    }

    fn trim(&mut self) {
        let excess = self.turns.len().saturating_sub(self.max_turns.max(1));
        if excess > 0 {
            self.turns.drain(..excess);
        }
    }

    /// The latest turn that changed something, dropping the empty ones
    /// after it.
    fn pop_last_nonempty(&mut self) -> Option<Turn> {
        let mut found = None;
        while let Some(turn) = self.turns.pop() {
            if !turn.is_empty() {
                found = Some(turn);
                break;
            }
        }
        self.start_fresh();
        found
    }

    /// Puts a finished turn back as the latest one (an undo that failed).
    fn push_finished(&mut self, turn: Turn) {
        if self.turns.last().is_some_and(Turn::is_empty) {
            self.turns.pop();
        }
        self.turns.push(turn);
        self.start_fresh();
    }

    /// Changes from now on go to a new, unnamed turn, never into a
    /// finished one (whose records `recorded` no longer indexes).
    fn start_fresh(&mut self) {
        if !self.turns.last().is_some_and(Turn::is_empty) {
            self.turns.push(Turn::new(""));
        }
        self.recorded.clear();
    }

    fn last_nonempty(&self) -> Option<&Turn> {
        self.turns.iter().rev().find(|t| !t.is_empty())
    }
}

/// Wraps any backend and records, per turn, what every file held before
/// the turn wrote, edited, deleted or renamed it, so the turn can be
/// shown ([`diff`](Journaled::diff)) and taken back
/// ([`undo`](Journaled::undo)).
///
/// A turn starts with [`begin_turn`](Journaled::begin_turn) (an agent
/// front end calls it before each prompt); every change until the next
/// call belongs to it. The first time a turn touches a file, the layer
/// reads the file's content (or notes that there was none) from the inner
/// backend before passing the operation on; later changes of the same file
/// in the turn cost nothing more.
///
/// Wrap a [`CompositeBackend`](https://docs.rs/deepagent-composite) as a
/// whole, not each mount: paths are recorded in the composite's terms, so
/// one turn that touched `/project/` on disk and `/scratch/` in memory is
/// undone in one call across both.
///
/// ```
/// # async fn demo(store: impl deepagent_core::Backend + 'static) -> deepagent_core::Result<()> {
/// use deepagent_core::{layers::Journaled, Backend};
/// let journaled = Journaled::new(store);
/// journaled.write("/notes.txt", "v1".into()).await?;
/// journaled.begin_turn("rewrite the notes");
/// journaled.write("/notes.txt", "v2".into()).await?;
/// journaled.write("/todo.txt", "new".into()).await?;
/// let diff = journaled.diff().await?; // two files: one modified, one added
/// assert_eq!(diff.len(), 2);
/// let report = journaled.undo().await?.expect("a turn to undo");
/// assert_eq!(report.restored, ["/notes.txt"]);
/// assert_eq!(report.removed, ["/todo.txt"]);
/// assert_eq!(&journaled.read_bytes("/notes.txt").await?[..], b"v1");
/// assert!(!journaled.exists("/todo.txt").await?);
/// # Ok(()) }
/// ```
///
/// What it cannot see, it cannot undo, and it says so rather than pretend:
/// - commands (`execute` passes through; the turn is marked
///   [`ran_commands`](Turn::ran_commands));
/// - changes made by anything that does not go through this layer;
/// - empty directories a deleted or moved tree had (directories are
///   implied by files; empty ones the turn created are removed again),
///   and symbolic links, which come back as regular files.
///
/// The previous contents are held in memory (the last
/// [`DEFAULT_MAX_TURNS`] turns, see [`max_turns`](Journaled::max_turns));
/// [`turns`](Journaled::turns) and [`with_history`](Journaled::with_history)
/// save and restore them, so a later process can still undo. Clones share
/// the journal.
#[derive(Clone)]
pub struct Journaled {
    inner: Arc<dyn Backend>,
    name: String,
    journal: Arc<Mutex<Journal>>,
}

impl std::fmt::Debug for Journaled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journaled")
            .field("inner", &self.inner.name())
            .field("turns", &self.lock().turns.len())
            .finish()
    }
}

impl Journaled {
    /// Journals `inner`, starting with one unnamed turn.
    pub fn new(inner: impl Backend + 'static) -> Self {
        Self::from_arc(Arc::new(inner))
    }

    /// Journals a shared backend.
    pub fn from_arc(inner: Arc<dyn Backend>) -> Self {
        let name = format!("Journaled({})", inner.name());
        Journaled {
            inner,
            name,
            journal: Arc::new(Mutex::new(Journal {
                turns: Vec::new(),
                recorded: HashSet::new(),
                max_turns: DEFAULT_MAX_TURNS,
            })),
        }
    }

    /// Starts from turns saved earlier (by [`turns`](Self::turns)), oldest
    /// first; a new [`begin_turn`](Self::begin_turn) follows them.
    pub fn with_history(self, turns: Vec<Turn>) -> Self {
        {
            let mut j = self.lock();
            j.turns = turns;
            j.turns.retain(|t| !t.is_empty());
            j.trim();
            j.start_fresh();
        }
        self
    }

    /// Keeps at most `n` turns (at least 1); older ones are forgotten.
    pub fn max_turns(self, n: usize) -> Self {
        {
            let mut j = self.lock();
            j.max_turns = n.max(1);
            j.trim();
        }
        self
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &Arc<dyn Backend> {
        &self.inner
    }

    fn lock(&self) -> MutexGuard<'_, Journal> {
        // Every update is a single push or insert, so a panic elsewhere
        // cannot leave the journal half-changed.
        self.journal.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a new turn; the changes from now on belong to it. A previous
    /// turn that changed nothing is dropped.
    pub fn begin_turn(&self, label: impl Into<String>) {
        let mut j = self.lock();
        if j.turns.last().is_some_and(Turn::is_empty) {
            j.turns.pop();
        }
        j.turns.push(Turn::new(label));
        j.recorded.clear();
        j.trim();
    }

    /// Goes on with the latest turn when it is named `label` (a run that
    /// paused for approval, resumed in another process after loading the
    /// journal with [`with_history`](Self::with_history)), so one undo
    /// still takes back the whole turn; otherwise the same as
    /// [`begin_turn`](Self::begin_turn).
    pub fn continue_turn(&self, label: impl Into<String>) {
        let label = label.into();
        let mut j = self.lock();
        while j.turns.last().is_some_and(Turn::is_empty) {
            j.turns.pop();
        }
        match j.turns.last() {
            Some(last) if last.label == label => {
                // Files the turn already recorded keep their first record.
                let paths: HashSet<String> = last.changes.iter().map(|c| c.path.clone()).collect();
                j.recorded = paths;
            }
            _ => {
                j.turns.push(Turn::new(label));
                j.recorded.clear();
                j.trim();
            }
        }
    }

    /// Every turn that changed something, oldest first (the current one
    /// included), to save and restore with [`with_history`](Self::with_history).
    pub fn turns(&self) -> Vec<Turn> {
        self.lock()
            .turns
            .iter()
            .filter(|t| !t.is_empty())
            .cloned()
            .collect()
    }

    /// The latest turn that changed something (what [`undo`](Self::undo)
    /// would take back).
    pub fn last_turn(&self) -> Option<Turn> {
        self.lock().last_nonempty().cloned()
    }

    /// What the latest turn that changed something did, file by file, in
    /// the order it first touched them: the content before it and the
    /// content now. Files it changed and changed back are left out.
    pub async fn diff(&self) -> Result<Vec<FileChange>> {
        let Some(turn) = self.last_turn() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for change in turn.changes {
            let after = self.current(&change.path).await?;
            if after != change.before {
                out.push(FileChange {
                    path: change.path,
                    before: change.before,
                    after,
                });
            }
        }
        Ok(out)
    }

    /// Puts every file the latest turn that changed something touched back
    /// as it was before the turn, across all mounts, and forgets the turn;
    /// `None` when there is nothing to undo. Calling it again undoes the
    /// turn before.
    ///
    /// Files already as they were are left alone (so a change refused by a
    /// read-only mount needs no write). When a file cannot be restored, the
    /// turn is kept and the error names every such file; restoring is
    /// idempotent, so undo can simply be called again.
    pub async fn undo(&self) -> Result<Option<UndoReport>> {
        let Some(turn) = self.lock().pop_last_nonempty() else {
            return Ok(None);
        };
        match self.restore(&turn).await {
            Ok(report) => Ok(Some(report)),
            Err(failures) => {
                let message = failures
                    .iter()
                    .map(|(p, e)| format!("{p}: {e}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                let label = turn.label.clone();
                self.lock().push_finished(turn);
                Err(BackendError::other(format!(
                    "undo of turn {label:?} could not restore {} file(s): {message}; the turn is kept, fix the cause and undo again",
                    failures.len()
                )))
            }
        }
    }

    /// The file at `path` now, `None` when there is none.
    async fn current(&self, path: &str) -> Result<Option<Bytes>> {
        match self.inner.read_bytes(path).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::IsADirectory) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn restore(
        &self,
        turn: &Turn,
    ) -> std::result::Result<UndoReport, Vec<(String, BackendError)>> {
        let mut report = UndoReport {
            label: turn.label.clone(),
            ran_commands: turn.ran_commands,
            ..UndoReport::default()
        };
        let mut failures = Vec::new();
        // Removals first: a file the turn put where a directory of the
        // old state goes (or below an old file's path) must make room.
        for change in turn.changes.iter().filter(|c| c.before.is_none()) {
            match self.inner.exists(&change.path).await {
                Ok(false) => {}
                Ok(true) => match self.inner.delete(&change.path, false).await {
                    Ok(()) => report.removed.push(change.path.clone()),
                    Err(e) => failures.push((change.path.clone(), e)),
                },
                Err(e) => failures.push((change.path.clone(), e)),
            }
        }
        for change in &turn.changes {
            let Some(before) = &change.before else {
                continue;
            };
            match self.restore_file(&change.path, before).await {
                Ok(true) => report.restored.push(change.path.clone()),
                Ok(false) => {}
                Err(e) => failures.push((change.path.clone(), e)),
            }
        }
        self.remove_empty_created_dirs(turn).await;
        if failures.is_empty() {
            Ok(report)
        } else {
            Err(failures)
        }
    }

    /// Writes `before` back unless the file holds it already; true when
    /// it wrote.
    async fn restore_file(&self, path: &str, before: &Bytes) -> Result<bool> {
        match self.inner.read_bytes(path).await {
            Ok(now) if now == *before => return Ok(false),
            Err(e) if e.kind() == ErrorKind::IsADirectory => {
                // The turn replaced this file by a directory; before the
                // turn nothing could be below it, so all of it is the turn's.
                self.inner.delete(path, true).await?;
            }
            _ => {}
        }
        self.inner.write(path, before.clone()).await?;
        Ok(true)
    }

    /// Removes the directories the turn created, deepest first, where
    /// nothing is left in them. Best effort: a directory that still holds
    /// something (a command's output, a file put there by hand) stays.
    async fn remove_empty_created_dirs(&self, turn: &Turn) {
        if turn.created_dirs.is_empty() {
            return;
        }
        let Ok(tops) = turn
            .created_dirs
            .iter()
            .map(|d| VPath::new(d))
            .collect::<Result<Vec<_>>>()
        else {
            return;
        };
        // Every directory between a removed file and its created top.
        let mut dirs: Vec<VPath> = Vec::new();
        for change in turn.changes.iter().filter(|c| c.before.is_none()) {
            let Ok(path) = VPath::new(&change.path) else {
                continue;
            };
            let Some(top) = tops.iter().find(|t| path.starts_with(t)) else {
                continue;
            };
            let mut dir = path.parent();
            while let Some(d) = dir {
                if !d.starts_with(top) {
                    break;
                }
                if !dirs.contains(&d) {
                    dirs.push(d.clone());
                }
                dir = d.parent();
            }
        }
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in dirs {
            if let Ok(entries) = self.inner.ls(dir.as_str()).await {
                if entries.is_empty() {
                    let _ = self.inner.delete(dir.as_str(), true).await;
                }
            }
        }
    }

    /// Records `path`'s content before the current turn changes it, once
    /// per turn.
    async fn record(&self, path: &VPath) -> Result<()> {
        if self.lock().recorded.contains(path.as_str()) {
            return Ok(());
        }
        match self.read_state(path).await? {
            // A directory: the operation fails, or (delete, rename) the
            // caller records it file by file.
            Entry::Dir => Ok(()),
            Entry::File(b) => self.record_known(path, Some(b)).await,
            Entry::Missing => self.record_known(path, None).await,
        }
    }

    /// What is at `path` now.
    async fn read_state(&self, path: &VPath) -> Result<Entry> {
        match self.inner.read_bytes(path.as_str()).await {
            Ok(b) => Ok(Entry::File(b)),
            // Below a file nothing can be: as missing as it gets (the
            // operation itself then fails as the inner backend says).
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                Ok(Entry::Missing)
            }
            Err(e) if e.kind() == ErrorKind::IsADirectory => Ok(Entry::Dir),
            Err(e) => Err(unrecordable(path.as_str(), e)),
        }
    }

    /// Records `before` as `path`'s content before the turn, unless the
    /// turn has a record of it already.
    async fn record_known(&self, path: &VPath, before: Option<Bytes>) -> Result<()> {
        if self.lock().recorded.contains(path.as_str()) {
            return Ok(());
        }
        let created = if before.is_none() {
            self.created_ancestor(path).await
        } else {
            None
        };
        let mut j = self.lock();
        // Another call of this turn may have recorded it meanwhile; its
        // record was made before any write, so the first one stands.
        if j.recorded.insert(path.as_str().to_owned()) {
            let turn = j.current();
            turn.changes.push(FileBefore {
                path: path.as_str().to_owned(),
                before,
            });
            if let Some(dir) = created.and_then(|d| VPath::new(&d).ok()) {
                let covered = turn
                    .created_dirs
                    .iter()
                    .any(|d| VPath::new(d).is_ok_and(|d| dir.starts_with(&d)));
                if !covered {
                    turn.created_dirs.push(dir.into_string());
                }
            }
        }
        Ok(())
    }

    /// The topmost missing directory above a file about to be created.
    async fn created_ancestor(&self, path: &VPath) -> Option<String> {
        let mut missing = None;
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d.is_root() {
                break;
            }
            match self.inner.read_bytes(d.as_str()).await {
                Err(e) if e.kind() == ErrorKind::NotFound => missing = Some(d.as_str().to_owned()),
                // A directory (or a file, and the write fails): it exists.
                _ => break,
            }
            dir = d.parent();
        }
        missing
    }

    /// Records every file below the directory `dir`; returns their paths
    /// relative to `dir`.
    async fn record_dir(&self, dir: &VPath) -> Result<Vec<String>> {
        let mut files = Vec::new();
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            for entry in self.inner.ls(d.as_str()).await? {
                let entry_path = VPath::new(&entry.path)?;
                if entry.is_dir {
                    stack.push(entry_path);
                } else {
                    self.record(&entry_path).await?;
                    if let Some(rel) = entry_path.relative_to(dir) {
                        files.push(rel.to_owned());
                    }
                }
            }
        }
        Ok(files)
    }

    fn mark_commands(&self) {
        self.lock().current().ran_commands = true;
    }
}

/// What a path holds, as the journal needs to know it.
enum Entry {
    File(Bytes),
    Dir,
    Missing,
}

fn unrecordable(path: &str, e: BackendError) -> BackendError {
    // Errors that say what to do as they are (a refused path, a service to
    // retry) keep their kind, so callers and retries still see it.
    if e.is_temporary()
        || matches!(
            e.kind(),
            ErrorKind::PermissionDenied | ErrorKind::InvalidPath | ErrorKind::SandboxGone
        )
    {
        return e;
    }
    BackendError::other_with_source(
        format!(
            "{path}: the journal could not read the file's current content ({e}), so the change was not made (it could not be undone)"
        ),
        e,
    )
}

#[async_trait]
impl Backend for Journaled {
    fn name(&self) -> &str {
        &self.name
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
    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadSlice> {
        self.inner.read(path, offset, limit).await
    }
    async fn write(&self, path: &str, content: Bytes) -> Result<WriteResult> {
        let p = VPath::new(path)?;
        self.record(&p).await?;
        self.inner.write(p.as_str(), content).await
    }
    async fn edit(&self, path: &str, old: &str, new: &str, replace: Replace) -> Result<EditResult> {
        let p = VPath::new(path)?;
        self.record(&p).await?;
        self.inner.edit(p.as_str(), old, new, replace).await
    }
    async fn glob(&self, query: &GlobQuery) -> Result<GlobResult> {
        self.inner.glob(query).await
    }
    async fn grep(&self, query: &GrepQuery) -> Result<GrepResult> {
        self.inner.grep(query).await
    }
    async fn resolve_links(&self, paths: &[String]) -> Result<Vec<Option<String>>> {
        self.inner.resolve_links(paths).await
    }
    fn as_sandbox(&self) -> Option<&dyn Sandbox> {
        self.inner.as_sandbox().map(|_| self as &dyn Sandbox)
    }
    fn info(&self) -> BackendInfo {
        self.inner.info()
    }
    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let p = VPath::new(path)?;
        // Refusals (`/`, a directory without `recursive`, nothing there)
        // come from the inner backend, with nothing recorded.
        if !p.is_root() {
            match self.read_state(&p).await? {
                Entry::File(b) => self.record_known(&p, Some(b)).await?,
                Entry::Dir if recursive => {
                    self.record_dir(&p).await?;
                }
                Entry::Dir | Entry::Missing => {}
            }
        }
        self.inner.delete(p.as_str(), recursive).await
    }
    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        let f = VPath::new(from)?;
        let t = VPath::new(to)?;
        if !f.is_root() && !t.is_root() && f != t && !t.starts_with(&f) {
            match self.read_state(&f).await? {
                Entry::File(b) => {
                    self.record_known(&f, Some(b)).await?;
                    self.record(&t).await?;
                }
                Entry::Dir => {
                    for rel in self.record_dir(&f).await? {
                        self.record(&t.join(&rel)?).await?;
                    }
                }
                Entry::Missing => {}
            }
        }
        self.inner.rename(f.as_str(), t.as_str()).await
    }
    async fn upload(&self, files: Vec<(String, Bytes)>) -> Result<Vec<WriteResult>> {
        let paths = files
            .iter()
            .map(|(p, _)| VPath::new(p))
            .collect::<Result<Vec<_>>>()?;
        for p in &paths {
            self.record(p).await?;
        }
        self.inner.upload(files).await
    }
    async fn download(&self, paths: &[&str]) -> Result<Vec<FileDownload>> {
        self.inner.download(paths).await
    }
}

#[async_trait]
impl Sandbox for Journaled {
    fn id(&self) -> &str {
        match self.inner.as_sandbox() {
            Some(s) => s.id(),
            None => &self.name,
        }
    }
    async fn execute(&self, command: &str, timeout: Option<Duration>) -> Result<ExecuteResponse> {
        match self.inner.as_sandbox() {
            Some(sandbox) => {
                self.mark_commands();
                sandbox.execute(command, timeout).await
            }
            None => Err(BackendError::unsupported("execute", self.inner.name())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend with nothing in it; these tests only look at the journal.
    struct Empty;

    #[async_trait]
    impl Backend for Empty {
        fn name(&self) -> &str {
            "Empty"
        }
        async fn exists(&self, _: &str) -> Result<bool> {
            Ok(false)
        }
        async fn ls(&self, p: &str) -> Result<Vec<FileInfo>> {
            Err(BackendError::not_found(p))
        }
        async fn read_bytes(&self, p: &str) -> Result<Bytes> {
            Err(BackendError::not_found(p))
        }
        async fn write(&self, p: &str, _: Bytes) -> Result<WriteResult> {
            Err(BackendError::unsupported("write", p))
        }
        async fn edit(&self, p: &str, _: &str, _: &str, _: Replace) -> Result<EditResult> {
            Err(BackendError::not_found(p))
        }
        async fn glob(&self, _: &GlobQuery) -> Result<GlobResult> {
            Ok(GlobResult::default())
        }
        async fn grep(&self, _: &GrepQuery) -> Result<GrepResult> {
            Ok(GrepResult::default())
        }
    }

    #[test]
    fn empty_turns_are_dropped_and_the_journal_is_bounded() {
        let j = Journaled::new(Empty).max_turns(2);
        j.begin_turn("a");
        j.begin_turn("b");
        assert_eq!(j.lock().turns.len(), 1, "the empty turn a was dropped");
        let turns = vec![
            Turn::new("1").with_change("/a", None),
            Turn::new("2").with_change("/b", None),
            Turn::new("3").with_ran_commands(true),
            Turn::new("empty"),
        ];
        let j = j.with_history(turns);
        let labels: Vec<String> = j.turns().iter().map(|t| t.label().to_owned()).collect();
        assert_eq!(labels, ["2", "3"]);
    }

    #[test]
    fn a_turn_keeps_the_first_record_of_a_path() {
        let t = Turn::new("t")
            .with_change("/a", None)
            .with_change("/a", Some(Bytes::from_static(b"x")));
        assert_eq!(t.changes().len(), 1);
        assert_eq!(t.changes()[0].before, None);
    }
}
