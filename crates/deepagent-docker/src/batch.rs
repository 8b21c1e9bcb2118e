//! The 0.2 operations of `DockerSandbox`: what it reports about itself,
//! delete and rename through the in-container shell, and batch upload and
//! download as one tar each (download in `download.rs`).

use bytes::Bytes;
use deepagent_core::{
    BackendError, BackendInfo, Capabilities, Durability, Limits, Result, VPath, WriteResult,
};

use crate::archive;
use crate::exec::Captured;
use crate::DockerSandbox;

/// A container's files: gone with the container, commands supported.
pub(crate) fn info(sandbox: &DockerSandbox) -> BackendInfo {
    BackendInfo::new("DockerSandbox", Durability::Ephemeral)
        .with_summary("inside a container")
        .with_capabilities(
            Capabilities::read_write()
                .with_execute()
                .with_delete()
                // `upload` and `download` are one tar in one request each.
                .with_native_batch()
                .with_atomic_rename(),
        )
        .with_limits(
            Limits::none()
                .with_max_output_bytes(sandbox.inner.output_limit)
                .with_max_batch_bytes(MAX_UPLOAD_BYTES),
        )
}

/// The most bytes one `upload` sends (the archive is built in memory).
pub const MAX_UPLOAD_BYTES: u64 = 256 << 20;

/// Exit codes of the helper scripts below.
const NOT_FOUND: i64 = 4;
const IS_DIR: i64 = 3;
const EXISTS: i64 = 5;
const PARENT_NOT_DIR: i64 = 6;

/// `delete`: `$1` the path, `$2` 1 for recursive. A link is removed, never
/// followed. Paths are positional parameters, never part of the script.
const DELETE_SCRIPT: &str = r#"p=$1
if [ -d "$p" ] && [ ! -L "$p" ]; then
  [ "$2" = 1 ] || exit 3
  rm -rf -- "$p" || exit 1
elif [ -e "$p" ] || [ -L "$p" ]; then
  rm -f -- "$p" || exit 1
else
  exit 4
fi"#;

/// `rename`: `$1` to `$2`, with `mv` (one `rename(2)` on one
/// filesystem, so atomic); the parents of `$2` are created first.
const RENAME_SCRIPT: &str = r#"f=$1; t=$2
[ -e "$f" ] || [ -L "$f" ] || exit 4
if [ -d "$t" ] && [ ! -L "$t" ]; then exit 5; fi
if [ -d "$f" ] && [ ! -L "$f" ] && { [ -e "$t" ] || [ -L "$t" ]; }; then exit 5; fi
d=$(dirname -- "$t")
mkdir -p -- "$d" 2>/dev/null || exit 6
mv -f -- "$f" "$t" || exit 1"#;

impl DockerSandbox {
    /// A helper's failure: its exit code mapped to the error kinds above.
    fn helper_error(
        &self,
        operation: &str,
        path: &VPath,
        to: Option<&VPath>,
        out: &Captured,
    ) -> BackendError {
        match out.exit_code {
            NOT_FOUND => BackendError::not_found(path.as_str()),
            IS_DIR => BackendError::IsADirectory {
                path: path.to_string(),
            },
            EXISTS => BackendError::AlreadyExists {
                path: to.unwrap_or(path).to_string(),
            },
            PARENT_NOT_DIR => BackendError::NotADirectory {
                path: to
                    .and_then(VPath::parent)
                    .unwrap_or_else(VPath::root)
                    .to_string(),
            },
            code => BackendError::other(format!(
                "{operation} of {path} in sandbox container {} failed (exit {code}): {}",
                self.inner.name,
                out.stderr.trim()
            )),
        }
    }

    pub(crate) async fn delete_in_container(&self, path: &str, recursive: bool) -> Result<()> {
        let p = self.resolve(path)?;
        if p.is_root() {
            return Err(BackendError::refused_on_root("delete"));
        }
        let lock = self.path_lock(p.as_str());
        let _held = lock.lock().await;
        let flag = if recursive { "1" } else { "0" };
        let out = match self.helper(DELETE_SCRIPT, &[p.as_str(), flag]).await {
            Ok(out) => out,
            Err(e) => return Err(self.explain(e).await),
        };
        if out.exit_code == 0 {
            Ok(())
        } else {
            Err(self.helper_error("delete", &p, None, &out))
        }
    }

    pub(crate) async fn rename_in_container(&self, from: &str, to: &str) -> Result<()> {
        let (f, t) = (self.resolve(from)?, self.resolve(to)?);
        if f.is_root() || t.is_root() {
            return Err(BackendError::refused_on_root("rename"));
        }
        if f != t && t.starts_with(&f) {
            return Err(BackendError::InvalidArgument {
                message: format!("cannot rename {f} into itself ({t})"),
            });
        }
        let lock = self.path_lock(f.as_str());
        let _held = lock.lock().await;
        if f == t {
            return match self.exists_any(&f).await? {
                true => Ok(()),
                false => Err(BackendError::not_found(f.as_str())),
            };
        }
        let out = match self.helper(RENAME_SCRIPT, &[f.as_str(), t.as_str()]).await {
            Ok(out) => out,
            Err(e) => return Err(self.explain(e).await),
        };
        if out.exit_code == 0 {
            Ok(())
        } else {
            Err(self.helper_error("rename", &f, Some(&t), &out))
        }
    }

    /// True when anything (file, directory, link) is at `p`.
    async fn exists_any(&self, p: &VPath) -> Result<bool> {
        let out = self
            .helper(r#"[ -e "$1" ] || [ -L "$1" ]"#, &[p.as_str()])
            .await?;
        Ok(out.exit_code == 0)
    }

    /// Every file in one tar, uploaded in one request: one engine call
    /// instead of one per file. Bounded by [`MAX_UPLOAD_BYTES`].
    pub(crate) async fn upload_archive(
        &self,
        files: Vec<(String, Bytes)>,
    ) -> Result<Vec<WriteResult>> {
        let mut checked = Vec::with_capacity(files.len());
        let mut total: u64 = 0;
        for (path, content) in files {
            let p = self.resolve(&path)?;
            if p.is_root() {
                return Err(BackendError::IsADirectory {
                    path: p.to_string(),
                });
            }
            total = total.saturating_add(content.len() as u64);
            checked.push((p, content));
        }
        let Some((first, _)) = checked.first() else {
            return Ok(Vec::new());
        };
        if total > MAX_UPLOAD_BYTES {
            return Err(BackendError::TooLarge {
                path: first.to_string(),
                size: total,
                limit: MAX_UPLOAD_BYTES,
            });
        }
        let uid = u64::from(self.inner.runtime.run_as_uid.unwrap_or(0));
        let tar = archive::many_files(
            checked.iter().map(|(p, c)| (&p.as_str()[1..], c.as_ref())),
            0o644,
            uid,
            uid,
            total,
        )?;
        // One archive has one answer: its errors name the first path.
        let label = first.clone();
        if let Err(e) = self.upload_tar(tar, &label, "upload").await {
            return Err(self.explain(e).await);
        }
        Ok(checked
            .into_iter()
            .map(|(p, c)| WriteResult::new(p.into_string(), c.len() as u64))
            .collect())
    }
}
