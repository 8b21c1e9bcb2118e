//! The fast path of `execute`: long-lived shells inside the container.
//!
//! Starting an exec costs the engine a `runc exec` per call (about as much
//! as the `docker exec` CLI). A shell started once with stdin attached
//! instead takes one request line per command and answers with a header
//! and the output, so a command costs a round trip on an open stream.
//!
//! Protocol, one request at a time per shell:
//!
//! ```text
//! -> <token> <inner timeout secs> <base64 of the command>\n
//! <- <token> <exit code> <output size>\n<first `limit` bytes of output>
//! ```
//!
//! The same shells also serve small-file operations (see `shellfs`), as
//! requests that start with a verb instead of a token:
//!
//! ```text
//! -> R <token> <base64 path> <max bytes>\n                       read
//! -> W <token> <base64 path> <keep> <mode> <uid> <gid> <size>\n<size raw bytes>
//! -> E <token> <base64 path>\n                                   is a file?
//! <- <token> <status> <size>\n<size bytes: the content, or on failure
//!    the diagnostics>
//! ```
//!
//! Commands and paths reach the shell only as base64 words, decoded with
//! `base64 -d` into variables; a write's content follows its request line
//! as exactly `size` raw bytes that `dd` copies into a file. Nothing from
//! the caller is ever spliced into shell text.
//!
//! The command's stdout and stderr go to a file (so background jobs that
//! keep writing cannot corrupt the next answer). The command starts as the
//! exec path starts it (`exec::LAUNCH`): below a reaper of its own that
//! carries the token in `DEEPAGENT_EXEC`, so a timeout kills its whole
//! tree. A shell that serves commands runs as root and switches each
//! command to the run-as user, so the reaper is out of the command's reach.
//! A shell whose answer goes wrong is dropped; the next call starts a new
//! one. Busy shells are not shared: concurrent commands get shells of their
//! own.

use std::pin::Pin;
use std::time::{Duration, Instant};

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use deepagent_core::{BackendError, ExecuteResponse, Result};
use futures::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::engine::{container_gone, engine_error, status_of};
use crate::exec::{kill_tree, new_marker, KillOnDrop, Target, INNER_TIMEOUT_SLACK, LAUNCH};

const SERVER: &str = r#"
lim=$1
run_as=$2
setup_launch || exit 1
dir=
for d in "${TMPDIR:-/tmp}" "$PWD" /dev/shm; do
  if [ -d "$d" ] && [ -w "$d" ]; then dir=$d; break; fi
done
[ -n "$dir" ] || { echo "no writable directory for command output" >&2; exit 1; }
# The file verbs need these; without one of them the sandbox keeps using
# the archive API for files.
files=1
for t in base64 cat dd head wc mkdir mv rm chmod chown stat readlink; do
  command -v "$t" >/dev/null 2>&1 || files=0
done
# A write's content follows its request line as raw bytes; dd with
# fullblock reads exactly that many from stdin and never past them (sh's
# `read` would take a base64 line a byte at a time: ~3 s for 1 MiB).
[ "$(printf ab | dd bs=2 count=1 iflag=fullblock 2>/dev/null)" = ab ] || files=0
# Who we are and the umask new files get, to skip a chown/chmod that
# would change nothing (each is a fork, and forks are most of a write).
me=$(id -u 2>/dev/null)
um=$(umask)
# A path arrives as base64 and is decoded without losing trailing newlines.
path() { p=$(printf '%s' "$1" | base64 -d && echo x); p=${p%x}; }
# A failed step's stderr says whether it was permissions (13) or else (1).
why() {
  case $(cat "$err" 2>/dev/null) in
    *ermission*|*ead-only*) return 13 ;;
  esac
  return 1
}
# R <b64 path> <max>: the file's bytes into $out, at most max of them.
do_read() {
  path "$1"; max=$2
  [ -e "$p" ] || return 2
  [ -d "$p" ] && return 21
  [ -f "$p" ] || return 22
  head -c $((max + 1)) -- "$p" >"$out" || { why; return; }
  n=$(wc -c <"$out") || return 1
  [ "$n" -le "$max" ] || return 27
  return 0
}
# W <b64 path> <keep> <mode> <uid> <gid> <size>, content already in $in:
# a temp file in the target's directory, then mv over the target, so
# readers see the old or the new file, never half of one. keep=1 (edit)
# writes to the file a symlink names and keeps that file's mode and owner.
do_write() {
  path "$1"; mode=$3; own=$4:$5
  if [ "$2" = 1 ]; then
    r=$(readlink -f -- "$p" && echo x) && [ -n "$r" ] && p=${r%?x}
    if [ -f "$p" ]; then
      m=$(stat -c '%a %u:%g' -- "$p") || { why; return; }
      mode=${m% *}; own=${m#* }
    fi
  fi
  [ -d "$p" ] && return 21
  case $p in */*) d=${p%/*} ;; *) d=. ;; esac
  [ -n "$d" ] || d=/
  if [ ! -d "$d" ] && ! mkdir -p -- "$d"; then
    q=$d
    while [ -n "$q" ]; do
      if [ -e "$q" ] && [ ! -d "$q" ]; then return 20; fi
      q=${q%/*}
    done
    why; return
  fi
  tmp=$d/.deepagent-w-$tok
  if ! cat "$in" >"$tmp"; then rm -f "$tmp"; why; return; fi
  # Only root can give a file away; any other user's files are its own,
  # as a command's would be.
  if { [ "$own" = "$me:0" ] || [ "$me" != 0 ] || chown "$own" "$tmp"; } &&
    { [ "$mode:$um" = 644:0022 ] || chmod "$mode" "$tmp"; } &&
    mv -f -- "$tmp" "$p"; then
    return 0
  fi
  rm -f "$tmp"; why
}
# E <b64 path>: 0 for a regular file (after symlinks), 2 for anything else.
do_exists() { path "$1"; [ -f "$p" ] && return 0; return 2; }
echo "ready $files"
while IFS= read -r line; do
  set -- $line
  case $1 in
  R|W|E)
    verb=$1; tok=$2
    out=$dir/.deepagent-out-$tok; err=$dir/.deepagent-err-$tok
    in=$dir/.deepagent-in-$tok
    : >"$out"
    if [ "$verb" = W ]; then
      # Always take the content off stdin first, whatever happens to the
      # write: bytes left there would be read as requests. If even that
      # fails, stop; the sandbox then drops this shell.
      if [ "$8" -gt 0 ]; then
        dd of="$in" bs="$8" count=1 iflag=fullblock 2>/dev/null || exit 1
      else
        : >"$in" || exit 1
      fi
    fi
    shift 2
    case $verb in
      R) do_read "$@" 2>"$err" ;;
      W) do_write "$@" 2>"$err" ;;
      E) do_exists "$@" 2>"$err" ;;
    esac
    code=$?
    if [ "$code" = 0 ] && [ "$verb" != R ]; then
      printf '%s 0 0\n' "$tok"
    else
      if [ "$code" = 0 ]; then
        size=$n
      else
        # A failure answers with its diagnostics instead of content.
        cat "$err" >"$out" 2>/dev/null
        size=$(wc -c < "$out" 2>/dev/null) || size=0
        [ -n "$size" ] || size=0
      fi
      printf '%s %s %s\n' "$tok" "$code" "$size"
      cat "$out" 2>/dev/null
    fi
    rm -f "$out" "$err" "$in"
    continue ;;
  esac
  tok=$1; secs=$2
  cmd=$(printf '%s' "$3" | base64 -d) || exit 1
  out=$dir/.deepagent-out-$tok
  # Where a kill finds this server, whose child the command is: the one
  # way to its tree where no subreaper exists (gVisor). Created afresh
  # (noclobber: never through a planted file or link).
  srv=$dir/.deepagent-srv-$tok
  rm -f "$srv"; (set -C; echo $$ >"$srv") 2>/dev/null
  launch "$secs" "$cmd" </dev/null >"$out" 2>&1
  code=$?
  rm -f "$srv"
  size=$(wc -c < "$out" 2>/dev/null) || size=0
  [ -n "$size" ] || size=0
  printf '%s %s %s\n' "$tok" "$code" "$size"
  head -c "$lim" "$out"
  rm -f "$out"
done
"#;

/// How long a shell may take to answer once its command was killed.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(5);

/// The longest header line a shell may send (`<token> <code> <size>` is
/// under 100 bytes): a shell that streams bytes without a newline is
/// dropped instead of growing the host's buffer without end.
const MAX_HEADER: usize = 4096;

/// How long a new shell may take to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

type Output =
    Pin<Box<dyn Stream<Item = std::result::Result<LogOutput, bollard::errors::Error>> + Send>>;

/// One shell waiting for commands.
pub(crate) struct Shell {
    input: Pin<Box<dyn AsyncWrite + Send>>,
    output: Output,
    buf: Vec<u8>,
    limit: usize,
    /// Whether the container has the tools the file verbs need.
    files: bool,
    /// Set once the output stream ended or failed: the shell is gone, and
    /// the likely reason is the container (see `Shell::diagnose`).
    ended: bool,
}

/// A file request (see the module docs for the wire format).
pub(crate) enum FileOp<'a> {
    /// The bytes of a regular file, at most `max` of them.
    Read { path: &'a str, max: usize },
    /// Replace the file with `content` (atomically). With `keep`, write
    /// to the file a symlink names, keeping that file's mode and owner;
    /// `mode`, `uid` and `gid` are for a new file.
    Write {
        path: &'a str,
        content: &'a [u8],
        keep: bool,
        mode: u32,
        uid: u64,
        gid: u64,
    },
    /// Whether a regular file is there (after symlinks).
    Exists { path: &'a str },
}

impl FileOp<'_> {
    fn line(&self, token: &str) -> String {
        match self {
            FileOp::Read { path, max } => {
                format!("R {token} {} {max}\n", base64(path.as_bytes()))
            }
            FileOp::Write {
                path,
                content,
                keep,
                mode,
                uid,
                gid,
            } => format!(
                "W {token} {} {} {mode:o} {uid} {gid} {}\n",
                base64(path.as_bytes()),
                u8::from(*keep),
                content.len()
            ),
            FileOp::Exists { path } => format!("E {token} {}\n", base64(path.as_bytes())),
        }
    }
}

/// The shell's answer to a [`FileOp`]: the status the in-shell snippet
/// returned and the body (content on success, diagnostics otherwise).
pub(crate) struct FileAnswer {
    pub status: i32,
    pub body: Vec<u8>,
}

/// A failed run: `sent` tells whether the command may have started (then
/// it must not be retried elsewhere).
pub(crate) struct RunError {
    pub sent: bool,
    pub error: BackendError,
}

impl From<BackendError> for RunError {
    fn from(error: BackendError) -> Self {
        RunError { sent: true, error }
    }
}

impl Shell {
    /// Starts a shell as `user` in `work_dir`, answering with at most
    /// `limit` bytes of output per command. With `run_as`, the shell (then
    /// started as root) runs each command as that uid.
    pub(crate) async fn start(
        target: &Target<'_>,
        user: Option<String>,
        run_as: Option<u32>,
        work_dir: &str,
        limit: usize,
    ) -> Result<Shell> {
        let opts = CreateExecOptions {
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            cmd: Some(vec![
                "sh".to_owned(),
                "-c".to_owned(),
                format!("{LAUNCH}{SERVER}"),
                "sh".to_owned(),
                limit.to_string(),
                run_as.map(|u| u.to_string()).unwrap_or_default(),
            ]),
            user,
            working_dir: Some(work_dir.to_owned()),
            ..Default::default()
        };
        let (_, started) = target.launch(opts).await?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(BackendError::other(
                "the Docker engine started an exec detached though it was asked to attach",
            ));
        };
        let mut shell = Shell {
            input,
            output,
            buf: Vec::new(),
            limit,
            files: false,
            ended: false,
        };
        // The shell says when it can take commands, or why it cannot.
        let ready_by = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(pos) = shell.buf.iter().position(|&b| b == b'\n') {
                let ready = match &shell.buf[..pos] {
                    b"ready 1" => Some(true),
                    b"ready 0" => Some(false),
                    _ => None,
                };
                if let Some(files) = ready {
                    shell.files = files;
                    shell.buf.drain(..=pos);
                    return Ok(shell);
                }
                return Err(BackendError::other(format!(
                    "the file shell in container {} did not start: it answered {:?} instead of saying it is ready",
                    target.name,
                    String::from_utf8_lossy(&shell.buf[..pos.min(200)])
                )));
            }
            if shell.buf.len() > MAX_HEADER {
                return Err(BackendError::other(format!(
                    "shell did not start: container {} sent {} bytes without saying it is ready",
                    target.name,
                    shell.buf.len()
                )));
            }
            if !shell.fill(Some(ready_by)).await? {
                return Err(BackendError::Timeout {
                    operation: format!("starting the file shell in container {}", target.name),
                    after: READY_TIMEOUT,
                });
            }
        }
    }

    /// Whether this shell can serve [`FileOp`]s (the container has the
    /// tools they need).
    pub(crate) fn serves_files(&self) -> bool {
        self.files
    }

    /// Runs one command. An `Err` means the shell is unusable (the caller
    /// drops it); the command's own failure is an exit code.
    pub(crate) async fn run(
        &mut self,
        target: &Target<'_>,
        command: &str,
        timeout: Duration,
    ) -> std::result::Result<ExecuteResponse, RunError> {
        let result = self.run_inner(target, command, timeout).await;
        explain_end(self.ended, target, result).await
    }

    /// Serves one file request, answering with at most `max_body` bytes
    /// (a bigger answer means the shell is out of step and is an error).
    /// An `Err` means the shell is unusable; the operation's own failure
    /// is the answer's status.
    pub(crate) async fn file(
        &mut self,
        target: &Target<'_>,
        op: &FileOp<'_>,
        max_body: usize,
        timeout: Duration,
    ) -> std::result::Result<FileAnswer, RunError> {
        let result = self.file_inner(target, op, max_body, timeout).await;
        explain_end(self.ended, target, result).await
    }

    async fn file_inner(
        &mut self,
        target: &Target<'_>,
        op: &FileOp<'_>,
        max_body: usize,
        timeout: Duration,
    ) -> std::result::Result<FileAnswer, RunError> {
        let token = new_marker();
        let deadline = Instant::now() + timeout;
        // A write's content goes raw, after the line: the shell reads
        // exactly this many bytes with dd, so nothing of it is ever parsed
        // as shell text.
        let raw: &[u8] = match op {
            FileOp::Write { content, .. } => content,
            _ => &[],
        };
        self.send(target, &op.line(&token), raw).await?;
        let too_slow = || BackendError::Timeout {
            operation: format!("a file operation in container {}", target.name),
            after: timeout,
        };
        let Some((tok, status, size)) = self.read_header(deadline).await? else {
            return Err(too_slow().into());
        };
        if tok != token {
            return Err(BackendError::other(format!(
                "the file shell in container {} answered out of turn",
                target.name
            ))
            .into());
        }
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if size > max_body {
            return Err(BackendError::other(format!(
                "the file shell in container {} answered with {size} bytes, more than the {max_body} asked for",
                target.name
            ))
            .into());
        }
        while self.buf.len() < size {
            if !self.fill(Some(deadline)).await? {
                return Err(too_slow().into());
            }
        }
        let body: Vec<u8> = self.buf.drain(..size).collect();
        Ok(FileAnswer { status, body })
    }

    /// Sends one request line and any raw bytes that follow it. A failure
    /// here means the request never reached the shell (`sent: false`).
    async fn send(
        &mut self,
        target: &Target<'_>,
        line: &str,
        raw: &[u8],
    ) -> std::result::Result<(), RunError> {
        let not_sent = |e: std::io::Error| RunError {
            sent: false,
            error: broken(target, &e),
        };
        self.input
            .write_all(line.as_bytes())
            .await
            .map_err(not_sent)?;
        if !raw.is_empty() {
            self.input.write_all(raw).await.map_err(not_sent)?;
        }
        self.input.flush().await.map_err(not_sent)
    }

    async fn run_inner(
        &mut self,
        target: &Target<'_>,
        command: &str,
        timeout: Duration,
    ) -> std::result::Result<ExecuteResponse, RunError> {
        let token = new_marker();
        let deadline = Instant::now() + timeout;
        let line = format!(
            "{token} {} {}\n",
            timeout.as_secs() + INNER_TIMEOUT_SLACK,
            base64(command.as_bytes())
        );
        self.send(target, &line, &[]).await?;
        let mut guard = KillOnDrop::new(target, &token);
        let mut timed_out = false;
        let header = match self.read_header(deadline).await? {
            Some(h) => h,
            None => {
                // Kill the command and everything it started; the shell
                // then answers with what the command wrote so far.
                timed_out = true;
                kill_tree(target, &token).await?;
                match self.read_header(Instant::now() + DRAIN_AFTER_KILL).await? {
                    Some(h) => h,
                    None => {
                        return Err(BackendError::other(format!(
                            "the shell in container {} did not answer after a kill",
                            target.name
                        ))
                        .into())
                    }
                }
            }
        };
        guard.disarm();
        let (tok, code, size) = header;
        if tok != token {
            return Err(BackendError::other(format!(
                "the file shell in container {} answered out of turn",
                target.name
            ))
            .into());
        }
        let want = size.min(self.limit as u64) as usize;
        while self.buf.len() < want {
            self.fill(None).await?;
        }
        let body: Vec<u8> = self.buf.drain(..want).collect();
        let output = String::from_utf8_lossy(&body).into_owned();
        let truncated = size > self.limit as u64;
        if timed_out {
            return Ok(ExecuteResponse::killed_at_timeout(
                output, truncated, timeout,
            ));
        }
        Ok({
            let mut v = ExecuteResponse::new(output, code, truncated);
            v.timed_out = timed_out;
            v
        })
    }

    /// The answer's header line, or `None` at the deadline.
    async fn read_header(&mut self, deadline: Instant) -> Result<Option<(String, i32, u64)>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                let text = String::from_utf8_lossy(&line[..pos]).into_owned();
                let mut parts = text.split(' ');
                let parsed = (|| {
                    let tok = parts.next()?.to_owned();
                    let code = parts.next()?.trim().parse().ok()?;
                    let size = parts.next()?.trim().parse().ok()?;
                    Some((tok, code, size))
                })();
                return parsed.map(Some).ok_or_else(|| {
                    BackendError::other(format!("shell sent a bad header {text:?}"))
                });
            }
            if self.buf.len() > MAX_HEADER {
                return Err(BackendError::other(format!(
                    "a shell sent {} bytes without a header line; dropping it",
                    self.buf.len()
                )));
            }
            if !self.fill(Some(deadline)).await? {
                return Ok(None);
            }
        }
    }

    /// Reads more output; false when the deadline passed first.
    async fn fill(&mut self, deadline: Option<Instant>) -> Result<bool> {
        let next = match deadline {
            Some(d) => match tokio::time::timeout_at(d.into(), self.output.next()).await {
                Ok(n) => n,
                Err(_) => return Ok(false),
            },
            None => self.output.next().await,
        };
        match next {
            Some(Ok(LogOutput::StdOut { message })) | Some(Ok(LogOutput::Console { message })) => {
                self.buf.extend_from_slice(&message);
                Ok(true)
            }
            // The server's own complaints (e.g. no writable /tmp) end it.
            Some(Ok(LogOutput::StdErr { message })) => Err(BackendError::other(format!(
                "shell error: {}",
                String::from_utf8_lossy(&message).trim()
            ))),
            Some(Ok(LogOutput::StdIn { .. })) => Ok(true),
            Some(Err(e)) => {
                self.ended = true;
                Err(BackendError::other_with_source(
                    format!("the shell's output stream failed: {e}"),
                    e,
                ))
            }
            None => {
                self.ended = true;
                Err(BackendError::other("the shell's output ended"))
            }
        }
    }
}

/// How often, and how far apart, `diagnose` asks the engine whether the
/// container still runs: the engine marks a killed container as stopped a
/// moment after its processes (and so the shell's stream) end.
const DIAGNOSE_ROUNDS: u32 = 20;
const DIAGNOSE_PAUSE: Duration = Duration::from_millis(50);

/// Why a shell ended mid-request. Almost always because its container was
/// stopped, killed or removed: say so and name the container, instead of
/// a bare "the shell ended". An engine that no longer answers is named by
/// its address.
async fn diagnose(target: &Target<'_>, error: BackendError) -> BackendError {
    for _ in 0..DIAGNOSE_ROUNDS {
        match target
            .docker
            .inspect_container(
                target.id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
        {
            Ok(info) => {
                let state = info.state.unwrap_or_default();
                if state.running != Some(true) {
                    let how = match state.exit_code {
                        Some(code) => {
                            format!("it stopped with exit code {code} while its shell was in use")
                        }
                        None => "it stopped while its shell was in use".to_owned(),
                    };
                    return container_gone(target.name, &how);
                }
            }
            Err(e) if matches!(status_of(&e), Some((404, _))) => {
                return container_gone(target.name, "it was removed while its shell was in use");
            }
            Err(e) => return engine_error("shell", target.name, target.address, e),
        }
        tokio::time::sleep(DIAGNOSE_PAUSE).await;
    }
    BackendError::other_with_source(
        format!(
            "the shell in container {} ended unexpectedly while the container still runs: {error}",
            target.name
        ),
        error,
    )
}

/// A shell whose stream `ended` most likely lost its container: ask the
/// engine, so the error says so instead of a bare "shell ended".
async fn explain_end<T>(
    ended: bool,
    target: &Target<'_>,
    result: std::result::Result<T, RunError>,
) -> std::result::Result<T, RunError> {
    match result {
        Err(RunError { sent, error }) if ended => Err(RunError {
            sent,
            error: diagnose(target, error).await,
        }),
        other => other,
    }
}

fn broken(target: &Target<'_>, e: &std::io::Error) -> BackendError {
    BackendError::other_with_source(
        format!("the shell in container {} is gone: {e}", target.name),
        std::io::Error::new(e.kind(), e.to_string()),
    )
}

/// Standard base64 with padding; the command never reaches a shell parser
/// as text, only through `base64 -d`.
pub(crate) fn base64(data: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"foob\n'$(x)"), "Zm9vYgonJCh4KQ==");
    }
}
