//! `execute`: exit codes, interleaving, the cap, timeouts that kill the
//! whole process group, background jobs, and the switch that turns it off.

use std::time::{Duration, Instant};

use deepagent_core::{Backend, ErrorKind, Sandbox};
use deepagent_local::LocalBackend;

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
        .block_on(f)
}

fn backend() -> (tempfile::TempDir, LocalBackend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = LocalBackend::new(dir.path()).expect("backend");
    (dir, b)
}

fn exec(b: &LocalBackend, cmd: &str, timeout: Option<Duration>) -> deepagent_core::ExecuteResponse {
    run(b.execute(cmd, timeout)).unwrap_or_else(|e| panic!("execute {cmd:?}: {e}"))
}

/// True while a process with this pid exists (zombies included).
fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

#[test]
fn exit_codes() {
    let (_d, b) = backend();
    assert_eq!(exec(&b, "true", None).exit_code, 0);
    assert_eq!(exec(&b, "exit 3", None).exit_code, 3);
    let killed = exec(&b, "kill -9 $$", None);
    assert_eq!(killed.exit_code, 128 + 9);
    assert!(!killed.timed_out);
    assert_eq!(exec(&b, "no-such-command-here", None).exit_code, 127);
}

#[test]
fn stdout_and_stderr_interleave_in_order() {
    let (_d, b) = backend();
    let res = exec(
        &b,
        "echo one; echo two >&2; echo three; echo four >&2",
        None,
    );
    assert_eq!(res.output, "one\ntwo\nthree\nfour\n");
    assert!(!res.truncated);
}

#[test]
fn runs_in_the_root() {
    let (_d, b) = backend();
    let res = exec(&b, "pwd -P; echo hi > made.txt", None);
    assert_eq!(res.output.trim_end(), b.root().to_str().unwrap());
    assert_eq!(&run(b.read_bytes("/made.txt")).unwrap()[..], b"hi\n");
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let (_d, b) = backend();
    let res = exec(
        &b,
        "sleep 60 & echo $! > child.pid; echo started; wait",
        Some(Duration::from_millis(500)),
    );
    assert!(res.timed_out);
    assert_eq!(res.exit_code, 124);
    assert!(res.output.starts_with("started\n"), "{:?}", res.output);
    assert!(res.output.contains("timed out"), "{:?}", res.output);
    let pid: i32 = String::from_utf8(run(b.read_bytes("/child.pid")).unwrap().to_vec())
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The killed child may linger as a zombie until init reaps it.
    let until = Instant::now() + Duration::from_secs(10);
    while alive(pid) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !alive(pid),
        "the background sleep {pid} survived the timeout"
    );
}

#[test]
fn a_background_job_holding_the_output_does_not_hang() {
    let (_d, b) = backend();
    let res = exec(
        &b,
        "sleep 100 & echo $! > bg.pid; echo done",
        Some(Duration::from_secs(60)),
    );
    assert!(!res.timed_out, "waited for the background job");
    assert_eq!(res.exit_code, 0);
    assert_eq!(res.output, "done\n");
}

#[test]
fn a_background_job_with_its_own_output_keeps_running() {
    let (_d, b) = backend();
    let res = exec(
        &b,
        "sleep 30 > /dev/null 2>&1 & echo $! > bg.pid",
        Some(Duration::from_secs(30)),
    );
    assert_eq!(res.exit_code, 0);
    let pid: i32 = String::from_utf8(run(b.read_bytes("/bg.pid")).unwrap().to_vec())
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid));
    // SAFETY: cleaning up the process this test started.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

#[test]
fn huge_output_is_capped() {
    let (_d, b) = backend();
    let res = exec(
        &b,
        "head -c 10000000 /dev/zero | tr '\\0' a; echo end >&2",
        None,
    );
    assert_eq!(res.exit_code, 0);
    assert!(res.truncated);
    assert_eq!(res.output.len(), deepagent_core::DEFAULT_OUTPUT_LIMIT);
    assert!(res.output.bytes().all(|c| c == b'a'));

    let dir = tempfile::tempdir().unwrap();
    let small = LocalBackend::builder(dir.path())
        .output_limit(5)
        .build()
        .unwrap();
    let res = exec(&small, "echo 12345", None);
    assert_eq!((res.output.as_str(), res.truncated), ("12345", true));
    let res = exec(&small, "printf 1234", None);
    assert_eq!((res.output.as_str(), res.truncated), ("1234", false));
}

#[test]
fn default_timeout_applies() {
    let dir = tempfile::tempdir().unwrap();
    let b = LocalBackend::builder(dir.path())
        .default_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let res = exec(&b, "sleep 30", None);
    assert!(res.timed_out);
    assert_eq!(res.exit_code, 124);
}

#[test]
fn disabled_execute_is_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let b = LocalBackend::builder(dir.path())
        .enable_execute(false)
        .build()
        .unwrap();
    assert!(b.as_sandbox().is_none());
    let e = run(b.execute("touch x", None)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(!dir.path().join("x").exists());
    let (_d, enabled) = backend();
    assert!(enabled.as_sandbox().is_some());
}
