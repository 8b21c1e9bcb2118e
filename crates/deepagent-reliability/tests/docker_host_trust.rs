//! The host trusts nothing the container says (issue 11, items 1 and 6):
//! a container whose `find` or `tar` lies about counts and sizes gets a
//! clear error naming the sandbox, never an abort of this process; and the
//! file tools act as the command user, never as root behind its back.
//! Skipped without an engine (see `docker_common`).

mod docker_common;

use std::process::Command;

use deepagent_core::{Backend, BackendError, GrepQuery, Sandbox};
use deepagent_docker::{DockerSandbox, RuntimeConfig};
use docker_common::{busybox_image, ready, runtime_name, Sweep};

/// A sandbox on the busybox image as its user (root), with a sweep for
/// its container: the setup plants tools where only root may.
async fn root_sandbox(test: &str) -> Option<(DockerSandbox, Sweep)> {
    if !ready().await {
        return None;
    }
    let name = runtime_name(test);
    let sweep = Sweep(name.clone());
    // The image's user (root): the file tools plant the lying tools.
    let sb =
        DockerSandbox::new(RuntimeConfig::new(&name, busybox_image()).run_as_image_user()).unwrap();
    Some((sb, sweep))
}

/// Runs `script` in the container as root, through the docker CLI: the
/// setup a test needs whatever user the sandbox's commands run as.
fn as_root(sb: &DockerSandbox, script: &str) -> String {
    let out = Command::new("docker")
        .args(["exec", "-u", "0", sb.container_name(), "sh", "-c", script])
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Puts a lying `sh` first on the container's PATH: when the script it is
/// asked to run matches the `case` pattern `pattern`, it runs `action`
/// instead; anything else goes to the real `/bin/sh`. (busybox's own `sh`
/// runs its applets directly, so replacing `/bin/find` or `/bin/tar`
/// would change nothing; a lying `sh` is what a hostile image can ship.)
async fn lying_sh(sb: &DockerSandbox, pattern: &str, action: &str) {
    let script =
        format!("#!/bin/sh\ncase \"$2\" in\n  {pattern}) {action} ;;\nesac\nexec /bin/sh \"$@\"\n");
    sb.write("/usr/local/bin/sh", script.into()).await.unwrap();
    as_root(sb, "chmod 755 /usr/local/bin/sh");
}

fn assert_names_sandbox(err: &BackendError, sb: &DockerSandbox) {
    let text = err.to_string();
    assert!(
        text.contains(sb.container_name()),
        "the error should name the sandbox {}: {text}",
        sb.container_name()
    );
}

/// A `find` that claims a trillion entries used to make the host reserve
/// 24 TB for them and abort (`memory allocation of 24000000000000 bytes
/// failed`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_listing_count_is_an_error_naming_the_sandbox() {
    let Some((sb, _sweep)) = root_sandbox("lying-count").await else {
        return;
    };
    sb.write("/workspace/a.txt", "a\n".into()).await.unwrap();
    // The listing scripts start `find "$1" ...`.
    lying_sh(
        &sb,
        r#"*'find "$1"'*"#,
        r"printf 'B1000000000000\n81a4 1 1\n'; exit 0",
    )
    .await;
    let err = sb.ls("/workspace").await.unwrap_err();
    eprintln!("ls with a lying find: {err}");
    assert_names_sandbox(&err, &sb);
    let err = sb
        .glob(&deepagent_core::GlobQuery::new("**/*.txt"))
        .await
        .unwrap_err();
    assert_names_sandbox(&err, &sb);
    // The sandbox still answers what does not need `find`.
    assert_eq!(sb.read_bytes("/workspace/a.txt").await.unwrap(), "a\n");
    sb.shutdown().await.unwrap();
}

/// A GNU tar header for `name` claiming `size` bytes (base-256 size, as
/// GNU tar writes sizes past 8 GiB).
fn tar_header(name: &str, size: u64) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124] = 0x80;
    h[128..136].copy_from_slice(&size.to_be_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = b'0';
    h[257..265].copy_from_slice(b"ustar  \0");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A `tar` whose header claims a 1 TiB file used to make grep reserve
/// 1 TiB and abort.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_tar_size_is_an_error_naming_the_sandbox() {
    let Some((sb, _sweep)) = root_sandbox("lying-tar").await else {
        return;
    };
    sb.write("/workspace/a.txt", "needle\n".into())
        .await
        .unwrap();
    let mut fake = tar_header("./workspace/a.txt", 1 << 40);
    fake.extend_from_slice(&b"needle\n".repeat(100));
    sb.write("/fake.tar", fake.into()).await.unwrap();
    lying_sh(&sb, "*'exec tar -cf'*", "exec cat /fake.tar").await;
    let err = sb
        .grep(&GrepQuery::new("needle").path("/workspace"))
        .await
        .unwrap_err();
    eprintln!("grep with a lying tar: {err}");
    assert_names_sandbox(&err, &sb);
    assert!(err.to_string().contains("1099511627776"), "{err}");
    sb.shutdown().await.unwrap();
}

/// A `find` that prints without end is cut off with an error, instead of
/// the host buffering all of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_helper_output_is_cut_off() {
    let Some((sb, _sweep)) = root_sandbox("endless").await else {
        return;
    };
    sb.write("/workspace/a.txt", "a\n".into()).await.unwrap();
    lying_sh(&sb, r#"*'find "$1"'*"#, "exec /bin/busybox yes").await;
    let err = tokio::time::timeout(std::time::Duration::from_secs(120), sb.ls("/workspace"))
        .await
        .expect("ls over an endless find should stop on its own")
        .unwrap_err();
    eprintln!("ls with an endless find: {err}");
    assert_names_sandbox(&err, &sb);
    sb.shutdown().await.unwrap();
}

/// A sandbox whose commands run as uid 65534 (nobody), with a root-owned
/// `/etc/passwd` and a root-only `/secret`.
async fn nobody_sandbox(test: &str) -> Option<(DockerSandbox, Sweep)> {
    if !ready().await {
        return None;
    }
    let name = runtime_name(test);
    let sweep = Sweep(name.clone());
    let sb =
        DockerSandbox::new(RuntimeConfig::new(&name, busybox_image()).run_as_uid(65534)).unwrap();
    sb.start().await.unwrap();
    as_root(
        &sb,
        "printf 'root:x:0:0:root:/root:/bin/sh\\n' > /etc/passwd && chmod 644 /etc/passwd && \
         printf 'top secret\\n' > /secret && chmod 600 /secret",
    );
    Some((sb, sweep))
}

fn passwd(sb: &DockerSandbox) -> String {
    as_root(sb, "cat /etc/passwd")
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n";

/// `write`, `edit` and `read` with `run_as_uid` can do what a command can,
/// no more: `/etc/passwd` is not theirs to replace, `/secret` not theirs
/// to read. Small content (the shell path) and large (past its limits)
/// alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_tools_act_as_the_command_user() {
    let Some((sb, _sweep)) = nobody_sandbox("as-user").await else {
        return;
    };
    let whoami = sb.execute("id -u", None).await.unwrap();
    assert_eq!(whoami.output.trim(), "65534");
    let big = "x".repeat(5 * 1024 * 1024);
    for content in ["pwned::0:0::/:/bin/sh\n".to_owned(), big.clone()] {
        let err = sb
            .write("/etc/passwd", content.clone().into())
            .await
            .unwrap_err();
        assert!(
            matches!(err, BackendError::PermissionDenied { .. }),
            "write /etc/passwd as nobody: {err:?}"
        );
        assert_eq!(passwd(&sb), PASSWD);
        let err = sb.write("/etc/new-file", content.into()).await.unwrap_err();
        assert!(
            matches!(err, BackendError::PermissionDenied { .. }),
            "{err:?}"
        );
    }
    let err = sb
        .edit(
            "/etc/passwd",
            "root:x",
            "root:",
            deepagent_core::Replace::Once,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, BackendError::PermissionDenied { .. }),
        "edit /etc/passwd as nobody: {err:?}"
    );
    assert_eq!(passwd(&sb), PASSWD);
    // Reads: the root-only file is not readable, whole or sliced.
    let err = sb.read_bytes("/secret").await.unwrap_err();
    assert!(
        matches!(err, BackendError::PermissionDenied { .. }),
        "read_bytes /secret as nobody: {err:?}"
    );
    let err = sb.read("/secret", 0, 10).await.unwrap_err();
    assert!(
        matches!(err, BackendError::PermissionDenied { .. }),
        "read /secret as nobody: {err:?}"
    );
    let hits = sb.grep(&GrepQuery::new("secret").path("/secret")).await;
    assert!(
        hits.as_ref().map_or(true, |h| h.matches.is_empty()),
        "grep read /secret as nobody: {hits:?}"
    );
    // What the user owns works as before, small and large.
    sb.write("/workspace/mine.txt", "one\n".into())
        .await
        .unwrap();
    sb.edit(
        "/workspace/mine.txt",
        "one",
        "two",
        deepagent_core::Replace::Once,
    )
    .await
    .unwrap();
    let big_file = format!("{big}\ntail\n");
    sb.write("/workspace/big.txt", big_file.clone().into())
        .await
        .unwrap();
    assert_eq!(sb.read_bytes("/workspace/big.txt").await.unwrap(), big_file);
    sb.edit(
        "/workspace/big.txt",
        "tail",
        "TAIL",
        deepagent_core::Replace::Once,
    )
    .await
    .unwrap();
    assert!(sb
        .read_bytes("/workspace/big.txt")
        .await
        .unwrap()
        .ends_with(b"\nTAIL\n"));
    assert_eq!(
        as_root(
            &sb,
            "stat -c '%u' /workspace/mine.txt /workspace/big.txt && cat /workspace/mine.txt"
        ),
        "65534\n65534\ntwo\n"
    );
    sb.shutdown().await.unwrap();
}

/// A symlink a command planted is never written through to a file the
/// command user could not write: `write` replaces the link itself, `edit`
/// through it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_symlink_is_not_written_through() {
    let Some((sb, _sweep)) = nobody_sandbox("planted-link").await else {
        return;
    };
    let big = "y".repeat(5 * 1024 * 1024);
    for (i, target) in ["/etc/passwd", "/secret"].iter().enumerate() {
        let link = format!("/workspace/link{i}");
        let planted = sb
            .execute(&format!("ln -s {target} {link}"), None)
            .await
            .unwrap();
        assert_eq!(planted.exit_code, 0, "{}", planted.output);
        let before = as_root(&sb, &format!("cat {target}"));
        let err = sb
            .edit(&link, "root:x", "root:", deepagent_core::Replace::Once)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                BackendError::PermissionDenied { .. } | BackendError::NotFound { .. }
            ),
            "edit through {link} -> {target}: {err:?}"
        );
        assert!(sb.read_bytes(&link).await.is_err() || *target == "/etc/passwd");
        for content in ["replaced\n".to_owned(), big.clone()] {
            sb.write(&link, content.clone().into()).await.unwrap();
            assert_eq!(as_root(&sb, &format!("cat {target}")), before, "{target}");
            assert_eq!(
                as_root(&sb, &format!("[ ! -L {link} ] && stat -c %u {link}")),
                "65534\n"
            );
            assert_eq!(sb.read_bytes(&link).await.unwrap().len(), content.len());
            // Plant it again for the next round.
            sb.execute(&format!("rm {link} && ln -s {target} {link}"), None)
                .await
                .unwrap();
        }
    }
    sb.shutdown().await.unwrap();
}
