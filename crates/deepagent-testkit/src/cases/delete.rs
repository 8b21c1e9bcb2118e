//! Conformance cases: delete.

use super::*;

/// `delete` removes a file; a directory needs `recursive`; nothing else is
/// touched; missing and `/` are errors.
pub async fn delete_files_and_directories(b: B) {
    capability::require(&b, "delete");
    put(&b, "/d/a.txt", "a").await;
    put(&b, "/d/sub/b.txt", "b").await;
    put(&b, "/keep.txt", "k").await;
    put(&b, "/dx.txt", "sibling with a shared prefix").await;
    ok(&b, "delete /d/a.txt", b.delete("/d/a.txt", false).await);
    assert!(!ok(&b, "exists", b.exists("/d/a.txt").await));
    expect_err(
        &b,
        "delete of a directory without recursive",
        b.delete("/d", false).await,
        ErrorKind::IsADirectory,
    );
    assert!(ok(&b, "exists", b.exists("/d/sub/b.txt").await));
    ok(&b, "delete /d recursive", b.delete("d/", true).await);
    expect_err(&b, "ls deleted dir", b.ls("/d").await, ErrorKind::NotFound);
    assert_eq!(&get(&b, "/keep.txt").await[..], b"k");
    assert_eq!(
        &get(&b, "/dx.txt").await[..],
        b"sibling with a shared prefix"
    );
    expect_err(
        &b,
        "delete missing",
        b.delete("/missing.txt", false).await,
        ErrorKind::NotFound,
    );
    expect_err(
        &b,
        "delete /",
        b.delete("/", true).await,
        ErrorKind::InvalidArgument,
    );
    expect_err(
        &b,
        "delete ../x",
        b.delete("../x", true).await,
        ErrorKind::InvalidPath,
    );
}
