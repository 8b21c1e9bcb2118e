//! Conformance cases: paths.

use super::*;

/// `rel/x`, `/rel/./x`, `//rel//x` and `/rel/sub/../x` are one file.
pub async fn paths_are_normalized(b: B) {
    put(&b, "rel/x.txt", "x").await;
    for p in [
        "/rel/x.txt",
        "rel/x.txt",
        "/rel/./x.txt",
        "//rel//x.txt",
        "/rel/sub/../x.txt",
        "./rel/x.txt",
    ] {
        assert!(ok(&b, p, b.exists(p).await), "{p} should name /rel/x.txt");
        assert_eq!(&get(&b, p).await[..], b"x");
    }
    assert_eq!(ok(&b, "ls", b.ls("rel/").await).len(), 1);
    // A dotted name is a name, not traversal.
    put(&b, "/a..b/..c", "dots").await;
    assert_eq!(&get(&b, "/a..b/..c").await[..], b"dots");
}

/// Results carry normalized paths.
pub async fn write_result_path_is_normalized(b: B) {
    let w = ok(
        &b,
        "write",
        b.write("./n//m/./f.txt", Bytes::from_static(b"abc")).await,
    );
    assert_eq!(w.path, "/n/m/f.txt");
    let e = ok(
        &b,
        "edit",
        b.edit(
            "n/m/../m/f.txt",
            "abc",
            "xyz",
            deepagent_core::Replace::Once,
        )
        .await,
    );
    assert_eq!(e.path, "/n/m/f.txt");
    assert_eq!(e.occurrences, 1);
}

/// `/`, ``, `.`, `./` and `/.` are the same directory for ls, glob, grep.
pub async fn root_spellings_agree(b: B) {
    put(&b, "/r1.txt", "needle\n").await;
    put(&b, "/sub/r2.txt", "needle\n").await;
    let reference_ls = ok(&b, "ls /", b.ls("/").await);
    let reference_glob = paths_of_glob(&b, "**/*.txt", "/").await;
    let reference_grep = grep(&b, GrepQuery::new("needle")).await;
    assert_eq!(reference_ls.len(), 2);
    assert_eq!(reference_glob, ["/r1.txt", "/sub/r2.txt"]);
    assert_eq!(reference_grep.len(), 2);
    for root in ["", ".", "./", "/.", "//"] {
        assert_eq!(ok(&b, "ls", b.ls(root).await), reference_ls, "ls {root:?}");
        assert_eq!(
            paths_of_glob(&b, "**/*.txt", root).await,
            reference_glob,
            "glob from {root:?}"
        );
        assert_eq!(
            grep(&b, GrepQuery::new("needle").path(root)).await,
            reference_grep,
            "grep in {root:?}"
        );
    }
}

/// Traversal, NUL, `~` and drive letters are InvalidPath in every operation,
/// and nothing is written by the attempts.
pub async fn invalid_paths_everywhere(b: B) {
    let bad = [
        "../x",
        "/../etc/passwd",
        "a/../../b",
        "/a/b/../../../c",
        "x\0y",
        "~/x",
        "~",
        "C:\\Windows\\x",
        "C:/x",
        "..\\x",
    ];
    // What `/` holds before (nothing on an empty backend; a container's
    // own entries otherwise), to check nothing was added.
    let names = |listing: Vec<deepagent_core::FileInfo>| -> Vec<(String, bool)> {
        listing.into_iter().map(|f| (f.name, f.is_dir)).collect()
    };
    let before = names(ok(&b, "ls /", b.ls("/").await));
    for p in bad {
        let ik = ErrorKind::InvalidPath;
        expect_err(&b, &format!("exists {p:?}"), b.exists(p).await, ik);
        expect_err(&b, &format!("ls {p:?}"), b.ls(p).await, ik);
        expect_err(&b, &format!("read_bytes {p:?}"), b.read_bytes(p).await, ik);
        expect_err(&b, &format!("read {p:?}"), b.read(p, 0, 10).await, ik);
        expect_err(
            &b,
            &format!("write {p:?}"),
            b.write(p, Bytes::from_static(b"x")).await,
            ik,
        );
        expect_err(
            &b,
            &format!("edit {p:?}"),
            b.edit(p, "a", "b", deepagent_core::Replace::Once).await,
            ik,
        );
        expect_err(
            &b,
            &format!("glob base {p:?}"),
            b.glob(&GlobQuery::new("**").path(p)).await,
            ik,
        );
        expect_err(
            &b,
            &format!("grep path {p:?}"),
            b.grep(&GrepQuery::new("x").path(p)).await,
            ik,
        );
    }
    assert_eq!(
        names(ok(&b, "ls /", b.ls("/").await)),
        before,
        "a refused write must not create anything"
    );
}
