//! Conformance cases: ls.

use super::*;

/// ls lists direct children only: directories first, then by name.
pub async fn ls_direct_children_sorted(b: B) {
    for p in [
        "/ls/z.txt",
        "/ls/a.txt",
        "/ls/b/c.txt",
        "/ls/b/d/e.txt",
        "/ls/A/x.txt",
        "/ls/m.md",
    ] {
        put(&b, p, "12345").await;
    }
    let ls = ok(&b, "ls", b.ls("/ls").await);
    let names: Vec<(&str, bool)> = ls.iter().map(|f| (f.name.as_str(), f.is_dir)).collect();
    assert_eq!(
        names,
        [
            ("A", true),
            ("b", true),
            ("a.txt", false),
            ("m.md", false),
            ("z.txt", false)
        ],
        "direct children, directories first, then by name"
    );
    assert_eq!(ls[1].path, "/ls/b");
    assert_eq!(ls[2].path, "/ls/a.txt");
    assert_eq!(ls[2].size, Some(5));
    // The implied parent is listed once, as a directory. (Only `ls` is
    // looked at: a container's `/` holds its own entries too.)
    let root = ok(&b, "ls /", b.ls("/").await);
    let at_root: Vec<bool> = root
        .iter()
        .filter(|f| f.name == "ls")
        .map(|f| f.is_dir)
        .collect();
    assert_eq!(at_root, [true], "`ls /` lists /ls once, as a directory");
}

/// ls of a file lists that file.
pub async fn ls_of_file(b: B) {
    put(&b, "/d/f.txt", "abc").await;
    let ls = ok(&b, "ls file", b.ls("/d/f.txt").await);
    assert_eq!(ls.len(), 1);
    assert_eq!(
        (ls[0].name.as_str(), ls[0].path.as_str(), ls[0].is_dir),
        ("f.txt", "/d/f.txt", false)
    );
    assert_eq!(ls[0].size, Some(3));
}

/// ls of a missing path is NotFound.
pub async fn ls_missing(b: B) {
    expect_err(
        &b,
        "ls missing",
        b.ls("/no/such/dir").await,
        ErrorKind::NotFound,
    );
}

/// The root of an empty backend lists as empty, not as an error.
pub async fn ls_empty_root(b: B) {
    assert!(ok(&b, "ls /", b.ls("/").await).is_empty());
    assert!(ok(&b, "glob", b.glob(&GlobQuery::new("**")).await)
        .files
        .is_empty());
    assert!(grep(&b, GrepQuery::new("x")).await.is_empty());
}

/// exists is true for files only.
pub async fn exists_files_dirs_missing(b: B) {
    put(&b, "/x/y.txt", "y").await;
    assert!(ok(&b, "exists file", b.exists("/x/y.txt").await));
    assert!(
        !ok(&b, "exists dir", b.exists("/x").await),
        "a directory is not a stored file"
    );
    assert!(!ok(&b, "exists missing", b.exists("/x/z.txt").await));
    assert!(!ok(&b, "exists missing dir", b.exists("/nope/z.txt").await));
}
