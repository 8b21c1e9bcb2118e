//! `execute`: `sh -c` in the root directory.
//!
//! The shell gets its own process group, so a timeout can kill the command
//! and everything it started. stdout and stderr share one pipe, so the
//! output is interleaved in the order it was written. The pipe is read
//! with `poll(2)` on a blocking-pool thread, which lets one loop watch the
//! output, the exit and the clock without needing tokio's IO or time
//! drivers.
//!
//! When the shell exits but something it started in the background still
//! holds the pipe (`sleep 100 &`), the output is drained for a short grace
//! period, then the rest of the process group is killed: the call returns
//! promptly instead of waiting for the background job. A background job
//! that redirects its output elsewhere (`server > log 2>&1 &`) does not hold
//! the pipe and keeps running.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use deepagent_core::text::OutputCap;
use deepagent_core::{BackendError, ExecuteResponse, Result};

use crate::config::Config;

/// How long output is still collected after the shell exits while a
/// background process keeps the pipe open.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(100);
/// How long to wait for the last bytes once the process group is killed.
const DRAIN_AFTER_KILL: Duration = Duration::from_millis(200);
/// The longest the loop sleeps in `poll` before checking exit and clock.
const TICK: Duration = Duration::from_millis(20);

/// Runs `command` to completion or timeout.
pub(crate) fn execute(cfg: &Config, command: &str, timeout: Duration) -> Result<ExecuteResponse> {
    let fail = |what: &str, e: io::Error| {
        BackendError::Backend(format!("execute: cannot {what}: {e} (command: {command})"))
    };
    let (reader, writer) = pipe().map_err(|e| fail("create a pipe", e))?;
    let mut child = {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(command)
            .current_dir(cfg.jail.root())
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                writer.try_clone().map_err(|e| fail("create a pipe", e))?,
            ))
            .stderr(Stdio::from(writer))
            .process_group(0);
        cmd.spawn().map_err(|e| fail("start sh", e))?
        // `cmd` drops here, closing our copies of the write end, so EOF
        // comes when the command's side closes.
    };
    let mut run = Run {
        child: &mut child,
        reader: File::from(reader),
        cap: OutputCap::new(cfg.output_limit),
        eof: false,
    };
    let outcome = run.wait(timeout);
    // Whatever happened, leave no process of this command behind holding
    // the pipe, and reap the shell.
    let (status, timed_out) = match outcome {
        Ok(done) => done,
        Err(e) => {
            kill_group(run.child);
            let _ = run.child.wait();
            return Err(fail("run the command", e));
        }
    };
    let (output, truncated) = run.cap.finish();
    if timed_out {
        return Ok(ExecuteResponse::killed_at_timeout(
            output, truncated, timeout,
        ));
    }
    Ok(ExecuteResponse {
        output,
        exit_code: exit_code(status),
        truncated,
        timed_out,
    })
}

/// The exit code, or 128 + the signal number for a killed process, as a
/// shell reports it.
fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

struct Run<'a> {
    child: &'a mut Child,
    reader: File,
    cap: OutputCap,
    eof: bool,
}

impl Run<'_> {
    /// Reads output until the shell has exited and the pipe is closed (or
    /// abandoned). Returns the exit status and whether it timed out.
    fn wait(&mut self, timeout: Duration) -> io::Result<(ExitStatus, bool)> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 64 * 1024];
        let mut idle = Duration::from_millis(1);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok((self.finish_after_exit(status, &mut buf)?, false));
            }
            let now = Instant::now();
            if now >= deadline {
                kill_group(self.child);
                let status = self.child.wait()?;
                self.drain_until(Instant::now() + DRAIN_AFTER_KILL, &mut buf)?;
                return Ok((status, true));
            }
            let wait = TICK.min(deadline - now);
            if self.eof {
                // The command closed its output but still runs.
                std::thread::sleep(idle.min(wait));
                idle = (idle * 2).min(TICK);
            } else {
                self.read_some(wait, &mut buf)?;
            }
        }
    }

    /// The shell exited: collect what is left, giving background processes
    /// that still hold the pipe a short grace before killing them.
    fn finish_after_exit(&mut self, status: ExitStatus, buf: &mut [u8]) -> io::Result<ExitStatus> {
        self.drain_until(Instant::now() + DRAIN_AFTER_EXIT, buf)?;
        if !self.eof {
            kill_group(self.child);
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
            self.read_some(until - now, buf)?;
        }
        Ok(())
    }

    /// Waits up to `wait` for output and reads one chunk of it.
    fn read_some(&mut self, wait: Duration, buf: &mut [u8]) -> io::Result<()> {
        if !poll_readable(&self.reader, wait)? {
            return Ok(());
        }
        match self.reader.read(buf) {
            Ok(0) => self.eof = true,
            Ok(n) => self.cap.push(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

/// Kills the command's whole process group (the shell is its leader).
fn kill_group(child: &Child) {
    let Ok(pgid) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    // SAFETY: killpg only sends a signal; an already empty group gives
    // ESRCH, which is fine.
    unsafe {
        libc::killpg(pgid, libc::SIGKILL);
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

/// True when `file` has data (or EOF) to read within `wait`.
fn poll_readable(file: &File, wait: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(wait.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd, count 1.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(err);
    }
    Ok(rc > 0 && pfd.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0)
}
