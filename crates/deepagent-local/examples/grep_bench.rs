//! Times `LocalBackend::grep` against the `rg` command line over a
//! generated tree of 10,000 files (100 directories of 100 files, ~60 lines
//! each).
//!
//! ```text
//! cargo run --release -p deepagent-local --example grep_bench
//! ```
//!
//! Prints the best of five runs for each; needs `rg` on `PATH` for the
//! comparison (it is skipped otherwise). Pass a directory to search an
//! existing tree instead of generating one (e.g. to profile the search
//! alone).

use std::process::Command;
use std::time::{Duration, Instant};

use deepagent_core::{Backend, GrepQuery};
use deepagent_local::LocalBackend;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let given = std::env::args_os().nth(1).map(std::path::PathBuf::from);
    let root = given.as_deref().unwrap_or(dir.path());
    for d in (0..100).filter(|_| given.is_none()) {
        let sub = root.join(format!("pkg{d:03}"));
        std::fs::create_dir_all(&sub)?;
        for f in 0..100 {
            let mut body = String::new();
            for line in 0..60 {
                body.push_str(&format!(
                    "fn item_{d}_{f}_{line}(x: u32) -> u32 {{ x + {line} }}\n"
                ));
            }
            if (d * 100 + f) % 97 == 0 {
                body.push_str("// NEEDLE: find me\n");
            }
            std::fs::write(sub.join(format!("file{f:03}.rs")), body)?;
        }
    }
    let backend = LocalBackend::new(root)?;
    let rt = tokio::runtime::Builder::new_multi_thread().build()?;

    for pattern in ["NEEDLE", r"item_\d+_7_\d+\("] {
        let query = GrepQuery::new(pattern).max_count(usize::MAX / 2);
        let mut count = 0;
        let ours = best_of(5, || {
            count = rt
                .block_on(backend.grep(&query))
                .map(|r| r.matches.len())
                .unwrap_or(0);
        });
        println!("{pattern:>20}: LocalBackend::grep {count:>6} matches, best {ours:?}");
        let mut rg_count = None;
        let theirs = best_of(5, || {
            rg_count = Command::new("rg")
                .args(["--no-config", "-n", "-c", "--no-filename", pattern, "."])
                .current_dir(root)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .filter_map(|l| l.trim().parse::<usize>().ok())
                        .sum::<usize>()
                });
        });
        match rg_count {
            Some(n) => {
                println!("{pattern:>20}: rg                 {n:>6} matches, best {theirs:?}")
            }
            None => println!("{pattern:>20}: rg not available"),
        }
    }
    // What an agent's grep tool asks: the default cap of 1,000 matches for
    // a pattern on every line (600,000 in all).
    let query = GrepQuery::new("fn item");
    let mut shown = (0, false);
    let capped = best_of(5, || {
        shown = rt
            .block_on(backend.grep(&query))
            .map(|r| (r.matches.len(), r.truncated))
            .unwrap_or_default();
    });
    println!(
        "{:>20}: LocalBackend::grep {:>6} matches (truncated: {}), best {capped:?}",
        "fn item (capped)", shown.0, shown.1
    );
    Ok(())
}

fn best_of(n: usize, mut f: impl FnMut()) -> Duration {
    (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}
