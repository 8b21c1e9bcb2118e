//! Conformance cases: grep.

use super::*;

/// grep takes a regex and reports 1-based line numbers and the line.
pub async fn grep_regex_and_line_numbers(b: B) {
    put(
        &b,
        "/code/app.rs",
        "use std::io;\n\nfn main() {\n    run(42);\n}\nfn run(n: u32) {}\n",
    )
    .await;
    // From /code: searching from `/` is root_spellings_agree's rule, and
    // a container's `/` holds other files with digits in them.
    let hits = grep(&b, GrepQuery::new(r"fn \w+\(").path("/code")).await;
    let got: Vec<(u64, &str)> = hits
        .iter()
        .map(|m| (m.line_number, m.line.as_str()))
        .collect();
    assert_eq!(got, [(3, "fn main() {"), (6, "fn run(n: u32) {}")]);
    assert!(hits.iter().all(|m| m.path == "/code/app.rs"));
    let hits = grep(&b, GrepQuery::new(r"\d{2}").path("/code")).await;
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

/// case_insensitive and fixed_strings mean what they say. Searched in a
/// directory of its own: `a.b` is a wide regex, and a backend's `/` may
/// hold more than this case wrote (a container's `/etc/hostname`).
pub async fn grep_flags(b: B) {
    put(&b, "/flags/f.txt", "Hello\nhello\na.b\naxb\n").await;
    let q = |pattern: &str| GrepQuery::new(pattern).path("/flags");
    assert_eq!(grep(&b, q("hello")).await.len(), 1);
    assert_eq!(grep(&b, q("hello").case_insensitive(true)).await.len(), 2);
    assert_eq!(grep(&b, q("a.b")).await.len(), 2);
    let lit = grep(&b, q("a.b").fixed_strings(true)).await;
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
