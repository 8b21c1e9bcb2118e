//! `cargo xtask <command>`: project automation that needs more than cargo.
//!
//! - `test-docker`: build the local test images and run the Docker-gated tests
//!   (over the local engine, a TLS engine and sshd it starts on 127.0.0.1);
//! - `test-s3`: start moto's S3 server on 127.0.0.1 and run the object-store
//!   tests (and, with `--bench`, the S3 measurements) against it;
//! - `bench`: side-by-side benchmarks against the Python original and ripgrep;
//! - `fuzz`: run the fuzz targets for a bounded time;
//! - `msrv-check`: fail when a locked dependency needs a newer Rust than
//!   the workspace's `rust-version` says.

use std::process::ExitCode;

mod bench;
mod docker;
mod fuzz;
mod msrv;
mod remote;
mod s3;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test-docker") => docker::test_docker(&args[1..]),
        Some("test-s3") => s3::test_s3(&args[1..]),
        Some("bench") => bench::bench(&args[1..]),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        Some("msrv-check") => msrv::msrv_check(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <test-docker|test-s3|bench|fuzz|msrv-check> [args]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Errors in xtask are messages for a human at a terminal.
pub type Result<T = ()> = std::result::Result<T, String>;
