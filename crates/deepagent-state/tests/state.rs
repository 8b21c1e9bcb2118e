//! StateBackend behaviour beyond the shared suite: sharing, timestamps,
//! implied directories, binary content and concurrent edits.

use std::sync::Arc;

use deepagent_core::{Backend, ErrorKind, GlobQuery, GrepQuery};
use deepagent_state::StateBackend;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

#[test]
fn clones_share_the_store() {
    rt().block_on(async {
        let a = StateBackend::new();
        let b = a.clone();
        b.write("x/y.txt", "hi".into()).await.unwrap();
        assert_eq!(a.paths(), ["/x/y.txt"]);
        assert_eq!(a.read_bytes("/x/y.txt").await.unwrap().as_ref(), b"hi");
    });
}

#[test]
fn rewrite_keeps_created_at() {
    rt().block_on(async {
        let s = StateBackend::new();
        s.write("/f", "1".into()).await.unwrap();
        let first = s.get("/f").unwrap().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        s.write("/f", "2".into()).await.unwrap();
        let second = s.get("/f").unwrap().unwrap();
        assert_eq!(second.created_at, first.created_at);
        assert!(second.modified_at > first.modified_at);
        assert_eq!(second.content.as_ref(), b"2");
    });
}

#[test]
fn directories_are_implied_and_guarded() {
    rt().block_on(async {
        let s = StateBackend::new();
        s.write("/a/b/c.txt", "c".into()).await.unwrap();
        assert!(!s.exists("/a").await.unwrap());
        let e = s.write("/a/b", "x".into()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IsADirectory);
        let e = s.write("/a/b/c.txt/d", "x".into()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotADirectory);
        assert!(e.to_string().contains("/a/b/c.txt"), "{e}");
        let e = s.read_bytes("/a").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IsADirectory);
        let e = s.write("/", "x".into()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IsADirectory);
        // A sibling whose name sorts inside the range trick stays separate.
        s.write("/a.txt", "x".into()).await.unwrap();
        s.write("/a0", "x".into()).await.unwrap();
        let names: Vec<_> = s
            .ls("/a")
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(names, ["/a/b"]);
    });
}

#[test]
fn binary_content_survives_and_grep_skips_it() {
    rt().block_on(async {
        let s = StateBackend::new();
        let bytes: Vec<u8> = (0..=255u8).chain(b"needle\n".iter().copied()).collect();
        s.write("/bin", bytes.clone().into()).await.unwrap();
        s.write("/txt", "needle\n".into()).await.unwrap();
        assert_eq!(
            s.read_bytes("/bin").await.unwrap().as_ref(),
            bytes.as_slice()
        );
        let hits = s.grep(&GrepQuery::new("needle")).await.unwrap();
        assert_eq!(hits.matches.len(), 1);
        assert_eq!(hits.matches[0].path, "/txt");
    });
}

#[test]
fn grep_cap_counts_across_files() {
    rt().block_on(async {
        let s = StateBackend::new();
        for i in 0..5 {
            s.write(&format!("/f{i}"), "hit\nhit\n".into())
                .await
                .unwrap();
        }
        let r = s.grep(&GrepQuery::new("hit").max_count(10)).await.unwrap();
        assert_eq!((r.matches.len(), r.truncated), (10, false));
        let r = s.grep(&GrepQuery::new("hit").max_count(3)).await.unwrap();
        assert_eq!((r.matches.len(), r.truncated), (3, true));
        assert_eq!(r.matches[2].path, "/f1");
        let g = s.glob(&GlobQuery::new("*").max_count(5)).await.unwrap();
        assert_eq!((g.files.len(), g.truncated), (5, false));
    });
}

#[test]
fn with_files_rejects_conflicts() {
    assert!(StateBackend::with_files([("/a", "x"), ("/a/b", "y")]).is_err());
    let s = StateBackend::with_files([("/a", b"\0\x01".to_vec())]).unwrap();
    assert_eq!(s.files()["/a"].content.as_ref(), b"\0\x01");
}

#[test]
fn concurrent_edits_lose_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let s = Arc::new(StateBackend::new());
        let n = 50;
        let body: String = (0..n).map(|i| format!("item{i};")).collect();
        s.write("/list", body.into()).await.unwrap();
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move {
                    s.edit(
                        "/list",
                        &format!("item{i};"),
                        &format!("done{i};"),
                        deepagent_core::Replace::Once,
                    )
                    .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let text = String::from_utf8(s.read_bytes("/list").await.unwrap().to_vec()).unwrap();
        assert!(!text.contains("item"), "{text}");
        assert_eq!(text.matches("done").count(), n);
    });
}

/// A path below a file is `NotADirectory`, as on disk (ENOTDIR), for every
/// operation that takes it: not `NotFound`, which would send the model
/// looking for a file that cannot exist.
#[tokio::test]
async fn a_path_below_a_file_is_not_a_directory() {
    let b = StateBackend::new();
    b.write("/file.txt", "x\n".into()).await.unwrap();
    for path in ["/file.txt/x", "/file.txt/x/y"] {
        let read = b.read(path, 0, 10).await.unwrap_err();
        assert_eq!(read.kind(), ErrorKind::NotADirectory, "read {path}: {read}");
        assert!(read.to_string().contains("/file.txt"), "{read}");
        let ls = b.ls(path).await.unwrap_err();
        assert_eq!(ls.kind(), ErrorKind::NotADirectory, "ls {path}: {ls}");
        let bytes = b.read_bytes(path).await.unwrap_err();
        assert_eq!(bytes.kind(), ErrorKind::NotADirectory, "read_bytes {path}");
        assert!(!b.exists(path).await.unwrap());
    }
    // Missing paths with no file on the way stay NotFound.
    assert_eq!(
        b.read("/dir/x", 0, 1).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        b.ls("/nothing").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}
