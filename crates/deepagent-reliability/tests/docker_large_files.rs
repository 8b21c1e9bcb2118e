//! Large files are never pulled whole (issue 11, item 2): `read` of one
//! line of a 1 GiB file and `grep` over a directory holding one keep this
//! process's memory bounded. One test, so nothing else in the binary runs
//! while its peak RSS is measured. Skipped without an engine (see
//! `docker_common`).

mod docker_common;

use std::time::Instant;

use deepagent_core::{Backend, GrepQuery, Sandbox};
use deepagent_docker::{DockerSandbox, RuntimeConfig};
use docker_common::{busybox_image, ready, runtime_name, Sweep};

/// How far the host's peak RSS may rise for either call.
const RSS_BOUND_KIB: u64 = 64 * 1024;

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Runs `f`, returning its output, how far the peak RSS rose above the RSS
/// before it (KiB), and how long it took.
async fn measure<T>(f: impl std::future::Future<Output = T>) -> (T, u64, std::time::Duration) {
    // Writing 5 resets VmHWM to the current RSS.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status_kib("VmRSS:");
    let started = Instant::now();
    let out = f.await;
    let took = started.elapsed();
    let peak = status_kib("VmHWM:");
    (out, peak.saturating_sub(before), took)
}

/// Peak RSS is per process: one measuring test at a time.
static MEASURING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_gib_file_is_never_pulled_whole() {
    if !ready().await {
        return;
    }
    let _one = MEASURING.lock().await;
    let name = runtime_name("large-files");
    let _sweep = Sweep(name.clone());
    let sb =
        DockerSandbox::new(RuntimeConfig::new(&name, busybox_image()).run_as_image_user()).unwrap();
    // 1 GiB (and 4 bytes) of 17-byte lines, then one line grep must find at the end.
    let made = sb
        .execute(
            "mkdir -p /workspace/big && yes 0123456789abcdef | head -n 63161284 > /workspace/big/huge.txt && \
             echo 'needle at the end' >> /workspace/big/huge.txt && echo 'a needle' > /workspace/big/small.txt && \
             wc -c < /workspace/big/huge.txt",
            Some(std::time::Duration::from_secs(300)),
        )
        .await
        .unwrap();
    assert_eq!(made.exit_code, 0, "{}", made.output);
    assert_eq!(made.output.trim(), "1073741846");
    // Warm up: the container's shells and the runtime's first allocations
    // are not what is measured.
    sb.read("/workspace/big/small.txt", 0, 1).await.unwrap();

    let (slice, rss, took) = measure(sb.read("/workspace/big/huge.txt", 0, 1)).await;
    let slice = slice.unwrap();
    eprintln!("read(1 GiB file, 0, 1): {took:.2?}, host peak RSS +{rss} KiB");
    assert_eq!(slice.lines, ["0123456789abcdef"]);
    assert_eq!(slice.total_lines, 63161285);
    assert!(
        rss < RSS_BOUND_KIB,
        "read of one line of a 1 GiB file raised the host's peak RSS by {rss} KiB"
    );

    let (last, rss, took) =
        measure(sb.read("/workspace/big/huge.txt", slice.total_lines - 1, 5)).await;
    eprintln!("read(1 GiB file, last line): {took:.2?}, host peak RSS +{rss} KiB");
    assert_eq!(last.unwrap().lines, ["needle at the end"]);
    assert!(rss < RSS_BOUND_KIB, "+{rss} KiB");

    let (hits, rss, took) =
        measure(sb.grep(&GrepQuery::new("needle").path("/workspace/big"))).await;
    let hits = hits.unwrap();
    eprintln!("grep over a directory with a 1 GiB file: {took:.2?}, host peak RSS +{rss} KiB");
    let found: Vec<(&str, u64)> = hits
        .matches
        .iter()
        .map(|m| (m.path.as_str(), m.line_number))
        .collect();
    assert_eq!(
        found,
        [
            ("/workspace/big/huge.txt", 63161285),
            ("/workspace/big/small.txt", 1)
        ]
    );
    assert!(
        rss < RSS_BOUND_KIB,
        "grep over a 1 GiB file raised the host's peak RSS by {rss} KiB"
    );
    sb.shutdown().await.unwrap();
}

/// A container whose `sh` streams zeros instead of saying it is ready
/// used to have the host buffer all of them until the start timed out
/// (10 s at the stream's rate). Now the shell is dropped after a few KiB,
/// and commands and files still work through plain execs and archives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shell_that_never_answers_costs_the_host_nothing() {
    if !ready().await {
        return;
    }
    let _one = MEASURING.lock().await;
    let name = runtime_name("endless-shell");
    let _sweep = Sweep(name.clone());
    let sb =
        DockerSandbox::new(RuntimeConfig::new(&name, busybox_image()).run_as_image_user()).unwrap();
    // Only the long-lived shells' script says "ready"; every other script
    // goes to the real sh.
    let fake = "#!/bin/sh\ncase \"$2\" in\n  *'echo \"ready '*) exec cat /dev/zero ;;\nesac\nexec /bin/sh \"$@\"\n";
    sb.write("/usr/local/bin/sh", fake.into()).await.unwrap();
    let out = std::process::Command::new("docker")
        .args([
            "exec",
            sb.container_name(),
            "chmod",
            "755",
            "/usr/local/bin/sh",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let (res, rss, took) = measure(async {
        let run = sb.execute("echo hello", None).await?;
        sb.write("/workspace/f.txt", "content\n".into()).await?;
        let back = sb.read_bytes("/workspace/f.txt").await?;
        Ok::<_, deepagent_core::BackendError>((run, back))
    })
    .await;
    eprintln!("a shell streaming zeros: {took:.2?}, host peak RSS +{rss} KiB; {res:?}");
    let (run, back) = res.unwrap();
    assert_eq!((run.exit_code, run.output.as_str()), (0, "hello\n"));
    assert_eq!(back, "content\n");
    assert!(
        rss < RSS_BOUND_KIB,
        "a shell streaming zeros raised the host's peak RSS by {rss} KiB"
    );
    sb.shutdown().await.unwrap();
}
