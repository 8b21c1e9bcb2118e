//! `Backend` and `Sandbox` for `DockerSandbox`.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use deepagent_core::edit::apply_edit;
use deepagent_core::glob::{file_filter, PathGlob};
use deepagent_core::sort_listing;
use deepagent_core::text::{check_offset, lines, read_slice};
use deepagent_core::{
    Backend, BackendError, EditResult, ExecuteResponse, FileInfo, GlobQuery, GlobResult, GrepQuery,
    GrepResult, ReadSlice, Result, Sandbox, VPath, WriteResult, DEFAULT_EXECUTE_TIMEOUT,
};

use crate::archive::EntryKind;
use crate::exec::{run_command, stream_as, CommandSpec};
use crate::files::helper_argv;
use crate::grepscan::GrepSink;
use crate::scan::{self, Stat};
use crate::shell::{RunError, Shell};
use crate::shellfs::{not_regular, Via};
use crate::tarstream::TarStream;
use crate::DockerSandbox;

/// The most bytes one `read` slice may hold: a slice this big is a file
/// of huge lines, better read with a smaller `limit` (or `read_bytes`).
pub(crate) const READ_SLICE_MAX: usize = 32 * 1024 * 1024;

/// The furthest line `read` asks the container's `tail` to start from.
const TAIL_MAX_LINE: usize = u32::MAX as usize;

/// Files per `tar` helper run when grep reads contents.
const GREP_BATCH_FILES: usize = 256;
/// Argument bytes per `tar` helper run (well under the kernel's limit).
const GREP_BATCH_ARG_BYTES: usize = 96 * 1024;

/// `one PATH` prints where PATH really leads, NUL-terminated: the longest
/// part that exists resolved by `readlink -f` inside the container (so the
/// container's own links, planted by a command or not, are what counts),
/// the rest appended. An empty answer: it could not be resolved.
const RESOLVE_ONE: &str = r#"one() {
  p=$1; rest=
  while [ "$p" != / ] && [ ! -e "$p" ] && [ ! -L "$p" ]; do
    rest=/${p##*/}$rest; p=${p%/*}; [ -n "$p" ] || p=/
  done
  if r=$(readlink -f -- "$p" && echo x) && [ "$r" != x ]; then
    printf '%s%s\0' "${r%?x}" "$rest"
  else
    printf '\0'
  fi
}
"#;

impl DockerSandbox {
    /// `edit` through the shell path: `None` when the file's content (old
    /// or new) is for the archive path. The caller holds the path lock.
    async fn edit_via_shell(
        &self,
        p: &VPath,
        old: &str,
        new: &str,
        replace_all: deepagent_core::Replace,
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

    /// `read` of a file too big for the shell path: the slice is cut
    /// inside the container (see [`scan::SLICE_SCRIPT`]), so reading one
    /// line of a 1 GiB file moves one line, not the file. `None` when the
    /// image lacks the tools.
    async fn read_slice_in_container(
        &self,
        p: &VPath,
        offset: usize,
        limit: usize,
    ) -> Result<Option<ReadSlice>> {
        // Bounded so busybox's `tail -n +N` and `head -n` parse them
        // (its `tail` refuses 2^40; 2^32 - 1 works).
        let first = offset.saturating_add(1).min(TAIL_MAX_LINE).to_string();
        let count = limit.min(1 << 40).to_string();
        let max = (READ_SLICE_MAX + 1).to_string();
        let out = self
            .helper(scan::SLICE_SCRIPT, &[p.as_str(), &first, &count, &max])
            .await?;
        match out.exit_code {
            0 => {}
            2 => return Err(BackendError::not_found(p.as_str())),
            21 => {
                return Err(BackendError::IsADirectory {
                    path: p.to_string(),
                })
            }
            22 => return Err(not_regular(p)),
            13 => {
                return Err(BackendError::permission_denied(
                    p.as_str(),
                    out.stderr.trim(),
                ))
            }
            126 | 127 => return Ok(None),
            code => {
                return Err(BackendError::other(format!(
                    "reading {p} in container {} failed (exit {code}): {}",
                    self.inner.name,
                    out.stderr.trim()
                )))
            }
        }
        let garbled = || {
            BackendError::other(format!(
                "reading {p} in container {}: its `wc`/`tail` answered with no line count; the container's tools do not behave as expected",
                self.inner.name
            ))
        };
        let nl = memchr::memchr(b'\n', &out.stdout).ok_or_else(garbled)?;
        let total_lines: usize = std::str::from_utf8(&out.stdout[..nl])
            .ok()
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(garbled)?;
        let body = &out.stdout[nl + 1..];
        if body.len() > READ_SLICE_MAX {
            return Err(BackendError::InvalidArgument {
                message: format!(
                    "{p}: lines {}..{} hold more than {READ_SLICE_MAX} bytes; read fewer lines at a time",
                    offset + 1,
                    offset.saturating_add(limit)
                ),
            });
        }
        check_offset(p.as_str(), offset, total_lines)?;
        if offset >= TAIL_MAX_LINE {
            return Err(BackendError::InvalidArgument {
                message: format!(
                    "{p}: reading from line {} is past what `tail` in container {} can skip to; use read_bytes",
                    offset + 1,
                    self.inner.name
                ),
            });
        }
        Ok(Some(ReadSlice::new(
            p.to_string(),
            offset,
            lines(body)
                .take(limit)
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect(),
            total_lines,
        )))
    }

    async fn stat_listing(&self, script: &str, dir: &VPath) -> Result<(i64, Vec<Stat>, String)> {
        let out = self.helper(script, &[dir.as_str()]).await?;
        let stats = scan::parse_batches(&out.stdout, &self.inner.name)?;
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
        let mut sink = GrepSink::new(&regex, query.max_count);
        let mut batch: Vec<String> = Vec::new();
        let mut idx = 0;
        // Files are read in path order, so once more than max_count lines
        // matched, later files cannot change the (sorted, capped) result.
        while idx < candidates.len() && !sink.full() {
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
            // The archive streams through: the host holds a piece and a
            // line at a time, whatever the files' sizes or the headers say.
            let target = self.target().await?;
            let mut tar = TarStream::new(&self.inner.name, sink);
            let mut failed = None;
            let finished = stream_as(
                &target,
                helper_argv(scan::TAR_SCRIPT, &args),
                self.file_user().as_deref(),
                |chunk| match tar.feed(chunk) {
                    Ok(more) => more,
                    Err(e) => {
                        failed = Some(e);
                        false
                    }
                },
            )
            .await?;
            if let Some(e) = failed {
                return Err(e);
            }
            sink = match finished {
                Some(_) => tar.finish()?,
                None => {
                    let mut sink = tar.into_sink();
                    sink.keep_open_file();
                    sink
                }
            };
        }
        Ok(GrepResult::finish(sink.matches, query.max_count, false))
    }

    async fn resolve_links_inner(&self, paths: &[VPath]) -> Result<Vec<Option<String>>> {
        let mut out = Vec::with_capacity(paths.len());
        for batch in arg_batches(paths) {
            // Through a long-lived shell first (a round trip, ~25 times
            // cheaper than a helper exec), paths as base64 words; through
            // a helper exec, paths as arguments, when that fails.
            let words: Vec<String> = batch
                .iter()
                .map(|p| crate::shell::base64(p.as_str().as_bytes()))
                .collect();
            let command = format!(
                "{RESOLVE_ONE}for b in {}; do a=$(printf %s \"$b\" | base64 -d && echo x); one \"${{a%x}}\"; done",
                words.join(" ")
            );
            let via_shell = match self.execute(&command, Some(RESOLVE_TIMEOUT)).await {
                Ok(r) if r.exit_code == 0 && !r.truncated && !r.timed_out => {
                    parse_resolved(r.output.as_bytes(), batch.len())
                }
                _ => None,
            };
            let answers = match via_shell {
                Some(a) => a,
                None => {
                    let args: Vec<&str> = batch.iter().map(VPath::as_str).collect();
                    let script = format!("{RESOLVE_ONE}for a do one \"$a\"; done");
                    let res = self.helper(&script, &args).await?;
                    parse_resolved(&res.stdout, batch.len()).ok_or_else(|| {
                        BackendError::other(format!(
                            "DockerSandbox {}: resolving {} paths gave an answer that does \
                             not line up ({})",
                            self.inner.name,
                            args.len(),
                            res.stderr.trim()
                        ))
                    })?
                }
            };
            out.extend(answers);
        }
        Ok(out)
    }
}

/// Path bytes per batch resolved in one go.
const RESOLVE_BATCH_BYTES: usize = 16 * 1024;

/// How long resolving one batch of paths may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(60);

/// The NUL-terminated answers of [`RESOLVE_ONE`], `None` when there are not
/// exactly `count`. An answer that is not a valid path (not UTF-8, or lossy
/// output) could not be resolved.
fn parse_resolved(out: &[u8], count: usize) -> Option<Vec<Option<String>>> {
    let answers: Vec<&[u8]> = out.split(|&b| b == 0).collect();
    // Every answer ends with NUL, so the split has one more piece.
    if answers.len() != count + 1 || !answers[count].is_empty() {
        return None;
    }
    Some(
        answers[..count]
            .iter()
            .map(|a| {
                std::str::from_utf8(a)
                    .ok()
                    .filter(|a| a.starts_with('/') && !a.contains('\u{FFFD}'))
                    .and_then(|a| VPath::new(a).ok())
                    .map(VPath::into_string)
            })
            .collect(),
    )
}

/// `paths` cut into runs that fit one helper's argument list.
fn arg_batches(paths: &[VPath]) -> Vec<&[VPath]> {
    let mut batches = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, p) in paths.iter().enumerate() {
        // Base64 makes a path a third longer, and the answers come back
        // through the command output cap: keep batches well below both.
        if i > start && (bytes + p.as_str().len() + 1 > RESOLVE_BATCH_BYTES || i - start >= 256) {
            batches.push(&paths[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += p.as_str().len() + 1;
    }
    if start < paths.len() {
        batches.push(&paths[start..]);
    }
    batches
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
        if !self.files_as_root() {
            return match self.exists_as_user(&p).await {
                Ok(found) => Ok(found),
                Err(e) => Err(self.explain(e).await),
            };
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

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadSlice> {
        let p = self.resolve(path)?;
        match self.read_via_shell(&p).await {
            Ok(Via::Done(content)) => return read_slice(p.as_str(), &content, offset, limit),
            Ok(Via::Archive) => {}
            Err(e) => return Err(self.explain(e).await),
        }
        match self.read_slice_in_container(&p, offset, limit).await {
            Ok(Some(slice)) => Ok(slice),
            // No `wc`/`tail` in the image: the whole file it is.
            Ok(None) => {
                let content = self.read_bytes(p.as_str()).await?;
                read_slice(p.as_str(), &content, offset, limit)
            }
            Err(e) => Err(self.explain(e).await),
        }
    }

    async fn read_bytes(&self, path: &str) -> Result<Bytes> {
        let p = self.resolve(path)?;
        match self.read_via_shell(&p).await {
            Ok(Via::Done(content)) => return Ok(Bytes::from(content)),
            Ok(Via::Archive) => {}
            Err(e) => return Err(self.explain(e).await),
        }
        if !self.files_as_root() {
            return match self.read_as_user(&p).await {
                Ok(content) => Ok(Bytes::from(content)),
                Err(e) => Err(self.explain(e).await),
            };
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
            let put = if self.files_as_root() {
                self.put(&p, &content, 0o644, None).await
            } else {
                self.write_as_user(&p, &content, false).await
            };
            if let Err(e) = put {
                return Err(self.explain(e).await);
            }
        }
        Ok(WriteResult::new(p.into_string(), size))
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: deepagent_core::Replace,
    ) -> Result<EditResult> {
        deepagent_core::edit::validate_edit(old, new)?;
        let p = self.resolve(path)?;
        let lock = self.path_lock(p.as_str());
        let _held = lock.lock().await;
        match self.edit_via_shell(&p, old, new, replace_all).await {
            Ok(Some(occurrences)) => return Ok(EditResult::new(p.into_string(), occurrences)),
            Ok(None) => {}
            Err(e) => return Err(self.explain(e).await),
        }
        if !self.files_as_root() {
            let res = async {
                let content = self.read_as_user(&p).await?;
                let (updated, occurrences) =
                    apply_edit(p.as_str(), &content, old, new, replace_all)?;
                self.write_as_user(&p, &updated, true).await?;
                Ok(occurrences)
            }
            .await;
            return match res {
                Ok(occurrences) => Ok(EditResult::new(p.into_string(), occurrences)),
                Err(e) => Err(self.explain(e).await),
            };
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
        Ok(EditResult::new(p.into_string(), occurrences))
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

    /// Resolved inside the container with `readlink -f`, one helper run
    /// per batch of paths: links a command planted count as much as the
    /// image's. A path that cannot be resolved (a loop, a directory the
    /// user cannot enter) is `None`.
    async fn resolve_links(&self, paths: &[String]) -> Result<Vec<Option<String>>> {
        let paths = paths
            .iter()
            .map(|p| self.resolve(p))
            .collect::<Result<Vec<_>>>()?;
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        match self.resolve_links_inner(&paths).await {
            Ok(r) => Ok(r),
            Err(e) => Err(self.explain(e).await),
        }
    }

    fn as_sandbox(&self) -> Option<&dyn Sandbox> {
        Some(self)
    }

    fn info(&self) -> deepagent_core::BackendInfo {
        crate::batch::info(self)
    }

    /// Through the in-container shell, the path as a positional argument.
    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        self.delete_in_container(path, recursive).await
    }

    /// `mv` in the container: atomic within one filesystem.
    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.rename_in_container(from, to).await
    }

    /// One tar, one request.
    async fn upload(&self, files: Vec<(String, Bytes)>) -> Result<Vec<WriteResult>> {
        self.upload_archive(files).await
    }

    /// One tar, one request, as the command user; each path its own result.
    async fn download(&self, paths: &[&str]) -> Result<Vec<deepagent_core::FileDownload>> {
        self.download_archive(paths).await
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
        let user = self.inner.runtime.run_as_uid.map(|u| format!("{u}:{u}"));
        let work_dir = self.inner.work_dir.as_str();
        let limit = self.inner.output_limit;
        // Fast path: an idle shell, or a new one.
        let idle = self.inner.shells.lock().ok().and_then(|mut s| s.pop());
        let shell = match idle {
            Some(s) => Some(s),
            None => match self.inner.runtime.run_as_uid {
                // As root, switching each command to the uid, so the
                // command's reaper is out of its reach (see `exec`); an
                // image that cannot switch users gets a shell as the user.
                Some(uid) => {
                    match Shell::start(&target, Some("0".into()), Some(uid), work_dir, limit).await
                    {
                        Ok(s) => Some(s),
                        Err(_) => Shell::start(&target, user.clone(), None, work_dir, limit)
                            .await
                            .ok(),
                    }
                }
                None => Shell::start(&target, None, None, work_dir, limit)
                    .await
                    .ok(),
            },
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
            run_as: self.inner.runtime.run_as_uid,
            work_dir,
            output_limit: limit,
        };
        match run_command(&target, spec).await {
            Ok(r) => Ok(r),
            Err(e) => Err(self.explain(e).await),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolved_answers_line_up_or_are_refused() {
        assert_eq!(
            parse_resolved(b"/a\0\0/b/c\0", 3),
            Some(vec![Some("/a".to_owned()), None, Some("/b/c".to_owned())])
        );
        // Too few, too many, or a last answer without its NUL.
        assert_eq!(parse_resolved(b"/a\0", 2), None);
        assert_eq!(parse_resolved(b"/a\0/b\0", 1), None);
        assert_eq!(parse_resolved(b"/a\0/b", 2), None);
        // Not a path, lossy output, or `..` above the root: unresolved.
        assert_eq!(
            parse_resolved("rel\0/x\u{FFFD}\0/..\0".as_bytes(), 3),
            Some(vec![None, None, None])
        );
    }

    #[test]
    fn batches_cover_every_path_in_order() {
        let paths: Vec<VPath> = (0..1000)
            .map(|i| VPath::new(&format!("/d/{}/{i}", "x".repeat(i % 100))).unwrap())
            .collect();
        let batches = arg_batches(&paths);
        assert!(batches.len() > 1);
        assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= 256));
        let joined: Vec<&VPath> = batches.iter().flat_map(|b| b.iter()).collect();
        assert_eq!(joined, paths.iter().collect::<Vec<_>>());
    }
}
