//! A small supervisor process per command that can kill everything the
//! command started, also what left its process group (Linux).
//!
//! Killing the shell's process group misses every process that calls
//! `setsid` or `setpgid` (a daemonizing double fork, `setsid cmd &`), and
//! an environment marker misses `env -i`. The kernel offers a tracker that
//! needs no privilege: a *child subreaper* (`PR_SET_CHILD_SUBREAPER`).
//! Orphans are re-parented to the nearest subreaper ancestor instead of
//! init, so every process the command starts stays a descendant of it
//! whatever it does with sessions, groups or its environment.
//!
//! Making the library user's own process a subreaper would change their
//! program (it would inherit and have to reap every orphan of every child
//! it ever starts), so each `execute` forks a dedicated supervisor that
//! becomes the subreaper and forks the shell:
//!
//! ```text
//! this process ── supervisor (subreaper) ── sh -c COMMAND ── ...
//!      ctrl socket ──▶ │ ◀── status pipe
//! ```
//!
//! - The supervisor reports the shell's pid, then its wait status, on the
//!   status pipe.
//! - On the ctrl socket, `q` lets it exit leaving what still runs (a
//!   background server with its own output), `k` makes it kill every
//!   descendant (by walking `/proc` for the processes whose parent chain
//!   leads to it, again until none is left, since a killed process's
//!   children are re-parented to it) and exit. End of file, which is what
//!   the caller's death or a dropped call produces, means `k`.
//! - It ignores the terminal's SIGINT, SIGHUP and SIGQUIT and a plain
//!   SIGTERM, so these cannot take it down before the command's processes.
//!
//! Between `fork` and its exit the supervisor runs in a copy of a
//! multi-threaded process, where only async-signal-safe calls are sound: it
//! makes raw system calls only and never allocates (every buffer is
//! allocated before the fork).
//!
//! Limits: a command running as the same user can still `kill -9` the
//! supervisor itself first (then only the shell's process group is killed,
//! as before), a process that asks another service to start something
//! (`systemd-run`, `at`, an ssh to localhost, a Docker daemon) starts it
//! outside this tree, and a setuid program among the descendants cannot be
//! signalled by an unprivileged user. A PID namespace or a cgroup would
//! close the first hole but needs privileges a library cannot assume.

// The `unsafe fn`s below are the post-fork code. Their shared contract:
// they run in a process forked from a (possibly multi-threaded) parent,
// so they make only async-signal-safe calls (raw syscalls through libc;
// no allocation, no locks, no `std` I/O), and every descriptor they are
// given is open in this process. Each unsafe operation inside them is in
// its own block saying why that call is sound.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;

/// Processes the kill walk records per `/proc` scan; more are found in the
/// next round.
const MAX_PROCS: usize = 1 << 16;
/// Rounds of scan-and-kill before the supervisor gives up (a fork bomb
/// faster than SIGKILL, which does not happen in practice).
const MAX_KILL_ROUNDS: usize = 10_000;
/// How long the caller waits for the supervisor to finish before killing
/// it; its kill walk takes milliseconds.
const REAP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// A command running under its own supervisor.
pub(crate) struct Supervised {
    supervisor: libc::pid_t,
    shell: libc::pid_t,
    ctrl: Option<File>,
    status: File,
    exited: Option<ExitStatus>,
    reaped: bool,
}

/// Everything the supervisor and the shell need, prepared before the fork
/// so neither allocates afterwards.
struct Prepared {
    sh: CString,
    /// Owns the strings `argv_ptrs` and `envp_ptrs` point into.
    _argv: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    _envp: Vec<CString>,
    envp_ptrs: Vec<*const libc::c_char>,
    cwd: CString,
    devnull: OwnedFd,
    procs: Vec<(libc::pid_t, libc::pid_t)>,
    dents: Vec<u8>,
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// `sh` as `Command::new("sh")` would find it: the first executable in
/// `PATH`, else `/bin/sh`.
fn find_sh() -> CString {
    use std::os::unix::fs::PermissionsExt;
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("sh");
            if let Ok(meta) = std::fs::metadata(&candidate) {
                if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                    if let Ok(c) = cstring(candidate.as_os_str().as_bytes()) {
                        return c;
                    }
                }
            }
        }
    }
    CString::from(c"/bin/sh")
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 succeeded, so both fds are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for socketpair to fill.
    check(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: socketpair succeeded, so both fds are open and owned by
    // nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

impl Supervised {
    /// Starts `sh -c command` in `cwd` under a new supervisor, with stdin
    /// from `/dev/null` and stdout and stderr both on `output` (the write
    /// end of a pipe, closed here once the shell has it).
    pub(crate) fn spawn(command: &str, cwd: &Path, output: OwnedFd) -> io::Result<Self> {
        let sh = find_sh();
        let argv = vec![
            CString::from(c"sh"),
            CString::from(c"-c"),
            cstring(command.as_bytes())?,
        ];
        let envp: Vec<CString> = std::env::vars_os()
            .filter_map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                CString::new(kv).ok()
            })
            .collect();
        let mut p = Prepared {
            argv_ptrs: argv
                .iter()
                .map(|a| a.as_ptr())
                .chain([std::ptr::null()])
                .collect(),
            envp_ptrs: envp
                .iter()
                .map(|a| a.as_ptr())
                .chain([std::ptr::null()])
                .collect(),
            sh,
            _argv: argv,
            _envp: envp,
            cwd: cstring(cwd.as_os_str().as_bytes())?,
            devnull: OwnedFd::from(File::open("/dev/null")?),
            procs: Vec::with_capacity(MAX_PROCS),
            dents: vec![0u8; 32 * 1024],
        };
        // A socket pair rather than a pipe only for MSG_NOSIGNAL (see `send`).
        let (ctrl_r, ctrl_w) = socket_pair()?;
        let (status_r, status_w) = pipe()?;
        // SAFETY: the child only makes async-signal-safe calls (see
        // `supervise`) and never returns.
        let pid = check(unsafe { libc::fork() })?;
        if pid == 0 {
            // SAFETY: we are the freshly forked child.
            unsafe {
                supervise(
                    &mut p,
                    ctrl_r.as_raw_fd(),
                    status_w.as_raw_fd(),
                    output.as_raw_fd(),
                )
            }
        }
        // The child's copies are what matter now: EOF on the output comes
        // when the command's side closes, on the status pipe when the
        // supervisor exits.
        drop((ctrl_r, status_w, output));
        let mut sup = Supervised {
            supervisor: pid,
            shell: 0,
            ctrl: Some(File::from(ctrl_w)),
            status: File::from(status_r),
            exited: None,
            reaped: false,
        };
        let mut word = [0u8; 4];
        if let Err(e) = sup.status.read_exact(&mut word) {
            sup.reap();
            return Err(io::Error::new(
                e.kind(),
                format!("the command's supervisor did not start: {e}"),
            ));
        }
        sup.shell = i32::from_ne_bytes(word);
        if sup.shell <= 0 {
            sup.reap();
            return Err(io::Error::other(
                "the command's supervisor could not fork the shell",
            ));
        }
        drop(p);
        Ok(sup)
    }

    /// The pipe that becomes readable when the shell has exited (or the
    /// supervisor died).
    pub(crate) fn exit_fd(&self) -> Option<RawFd> {
        if self.exited.is_none() {
            Some(self.status.as_raw_fd())
        } else {
            None
        }
    }

    /// The shell's exit status once known; call when [`Supervised::exit_fd`] polls
    /// readable (it then does not block).
    pub(crate) fn try_exit(&mut self, readable: bool) -> io::Result<Option<ExitStatus>> {
        if self.exited.is_none() && readable {
            let mut word = [0u8; 4];
            match self.status.read_exact(&mut word) {
                Ok(()) => self.exited = Some(ExitStatus::from_raw(i32::from_ne_bytes(word))),
                Err(_) => {
                    // The supervisor died (killed by the command itself):
                    // fall back to the shell's process group.
                    self.kill_group();
                    self.reap();
                    self.exited = Some(ExitStatus::from_raw(libc::SIGKILL));
                }
            }
        }
        Ok(self.exited)
    }

    /// Kills the shell and every process it started, wherever they went,
    /// and waits until the supervisor has done so.
    pub(crate) fn kill_all(&mut self) {
        if !self.send(b'k') {
            // The supervisor is gone (the command killed it): the shell's
            // process group is all that is left to reach.
            self.kill_group();
        }
        self.reap();
    }

    /// The shell is done and its output closed: let what it left running
    /// in the background (with its own output) keep running.
    pub(crate) fn release(&mut self) {
        let _ = self.send(b'q');
        self.reap();
    }

    /// Sends one command byte; false when the supervisor cannot hear it.
    /// `MSG_NOSIGNAL`: a dead supervisor must not raise SIGPIPE in a
    /// program that has not ignored it.
    fn send(&mut self, what: u8) -> bool {
        match self.ctrl.take() {
            Some(ctrl) => {
                // SAFETY: `ctrl` is an open socket and the byte lives for
                // the call.
                let n = unsafe {
                    libc::send(
                        ctrl.as_raw_fd(),
                        [what].as_ptr().cast(),
                        1,
                        libc::MSG_NOSIGNAL,
                    )
                };
                n == 1
            }
            None => false,
        }
    }

    fn kill_group(&self) {
        if self.shell > 0 {
            // SAFETY: only sends a signal; an empty group gives ESRCH.
            unsafe { libc::killpg(self.shell, libc::SIGKILL) };
        }
    }

    /// Waits for the supervisor to exit. It normally does at once (or
    /// after its kill walk), but a command can stop it (`kill -STOP
    /// $PPID`): past [`REAP_GRACE`] it is killed, with the shell's process
    /// group as the fallback, so a call can never hang on it.
    fn reap(&mut self) {
        if self.reaped {
            return;
        }
        self.ctrl = None;
        let deadline = std::time::Instant::now() + REAP_GRACE;
        let mut status = 0;
        let mut pause = std::time::Duration::from_micros(50);
        loop {
            // SAFETY: polls our own child; `status` is writable.
            let r = unsafe { libc::waitpid(self.supervisor, &mut status, libc::WNOHANG) };
            if r != 0 {
                // Exited (or already reaped / not ours: nothing to wait for).
                if r == -1 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                break;
            }
            if std::time::Instant::now() >= deadline {
                self.kill_group();
                // SAFETY: only signals our own child, which is not yet reaped.
                unsafe { libc::kill(self.supervisor, libc::SIGKILL) };
                // SAFETY: waits for our own child; `status` is writable.
                unsafe { libc::waitpid(self.supervisor, &mut status, 0) };
                break;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(std::time::Duration::from_millis(5));
        }
        self.reaped = true;
    }
}

impl Drop for Supervised {
    /// A panic or an early return never leaves the command running.
    fn drop(&mut self) {
        if !self.reaped {
            self.kill_all();
        }
    }
}

// ---------------------------------------------------------------------
// Below: the forked child. Raw system calls only, no allocation, no locks.
// ---------------------------------------------------------------------

/// Signals the supervisor ignores (a terminal's Ctrl-C reaches the whole
/// foreground group, this process included); the shell gets them back.
const IGNORED: [libc::c_int; 5] = [
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGPIPE,
];

/// Writes all of `bytes` to `fd`, retrying on EINTR, giving up on any
/// other error (there is nobody to tell).
///
/// # Safety
///
/// Post-fork code (see the module's contract); `fd` is a descriptor.
unsafe fn write_all(fd: RawFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: the pointer and length describe the live `bytes` slice;
        // write(2) is async-signal-safe.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
        } else if n == -1 && errno() == libc::EINTR {
            continue;
        } else {
            return;
        }
    }
}

/// This thread's `errno`.
fn errno() -> libc::c_int {
    // SAFETY: __errno_location returns a valid pointer to this thread's
    // errno for the thread's whole life; reading it is async-signal-safe.
    unsafe { *libc::__errno_location() }
}

/// Makes `src` also `dst`, without close-on-exec, even when they are the
/// same number.
///
/// # Safety
///
/// Post-fork code; replacing `dst` must not close a descriptor something
/// else in this process still uses (only the shell's 0, 1, 2 before exec).
unsafe fn move_fd(src: RawFd, dst: RawFd) -> bool {
    if src == dst {
        // SAFETY: F_SETFD with 0 only clears close-on-exec on `dst`.
        unsafe { libc::fcntl(dst, libc::F_SETFD, 0) != -1 }
    } else {
        // SAFETY: the caller accepts that `dst` is replaced.
        unsafe { libc::dup2(src, dst) != -1 }
    }
}

/// Closes every descriptor from 3 up except those in `keep` (sorted).
///
/// # Safety
///
/// Post-fork code in the supervisor: nothing in this process may still
/// use a descriptor that is not in `keep` (they belong to the parent).
unsafe fn close_others(keep: &mut [RawFd]) {
    keep.sort_unstable();
    let mut lo: libc::c_uint = 3;
    for &k in keep.iter() {
        let Ok(k) = libc::c_uint::try_from(k) else {
            continue;
        };
        if k >= lo {
            if k > lo {
                // SAFETY: the range holds no kept descriptor (our caller's
                // contract covers the rest).
                unsafe { close_range(lo, k - 1) };
            }
            lo = k + 1;
        }
    }
    // SAFETY: as above; every kept descriptor is below `lo`.
    unsafe { close_range(lo, libc::c_uint::MAX) };
}

/// Closes the descriptors `lo..=hi`.
///
/// # Safety
///
/// Post-fork code; nothing in this process may use a descriptor in the
/// range afterwards.
unsafe fn close_range(lo: libc::c_uint, hi: libc::c_uint) {
    // SAFETY: close_range(2) takes plain integers; the caller owns the range.
    if unsafe { libc::syscall(libc::SYS_close_range, lo, hi, 0) } == 0 {
        return;
    }
    // Kernels before 5.9: one by one, up to a sane bound.
    let mut lim = std::mem::MaybeUninit::<libc::rlimit>::uninit();
    // SAFETY: getrlimit fills the rlimit `lim` points to.
    let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, lim.as_mut_ptr()) } == 0 {
        // SAFETY: getrlimit returned 0, so it initialised `lim`.
        unsafe { lim.assume_init() }.rlim_cur.min(1 << 16) as libc::c_uint
    } else {
        1024
    };
    let mut fd = lo;
    while fd <= hi.min(max) {
        // SAFETY: the caller owns every descriptor in the range.
        unsafe { libc::close(fd as libc::c_int) };
        fd += 1;
    }
}

/// The supervisor's whole life; never returns.
///
/// # Safety
///
/// Only in the child of the `fork` in [`Supervised::start`]: post-fork
/// code (see the module's contract), and `ctrl`, `status`, `output` and
/// `p.devnull` are open descriptors this process owns.
unsafe fn supervise(p: &mut Prepared, ctrl: RawFd, status: RawFd, output: RawFd) -> ! {
    // SIGCHLD arrives through a signalfd; the mask is inherited by the
    // shell's fork, which clears it again before exec.
    let mut chld = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set `chld` points to, after
    // which it may be read; sigaddset and pthread_sigmask get valid sets.
    // All three are async-signal-safe.
    let chld = unsafe {
        libc::sigemptyset(chld.as_mut_ptr());
        let mut chld = chld.assume_init();
        libc::sigaddset(&mut chld, libc::SIGCHLD);
        libc::pthread_sigmask(libc::SIG_BLOCK, &chld, std::ptr::null_mut());
        chld
    };
    for sig in IGNORED {
        // SAFETY: SIG_IGN is a valid disposition; no handler code runs.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
    // SAFETY: prctl with integer arguments only changes this process.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    // Whatever the library user's process had open (other commands' pipe
    // ends above all) must not stay open here or in the command.
    let devnull = p.devnull.as_raw_fd();
    // SAFETY: every descriptor this process uses is in the list; the rest
    // are the parent's, which this process never touches.
    unsafe { close_others(&mut [ctrl, status, output, devnull]) };
    // SAFETY: `chld` is an initialised signal set.
    let sigfd = unsafe { libc::signalfd(-1, &chld, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };

    // The shell waits on `go` until its pid is reported: a command that
    // stops or kills this process at once must not keep the caller
    // waiting for the pid, or leave it without one.
    let mut go = [-1 as libc::c_int; 2];
    // SAFETY: `go` is an array of two ints for pipe2 to fill.
    let go_ok = unsafe { libc::pipe2(go.as_mut_ptr(), libc::O_CLOEXEC) } == 0;
    let shell = if go_ok && sigfd >= 0 {
        // SAFETY: this process is single-threaded (a fork child), and the
        // new child only makes async-signal-safe calls before exec.
        unsafe { libc::fork() }
    } else {
        -1
    };
    if shell == 0 {
        // SAFETY: `go` holds the two open ends of the pipe made above; the
        // read goes into a live byte.
        unsafe {
            libc::close(go[1]);
            let mut byte = 0u8;
            while libc::read(go[0], (&mut byte as *mut u8).cast(), 1) == -1
                && errno() == libc::EINTR
            {}
            exec_shell(p, output, devnull);
        }
    }
    // SAFETY: these descriptors are ours and nothing here uses them again
    // (the shell has its own copies).
    unsafe {
        libc::close(output);
        libc::close(devnull);
        libc::close(go[0]);
    }
    if shell < 0 {
        // SAFETY: `status` is open; _exit ends this process without
        // running the parent's atexit handlers or destructors.
        unsafe {
            write_all(status, &(-1i32).to_ne_bytes());
            libc::_exit(1);
        }
    }
    // SAFETY: `status` is open; `go[1]` is ours and closing it lets the
    // shell go on.
    unsafe {
        write_all(status, &shell.to_ne_bytes());
        libc::close(go[1]);
    }

    let mut shell_done = false;
    loop {
        let mut fds = [
            libc::pollfd {
                fd: ctrl,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sigfd,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is an array of two pollfds, as the count says.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if r < 0 {
            continue;
        }
        if fds[1].revents != 0 {
            let mut info = [0u8; 128];
            // SAFETY: reads into the live `info` buffer, within its length.
            while unsafe { libc::read(sigfd, info.as_mut_ptr().cast(), info.len()) } > 0 {}
            // Reap everything that ended: the shell, and orphans that were
            // re-parented here.
            loop {
                let mut st = 0;
                // SAFETY: `st` is a writable int.
                let pid = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
                if pid <= 0 {
                    break;
                }
                if pid == shell && !shell_done {
                    shell_done = true;
                    // SAFETY: `status` is open.
                    unsafe { write_all(status, &st.to_ne_bytes()) };
                }
            }
        }
        if fds[0].revents != 0 {
            let mut cmd = [0u8; 1];
            // SAFETY: reads one byte into the live `cmd`.
            let n = unsafe { libc::read(ctrl, cmd.as_mut_ptr().cast(), 1) };
            if n == -1 && errno() == libc::EINTR {
                continue;
            }
            if n == 1 && cmd[0] == b'q' {
                // SAFETY: ends this process at once, as a fork child must.
                unsafe { libc::_exit(0) };
            }
            // `k`, end of file or an error: kill them all.
            // SAFETY: post-fork code, as `kill_descendants` requires; then
            // ends this process.
            unsafe {
                kill_descendants(p);
                libc::_exit(0);
            }
        }
    }
}

/// The shell's side of the second fork: standard descriptors, a clean
/// signal state, its own process group, then `exec`.
///
/// # Safety
///
/// Only in the shell's fork child (post-fork code); `output` and
/// `devnull` are open.
unsafe fn exec_shell(p: &Prepared, output: RawFd, devnull: RawFd) -> ! {
    for sig in IGNORED {
        // SAFETY: SIG_DFL is a valid disposition.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    let mut none = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set before pthread_sigmask reads
    // it; setpgid changes only this process.
    unsafe {
        libc::sigemptyset(none.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_SETMASK, none.as_ptr(), std::ptr::null_mut());
        libc::setpgid(0, 0);
    }
    // SAFETY: `p.cwd` is a NUL-terminated path; replacing 0, 1 and 2 is
    // what this process is for.
    let ok = unsafe {
        libc::chdir(p.cwd.as_ptr()) == 0
            && move_fd(devnull, 0)
            && move_fd(output, 1)
            && move_fd(output, 2)
    };
    if ok {
        // SAFETY: `sh` is NUL-terminated and `argv_ptrs`/`envp_ptrs` are
        // NULL-terminated arrays of pointers into strings `p` owns, alive
        // until exec replaces the process.
        unsafe { libc::execve(p.sh.as_ptr(), p.argv_ptrs.as_ptr(), p.envp_ptrs.as_ptr()) };
    }
    // SAFETY: descriptor 2 is open (the output, or the parent's stderr);
    // _exit ends the fork child at once.
    unsafe {
        write_all(2, b"deepagent: cannot start sh in the backend root\n");
        libc::_exit(127);
    }
}

/// SIGKILLs every descendant, round after round (a killed process's
/// children come to us), until none is left, then reaps them.
///
/// # Safety
///
/// Only in the supervisor (post-fork code, a child subreaper).
unsafe fn kill_descendants(p: &mut Prepared) {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    for _ in 0..MAX_KILL_ROUNDS {
        // SAFETY: post-fork code, as scan_procs requires.
        let found = unsafe { scan_procs(p) };
        let procs = &mut p.procs;
        procs.sort_unstable();
        let mut signalled = 0;
        for i in 0..procs.len() {
            let (pid, _) = procs[i];
            if descends_from(procs, pid, me) {
                // SAFETY: sends a signal to a descendant of ours; a pid
                // that already ended gives ESRCH.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                signalled += 1;
            }
        }
        // Reap what died; ECHILD means nothing is left below us.
        loop {
            let mut st = 0;
            // SAFETY: `st` is a writable int.
            let r = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
            if r > 0 {
                continue;
            }
            if r == -1 && errno() == libc::ECHILD {
                return;
            }
            break;
        }
        // Give the killed a moment to die (or, when the scan found
        // nothing, a child that just forked a moment to show up in /proc).
        let pause = libc::timespec {
            tv_sec: 0,
            tv_nsec: if signalled > 0 && found {
                100_000
            } else {
                1_000_000
            },
        };
        // SAFETY: `pause` is a valid timespec; the remainder is not asked for.
        unsafe { libc::nanosleep(&pause, std::ptr::null_mut()) };
    }
}

/// Whether `pid`'s parent chain (in the sorted `procs`) reaches `ancestor`.
fn descends_from(
    procs: &[(libc::pid_t, libc::pid_t)],
    mut pid: libc::pid_t,
    ancestor: libc::pid_t,
) -> bool {
    for _ in 0..procs.len() {
        let Ok(i) = procs.binary_search_by_key(&pid, |&(p, _)| p) else {
            return false;
        };
        let parent = procs[i].1;
        if parent == ancestor {
            return true;
        }
        if parent <= 1 {
            return false;
        }
        pid = parent;
    }
    false
}

/// Fills `p.procs` with (pid, ppid) of every process in `/proc`, up to its
/// capacity. False when `/proc` could not be read.
///
/// # Safety
///
/// Post-fork code: it never allocates (`p.procs` and `p.dents` were
/// sized before the fork, and pushes stay within capacity).
unsafe fn scan_procs(p: &mut Prepared) -> bool {
    p.procs.clear();
    // SAFETY: a NUL-terminated literal path.
    let dir = unsafe {
        libc::open(
            c"/proc".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if dir < 0 {
        return false;
    }
    loop {
        // SAFETY: getdents64 writes at most `p.dents.len()` bytes into
        // the buffer, which lives as long as this call.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir,
                p.dents.as_mut_ptr(),
                p.dents.len(),
            )
        };
        if n <= 0 {
            break;
        }
        let mut off = 0usize;
        while off < n as usize {
            // linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8,
            // then the NUL-terminated name.
            let rec = &p.dents[off..];
            let reclen = u16::from_ne_bytes([rec[16], rec[17]]) as usize;
            if reclen == 0 {
                break;
            }
            let name = &rec[19..reclen.min(rec.len())];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            off += reclen;
            let Some(pid) = parse_pid(name) else {
                continue;
            };
            if p.procs.len() >= p.procs.capacity() {
                break;
            }
            if let Some(ppid) = read_ppid(pid) {
                p.procs.push((pid, ppid));
            }
        }
    }
    // SAFETY: `dir` is the descriptor opened above, used no more.
    unsafe { libc::close(dir) };
    true
}

fn parse_pid(name: &[u8]) -> Option<libc::pid_t> {
    if name.is_empty() || name.len() > 9 {
        return None;
    }
    let mut v: libc::pid_t = 0;
    for &b in name {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + libc::pid_t::from(b - b'0');
    }
    Some(v)
}

/// The parent pid from `/proc/<pid>/stat`: `pid (comm) S ppid ...`, where
/// `comm` may itself hold spaces and parentheses, so parsing starts after
/// the last `)`.
/// Safe anywhere, and fit for post-fork code: a stack buffer and raw
/// syscalls, no allocation.
fn read_ppid(pid: libc::pid_t) -> Option<libc::pid_t> {
    let mut path = [0u8; 32];
    let mut len = 0;
    for &b in b"/proc/" {
        path[len] = b;
        len += 1;
    }
    let mut digits = [0u8; 10];
    let mut n = 0;
    let mut v = pid;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    while n > 0 {
        n -= 1;
        path[len] = digits[n];
        len += 1;
    }
    for &b in b"/stat" {
        path[len] = b;
        len += 1;
    }
    path[len] = 0;
    // SAFETY: `path` is NUL-terminated (written above, well inside 32 bytes).
    let fd = unsafe { libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    let mut buf = [0u8; 512];
    // SAFETY: reads into the live `buf` within its length, then closes the
    // descriptor opened above.
    let got = unsafe {
        let got = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        got
    };
    if got <= 0 {
        return None;
    }
    let buf = &buf[..got as usize];
    let close = buf.iter().rposition(|&b| b == b')')?;
    // ") S ppid "
    let rest = buf.get(close + 2..)?;
    let rest = rest.get(2..)?;
    let end = rest.iter().position(|&b| b == b' ')?;
    parse_pid(&rest[..end])
}
