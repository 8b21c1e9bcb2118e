//! Criterion benches for StateBackend: the operations `cargo xtask bench`
//! compares with the Python original, at sizes small enough for a quick
//! regression check (`cargo bench -p deepagent-state`).

// `criterion_group!` defines an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use deepagent_core::{text, Backend, GlobQuery, GrepQuery};
use deepagent_state::StateBackend;

/// A fixed-seed generator (the testkit's), so every run sees the same content.
use deepagent_testkit::rng::Rng;

const WORDS: [&str; 8] = [
    "alpha", "beta", "value", "result", "buffer", "index", "state", "config",
];

/// `lines` source-like lines; about one in 256 matches `fn needle_N(`.
fn text(rng: &mut Rng, lines: usize) -> String {
    let mut out = String::new();
    for _ in 0..lines {
        if rng.below(256) == 0 {
            out.push_str(&format!("    fn needle_{}(x: u32) {{}}\n", rng.below(1000)));
        } else {
            for _ in 0..8 {
                out.push_str(WORDS[rng.below(8) as usize]);
                out.push(' ');
            }
            out.push('\n');
        }
    }
    out
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .build()
        .expect("a tokio runtime")
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    let mut rng = Rng::new(1);

    let files: Vec<(String, String)> = (0..1_000)
        .map(|i| (format!("/d{:02}/f{i:05}.txt", i % 20), text(&mut rng, 100)))
        .collect();
    let store = StateBackend::with_files(files.clone()).expect("valid paths");
    let query = GrepQuery::new(r"fn needle_[0-9]+\(").max_count(usize::MAX);
    c.bench_function("state grep 1k files x 100 lines", |b| {
        b.iter(|| black_box(rt.block_on(store.grep(&query)).expect("grep")))
    });

    let tree = StateBackend::with_files((0..10_000).map(|i| {
        let ext = ["py", "rs", "txt", "md"][i % 4];
        (format!("/a{}/b{}/f{i:05}.{ext}", i % 10, i % 7), "x\n")
    }))
    .expect("valid paths");
    let glob = GlobQuery::new("**/*.py").max_count(usize::MAX);
    c.bench_function("state glob **/*.py over 10k files", |b| {
        b.iter(|| black_box(rt.block_on(tree.glob(&glob)).expect("glob")))
    });

    let big = StateBackend::with_files([("/big.txt", text(&mut rng, 100_000))]).expect("path");
    c.bench_function("state read 2k lines at 50k of 100k", |b| {
        b.iter(|| {
            let slice = rt
                .block_on(big.read("/big.txt", 50_000, 2_000))
                .expect("read");
            black_box(text::render_read(&slice))
        })
    });

    let edited: String = (0..10_000)
        .map(|i| format!("    value_{i:05} = compute({i})\n"))
        .collect();
    c.bench_function("state 100 edits on a 10k-line file", |b| {
        b.iter(|| {
            let store = StateBackend::with_files([("/e.py", edited.clone())]).expect("path");
            rt.block_on(async {
                for k in 0..100 {
                    let line = k * 100;
                    let old = format!("value_{line:05} =");
                    let new = format!("renamed_{line:05} =");
                    store
                        .edit("/e.py", &old, &new, deepagent_core::Replace::Once)
                        .await
                        .expect("edit");
                }
            });
            black_box(store)
        })
    });

    let small: Vec<(String, Bytes)> = (0..1_000)
        .map(|i| {
            (
                format!("/w/d{}/f{i}.py", i % 10),
                Bytes::from(format!("value = {i}\n")),
            )
        })
        .collect();
    c.bench_function("state write + read back 1k small files", |b| {
        b.iter(|| {
            let store = StateBackend::new();
            rt.block_on(async {
                for (path, content) in &small {
                    store.write(path, content.clone()).await.expect("write");
                }
                for (path, _) in &small {
                    black_box(store.read_bytes(path).await.expect("read"));
                }
            });
        })
    });
}

criterion_group!(state, benches);
criterion_main!(state);
