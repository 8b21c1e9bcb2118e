//! DockerSandbox against a real engine: execute, timeouts, output caps,
//! hostile names, modes, relative paths, lifecycle and images. Each test
//! skips (printing why) without an engine, and fails instead when
//! DEEPAGENT_REQUIRE_DOCKER=1 (as `cargo xtask test-docker` sets).

mod common;

use std::time::{Duration, Instant};

use deepagent_core::{Backend, GlobQuery, GrepQuery, Sandbox};
use deepagent_docker::{DockerSandbox, PackageManager, RuntimeConfig, SessionManager};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_interleaves_output_and_reports_exit_codes() {
    let Some((sb, _cleanup)) = common::busybox().await else {
        return;
    };
    let res = sb
        .execute("echo out; echo err >&2; exit 3", None)
        .await
        .unwrap();
    assert_eq!(res.exit_code, 3);
    assert!(
        res.output.contains("out\n") && res.output.contains("err\n"),
        "{res:?}"
    );
    assert!(!res.truncated && !res.timed_out);
    // Commands start in the work dir; relative file paths are taken from
    // `/`, as on every backend.
    sb.write("workspace/rel/note.txt", "hello".into())
        .await
        .unwrap();
    let res = sb.execute("pwd; cat rel/note.txt", None).await.unwrap();
    assert_eq!(res.output, "/workspace\nhello");
    assert!(sb.exists("/workspace/rel/note.txt").await.unwrap());
    // Network is off by default: only the loopback interface exists.
    let res = sb.execute("ls /sys/class/net", None).await.unwrap();
    assert_eq!(res.output.trim(), "lo");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_the_whole_command_and_leaves_nothing_running() {
    let Some((sb, _cleanup)) = common::busybox().await else {
        return;
    };
    let start = Instant::now();
    let res = sb
        .execute(
            "echo started; sleep 300 & sh -c 'sleep 301; echo never'",
            Some(Duration::from_secs(2)),
        )
        .await
        .unwrap();
    let took = start.elapsed();
    assert_eq!(res.exit_code, 124, "{res:?}");
    assert!(res.timed_out);
    assert!(res.output.starts_with("started\n"), "{res:?}");
    assert!(res.output.contains("timed out"), "{res:?}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    let ps = sb.execute("ps -o pid,args", None).await.unwrap();
    assert!(
        !ps.output.contains("sleep 30"),
        "leftover processes:\n{}",
        ps.output
    );
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_output_is_capped() {
    let Some((sb, _cleanup)) = common::busybox().await else {
        return;
    };
    // 100 MB through the stream; memory stays at the cap.
    let res = sb
        .execute(
            "head -c 100000000 /dev/zero | tr '\\000' x; echo; echo done >&2",
            None,
        )
        .await
        .unwrap();
    assert_eq!(res.exit_code, 0);
    assert!(res.truncated);
    assert_eq!(res.output.len(), deepagent_core::DEFAULT_OUTPUT_LIMIT);
    assert!(res.output.bytes().all(|b| b == b'x'));
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_round_trip_through_every_operation() {
    let Some((sb, _cleanup)) = common::busybox().await else {
        return;
    };
    let names = [
        "/workspace/h/with space.txt",
        "/workspace/h/quote'single.txt",
        "/workspace/h/quote\"double.txt",
        "/workspace/h/$(touch pwned).txt",
        "/workspace/h/`touch pwned2`.txt",
        "/workspace/h/new\nline.txt",
        "/workspace/h/-rf.txt",
        "/workspace/h/dir with space/inner;rm -rf.txt",
    ];
    for (i, name) in names.iter().enumerate() {
        sb.write(name, format!("needle {i}\n").into())
            .await
            .unwrap();
    }
    for (i, name) in names.iter().enumerate() {
        assert_eq!(
            sb.read_bytes(name).await.unwrap(),
            format!("needle {i}\n").as_bytes()
        );
        assert!(sb.exists(name).await.unwrap(), "{name:?}");
    }
    let found = sb
        .glob(&GlobQuery::new("**").path("/workspace/h"))
        .await
        .unwrap();
    let mut expected: Vec<&str> = names.to_vec();
    expected.sort();
    let got: Vec<&str> = found.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(got, expected);
    let hits = sb
        .grep(&GrepQuery::new(r"needle \d").path("/workspace/h"))
        .await
        .unwrap();
    let got: Vec<&str> = hits.matches.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(got, expected);
    let ls = sb.ls("/workspace/h").await.unwrap();
    assert_eq!(ls.len(), names.len());
    assert!(ls[0].is_dir && ls[0].name == "dir with space");
    sb.edit(
        "/workspace/h/new\nline.txt",
        "needle",
        "pin",
        deepagent_core::Replace::Once,
    )
    .await
    .unwrap();
    assert_eq!(
        sb.read_bytes("/workspace/h/new\nline.txt").await.unwrap(),
        "pin 5\n".as_bytes()
    );
    // Nothing was executed by a name.
    assert!(!sb.exists("/workspace/pwned").await.unwrap());
    assert!(!sb.exists("/workspace/pwned2").await.unwrap());
    let res = sb
        .execute("ls / /workspace | grep -c pwned", None)
        .await
        .unwrap();
    assert_eq!(res.output.trim(), "0");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_is_exact_and_edit_keeps_the_mode() {
    let Some((sb, _cleanup)) = common::busybox().await else {
        return;
    };
    let bytes: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    sb.write("/workspace/bin.dat", bytes.clone().into())
        .await
        .unwrap();
    assert_eq!(sb.read_bytes("/workspace/bin.dat").await.unwrap(), bytes);
    let sum = sb
        .execute("md5sum /workspace/bin.dat | cut -d' ' -f1", None)
        .await
        .unwrap();
    assert_eq!(sum.output.trim().len(), 32);
    sb.write("/workspace/run.sh", "#!/bin/sh\necho one\n".into())
        .await
        .unwrap();
    sb.execute("chmod 750 /workspace/run.sh", None)
        .await
        .unwrap();
    sb.edit(
        "/workspace/run.sh",
        "one",
        "two",
        deepagent_core::Replace::Once,
    )
    .await
    .unwrap();
    let res = sb
        .execute("stat -c %a /workspace/run.sh && /workspace/run.sh", None)
        .await
        .unwrap();
    assert_eq!(res.output, "750\ntwo\n");
    // Symlinks are followed for reads and edits. (Commands run as uid
    // 65534, which may write the work dir but not `/`.)
    sb.execute("ln -s /workspace/run.sh /workspace/link.sh", None)
        .await
        .unwrap();
    assert!(sb
        .read_bytes("/workspace/link.sh")
        .await
        .unwrap()
        .starts_with(b"#!/bin/sh"));
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_container_is_reported_and_shutdown_is_final() {
    let Some((sb, _cleanup)) = common::busybox().await else {
        return;
    };
    assert!(!sb.is_started());
    sb.write("/workspace/x.txt", "x".into()).await.unwrap();
    assert!(sb.is_started() && sb.is_alive().await);
    // Kill the container behind the sandbox's back.
    let status = std::process::Command::new("docker")
        .args(["rm", "-f", sb.container_name()])
        .output()
        .expect("docker CLI");
    assert!(status.status.success());
    let err = sb
        .read_bytes("/workspace/x.txt")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no longer running"), "{err}");
    let err = sb.execute("true", None).await.unwrap_err().to_string();
    assert!(err.contains("no longer running"), "{err}");
    sb.shutdown().await.unwrap();
    let err = sb.ls("/").await.unwrap_err().to_string();
    assert!(err.contains("shut down"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_image_names_image_and_runtime() {
    if !common::ready(&common::busybox_image()).await {
        return;
    }
    let sb = DockerSandbox::new(RuntimeConfig::new(
        "ghost-runtime",
        "deepagent-test/absent:nope",
    ))
    .unwrap();
    let err = sb.execute("true", None).await.unwrap_err().to_string();
    assert!(
        err.contains("deepagent-test/absent:nope") && err.contains("ghost-runtime"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_runtime_is_built_once_and_cached_by_content() {
    let base = common::busybox_image();
    let runtime = RuntimeConfig::new("built-test", "unused")
        .build_from(&base, PackageManager::Apt, Vec::<String>::new())
        .setup_command(format!(
            "mkdir -p /opt/marker && echo {} > /opt/marker/id",
            std::process::id()
        ))
        .env("GREETING", "hello from the build");
    let Some((sb, _cleanup)) = common::sandbox(runtime.clone()).await else {
        return;
    };
    let tag = runtime.effective_image().unwrap();
    let res = sb
        .execute("cat /opt/marker/id; echo $GREETING", None)
        .await
        .unwrap();
    assert_eq!(
        res.output,
        format!("{}\nhello from the build\n", std::process::id())
    );
    sb.shutdown().await.unwrap();
    // A second sandbox finds the tag and does not build again: the image
    // id is unchanged.
    let id = |tag: &str| {
        let out = std::process::Command::new("docker")
            .args(["image", "inspect", "-f", "{{.Id}}", tag])
            .output()
            .expect("docker CLI");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let first = id(&tag);
    let sb2 = DockerSandbox::new(runtime).unwrap();
    let _cleanup2 = common::Cleanup(sb2.container_name().to_owned());
    sb2.start().await.unwrap();
    assert_eq!(id(&tag), first);
    sb2.shutdown().await.unwrap();
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &tag])
        .output();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_uid_apply() {
    let runtime = RuntimeConfig::new("limits", common::busybox_image())
        .memory_limit(64 << 20)
        .pids_limit(64)
        .cpu_limit(0.5)
        .run_as_uid(65534);
    let Some((sb, _cleanup)) = common::sandbox(runtime).await else {
        return;
    };
    let res = sb
        .execute("id -u; touch mine && echo ok", None)
        .await
        .unwrap();
    assert_eq!(res.output, "65534\nok\n", "{res:?}");
    let out = std::process::Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}} {{.HostConfig.NetworkMode}} {{index .Config.Labels \"deepagent.sandbox\"}}",
            sb.container_name(),
        ])
        .output()
        .expect("docker CLI");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "67108864 64 500000000 none 1"
    );
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_manager_reuses_replaces_and_reaps() {
    if !common::ready(&common::busybox_image()).await {
        return;
    }
    let sessions = SessionManager::new(
        RuntimeConfig::new("sessions", common::busybox_image()).run_as_image_user(),
        Duration::from_secs(3),
    );
    let a = sessions.get("alice").await.unwrap();
    let _ca = common::Cleanup(a.container_name().to_owned());
    a.write("/workspace/a.txt", "1".into()).await.unwrap();
    let again = sessions.get("alice").await.unwrap();
    assert_eq!(again.container_name(), a.container_name());
    let b = sessions.get("bob").await.unwrap();
    let _cb = common::Cleanup(b.container_name().to_owned());
    assert_ne!(b.container_name(), a.container_name());
    assert_eq!(b.session(), "bob");
    // A dead sandbox is replaced by a fresh one.
    std::process::Command::new("docker")
        .args(["rm", "-f", a.container_name()])
        .output()
        .expect("docker CLI");
    let replaced = sessions.get("alice").await.unwrap();
    let _cr = common::Cleanup(replaced.container_name().to_owned());
    assert_ne!(replaced.container_name(), a.container_name());
    replaced
        .write("/workspace/r.txt", "1".into())
        .await
        .unwrap();
    b.exists("/workspace/started").await.unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    // Bob was used just now; alice's sandbox has been idle past 3 s.
    b.exists("/workspace/keep-bob-busy").await.unwrap();
    let reaped = sessions.reap_idle().await.unwrap();
    assert_eq!(reaped, ["alice"]);
    assert!(!replaced.is_alive().await);
    assert_eq!(sessions.sessions().await, ["bob"]);
    sessions.shutdown_all().await.unwrap();
    assert!(!b.is_alive().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_image_runs_python() {
    let runtime = RuntimeConfig::new("python-test", common::python_image());
    let Some((sb, _cleanup)) = common::sandbox(runtime).await else {
        return;
    };
    sb.write("/workspace/calc.py", "print(sum(range(10)))\n".into())
        .await
        .unwrap();
    let res = sb.execute("python3 calc.py", None).await.unwrap();
    assert_eq!((res.exit_code, res.output.as_str()), (0, "45\n"), "{res:?}");
    // GNU tools (coreutils, findutils, tar) serve the listings too.
    let hits = sb
        .grep(&GrepQuery::new(r"sum\(").path("/workspace"))
        .await
        .unwrap();
    assert_eq!(hits.matches.len(), 1);
    assert_eq!(hits.matches[0].path, "/workspace/calc.py");
    let ls = sb.ls("/workspace").await.unwrap();
    assert_eq!(ls.len(), 1);
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_job_does_not_hold_execute_open() {
    let Some((sb, _cleanup)) = common::busybox().await else {
        return;
    };
    // The shell exits at once; the engine closes the stream shortly after
    // even though `sleep` still holds it, so this is not a timeout.
    let res = sb
        .execute("sleep 40 & echo launched", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!((res.exit_code, res.timed_out), (0, false), "{res:?}");
    assert_eq!(res.output, "launched\n");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_isolated_and_may_run_concurrently() {
    let Some((sb, _cleanup)) = common::busybox().await else {
        return;
    };
    // Nothing leaks from one command to the next: not the directory, not
    // the environment, not stdin.
    let first = sb
        .execute("cd /tmp && export LEAK=1 && cat", None)
        .await
        .unwrap();
    assert_eq!(first.exit_code, 0, "{first:?}");
    let second = sb.execute("pwd; echo \"[$LEAK]\"", None).await.unwrap();
    assert_eq!(second.output, "/workspace\n[]\n");
    // Concurrent commands each get their own answer.
    let runs = (0..6).map(|i| {
        let sb = sb.clone();
        async move {
            sb.execute(&format!("sleep 0.$((RANDOM % 3)); echo {i}"), None)
                .await
        }
    });
    let results = futures::future::join_all(runs).await;
    for (i, res) in results.into_iter().enumerate() {
        assert_eq!(res.unwrap().output, format!("{i}\n"));
    }
    sb.shutdown().await.unwrap();
}
