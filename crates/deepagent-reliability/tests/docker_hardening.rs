//! Hardened defaults, read back from `docker inspect` and checked from
//! inside the container: every capability dropped but the few the root
//! helpers need, `no-new-privileges`, 512 processes, 2 GiB, commands as
//! uid 65534, an optional CPU quota, an optional read-only root with a
//! writable work dir and a tmpfs `/tmp`, and the OCI runtime field.

mod docker_common;

use deepagent_core::{Backend, Sandbox};
use deepagent_docker::{DockerSandbox, RuntimeConfig, DEFAULT_CAPABILITIES};
use docker_common::{busybox_image, inspect, ready, runtime_name, Sweep};
use serde_json::Value;

fn strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_are_hardened_as_docker_inspect_shows() {
    if !ready().await {
        return;
    }
    let runtime = RuntimeConfig::new(runtime_name("hard-defaults"), busybox_image()).cpu_limit(0.5);
    let _sweep = Sweep(runtime.name.clone());
    let sb = DockerSandbox::new(runtime).unwrap();
    sb.start().await.unwrap();
    let info = inspect(sb.container_name());
    let host = &info["HostConfig"];
    assert_eq!(strings(&host["CapDrop"]), vec!["ALL".to_owned()], "{host}");
    let mut want: Vec<String> = DEFAULT_CAPABILITIES
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    want.sort();
    // Engines spell added capabilities with or without the CAP_ prefix.
    let added: Vec<String> = strings(&host["CapAdd"])
        .into_iter()
        .map(|c| c.trim_start_matches("CAP_").to_owned())
        .collect();
    assert_eq!(added, want);
    assert!(
        strings(&host["SecurityOpt"])
            .iter()
            .any(|o| o.starts_with("no-new-privileges")),
        "{}",
        host["SecurityOpt"]
    );
    assert_eq!(host["PidsLimit"], 512);
    assert_eq!(host["Memory"], 2i64 << 30);
    assert_eq!(host["NanoCpus"], 500_000_000);
    assert_eq!(host["ReadonlyRootfs"], false);
    // The container itself runs as root (so root helpers keep their
    // capabilities under no-new-privileges); commands are uid 65534.
    assert_eq!(info["Config"]["User"], "0");

    // From inside: the command is uid 65534 with no capabilities at all,
    // and no-new-privileges is set on it.
    let who = sb
        .execute(
            "id -u; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status",
            None,
        )
        .await
        .unwrap();
    assert_eq!(who.exit_code, 0, "{who:?}");
    let mut lines = who.output.lines();
    assert_eq!(lines.next(), Some("65534"), "{}", who.output);
    let rest: Vec<&str> = lines
        .map(|l| l.split_whitespace().last().unwrap_or(""))
        .collect();
    assert_eq!(rest, vec!["0000000000000000", "1"], "{}", who.output);
    // The default user can work in the work dir, through files and commands.
    sb.write("/workspace/a.txt", "a".into()).await.unwrap();
    let mk = sb
        .execute("echo b > b.txt && cat a.txt b.txt && touch /etc/nope", None)
        .await
        .unwrap();
    assert!(mk.output.starts_with("ab\n"), "{mk:?}");
    assert_ne!(mk.exit_code, 0, "uid 65534 must not write /etc: {mk:?}");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_root_keeps_workspace_and_tmp_writable() {
    if !ready().await {
        return;
    }
    let runtime = RuntimeConfig::new(runtime_name("hard-ro"), busybox_image()).read_only_root(true);
    let _sweep = Sweep(runtime.name.clone());
    let sb = DockerSandbox::new(runtime).unwrap();
    sb.start().await.unwrap();
    let info = inspect(sb.container_name());
    assert_eq!(info["HostConfig"]["ReadonlyRootfs"], true);
    assert!(
        info["HostConfig"]["Tmpfs"]["/tmp"].is_string(),
        "{}",
        info["HostConfig"]["Tmpfs"]
    );
    sb.write("/workspace/w.txt", "w".into()).await.unwrap();
    let run = sb
        .execute(
            "echo t > /tmp/t && echo v > v.txt && cat /tmp/t v.txt w.txt",
            None,
        )
        .await
        .unwrap();
    assert_eq!(run.output, "t\nv\nw", "{run:?}");
    // Even root cannot write the image's files.
    let root = DockerSandbox::new(
        RuntimeConfig::new(runtime_name("hard-ro"), busybox_image())
            .read_only_root(true)
            .run_as_image_user(),
    )
    .unwrap();
    let denied = root.execute("touch /bin/x", None).await.unwrap();
    root.shutdown().await.unwrap();
    assert_ne!(denied.exit_code, 0, "{denied:?}");
    assert!(denied.output.contains("Read-only"), "{denied:?}");
    sb.shutdown().await.unwrap();
}

/// The OCI runtime field reaches the container's configuration (`runc`
/// is the runtime every engine has).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_runtime_reaches_the_container_config() {
    if !ready().await {
        return;
    }
    let runtime = RuntimeConfig::new(runtime_name("hard-oci"), busybox_image()).oci_runtime("runc");
    let _sweep = Sweep(runtime.name.clone());
    let sb = DockerSandbox::new(runtime).unwrap();
    sb.start().await.unwrap();
    assert_eq!(
        inspect(sb.container_name())["HostConfig"]["Runtime"],
        "runc"
    );
    sb.shutdown().await.unwrap();
}

/// gVisor: when the engine knows a `runsc` runtime (`cargo xtask
/// test-docker` starts its engine with one when runsc is installed), a
/// sandbox runs under it, or the error says precisely why not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runsc_runs_a_sandbox_when_the_engine_has_it() {
    if !ready().await {
        return;
    }
    let runtimes = std::process::Command::new("docker")
        .args(["info", "--format", "{{json .Runtimes}}"])
        .output()
        .unwrap();
    if !String::from_utf8_lossy(&runtimes.stdout).contains("\"runsc\"") {
        eprintln!(
            "skipped: the engine has no runsc runtime (dockerd --add-runtime runsc=/usr/bin/runsc)"
        );
        return;
    }
    let runtime =
        RuntimeConfig::new(runtime_name("hard-runsc"), busybox_image()).oci_runtime("runsc");
    let _sweep = Sweep(runtime.name.clone());
    let sb = DockerSandbox::new(runtime).unwrap();
    let run = sb
        .execute("dmesg 2>/dev/null | head -n 1; echo ran", None)
        .await;
    if run.is_err() {
        let _ = sb.shutdown().await;
    }
    let run = run.expect("a sandbox under runsc");
    assert!(run.output.contains("ran"), "{run:?}");
    eprintln!("runsc: {}", run.output.trim());
    assert_eq!(
        inspect(sb.container_name())["HostConfig"]["Runtime"],
        "runsc"
    );
    // gVisor (Debian's 20221219 release) has no PR_SET_CHILD_SUBREAPER
    // ("[FATAL tini] PR_SET_CHILD_SUBREAPER is unavailable on this
    // platform"), so commands run without their reaper there and the kill
    // starts from the shell server's child instead: a child that cleared
    // its environment and left the session still dies at the timeout. (A
    // double-forked orphan, re-parented to the container's init, does not:
    // see the crate docs.)
    let timed = sb
        .execute(
            "setsid env -i sleep 3201 & sleep 60",
            Some(std::time::Duration::from_secs(1)),
        )
        .await
        .unwrap();
    let left = docker_common::processes_matching(sb.container_name(), "sleep 3201");
    sb.shutdown().await.unwrap();
    assert_eq!(
        timed.exit_code,
        deepagent_docker::TIMEOUT_EXIT_CODE,
        "{timed:?}"
    );
    assert!(left.is_empty(), "escaped under runsc: {left:?}");
}
