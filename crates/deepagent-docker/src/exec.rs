//! Running processes in the container through the exec API.
//!
//! Two flavours: [`capture`] runs one of our own helper scripts (find,
//! stat, tar) with its arguments as separate argv entries and collects
//! stdout whole; [`run_command`] runs the caller's shell command with a
//! capped output and a timeout that really stops it.
//!
//! bollard's request timeout does not bound an attached stream, so the
//! deadline is ours: each read of the stream waits at most until the
//! deadline. Past it, a second exec kills every process that carries this
//! run's marker in its environment (children inherit it, so `sh -c 'sleep
//! 100; echo'` and `sleep 100 &` die too), and the run reports exit code
//! 124. The command is also wrapped in `timeout -s KILL` (a little later
//! than our deadline) so it still dies if this client goes away.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::Docker;
use deepagent_core::text::OutputCap;
use deepagent_core::{BackendError, ExecuteResponse, Result};
use futures::StreamExt;

use crate::engine::{container_gone, engine_error};

/// The exit code of a command killed by its timeout, as `timeout(1)`.
#[deprecated(
    since = "0.2.0",
    note = "use deepagent_core::ExecuteResponse::TIMEOUT_EXIT_CODE, the one every sandbox uses"
)]
pub const TIMEOUT_EXIT_CODE: i32 = ExecuteResponse::TIMEOUT_EXIT_CODE;
/// How much stderr a helper keeps for its error message.
const HELPER_STDERR_LIMIT: usize = 16 * 1024;
/// How long to wait for the stream to end once the processes are killed.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(5);
/// Extra time the in-container `timeout` gives before it fires: ours
/// should always come first, it is the fallback when this client is gone.
pub(crate) const INNER_TIMEOUT_SLACK: u64 = 5;

/// The environment variable that marks a run's processes.
pub(crate) const MARKER_VAR: &str = "DEEPAGENT_EXEC";

/// What a helper printed and how it exited.
#[derive(Debug)]
pub(crate) struct Captured {
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub exit_code: i64,
}

/// Where an exec runs.
pub(crate) struct Target<'a> {
    pub docker: &'a Docker,
    /// Container id.
    pub id: &'a str,
    /// Container name, for messages.
    pub name: &'a str,
}

impl Target<'_> {
    async fn start(
        &self,
        argv: Vec<String>,
        env: Vec<String>,
        user: Option<String>,
        working_dir: Option<String>,
    ) -> Result<(String, StartExecResults)> {
        let opts = CreateExecOptions {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            attach_stdin: Some(false),
            tty: Some(false),
            cmd: Some(argv),
            env: Some(env),
            user,
            working_dir,
            ..Default::default()
        };
        self.launch(opts).await
    }

    /// Creates and starts an attached exec: the one place every exec (a
    /// helper command, a persistent shell) goes through.
    pub(crate) async fn launch(
        &self,
        opts: CreateExecOptions<String>,
    ) -> Result<(String, StartExecResults)> {
        let created = self
            .docker
            .create_exec(self.id, opts)
            .await
            .map_err(|e| engine_error("exec", self.name, e))?;
        let started = self
            .docker
            .start_exec(
                &created.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: false,
                    output_capacity: Some(64 * 1024),
                }),
            )
            .await
            .map_err(|e| engine_error("exec", self.name, e))?;
        Ok((created.id, started))
    }

    /// The exit code of a finished exec. The engine records it a moment
    /// after the stream ends, so this polls briefly.
    async fn exit_code(&self, exec_id: &str) -> Result<i64> {
        for attempt in 0..100u32 {
            let info = self
                .docker
                .inspect_exec(exec_id)
                .await
                .map_err(|e| engine_error("exec inspect", self.name, e))?;
            if info.running != Some(true) {
                if let Some(code) = info.exit_code {
                    return Ok(code);
                }
            }
            tokio::time::sleep(Duration::from_millis(if attempt < 20 { 2 } else { 20 })).await;
        }
        Err(container_gone(
            self.name,
            "the engine never reported an exit code for a finished command",
        ))
    }
}

/// Runs `argv` as root and collects all of stdout.
pub(crate) async fn capture(target: &Target<'_>, argv: Vec<String>) -> Result<Captured> {
    let (exec_id, started) = target
        .start(argv, Vec::new(), Some("0".to_owned()), None)
        .await?;
    let StartExecResults::Attached { mut output, input } = started else {
        return Err(BackendError::Backend("exec started detached".into()));
    };
    let mut stdout = Vec::new();
    let mut stderr = OutputCap::new(HELPER_STDERR_LIMIT);
    while let Some(item) = output.next().await {
        match item.map_err(|e| engine_error("exec", target.name, e))? {
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                stdout.extend_from_slice(&message)
            }
            LogOutput::StdErr { message } => stderr.push(&message),
            LogOutput::StdIn { .. } => {}
        }
    }
    drop(input);
    let exit_code = target.exit_code(&exec_id).await?;
    Ok(Captured {
        stdout,
        stderr: stderr.finish().0,
        exit_code,
    })
}

/// How the caller's command runs.
pub(crate) struct CommandSpec<'a> {
    pub command: &'a str,
    pub timeout: Duration,
    pub user: Option<String>,
    pub work_dir: &'a str,
    pub output_limit: usize,
}

/// Runs the caller's command with `sh -c`, output capped, killed at the
/// timeout.
pub(crate) async fn run_command(
    target: &Target<'_>,
    spec: CommandSpec<'_>,
) -> Result<ExecuteResponse> {
    let marker = new_marker();
    let inner_secs = spec.timeout.as_secs() + INNER_TIMEOUT_SLACK;
    let argv = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        // `timeout` is a fallback only (see the module doc); images
        // without it still run the command.
        "if command -v timeout >/dev/null 2>&1; then exec timeout -s KILL \"$1\" sh -c \"$2\"; else exec sh -c \"$2\"; fi"
            .to_owned(),
        "sh".to_owned(),
        inner_secs.to_string(),
        spec.command.to_owned(),
    ];
    let deadline = Instant::now() + spec.timeout;
    let (exec_id, started) = target
        .start(
            argv,
            vec![format!("{MARKER_VAR}={marker}")],
            spec.user.clone(),
            Some(spec.work_dir.to_owned()),
        )
        .await?;
    let StartExecResults::Attached { mut output, input } = started else {
        return Err(BackendError::Backend("exec started detached".into()));
    };
    let mut cap = OutputCap::new(spec.output_limit);
    let mut timed_out = false;
    loop {
        let next = tokio::time::timeout_at(deadline.into(), output.next()).await;
        match next {
            Ok(Some(item)) => match item.map_err(|e| engine_error("execute", target.name, e))? {
                LogOutput::StdOut { message }
                | LogOutput::StdErr { message }
                | LogOutput::Console { message } => cap.push(&message),
                LogOutput::StdIn { .. } => {}
            },
            Ok(None) => break,
            Err(_) => {
                timed_out = true;
                break;
            }
        }
    }
    if timed_out {
        kill_marked(target, &marker).await?;
        // The stream ends once the last process holding it is gone; keep
        // what it still delivers.
        let drain_until = Instant::now() + DRAIN_AFTER_KILL;
        while let Ok(Some(item)) = tokio::time::timeout_at(drain_until.into(), output.next()).await
        {
            match item {
                Ok(LogOutput::StdOut { message })
                | Ok(LogOutput::StdErr { message })
                | Ok(LogOutput::Console { message }) => cap.push(&message),
                _ => break,
            }
        }
    }
    drop(output);
    drop(input);
    let (text, truncated) = cap.finish();
    if timed_out {
        return Ok(ExecuteResponse::killed_at_timeout(
            text,
            truncated,
            spec.timeout,
        ));
    }
    let code = target.exit_code(&exec_id).await?;
    let exit_code = i32::try_from(code).unwrap_or(-1);
    Ok(ExecuteResponse {
        output: text,
        exit_code,
        truncated,
        timed_out,
    })
}

/// Kills every process whose environment carries `marker`, repeating the
/// scan so a process forked during one pass is caught by the next.
pub(crate) async fn kill_marked(target: &Target<'_>, marker: &str) -> Result<()> {
    let script = r#"
found=1; rounds=0
while [ "$found" = 1 ] && [ "$rounds" -lt 10 ]; do
  found=0; rounds=$((rounds + 1))
  for d in /proc/[0-9]*; do
    [ "$d" = "/proc/$$" ] && continue
    if tr '\000' '\n' < "$d/environ" 2>/dev/null | grep -qxF "$1"; then
      kill -9 "${d#/proc/}" 2>/dev/null && found=1
    fi
  done
done
"#;
    capture(
        target,
        vec![
            "sh".into(),
            "-c".into(),
            script.into(),
            "sh".into(),
            format!("{MARKER_VAR}={marker}"),
        ],
    )
    .await
    .map(|_| ())
}

pub(crate) fn new_marker() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{:x}-{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
