//! Conformance cases: write.

use super::*;

/// Bytes written come back unchanged, and the write reports path and size.
pub async fn write_read_round_trip(b: B) {
    let res = ok(
        &b,
        "write",
        b.write("/hello.txt", Bytes::from_static(b"hello world\n"))
            .await,
    );
    assert_eq!(res.path, "/hello.txt");
    assert_eq!(res.size, 12);
    assert_eq!(&get(&b, "/hello.txt").await[..], b"hello world\n");
    assert!(ok(&b, "exists", b.exists("/hello.txt").await));
}

/// Every byte value survives, including invalid UTF-8 and NUL.
pub async fn binary_round_trip(b: B) {
    let mut content: Vec<u8> = (0..=255u8).collect();
    content.extend_from_slice(&[0xff, 0xfe, 0x00, b'\r', b'\n', 0xc3, 0x28]);
    put(&b, "/bin/blob.dat", content.clone()).await;
    assert_eq!(
        &get(&b, "/bin/blob.dat").await[..],
        &content[..],
        "binary content changed"
    );
}

/// Names with spaces, non-Latin scripts and emoji work in paths and content.
pub async fn unicode_spaces_and_emoji(b: B) {
    let files = [
        ("/dir with spaces/file name.txt", "spaces ok\n"),
        ("/ünïcödé/файл.md", "Привет, мир\n"),
        ("/emoji/🦀 crab.rs", "fn main() { println!(\"🦀\"); }\n"),
        ("/quotes/it's \"quoted\".txt", "q\n"),
    ];
    for (p, c) in files {
        put(&b, p, c).await;
    }
    for (p, c) in files {
        assert_eq!(&get(&b, p).await[..], c.as_bytes(), "content of {p}");
    }
    let ls = ok(&b, "ls", b.ls("/emoji").await);
    assert_eq!(ls.len(), 1);
    assert_eq!(ls[0].name, "🦀 crab.rs");
    assert_eq!(ls[0].path, "/emoji/🦀 crab.rs");
    let hits = grep(&b, GrepQuery::new("мир")).await;
    assert_eq!(grep_paths(&hits), ["/ünïcödé/файл.md"]);
    assert_eq!(
        paths_of_glob(&b, "**/*.rs", "/").await,
        ["/emoji/🦀 crab.rs"]
    );
}

/// Parents are implied, however deep.
pub async fn deep_paths(b: B) {
    let deep = "/a/b/c/d/e/f/g/h/i/j/deep.txt";
    put(&b, deep, "deep\n").await;
    assert_eq!(&get(&b, deep).await[..], b"deep\n");
    let ls = ok(&b, "ls /a/b", b.ls("/a/b").await);
    assert_eq!(ls.len(), 1);
    assert!(
        ls[0].is_dir,
        "implied directory /a/b/c must list as a directory"
    );
    assert_eq!(ls[0].path, "/a/b/c");
}

/// A rewrite replaces the whole content, also with something shorter.
pub async fn overwrite_replaces_whole_file(b: B) {
    // In a directory of its own, so a backend whose `/` is not empty (a
    // container) runs it unscoped too; the directory listing still shows
    // that no second file (a leftover temp file) appeared.
    put(&b, "/ow/o.txt", "a long first version\n").await;
    put(&b, "/ow/o.txt", "short").await;
    assert_eq!(&get(&b, "/ow/o.txt").await[..], b"short");
    let ls = ok(&b, "ls", b.ls("/ow").await);
    assert_eq!(ls.len(), 1);
    assert_eq!(ls[0].size, Some(5));
}

/// An empty file exists, reads as nothing and has zero lines.
pub async fn empty_file(b: B) {
    put(&b, "/empty.txt", "").await;
    assert!(ok(&b, "exists", b.exists("/empty.txt").await));
    assert!(get(&b, "/empty.txt").await.is_empty());
    let slice = ok(&b, "read", b.read("/empty.txt", 0, 10).await);
    assert!(slice.lines.is_empty());
    assert_eq!(slice.total_lines, 0);
}

/// A file cannot be used as a directory; the file survives the attempt.
pub async fn write_below_a_file_fails(b: B) {
    put(&b, "/f.txt", "keep").await;
    let res = b.write("/f.txt/child.txt", Bytes::from_static(b"x")).await;
    assert!(
        res.is_err(),
        "[{}] writing below a file must fail, got {res:?}",
        b.name()
    );
    assert_eq!(&get(&b, "/f.txt").await[..], b"keep");
}

/// Writing a file over a directory fails; the directory survives.
pub async fn write_onto_directory_fails(b: B) {
    put(&b, "/d/inner.txt", "keep").await;
    let res = b.write("/d", Bytes::from_static(b"x")).await;
    assert!(
        res.is_err(),
        "[{}] writing onto a directory must fail, got {res:?}",
        b.name()
    );
    assert_eq!(&get(&b, "/d/inner.txt").await[..], b"keep");
}
