//! `cargo xtask bench [--quick] [--runs N] [WORKLOAD...]`: our backends side
//! by side with the Python original (pydantic-ai-backend 0.2.20), ripgrep
//! and the Docker CLI, on this machine, in one run.
//!
//! It prepares what it needs (a venv under `target/bench/venv`, `rg`, the
//! release-built `deepagent-bench` runner, deterministic data under
//! `target/bench/data`), then runs every variant of a workload in its own
//! process, rotating the order each round so no side always goes first,
//! and prints medians and ratios (also written to `target/bench/report.md`).
//! Workloads: state-grep, local-grep, glob, read, composite, edit, docker,
//! memory (see `bench/plan.rs`). `--scale` runs the scaling curves instead
//! (see `bench/scale.rs`).

mod plan;
mod report;
mod scale;
mod setup;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use plan::{Side, Workload};
use report::{Outcome, Samples};

use crate::Result;

struct Options {
    quick: bool,
    /// `--scale`: the scaling curves instead of the side-by-side table.
    scale: Option<Vec<usize>>,
    runs: usize,
    workloads: Vec<&'static Workload>,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut quick = false;
    let mut scale = None;
    let mut runs = None;
    let mut workloads = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--scale" => scale = Some(scale::DEFAULT_SIZES.to_vec()),
            "--sizes" => {
                let list = it.next().ok_or("--sizes needs a list like 1000,10000")?;
                let sizes = list
                    .split(',')
                    .map(|n| n.trim().parse::<usize>())
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|_| format!("--sizes: not a list of numbers: {list}"))?;
                scale = Some(sizes);
            }
            "--runs" => {
                let n = it.next().ok_or("--runs needs a number")?;
                runs = Some(
                    n.parse()
                        .map_err(|_| format!("--runs: not a number: {n}"))?,
                );
            }
            "-h" | "--help" => return Err(usage()),
            name => workloads.push(
                plan::find(name)
                    .ok_or_else(|| format!("unknown workload `{name}`\n{}", usage()))?,
            ),
        }
    }
    if workloads.is_empty() {
        workloads = plan::WORKLOADS.iter().collect();
    }
    Ok(Options {
        quick,
        scale,
        runs: runs.unwrap_or(default_runs(quick)),
        workloads,
    })
}

fn usage() -> String {
    let names: Vec<&str> = plan::WORKLOADS.iter().map(|w| w.name).collect();
    format!(
        "usage: cargo xtask bench [--quick] [--runs N] [WORKLOAD...]\n       \
         cargo xtask bench --scale [--sizes 1000,10000,...]\nworkloads: {}",
        names.join(" ")
    )
}

/// Entry point of `cargo xtask bench`.
pub fn bench(args: &[String]) -> Result {
    let opts = parse(args)?;
    let root = workspace_root();
    if let Some(sizes) = &opts.scale {
        setup::ripgrep()?;
        let runner = setup::build_runner(&root, false)?;
        return scale::run(&root, &runner, sizes);
    }
    let bench_dir = root.join("target/bench");
    std::fs::create_dir_all(&bench_dir).map_err(|e| format!("{}: {e}", bench_dir.display()))?;
    let data = bench_dir.join(if opts.quick { "data-quick" } else { "data" });
    let script = root.join("xtask/bench/python/bench.py");

    let wants_docker = opts.workloads.iter().any(|w| w.name == "docker");
    let docker = if !wants_docker {
        Err(String::new())
    } else if !setup::docker_engine() {
        Err("skipped: no Docker engine".to_owned())
    } else {
        setup::docker_image()
    };
    let python = setup::venv(&bench_dir)?;
    setup::ripgrep()?;
    let runner = setup::build_runner(&root, docker.is_ok())?;

    let mut gen = Command::new(&runner);
    gen.arg("gen").arg("--data").arg(&data);
    if opts.quick {
        gen.arg("--quick");
    }
    gen.args(opts.workloads.iter().map(|w| w.name));
    setup::run(&mut gen)?;
    clear_scratch(&data, true)?;

    let mut results = Vec::new();
    for w in &opts.workloads {
        if w.name == "docker" {
            match &docker {
                Ok(image) => std::env::set_var(setup::IMAGE_VAR, image),
                Err(why) => {
                    eprintln!("bench: docker: {why}");
                    results.push((*w, Outcome::Skipped(why.clone())));
                    continue;
                }
            }
        }
        let outcome = run_workload(w, &opts, &runner, &python, &script, &data)?;
        results.push((*w, outcome));
    }

    clear_scratch(&data, false)?;
    let header = header(&opts);
    let text = report::render(&results, &header);
    println!("\n{text}");
    let path = bench_dir.join("report.md");
    std::fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("bench: report written to {}", path.display());
    Ok(())
}

/// Removes the scratch files the variants wrote under `DATA/work`.
///
/// Variants never delete their own: on ext4 without a journal (this
/// machine's disk) a new inode is not taken from those freed in the last
/// ~30 s, and the allocator steps over each of them, so after one variant
/// deleted 5,000 files the next one's file creation was measured 15x
/// slower (3.76 s vs 0.23 s for the same work). So scratch is cleared only
/// before the first round, then waited out, and after the last.
fn clear_scratch(data: &Path, before_rounds: bool) -> Result {
    let work = data.join("work");
    if !work.exists() {
        return Ok(());
    }
    std::fs::remove_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    if before_rounds {
        eprintln!("bench: cleared old scratch files; waiting 35 s for the disk to settle");
        std::thread::sleep(std::time::Duration::from_secs(35));
    }
    Ok(())
}

fn run_workload(
    w: &'static Workload,
    opts: &Options,
    runner: &Path,
    python: &Path,
    script: &Path,
    data: &Path,
) -> Result<Outcome> {
    let mut samples: BTreeMap<&'static str, Samples> = BTreeMap::new();
    let n = w.variants.len();
    for round in 0..opts.runs {
        // Rotate the order each round: alternation, and no side always first.
        for k in 0..n {
            let v = &w.variants[(round + k) % n];
            let mut cmd = match v.side {
                Side::Rust => {
                    let mut c = Command::new(runner);
                    c.arg("run");
                    c
                }
                Side::Python => {
                    let mut c = Command::new(python);
                    c.arg(script);
                    c
                }
            };
            cmd.arg("--data").arg(data);
            if opts.quick && v.side == Side::Rust {
                cmd.arg("--quick");
            }
            cmd.args([w.name, v.name]).stderr(Stdio::inherit());
            let out = cmd
                .output()
                .map_err(|e| format!("cannot run {}/{}: {e}", w.name, v.name))?;
            let s = samples.entry(v.name).or_default();
            // One failed round (an engine restarting, a full disk) is noted in
            // the report and the others still count.
            if !out.status.success() {
                eprintln!(
                    "bench: {}/{} round {} failed ({})",
                    w.name,
                    v.name,
                    round + 1,
                    out.status
                );
                s.failures += 1;
                continue;
            }
            let line = String::from_utf8_lossy(&out.stdout);
            let json: serde_json::Value = serde_json::from_str(line.trim())
                .map_err(|e| format!("{}/{}: bad output {line:?}: {e}", w.name, v.name))?;
            if let Some(x) = json["secs"].as_f64() {
                s.secs.push(x);
            }
            if let Some(x) = json["peak_rss_delta"].as_f64() {
                s.rss.push(x);
            }
            if let Some(x) = json["count"].as_u64() {
                s.counts.push(x);
            }
            eprintln!(
                "bench: {} round {}/{} {:<24} {}",
                w.name,
                round + 1,
                opts.runs,
                v.name,
                line.trim()
            );
        }
    }
    Ok(Outcome::Ran(samples))
}

fn header(opts: &Options) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?.to_owned();
            let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.1} GiB", kib / (1024.0 * 1024.0)))
        })
        .unwrap_or_else(|| "unknown".into());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            let line = c.lines().find(|l| l.starts_with("model name"))?.to_owned();
            Some(line.split_once(':')?.1.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let rg = Command::new("rg")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_default();
    format!(
        "## Benchmarks ({size})\n\nMachine: {cores} cores ({cpu}), {mem} RAM, Linux. \
         Medians of {runs} alternating rounds, each variant in its own process; \
         theirs = pydantic-ai-backend {py} (Python {pyv}), {rg}. Lower ratio is better.\n\n\
         Reproduce: `cargo xtask bench{quick}`\n",
        size = if opts.quick {
            "--quick sizes"
        } else {
            "full sizes"
        },
        runs = opts.runs,
        py = "0.2.20",
        pyv = python_version(),
        quick = reproduce_args(opts),
    )
}

/// The arguments that repeat this run, after `cargo xtask bench`.
fn reproduce_args(opts: &Options) -> String {
    let mut out = String::new();
    if opts.quick {
        out.push_str(" --quick");
    }
    if opts.runs != default_runs(opts.quick) {
        out.push_str(&format!(" --runs {}", opts.runs));
    }
    if opts.workloads.len() != plan::WORKLOADS.len() {
        for w in &opts.workloads {
            out.push(' ');
            out.push_str(w.name);
        }
    }
    out
}

fn default_runs(quick: bool) -> usize {
    if quick {
        3
    } else {
        5
    }
}

fn python_version() -> String {
    Command::new("python3")
        .arg("--version")
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .trim_start_matches("Python ")
                .to_owned()
        })
        .unwrap_or_default()
}

fn workspace_root() -> PathBuf {
    // xtask lives one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
