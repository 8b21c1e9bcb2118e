//! Crash-safe writes: a child process rewrites large files through
//! LocalBackend in a loop and is killed with SIGKILL at random moments.
//! After every kill each file holds exactly its old or its new content, and
//! no temporary file is visible through ls, glob or grep.
//!
//! The child is this test binary re-executed with `CRASH_CHILD_DIR` set
//! (see [`crash_writer_child`]), so no extra build target is needed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deepagent_core::{Backend, FileInfo, GlobQuery, GrepQuery};
use deepagent_local::LocalBackend;

const CHILD_ENV: &str = "CRASH_CHILD_DIR";
/// Two recognizable contents of different lengths, so a torn write (a
/// mixture) and a truncated one (a prefix) both show.
const SIZE_A: usize = 4 << 20;
const SIZE_B: usize = 3 << 20;
const FILES: &[&str] = &["/big.bin", "/sub/big.txt", "/sub/deep/er/big.dat"];

fn content(which: bool) -> Vec<u8> {
    let (header, line, size): (&[u8], &[u8], usize) = if which {
        (
            b"HEADER old\n",
            b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
            SIZE_A,
        )
    } else {
        (
            b"HEADER new\n",
            b"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n",
            SIZE_B,
        )
    };
    let mut out = header.to_vec();
    out.extend(line.repeat(size / line.len() + 1));
    out.truncate(size);
    out
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime")
}

/// The child: rewrites every file, alternating the two contents, and bumps
/// a counter with `edit`, until it is killed. Does nothing in a normal run.
#[test]
fn crash_writer_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let backend = LocalBackend::new(&dir).expect("child backend");
    let (a, b) = (content(true), content(false));
    rt().block_on(async {
        let mut n: u64 = match backend.read_bytes("/counter.txt").await {
            Ok(c) => parse_counter(&c).expect("counter readable in child"),
            Err(_) => {
                backend.write("/counter.txt", "n=0\n".into()).await.unwrap();
                0
            }
        };
        loop {
            for (i, f) in FILES.iter().enumerate() {
                let which = (n + i as u64).is_multiple_of(2);
                let body = if which { a.clone() } else { b.clone() };
                backend.write(f, body.into()).await.expect("child write");
            }
            backend
                .edit(
                    "/counter.txt",
                    &format!("n={n}\n"),
                    &format!("n={}\n", n + 1),
                    deepagent_core::Replace::Once,
                )
                .await
                .expect("child edit");
            n += 1;
        }
    });
}

fn parse_counter(c: &[u8]) -> Option<u64> {
    std::str::from_utf8(c)
        .ok()?
        .strip_prefix("n=")?
        .strip_suffix('\n')?
        .parse()
        .ok()
}

/// Random kill moments from the testkit's seeded generator.
use deepagent_testkit::rng::Rng;

fn walk_all(backend: &LocalBackend, rt: &tokio::runtime::Runtime) -> Vec<FileInfo> {
    rt.block_on(async {
        let mut out = Vec::new();
        let mut dirs = vec!["/".to_owned()];
        while let Some(d) = dirs.pop() {
            for f in backend.ls(&d).await.expect("ls") {
                if f.is_dir {
                    dirs.push(f.path.clone());
                }
                out.push(f);
            }
        }
        out
    })
}

/// Temporary files a kill left on disk: (count, bytes).
fn temp_debris(root: &Path) -> (usize, u64) {
    let (mut n, mut bytes) = (0, 0);
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                dirs.push(e.path());
            } else if e
                .file_name()
                .to_string_lossy()
                .starts_with(".deepagent-tmp")
            {
                n += 1;
                bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    (n, bytes)
}

#[test]
fn sigkill_mid_write_never_tears_a_file() {
    let iterations: u32 = std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let backend = LocalBackend::new(dir.path()).unwrap();
    let rt = rt();
    let (a, b) = (content(true), content(false));
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15 ^ u64::from(std::process::id()));
    let started = Instant::now();
    let (mut last_counter, mut progressed, mut max_debris) = (0u64, 0u32, 0usize);
    for i in 0..iterations {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_writer_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn child");
        // The child's first write starts after a few ms of startup; kill
        // anywhere from before it to several writes in.
        std::thread::sleep(Duration::from_micros(20_000 + rng.next_u64() % 400_000));
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).ok();
            panic!("child exited on its own at iteration {i}: {status}\n{err}");
        }
        child.kill().expect("SIGKILL");
        child.wait().unwrap();

        // Every file is exactly one of the two contents.
        for f in FILES {
            let host = dir.path().join(f.trim_start_matches('/'));
            if !host.exists() {
                continue;
            }
            let got = std::fs::read(&host).unwrap();
            assert!(
                got == a || got == b,
                "iteration {i}: {f} is torn ({} bytes, starts {:?})",
                got.len(),
                String::from_utf8_lossy(&got[..got.len().min(40)])
            );
        }
        if let Ok(c) = std::fs::read(dir.path().join("counter.txt")) {
            let n =
                parse_counter(&c).unwrap_or_else(|| panic!("iteration {i}: counter torn: {c:?}"));
            assert!(
                n >= last_counter,
                "counter went back from {last_counter} to {n}"
            );
            if n > last_counter {
                progressed += 1;
            }
            last_counter = n;
        }
        max_debris = max_debris.max(temp_debris(dir.path()).0);

        // Whatever debris a kill left is invisible to every listing.
        let listed = walk_all(&backend, &rt);
        for f in &listed {
            assert!(
                !f.name.contains("deepagent-tmp"),
                "iteration {i}: ls shows {f:?}"
            );
        }
        rt.block_on(async {
            for pattern in ["**", "**/.*", "**/.deepagent-tmp*", "sub/**/*"] {
                let g = backend.glob(&GlobQuery::new(pattern)).await.unwrap();
                for f in &g.files {
                    assert!(
                        !f.path.contains("deepagent-tmp"),
                        "iteration {i}: glob {pattern} shows {f:?}"
                    );
                }
            }
            for hidden in [true, false] {
                let g = backend
                    .grep(&GrepQuery::new("^HEADER").ignore_hidden(hidden))
                    .await
                    .unwrap();
                assert!(g.matches.len() <= FILES.len(), "iteration {i}: {g:?}");
                for m in &g.matches {
                    assert!(
                        !m.path.contains("deepagent-tmp"),
                        "iteration {i}: grep shows {}",
                        m.path
                    );
                }
            }
        });
    }
    eprintln!(
        "crash writes: {iterations} SIGKILLs in {:.1?}; counter reached {last_counter} \
         ({progressed} kills after progress); at most {max_debris} temp files left on disk \
         (hidden), at the end {:?} (count, bytes)",
        started.elapsed(),
        temp_debris(dir.path())
    );
    assert!(
        progressed > iterations / 4,
        "the child barely wrote anything: kills too early?"
    );
}
