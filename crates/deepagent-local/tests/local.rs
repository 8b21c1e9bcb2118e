//! LocalBackend's own rules: the root cannot be left, ignore files and
//! binary files in search, crash-safe writes, limits, read-only and
//! allowed directories.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use deepagent_core::{Backend, Bytes, ErrorKind, GlobQuery, GrepQuery, Result};
use deepagent_local::LocalBackend;

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("tokio runtime")
        .block_on(f)
}

/// A temp dir holding `root/` (the backend) and `outside/` (a secret).
struct Setup {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    outside: std::path::PathBuf,
    backend: LocalBackend,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    fs::create_dir_all(&outside).expect("mkdir outside");
    fs::write(outside.join("secret.txt"), "TOPSECRET\n").expect("write secret");
    let backend = LocalBackend::new(&root).expect("backend");
    let root = backend.root().to_path_buf();
    Setup {
        _dir: dir,
        root,
        outside,
        backend,
    }
}

fn kind<T: std::fmt::Debug>(res: Result<T>) -> ErrorKind {
    match res {
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
        Err(e) => e.kind(),
    }
}

fn grep_paths(b: &LocalBackend, q: GrepQuery) -> Vec<String> {
    let res = run(b.grep(&q)).expect("grep");
    let mut paths: Vec<String> = res.matches.into_iter().map(|m| m.path).collect();
    paths.dedup();
    paths
}

fn glob_paths(b: &LocalBackend, q: GlobQuery) -> Vec<String> {
    run(b.glob(&q))
        .expect("glob")
        .files
        .into_iter()
        .map(|f| f.path)
        .collect()
}

#[test]
fn symlinks_pointing_out_are_refused_everywhere() {
    let s = setup();
    let b = &s.backend;
    // Absolute link to a file, relative link to a file, link to a directory.
    symlink(s.outside.join("secret.txt"), s.root.join("abs.txt")).unwrap();
    symlink("../outside/secret.txt", s.root.join("rel.txt")).unwrap();
    symlink(&s.outside, s.root.join("dirlink")).unwrap();
    fs::create_dir(s.root.join("sub")).unwrap();
    symlink("../../outside", s.root.join("sub/up")).unwrap();

    for p in [
        "/abs.txt",
        "/rel.txt",
        "/dirlink/secret.txt",
        "/sub/up/secret.txt",
    ] {
        let e = run(b.read_bytes(p)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "read_bytes {p}: {e}");
        assert!(e.to_string().contains(p), "names the virtual path: {e}");
        assert!(
            !e.to_string().contains(s.outside.to_str().unwrap()),
            "never the host path: {e}"
        );
        assert_eq!(
            kind(run(b.read(p, 0, 10))),
            ErrorKind::PermissionDenied,
            "{p}"
        );
        assert_eq!(kind(run(b.exists(p))), ErrorKind::PermissionDenied, "{p}");
        assert_eq!(
            kind(run(b.edit(
                p,
                "TOPSECRET",
                "owned",
                deepagent_core::Replace::Once
            ))),
            ErrorKind::PermissionDenied,
            "{p}"
        );
        assert_eq!(
            kind(run(b.write(p, Bytes::from_static(b"owned")))),
            ErrorKind::PermissionDenied,
            "{p}"
        );
    }
    // Writing a new file into a linked directory (the parent is the link).
    assert_eq!(
        kind(run(b.write("/dirlink/new.txt", Bytes::from_static(b"x")))),
        ErrorKind::PermissionDenied
    );
    assert!(!s.outside.join("new.txt").exists());
    assert_eq!(
        fs::read_to_string(s.outside.join("secret.txt")).unwrap(),
        "TOPSECRET\n"
    );

    for dir in ["/dirlink", "/sub/up"] {
        assert_eq!(
            kind(run(b.ls(dir))),
            ErrorKind::PermissionDenied,
            "ls {dir}"
        );
        assert_eq!(
            kind(run(b.grep(&GrepQuery::new("TOP").path(dir)))),
            ErrorKind::PermissionDenied,
            "grep {dir}"
        );
        assert_eq!(
            kind(run(b.glob(&GlobQuery::new("**").path(dir)))),
            ErrorKind::PermissionDenied,
            "glob {dir}"
        );
    }
    // Listings leave escaping links out; walks never follow them.
    let names: Vec<String> = run(b.ls("/"))
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["sub"]);
    assert!(run(b.ls("/sub")).unwrap().is_empty());
    for ignore_hidden in [true, false] {
        let q = GrepQuery::new("TOPSECRET").ignore_hidden(ignore_hidden);
        assert!(grep_paths(b, q).is_empty());
    }
    assert!(glob_paths(b, GlobQuery::new("**")).is_empty());
}

#[test]
fn symlinks_inside_the_root_work() {
    let s = setup();
    let b = &s.backend;
    run(b.write("/real/data.txt", Bytes::from_static(b"inside\n"))).unwrap();
    symlink("real/data.txt", s.root.join("alias.txt")).unwrap();
    symlink("real", s.root.join("dir")).unwrap();
    assert_eq!(&run(b.read_bytes("/alias.txt")).unwrap()[..], b"inside\n");
    assert_eq!(
        &run(b.read_bytes("/dir/data.txt")).unwrap()[..],
        b"inside\n"
    );
    // Writing through a link updates its target and keeps the link.
    run(b.write("/alias.txt", Bytes::from_static(b"changed\n"))).unwrap();
    assert!(fs::symlink_metadata(s.root.join("alias.txt"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        fs::read_to_string(s.root.join("real/data.txt")).unwrap(),
        "changed\n"
    );
    // Listed as what they point to.
    let ls = run(b.ls("/")).unwrap();
    let kinds: Vec<(&str, bool)> = ls.iter().map(|f| (f.name.as_str(), f.is_dir)).collect();
    assert_eq!(kinds, [("dir", true), ("real", true), ("alias.txt", false)]);
    // A search through the named link reports paths in the caller's terms.
    let hits = run(b.grep(&GrepQuery::new("changed").path("/dir"))).unwrap();
    assert_eq!(hits.matches[0].path, "/dir/data.txt");
}

/// Reads and writes resolve in the kernel (`openat2`, refusing every
/// link) and fall back to the portable resolver for anything else: these
/// are the cases that take the fallback, with the answers they always had.
#[test]
fn links_the_kernel_lookup_refuses_still_resolve_inside() {
    let s = setup();
    let b = &s.backend;
    run(b.write("/real/data.txt", Bytes::from_static(b"one\n"))).unwrap();
    // An absolute link that stays inside (RESOLVE_BENEATH refuses those).
    symlink(s.root.join("real"), s.root.join("abs")).unwrap();
    assert_eq!(&run(b.read_bytes("/abs/data.txt")).unwrap()[..], b"one\n");
    run(b.write("/abs/new.txt", Bytes::from_static(b"two\n"))).unwrap();
    assert_eq!(
        fs::read_to_string(s.root.join("real/new.txt")).unwrap(),
        "two\n"
    );
    // A dangling link as the name: the write replaces the link itself.
    symlink("nowhere.txt", s.root.join("real/dangling.txt")).unwrap();
    run(b.write("/real/dangling.txt", Bytes::from_static(b"three\n"))).unwrap();
    let meta = fs::symlink_metadata(s.root.join("real/dangling.txt")).unwrap();
    assert!(meta.file_type().is_file());
    assert!(!s.root.join("real/nowhere.txt").exists());
    // A missing parent is created; a directory as the name is refused.
    run(b.write("/a/b/c.txt", Bytes::from_static(b"four\n"))).unwrap();
    assert_eq!(
        fs::read_to_string(s.root.join("a/b/c.txt")).unwrap(),
        "four\n"
    );
    assert_eq!(
        kind(run(b.write("/a/b", Bytes::from_static(b"x")))),
        ErrorKind::IsADirectory
    );
    assert_eq!(kind(run(b.read_bytes("/a/b"))), ErrorKind::IsADirectory);
    // A replaced file keeps its mode on the fast way too, minus setuid.
    fs::set_permissions(s.root.join("a/b/c.txt"), fs::Permissions::from_mode(0o4750)).unwrap();
    run(b.write("/a/b/c.txt", Bytes::from_static(b"five\n"))).unwrap();
    let mode = fs::metadata(s.root.join("a/b/c.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o750);
    // grep from a directory reached through the absolute link.
    let hits = run(b.grep(&GrepQuery::new("two").path("/abs"))).unwrap();
    assert_eq!(hits.matches[0].path, "/abs/new.txt");
}

#[test]
fn host_absolute_paths_stay_under_the_root() {
    let s = setup();
    let b = &s.backend;
    let e = run(b.read_bytes("/etc/passwd")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("/etc/passwd"));
    assert!(!e.to_string().contains(s.root.to_str().unwrap()), "{e}");
    let host_path = s.outside.join("secret.txt");
    let host = host_path.to_str().unwrap();
    assert_eq!(kind(run(b.read_bytes(host))), ErrorKind::NotFound);
    // Writing it creates the file under the root, not on the host path.
    run(b.write(host, Bytes::from_static(b"mine"))).unwrap();
    assert_eq!(fs::read_to_string(&host_path).unwrap(), "TOPSECRET\n");
    let inside = s.root.join(host.trim_start_matches('/'));
    assert_eq!(fs::read_to_string(inside).unwrap(), "mine");
    assert_eq!(
        kind(run(b.read_bytes("/../outside/secret.txt"))),
        ErrorKind::InvalidPath
    );
}

#[test]
fn grep_honours_gitignore_inside_and_not_above_the_root() {
    let dir = tempfile::tempdir().unwrap();
    // A repository above the root that ignores the root entirely.
    fs::write(dir.path().join(".gitignore"), "workspace/\n*.txt\n").unwrap();
    let b = LocalBackend::new(dir.path().join("workspace")).unwrap();
    let root = b.root().to_path_buf();
    fs::write(root.join(".gitignore"), "ignored.txt\nbuild/\n").unwrap();
    for p in [
        "kept.txt",
        "ignored.txt",
        "build/out.txt",
        "src/ignored.txt",
        "src/kept.txt",
    ] {
        let path = root.join(p);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "needle\n").unwrap();
    }
    assert_eq!(
        grep_paths(&b, GrepQuery::new("needle")),
        ["/kept.txt", "/src/kept.txt"]
    );
    // From a subdirectory, the root's .gitignore still applies.
    assert_eq!(
        grep_paths(&b, GrepQuery::new("needle").path("/src")),
        ["/src/kept.txt"]
    );
    // A named file is searched even when ignored.
    assert_eq!(
        grep_paths(&b, GrepQuery::new("needle").path("/ignored.txt")),
        ["/ignored.txt"]
    );
    // glob matches what is on disk.
    assert_eq!(glob_paths(&b, GlobQuery::new("**/*.txt")).len(), 5);
}

#[test]
fn grep_skips_binary_and_junk() {
    let s = setup();
    let b = &s.backend;
    let mut bin = b"needle\n".to_vec();
    bin.push(0);
    run(b.write("/bin.dat", Bytes::from(bin))).unwrap();
    // A NUL past the sniffed head does not make a file binary (core's rule).
    let mut late = b"needle\n".to_vec();
    late.extend_from_slice(&[b'x'; 20_000]);
    late.push(0);
    run(b.write("/late.txt", Bytes::from(late))).unwrap();
    for junk in ["node_modules", "target", "__pycache__", ".venv", ".git"] {
        run(b.write(&format!("/{junk}/f.txt"), Bytes::from_static(b"needle\n"))).unwrap();
    }
    run(b.write("/src/a.txt", Bytes::from_static(b"needle\r\n"))).unwrap();
    assert_eq!(
        grep_paths(b, GrepQuery::new("needle")),
        ["/late.txt", "/src/a.txt"]
    );
    let all = grep_paths(b, GrepQuery::new("needle$").ignore_hidden(false));
    assert_eq!(all.len(), 7, "{all:?}");
    // A junk directory named by the query is searched.
    assert_eq!(
        grep_paths(b, GrepQuery::new("needle").path("/node_modules")),
        ["/node_modules/f.txt"]
    );
    // CRLF lines: `$` matches before `\r`, and the `\r` is not reported.
    let hits = run(b.grep(&GrepQuery::new("needle$").path("/src"))).unwrap();
    assert_eq!(hits.matches[0].line, "needle");
}

#[test]
fn writes_leave_no_temp_files_and_keep_permissions() {
    let s = setup();
    let b = &s.backend;
    run(b.write("/tool.sh", Bytes::from_static(b"#!/bin/sh\n"))).unwrap();
    let mode = fs::metadata(s.root.join("tool.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_ne!(mode & 0o044, 0, "new files are not private 0600: {mode:o}");
    fs::set_permissions(s.root.join("tool.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    run(b.write("/tool.sh", Bytes::from_static(b"#!/bin/sh\necho hi\n"))).unwrap();
    run(b.edit("/tool.sh", "hi", "hello", deepagent_core::Replace::Once)).unwrap();
    let mode = fs::metadata(s.root.join("tool.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    let leftovers: Vec<_> = fs::read_dir(&s.root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".deepagent-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A temp file left by a crash is never shown.
    fs::write(s.root.join(".deepagent-tmp-crashed"), "needle").unwrap();
    let names: Vec<String> = run(b.ls("/"))
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["tool.sh"]);
    assert!(grep_paths(b, GrepQuery::new("needle").ignore_hidden(false)).is_empty());
    assert_eq!(glob_paths(b, GlobQuery::new("**")), ["/tool.sh"]);
}

#[test]
fn readers_never_see_half_a_file() {
    let s = setup();
    let b = s.backend.clone();
    let a = Bytes::from(vec![b'a'; 1 << 20]);
    let z = Bytes::from(vec![b'z'; 1 << 20]);
    run(b.write("/big.bin", a.clone())).unwrap();
    run(async {
        let writer = {
            let b = b.clone();
            let (a, z) = (a.clone(), z.clone());
            tokio::spawn(async move {
                for i in 0..20 {
                    let next = if i % 2 == 0 { z.clone() } else { a.clone() };
                    b.write("/big.bin", next).await.unwrap();
                }
            })
        };
        for _ in 0..40 {
            let seen = b.read_bytes("/big.bin").await.unwrap();
            assert!(
                seen == a || seen == z,
                "a torn read of {} bytes",
                seen.len()
            );
        }
        writer.await.unwrap();
    });
}

#[test]
fn max_read_bytes_limits_whole_reads_not_slices() {
    let dir = tempfile::tempdir().unwrap();
    let b = LocalBackend::builder(dir.path())
        .max_read_bytes(100)
        .build()
        .unwrap();
    let content: String = (0..50).map(|i| format!("line {i}\n")).collect();
    run(b.write("/f.txt", Bytes::from(content))).unwrap();
    let e = run(b.read_bytes("/f.txt")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge);
    assert!(e.to_string().contains("/f.txt"));
    assert_eq!(
        kind(run(b.edit(
            "/f.txt",
            "line 3\n",
            "x\n",
            deepagent_core::Replace::Once
        ))),
        ErrorKind::TooLarge
    );
    let slice = run(b.read("/f.txt", 48, 10)).unwrap();
    assert_eq!(slice.lines, ["line 48", "line 49"]);
    assert_eq!(slice.total_lines, 50);
}

#[test]
fn read_slices_a_big_file() {
    let s = setup();
    let path = s.root.join("big.log");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(fs::File::create(&path).unwrap());
        for i in 0..1_000_000 {
            writeln!(f, "entry {i:07} with some padding text").unwrap();
        }
        write!(f, "tail without newline").unwrap();
    }
    let slice = run(s.backend.read("/big.log", 999_998, 5)).unwrap();
    assert_eq!(slice.total_lines, 1_000_001);
    assert_eq!(
        slice.lines,
        [
            "entry 0999998 with some padding text",
            "entry 0999999 with some padding text",
            "tail without newline"
        ]
    );
    assert_eq!(
        kind(run(s.backend.read("/big.log", 1_000_001, 5))),
        ErrorKind::OffsetOutOfRange
    );
}

#[test]
fn read_only_refuses_changes() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.txt"), "hello\n").unwrap();
    let b = LocalBackend::builder(dir.path())
        .read_only(true)
        .build()
        .unwrap();
    assert!(b.is_read_only());
    for e in [
        run(b.write("/a.txt", Bytes::from_static(b"x"))).unwrap_err(),
        run(b.edit("/a.txt", "hello", "bye", deepagent_core::Replace::Once)).unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(
            e.to_string().contains("/a.txt") && e.to_string().contains("read-only"),
            "{e}"
        );
    }
    let sandbox = b.as_sandbox().expect("execute stays enabled");
    let e = run(sandbox.execute("touch b.txt", None)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(!dir.path().join("b.txt").exists());
    assert_eq!(&run(b.read_bytes("/a.txt")).unwrap()[..], b"hello\n");
}

#[test]
fn allowed_directories_are_the_only_ones_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let b = LocalBackend::builder(dir.path())
        .allowed_directories(["/project/src"])
        .build()
        .unwrap();
    let root = b.root().to_path_buf();
    for p in ["project/src/a.rs", "project/secret.txt", "other/b.rs"] {
        let path = root.join(p);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "needle\n").unwrap();
    }
    symlink("../secret.txt", root.join("project/src/link.txt")).unwrap();
    assert_eq!(
        &run(b.read_bytes("/project/src/a.rs")).unwrap()[..],
        b"needle\n"
    );
    run(b.write("/project/src/new.rs", Bytes::from_static(b"needle\n"))).unwrap();
    for p in [
        "/project/secret.txt",
        "/other/b.rs",
        "/project/src/link.txt",
    ] {
        let e = run(b.read_bytes(p)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{p}");
        assert!(
            e.to_string().contains("/project/src"),
            "says what is allowed: {e}"
        );
    }
    assert_eq!(
        kind(run(b.write("/other/c.rs", Bytes::from_static(b"x")))),
        ErrorKind::PermissionDenied
    );
    // Parents list and search only the way to the allowed directory.
    let names: Vec<String> = run(b.ls("/"))
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["project"]);
    let names: Vec<String> = run(b.ls("/project"))
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["src"]);
    assert_eq!(
        grep_paths(&b, GrepQuery::new("needle")),
        ["/project/src/a.rs", "/project/src/new.rs"]
    );
    assert_eq!(
        glob_paths(&b, GlobQuery::new("**")),
        ["/project/src/a.rs", "/project/src/new.rs"]
    );
    assert_eq!(kind(run(b.ls("/other"))), ErrorKind::PermissionDenied);
}

#[test]
fn clones_share_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let b = LocalBackend::builder(dir.path())
        .read_only(true)
        .build()
        .unwrap();
    let c = b.clone();
    assert!(c.is_read_only());
    assert_eq!(c.root(), b.root());
    assert_eq!(Path::new(deepagent_core::Sandbox::id(&c)), b.root());
}

#[test]
fn new_creates_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("a/b/c");
    let b = LocalBackend::new(&root).unwrap();
    assert!(root.is_dir());
    assert!(run(b.ls("/")).unwrap().is_empty());
    fs::write(dir.path().join("file"), "x").unwrap();
    assert!(LocalBackend::new(dir.path().join("file")).is_err());
}

#[test]
fn works_outside_a_tokio_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let b = LocalBackend::new(dir.path()).unwrap();
    use std::future::Future;
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    // A minimal executor: these futures never return Pending outside tokio.
    let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut fut = Box::pin(b.write("/x.txt", Bytes::from_static(b"hi")));
    assert!(matches!(
        fut.as_mut().poll(&mut cx),
        std::task::Poll::Ready(Ok(_))
    ));
    let mut fut = Box::pin(b.read_bytes("/x.txt"));
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(Ok(bytes)) => assert_eq!(&bytes[..], b"hi"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn capped_results_are_the_first_in_order() {
    let s = setup();
    let b = &s.backend;
    for d in 0..12 {
        for f in 0..25 {
            let body = "hit\nmiss\nhit\nhit\n";
            fs::create_dir_all(s.root.join(format!("d{d:02}"))).unwrap();
            fs::write(s.root.join(format!("d{d:02}/f{f:02}.txt")), body).unwrap();
        }
    }
    let all = run(b.grep(&GrepQuery::new("hit").max_count(10_000))).unwrap();
    assert_eq!(all.matches.len(), 900);
    assert!(!all.truncated);
    for cap in [1, 2, 3, 50, 451, 899, 900] {
        let some = run(b.grep(&GrepQuery::new("hit").max_count(cap))).unwrap();
        assert_eq!(some.matches, all.matches[..cap], "grep cap {cap}");
        assert_eq!(some.truncated, cap < 900, "grep cap {cap}");
    }
    let all = run(b.glob(&GlobQuery::new("**/*.txt").max_count(10_000))).unwrap();
    assert_eq!(all.files.len(), 300);
    for cap in [1, 26, 299, 300] {
        let some = run(b.glob(&GlobQuery::new("**/*.txt").max_count(cap))).unwrap();
        assert_eq!(some.files, all.files[..cap], "glob cap {cap}");
        assert_eq!(some.truncated, cap < 300, "glob cap {cap}");
    }
}

/// `delete` and `rename` go through directory handles and never follow a
/// link: deleting a link (or a tree holding one) removes the link, and the
/// directory it points to outside the root is untouched.
#[test]
fn delete_and_rename_never_follow_links_out_of_the_root() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "keep me").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::new(dir.path()).unwrap();
    std::fs::create_dir(dir.path().join("tree")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("tree/out")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        backend.delete("/link", false).await.unwrap();
        assert!(!dir.path().join("link").exists());
        backend.delete("/tree", true).await.unwrap();
        assert!(!dir.path().join("tree").exists());
        // Renaming through a link that leads outside is refused.
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link2")).unwrap();
        let e = backend
            .rename("/link2/secret.txt", "/stolen.txt")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), deepagent_core::ErrorKind::PermissionDenied, "{e}");
        let e = backend
            .delete("/link2/secret.txt", false)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), deepagent_core::ErrorKind::PermissionDenied, "{e}");
    });
    assert_eq!(
        std::fs::read_to_string(outside.path().join("secret.txt")).unwrap(),
        "keep me"
    );
}

/// Where each single-file call may find itself: a task on a worker of the
/// multi-thread runtime (`block_in_place`), that runtime's `block_on`
/// (blocking pool), a blocking-pool thread that re-enters the runtime with
/// `Handle::block_on` (inline), the current-thread runtime (blocking pool)
/// and no runtime at all (inline).
/// Each path writes, edits and reads back the same bytes, and a worker
/// running single-file calls in place leaves the runtime free: a second
/// task keeps being polled meanwhile.
#[test]
fn single_file_calls_work_from_every_kind_of_thread() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    let dir = tempfile::tempdir().expect("temp dir");
    let backend = Arc::new(LocalBackend::new(dir.path()).expect("backend"));
    async fn round_trip(b: &LocalBackend, name: &str) {
        let path = format!("/{name}.txt");
        b.write(&path, Bytes::from_static(b"alpha\n"))
            .await
            .expect("write");
        b.edit(&path, "alpha", "beta", deepagent_core::Replace::Once)
            .await
            .expect("edit");
        assert!(b.exists(&path).await.expect("exists"));
        assert_eq!(&b.read_bytes(&path).await.expect("read")[..], b"beta\n");
        b.rename(&path, &format!("/{name}-moved.txt"))
            .await
            .expect("rename");
    }

    // One worker: a call that blocked it (instead of handing its tasks to
    // another thread) would starve the ticker for the whole loop.
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .expect("runtime");
    let b = backend.clone();
    let done = Arc::new(AtomicBool::new(false));
    let ticks = Arc::new(AtomicU64::new(0));
    let ticker = {
        let (done, ticks) = (done.clone(), ticks.clone());
        multi.spawn(async move {
            while !done.load(Ordering::Relaxed) {
                ticks.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        })
    };
    let ticks_meanwhile = multi
        .block_on(multi.spawn({
            let ticks = ticks.clone();
            async move {
                let before = ticks.load(Ordering::Relaxed);
                for i in 0..200 {
                    round_trip(&b, &format!("worker{i}")).await;
                }
                ticks.load(Ordering::Relaxed) - before
            }
        }))
        .expect("worker task");
    done.store(true, Ordering::Relaxed);
    multi.block_on(ticker).expect("ticker");
    assert!(
        ticks_meanwhile > 0,
        "the other task was never polled while 200 round trips ran"
    );

    multi.block_on(round_trip(&backend, "block_on"));

    let b = backend.clone();
    let handle = multi.handle().clone();
    multi
        .block_on(multi.spawn_blocking(move || handle.block_on(round_trip(&b, "blocking"))))
        .expect("blocking thread");

    let current = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    current.block_on(round_trip(&backend, "current"));

    futures_lite_block_on(round_trip(&backend, "none"));
    for name in ["worker199", "block_on", "blocking", "current", "none"] {
        assert_eq!(
            fs::read(dir.path().join(format!("{name}-moved.txt"))).expect("moved file"),
            b"beta\n"
        );
    }
}

/// Polls a future to completion without any runtime (our calls never
/// return `Pending` outside one: they run inline).
fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}
