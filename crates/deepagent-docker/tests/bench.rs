//! Timings for the note in issue 3, printed, never asserted:
//! `cargo test -p deepagent-docker --test bench -- --ignored --nocapture`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use deepagent_core::{Backend, Sandbox};
use deepagent_docker::{DockerSandbox, RuntimeConfig};

const EXEC_ROUNDS: u32 = 30;
const FILES: usize = 1000;

fn cli(args: &[&str]) -> Duration {
    let start = Instant::now();
    let status = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI runs");
    assert!(
        status.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    start.elapsed()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: prints timings"]
async fn bench_exec_cold_start_and_files() {
    let image = common::busybox_image();
    if !common::ready(&image).await {
        return;
    }
    // Cold start: first use (create + start + first exec) against
    // `docker run --rm image true`, alternating to share any drift.
    let mut ours = Duration::ZERO;
    let mut theirs = Duration::ZERO;
    for _ in 0..3 {
        let sandbox = DockerSandbox::new(RuntimeConfig::new("bench", &image)).expect("runtime");
        let _cleanup = common::Cleanup(sandbox.container_name().to_owned());
        let start = Instant::now();
        let res = sandbox.execute("true", None).await.expect("execute");
        ours += start.elapsed();
        assert_eq!(res.exit_code, 0);
        sandbox.shutdown().await.expect("shutdown");
        theirs += cli(&["run", "--rm", "--network", "none", &image, "true"]);
    }
    println!(
        "cold start: first execute {:.1} ms vs docker run --rm {:.1} ms (ratio {:.2})",
        ms(ours / 3),
        ms(theirs / 3),
        ours.as_secs_f64() / theirs.as_secs_f64()
    );

    let sandbox = DockerSandbox::new(RuntimeConfig::new("bench", &image)).expect("runtime");
    let _cleanup = common::Cleanup(sandbox.container_name().to_owned());
    sandbox.start().await.expect("start");
    let mut ours = Duration::ZERO;
    let mut theirs = Duration::ZERO;
    for _ in 0..EXEC_ROUNDS {
        let start = Instant::now();
        sandbox.execute("true", None).await.expect("execute");
        ours += start.elapsed();
        theirs += cli(&["exec", sandbox.container_name(), "true"]);
    }
    println!(
        "exec round trip: execute(\"true\") {:.1} ms vs docker exec {:.1} ms (ratio {:.2})",
        ms(ours / EXEC_ROUNDS),
        ms(theirs / EXEC_ROUNDS),
        ours.as_secs_f64() / theirs.as_secs_f64()
    );

    let start = Instant::now();
    for i in 0..FILES {
        sandbox
            .write(&format!("/bench/f{i}.txt"), format!("file {i}\n").into())
            .await
            .expect("write");
    }
    let wrote = start.elapsed();
    let start = Instant::now();
    for i in 0..FILES {
        let got = sandbox
            .read_bytes(&format!("/bench/f{i}.txt"))
            .await
            .expect("read");
        assert_eq!(got, format!("file {i}\n").as_bytes());
    }
    let read = start.elapsed();
    let start = Instant::now();
    for i in 0..FILES {
        assert!(sandbox
            .exists(&format!("/bench/f{i}.txt"))
            .await
            .expect("exists"));
    }
    let looked = start.elapsed();
    println!(
        "{FILES} exists lookups: {:.0} ms ({:.2} ms each)",
        ms(looked),
        ms(looked) / FILES as f64
    );
    println!(
        "{FILES} small files: write {:.0} ms ({:.2} ms each), read back {:.0} ms ({:.2} ms each)",
        ms(wrote),
        ms(wrote) / FILES as f64,
        ms(read),
        ms(read) / FILES as f64
    );
    let start = Instant::now();
    let found = sandbox
        .glob(
            &deepagent_core::GlobQuery::new("*.txt")
                .path("/bench")
                .max_count(5000),
        )
        .await
        .expect("glob");
    println!(
        "glob over {} files: {:.1} ms",
        found.files.len(),
        ms(start.elapsed())
    );
    let start = Instant::now();
    let hits = sandbox
        .grep(&deepagent_core::GrepQuery::new("file 99\\d").path("/bench"))
        .await
        .expect("grep");
    println!(
        "grep over {FILES} files: {} hits, {:.1} ms",
        hits.matches.len(),
        ms(start.elapsed())
    );
    sandbox.shutdown().await.expect("shutdown");
}

/// Where the shell path (content as a base64 line on an open shell) stops
/// beating the archive API, per content size: the measurement behind
/// `SHELL_WRITE_MAX` and `SHELL_READ_MAX`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: prints timings"]
async fn bench_shell_vs_archive_by_size() {
    const ROUNDS: u32 = 5;
    const BIG: usize = 64 * 1024 * 1024;
    let image = common::busybox_image();
    if !common::ready(&image).await {
        return;
    }
    let shell = DockerSandbox::builder(RuntimeConfig::new("bench", &image))
        .shell_file_limits(BIG, BIG)
        .build()
        .expect("runtime");
    let _c1 = common::Cleanup(shell.container_name().to_owned());
    let archive = DockerSandbox::builder(RuntimeConfig::new("bench", &image))
        .shell_file_limits(0, 0)
        .build()
        .expect("runtime");
    let _c2 = common::Cleanup(archive.container_name().to_owned());
    // Warm both up (container start, first shell).
    for sb in [&shell, &archive] {
        sb.write("/warm", "x".into()).await.expect("write");
        sb.read_bytes("/warm").await.expect("read");
    }
    for kib in [1usize, 16, 64, 256, 1024, 2048, 3072, 4096, 8192, 16384] {
        let content: Vec<u8> = (0..kib * 1024).map(|i| (i * 7 % 256) as u8).collect();
        let mut row = Vec::new();
        for sb in [&shell, &archive] {
            let start = Instant::now();
            for i in 0..ROUNDS {
                sb.write(&format!("/size/f{i}"), content.clone().into())
                    .await
                    .expect("write");
            }
            let wrote = start.elapsed() / ROUNDS;
            let start = Instant::now();
            for i in 0..ROUNDS {
                let got = sb.read_bytes(&format!("/size/f{i}")).await.expect("read");
                assert_eq!(got.len(), content.len());
            }
            let read = start.elapsed() / ROUNDS;
            row.push((ms(wrote), ms(read)));
        }
        println!(
            "{kib:>5} KiB: write shell {:>8.1} ms archive {:>7.1} ms | read shell {:>7.1} ms archive {:>7.1} ms",
            row[0].0, row[1].0, row[0].1, row[1].1
        );
    }
    shell.shutdown().await.expect("shutdown");
    archive.shutdown().await.expect("shutdown");
}

/// The README row for issue 13: 1,000 small files into a sandbox with one
/// `upload` (one tar, one request) against one `write` per file.
/// `cargo test -p deepagent-docker --test bench -- --ignored --nocapture bench_upload`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: prints timings"]
async fn bench_upload_vs_writes() {
    let Some((sandbox, _cleanup)) = common::busybox().await else {
        return;
    };
    let files: Vec<(String, deepagent_core::Bytes)> = (0..FILES)
        .map(|i| {
            (
                format!("/bench/up/d{}/f{i}.txt", i % 10),
                format!("small file {i}\n").into(),
            )
        })
        .collect();
    // Warm the container and the shell path first.
    sandbox
        .write("/bench/warm.txt", "w".into())
        .await
        .expect("warm");
    let start = Instant::now();
    for (path, content) in &files {
        let path = path.replace("/up/", "/writes/");
        sandbox.write(&path, content.clone()).await.expect("write");
    }
    let writes = start.elapsed();
    let start = Instant::now();
    let written = sandbox.upload(files).await.expect("upload");
    let upload = start.elapsed();
    assert_eq!(written.len(), FILES);
    let check = sandbox
        .read_bytes("/bench/up/d7/f997.txt")
        .await
        .expect("uploaded file reads back");
    assert_eq!(&check[..], b"small file 997\n");
    println!(
        "{FILES} small files: per-file write {:.0} ms, one upload {:.0} ms ({:.1}x faster)",
        ms(writes),
        ms(upload),
        writes.as_secs_f64() / upload.as_secs_f64()
    );
}
