//! `cargo xtask fuzz [--seconds N] [--target NAME]`: runs a cargo-fuzz
//! target (default `path_normalizer`, the `VPath` normalizer) for a bounded
//! time, installing cargo-fuzz first when it is missing.
//!
//! cargo-fuzz needs nightly compiler flags (`-Zsanitizer`, coverage
//! instrumentation). Only the stable toolchain is installed here, so the
//! run sets `RUSTC_BOOTSTRAP=1`, which lets stable rustc accept them; with
//! a nightly toolchain (`cargo +nightly`) that variable is harmless. The
//! fuzz crate lives in `fuzz/` with a workspace of its own, so the main
//! workspace never builds it. A crash leaves its input in
//! `fuzz/artifacts/<target>/` and makes this command fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Result;

struct Options {
    seconds: u64,
    target: String,
}

fn usage() -> String {
    "usage: cargo xtask fuzz [--seconds N (default 60)] [--target NAME (default path_normalizer)]"
        .to_owned()
}

fn parse(args: &[String]) -> Result<Options> {
    let mut opts = Options {
        seconds: 60,
        target: "path_normalizer".to_owned(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => {
                let v = it.next().ok_or_else(usage)?;
                opts.seconds = v
                    .parse()
                    .map_err(|_| format!("--seconds wants a whole number, got {v:?}"))?;
            }
            "--target" => opts.target = it.next().ok_or_else(usage)?.clone(),
            "-h" | "--help" => return Err(usage()),
            other => return Err(format!("unknown argument {other:?}\n{}", usage())),
        }
    }
    Ok(opts)
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("fuzz")
}

/// Installs cargo-fuzz unless `cargo fuzz --version` already works.
fn ensure_cargo_fuzz() -> Result {
    let present = Command::new(cargo())
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if present {
        return Ok(());
    }
    eprintln!("xtask: cargo-fuzz not found; installing it (cargo install cargo-fuzz --locked)");
    let status = Command::new(cargo())
        .args(["install", "cargo-fuzz", "--locked"])
        .status()
        .map_err(|e| format!("cannot run cargo install: {e}"))?;
    if !status.success() {
        return Err(format!(
            "cargo install cargo-fuzz failed ({status}); install it by hand and retry"
        ));
    }
    Ok(())
}

/// Builds and runs the target for `--seconds`.
pub fn fuzz(args: &[String]) -> Result {
    let opts = parse(args)?;
    ensure_cargo_fuzz()?;
    let dir = fuzz_dir();
    // A corpus directory of our own keeps inputs found between runs.
    let corpus = dir.join("corpus").join(&opts.target);
    std::fs::create_dir_all(&corpus)
        .map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
    eprintln!(
        "xtask: fuzzing {} for {} s (RUSTC_BOOTSTRAP=1 on the installed toolchain)",
        opts.target, opts.seconds
    );
    let status = Command::new(cargo())
        .current_dir(&dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", "run", &opts.target])
        .arg(&corpus)
        .arg("--")
        .arg(format!("-max_total_time={}", opts.seconds))
        .status()
        .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
    if !status.success() {
        return Err(format!(
            "fuzz target {} failed ({status}); the crashing input is in {}",
            opts.target,
            dir.join("artifacts").join(&opts.target).display()
        ));
    }
    eprintln!(
        "xtask: {} ran {} s without a crash",
        opts.target, opts.seconds
    );
    Ok(())
}
