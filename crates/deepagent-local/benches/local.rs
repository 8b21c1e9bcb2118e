//! Criterion benches for LocalBackend: the operations `cargo xtask bench`
//! compares with the Python original and ripgrep, at sizes small enough for
//! a quick regression check (`cargo bench -p deepagent-local`).

// `criterion_group!` defines an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::Path;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use deepagent_core::{text, Backend, GlobQuery, GrepQuery};
use deepagent_local::LocalBackend;

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

fn write(path: &Path, content: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create dirs");
    }
    std::fs::write(path, content).expect("write fixture");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .build()
        .expect("a tokio runtime")
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    let mut rng = Rng::new(2);
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();

    // A tree with a .gitignore'd build/ that grep must skip.
    std::fs::create_dir_all(root.join("tree/.git")).expect("git marker");
    write(&root.join("tree/.gitignore"), "build/\n");
    for i in 0..1_000 {
        write(
            &root.join(format!("tree/src/m{:02}/f{i:05}.rs", i % 20)),
            &text(&mut rng, 160),
        );
    }
    for i in 0..100 {
        write(
            &root.join(format!("tree/build/out{i}.rs")),
            &text(&mut rng, 160),
        );
    }
    let tree = LocalBackend::new(root.join("tree")).expect("backend");
    let query = GrepQuery::new(r"fn needle_[0-9]+\(").max_count(usize::MAX);
    c.bench_function("local grep 1k files with .gitignore", |b| {
        b.iter(|| black_box(rt.block_on(tree.grep(&query)).expect("grep")))
    });

    for i in 0..5_000 {
        let ext = ["py", "rs", "txt", "md"][i % 4];
        write(
            &root.join(format!("globs/a{}/b{}/f{i:05}.{ext}", i % 10, i % 7)),
            "x\n",
        );
    }
    let globs = LocalBackend::new(root.join("globs")).expect("backend");
    let glob = GlobQuery::new("**/*.py").max_count(usize::MAX);
    c.bench_function("local glob **/*.py over 5k files", |b| {
        b.iter(|| black_box(rt.block_on(globs.glob(&glob)).expect("glob")))
    });

    write(&root.join("big/big.txt"), &text(&mut rng, 100_000));
    let big = LocalBackend::new(root.join("big")).expect("backend");
    c.bench_function("local read 2k lines at 50k of 100k", |b| {
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
    let edits = LocalBackend::builder(root.join("edits"))
        .sync_writes(false)
        .build()
        .expect("backend");
    c.bench_function("local 20 edits on a 10k-line file (no fsync)", |b| {
        b.iter(|| {
            rt.block_on(async {
                edits
                    .write("/e.py", Bytes::from(edited.clone()))
                    .await
                    .expect("write");
                for k in 0..20 {
                    let line = k * 500;
                    let old = format!("value_{line:05} =");
                    let new = format!("renamed_{line:05} =");
                    edits
                        .edit("/e.py", &old, &new, deepagent_core::Replace::Once)
                        .await
                        .expect("edit");
                }
            })
        })
    });

    let small: Vec<(String, Bytes)> = (0..200)
        .map(|i| {
            (
                format!("/d{}/f{i}.py", i % 10),
                Bytes::from(format!("value = {i}\n")),
            )
        })
        .collect();
    let writes = LocalBackend::builder(root.join("writes"))
        .sync_writes(false)
        .build()
        .expect("backend");
    c.bench_function("local write + read back 200 small files (no fsync)", |b| {
        b.iter(|| {
            rt.block_on(async {
                for (path, content) in &small {
                    writes.write(path, content.clone()).await.expect("write");
                }
                for (path, _) in &small {
                    black_box(writes.read_bytes(path).await.expect("read"));
                }
            })
        })
    });
}

criterion_group!(local, benches);
criterion_main!(local);
