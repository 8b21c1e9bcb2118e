//! 8 processes × 25 edits of one S3 object, none lost.
//!
//! A test binary without the libtest harness, so that it can re-run itself
//! as the worker processes: with `DEEPAGENT_S3_STORM_WORKER=N` set it is
//! worker N (25 edits, then prints how many conflicts it retried); without
//! it, it starts 8 workers at once, waits for them and checks that every
//! one of the 200 edits is in the object exactly once.
//!
//! Built with `--features s3-tests` by `cargo xtask test-s3`; without the
//! feature (plain `cargo test`) it says so and exits 0, and fails if
//! `DEEPAGENT_TEST_S3_URL` asks for S3 anyway.

use std::process::ExitCode;

fn main() -> ExitCode {
    // libtest's arguments (`--nocapture`, filters, `--list`) are accepted
    // and ignored, except that listing must not run anything.
    if std::env::args().any(|a| a == "--list") {
        println!("eight_processes_edit_one_object: test");
        return ExitCode::SUCCESS;
    }
    #[cfg(feature = "s3-tests")]
    {
        storm::main()
    }
    #[cfg(not(feature = "s3-tests"))]
    {
        if std::env::var("DEEPAGENT_TEST_S3_URL").is_ok() {
            eprintln!("DEEPAGENT_TEST_S3_URL is set but the edit storm was built without --features s3-tests");
            return ExitCode::FAILURE;
        }
        println!("s3_edit_storm: not built (needs --features s3-tests; run `cargo xtask test-s3`)");
        ExitCode::SUCCESS
    }
}

#[cfg(feature = "s3-tests")]
mod storm {
    use std::process::{Command, ExitCode, Stdio};
    use std::time::{Instant, SystemTime, UNIX_EPOCH};

    use deepagent_core::Backend;
    use deepagent_object_store::ObjectStoreBackend;

    const PROCESSES: usize = 8;
    const EDITS: usize = 25;

    const WORKER: &str = "DEEPAGENT_S3_STORM_WORKER";
    const URL: &str = "DEEPAGENT_S3_STORM_URL";
    const PATH: &str = "/storm.txt";

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    }

    pub fn main() -> ExitCode {
        match std::env::var(WORKER) {
            Ok(n) => worker(&n),
            Err(_) => parent(),
        }
    }

    fn worker(n: &str) -> ExitCode {
        let url = std::env::var(URL).expect("the parent sets the storm URL");
        let backend = match ObjectStoreBackend::from_url(&url) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("worker {n}: {e}");
                return ExitCode::FAILURE;
            }
        };
        runtime().block_on(async {
            for i in 0..EDITS {
                let token = format!("p{n}-{i};END");
                if let Err(e) = backend
                    .edit(PATH, "END", &token, deepagent_core::Replace::Once)
                    .await
                {
                    eprintln!("worker {n}: edit {i} failed: {e}");
                    return ExitCode::FAILURE;
                }
            }
            println!("conflicts={}", backend.edit_conflicts());
            ExitCode::SUCCESS
        })
    }

    fn parent() -> ExitCode {
        let Ok(base) = std::env::var("DEEPAGENT_TEST_S3_URL") else {
            eprintln!("DEEPAGENT_TEST_S3_URL is not set: run with `cargo xtask test-s3`, which starts an S3 server");
            return ExitCode::FAILURE;
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let url = format!("{}/storm/{nanos}", base.trim_end_matches('/'));
        let backend = ObjectStoreBackend::from_url(&url).expect("storm backend");
        let rt = runtime();
        if let Err(e) = rt.block_on(backend.write(PATH, "END".into())) {
            eprintln!("seeding {url}{PATH}: {e}");
            return ExitCode::FAILURE;
        }
        let exe = std::env::current_exe().expect("own path");
        let started = Instant::now();
        let children: Vec<_> = (0..PROCESSES)
            .map(|n| {
                Command::new(&exe)
                    .env(WORKER, n.to_string())
                    .env(URL, &url)
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("start a worker process")
            })
            .collect();
        let mut conflicts = 0u64;
        let mut failed = 0;
        for child in children {
            let out = child.wait_with_output().expect("worker output");
            if !out.status.success() {
                failed += 1;
            }
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                if let Some(n) = line.strip_prefix("conflicts=") {
                    conflicts += n.trim().parse::<u64>().unwrap_or(0);
                }
            }
        }
        let elapsed = started.elapsed();
        let text = match rt.block_on(backend.read_bytes(PATH)) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                eprintln!("reading the result: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut lost = 0;
        let mut duplicated = 0;
        for n in 0..PROCESSES {
            for i in 0..EDITS {
                match text.matches(&format!("p{n}-{i};")).count() {
                    0 => lost += 1,
                    1 => {}
                    _ => duplicated += 1,
                }
            }
        }
        println!(
            "eight_processes_edit_one_object: {PROCESSES} processes x {EDITS} edits in {:.1}s: {lost} lost, {duplicated} duplicated, {conflicts} conflicts retried, {failed} workers failed",
            elapsed.as_secs_f64()
        );
        if lost == 0 && duplicated == 0 && failed == 0 && text.ends_with("END") {
            println!("test result: ok. 1 passed");
            ExitCode::SUCCESS
        } else {
            println!("test result: FAILED. {text}");
            ExitCode::FAILURE
        }
    }
}
