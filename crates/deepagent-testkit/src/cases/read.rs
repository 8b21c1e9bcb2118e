//! Conformance cases: read.

use super::*;

/// offset/limit cut the right lines, report the total, render numbered.
pub async fn read_slices(b: B) {
    put(&b, "/ten.txt", numbered(10)).await;
    let s = ok(&b, "read", b.read("/ten.txt", 0, 3).await);
    assert_eq!(s.lines, ["line 1", "line 2", "line 3"]);
    assert_eq!((s.offset, s.total_lines, s.remaining()), (0, 10, 7));
    assert_eq!(s.path, "/ten.txt");
    let rendered = render_read(&s);
    assert!(
        rendered.starts_with("     1\tline 1\n     2\tline 2"),
        "{rendered}"
    );
    assert!(rendered.ends_with("... (7 more lines)"), "{rendered}");
    let s = ok(&b, "read", b.read("/ten.txt", 8, 5).await);
    assert_eq!(s.lines, ["line 9", "line 10"]);
    assert_eq!(s.remaining(), 0);
    assert!(render_read(&s).starts_with("     9\tline 9\n    10\tline 10"));
    assert!(!render_read(&s).contains("more lines"));
    let s = ok(&b, "read", b.read("/ten.txt", 9, 1).await);
    assert_eq!(s.lines, ["line 10"]);
}

/// The default limit stops at 2000 lines and says how many follow.
pub async fn read_default_limit_and_tail(b: B) {
    put(&b, "/long.txt", numbered(2500)).await;
    let s = ok(&b, "read", b.read("/long.txt", 0, DEFAULT_READ_LIMIT).await);
    assert_eq!(s.lines.len(), 2000);
    assert_eq!(s.total_lines, 2500);
    assert!(render_read(&s).ends_with("... (500 more lines)"));
}

/// `\r\n` renders without `\r`; a last line without `\n` counts.
pub async fn read_crlf_and_unterminated_last_line(b: B) {
    put(&b, "/crlf.txt", "a\r\nb\r\nc").await;
    let s = ok(&b, "read", b.read("/crlf.txt", 0, 10).await);
    assert_eq!(s.lines, ["a", "b", "c"]);
    assert_eq!(s.total_lines, 3);
    assert_eq!(
        &get(&b, "/crlf.txt").await[..],
        b"a\r\nb\r\nc",
        "read_bytes stays exact"
    );
}

/// Reading past the end is an error that names the line count.
pub async fn read_past_end_names_line_count(b: B) {
    put(&b, "/three.txt", "1\n2\n3\n").await;
    let e = expect_err(
        &b,
        "read past end",
        b.read("/three.txt", 3, 10).await,
        ErrorKind::OffsetOutOfRange,
    );
    let msg = e.to_string();
    assert!(
        msg.contains('3') && msg.contains("/three.txt"),
        "message must name the file and its 3 lines: {msg}"
    );
    expect_err(
        &b,
        "read far past end",
        b.read("/three.txt", 100, 1).await,
        ErrorKind::OffsetOutOfRange,
    );
}

/// Missing files are NotFound; directories are IsADirectory.
pub async fn read_missing_and_directory(b: B) {
    let e = expect_err(
        &b,
        "read_bytes missing",
        b.read_bytes("/nope.txt").await,
        ErrorKind::NotFound,
    );
    assert!(
        e.to_string().contains("/nope.txt"),
        "message names the path: {e}"
    );
    expect_err(
        &b,
        "read missing",
        b.read("/nope.txt", 0, 10).await,
        ErrorKind::NotFound,
    );
    put(&b, "/dir/f.txt", "f").await;
    expect_err(
        &b,
        "read_bytes dir",
        b.read_bytes("/dir").await,
        ErrorKind::IsADirectory,
    );
    expect_err(
        &b,
        "read dir",
        b.read("/dir", 0, 10).await,
        ErrorKind::IsADirectory,
    );
}
