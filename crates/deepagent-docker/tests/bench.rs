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
