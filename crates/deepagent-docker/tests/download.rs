//! `download` reads many files as one tar in one request, as the command
//! user, each path with its own result.

mod common;

use std::time::Instant;

use bytes::Bytes;
use deepagent_core::{Backend, ErrorKind, Sandbox};
use deepagent_docker::{DockerSandbox, RuntimeConfig};

/// A busybox sandbox whose commands (and so file tools) run as the
/// default, unprivileged command user.
async fn user_busybox() -> Option<(DockerSandbox, common::Cleanup)> {
    common::sandbox(RuntimeConfig::new("test-download", common::busybox_image())).await
}

/// Content that a text-only or line-based path would mangle: every byte
/// value, no final newline, and sizes across tar's 512-byte blocks.
fn content(i: usize) -> Bytes {
    let mut c: Vec<u8> = (0..=255u8).cycle().skip(i).take(i * 37 % 1500).collect();
    c.extend_from_slice(format!("\nfile {i}\r\n\0end").as_bytes());
    Bytes::from(c)
}

/// busybox's `tar` and `sh`.
#[tokio::test]
async fn download_of_200_files_is_byte_exact_with_per_file_errors() {
    let Some((sb, _cleanup)) = user_busybox().await else {
        return;
    };
    two_hundred_files(&sb).await;
}

/// Debian's GNU `tar` (which stores a file reached twice as a hard link)
/// and dash.
#[tokio::test]
async fn download_with_gnu_tar_is_byte_exact_with_per_file_errors() {
    let Some((sb, _cleanup)) = common::sandbox(RuntimeConfig::new(
        "test-download-gnu",
        common::python_image(),
    ))
    .await
    else {
        return;
    };
    two_hundred_files(&sb).await;
}

/// 200 files and a link, a hard link, a duplicate, an empty file, a
/// missing path, a directory, an unreadable file and an invalid path, in
/// one `download`.
async fn two_hundred_files(sb: &DockerSandbox) {
    assert!(sb.info().capabilities.native_batch);
    let files: Vec<(String, Bytes)> = (0..200)
        .map(|i| (format!("/workspace/dl/d{}/f {i}.bin", i % 7), content(i)))
        .collect();
    // Before the upload: `upload` leaves the directories it creates to
    // root, and the command user writes these.
    sb.write("/workspace/dl/empty", Bytes::new())
        .await
        .expect("write");
    // The command user owns it but may not read it: root could, so this
    // only fails when the tar runs as the command user.
    let res = sb
        .execute(
            "echo s > /workspace/dl/secret && chmod 000 /workspace/dl/secret && id -u",
            None,
        )
        .await
        .expect("execute");
    assert_eq!(res.exit_code, 0, "{}", res.output);
    assert_ne!(res.output.trim(), "0", "the command user must not be root");
    sb.upload(files.clone()).await.expect("upload");
    // A link is read as what it leads to, as `read_bytes` does.
    let res = sb
        .execute(
            "ln -s 'd0/f 7.bin' /workspace/dl/link && ln '/workspace/dl/d1/f 8.bin' /workspace/dl/hard",
            None,
        )
        .await
        .expect("execute");
    assert_eq!(res.exit_code, 0, "{}", res.output);

    let mut paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    paths.insert(3, "/workspace/dl/missing.txt");
    paths.insert(50, "/workspace/dl/d1");
    paths.insert(100, "/workspace/dl/empty");
    paths.insert(120, "/workspace/dl/secret");
    paths.insert(150, "/workspace/dl/link");
    paths.insert(160, "/workspace/dl/hard");
    paths.push("../escape");
    paths.push(files[9].0.as_str());

    let got = sb.download(&paths).await.expect("download");
    assert_eq!(got.len(), paths.len());
    for (asked, d) in paths.iter().zip(&got) {
        match *asked {
            "/workspace/dl/missing.txt" => match &d.content {
                Err(e) => assert_eq!(e.kind(), ErrorKind::NotFound, "{e}"),
                Ok(c) => panic!("a missing file gave {c:?}"),
            },
            "/workspace/dl/d1" => match &d.content {
                Err(e) => assert_eq!(e.kind(), ErrorKind::IsADirectory, "{e}"),
                Ok(c) => panic!("a directory gave {c:?}"),
            },
            "/workspace/dl/secret" => match &d.content {
                Err(e) => assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}"),
                Ok(c) => panic!("an unreadable file gave {c:?} (read as root?)"),
            },
            "/workspace/dl/link" => assert_eq!(d.content.as_ref().ok(), Some(&files[7].1)),
            "/workspace/dl/hard" => assert_eq!(d.content.as_ref().ok(), Some(&files[8].1)),
            "/workspace/dl/empty" => assert_eq!(d.content.as_deref().ok(), Some(&b""[..])),
            "../escape" => match &d.content {
                Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidPath, "{e}"),
                Ok(c) => panic!("an invalid path gave {c:?}"),
            },
            p => {
                assert_eq!(d.path, p);
                let want = &files.iter().find(|(f, _)| f == p).expect("asked").1;
                match &d.content {
                    Ok(c) => assert_eq!(c, want, "{p}"),
                    Err(e) => panic!("{p}: {e}"),
                }
            }
        }
    }
}

/// 1,000 small files: one `download` against 1,000 `read_bytes` (the
/// default loop), both byte-exact. Prints both times (measured 6-17x on a
/// shared 2-core machine; the old loop-based `download` was 1.0x); no
/// timing assertion, as everywhere in the tests.
#[tokio::test]
async fn download_beats_a_read_bytes_loop_on_1000_files() {
    let Some((sb, _cleanup)) = user_busybox().await else {
        return;
    };
    let files: Vec<(String, Bytes)> = (0..1000)
        .map(|i| {
            (
                format!("/workspace/many/f{i}.txt"),
                Bytes::from(format!("small file {i}\n")),
            )
        })
        .collect();
    sb.upload(files.clone()).await.expect("upload");
    let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();

    let t = Instant::now();
    let got = sb.download(&paths).await.expect("download");
    let batch = t.elapsed();
    for ((_, want), d) in files.iter().zip(&got) {
        assert_eq!(d.content.as_ref().ok(), Some(want));
    }

    let t = Instant::now();
    for (p, want) in &files {
        assert_eq!(&sb.read_bytes(p).await.expect("read_bytes"), want);
    }
    let looped = t.elapsed();
    println!(
        "1000 small files: download {batch:?}, read_bytes loop {looped:?} ({:.1}x)",
        looped.as_secs_f64() / batch.as_secs_f64()
    );
}
