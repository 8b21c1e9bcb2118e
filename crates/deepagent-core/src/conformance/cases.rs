//! One function per behaviour. Each takes an empty backend and panics with
//! a message naming the rule when the backend breaks it.

use std::sync::Arc;

use bytes::Bytes;

use crate::text::render_read;
use crate::{
    Backend, BackendError, ErrorKind, GlobQuery, GrepMatch, GrepQuery, Result, DEFAULT_READ_LIMIT,
};

type B = Arc<dyn Backend>;

async fn put(b: &B, path: &str, content: impl Into<Bytes>) {
    if let Err(e) = b.write(path, content.into()).await {
        panic!("[{}] write {path:?} failed: {e}", b.name());
    }
}

async fn get(b: &B, path: &str) -> Bytes {
    match b.read_bytes(path).await {
        Ok(c) => c,
        Err(e) => panic!("[{}] read_bytes {path:?} failed: {e}", b.name()),
    }
}

#[track_caller]
fn ok<T>(b: &B, what: &str, res: Result<T>) -> T {
    match res {
        Ok(v) => v,
        Err(e) => panic!("[{}] {what} failed: {e}", b.name()),
    }
}

#[track_caller]
fn expect_err<T: std::fmt::Debug>(
    b: &B,
    what: &str,
    res: Result<T>,
    kind: ErrorKind,
) -> BackendError {
    match res {
        Ok(v) => panic!("[{}] {what}: expected {kind:?}, got Ok({v:?})", b.name()),
        Err(e) => {
            assert_eq!(
                e.kind(),
                kind,
                "[{}] {what}: expected {kind:?}, got {e}",
                b.name()
            );
            e
        }
    }
}

async fn paths_of_glob(b: &B, pattern: &str, base: &str) -> Vec<String> {
    let res = ok(b, "glob", b.glob(&GlobQuery::new(pattern).path(base)).await);
    res.files.into_iter().map(|f| f.path).collect()
}

async fn grep(b: &B, q: GrepQuery) -> Vec<GrepMatch> {
    ok(
        b,
        &format!("grep {:?} in {:?}", q.pattern, q.path),
        b.grep(&q).await,
    )
    .matches
}

fn grep_paths(matches: &[GrepMatch]) -> Vec<&str> {
    let mut v: Vec<&str> = matches.iter().map(|m| m.path.as_str()).collect();
    v.dedup();
    v
}

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
    put(&b, "/o.txt", "a long first version\n").await;
    put(&b, "/o.txt", "short").await;
    assert_eq!(&get(&b, "/o.txt").await[..], b"short");
    let ls = ok(&b, "ls", b.ls("/").await);
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
        b.edit("n/m/../m/f.txt", "abc", "xyz", crate::Replace::Once)
            .await,
    );
    assert_eq!(e.path, "/n/m/f.txt");
    assert_eq!(e.occurrences, 1);
}

fn numbered(n: usize) -> String {
    (1..=n).map(|i| format!("line {i}\n")).collect()
}

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

/// A unique match is replaced once.
pub async fn edit_unique(b: B) {
    put(&b, "/e.py", "def hello():\n    return 1\n").await;
    let r = ok(
        &b,
        "edit",
        b.edit("/e.py", "return 1", "return 2", crate::Replace::Once)
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
        b.edit("/e.txt", "beta", "gamma", crate::Replace::Once)
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
        b.edit("/e.txt", "x = 1", "x = 2", crate::Replace::Once)
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
        b.edit("/e.txt", "foo", "qux", crate::Replace::All).await,
    );
    assert_eq!(r.occurrences, 3);
    assert_eq!(&get(&b, "/e.txt").await[..], b"qux bar qux baz qux");
    let r = ok(
        &b,
        "edit",
        b.edit("/e.txt", "bar", "BAR", crate::Replace::All).await,
    );
    assert_eq!(r.occurrences, 1, "replace_all with one match counts one");
}

/// Editing a missing file is NotFound.
pub async fn edit_missing_file(b: B) {
    expect_err(
        &b,
        "edit missing",
        b.edit("/missing.txt", "a", "b", crate::Replace::Once).await,
        ErrorKind::NotFound,
    );
}

/// An empty old string is refused, not treated as "match everywhere".
pub async fn edit_invalid_arguments(b: B) {
    put(&b, "/e.txt", "abc").await;
    expect_err(
        &b,
        "edit empty old",
        b.edit("/e.txt", "", "x", crate::Replace::Once).await,
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
        b.edit("/mixed.bin", "VERSION=1", "VERSION=2", crate::Replace::Once)
            .await,
    );
    let mut expected = vec![0xff, 0x00, 0xfe];
    expected.extend_from_slice(b"VERSION=2");
    expected.extend_from_slice(&[0x80, 0x0a]);
    assert_eq!(&get(&b, "/mixed.bin").await[..], &expected[..]);
}

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
    let root = ok(&b, "ls /", b.ls("/").await);
    assert_eq!(root.len(), 1);
    assert_eq!((root[0].name.as_str(), root[0].is_dir), ("ls", true));
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

/// `**` recurses; other patterns are relative to the base.
pub async fn glob_recursive_and_relative(b: B) {
    for p in [
        "/g/a.py",
        "/g/src/b.py",
        "/g/src/deep/c.py",
        "/g/src/d.txt",
        "/other/e.py",
    ] {
        put(&b, p, "x").await;
    }
    assert_eq!(
        paths_of_glob(&b, "**/*.py", "/g").await,
        ["/g/a.py", "/g/src/b.py", "/g/src/deep/c.py"]
    );
    assert_eq!(
        paths_of_glob(&b, "*.py", "/g").await,
        ["/g/a.py"],
        "* does not cross /"
    );
    assert_eq!(paths_of_glob(&b, "src/*.py", "/g").await, ["/g/src/b.py"]);
    assert_eq!(
        paths_of_glob(&b, "src/**", "/g").await,
        ["/g/src/b.py", "/g/src/d.txt", "/g/src/deep/c.py"]
    );
    assert_eq!(
        paths_of_glob(&b, "**/*.py", "/").await,
        ["/g/a.py", "/g/src/b.py", "/g/src/deep/c.py", "/other/e.py"]
    );
    assert_eq!(paths_of_glob(&b, "g/*.{py,txt}", "/").await, ["/g/a.py"]);
    let res = ok(&b, "glob", b.glob(&GlobQuery::new("*.py").path("/g")).await);
    assert_eq!(res.files[0].name, "a.py");
    assert!(!res.files[0].is_dir);
}

/// glob returns files, never directories.
pub async fn glob_files_only(b: B) {
    put(&b, "/f/dir/inner.txt", "x").await;
    put(&b, "/f/top.txt", "x").await;
    assert_eq!(
        paths_of_glob(&b, "**", "/f").await,
        ["/f/dir/inner.txt", "/f/top.txt"]
    );
    assert_eq!(paths_of_glob(&b, "*", "/f").await, ["/f/top.txt"]);
}

/// Globbing under a directory that does not exist finds nothing.
pub async fn glob_missing_base_is_empty(b: B) {
    put(&b, "/present.txt", "x").await;
    let res = ok(
        &b,
        "glob",
        b.glob(&GlobQuery::new("**").path("/absent")).await,
    );
    assert!(res.files.is_empty() && !res.truncated);
}

/// max_count caps results; reaching it exactly is not truncation.
pub async fn glob_cap_and_truncation(b: B) {
    for i in 0..5 {
        put(&b, &format!("/cap/f{i}.txt"), "x").await;
    }
    let res = ok(
        &b,
        "glob",
        b.glob(&GlobQuery::new("*.txt").path("/cap").max_count(3))
            .await,
    );
    assert_eq!(res.files.len(), 3);
    assert!(res.truncated);
    assert_eq!(
        res.files[0].path, "/cap/f0.txt",
        "the cap keeps the first results by path"
    );
    let res = ok(
        &b,
        "glob",
        b.glob(&GlobQuery::new("*.txt").path("/cap").max_count(5))
            .await,
    );
    assert_eq!(res.files.len(), 5);
    assert!(
        !res.truncated,
        "exactly max_count results is not truncation"
    );
}

/// A glob that does not parse is InvalidPattern.
pub async fn glob_invalid_pattern(b: B) {
    put(&b, "/x.txt", "x").await;
    expect_err(
        &b,
        "glob [",
        b.glob(&GlobQuery::new("src/[a-")).await,
        ErrorKind::InvalidPattern,
    );
}

/// grep takes a regex and reports 1-based line numbers and the line.
pub async fn grep_regex_and_line_numbers(b: B) {
    put(
        &b,
        "/code/app.rs",
        "use std::io;\n\nfn main() {\n    run(42);\n}\nfn run(n: u32) {}\n",
    )
    .await;
    let hits = grep(&b, GrepQuery::new(r"fn \w+\(")).await;
    let got: Vec<(u64, &str)> = hits
        .iter()
        .map(|m| (m.line_number, m.line.as_str()))
        .collect();
    assert_eq!(got, [(3, "fn main() {"), (6, "fn run(n: u32) {}")]);
    assert!(hits.iter().all(|m| m.path == "/code/app.rs"));
    let hits = grep(&b, GrepQuery::new(r"\d{2}")).await;
    assert_eq!(hits.len(), 2, "42 and u32: {hits:?}");
}

/// A file path searches that file; a directory path searches below it.
pub async fn grep_file_vs_directory(b: B) {
    put(&b, "/s/one.txt", "match here\n").await;
    put(&b, "/s/two.txt", "match there\n").await;
    put(&b, "/t/three.txt", "match elsewhere\n").await;
    assert_eq!(
        grep_paths(&grep(&b, GrepQuery::new("match").path("/s/one.txt")).await),
        ["/s/one.txt"]
    );
    assert_eq!(
        grep_paths(&grep(&b, GrepQuery::new("match").path("/s")).await),
        ["/s/one.txt", "/s/two.txt"]
    );
    assert_eq!(grep(&b, GrepQuery::new("match")).await.len(), 3);
}

/// The glob filter picks files by name (or by relative path with `/`).
pub async fn grep_glob_filter(b: B) {
    put(&b, "/p/app.py", "TODO py\n").await;
    put(&b, "/p/lib/util.py", "TODO util\n").await;
    put(&b, "/p/notes.md", "TODO md\n").await;
    let hits = grep(&b, GrepQuery::new("TODO").glob("*.py")).await;
    assert_eq!(grep_paths(&hits), ["/p/app.py", "/p/lib/util.py"]);
    let hits = grep(&b, GrepQuery::new("TODO").path("/p").glob("lib/*.py")).await;
    assert_eq!(grep_paths(&hits), ["/p/lib/util.py"]);
    let hits = grep(&b, GrepQuery::new("TODO").glob("*.{md,txt}")).await;
    assert_eq!(grep_paths(&hits), ["/p/notes.md"]);
    expect_err(
        &b,
        "bad grep glob",
        b.grep(&GrepQuery::new("TODO").glob("[z-")).await,
        ErrorKind::InvalidPattern,
    );
}

/// Hidden entries are skipped while walking, searched when asked or named.
pub async fn grep_hidden_entries(b: B) {
    put(&b, "/h/visible.txt", "token\n").await;
    put(&b, "/h/.secret.txt", "token\n").await;
    put(&b, "/h/.cache/inner.txt", "token\n").await;
    assert_eq!(
        grep_paths(&grep(&b, GrepQuery::new("token")).await),
        ["/h/visible.txt"]
    );
    assert_eq!(
        grep_paths(&grep(&b, GrepQuery::new("token").ignore_hidden(false)).await),
        ["/h/.cache/inner.txt", "/h/.secret.txt", "/h/visible.txt"]
    );
    assert_eq!(
        grep_paths(&grep(&b, GrepQuery::new("token").path("/h/.secret.txt")).await),
        ["/h/.secret.txt"],
        "a hidden file named by the query is searched"
    );
    assert_eq!(
        grep_paths(&grep(&b, GrepQuery::new("token").path("/h/.cache")).await),
        ["/h/.cache/inner.txt"],
        "a hidden directory named by the query is searched"
    );
}

/// A regex that does not compile is InvalidPattern, never "no matches".
pub async fn grep_invalid_regex(b: B) {
    put(&b, "/x.txt", "(unclosed\n").await;
    let e = expect_err(
        &b,
        "grep (",
        b.grep(&GrepQuery::new("(unclosed")).await,
        ErrorKind::InvalidPattern,
    );
    assert!(
        e.to_string().contains("(unclosed"),
        "message names the pattern: {e}"
    );
}

/// Binary files are not searched.
pub async fn grep_skips_binary(b: B) {
    put(&b, "/bin.dat", b"token\x00\x01\x02 token\n".to_vec()).await;
    put(&b, "/text.txt", "token\n").await;
    assert_eq!(
        grep_paths(&grep(&b, GrepQuery::new("token")).await),
        ["/text.txt"]
    );
}

/// max_count caps matches; reaching it exactly is not truncation.
pub async fn grep_cap_and_truncation(b: B) {
    put(&b, "/many.txt", "hit\n".repeat(10)).await;
    let res = ok(
        &b,
        "grep",
        b.grep(&GrepQuery::new("hit").max_count(4)).await,
    );
    assert_eq!(res.matches.len(), 4);
    assert!(res.truncated);
    assert_eq!(res.matches[0].line_number, 1);
    let res = ok(
        &b,
        "grep",
        b.grep(&GrepQuery::new("hit").max_count(10)).await,
    );
    assert_eq!(res.matches.len(), 10);
    assert!(
        !res.truncated,
        "exactly max_count matches is not truncation"
    );
}

/// grep in a missing path is NotFound.
pub async fn grep_missing_path(b: B) {
    put(&b, "/x.txt", "x\n").await;
    expect_err(
        &b,
        "grep missing",
        b.grep(&GrepQuery::new("x").path("/nope")).await,
        ErrorKind::NotFound,
    );
}

/// case_insensitive and fixed_strings mean what they say.
pub async fn grep_flags(b: B) {
    put(&b, "/f.txt", "Hello\nhello\na.b\naxb\n").await;
    assert_eq!(grep(&b, GrepQuery::new("hello")).await.len(), 1);
    assert_eq!(
        grep(&b, GrepQuery::new("hello").case_insensitive(true))
            .await
            .len(),
        2
    );
    assert_eq!(grep(&b, GrepQuery::new("a.b")).await.len(), 2);
    let lit = grep(&b, GrepQuery::new("a.b").fixed_strings(true)).await;
    assert_eq!(lit.len(), 1);
    assert_eq!(lit[0].line, "a.b");
}

/// Matches are sorted by path, then line.
pub async fn grep_sorted_across_files(b: B) {
    put(&b, "/z/last.txt", "k\nk\n").await;
    put(&b, "/a/first.txt", "x\nk\n").await;
    put(&b, "/m/mid.txt", "k\n").await;
    let hits = grep(&b, GrepQuery::new("^k$")).await;
    let got: Vec<(&str, u64)> = hits
        .iter()
        .map(|m| (m.path.as_str(), m.line_number))
        .collect();
    assert_eq!(
        got,
        [
            ("/a/first.txt", 2),
            ("/m/mid.txt", 1),
            ("/z/last.txt", 1),
            ("/z/last.txt", 2)
        ]
    );
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
            b.edit(p, "a", "b", crate::Replace::Once).await,
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
    assert!(
        ok(&b, "ls /", b.ls("/").await).is_empty(),
        "a refused write must not create anything"
    );
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

/// Concurrent edits of one file are serialized: no update is lost.
pub async fn concurrent_edits_lose_nothing(b: B) {
    put(&b, "/log.txt", "END").await;
    let tasks: Vec<_> = (0..16)
        .map(|t| {
            let b = b.clone();
            async move {
                for i in 0..8 {
                    let token = format!("t{t}-{i};END");
                    if let Err(e) = b
                        .edit("/log.txt", "END", &token, crate::Replace::Once)
                        .await
                    {
                        panic!("[{}] concurrent edit failed: {e}", b.name());
                    }
                }
            }
        })
        .collect();
    futures::future::join_all(tasks).await;
    let text = String::from_utf8(get(&b, "/log.txt").await.to_vec()).unwrap_or_default();
    for t in 0..16 {
        for i in 0..8 {
            assert!(
                text.contains(&format!("t{t}-{i};")),
                "lost update t{t}-{i}: {text}"
            );
        }
    }
    assert!(text.ends_with("END"));
}

/// Concurrent writes to different files all land.
pub async fn concurrent_writes_distinct_files(b: B) {
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let b = b.clone();
            async move {
                let path = format!("/par/{}/f{i}.txt", i % 4);
                if let Err(e) = b.write(&path, Bytes::from(format!("content {i}"))).await {
                    panic!("[{}] write {path} failed: {e}", b.name());
                }
            }
        })
        .collect();
    futures::future::join_all(tasks).await;
    for i in 0..40 {
        let path = format!("/par/{}/f{i}.txt", i % 4);
        assert_eq!(get(&b, &path).await, Bytes::from(format!("content {i}")));
    }
    assert_eq!(paths_of_glob(&b, "**/*.txt", "/par").await.len(), 40);
}
