//! grep streams the files it searches out of the container as one tar.
//! A `tar` run without `-h` stores the second name of a hard-linked file
//! as a hard-link entry with no content of its own; grep must still search
//! it under that name, as `LocalBackend` and `StateBackend` do (two names,
//! two files to the model).

mod common;

use std::collections::BTreeSet;

use bytes::Bytes;
use deepagent_core::{Backend, GrepQuery, Sandbox};
use deepagent_docker::{DockerSandbox, RuntimeConfig};

/// Hard links in both orders (the link sorting before and after its
/// original), a link chain of three names, and a file between them.
async fn hard_linked_names_are_all_searched(sb: &DockerSandbox) {
    for (path, body) in [
        ("/workspace/g/m.txt", "alpha needle\nbeta\n"),
        ("/workspace/g/plain.txt", "needle once\n"),
        ("/workspace/g/sub/x.txt", "no match\nneedle at two\n"),
    ] {
        sb.write(path, Bytes::from(body)).await.expect("write");
    }
    let made = sb
        .execute(
            "cd /workspace/g && ln m.txt a.txt && ln m.txt z.txt && ln sub/x.txt y.txt",
            None,
        )
        .await
        .expect("ln");
    assert_eq!(made.exit_code, 0, "{}", made.output);

    let found = sb
        .grep(&GrepQuery::new("needle").path("/workspace/g"))
        .await
        .expect("grep");
    let got: BTreeSet<(String, u64, String)> = found
        .matches
        .iter()
        .map(|m| (m.path.clone(), m.line_number, m.line.clone()))
        .collect();
    let want: BTreeSet<(String, u64, String)> = [
        ("/workspace/g/a.txt", 1, "alpha needle"),
        ("/workspace/g/m.txt", 1, "alpha needle"),
        ("/workspace/g/plain.txt", 1, "needle once"),
        ("/workspace/g/sub/x.txt", 2, "needle at two"),
        ("/workspace/g/y.txt", 2, "needle at two"),
        ("/workspace/g/z.txt", 1, "alpha needle"),
    ]
    .into_iter()
    .map(|(p, n, l)| (p.to_owned(), n, l.to_owned()))
    .collect();
    assert_eq!(got, want);
    assert_eq!(
        found.matches.len(),
        6,
        "each name once: {:?}",
        found.matches
    );
    // Sorted by path, as on every backend.
    let paths: Vec<&str> = found.matches.iter().map(|m| m.path.as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);

    // The cap counts the linked names like any other file.
    let capped = sb
        .grep(&GrepQuery::new("needle").path("/workspace/g").max_count(2))
        .await
        .expect("grep capped");
    assert!(capped.truncated);
    let capped: Vec<&str> = capped.matches.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(capped, ["/workspace/g/a.txt", "/workspace/g/m.txt"]);
}

/// Debian's GNU `tar`: the second name of a hard-linked file is a
/// hard-link entry.
#[tokio::test]
async fn grep_finds_every_name_of_a_hard_linked_file_with_gnu_tar() {
    let Some((sb, _cleanup)) = common::sandbox(RuntimeConfig::new(
        "test-grep-links-gnu",
        common::python_image(),
    ))
    .await
    else {
        return;
    };
    hard_linked_names_are_all_searched(&sb).await;
}

/// busybox's `tar`.
#[tokio::test]
async fn grep_finds_every_name_of_a_hard_linked_file_with_busybox_tar() {
    let Some((sb, _cleanup)) = common::sandbox(RuntimeConfig::new(
        "test-grep-links-busybox",
        common::busybox_image(),
    ))
    .await
    else {
        return;
    };
    hard_linked_names_are_all_searched(&sb).await;
}
