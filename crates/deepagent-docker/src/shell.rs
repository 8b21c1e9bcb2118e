//! The fast path of `execute`: long-lived shells inside the container.
//!
//! Starting an exec costs the engine a `runc exec` per call (about as much
//! as the `docker exec` CLI). A shell started once with stdin attached
//! instead takes one request line per command and answers with a header
//! and the output, so a command costs a round trip on an open stream.
//!
//! Protocol, one command at a time per shell:
//!
//! ```text
//! -> <token> <inner timeout secs> <base64 of the command>\n
//! <- <token> <exit code> <output size>\n<first `limit` bytes of output>
//! ```
//!
//! The command's stdout and stderr go to a file (so background jobs that
//! keep writing cannot corrupt the next answer) and carry the token in
//! `DEEPAGENT_EXEC`, so a timeout kills them exactly as the exec path does.
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

use crate::exec::{kill_marked, new_marker, Target, INNER_TIMEOUT_SLACK, TIMEOUT_EXIT_CODE};

const SERVER: &str = r#"
lim=$1
dir=
for d in "${TMPDIR:-/tmp}" "$PWD" /dev/shm; do
  if [ -d "$d" ] && [ -w "$d" ]; then dir=$d; break; fi
done
[ -n "$dir" ] || { echo "no writable directory for command output" >&2; exit 1; }
echo ready
while IFS= read -r line; do
  set -- $line
  tok=$1; secs=$2
  cmd=$(printf '%s' "$3" | base64 -d) || exit 1
  out=$dir/.deepagent-out-$tok
  if command -v timeout >/dev/null 2>&1; then
    DEEPAGENT_EXEC=$tok timeout -s KILL "$secs" sh -c "$cmd" </dev/null >"$out" 2>&1
  else
    DEEPAGENT_EXEC=$tok sh -c "$cmd" </dev/null >"$out" 2>&1
  fi
  code=$?
  size=$(wc -c < "$out" 2>/dev/null) || size=0
  [ -n "$size" ] || size=0
  printf '%s %s %s\n' "$tok" "$code" "$size"
  head -c "$lim" "$out"
  rm -f "$out"
done
"#;

/// How long a shell may take to answer once its command was killed.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(5);

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
    /// `limit` bytes of output per command.
    pub(crate) async fn start(
        target: &Target<'_>,
        user: Option<String>,
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
                SERVER.to_owned(),
                "sh".to_owned(),
                limit.to_string(),
            ]),
            user,
            working_dir: Some(work_dir.to_owned()),
            ..Default::default()
        };
        let (_, started) = target.launch(opts).await?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(BackendError::Backend("exec started detached".into()));
        };
        let mut shell = Shell {
            input,
            output,
            buf: Vec::new(),
            limit,
        };
        // The shell says when it can take commands, or why it cannot.
        let ready_by = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(pos) = shell.buf.iter().position(|&b| b == b'\n') {
                if &shell.buf[..pos] == b"ready" {
                    shell.buf.drain(..=pos);
                    return Ok(shell);
                }
                return Err(BackendError::Backend("shell did not start".into()));
            }
            if !shell.fill(Some(ready_by)).await? {
                return Err(BackendError::Backend("shell did not start in time".into()));
            }
        }
    }

    /// Runs one command. An `Err` means the shell is unusable (the caller
    /// drops it); the command's own failure is an exit code.
    pub(crate) async fn run(
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
        let not_sent = |e: std::io::Error| RunError {
            sent: false,
            error: broken(target, &e),
        };
        self.input
            .write_all(line.as_bytes())
            .await
            .map_err(not_sent)?;
        self.input.flush().await.map_err(not_sent)?;
        let mut timed_out = false;
        let header = match self.read_header(deadline).await? {
            Some(h) => h,
            None => {
                // Kill the command and everything it started; the shell
                // then answers with what the command wrote so far.
                timed_out = true;
                kill_marked(target, &token).await?;
                match self.read_header(Instant::now() + DRAIN_AFTER_KILL).await? {
                    Some(h) => h,
                    None => {
                        return Err(BackendError::Backend(
                            "shell did not answer after a kill".into(),
                        )
                        .into())
                    }
                }
            }
        };
        let (tok, code, size) = header;
        if tok != token {
            return Err(BackendError::Backend("shell answered out of turn".into()).into());
        }
        let want = size.min(self.limit as u64) as usize;
        while self.buf.len() < want {
            self.fill(None).await?;
        }
        let body: Vec<u8> = self.buf.drain(..want).collect();
        let mut output = String::from_utf8_lossy(&body).into_owned();
        let exit_code = if timed_out {
            if !output.is_empty() && !output.ends_with('\n') {
                output.push('\n');
            }
            output.push_str(&format!(
                "[command timed out after {:.1}s and was killed]",
                timeout.as_secs_f64()
            ));
            TIMEOUT_EXIT_CODE
        } else {
            code
        };
        Ok(ExecuteResponse {
            output,
            exit_code,
            truncated: size > self.limit as u64,
            timed_out,
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
                    BackendError::Backend(format!("shell sent a bad header {text:?}"))
                });
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
            Some(Ok(LogOutput::StdErr { message })) => Err(BackendError::Backend(format!(
                "shell error: {}",
                String::from_utf8_lossy(&message).trim()
            ))),
            Some(Ok(LogOutput::StdIn { .. })) => Ok(true),
            Some(Err(e)) => Err(BackendError::Backend(format!("shell stream failed: {e}"))),
            None => Err(BackendError::Backend("shell ended".into())),
        }
    }
}

fn broken(target: &Target<'_>, e: &std::io::Error) -> BackendError {
    BackendError::Backend(format!("shell in container {} is gone: {e}", target.name))
}

/// Standard base64 with padding; the command never reaches a shell parser
/// as text, only through `base64 -d`.
fn base64(data: &[u8]) -> String {
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
