//! File operations on the container: archives for content, helper scripts
//! for listings.
//!
//! The archive API (`download_from_container` / `upload_to_container`) is
//! the fallback for content: small files go through the persistent shells
//! (`shellfs`), which cost a round trip instead of an engine call (~100 ms
//! on docker.io 20.10). Archives remain for what the shell path does not
//! take: files above its size limits (where an archive is faster), images
//! without the tools its snippets need, and requests whose shell broke.

use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use deepagent_core::{BackendError, Result, VPath};
use futures::StreamExt;

use crate::archive::{self, Entry, EntryKind};
use crate::engine::{engine_error, is_container_gone, status_of};
use crate::exec::{capture_as, Captured, HELPER_OUTPUT_LIMIT};
use crate::DockerSandbox;

/// How many symlinks a path may go through before we give up.
const MAX_SYMLINKS: usize = 8;

/// A path's type (after symlinks) and, when asked for, its content.
pub(crate) struct Fetched {
    /// The path after following symlinks.
    pub path: VPath,
    pub entry: Entry,
    pub content: Option<Vec<u8>>,
}

impl DockerSandbox {
    /// Normalizes a caller's path with the shared rules: a relative path
    /// is taken from `/`, as on every backend (issue 13: `src/a.py` and
    /// `/src/./a.py` are one file). The work dir is where commands start;
    /// to give file tools the work dir as `/`, wrap the sandbox in
    /// `Scoped`.
    pub(crate) fn resolve(&self, path: &str) -> Result<VPath> {
        VPath::new(path)
    }

    /// Looks at `path` through the archive API: its type always, its bytes
    /// when `want_content` and it is a file. `None` when nothing is there.
    pub(crate) async fn fetch(&self, path: &VPath, want_content: bool) -> Result<Option<Fetched>> {
        let mut current = path.clone();
        for _ in 0..MAX_SYMLINKS {
            let Some((entry, content)) = self.fetch_once(&current, want_content).await? else {
                return Ok(None);
            };
            if let EntryKind::Symlink(link) = &entry.kind {
                let parent = current.parent().unwrap_or_else(VPath::root);
                current = match parent.join(link) {
                    Ok(p) => p,
                    Err(_) => return Ok(None),
                };
                continue;
            }
            return Ok(Some(Fetched {
                path: current,
                entry,
                content,
            }));
        }
        // The kind and text of ELOOP, as reading it on a local disk gives.
        Err(BackendError::io(
            path.as_str(),
            std::io::Error::other("too many levels of symbolic links"),
        ))
    }

    async fn fetch_once(
        &self,
        path: &VPath,
        want_content: bool,
    ) -> Result<Option<(Entry, Option<Vec<u8>>)>> {
        let target = self.target().await?;
        let mut stream = target.docker.download_from_container(
            target.id,
            Some(
                DownloadFromContainerOptionsBuilder::new()
                    .path(path.as_str())
                    .build(),
            ),
        );
        let mut buf: Vec<u8> = Vec::new();
        let mut header: Option<Entry> = None;
        loop {
            match stream.next().await {
                Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    if is_container_gone(&e) {
                        return Err(engine_error("read", target.name, target.address, e));
                    }
                    return match status_of(&e) {
                        // Missing, or a parent is not a directory.
                        Some((404, _)) | Some((400, _)) => Ok(None),
                        Some((500, msg)) if msg.contains("not a directory") => Ok(None),
                        _ => Err(engine_error(
                            &format!("reading {path}"),
                            target.name,
                            target.address,
                            e,
                        )),
                    };
                }
                None => break,
            }
            if header.is_none() {
                header = archive::first_entry(&buf, false)?;
            }
            if let Some(h) = &header {
                // Only a regular file's bytes are worth waiting for.
                if !(want_content && h.kind == EntryKind::File) {
                    break;
                }
                if buf.len() as u64 >= (h.data_offset as u64).saturating_add(h.size) {
                    break;
                }
            }
        }
        drop(stream);
        let entry = match header {
            Some(h) => h,
            None => match archive::first_entry(&buf, true)? {
                Some(h) => h,
                None => return Ok(None),
            },
        };
        let content = if want_content && entry.kind == EntryKind::File {
            let end = (entry.data_offset as u64).saturating_add(entry.size);
            if (buf.len() as u64) < end {
                return Err(BackendError::other(format!(
                    "reading {path}: the archive ended early ({} of {} bytes)",
                    buf.len().saturating_sub(entry.data_offset),
                    entry.size
                )));
            }
            Some(buf[entry.data_offset..end as usize].to_vec())
        } else {
            None
        };
        Ok(Some((entry, content)))
    }

    /// Writes `content` at `path` as one tar entry uploaded at `/`, so the
    /// engine creates missing parents.
    pub(crate) async fn put(
        &self,
        path: &VPath,
        content: &[u8],
        mode: u32,
        owner: Option<(u64, u64)>,
    ) -> Result<()> {
        if path.is_root() {
            return Err(BackendError::IsADirectory {
                path: path.to_string(),
            });
        }
        let (uid, gid) = owner.unwrap_or_else(|| {
            let uid = u64::from(self.inner.runtime.run_as_uid.unwrap_or(0));
            (uid, uid)
        });
        let relative = &path.as_str()[1..];
        let tar = archive::single_file(relative, content, mode, uid, gid)?;
        self.upload_tar(tar, path, "write").await
    }

    /// Uploads `tar` at `/` (so the engine creates missing parents) and
    /// maps the engine's refusals onto `path`'s errors. `write` and the
    /// batch `upload` both come here.
    pub(crate) async fn upload_tar(
        &self,
        tar: Vec<u8>,
        path: &VPath,
        operation: &str,
    ) -> Result<()> {
        let target = self.target().await?;
        let res = target
            .docker
            .upload_to_container(
                target.id,
                Some(
                    UploadToContainerOptionsBuilder::new()
                        .path("/")
                        // Never let a file replace a directory (the engine
                        // would delete the directory otherwise).
                        .no_overwrite_dir_non_dir("true")
                        .build(),
                ),
                bollard::body_full(tar.into()),
            )
            .await;
        match res {
            Ok(()) => Ok(()),
            Err(e) if is_container_gone(&e) => {
                Err(engine_error(operation, target.name, target.address, e))
            }
            Err(e) => {
                let msg = status_of(&e).map(|(_, m)| m.to_owned()).unwrap_or_default();
                if msg.contains("cannot overwrite directory") {
                    Err(BackendError::IsADirectory {
                        path: path.to_string(),
                    })
                } else if msg.contains("not a directory") {
                    Err(BackendError::NotADirectory {
                        path: path.to_string(),
                    })
                } else if msg.contains("ermission denied") || msg.contains("read-only") {
                    Err(BackendError::permission_denied(path.as_str(), msg))
                } else {
                    let what = if operation == "write" {
                        format!("writing {path}")
                    } else {
                        format!("{operation} with {path}")
                    };
                    Err(engine_error(&what, target.name, target.address, e))
                }
            }
        }
    }

    /// The user the file tools act as: the commands' user (`run_as_uid`;
    /// `None`: the image's user, as for commands). A file tool never
    /// reads or writes what a command could not.
    ///
    /// The group is the uid too, as for commands (`nsenter -S uid -G uid`):
    /// files the tools create belong to the same `uid:gid` as a command's.
    pub(crate) fn file_user(&self) -> Option<String> {
        self.inner.runtime.run_as_uid.map(|u| format!("{u}:{u}"))
    }

    /// Whether the file tools are known to act as root, so the engine's
    /// archive API (which always acts as root) may stand in for them.
    /// With the image's user it is not known, and helper commands as that
    /// user (`userfs`) stand in instead.
    pub(crate) fn files_as_root(&self) -> bool {
        self.inner.runtime.run_as_uid == Some(0)
    }

    /// Runs one of our helper scripts, as the file user, with `args` as
    /// positional parameters.
    pub(crate) async fn helper(&self, script: &str, args: &[&str]) -> Result<Captured> {
        let target = self.target().await?;
        capture_as(
            &target,
            helper_argv(script, args),
            self.file_user().as_deref(),
            HELPER_OUTPUT_LIMIT,
        )
        .await
    }
}

/// `sh -c SCRIPT sh ARGS...`: the arguments reach the script as `$1`...,
/// never spliced into its text.
pub(crate) fn helper_argv(script: &str, args: &[&str]) -> Vec<String> {
    let mut argv = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        script.to_owned(),
        "sh".to_owned(),
    ];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    argv
}
