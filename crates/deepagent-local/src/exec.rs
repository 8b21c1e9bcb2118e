//! `execute`: `sh -c` in the root directory.
//!
//! On Linux every command runs under its own small supervisor process, a
//! child subreaper (see the `supervisor` module): a timeout, a dropped
//! call or the end of this process kills every process the command
//! started, including those that left its process group (`setsid`, a
//! daemonizing double fork) or cleared their environment (`env -i`).
//! Elsewhere the shell gets its own process group and the group is killed.
//!
//! stdout and stderr share one pipe, so the output is interleaved in the
//! order it was written. The pipe (and, on Linux, the supervisor's status
//! pipe that says when the shell exited) is read with `poll(2)` on a
//! blocking-pool thread, which lets one loop watch the output, the exit,
//! the clock and cancellation without needing tokio's IO or time drivers.
//!
//! When the shell exits but something it started in the background still
//! holds the pipe (`sleep 100 &`), the output is drained for a short grace
//! period, then everything the command started is killed: the call
//! returns promptly instead of waiting for the background job. A
//! background job that redirects its output elsewhere (`server > log 2>&1
//! &`) does not hold the pipe and keeps running.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use deepagent_core::text::OutputCap;
use deepagent_core::{BackendError, ExecuteResponse, Result};

use crate::config::Config;

#[cfg(target_os = "linux")]
use crate::supervisor::Supervised as Proc;
#[cfg(not(target_os = "linux"))]
use group::Grouped as Proc;

/// How long output is still collected after the shell exits while a
/// background process keeps the pipe open.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(100);
/// How long to wait for the last bytes once everything is killed.
const DRAIN_AFTER_KILL: Duration = Duration::from_millis(200);
/// The longest the loop sleeps in `poll` before checking the clock and
/// cancellation: a dropped call kills its command within about this.
const TICK: Duration = Duration::from_millis(20);

/// Runs `command` to completion or timeout. `cancelled` is set when the
/// caller gave up (its future was dropped): everything is killed then.
pub(crate) fn execute(
    cfg: &Config,
    command: &str,
    timeout: Duration,
    cancelled: &AtomicBool,
) -> Result<ExecuteResponse> {
    let fail = |what: &str, e: io::Error| {
        BackendError::other_with_source(
            format!("execute: cannot {what}: {e} (command: {command})"),
            e,
        )
    };
    if cancelled.load(Ordering::Relaxed) {
        return Err(cancelled_error());
    }
    let (reader, writer) = pipe().map_err(|e| fail("create a pipe", e))?;
    // `spawn` closes our copy of the write end, so EOF comes when the
    // command's side closes.
    let proc = Proc::spawn(command, cfg.jail.root(), writer).map_err(|e| fail("start sh", e))?;
    let mut run = Run {
        proc,
        reader: File::from(reader),
        cap: OutputCap::new(cfg.output_limit),
        eof: false,
    };
    // Whatever happens, `Proc`'s drop leaves no process of this command
    // behind that has not been released on purpose.
    let (status, timed_out) = match run.wait(timeout, cancelled) {
        Ok(Some(done)) => done,
        Ok(None) => return Err(cancelled_error()),
        Err(e) => {
            run.proc.kill_all();
            return Err(fail("run the command", e));
        }
    };
    let (output, truncated) = run.cap.finish();
    if timed_out {
        return Ok(ExecuteResponse::killed_at_timeout(
            output, truncated, timeout,
        ));
    }
    Ok({
        let mut v = ExecuteResponse::new(output, exit_code(status), truncated);
        v.timed_out = timed_out;
        v
    })
}

fn cancelled_error() -> BackendError {
    BackendError::other("execute: cancelled by the caller; the command was killed")
}

/// The exit code, or 128 + the signal number for a killed process, as a
/// shell reports it.
fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

struct Run {
    proc: Proc,
    reader: File,
    cap: OutputCap,
    eof: bool,
}

impl Run {
    /// Reads output until the shell has exited and the pipe is closed (or
    /// abandoned). Returns the exit status and whether it timed out, or
    /// `None` when cancelled.
    fn wait(
        &mut self,
        timeout: Duration,
        cancelled: &AtomicBool,
    ) -> io::Result<Option<(ExitStatus, bool)>> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 64 * 1024];
        let mut idle = Duration::from_millis(1);
        loop {
            if cancelled.load(Ordering::Relaxed) {
                self.proc.kill_all();
                return Ok(None);
            }
            let now = Instant::now();
            if now >= deadline {
                self.proc.kill_all();
                self.drain_until(Instant::now() + DRAIN_AFTER_KILL, &mut buf)?;
                return Ok(Some((ExitStatus::from_raw(libc::SIGKILL), true)));
            }
            let wait = TICK.min(deadline - now);
            let out = (!self.eof).then(|| self.reader.as_raw_fd());
            let exit = self.proc.exit_fd();
            let (out_ready, exit_ready) = if out.is_none() && exit.is_none() {
                // Output closed and no exit pipe to watch: nap and look again.
                std::thread::sleep(idle.min(wait));
                idle = (idle * 2).min(TICK);
                (false, false)
            } else {
                poll2(out, exit, wait)?
            };
            if out_ready {
                self.read_chunk(&mut buf)?;
            }
            if let Some(status) = self.proc.try_exit(exit_ready)? {
                return Ok(Some((self.finish_after_exit(status, &mut buf)?, false)));
            }
        }
    }

    /// The shell exited: collect what is left, giving background processes
    /// that still hold the pipe a short grace before killing them.
    fn finish_after_exit(&mut self, status: ExitStatus, buf: &mut [u8]) -> io::Result<ExitStatus> {
        self.drain_until(Instant::now() + DRAIN_AFTER_EXIT, buf)?;
        if self.eof {
            self.proc.release();
        } else {
            self.proc.kill_all();
            self.drain_until(Instant::now() + DRAIN_AFTER_KILL, buf)?;
        }
        Ok(status)
    }

    fn drain_until(&mut self, until: Instant, buf: &mut [u8]) -> io::Result<()> {
        while !self.eof {
            let now = Instant::now();
            if now >= until {
                break;
            }
            if poll2(Some(self.reader.as_raw_fd()), None, until - now)?.0 {
                self.read_chunk(buf)?;
            }
        }
        Ok(())
    }

    fn read_chunk(&mut self, buf: &mut [u8]) -> io::Result<()> {
        match self.reader.read(buf) {
            Ok(0) => self.eof = true,
            Ok(n) => self.cap.push(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

/// A pipe whose ends are closed on exec, so only the ends handed to the
/// child as stdout/stderr reach it.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both fds are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Waits up to `wait` for either descriptor to have data (or EOF); says
/// which do.
fn poll2(a: Option<RawFd>, b: Option<RawFd>, wait: Duration) -> io::Result<(bool, bool)> {
    let pfd = |fd: Option<RawFd>| libc::pollfd {
        // A negative fd is ignored by poll.
        fd: fd.unwrap_or(-1),
        events: libc::POLLIN,
        revents: 0,
    };
    let mut fds = [pfd(a), pfd(b)];
    let ms = libc::c_int::try_from(wait.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
    // SAFETY: two valid pollfds, count 2.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok((false, false));
        }
        return Err(err);
    }
    let ready = |p: &libc::pollfd| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0;
    Ok((ready(&fds[0]), ready(&fds[1])))
}

/// Outside Linux: the shell's process group is all that can be killed.
#[cfg(not(target_os = "linux"))]
mod group {
    use std::io;
    use std::os::fd::{OwnedFd, RawFd};
    use std::os::unix::process::CommandExt;
    use std::path::Path;
    use std::process::{Child, Command, ExitStatus, Stdio};

    pub(crate) struct Grouped {
        child: Child,
        done: bool,
    }

    impl Grouped {
        pub(crate) fn spawn(command: &str, cwd: &Path, output: OwnedFd) -> io::Result<Self> {
            let child = Command::new("sh")
                .arg("-c")
                .arg(command)
                .current_dir(cwd)
                .stdin(Stdio::null())
                .stdout(Stdio::from(output.try_clone()?))
                .stderr(Stdio::from(output))
                .process_group(0)
                .spawn()?;
            Ok(Grouped { child, done: false })
        }

        pub(crate) fn exit_fd(&self) -> Option<RawFd> {
            None
        }

        pub(crate) fn try_exit(&mut self, _readable: bool) -> io::Result<Option<ExitStatus>> {
            self.child.try_wait()
        }

        pub(crate) fn kill_all(&mut self) {
            if let Ok(pgid) = libc::pid_t::try_from(self.child.id()) {
                // SAFETY: killpg only sends a signal.
                unsafe { libc::killpg(pgid, libc::SIGKILL) };
            }
            let _ = self.child.wait();
            self.done = true;
        }

        pub(crate) fn release(&mut self) {
            let _ = self.child.wait();
            self.done = true;
        }
    }

    impl Drop for Grouped {
        fn drop(&mut self) {
            if !self.done {
                self.kill_all();
            }
        }
    }
}
