//! File content through the persistent shells (small files) and through
//! the archive API (large files, and sandboxes with the shell path off):
//! both must behave the same, byte for byte and error for error. Also the
//! error a command gets when its container dies under it.

mod common;

use std::time::Duration;

use bytes::Bytes;
use deepagent_core::{Backend, BackendError, Sandbox};
use deepagent_docker::{DockerSandbox, RuntimeConfig};

/// A busybox sandbox whose commands run as the image's user (root): these
/// tests prepare files with commands only root may run (`chown`, `rm
/// /bin/dd`) and expect root-owned files.
async fn root_busybox() -> Option<(DockerSandbox, common::Cleanup)> {
    common::sandbox(RuntimeConfig::new("test-busybox", common::busybox_image()).run_as_image_user())
        .await
}

/// A busybox sandbox with the default limits (small files through the
/// shell) and one that keeps every file operation on the archive API.
async fn both() -> Option<Vec<(&'static str, DockerSandbox, common::Cleanup)>> {
    let (shell, c1) = root_busybox().await?;
    let archive = DockerSandbox::builder(
        RuntimeConfig::new("test-archive", common::busybox_image()).run_as_image_user(),
    )
    .shell_file_limits(0, 0)
    .build()
    .expect("runtime");
    let c2 = common::Cleanup(archive.container_name().to_owned());
    Some(vec![("shell", shell, c1), ("archive", archive, c2)])
}

async fn sh(sb: &DockerSandbox, command: &str) -> String {
    let res = sb.execute(command, None).await.expect("execute");
    assert_eq!(res.exit_code, 0, "{command}: {}", res.output);
    res.output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_and_awkward_content_round_trips_exactly() {
    let Some(sandboxes) = both().await else {
        return;
    };
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("/b/all256.bin", all_bytes.clone()),
        ("/b/all256x3.bin", all_bytes.repeat(3)),
        ("/b/crlf.txt", b"one\r\ntwo\r\n".to_vec()),
        ("/b/no-newline.txt", b"last line".to_vec()),
        (
            "/b/bad-utf8.txt",
            vec![0xff, 0xfe, b'a', 0xc3, 0x28, 0, b'\n'],
        ),
        ("/b/newlines.txt", b"\n\n\n".to_vec()),
        ("/b/dash -n 'x' $(y).txt", b"-n\n".to_vec()),
        ("/b/trailing-newline-name\n", b"named\n".to_vec()),
    ];
    for (mode, sb, _c) in &sandboxes {
        for (path, content) in &cases {
            sb.write(path, Bytes::from(content.clone()))
                .await
                .unwrap_or_else(|e| panic!("{mode}: write {path:?}: {e}"));
            let got = sb
                .read_bytes(path)
                .await
                .unwrap_or_else(|e| panic!("{mode}: read {path:?}: {e}"));
            assert_eq!(&got[..], &content[..], "{mode}: {path:?}");
            assert!(sb.exists(path).await.unwrap(), "{mode}: {path:?}");
        }
        // On disk, too: the container sees exactly the 256 bytes.
        let dump = sh(sb, "od -An -v -tx1 /b/all256.bin | tr -d ' \\n'").await;
        let want: String = all_bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(dump, want, "{mode}");
        assert_eq!(
            sh(sb, "stat -c '%a %u %g' /b/all256.bin").await.trim(),
            "644 0 0",
            "{mode}"
        );
        // Writes leave no temp files behind (the command's own output
        // file is the only one).
        assert_eq!(
            sh(
                sb,
                "find / -xdev -name '.deepagent-*' ! -name \"*-$DEEPAGENT_EXEC\""
            )
            .await,
            "",
            "{mode}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_files_round_trip() {
    let Some(sandboxes) = both().await else {
        return;
    };
    for (mode, sb, _c) in &sandboxes {
        sb.write("/e/new-empty", Bytes::new()).await.unwrap();
        assert_eq!(sb.read_bytes("/e/new-empty").await.unwrap().len(), 0);
        // Overwriting content with nothing empties the file.
        sb.write("/e/was-full", "content\n".into()).await.unwrap();
        sb.write("/e/was-full", Bytes::new()).await.unwrap();
        assert_eq!(sb.read_bytes("/e/was-full").await.unwrap().len(), 0);
        assert_eq!(
            sh(sb, "wc -c < /e/new-empty; wc -c < /e/was-full").await,
            "0\n0\n",
            "{mode}"
        );
        assert!(sb.exists("/e/new-empty").await.unwrap());
        // And the sandbox still answers afterwards (no stray bytes).
        sb.write("/e/after", "after\n".into()).await.unwrap();
        assert_eq!(sb.read_bytes("/e/after").await.unwrap(), "after\n");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_above_the_thresholds_take_the_archive_path_and_round_trip() {
    let Some((sb, _cleanup)) = root_busybox().await else {
        return;
    };
    // 3 MiB: written through the shell (<= 4 MiB), read as an archive
    // (> 2 MiB). 5 MiB: both ways as archives.
    for mib in [3usize, 5] {
        let content: Vec<u8> = (0..mib * 1024 * 1024)
            .map(|i| (i.wrapping_mul(31) % 251) as u8)
            .collect();
        let path = format!("/big/{mib}.bin");
        sb.write(&path, content.clone().into()).await.unwrap();
        let got = sb.read_bytes(&path).await.unwrap();
        assert!(got == content, "{mib} MiB file differs");
        assert_eq!(
            sh(&sb, &format!("wc -c < {path}")).await.trim(),
            (mib * 1024 * 1024).to_string()
        );
        // Small requests still work on the same sandbox afterwards.
        sb.write("/big/small", "s".into()).await.unwrap();
        assert_eq!(sb.read_bytes("/big/small").await.unwrap(), "s");
    }
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_onto_a_directory_or_under_a_file_fails_cleanly() {
    let Some(sandboxes) = both().await else {
        return;
    };
    for (mode, sb, _c) in &sandboxes {
        sb.write("/d/sub/keep.txt", "keep".into()).await.unwrap();
        let err = sb.write("/d/sub", "x".into()).await.unwrap_err();
        assert!(
            matches!(err, BackendError::IsADirectory { .. }),
            "{mode}: {err}"
        );
        // The directory and its contents are untouched.
        assert_eq!(sb.read_bytes("/d/sub/keep.txt").await.unwrap(), "keep");
        let err = sb.read_bytes("/d/sub").await.unwrap_err();
        assert!(
            matches!(err, BackendError::IsADirectory { .. }),
            "{mode}: {err}"
        );

        sb.write("/d/file", "f".into()).await.unwrap();
        for under in ["/d/file/x", "/d/file/a/b"] {
            let err = sb.write(under, "x".into()).await.unwrap_err();
            assert!(
                matches!(err, BackendError::NotADirectory { .. }),
                "{mode}: {under}: {err}"
            );
        }
        assert_eq!(sb.read_bytes("/d/file").await.unwrap(), "f");

        let err = sb.read_bytes("/d/missing").await.unwrap_err();
        assert!(err.is_not_found(), "{mode}: {err}");
        let err = sb.read_bytes("/d/file/x").await.unwrap_err();
        assert!(err.is_not_found(), "{mode}: {err}");
        assert!(!sb.exists("/d/missing").await.unwrap());
        assert!(!sb.exists("/d/sub").await.unwrap());

        sh(sb, "mkfifo /d/fifo").await;
        let err = sb.read_bytes("/d/fifo").await.unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{mode}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_mount_is_permission_denied() {
    let host = std::env::temp_dir().join(format!("deepagent-ro-{}", std::process::id()));
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("there.txt"), "there\n").unwrap();
    let runtime = RuntimeConfig::new("test-ro", common::busybox_image()).volume(
        host.to_string_lossy(),
        "/ro",
        true,
    );
    let Some((sb, _cleanup)) = common::sandbox(runtime).await else {
        return;
    };
    assert_eq!(sb.read_bytes("/ro/there.txt").await.unwrap(), "there\n");
    for path in ["/ro/new.txt", "/ro/there.txt", "/ro/sub/new.txt"] {
        let err = sb.write(path, "x".into()).await.unwrap_err();
        assert!(
            matches!(err, BackendError::PermissionDenied { .. }),
            "{path}: {err}"
        );
    }
    let err = sb
        .edit(
            "/ro/there.txt",
            "there",
            "here",
            deepagent_core::Replace::Once,
        )
        .await;
    assert!(
        matches!(err, Err(BackendError::PermissionDenied { .. })),
        "{err:?}"
    );
    assert_eq!(
        std::fs::read_to_string(host.join("there.txt")).unwrap(),
        "there\n"
    );
    sb.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&host);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_through_a_symlink_keeps_the_link_mode_and_owner() {
    let Some(sandboxes) = both().await else {
        return;
    };
    for (mode, sb, _c) in &sandboxes {
        sb.write("/s/real/tool.sh", "#!/bin/sh\necho one\n".into())
            .await
            .unwrap();
        sh(
            sb,
            "chown 123:45 /s/real/tool.sh && chmod 4751 /s/real/tool.sh && ln -s real/tool.sh /s/link.sh && ln -s /s/link.sh /s/link2.sh",
        )
        .await;
        let res = sb
            .edit("/s/link2.sh", "one", "two", deepagent_core::Replace::Once)
            .await
            .unwrap();
        assert_eq!(res.occurrences, 1);
        assert_eq!(
            sh(
                sb,
                "[ -L /s/link.sh ] && [ -L /s/link2.sh ] && stat -c '%a %u %g' /s/real/tool.sh && cat /s/real/tool.sh"
            )
            .await,
            "4751 123 45\n#!/bin/sh\necho two\n",
            "{mode}"
        );
        // A plain write onto a link replaces the link, as the archive
        // API always did; the file it named is left alone.
        sb.write("/s/link.sh", "replaced\n".into()).await.unwrap();
        assert_eq!(
            sh(
                sb,
                "[ ! -L /s/link.sh ] && cat /s/link.sh /s/real/tool.sh && stat -c %a /s/link.sh"
            )
            .await,
            "replaced\n#!/bin/sh\necho two\n644\n",
            "{mode}"
        );
        // Edit errors leave the file alone.
        let err = sb
            .edit(
                "/s/real/tool.sh",
                "absent",
                "x",
                deepagent_core::Replace::Once,
            )
            .await;
        assert!(err.is_err(), "{mode}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_files_belong_to_the_run_as_user() {
    let runtime = RuntimeConfig::new("test-owner", common::busybox_image()).run_as_uid(4321);
    let Some((sb, _cleanup)) = common::sandbox(runtime).await else {
        return;
    };
    // The file tools act as the run-as user: not theirs to create a
    // directory in `/`.
    let err = sb
        .write("/owned/new.txt", "mine\n".into())
        .await
        .unwrap_err();
    assert!(
        matches!(err, BackendError::PermissionDenied { .. }),
        "{err:?}"
    );
    sb.write("/workspace/owned/new.txt", "mine\n".into())
        .await
        .unwrap();
    sb.write("/workspace/notes.txt", "relative\n".into())
        .await
        .unwrap();
    let owners = sh(
        &sb,
        "touch by-command && stat -c '%a %u %g' /workspace/owned/new.txt /workspace/notes.txt by-command; echo appended >> notes.txt && echo ok",
    )
    .await;
    let owners: Vec<&str> = owners.lines().collect();
    assert!(owners[2].starts_with("644 4321 "), "{owners:?}");
    assert_eq!(owners[0], owners[2]);
    assert_eq!(owners[1], owners[2]);
    assert_eq!(owners[3], "ok");
    sb.edit(
        "/workspace/notes.txt",
        "relative",
        "edited",
        deepagent_core::Replace::Once,
    )
    .await
    .unwrap();
    assert_eq!(
        sb.read_bytes("/workspace/notes.txt").await.unwrap(),
        "edited\nappended\n"
    );
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_to_different_files_all_land() {
    let Some((sb, _cleanup)) = root_busybox().await else {
        return;
    };
    sb.start().await.unwrap();
    const N: usize = 48;
    let writes = (0..N).map(|i| {
        let sb = sb.clone();
        async move {
            let content = format!("file {i}\n").repeat(i + 1);
            sb.write(&format!("/c/dir{}/f{i}.txt", i % 4), content.into())
                .await
                .map(|_| ())
        }
    });
    for res in futures::future::join_all(writes).await {
        res.unwrap();
    }
    let reads = (0..N).map(|i| {
        let sb = sb.clone();
        async move {
            let got = sb
                .read_bytes(&format!("/c/dir{}/f{i}.txt", i % 4))
                .await
                .unwrap();
            assert_eq!(got, format!("file {i}\n").repeat(i + 1));
        }
    });
    futures::future::join_all(reads).await;
    assert_eq!(
        sh(&sb, "find /c -type f | wc -l").await.trim(),
        N.to_string()
    );
    // Concurrent edits of one file (serialized by the path lock) and
    // writes of others interleave without losing any.
    sb.write("/c/log", "END\n".into()).await.unwrap();
    let edits = (0..16).map(|i| {
        let sb = sb.clone();
        async move {
            sb.write(&format!("/c/other{i}"), "o".into()).await.unwrap();
            sb.edit(
                "/c/log",
                "END",
                &format!("line {i}\nEND"),
                deepagent_core::Replace::Once,
            )
            .await
            .unwrap();
        }
    });
    futures::future::join_all(edits).await;
    let log = sb.read_bytes("/c/log").await.unwrap();
    let log = String::from_utf8_lossy(&log);
    for i in 0..16 {
        assert!(log.contains(&format!("line {i}\n")), "{log}");
    }
    assert_eq!(log.lines().count(), 17, "{log}");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_whose_container_is_killed_names_the_container() {
    let Some((sb, _cleanup)) = root_busybox().await else {
        return;
    };
    sb.write("/x.txt", "x".into()).await.unwrap();
    let running = {
        let sb = sb.clone();
        tokio::spawn(async move {
            sb.execute("sleep 30; echo late", Some(Duration::from_secs(60)))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let status = std::process::Command::new("docker")
        .args(["kill", sb.container_name()])
        .output()
        .expect("docker CLI");
    assert!(status.status.success());
    let err = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the command in flight hung after its container was killed")
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(sb.container_name()) && err.contains("no longer running"),
        "{err}"
    );
    assert!(!err.contains("shell ended"), "{err}");
    // File operations on pooled shells say the same.
    let err = sb.read_bytes("/x.txt").await.unwrap_err().to_string();
    assert!(
        err.contains(sb.container_name()) && err.contains("no longer running"),
        "{err}"
    );
    let err = sb
        .write("/y.txt", "y".into())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no longer running"), "{err}");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_without_the_tools_falls_back_to_archives() {
    let Some((sb, _cleanup)) = root_busybox().await else {
        return;
    };
    // Before any file operation, so the first file shell finds no dd.
    sh(&sb, "rm /bin/dd").await;
    let content: Vec<u8> = (0..=255u8).collect();
    sb.write("/t/bin", content.clone().into()).await.unwrap();
    assert_eq!(sb.read_bytes("/t/bin").await.unwrap(), content);
    assert!(sb.exists("/t/bin").await.unwrap());
    sb.write("/t/text", "a\nb\n".into()).await.unwrap();
    sb.edit("/t/text", "b", "c", deepagent_core::Replace::Once)
        .await
        .unwrap();
    assert_eq!(sb.read_bytes("/t/text").await.unwrap(), "a\nc\n");
    let err = sb.write("/t/text/under", "x".into()).await.unwrap_err();
    assert!(matches!(err, BackendError::NotADirectory { .. }), "{err}");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debian_coreutils_and_dash_serve_files_too() {
    let runtime = RuntimeConfig::new("test-python-files", common::python_image()).run_as_uid(1000);
    let Some((sb, _cleanup)) = common::sandbox(runtime).await else {
        return;
    };
    // In the work dir, which belongs to the run-as user (the file tools
    // act as that user, so they can write nowhere else).
    let content: Vec<u8> = (0..=255u8)
        .rev()
        .chain(b"\r\nend".iter().copied())
        .collect();
    sb.write("/workspace/bin", content.clone().into())
        .await
        .unwrap();
    assert_eq!(sb.read_bytes("/workspace/bin").await.unwrap(), content);
    sb.write("/workspace/empty", Bytes::new()).await.unwrap();
    assert_eq!(sb.read_bytes("/workspace/empty").await.unwrap().len(), 0);
    // The files went through a file shell (as the run-as user, like this
    // command's shell, but started in `/`, not the work dir): it is still
    // up, waiting for the next request, which it would not be had the
    // image lacked what it needs.
    let file_shells = sh(
        &sb,
        "for p in /proc/[0-9]*; do grep -q deepagent-in- $p/cmdline 2>/dev/null && grep -q '^Uid:.1000' $p/status && [ \"$(readlink $p/cwd)\" = / ] && echo $p; done | wc -l",
    )
    .await;
    assert_eq!(file_shells.trim(), "1", "{file_shells}");
    // Owned like what a command creates.
    let owners = sh(
        &sb,
        "touch /workspace/by-command && stat -c '%a %u %g' /workspace/bin /workspace/empty /workspace/by-command",
    )
    .await;
    let owners: Vec<&str> = owners.lines().collect();
    assert!(owners[2].starts_with("644 1000 "), "{owners:?}");
    assert_eq!(owners[0], owners[2]);
    assert_eq!(owners[1], owners[2]);
    sb.write("/workspace/app.py", "print('one')\n".into())
        .await
        .unwrap();
    sb.write("/workspace/link.py", "x".into()).await.unwrap();
    sh(
        &sb,
        "chmod 700 /workspace/app.py && rm /workspace/link.py && ln -s app.py /workspace/link.py",
    )
    .await;
    sb.edit(
        "/workspace/link.py",
        "one",
        "two",
        deepagent_core::Replace::Once,
    )
    .await
    .unwrap();
    assert_eq!(
        sh(
            &sb,
            "[ -L /workspace/link.py ] && stat -c '%a %u' /workspace/app.py && python3 /workspace/link.py"
        )
        .await,
        "700 1000\ntwo\n"
    );
    let err = sb
        .write("/workspace/app.py/x", "x".into())
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::NotADirectory { .. }), "{err}");
    let err = sb.write("/workspace", "x".into()).await.unwrap_err();
    assert!(matches!(err, BackendError::IsADirectory { .. }), "{err}");
    sb.shutdown().await.unwrap();
}

/// `read` of a file past the shell path's limit cuts its slice inside the
/// container (`tail`/`head`, lines counted by busybox `tr | wc` or GNU
/// `wc -l`); it must cut exactly what core's in-memory rules cut, for
/// every awkward ending, and fail the same way past the last line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_slices_in_the_container_agree_with_core() {
    let Some(sandboxes) = both().await else {
        return;
    };
    let python =
        RuntimeConfig::new("test-python-slices", common::python_image()).run_as_image_user();
    if !common::ready(&python.image).await {
        return;
    }
    let gnu = DockerSandbox::builder(python)
        .shell_file_limits(0, 0)
        .build()
        .expect("runtime");
    let _c = common::Cleanup(gnu.container_name().to_owned());
    let cases: Vec<&[u8]> = vec![
        b"",
        b"\n",
        b"\n\n\n",
        b"one",
        b"one\ntwo",
        b"one\r\ntwo\r\n",
        b"a\n\r",
        b"\xff\xfe bad\n\xc3\x28\nend\n",
        b"-n\n-c 5\n--\n",
    ];
    let mut all: Vec<(&str, &DockerSandbox)> =
        sandboxes.iter().map(|(m, sb, _)| (*m, sb)).collect();
    all.push(("gnu archive", &gnu));
    for (mode, sb) in all {
        for (i, content) in cases.iter().enumerate() {
            let path = format!("/workspace/slices/{i}.txt");
            sb.write(&path, Bytes::from(content.to_vec()))
                .await
                .unwrap();
            for (offset, limit) in [(0, 2000), (0, 1), (1, 1), (1, 0), (2, 5), (3, 1), (9, 1)] {
                let want = deepagent_core::text::read_slice(&path, content, offset, limit);
                let got = sb.read(&path, offset, limit).await;
                match (&want, &got) {
                    (Ok(w), Ok(g)) => assert_eq!(
                        (&w.lines, w.total_lines),
                        (&g.lines, g.total_lines),
                        "{mode}: {content:?} at {offset}+{limit}"
                    ),
                    (Err(w), Err(g)) => assert_eq!(
                        w.to_string(),
                        g.to_string(),
                        "{mode}: {content:?} at {offset}+{limit}"
                    ),
                    _ => panic!(
                        "{mode}: {content:?} at {offset}+{limit}: want {want:?}, got {got:?}"
                    ),
                }
            }
        }
        let err = sb
            .read("/workspace/slices/missing.txt", 0, 1)
            .await
            .unwrap_err();
        assert!(
            matches!(err, BackendError::NotFound { .. }),
            "{mode}: {err:?}"
        );
        let err = sb.read("/workspace/slices", 0, 1).await.unwrap_err();
        assert!(
            matches!(err, BackendError::IsADirectory { .. }),
            "{mode}: {err:?}"
        );
    }
}
