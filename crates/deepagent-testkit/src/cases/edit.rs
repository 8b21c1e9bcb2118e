//! Conformance cases: edit.

use super::*;

/// A unique match is replaced once.
pub async fn edit_unique(b: B) {
    put(&b, "/e.py", "def hello():\n    return 1\n").await;
    let r = ok(
        &b,
        "edit",
        b.edit(
            "/e.py",
            "return 1",
            "return 2",
            deepagent_core::Replace::Once,
        )
        .await,
    );
    assert_eq!((r.path.as_str(), r.occurrences), ("/e.py", 1));
    assert_eq!(&get(&b, "/e.py").await[..], b"def hello():\n    return 2\n");
}

/// No match is EditNotFound and the file is untouched.
pub async fn edit_not_found_leaves_file(b: B) {
    put(&b, "/e.txt", "alpha\n").await;
    let e = expect_err(
        &b,
        "edit",
        b.edit("/e.txt", "beta", "gamma", deepagent_core::Replace::Once)
            .await,
        ErrorKind::EditNotFound,
    );
    assert!(e.to_string().contains("/e.txt"));
    assert_eq!(&get(&b, "/e.txt").await[..], b"alpha\n");
}

/// Several matches without replace_all is EditAmbiguous with the count.
pub async fn edit_ambiguous_reports_count(b: B) {
    put(&b, "/e.txt", "x = 1\nx = 1\nx = 1\n").await;
    let e = expect_err(
        &b,
        "edit",
        b.edit("/e.txt", "x = 1", "x = 2", deepagent_core::Replace::Once)
            .await,
        ErrorKind::EditAmbiguous,
    );
    match e {
        BackendError::EditAmbiguous { occurrences, .. } => assert_eq!(occurrences, 3),
        other => panic!("unexpected {other}"),
    }
    assert_eq!(&get(&b, "/e.txt").await[..], b"x = 1\nx = 1\nx = 1\n");
}

/// replace_all replaces every match and counts them.
pub async fn edit_replace_all_counts(b: B) {
    put(&b, "/e.txt", "foo bar foo baz foo").await;
    let r = ok(
        &b,
        "edit",
        b.edit("/e.txt", "foo", "qux", deepagent_core::Replace::All)
            .await,
    );
    assert_eq!(r.occurrences, 3);
    assert_eq!(&get(&b, "/e.txt").await[..], b"qux bar qux baz qux");
    let r = ok(
        &b,
        "edit",
        b.edit("/e.txt", "bar", "BAR", deepagent_core::Replace::All)
            .await,
    );
    assert_eq!(r.occurrences, 1, "replace_all with one match counts one");
}

/// Editing a missing file is NotFound.
pub async fn edit_missing_file(b: B) {
    expect_err(
        &b,
        "edit missing",
        b.edit("/missing.txt", "a", "b", deepagent_core::Replace::Once)
            .await,
        ErrorKind::NotFound,
    );
}

/// An empty old string is refused, not treated as "match everywhere".
pub async fn edit_invalid_arguments(b: B) {
    put(&b, "/e.txt", "abc").await;
    expect_err(
        &b,
        "edit empty old",
        b.edit("/e.txt", "", "x", deepagent_core::Replace::Once)
            .await,
        ErrorKind::InvalidArgument,
    );
    assert_eq!(&get(&b, "/e.txt").await[..], b"abc");
}

/// Edits touch only the matched bytes, even in a file that is not UTF-8.
pub async fn edit_preserves_binary_around_text(b: B) {
    let mut content = vec![0xff, 0x00, 0xfe];
    content.extend_from_slice(b"VERSION=1");
    content.extend_from_slice(&[0x80, 0x0a]);
    put(&b, "/mixed.bin", content).await;
    ok(
        &b,
        "edit",
        b.edit(
            "/mixed.bin",
            "VERSION=1",
            "VERSION=2",
            deepagent_core::Replace::Once,
        )
        .await,
    );
    let mut expected = vec![0xff, 0x00, 0xfe];
    expected.extend_from_slice(b"VERSION=2");
    expected.extend_from_slice(&[0x80, 0x0a]);
    assert_eq!(&get(&b, "/mixed.bin").await[..], &expected[..]);
}
