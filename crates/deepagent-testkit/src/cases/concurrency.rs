//! Conformance cases: concurrency.

use super::*;

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
                        .edit("/log.txt", "END", &token, deepagent_core::Replace::Once)
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
