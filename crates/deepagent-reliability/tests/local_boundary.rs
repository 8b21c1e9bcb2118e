//! LocalBackend against a hostile agent and a hostile repository (issue
//! 11, items 4 (local half), 11, 12 and 13): ignore files that point out
//! or never end, FIFOs and devices inside the root, swap races against
//! `exists` and the temporary-file sweep, allowed directories seen through
//! a link to a parent, setuid bits, and commands that try to outlive their
//! timeout or their caller.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use deepagent_core::{Backend, GlobQuery, GrepQuery};
use deepagent_local::LocalBackend;
use deepagent_reliability::yard::Yard;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("runtime")
}

fn local(root: &Path) -> LocalBackend {
    LocalBackend::builder(root)
        .sync_writes(false)
        .build()
        .expect("backend")
}

fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path for the call.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
}

/// Runs `work` on its own thread and fails if it takes longer than
/// `limit`. A FIFO a stuck open waits on is then opened for writing, so the
/// stuck thread gets EOF and the test binary can still end.
fn within<T: Send + 'static>(
    what: &str,
    limit: Duration,
    fifos: &[PathBuf],
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(_) => {
            for f in fifos {
                use std::os::unix::fs::OpenOptionsExt;
                for _ in 0..50 {
                    let _ = fs::OpenOptions::new()
                        .write(true)
                        .custom_flags(libc::O_NONBLOCK)
                        .open(f);
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            panic!("{what} hung for more than {limit:?}");
        }
    }
}

fn grep_paths(backend: &LocalBackend, pattern: &str, path: &str) -> Vec<String> {
    let (b, q) = (
        backend.clone(),
        GrepQuery::new(pattern).path(path).ignore_hidden(false),
    );
    let hits = rt()
        .block_on(async move { b.grep(&q).await })
        .expect("grep");
    let mut paths: Vec<String> = hits.matches.into_iter().map(|m| m.path).collect();
    paths.dedup();
    paths
}

// ---------------------------------------------------------------- item 11

/// `.gitignore -> /dev/zero` made the `ignore` crate read a line without
/// end until the allocator aborted the process. A link is not followed
/// (as git 2.32+ does not), so the rules are simply absent.
#[test]
fn gitignore_linked_to_dev_zero_is_not_read() {
    let yard = Yard::new().unwrap();
    let root = yard.root();
    fs::write(root.join("a.txt"), "PROBE\n").unwrap();
    fs::create_dir(root.join("sub")).unwrap();
    fs::write(root.join("sub/b.txt"), "PROBE\n").unwrap();
    symlink("/dev/zero", root.join(".gitignore")).unwrap();
    symlink("/dev/zero", root.join("sub/.ignore")).unwrap();
    let backend = local(root);
    let b = backend.clone();
    let found = within(
        "grep with .gitignore -> /dev/zero",
        Duration::from_secs(20),
        &[],
        move || grep_paths(&b, "PROBE", "/"),
    );
    assert_eq!(found, ["/a.txt", "/sub/b.txt"]);
    // Searching from below reads the ignore files of the parents too.
    let b = backend.clone();
    let found = within("grep below", Duration::from_secs(20), &[], move || {
        grep_paths(&b, "PROBE", "/sub")
    });
    assert_eq!(found, ["/sub/b.txt"]);
}

/// A FIFO as an ignore file blocked the walker's `open` for good, so every
/// grep hung. Now it is opened without blocking and refused by its type.
#[test]
fn ignore_files_that_are_fifos_do_not_hang_grep() {
    let yard = Yard::new().unwrap();
    let root = yard.root();
    fs::write(root.join("a.txt"), "PROBE\n").unwrap();
    fs::create_dir_all(root.join("sub/.git/info")).unwrap();
    fs::write(root.join("sub/b.txt"), "PROBE\n").unwrap();
    let fifos = vec![
        root.join(".gitignore"),
        root.join(".ignore"),
        root.join("sub/.git/info/exclude"),
    ];
    for f in &fifos {
        mkfifo(f);
    }
    fs::create_dir(root.join("wt")).unwrap();
    mkfifo(&root.join("wt/.git"));
    fs::write(root.join("wt/c.txt"), "PROBE\n").unwrap();
    let mut all = fifos.clone();
    all.push(root.join("wt/.git"));
    let backend = local(root);
    for base in ["/", "/sub"] {
        let b = backend.clone();
        let found = within(
            &format!("grep {base}"),
            Duration::from_secs(20),
            &all,
            move || grep_paths(&b, "PROBE", base),
        );
        assert!(
            found.contains(&"/sub/b.txt".to_owned()),
            "{base}: {found:?}"
        );
    }
}

/// An ignore file that links out, and a `.git` file whose `gitdir:` and
/// `commondir` point out: outside content must not change what grep finds.
#[test]
fn ignore_rules_from_outside_the_root_do_not_apply() {
    let yard = Yard::new().unwrap();
    let root = yard.root();
    let outside = yard.outside();
    fs::write(outside.join("rules"), "*.txt\n").unwrap();
    fs::create_dir_all(outside.join("gd/info")).unwrap();
    fs::write(outside.join("gd/info/exclude"), "*.txt\n").unwrap();
    fs::write(outside.join("gd/commondir"), ".\n").unwrap();

    fs::create_dir(root.join("linked")).unwrap();
    fs::write(root.join("linked/a.txt"), "PROBE\n").unwrap();
    symlink(outside.join("rules"), root.join("linked/.gitignore")).unwrap();

    fs::create_dir(root.join("worktree")).unwrap();
    fs::write(root.join("worktree/b.txt"), "PROBE\n").unwrap();
    fs::write(
        root.join("worktree/.git"),
        format!("gitdir: {}\n", outside.join("gd").display()),
    )
    .unwrap();

    fs::create_dir(root.join("relative")).unwrap();
    fs::write(root.join("relative/c.txt"), "PROBE\n").unwrap();
    fs::write(root.join("relative/.git"), "gitdir: ../../outside/gd\n").unwrap();

    // A directory on the way that links out is not followed either.
    fs::create_dir(root.join("viadir")).unwrap();
    fs::write(root.join("viadir/d.txt"), "PROBE\n").unwrap();
    symlink(&outside, root.join("viadir/.git")).unwrap();
    fs::create_dir_all(outside.join("info")).unwrap();
    fs::write(outside.join("info/exclude"), "*.txt\n").unwrap();

    let backend = local(root);
    let found = grep_paths(&backend, "PROBE", "/");
    assert_eq!(
        found,
        [
            "/linked/a.txt",
            "/relative/c.txt",
            "/viadir/d.txt",
            "/worktree/b.txt"
        ],
        "rules read from outside the root hid files"
    );
}

/// The same indirections inside the root still work, and an oversized
/// ignore file is not honoured (rather than read without bound).
#[test]
fn ignore_files_inside_the_root_still_apply() {
    let yard = Yard::new().unwrap();
    let root = yard.root();
    fs::create_dir_all(root.join("repo/.git/info")).unwrap();
    fs::write(root.join("repo/.git/info/exclude"), "excluded.txt\n").unwrap();
    fs::write(root.join("repo/.gitignore"), "ignored.txt\n").unwrap();
    fs::write(root.join("repo/.ignore"), "!ignored.txt\nalso.txt\n").unwrap();
    for f in ["excluded.txt", "ignored.txt", "also.txt", "kept.txt"] {
        fs::write(root.join("repo").join(f), "PROBE\n").unwrap();
    }
    // A linked worktree whose git dir lives inside the root.
    fs::create_dir_all(root.join("gitdirs/wt/info")).unwrap();
    fs::create_dir_all(root.join("gitdirs/common/info")).unwrap();
    fs::write(root.join("gitdirs/wt/commondir"), "../common\n").unwrap();
    fs::write(
        root.join("gitdirs/common/info/exclude"),
        "wt-excluded.txt\n",
    )
    .unwrap();
    fs::create_dir(root.join("wt")).unwrap();
    fs::write(root.join("wt/.git"), "gitdir: ../gitdirs/wt\n").unwrap();
    for f in ["wt-excluded.txt", "wt-kept.txt"] {
        fs::write(root.join("wt").join(f), "PROBE\n").unwrap();
    }
    // Too large to honour: its rule would hide big.txt.
    fs::create_dir(root.join("big")).unwrap();
    let mut huge = "big.txt\n".to_owned();
    huge.push_str(&"#".repeat(2 << 20));
    fs::write(root.join("big/.gitignore"), huge).unwrap();
    fs::write(root.join("big/big.txt"), "PROBE\n").unwrap();
    let backend = local(root);
    let found = grep_paths(&backend, "PROBE", "/");
    assert_eq!(
        found,
        [
            "/big/big.txt",
            "/repo/ignored.txt",
            "/repo/kept.txt",
            "/wt/wt-kept.txt"
        ]
    );
    assert_eq!(
        grep_paths(&backend, "PROBE", "/repo"),
        ["/repo/ignored.txt", "/repo/kept.txt"]
    );
}

// ---------------------------------------------------------------- item 12

/// FIFOs, sockets and (when this user may create one) a device inside the
/// root: read, read_bytes, edit and ls of the path fail at once with an
/// error that says what it is; grep skips them and finishes.
#[test]
fn fifos_sockets_and_devices_are_refused_not_read() {
    let yard = Yard::new().unwrap();
    let root = yard.root().to_path_buf();
    fs::write(root.join("ok.txt"), "PROBE\n").unwrap();
    let fifo = root.join("pipe.txt");
    mkfifo(&fifo);
    let _sock = std::os::unix::net::UnixListener::bind(root.join("sock.txt")).unwrap();
    let mut specials = vec![("/pipe.txt", "FIFO"), ("/sock.txt", "socket")];
    // A device node needs CAP_MKNOD: root only.
    let dev = std::process::Command::new("mknod")
        .arg(root.join("zero.txt"))
        .args(["c", "1", "5"])
        .status()
        .is_ok_and(|s| s.success());
    if dev {
        specials.push(("/zero.txt", "device"));
    }
    eprintln!("special files tried: {specials:?}");
    let backend = local(&root);
    let fifos = vec![fifo.clone()];
    for (path, word) in specials {
        let b = backend.clone();
        let errors = within(path, Duration::from_secs(10), &fifos, move || {
            rt().block_on(async move {
                vec![
                    ("read", b.read(path, 0, 10).await.map(|_| ())),
                    ("read_bytes", b.read_bytes(path).await.map(|_| ())),
                    (
                        "edit",
                        b.edit(path, "a", "b", deepagent_core::Replace::Once)
                            .await
                            .map(|_| ()),
                    ),
                    ("ls", b.ls(path).await.map(|_| ())),
                    (
                        "grep of the path",
                        b.grep(&GrepQuery::new("x").path(path)).await.map(|_| ()),
                    ),
                    ("exists", b.exists(path).await.map(|e| assert!(!e))),
                ]
            })
        });
        for (op, res) in errors {
            if op == "exists" {
                res.unwrap();
                continue;
            }
            let err = res.expect_err(&format!("{op} {path} must fail"));
            let msg = err.to_string();
            assert!(
                msg.contains(word) && msg.contains("not a regular file") && msg.contains(path),
                "{op} {path}: {msg}"
            );
        }
    }
    let b = backend.clone();
    let found = within(
        "grep over specials",
        Duration::from_secs(10),
        &fifos,
        move || grep_paths(&b, "PROBE", "/"),
    );
    assert_eq!(found, ["/ok.txt"]);
    // Writing over a FIFO replaces it with a regular file, never writes into it.
    let b = backend.clone();
    within(
        "write over a FIFO",
        Duration::from_secs(10),
        &fifos,
        move || rt().block_on(async move { b.write("/pipe.txt", "new\n".into()).await }),
    )
    .unwrap();
    assert!(fs::symlink_metadata(&fifo).unwrap().is_file());
}

// ---------------------------------------------------------------- item 13

/// Swaps `<root>/swap` between a real directory and a link to outside
/// until `stop` is set; counts swaps.
/// Each state is held for about `hold` (a yield when zero).
fn swapper(
    swap: PathBuf,
    outside: PathBuf,
    stop: Arc<AtomicBool>,
    swaps: Arc<AtomicUsize>,
    hold: Duration,
) -> std::thread::JoinHandle<()> {
    let pause = move |i: usize| {
        if hold.is_zero() {
            std::thread::yield_now();
        } else {
            // Vary the phase so the holds do not lock step with the caller.
            std::thread::sleep(hold * (1 + (i % 3) as u32) / 2);
        }
    };
    std::thread::spawn(move || {
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            let _ = fs::remove_dir_all(&swap);
            let _ = symlink(&outside, &swap);
            pause(i);
            let _ = fs::remove_file(&swap);
            let _ = fs::create_dir(&swap);
            pause(i + 1);
            i += 1;
            swaps.fetch_add(1, Ordering::Relaxed);
        }
    })
}

fn race_budget() -> Duration {
    Duration::from_secs(
        std::env::var("SWAP_RACE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(4),
    )
}

/// `exists` resolved the path, then asked the kernel by path again: a
/// directory swapped for a link in between made it answer true for a file
/// that only exists outside.
#[test]
fn exists_never_sees_an_outside_file_through_a_swap_race() {
    let yard = Yard::new().unwrap();
    let backend = local(yard.root());
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicUsize::new(0));
    let t = swapper(
        yard.root().join("swap"),
        yard.outside(),
        stop.clone(),
        swaps.clone(),
        Duration::ZERO,
    );
    let rt = rt();
    let (mut asked, mut lies) = (0usize, 0usize);
    let start = Instant::now();
    rt.block_on(async {
        while start.elapsed() < race_budget() {
            // The sentinel exists only outside; inside, /swap stays empty.
            if matches!(backend.exists("/swap/secret.txt").await, Ok(true)) {
                lies += 1;
            }
            asked += 1;
        }
    });
    stop.store(true, Ordering::Relaxed);
    t.join().unwrap();
    eprintln!(
        "exists race: {asked} calls, {} swaps, {lies} true answers",
        swaps.load(Ordering::Relaxed)
    );
    assert_eq!(lies, 0, "exists said an outside file is there");
}

/// The sweep listed a directory by path and removed files by path, so a
/// directory swapped for a link to outside let it delete outside files.
#[test]
fn the_temp_file_sweep_never_deletes_outside_under_a_swap_race() {
    let yard = Yard::new().unwrap();
    let backend = local(yard.root());
    let outside = yard.outside();
    let victim = outside.join(".deepagent-tmp-victim");
    let plant = || {
        let f = fs::File::create(&victim).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(7200))
            .unwrap();
    };
    plant();
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicUsize::new(0));
    let t = swapper(
        yard.root().join("swap"),
        outside.clone(),
        stop.clone(),
        swaps.clone(),
        Duration::from_micros(200),
    );
    let (mut sweeps, mut deleted) = (0usize, 0usize);
    let start = Instant::now();
    while start.elapsed() < race_budget() {
        let _ = backend.sweep_temp_files(Duration::ZERO);
        sweeps += 1;
        if !victim.exists() {
            deleted += 1;
            plant();
        }
    }
    stop.store(true, Ordering::Relaxed);
    t.join().unwrap();
    eprintln!(
        "sweep race: {sweeps} sweeps, {} swaps, {deleted} outside deletions",
        swaps.load(Ordering::Relaxed)
    );
    assert_eq!(deleted, 0, "the sweep deleted a file outside the root");
    yard.assert_sentinel_intact();
}

/// With allowed directories, a link inside one of them that leads up to
/// a parent (`/src/up -> ..`) listed, globbed and grepped the whole parent
/// under allowed-looking names.
#[test]
fn a_link_to_a_parent_of_an_allowed_directory_leaks_no_names() {
    let yard = Yard::new().unwrap();
    let root = yard.root();
    fs::create_dir_all(root.join("src")).unwrap();
    fs::create_dir_all(root.join("secret")).unwrap();
    fs::write(root.join("src/main.rs"), "PROBE\n").unwrap();
    fs::write(root.join("secret/key.txt"), "PROBE KEY\n").unwrap();
    fs::write(root.join("top-secret.txt"), "PROBE KEY\n").unwrap();
    symlink("..", root.join("src/up")).unwrap();
    let backend = LocalBackend::builder(root)
        .allowed_directories(["/src"])
        .build()
        .unwrap();
    let rt = rt();
    rt.block_on(async {
        let shown = |names: Vec<String>| {
            for n in &names {
                assert!(!n.contains("secret"), "leaked {n} in {names:?}");
            }
        };
        if let Ok(list) = backend.ls("/src/up").await {
            shown(list.into_iter().map(|f| f.path).collect());
        }
        if let Ok(list) = backend.ls("/src/up/secret").await {
            shown(list.into_iter().map(|f| f.path).collect());
        }
        if let Ok(g) = backend.glob(&GlobQuery::new("**/*").path("/src/up")).await {
            shown(g.files.into_iter().map(|f| f.path).collect());
        }
        if let Ok(g) = backend.grep(&GrepQuery::new("KEY").path("/src/up")).await {
            shown(g.matches.into_iter().map(|m| m.path).collect());
        }
        assert!(backend.read_bytes("/src/up/secret/key.txt").await.is_err());
        // The allowed directory itself still works.
        let list = backend.ls("/src").await.unwrap();
        assert!(list.iter().any(|f| f.path == "/src/main.rs"), "{list:?}");
        let root_list = backend.ls("/").await.unwrap();
        assert_eq!(root_list.len(), 1, "{root_list:?}");
    });
}

/// A write (or edit) replacing a setuid/setgid file keeps its other
/// permission bits but drops those two.
#[test]
fn writes_drop_setuid_and_setgid_bits() {
    let yard = Yard::new().unwrap();
    let root = yard.root();
    let backend = local(root);
    let rt = rt();
    for (name, op) in [("w", "write"), ("e", "edit")] {
        let file = root.join(name);
        fs::write(&file, "old\n").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o6755)).unwrap();
        let before = fs::metadata(&file).unwrap().permissions().mode() & 0o7777;
        assert_ne!(
            before & 0o6000,
            0,
            "the test could not set the bits: {before:o}"
        );
        let path = format!("/{name}");
        rt.block_on(async {
            match op {
                "write" => backend.write(&path, "new\n".into()).await.map(|_| ()),
                _ => backend
                    .edit(&path, "old", "new", deepagent_core::Replace::Once)
                    .await
                    .map(|_| ()),
            }
        })
        .unwrap();
        let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode & 0o6000, 0, "{op} kept setuid/setgid: {mode:o}");
        assert_eq!(
            mode & 0o777,
            before & 0o777,
            "{op} changed the other bits: {mode:o}"
        );
        assert_eq!(fs::read_to_string(&file).unwrap(), "new\n");
    }
}

// ----------------------------------------------------------------- item 4

/// True when `pid` has ended: gone, or a zombie nobody reaped yet.
fn dead(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Waits until each named pid file in `root` holds a pid; returns them.
fn pids(root: &Path, names: &[&str], within: Duration) -> Vec<(String, i32)> {
    let start = Instant::now();
    loop {
        let got: Vec<(String, i32)> = names
            .iter()
            .filter_map(|n| {
                let s = fs::read_to_string(root.join(n)).ok()?;
                Some((n.to_string(), s.trim().parse().ok()?))
            })
            .collect();
        if got.len() == names.len() || start.elapsed() > within {
            return got;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits up to `limit` for all of `pids` to end; returns those still
/// alive, after killing them so a failing run leaves nothing behind.
fn survivors(pids: &[(String, i32)], limit: Duration) -> Vec<String> {
    let start = Instant::now();
    while start.elapsed() < limit && !pids.iter().all(|(_, p)| dead(*p)) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let alive: Vec<String> = pids
        .iter()
        .filter(|(_, p)| !dead(*p))
        .map(|(n, p)| format!("{n}={p}"))
        .collect();
    for (_, p) in pids {
        if !dead(*p) {
            // SAFETY: only sends a signal to a process this test started.
            unsafe { libc::kill(*p, libc::SIGKILL) };
        }
    }
    alive
}

/// Every way out of the shell's process group and environment this test
/// knows: `setsid`, `setsid` after a double fork, `env -i setsid`, and a
/// plain double fork under `env -i`. Each writes its pid to a file.
const ESCAPES: &str = r#"S=$(command -v setsid)
setsid sh -c 'echo $$ > p-setsid; exec sleep 60' >/dev/null 2>&1 &
sh -c '"$0" sh -c "echo \$\$ > p-double; exec sleep 60" & exit 0' "$S" >/dev/null 2>&1 &
env -i "$S" /bin/sh -c 'echo $$ > p-env; exec sleep 60' >/dev/null 2>&1 &
env -i /bin/sh -c '(/bin/sh -c "echo \$\$ > p-fork; exec sleep 60" &); exit 0'
"#;
const ESCAPE_PIDS: &[&str] = &["p-setsid", "p-double", "p-env", "p-fork"];

#[test]
fn a_timeout_kills_processes_that_left_the_group() {
    let yard = Yard::new().unwrap();
    let root = yard.root().to_path_buf();
    let backend = local(&root);
    let cmd = format!("{ESCAPES}sleep 60");
    let b = backend.clone();
    let res = rt()
        .block_on(async move {
            let sb = b.as_sandbox().expect("execute enabled");
            sb.execute(&cmd, Some(Duration::from_secs(2))).await
        })
        .unwrap();
    assert!(res.timed_out, "{res:?}");
    let pids = pids(&root, ESCAPE_PIDS, Duration::from_secs(1));
    assert_eq!(pids.len(), ESCAPE_PIDS.len(), "not all started: {pids:?}");
    let alive = survivors(&pids, Duration::from_secs(1));
    assert!(alive.is_empty(), "survived the timeout: {alive:?}");
}

/// The shell exits while escaped jobs still hold its output: the call
/// returns promptly and they are killed too.
#[test]
fn escaped_jobs_holding_the_output_die_when_the_shell_exits() {
    let yard = Yard::new().unwrap();
    let root = yard.root().to_path_buf();
    let backend = local(&root);
    let cmd = "setsid sh -c 'echo $$ > p-held; exec sleep 60' & \
               env -i /bin/sh -c '(/bin/sh -c \"echo \\$\\$ > p-held2; exec sleep 60\" &)'; \
               sleep 0.3; echo done";
    let b = backend.clone();
    let start = Instant::now();
    let res = rt()
        .block_on(async move {
            b.as_sandbox()
                .unwrap()
                .execute(cmd, Some(Duration::from_secs(30)))
                .await
        })
        .unwrap();
    assert!(!res.timed_out && res.output.contains("done"), "{res:?}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let pids = pids(&root, &["p-held", "p-held2"], Duration::from_secs(1));
    assert_eq!(pids.len(), 2, "{pids:?}");
    let alive = survivors(&pids, Duration::from_secs(1));
    assert!(
        alive.is_empty(),
        "outlived the shell while holding its output: {alive:?}"
    );
}

/// A caller that drops the `execute` future (a cancelled run, its own
/// timeout) gets the whole tree killed within a second, escapes included;
/// today the command ran on to its own timeout.
#[test]
fn a_dropped_execute_kills_the_whole_tree_within_a_second() {
    for how in ["abort", "timeout"] {
        let yard = Yard::new().unwrap();
        let root = yard.root().to_path_buf();
        let backend = local(&root);
        let cmd = format!("{ESCAPES}sleep 60 & echo $! > p-plain; sleep 60");
        let rt = rt();
        let mut names = ESCAPE_PIDS.to_vec();
        names.push("p-plain");
        let (pids, dropped_at) = rt.block_on(async {
            let b = backend.clone();
            let run = async move {
                b.as_sandbox()
                    .unwrap()
                    .execute(&cmd, Some(Duration::from_secs(60)))
                    .await
            };
            let dropped_at;
            if how == "abort" {
                let task = tokio::spawn(run);
                let root2 = root.clone();
                let names2 = names.clone();
                let pids = tokio::task::spawn_blocking(move || {
                    pids(&root2, &names2, Duration::from_secs(10))
                })
                .await
                .unwrap();
                task.abort();
                dropped_at = Instant::now();
                let _ = task.await;
                (pids, dropped_at)
            } else {
                let timed = tokio::time::timeout(Duration::from_millis(1500), run).await;
                dropped_at = Instant::now();
                assert!(timed.is_err(), "{how}: the command ended by itself");
                (pids(&root, &names, Duration::from_secs(1)), dropped_at)
            }
        });
        assert_eq!(pids.len(), names.len(), "{how}: not all started: {pids:?}");
        let alive = survivors(
            &pids,
            Duration::from_secs(1).saturating_sub(dropped_at.elapsed()),
        );
        let took = dropped_at.elapsed();
        eprintln!("{how}: tree gone {took:?} after the drop");
        assert!(
            alive.is_empty(),
            "{how}: alive 1 s after the drop: {alive:?}"
        );
        rt.shutdown_timeout(Duration::from_millis(100));
    }
}

/// The supervisor runs as the same user as the command, which can stop or
/// kill it. Neither may hang the call or break the timeout: the caller
/// kills a supervisor that does not finish, and falls back to the shell's
/// process group. (Guards the supervisor itself; on a build without one,
/// `$PPID` is this test process and is left alone.)
#[test]
fn a_command_that_stops_or_kills_its_supervisor_cannot_hang_the_call() {
    let me = std::process::id();
    for (how, cmd, timeout) in [
        (
            "stop",
            format!("[ $PPID != {me} ] && kill -STOP $PPID; echo $$ > p-shell; sleep 30"),
            Duration::from_secs(1),
        ),
        (
            "kill",
            format!("[ $PPID != {me} ] && kill -KILL $PPID; echo $$ > p-shell; sleep 30"),
            Duration::from_secs(1),
        ),
        (
            "kill then exit",
            format!("[ $PPID != {me} ] && kill -KILL $PPID; echo $$ > p-shell; echo bye"),
            Duration::from_secs(30),
        ),
    ] {
        let yard = Yard::new().unwrap();
        let root = yard.root().to_path_buf();
        let backend = local(&root);
        let start = Instant::now();
        let b = backend.clone();
        let res = within(how, Duration::from_secs(20), &[], move || {
            rt().block_on(async move { b.as_sandbox().unwrap().execute(&cmd, Some(timeout)).await })
        })
        .unwrap();
        let took = start.elapsed();
        eprintln!("{how}: returned after {took:?}: {res:?}");
        assert!(took < timeout + Duration::from_secs(4), "{how}: {took:?}");
        let pids = pids(&root, &["p-shell"], Duration::from_secs(1));
        assert!(
            survivors(&pids, Duration::from_secs(1)).is_empty(),
            "{how}: the shell survived"
        );
    }
}
