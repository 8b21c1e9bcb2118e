//! Conformance cases: batch.

use super::*;

/// `upload` writes many files in one call (normalized results, in order)
/// and `download` reads them back, each file with its own result.
pub async fn upload_and_download_batches(b: B) {
    let files: Vec<(String, Bytes)> = (0..40)
        .map(|i| {
            (
                format!("up/d{}/./f{i}.txt", i % 4),
                Bytes::from(format!("file {i}\n")),
            )
        })
        .collect();
    let written = ok(&b, "upload", b.upload(files).await);
    assert_eq!(written.len(), 40);
    assert_eq!(written[5].path, "/up/d1/f5.txt");
    assert_eq!(written[5].size, 7);
    let found = paths_of_glob(&b, "**/*.txt", "/up").await;
    assert_eq!(found.len(), 40);

    let got = ok(
        &b,
        "download",
        b.download(&["/up/d1/f5.txt", "/up/missing.txt", "up/d2/f2.txt", "/up"])
            .await,
    );
    assert_eq!(got.len(), 4);
    assert_eq!(got[0].path, "/up/d1/f5.txt");
    assert_eq!(got[0].content.as_deref().ok(), Some(&b"file 5\n"[..]));
    match &got[1].content {
        Err(e) => assert_eq!(e.kind(), ErrorKind::NotFound, "{e}"),
        Ok(c) => panic!("[{}] download of a missing file gave {c:?}", b.name()),
    }
    assert_eq!(got[2].path, "/up/d2/f2.txt");
    assert_eq!(got[2].content.as_deref().ok(), Some(&b"file 2\n"[..]));
    assert!(got[3].content.is_err(), "a directory is not a file");

    // An invalid path refuses the whole batch before anything is written.
    expect_err(
        &b,
        "upload with an invalid path",
        b.upload(vec![
            ("/up/ok.txt".into(), Bytes::from_static(b"1")),
            ("../escape".into(), Bytes::from_static(b"2")),
        ])
        .await,
        ErrorKind::InvalidPath,
    );
    assert!(!ok(&b, "exists", b.exists("/up/ok.txt").await));
    assert!(ok(&b, "empty upload", b.upload(Vec::new()).await).is_empty());
}
