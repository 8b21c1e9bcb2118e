//! `Backend` and `Sandbox` for `DockerSandbox`.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use deepagent_core::edit::apply_edit;
use deepagent_core::glob::{file_filter, PathGlob};
use deepagent_core::sort_listing;
use deepagent_core::text::{is_binary, lines};
use deepagent_core::{
    Backend, BackendError, EditResult, ExecuteResponse, FileInfo, GlobQuery, GlobResult, GrepMatch,
    GrepQuery, GrepResult, Result, Sandbox, VPath, WriteResult, DEFAULT_EXECUTE_TIMEOUT,
};

use crate::archive::{self, EntryKind};
use crate::exec::{run_command, CommandSpec};
use crate::scan::{self, Stat};
use crate::shell::{RunError, Shell};
use crate::shellfs::{not_regular, Via};
use crate::DockerSandbox;

/// Files per `tar` helper run when grep reads contents.
const GREP_BATCH_FILES: usize = 256;
/// Argument bytes per `tar` helper run (well under the kernel's limit).
const GREP_BATCH_ARG_BYTES: usize = 96 * 1024;

impl DockerSandbox {
    /// `edit` through the shell path: `None` when the file's content (old
    /// or new) is for the archive path. The caller holds the path lock.
    async fn edit_via_shell(
        &self,
        p: &VPath,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<Option<usize>> {
        let Via::Done(content) = self.read_via_shell(p).await? else {
            return Ok(None);
        };
        let (updated, occurrences) = apply_edit(p.as_str(), &content, old, new, replace_all)?;
        // keep: through symlinks to the file they name, with its mode and
        // owner.
        match self.write_via_shell(p, &updated, true).await? {
            Via::Done(()) => Ok(Some(occurrences)),
            Via::Archive => Ok(None),
        }
    }

    async fn stat_listing(&self, script: &str, dir: &VPath) -> Result<(i64, Vec<Stat>, String)> {
        let out = self.helper(script, &[dir.as_str()]).await?;
        let stats = scan::parse_batches(&out.stdout)?;
        Ok((out.exit_code, stats, out.stderr))
    }

    async fn grep_inner(&self, query: &GrepQuery) -> Result<GrepResult> {
        let regex = query.regex()?;
        let filter = file_filter(query.glob.as_deref())?;
        let base = self.resolve(&query.path)?;
        let out = self
            .helper(
                &scan::grep_candidates_script(),
                &[base.as_str(), if query.ignore_hidden { "1" } else { "0" }],
            )
            .await?;
        if out.exit_code == 3 {
            return Err(BackendError::not_found(base.as_str()));
        }
        let mut candidates: Vec<VPath> = Vec::new();
        for raw in scan::parse_nul_list(&out.stdout) {
            let Ok(path) = VPath::new(&raw) else { continue };
            let keep = if path == base {
                // A file named by the query is searched even when hidden;
                // the filter sees its name.
                let name = path.file_name().unwrap_or("");
                filter.as_ref().is_none_or(|f| f.is_match(name))
            } else {
                let rel = path.relative_to(&base).unwrap_or_default();
                !(query.ignore_hidden && path.is_hidden_below(&base))
                    && filter.as_ref().is_none_or(|f| f.is_match(rel))
            };
            if keep {
                candidates.push(path);
            }
        }
        candidates.sort();
        let mut matches = Vec::new();
        let mut batch: Vec<String> = Vec::new();
        let mut idx = 0;
        // Files are read in path order, so once more than max_count lines
        // matched, later files cannot change the (sorted, capped) result.
        while idx < candidates.len() && matches.len() <= query.max_count {
            batch.clear();
            let mut batch_bytes = 0;
            while idx < candidates.len()
                && batch.len() < GREP_BATCH_FILES
                && (batch.is_empty() || batch_bytes < GREP_BATCH_ARG_BYTES)
            {
                let arg = format!(".{}", candidates[idx].as_str());
                batch_bytes += arg.len() + 1;
                batch.push(arg);
                idx += 1;
            }
            let args: Vec<&str> = batch.iter().map(String::as_str).collect();
            let out = self.helper(scan::TAR_SCRIPT, &args).await?;
            for (name, content) in archive::files(&out.stdout)? {
                if is_binary(&content) {
                    continue;
                }
                let Ok(path) = VPath::new(name.trim_start_matches("./")) else {
                    continue;
                };
                for (i, line) in lines(&content).enumerate() {
                    let text = String::from_utf8_lossy(line);
                    if regex.is_match(&text) {
                        matches.push(GrepMatch {
                            path: path.as_str().to_owned(),
                            line_number: i as u64 + 1,
                            line: text.into_owned(),
                        });
                    }
                }
            }
        }
        Ok(GrepResult::finish(matches, query.max_count, false))
    }
}

#[async_trait]
impl Backend for DockerSandbox {
    fn name(&self) -> &str {
        "DockerSandbox"
    }

    async fn exists(&self, path: &str) -> Result<bool> {
        let p = self.resolve(path)?;
        match self.exists_via_shell(&p).await {
            Ok(Via::Done(found)) => return Ok(found),
            Ok(Via::Archive) => {}
            Err(e) => return Err(self.explain(e).await),
        }
        let found = self.fetch(&p, false).await;
        match found {
            Ok(f) => Ok(f.is_some_and(|f| f.entry.kind == EntryKind::File)),
            Err(e) => Err(self.explain(e).await),
        }
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        let p = self.resolve(path)?;
        let (code, stats, stderr) = match self.stat_listing(&scan::ls_script(), &p).await {
            Ok(r) => r,
            Err(e) => return Err(self.explain(e).await),
        };
        let mut this: Option<Stat> = None;
        let mut children = Vec::new();
        for stat in stats {
            let Ok(vp) = VPath::new(&stat.path) else {
                continue;
            };
            if vp == p {
                this = Some(stat);
                continue;
            }
            children.push(if stat.is_dir {
                FileInfo::dir(&vp, stat.modified)
            } else {
                FileInfo::file(&vp, stat.size, stat.modified)
            });
        }
        match this {
            None => {
                if code != 0 && stderr.contains("ermission denied") {
                    Err(BackendError::permission_denied(p.as_str(), stderr.trim()))
                } else {
                    Err(BackendError::not_found(p.as_str()))
                }
            }
            Some(stat) if !stat.is_dir => Ok(vec![FileInfo::file(&p, stat.size, stat.modified)]),
            Some(_) => {
                sort_listing(&mut children);
                Ok(children)
            }
        }
    }

    async fn read_bytes(&self, path: &str) -> Result<Bytes> {
        let p = self.resolve(path)?;
        match self.read_via_shell(&p).await {
            Ok(Via::Done(content)) => return Ok(Bytes::from(content)),
            Ok(Via::Archive) => {}
            Err(e) => return Err(self.explain(e).await),
        }
        let fetched = match self.fetch(&p, true).await {
            Ok(f) => f,
            Err(e) => return Err(self.explain(e).await),
        };
        match fetched {
            None => Err(BackendError::not_found(p.as_str())),
            Some(f) => match (f.entry.kind, f.content) {
                (EntryKind::Dir, _) => Err(BackendError::IsADirectory {
                    path: p.as_str().to_owned(),
                }),
                (EntryKind::File, Some(content)) => Ok(Bytes::from(content)),
                _ => Err(not_regular(&p)),
            },
        }
    }

    async fn write(&self, path: &str, content: Bytes) -> Result<WriteResult> {
        let p = self.resolve(path)?;
        let size = content.len() as u64;
        let via = match self.write_via_shell(&p, &content, false).await {
            Ok(via) => via,
            Err(e) => return Err(self.explain(e).await),
        };
        if let Via::Archive = via {
            if let Err(e) = self.put(&p, &content, 0o644, None).await {
                return Err(self.explain(e).await);
            }
        }
        Ok(WriteResult {
            path: p.into_string(),
            size,
        })
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<EditResult> {
        deepagent_core::edit::validate_edit(old, new)?;
        let p = self.resolve(path)?;
        let lock = self.path_lock(p.as_str());
        let _held = lock.lock().await;
        match self.edit_via_shell(&p, old, new, replace_all).await {
            Ok(Some(occurrences)) => {
                return Ok(EditResult {
                    path: p.into_string(),
                    occurrences,
                })
            }
            Ok(None) => {}
            Err(e) => return Err(self.explain(e).await),
        }
        let fetched = match self.fetch(&p, true).await {
            Ok(f) => f,
            Err(e) => return Err(self.explain(e).await),
        };
        let Some(f) = fetched else {
            return Err(BackendError::not_found(p.as_str()));
        };
        let content = match (&f.entry.kind, &f.content) {
            (EntryKind::File, Some(c)) => c,
            (EntryKind::Dir, _) => {
                return Err(BackendError::IsADirectory {
                    path: p.as_str().to_owned(),
                })
            }
            _ => return Err(BackendError::not_found(p.as_str())),
        };
        let (updated, occurrences) = apply_edit(p.as_str(), content, old, new, replace_all)?;
        // Write through symlinks to the file they name, keeping its mode
        // and owner.
        let owner = Some((f.entry.uid, f.entry.gid));
        if let Err(e) = self
            .put(&f.path, &updated, f.entry.mode & 0o7777, owner)
            .await
        {
            return Err(self.explain(e).await);
        }
        Ok(EditResult {
            path: p.into_string(),
            occurrences,
        })
    }

    async fn glob(&self, query: &GlobQuery) -> Result<GlobResult> {
        let glob = PathGlob::new(&query.pattern)?;
        let base = self.resolve(&query.path)?;
        let (_, stats, _) = match self.stat_listing(&scan::files_script(), &base).await {
            Ok(r) => r,
            Err(e) => return Err(self.explain(e).await),
        };
        let mut files = Vec::new();
        for stat in stats {
            if stat.is_dir {
                continue;
            }
            let Ok(vp) = VPath::new(&stat.path) else {
                continue;
            };
            match vp.relative_to(&base) {
                Some(rel) if !rel.is_empty() && glob.is_match(rel) => {
                    files.push(FileInfo::file(&vp, stat.size, stat.modified))
                }
                _ => {}
            }
        }
        Ok(GlobResult::finish(files, query.max_count, false))
    }

    async fn grep(&self, query: &GrepQuery) -> Result<GrepResult> {
        match self.grep_inner(query).await {
            Ok(r) => Ok(r),
            Err(e) => Err(self.explain(e).await),
        }
    }

    fn as_sandbox(&self) -> Option<&dyn Sandbox> {
        Some(self)
    }
}

#[async_trait]
impl Sandbox for DockerSandbox {
    fn id(&self) -> &str {
        &self.inner.name
    }

    async fn execute(&self, command: &str, timeout: Option<Duration>) -> Result<ExecuteResponse> {
        let target = match self.target().await {
            Ok(t) => t,
            Err(e) => return Err(self.explain(e).await),
        };
        let timeout = timeout.unwrap_or(DEFAULT_EXECUTE_TIMEOUT);
        let user = self.inner.runtime.run_as_uid.map(|u| u.to_string());
        let work_dir = self.inner.work_dir.as_str();
        let limit = self.inner.output_limit;
        // Fast path: an idle shell, or a new one.
        let idle = self.inner.shells.lock().ok().and_then(|mut s| s.pop());
        let shell = match idle {
            Some(s) => Some(s),
            None => Shell::start(&target, user.clone(), work_dir, limit)
                .await
                .ok(),
        };
        if let Some(mut shell) = shell {
            match shell.run(&target, command, timeout).await {
                Ok(res) => {
                    if let Ok(mut shells) = self.inner.shells.lock() {
                        shells.push(shell);
                    }
                    return Ok(res);
                }
                Err(RunError { sent: true, error }) => return Err(self.explain(error).await),
                // Not sent: the shell was stale; run through a plain exec.
                Err(RunError { sent: false, .. }) => {}
            }
        }
        let spec = CommandSpec {
            command,
            timeout,
            user,
            work_dir,
            output_limit: limit,
        };
        match run_command(&target, spec).await {
            Ok(r) => Ok(r),
            Err(e) => Err(self.explain(e).await),
        }
    }
}
