//! Permission rules over a DockerSandbox (issue 11 item 8, issue 13
//! item 1): one file has one rule answer whatever the spelling, a relative
//! path means the same file with and without the layer, and a link a
//! command plants inside the container gives no access a rule denies.
//! Skipped without an engine (see `docker_common`); run by
//! `cargo xtask test-docker`.

mod docker_common;

use std::time::{Duration, Instant};

use deepagent_core::layers::{
    approver_fn, Operation, PermissionDecision, Permissioned, Rule, Ruleset,
};
use deepagent_core::{Backend, ErrorKind, GlobQuery, GrepQuery, Sandbox};
use deepagent_docker::{DockerSandbox, RuntimeConfig};
use docker_common::{busybox_image, ready, runtime_name, Sweep};

fn guarded(sb: &DockerSandbox, rules: Ruleset) -> Permissioned<DockerSandbox> {
    Permissioned::new(sb.clone(), rules)
        .expect("ruleset")
        .with_approver(approver_fn(|_| async { PermissionDecision::Allow }))
}

fn secrets_denied() -> Ruleset {
    let mut rules = Ruleset::permissive();
    for op in Operation::ALL {
        if op != Operation::Execute {
            rules = rules.with_rule(op, Rule::deny("tmp/secrets", "keys live here"));
        }
    }
    rules
}

fn assert_denied<T: std::fmt::Debug>(what: &str, res: deepagent_core::Result<T>) {
    match res {
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
        other => panic!("{what}: expected PermissionDenied, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relative_path_is_the_same_file_with_and_without_the_layer() {
    if !ready().await {
        return;
    }
    let name = runtime_name("perm-relative");
    let _sweep = Sweep(name.clone());
    let sb =
        DockerSandbox::new(RuntimeConfig::new(&name, busybox_image()).run_as_image_user()).unwrap();
    let layer = guarded(&sb, Ruleset::permissive());

    // Commands (and so the file tools) run as uid 65534 by default: /tmp
    // is where it may write.
    sb.write("tmp/notes/raw.txt", "raw\n".into()).await.unwrap();
    assert_eq!(sb.read_bytes("/tmp/notes/raw.txt").await.unwrap(), "raw\n");
    assert_eq!(
        layer.read_bytes("tmp/notes/raw.txt").await.unwrap(),
        "raw\n"
    );
    layer
        .write("tmp/notes/layered.txt", "layered\n".into())
        .await
        .unwrap();
    assert_eq!(
        sb.read_bytes("/tmp/notes/layered.txt").await.unwrap(),
        "layered\n"
    );
    // Commands still start in the work dir.
    let run = sb.execute("pwd", None).await.unwrap();
    assert_eq!(run.output, "/workspace\n");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_file_one_answer_whatever_the_spelling() {
    if !ready().await {
        return;
    }
    let name = runtime_name("perm-spelling");
    let _sweep = Sweep(name.clone());
    let sb =
        DockerSandbox::new(RuntimeConfig::new(&name, busybox_image()).run_as_image_user()).unwrap();
    let layer = guarded(&sb, secrets_denied());

    // The raw sandbox puts the key where `secrets/key` leads; no spelling
    // of that file gets through the layer.
    sb.write("tmp/secrets/key", "KEY-1\n".into()).await.unwrap();
    for spelling in [
        "tmp/secrets/key",
        "/tmp/secrets/key",
        "/tmp/secrets/./key",
        "//tmp//secrets//key",
        "/workspace/../tmp/secrets/key",
    ] {
        assert_denied(spelling, layer.read_bytes(spelling).await);
    }
    // Wherever the raw sandbox wrote it, that path answers no through the
    // layer (on the old sandbox it was /workspace/tmp/secrets/key, allowed).
    for other in ["/workspace/tmp/secrets/key"] {
        match layer.read_bytes(other).await {
            Ok(content) => assert_ne!(content, "KEY-1\n", "{other} is the secret"),
            Err(e) => assert!(
                matches!(e.kind(), ErrorKind::NotFound | ErrorKind::PermissionDenied),
                "{other}: {e}"
            ),
        }
    }
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_planted_by_a_command_give_no_access_a_rule_denies() {
    if !ready().await {
        return;
    }
    let name = runtime_name("perm-links");
    let _sweep = Sweep(name.clone());
    let sb =
        DockerSandbox::new(RuntimeConfig::new(&name, busybox_image()).run_as_image_user()).unwrap();
    let layer = guarded(&sb, secrets_denied());
    let setup = sb
        .execute(
            "mkdir -p /tmp/secrets /tmp/w && echo KEY-2 > /tmp/secrets/key \
             && ln -s /tmp/secrets /tmp/alias && ln -s /tmp/secrets/key /tmp/w/k.txt \
             && ln -s ../secrets /tmp/w/rel && echo fine > /tmp/w/ok.txt && echo ok",
            None,
        )
        .await
        .unwrap();
    assert_eq!(setup.output, "ok\n", "{setup:?}");

    assert_denied(
        "read via dir link",
        layer.read_bytes("/tmp/alias/key").await,
    );
    assert_denied("read via file link", layer.read("/tmp/w/k.txt", 0, 5).await);
    assert_denied(
        "read via relative link",
        layer.read_bytes("/tmp/w/rel/key").await,
    );
    assert!(!layer.exists("/tmp/w/k.txt").await.unwrap());
    assert_denied("ls via dir link", layer.ls("/tmp/alias").await);
    let listed = layer.ls("/tmp/w").await.unwrap();
    let names: Vec<&str> = listed.iter().map(|f| f.name.as_str()).collect();
    assert!(
        !names.contains(&"k.txt") && !names.contains(&"rel") && names.contains(&"ok.txt"),
        "{names:?}"
    );
    for base in ["/tmp/alias", "/tmp/w/k.txt"] {
        match layer.grep(&GrepQuery::new("KEY").path(base)).await {
            Err(e) => assert_eq!(e.kind(), ErrorKind::PermissionDenied, "grep {base}: {e}"),
            Ok(r) => assert!(r.matches.is_empty(), "grep {base}: {:?}", r.matches),
        }
        match layer.glob(&GlobQuery::new("**").path(base)).await {
            Err(e) => assert_eq!(e.kind(), ErrorKind::PermissionDenied, "glob {base}: {e}"),
            Ok(r) => assert!(r.files.is_empty(), "glob {base}: {:?}", r.files),
        }
    }
    assert_denied(
        "write via file link",
        layer.write("/tmp/w/k.txt", "EVIL\n".into()).await,
    );
    assert_denied(
        "edit via dir link",
        layer
            .edit(
                "/tmp/alias/key",
                "KEY-2",
                "EVIL",
                deepagent_core::Replace::Once,
            )
            .await,
    );
    assert_eq!(sb.read_bytes("/tmp/secrets/key").await.unwrap(), "KEY-2\n");
    assert_eq!(layer.read_bytes("/tmp/w/ok.txt").await.unwrap(), "fine\n");

    // What resolving costs: reads with path rules (one `readlink` helper
    // run each) against the same reads with none.
    let plain = guarded(&sb, Ruleset::permissive());
    let mut cost = Vec::new();
    for layer in [&plain, &layer] {
        let start = Instant::now();
        for _ in 0..20 {
            layer.read_bytes("/tmp/w/ok.txt").await.unwrap();
        }
        cost.push(start.elapsed() / 20);
    }
    eprintln!(
        "docker read through Permissioned: {:?} without path rules, {:?} with (resolving links in the container)",
        cost[0], cost[1]
    );
    assert!(cost[1] < Duration::from_secs(5));
    sb.shutdown().await.unwrap();
}
