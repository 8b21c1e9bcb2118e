//! Conformance cases: `execute`, for every backend that is a
//! [`Sandbox`]. A backend that is not declares `lacks [execute]` in
//! [`conformance_tests!`](crate::conformance_tests), and these cases are
//! generated as ignored tests.

use std::time::Duration;

use deepagent_core::{ExecuteResponse, Sandbox, DEFAULT_OUTPUT_LIMIT};

use super::*;

/// The sandbox; a backend that is none fails the case (it should have
/// declared `lacks [execute]`).
fn sandbox(b: &B) -> &dyn Sandbox {
    capability::require(b, "execute");
    match b.as_sandbox() {
        Some(sb) => sb,
        None => panic!(
            "[{}] its info says it can execute, but as_sandbox() is None",
            b.name()
        ),
    }
}

async fn run(b: &B, sb: &dyn Sandbox, command: &str, timeout: Option<Duration>) -> ExecuteResponse {
    ok(
        b,
        &format!("execute {command:?}"),
        sb.execute(command, timeout).await,
    )
}

/// The command's exit code comes back, zero or not, with its output.
pub async fn execute_exit_codes(b: B) {
    let sb = sandbox(&b);
    let r = run(&b, sb, "echo hi", None).await;
    assert_eq!(
        (r.exit_code, r.output.as_str()),
        (0, "hi\n"),
        "[{}]",
        b.name()
    );
    assert!(!r.timed_out && !r.truncated);
    let r = run(&b, sb, "echo failing; exit 3", None).await;
    assert_eq!(r.exit_code, 3, "[{}] {r:?}", b.name());
    assert_eq!(r.output, "failing\n");
    let r = run(&b, sb, "no-such-command-deepagent", None).await;
    assert_eq!(r.exit_code, 127, "[{}] {r:?}", b.name());
}

/// A command past its timeout is killed: exit code 124 and `timed_out`,
/// well before it would have ended.
pub async fn execute_timeout_is_124(b: B) {
    let sb = sandbox(&b);
    let start = std::time::Instant::now();
    let r = run(
        &b,
        sb,
        "echo started; sleep 30",
        Some(Duration::from_secs(1)),
    )
    .await;
    assert_eq!(
        r.exit_code,
        ExecuteResponse::TIMEOUT_EXIT_CODE,
        "[{}] {r:?}",
        b.name()
    );
    assert!(r.timed_out, "[{}] {r:?}", b.name());
    assert!(r.output.starts_with("started\n"), "[{}] {r:?}", b.name());
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "[{}] the command was not killed at its timeout",
        b.name()
    );
}

/// Output past the cap is dropped and `truncated` says so.
pub async fn execute_output_is_capped(b: B) {
    let sb = sandbox(&b);
    let limit = b
        .info()
        .limits
        .max_output_bytes
        .unwrap_or(DEFAULT_OUTPUT_LIMIT);
    let command = format!("head -c {} /dev/zero | tr '\\0' a", limit * 2);
    let r = run(&b, sb, &command, None).await;
    assert_eq!(r.exit_code, 0, "[{}] {r:?}", b.name());
    assert!(
        r.truncated,
        "[{}] output of {} bytes not truncated",
        b.name(),
        r.output.len()
    );
    assert!(
        r.output.len() < limit + 1024,
        "[{}] {} bytes kept, cap {limit}",
        b.name(),
        r.output.len()
    );
}

/// stdout and stderr arrive interleaved, in the order they were written.
pub async fn execute_interleaves_stderr(b: B) {
    let sb = sandbox(&b);
    let r = run(&b, sb, "echo one; echo two >&2; echo three", None).await;
    assert_eq!(r.output, "one\ntwo\nthree\n", "[{}]", b.name());
}

/// Commands run where the backend's `/` is: a file written at `/x` is
/// `x` to a command.
pub async fn execute_working_directory(b: B) {
    let sb = sandbox(&b);
    put(&b, "/wd-probe.txt", "here\n").await;
    let r = run(&b, sb, "cat wd-probe.txt", None).await;
    assert_eq!(
        (r.exit_code, r.output.as_str()),
        (0, "here\n"),
        "[{}] {r:?}",
        b.name()
    );
    let r = run(&b, sb, "echo made > wd-made.txt", None).await;
    assert_eq!(r.exit_code, 0);
    assert_eq!(&get(&b, "/wd-made.txt").await[..], b"made\n");
}
