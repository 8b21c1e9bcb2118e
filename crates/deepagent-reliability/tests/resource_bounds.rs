//! Resource bounds through LocalBackend: a 2 GiB file is refused whole
//! but readable in slices; grep over one 500 MB line; 1 GB of command
//! output. Memory is measured as the peak RSS (`VmHWM`) of a child process
//! (this test binary re-executed with `RESOURCE_SCENARIO` set) that runs
//! just the one operation, minus the same child doing nothing.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use deepagent_core::{Backend, ErrorKind, GrepQuery};
use deepagent_local::LocalBackend;

const SCENARIO_ENV: &str = "RESOURCE_SCENARIO";
const DIR_ENV: &str = "RESOURCE_DIR";
const MIB: u64 = 1 << 20;
/// Extra peak memory an operation may use and still count as bounded.
const BOUND_MIB: u64 = 64;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime")
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The child side: runs one scenario, prints `RESULT <peak KiB> <note>`.
#[test]
fn resource_child() {
    let (Ok(scenario), Ok(dir)) = (std::env::var(SCENARIO_ENV), std::env::var(DIR_ENV)) else {
        return;
    };
    let backend = LocalBackend::builder(&dir)
        .max_read_bytes(64 * MIB)
        .build()
        .unwrap();
    let note = rt().block_on(async {
        match scenario.as_str() {
            "noop" => {
                backend.exists("/nothing").await.unwrap();
                String::new()
            }
            "read_2g" => {
                let err = backend.read_bytes("/huge.log").await.unwrap_err();
                assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
                let msg = err.to_string();
                assert!(
                    msg.contains("/huge.log") && msg.contains("offset and limit"),
                    "{msg}"
                );
                let slice = backend.read("/huge.log", 10, 5).await.unwrap();
                assert_eq!(
                    slice.lines,
                    ["line 11", "line 12", "line 13", "line 14", "line 15"]
                );
                // 100 text lines, then one line of 2 GiB of NULs.
                assert_eq!(slice.total_lines, 101);
                msg
            }
            "grep_500m_nomatch" => {
                let hits = backend.grep(&GrepQuery::new("NEEDLE")).await.unwrap();
                assert!(hits.matches.is_empty());
                "no match".to_owned()
            }
            "grep_500m_match" => {
                // A line over LocalBackend's grep_line_limit (8 MiB) skips its
                // file like a binary file does: bounded memory, documented.
                let hits = backend.grep(&GrepQuery::new("NEEDLE")).await.unwrap();
                assert!(hits.matches.is_empty(), "the 500 MB line's file is skipped");
                "file with a 500 MB line skipped".to_owned()
            }
            "execute_1g" => {
                let sandbox = backend.as_sandbox().expect("execute on");
                let out = sandbox
                    .execute("yes | head -c 1G; echo exit-ok >&2", None)
                    .await
                    .unwrap();
                assert!(out.truncated, "1 GB of output must be capped");
                assert_eq!(out.exit_code, 0);
                assert!(out.output.len() <= deepagent_core::DEFAULT_OUTPUT_LIMIT + 4);
                format!("output kept {} bytes, truncated", out.output.len())
            }
            other => panic!("unknown scenario {other}"),
        }
    });
    println!("\nRESULT {} {note}", vm_hwm_kib());
}

/// Runs a scenario in a child; returns (peak RSS in KiB, note).
fn run_child(scenario: &str, dir: &Path) -> (u64, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "resource_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SCENARIO_ENV, scenario)
        .env(DIR_ENV, dir)
        .output()
        .expect("child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r))
        .unwrap_or_else(|| {
            panic!(
                "{scenario} child failed: {}\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let (kib, note) = line.split_once(' ').unwrap_or((line, ""));
    (kib.parse().unwrap(), note.to_owned())
}

fn measure(scenario: &str, dir: &Path) -> u64 {
    let (base, _) = run_child("noop", dir);
    let (peak, note) = run_child(scenario, dir);
    let extra_mib = peak.saturating_sub(base) / 1024;
    eprintln!(
        "{scenario}: peak RSS {} MiB (baseline {} MiB, +{extra_mib} MiB); {note}",
        peak / 1024,
        base / 1024
    );
    extra_mib
}

#[test]
fn a_2gib_file_is_refused_whole_and_read_in_slices() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = std::fs::File::create(dir.path().join("huge.log")).unwrap();
    for i in 1..=100 {
        writeln!(f, "line {i}").unwrap();
    }
    // Sparse: 2 GiB of size, almost no disk.
    f.set_len(2 << 30).unwrap();
    drop(f);
    let extra = measure("read_2g", dir.path());
    assert!(
        extra < BOUND_MIB,
        "reading slices of a 2 GiB file took +{extra} MiB"
    );
}

fn one_line_file(dir: &Path, size: u64, tail: &[u8]) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("one-line.txt")).unwrap());
    let chunk = vec![b'x'; MIB as usize];
    for _ in 0..size / MIB {
        f.write_all(&chunk).unwrap();
    }
    f.write_all(tail).unwrap();
    f.write_all(b"\n").unwrap();
}

#[test]
fn grep_over_one_500mb_line_without_a_match_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    one_line_file(dir.path(), 500 * MIB, b"");
    let extra = measure("grep_500m_nomatch", dir.path());
    assert!(extra < BOUND_MIB, "grep held the 500 MB line: +{extra} MiB");
}

#[test]
fn grep_over_one_500mb_line_with_a_match_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    one_line_file(dir.path(), 500 * MIB, b"NEEDLE");
    let extra = measure("grep_500m_match", dir.path());
    assert!(extra < BOUND_MIB, "grep held the 500 MB line: +{extra} MiB");
}

#[test]
fn execute_with_1gb_of_output_is_capped_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let extra = measure("execute_1g", dir.path());
    assert!(extra < BOUND_MIB, "1 GB of output took +{extra} MiB");
}
