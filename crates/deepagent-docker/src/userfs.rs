//! File content as the command user, for what the shell path does not
//! take, when that user is not root.
//!
//! The engine's archive API always acts as root: a `write` through it
//! could replace `/etc/passwd` in a sandbox whose commands run as uid
//! 65534. So when `run_as_uid` names another user, reads, writes and
//! lookups that would have gone as archives (files past the shell path's
//! size limits, images whose tools the shell path lacks, a request whose
//! shell broke) run as helper commands as that user instead: `cat` for
//! reads, and for writes the content on the helper's stdin, written to a
//! temp file next to the target and renamed over it, so the kernel checks
//! the same permissions a command would meet.

use deepagent_core::{BackendError, Result, VPath};

use crate::exec::{new_marker, pipe_as, Captured};
use crate::files::helper_argv;
use crate::shellfs::not_regular;
use crate::DockerSandbox;

/// The most a read as the command user takes (a `read_bytes` of a file
/// bigger than this is an error): bytes come from the container, and the
/// host never holds more than it asked for.
pub(crate) const USER_READ_MAX: usize = 1024 * 1024 * 1024;

/// The file `$1`'s bytes on stdout. Exit 2: missing, 21: a directory,
/// 22: not a regular file, 13: not readable.
const CAT_SCRIPT: &str = r#"[ -e "$1" ] || exit 2
[ -d "$1" ] && exit 21
[ -f "$1" ] || exit 22
[ -r "$1" ] || exit 13
exec cat -- "$1""#;

/// Exit 0 when `$1` is a regular file (after symlinks).
const EXISTS_SCRIPT: &str = r#"[ -f "$1" ]"#;

/// Replaces `$1` with the `$4` bytes on stdin, atomically (a temp file
/// named with `$3` next to the target, renamed over it). The final
/// component is not followed: a symlink there is replaced, not written
/// through. With `$2` = 1 (edit) the file a symlink names is written and
/// keeps its mode (and, as root, its owner); as the command user, only
/// what that user may write.
const PUT_SCRIPT: &str = r#"p=$1; size=$4; m=644; o=
if [ "$2" = 1 ]; then
  r=$(readlink -f -- "$p" && echo x) && [ -n "$r" ] && p=${r%?x}
  if [ -f "$p" ]; then o=$(stat -c '%a %u:%g' -- "$p") || exit 13; m=${o% *}; o=${o#* }; fi
fi
[ -d "$p" ] && exit 21
case $p in */*) d=${p%/*} ;; *) d=. ;; esac
[ -n "$d" ] || d=/
if [ ! -d "$d" ] && ! mkdir -p -- "$d"; then
  q=$d
  while [ -n "$q" ]; do
    if [ -e "$q" ] && [ ! -d "$q" ]; then exit 20; fi
    q=${q%/*}
  done
  exit 13
fi
tmp=$d/.deepagent-w-$3
head -c "$size" > "$tmp" || { rm -f "$tmp"; exit 13; }
if [ "$(($(wc -c < "$tmp")))" != "$size" ]; then
  rm -f "$tmp"; echo "the content arrived short" >&2; exit 1
fi
# Only root can give a file away (then before chmod: chown clears setuid).
if [ -n "$o" ] && [ "$(id -u)" = 0 ]; then chown "$o" "$tmp" || { rm -f "$tmp"; exit 13; }; fi
chmod "$m" "$tmp" && mv -f -- "$tmp" "$p" || { rm -f "$tmp"; exit 13; }"#;

impl DockerSandbox {
    /// A regular file's bytes, read as the command user.
    pub(crate) async fn read_as_user(&self, p: &VPath) -> Result<Vec<u8>> {
        let target = self.target().await?;
        let out = crate::exec::capture_as(
            &target,
            helper_argv(CAT_SCRIPT, &[p.as_str()]),
            self.file_user().as_deref(),
            USER_READ_MAX,
        )
        .await?;
        match out.exit_code {
            0 => Ok(out.stdout),
            22 => Err(not_regular(p)),
            _ => Err(self.user_failure("reading", p, &out)),
        }
    }

    /// Whether a regular file is at `p` for the command user.
    pub(crate) async fn exists_as_user(&self, p: &VPath) -> Result<bool> {
        let out = self.helper(EXISTS_SCRIPT, &[p.as_str()]).await?;
        Ok(out.exit_code == 0)
    }

    /// Replaces the file at `p` as the command user (`keep`: through a
    /// symlink, keeping the mode, as `edit` does).
    pub(crate) async fn write_as_user(&self, p: &VPath, content: &[u8], keep: bool) -> Result<()> {
        if p.is_root() {
            return Err(BackendError::IsADirectory {
                path: p.to_string(),
            });
        }
        let target = self.target().await?;
        let token = new_marker();
        let size = content.len().to_string();
        let argv = helper_argv(
            PUT_SCRIPT,
            &[p.as_str(), if keep { "1" } else { "0" }, &token, &size],
        );
        let out = pipe_as(
            &target,
            argv,
            self.file_user().as_deref(),
            content,
            64 * 1024,
        )
        .await?;
        match out.exit_code {
            0 => Ok(()),
            _ => Err(self.user_failure("writing", p, &out)),
        }
    }

    /// The file user, for messages.
    fn who(&self) -> String {
        match self.inner.runtime.run_as_uid {
            Some(uid) => format!("uid {uid}"),
            None => "the image's user".to_owned(),
        }
    }

    fn user_failure(&self, doing: &str, p: &VPath, out: &Captured) -> BackendError {
        let detail = out.stderr.trim();
        match out.exit_code {
            2 => BackendError::not_found(p.as_str()),
            20 => BackendError::NotADirectory {
                path: p.to_string(),
            },
            21 => BackendError::IsADirectory {
                path: p.to_string(),
            },
            13 if detail.is_empty()
                || detail.contains("ermission")
                || detail.contains("ead-only") =>
            {
                BackendError::permission_denied(
                    p.as_str(),
                    format!(
                        "{} as {}",
                        if detail.is_empty() { "denied" } else { detail },
                        self.who()
                    ),
                )
            }
            code => BackendError::other(format!(
                "{doing} {p} as {} in container {} failed (exit {code}): {detail}",
                self.who(),
                self.inner.name
            )),
        }
    }
}
