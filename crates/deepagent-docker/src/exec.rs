//! Running processes in the container through the exec API.
//!
//! Two flavours: [`capture`] runs one of our own helper scripts (find,
//! stat, tar) with its arguments as separate argv entries and collects
//! stdout whole; [`run_command`] runs the caller's shell command with a
//! capped output and a timeout that really stops it.
//!
//! bollard's request timeout does not bound an attached stream, so the
//! deadline is ours: each read of the stream waits at most until the
//! deadline. Past it, a second exec kills the command's whole process
//! tree (see [`kill_tree`]) and the run reports exit code 124. The command
//! is also wrapped in `timeout -s KILL` (a little later than our deadline)
//! so it still dies if this client goes away.
//!
//! What holds the tree together is the kernel, not the environment: each
//! command runs below its own *child subreaper*, the engine's
//! `docker-init` (tini, mounted at `/sbin/docker-init` by `init: true`)
//! started with `-s`. Every process the command starts stays a descendant
//! of that reaper, whatever it does to its environment (`env -i`,
//! `unset`), its session (`setsid`) or its parent (a double fork: the
//! orphan is re-parented to the nearest subreaper, ours). The reaper runs
//! as root and the command as the run-as user (switched by `nsenter -S
//! -G` or `setpriv`), so the command cannot kill its reaper to escape.
//! Only the reaper carries the run's marker variable, which the kill uses
//! to find the tree's root.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::Docker;
use deepagent_core::text::OutputCap;
use deepagent_core::{BackendError, ExecuteResponse, Result};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

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
    /// The engine's address, for messages.
    pub address: &'a str,
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
            .map_err(|e| engine_error("exec", self.name, self.address, e))?;
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
            .map_err(|e| engine_error("exec", self.name, self.address, e))?;
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
                .map_err(|e| engine_error("exec inspect", self.name, self.address, e))?;
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

/// The most stdout a helper may print before the host stops reading: a
/// listing of a large tree is a few MiB, so this is far above any honest
/// answer, and it keeps a container whose tools print without end from
/// filling the host's memory.
pub(crate) const HELPER_OUTPUT_LIMIT: usize = 64 * 1024 * 1024;

/// Runs `argv` as root and collects stdout, at most
/// [`HELPER_OUTPUT_LIMIT`] bytes of it.
pub(crate) async fn capture(target: &Target<'_>, argv: Vec<String>) -> Result<Captured> {
    capture_as(target, argv, Some("0"), HELPER_OUTPUT_LIMIT).await
}

/// Runs `argv` as `user` (`None`: the image's user) and collects stdout.
/// More than `limit` bytes is
/// an error naming the container: the bytes come from the container, and
/// the host never holds more than it asked for.
pub(crate) async fn capture_as(
    target: &Target<'_>,
    argv: Vec<String>,
    user: Option<&str>,
    limit: usize,
) -> Result<Captured> {
    let mut stdout = Vec::new();
    let mut over = false;
    let done = stream_as(target, argv, user, |chunk| {
        if stdout.len() + chunk.len() > limit {
            over = true;
            return false;
        }
        stdout.extend_from_slice(chunk);
        true
    })
    .await?;
    match done {
        Some((exit_code, stderr)) if !over => Ok(Captured {
            stdout,
            stderr,
            exit_code,
        }),
        _ => Err(BackendError::other(format!(
            "a helper command in container {} printed more than {limit} bytes; its tools may have been replaced (a lying `sh`, `stat` or `tar`), or the answer is too large to hold",
            target.name
        ))),
    }
}

/// Runs `argv` as `user` (`None`: the image's user) and hands each piece of stdout to `sink` as it
/// arrives, so the host holds one piece at a time however much the
/// container prints. `sink` returns false to stop reading; the run then
/// answers `None` (the command's exit code is not waited for). Otherwise
/// the exit code and the first bytes of stderr.
pub(crate) async fn stream_as(
    target: &Target<'_>,
    argv: Vec<String>,
    user: Option<&str>,
    mut sink: impl FnMut(&[u8]) -> bool,
) -> Result<Option<(i64, String)>> {
    let (exec_id, started) = target
        .start(argv, Vec::new(), user.map(str::to_owned), None)
        .await?;
    let StartExecResults::Attached { mut output, input } = started else {
        return Err(BackendError::other(
            "the Docker engine started an exec detached though it was asked to attach",
        ));
    };
    let mut stderr = OutputCap::new(HELPER_STDERR_LIMIT);
    while let Some(item) = output.next().await {
        match item.map_err(|e| engine_error("exec", target.name, target.address, e))? {
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                if !sink(&message) {
                    return Ok(None);
                }
            }
            LogOutput::StdErr { message } => stderr.push(&message),
            LogOutput::StdIn { .. } => {}
        }
    }
    drop(input);
    let exit_code = target.exit_code(&exec_id).await?;
    Ok(Some((exit_code, stderr.finish().0)))
}

/// Runs `argv` as `user` with `content` on its stdin, collecting at most
/// `limit` bytes of stdout (more is an error, as for [`capture_as`]). The
/// content is written while the output is read, and writing stops when
/// the command ends, so a command that exits without reading all of it
/// never stalls the caller.
pub(crate) async fn pipe_as(
    target: &Target<'_>,
    argv: Vec<String>,
    user: Option<&str>,
    content: &[u8],
    limit: usize,
) -> Result<Captured> {
    let opts = CreateExecOptions {
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        cmd: Some(argv),
        user: user.map(str::to_owned),
        ..Default::default()
    };
    let (exec_id, started) = target.launch(opts).await?;
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = started
    else {
        return Err(BackendError::other(
            "the Docker engine started an exec detached though it was asked to attach",
        ));
    };
    let write = async {
        // Errors are the command's to report (it ended early).
        let _ = input.write_all(content).await;
        let _ = input.flush().await;
    };
    let read = async {
        let mut stdout = Vec::new();
        let mut stderr = OutputCap::new(HELPER_STDERR_LIMIT);
        while let Some(item) = output.next().await {
            match item.map_err(|e| engine_error("exec", target.name, target.address, e))? {
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    if stdout.len() + message.len() > limit {
                        return Err(BackendError::other(format!(
                            "a helper command in container {} printed more than {limit} bytes",
                            target.name
                        )));
                    }
                    stdout.extend_from_slice(&message)
                }
                LogOutput::StdErr { message } => stderr.push(&message),
                LogOutput::StdIn { .. } => {}
            }
        }
        Ok((stdout, stderr.finish().0))
    };
    tokio::pin!(read, write);
    let mut written = false;
    let (stdout, stderr) = loop {
        tokio::select! {
            res = &mut read => break res?,
            _ = &mut write, if !written => written = true,
        }
    };
    let exit_code = target.exit_code(&exec_id).await?;
    Ok(Captured {
        stdout,
        stderr,
        exit_code,
    })
}

/// How the caller's command runs.
pub(crate) struct CommandSpec<'a> {
    pub command: &'a str,
    pub timeout: Duration,
    /// The uid the command runs as (`None`: the image's user).
    pub run_as: Option<u32>,
    pub work_dir: &'a str,
    pub output_limit: usize,
}

/// Shell functions that start a caller's command below a reaper of its
/// own (see the module docs): `setup_launch` (with `$run_as` set to the
/// uid to switch to, or empty) works out how, once; `launch SECS CMD`
/// (with `$tok` set to the run's marker) runs `sh -c CMD`.
pub(crate) const LAUNCH: &str = r#"
setup_launch() {
  reaper=
  if [ -x /sbin/docker-init ] && /sbin/docker-init -s -- true 2>/dev/null; then
    reaper="/sbin/docker-init -s --"
  fi
  drop=
  if [ -n "$run_as" ] && [ "$(id -u)" = 0 ] && [ "$run_as" != 0 ]; then
    # The group of the same number, as the file tools and new files get
    # it (never the root group an exec gets for a uid without a passwd
    # entry).
    g=$run_as
    if nsenter -S "$run_as" -G "$g" -- true 2>/dev/null; then
      drop="nsenter -S $run_as -G $g --"
    elif setpriv --reuid="$run_as" --regid="$g" --clear-groups true 2>/dev/null; then
      drop="setpriv --reuid=$run_as --regid=$g --clear-groups"
    else
      echo "cannot switch commands to uid $run_as: neither nsenter -S nor setpriv --reuid works in this image" >&2
      return 1
    fi
    # The home an exec as that user would get (root's is not the user's).
    h=$(sed -n "s/^[^:]*:[^:]*:$run_as:[^:]*:[^:]*:\([^: ]*\):.*/\1/p" /etc/passwd 2>/dev/null | head -n 1)
    drop="$drop env HOME=${h:-/}"
  fi
  tmo=
  if command -v timeout >/dev/null 2>&1; then tmo=1; fi
}
launch() {
  if [ -n "$tmo" ]; then
    DEEPAGENT_EXEC=$tok timeout -s KILL "$1" $reaper $drop sh -c "$2"
  else
    DEEPAGENT_EXEC=$tok $reaper $drop sh -c "$2"
  fi
}
"#;

/// Runs the caller's command with `sh -c`, output capped, killed at the
/// timeout.
pub(crate) async fn run_command(
    target: &Target<'_>,
    spec: CommandSpec<'_>,
) -> Result<ExecuteResponse> {
    let marker = new_marker();
    let inner_secs = spec.timeout.as_secs() + INNER_TIMEOUT_SLACK;
    // As root when there is a uid to switch to, like the shells, so the
    // reaper and this marked `sh` are out of the command's reach and the
    // kill can read their environment.
    let (user, run_as) = match spec.run_as {
        Some(uid) => (Some("0".to_owned()), uid.to_string()),
        None => (None, String::new()),
    };
    let argv = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        format!("{LAUNCH}\nrun_as=$4\nsetup_launch || exit 126\ntok=$1\nlaunch \"$2\" \"$3\""),
        "sh".to_owned(),
        marker.clone(),
        inner_secs.to_string(),
        spec.command.to_owned(),
        run_as,
    ];
    let deadline = Instant::now() + spec.timeout;
    let (exec_id, started) = target
        .start(
            argv,
            vec![format!("{MARKER_VAR}={marker}")],
            user,
            Some(spec.work_dir.to_owned()),
        )
        .await?;
    let StartExecResults::Attached { mut output, input } = started else {
        return Err(BackendError::other(
            "the Docker engine started an exec detached though it was asked to attach",
        ));
    };
    let mut guard = KillOnDrop::new(target, &marker);
    let mut cap = OutputCap::new(spec.output_limit);
    let mut timed_out = false;
    loop {
        let next = tokio::time::timeout_at(deadline.into(), output.next()).await;
        match next {
            Ok(Some(item)) => {
                match item.map_err(|e| engine_error("execute", target.name, target.address, e))? {
                    LogOutput::StdOut { message }
                    | LogOutput::StdErr { message }
                    | LogOutput::Console { message } => cap.push(&message),
                    LogOutput::StdIn { .. } => {}
                }
            }
            Ok(None) => break,
            Err(_) => {
                timed_out = true;
                break;
            }
        }
    }
    if timed_out {
        kill_tree(target, &marker).await?;
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
    guard.disarm();
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
    Ok({
        let mut v = ExecuteResponse::new(text, exit_code, truncated);
        v.timed_out = timed_out;
        v
    })
}

/// Kills a run's whole process tree: the processes whose environment
/// carries `marker` (the run's reaper, which the command cannot change,
/// and whatever kept the variable) and every descendant of theirs.
///
/// First the tree is frozen: each pass stops (`SIGSTOP`) every process
/// found so far and adds the children of found processes, until a pass
/// finds nothing new; a stopped process can neither fork nor exit, so
/// nothing slips out between passes. Then all of them get `SIGKILL` at
/// once. Descendants are found through `/proc/<pid>/stat` (readable for
/// every uid), not through their environment, so a command that cleared
/// its environment or started a new session is found all the same. Where
/// no subreaper exists (gVisor has no `PR_SET_CHILD_SUBREAPER`), the tree
/// starts from the children of the shell server that left its pid for
/// this run (`.deepagent-srv-<marker>`); an orphan that a double fork
/// handed to the container's init is then out of reach.
pub(crate) async fn kill_tree(target: &Target<'_>, marker: &str) -> Result<()> {
    let script = r#"
found=' '
# The shell server the command is a child of, when it left its pid (see
# `shell`): its children are roots of the tree, the server is not.
srv=
for f in "/tmp/.deepagent-srv-$2" "/dev/shm/.deepagent-srv-$2" "$PWD/.deepagent-srv-$2"; do
  if [ -f "$f" ] && [ ! -L "$f" ]; then read -r srv 2>/dev/null < "$f"; break; fi
done
case $srv in ''|*[!0-9]*) srv=- ;; esac
for d in /proc/[0-9]*; do
  p=${d#/proc/}
  [ "$p" = "$$" ] && continue
  if tr '\000' '\n' 2>/dev/null < "$d/environ" | grep -qxF "$1"; then
    found="$found$p "
  fi
done
[ "$found" = ' ' ] && [ "$srv" = - ] && exit 0
grew=1; rounds=0
while [ "$grew" = 1 ] && [ "$rounds" -lt 200 ]; do
  grew=0; rounds=$((rounds + 1))
  for p in $found; do kill -STOP "$p" 2>/dev/null; done
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    case $found in *" $p "*) continue ;; esac
    read -r st 2>/dev/null < "$d/stat" || continue
    st=${st##*) }
    pp=${st#* }; pp=${pp%% *}
    if [ "$pp" = "$srv" ]; then found="$found$p "; grew=1; continue; fi
    case $found in *" $pp "*) found="$found$p "; grew=1 ;; esac
  done
done
for p in $found; do kill -KILL "$p" 2>/dev/null; done
"#;
    capture(
        target,
        vec![
            "sh".into(),
            "-c".into(),
            script.into(),
            "sh".into(),
            format!("{MARKER_VAR}={marker}"),
            marker.to_owned(),
        ],
    )
    .await
    .map(|_| ())
}

/// Kills a run's tree from a task of its own when the future running it
/// is dropped before the run ended (a caller's timeout, a cancelled agent
/// run): a command nobody waits for must not keep running.
pub(crate) struct KillOnDrop {
    armed: Option<(Docker, String, String, String, String)>,
}

impl KillOnDrop {
    pub(crate) fn new(target: &Target<'_>, marker: &str) -> Self {
        KillOnDrop {
            armed: Some((
                target.docker.clone(),
                target.id.to_owned(),
                target.name.to_owned(),
                target.address.to_owned(),
                marker.to_owned(),
            )),
        }
    }

    /// The run ended on its own (or was killed already): nothing to do.
    pub(crate) fn disarm(&mut self) {
        self.armed = None;
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let Some((docker, id, name, address, marker)) = self.armed.take() else {
            return;
        };
        // Without a runtime (the process is going away) the in-container
        // `timeout` is what is left.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let target = Target {
                    docker: &docker,
                    id: &id,
                    name: &name,
                    address: &address,
                };
                let _ = kill_tree(&target, &marker).await;
            });
        }
    }
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
