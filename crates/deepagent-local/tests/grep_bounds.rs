//! grep stays bounded on huge lines: a line longer than the configured
//! limit skips its file (other files are still searched), and a reported
//! line is cut to `GREP_LINE_CHARS` characters.

use std::fs;
use std::io::Write;
use std::path::Path;

use deepagent_core::{Backend, GrepQuery};
use deepagent_local::{LocalBackend, GREP_LINE_CHARS};

const MIB: usize = 1 << 20;

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("tokio runtime")
        .block_on(f)
}

/// Writes one line of `size` bytes of `x` followed by `tail` and a newline,
/// after a first short line that matches `NEEDLE`.
fn one_long_line(path: &Path, size: usize, tail: &[u8]) {
    let mut f = std::io::BufWriter::new(fs::File::create(path).expect("create"));
    f.write_all(b"NEEDLE before the long line\n")
        .expect("write");
    let chunk = vec![b'x'; MIB];
    for _ in 0..size / MIB {
        f.write_all(&chunk).expect("write");
    }
    f.write_all(tail).expect("write");
    f.write_all(b"\n").expect("write");
}

fn backend(dir: &Path, limit: usize) -> LocalBackend {
    LocalBackend::builder(dir)
        .grep_line_limit(limit)
        .build()
        .expect("backend")
}

#[test]
fn a_line_over_the_limit_skips_its_file_but_not_the_search() {
    let dir = tempfile::tempdir().expect("tempdir");
    one_long_line(&dir.path().join("big.txt"), 8 * MIB, b"NEEDLE");
    fs::write(dir.path().join("small.txt"), "a NEEDLE here\n").expect("write");
    let b = backend(dir.path(), MIB);

    let res = run(b.grep(&GrepQuery::new("NEEDLE"))).expect("grep over the dir");
    let paths: Vec<_> = res.matches.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(paths, ["/small.txt"], "big.txt is skipped whole");
    assert!(!res.truncated);

    // Searching just the file is not an error either: it has no results.
    let res = run(b.grep(&GrepQuery::new("NEEDLE").path("/big.txt"))).expect("grep one file");
    assert!(res.matches.is_empty(), "{:?}", res.matches.len());
}

#[test]
fn a_long_line_under_the_limit_is_found_and_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    one_long_line(&dir.path().join("wide.txt"), 2 * MIB, b"NEEDLE");
    let b = backend(dir.path(), 4 * MIB);

    let res = run(b.grep(&GrepQuery::new("NEEDLE"))).expect("grep");
    assert_eq!(res.matches.len(), 2);
    assert_eq!(res.matches[0].line, "NEEDLE before the long line");
    let long = &res.matches[1];
    assert_eq!(long.line_number, 2);
    assert!(
        long.line.starts_with(&"x".repeat(GREP_LINE_CHARS)),
        "keeps the start of the line"
    );
    assert!(long.line.chars().count() < GREP_LINE_CHARS + 80, "cut");
    assert!(
        long.line.contains("line cut"),
        "says it was cut: {}",
        &long.line[GREP_LINE_CHARS..]
    );
}

#[test]
fn a_line_of_exactly_the_cut_length_is_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Multi-byte characters: the cut counts characters, never splits one.
    let exact = format!("NEEDLE{}", "é".repeat(GREP_LINE_CHARS - 6));
    let over = format!("{exact}é");
    fs::write(dir.path().join("a.txt"), format!("{exact}\n{over}\n")).expect("write");
    let b = LocalBackend::new(dir.path()).expect("backend");

    let res = run(b.grep(&GrepQuery::new("NEEDLE"))).expect("grep");
    assert_eq!(res.matches[0].line, exact);
    assert_ne!(res.matches[1].line, over);
    assert!(res.matches[1].line.starts_with(&exact));
}
