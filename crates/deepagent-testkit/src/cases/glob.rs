//! Conformance cases: glob.

use super::*;

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
