//! Conformance cases: rename.

use super::*;

/// `rename` moves files and directories, replaces a file, implies
/// parents, and refuses directories in the way and moves into itself.
pub async fn rename_files_and_directories(b: B) {
    capability::require(&b, "rename");
    put(&b, "/a.txt", "first").await;
    ok(&b, "rename", b.rename("/a.txt", "/new/dir/b.txt").await);
    assert!(!ok(&b, "exists", b.exists("/a.txt").await));
    assert_eq!(&get(&b, "/new/dir/b.txt").await[..], b"first");

    put(&b, "/c.txt", "second").await;
    ok(
        &b,
        "rename over a file",
        b.rename("/c.txt", "/new/dir/b.txt").await,
    );
    assert_eq!(&get(&b, "/new/dir/b.txt").await[..], b"second");

    put(&b, "/tree/x.txt", "x").await;
    put(&b, "/tree/deep/y.txt", "y").await;
    ok(&b, "rename a directory", b.rename("/tree", "/moved").await);
    assert_eq!(&get(&b, "/moved/x.txt").await[..], b"x");
    assert_eq!(&get(&b, "/moved/deep/y.txt").await[..], b"y");
    expect_err(&b, "ls old dir", b.ls("/tree").await, ErrorKind::NotFound);

    ok(&b, "rename onto itself", b.rename("/moved", "moved/").await);
    expect_err(
        &b,
        "rename missing",
        b.rename("/nope", "/x").await,
        ErrorKind::NotFound,
    );
    expect_err(
        &b,
        "rename onto a directory",
        b.rename("/new/dir/b.txt", "/moved").await,
        ErrorKind::AlreadyExists,
    );
    expect_err(
        &b,
        "rename into itself",
        b.rename("/moved", "/moved/inner").await,
        ErrorKind::InvalidArgument,
    );
    expect_err(
        &b,
        "rename /",
        b.rename("/", "/x").await,
        ErrorKind::InvalidArgument,
    );
    assert_eq!(&get(&b, "/moved/x.txt").await[..], b"x");
}
