//! The 0.2 additions to the contract: typed capabilities forwarded by the
//! layers, structured errors, and the default `delete`/`rename`/`upload`/
//! `download` every backend gets.

mod support;

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use deepagent_composite::CompositeBackend;
use deepagent_core::layers::{Permissioned, ReadOnly, Rule, Ruleset, Scoped};
use deepagent_core::{Backend, BackendError, Bytes, Durability, ErrorKind};
use deepagent_state::StateBackend;
use support::{block_on, RecordingSandbox};

#[test]
fn other_keeps_its_source_and_kind() {
    let io = std::io::Error::other("socket closed");
    let e = BackendError::other_with_source("listing /src failed", io);
    assert_eq!(e.kind(), ErrorKind::Other);
    assert_eq!(e.to_string(), "listing /src failed");
    let source = e.source().expect("the cause stays reachable");
    assert_eq!(source.to_string(), "socket closed");
    assert!(BackendError::other("x").source().is_none());
}

#[test]
fn temporary_is_decided_by_kind() {
    let unreachable = BackendError::unavailable(
        "engine at unix:///x is not reachable",
        Some(Box::new(std::io::Error::other("refused"))),
    );
    assert_eq!(unreachable.kind(), ErrorKind::Unavailable);
    assert!(unreachable.is_temporary());
    assert!(unreachable.source().is_some());
    let gone = BackendError::sandbox_gone("box", "sandbox box is no longer running");
    assert_eq!(gone.kind(), ErrorKind::SandboxGone);
    assert!(
        !gone.is_temporary(),
        "a dead sandbox needs a new one, not a retry"
    );
    assert!(BackendError::Timeout {
        operation: "read".into(),
        after: Duration::from_secs(1)
    }
    .is_temporary());
    let reset = BackendError::io(
        "/a",
        std::io::Error::from(std::io::ErrorKind::ConnectionReset),
    );
    assert!(reset.is_temporary());
    for permanent in [
        BackendError::not_found("/a"),
        BackendError::permission_denied("/a", "no"),
        BackendError::unsupported("rename", "X"),
        BackendError::other("boom"),
    ] {
        assert!(!permanent.is_temporary(), "{permanent}");
    }
}

#[test]
fn state_and_local_describe_themselves() {
    let state = StateBackend::new().info();
    assert_eq!(state.kind, "StateBackend");
    assert_eq!(state.durability, Durability::Ephemeral);
    assert!(state.capabilities.write && !state.capabilities.execute);
    let dir = tempfile::tempdir().unwrap();
    let local = deepagent_local::LocalBackend::new(dir.path()).unwrap();
    let info = local.info();
    assert_eq!(info.durability, Durability::Durable);
    assert!(info.capabilities.execute);
    assert_eq!(
        info.describe(),
        "LocalBackend (files on disk; they persist)"
    );
    let ro = deepagent_local::LocalBackend::builder(dir.path())
        .read_only(true)
        .build()
        .unwrap();
    assert!(!ro.info().capabilities.write && !ro.info().capabilities.execute);
}

#[test]
fn layers_forward_and_adjust_info() {
    let ro = ReadOnly::new(RecordingSandbox::default());
    let info = ro.info();
    assert_eq!(info.kind, "RecordingSandbox", "a layer keeps the kind");
    assert!(!info.capabilities.write);
    assert!(!info.capabilities.execute, "ReadOnly offers no shell");
    assert!(
        info.describe().ends_with("read-only)"),
        "{}",
        info.describe()
    );

    let guarded = Permissioned::new(StateBackend::new(), Ruleset::permissive()).unwrap();
    assert_eq!(guarded.info(), StateBackend::new().info());

    // The default `info` of a backend that implements only the required
    // methods: execute follows `as_sandbox`, nothing optional.
    let plain = RecordingSandbox::default().info();
    assert!(plain.capabilities.execute && plain.capabilities.write);
    assert!(!plain.capabilities.delete && !plain.capabilities.rename);
    assert_eq!(plain.durability, Durability::Unknown);
}

#[test]
fn composite_lists_mounts_and_layers_keep_them() {
    let c = CompositeBackend::builder(StateBackend::new())
        .route("/ro/", ReadOnly::new(StateBackend::new()))
        .route("/work/project/", StateBackend::new())
        .build();
    let info = c.info();
    assert_eq!(info.kind, "CompositeBackend");
    let prefixes: Vec<&str> = info.mounts.iter().map(|m| m.prefix.as_str()).collect();
    assert_eq!(prefixes, ["/", "/ro/", "/work/project/"]);
    assert!(!info.mounts[1].info.capabilities.write);
    assert!(!info.capabilities.write, "not every mount is writable");

    // Through an Arc and a read-only layer the mounts are still there.
    let shared: Arc<dyn Backend> = Arc::new(c.clone());
    assert_eq!(shared.info(), info);
    let ro = ReadOnly::new(c.clone()).info();
    assert!(ro.mounts.iter().all(|m| !m.info.capabilities.write));

    // Scoped to /work: the mount below it is re-rooted, and the backend
    // holding /work (the default) becomes `/`.
    let scoped = Scoped::new(Arc::new(c), "/work").unwrap().info();
    let prefixes: Vec<&str> = scoped.mounts.iter().map(|m| m.prefix.as_str()).collect();
    assert_eq!(prefixes, ["/", "/project/"]);
}

#[test]
fn default_delete_and_rename_are_unsupported_after_the_path_check() {
    block_on(async {
        let b = RecordingSandbox::default();
        let e = b.delete("/a.txt", false).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("delete"), "{e}");
        let e = b.rename("/a", "/b").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert_eq!(
            b.delete("../x", true).await.unwrap_err().kind(),
            ErrorKind::InvalidPath
        );
        assert_eq!(
            b.rename("/a", "~/b").await.unwrap_err().kind(),
            ErrorKind::InvalidPath
        );
    });
}

#[test]
fn default_upload_checks_every_path_first_and_download_is_per_file() {
    block_on(async {
        let b = RecordingSandbox::default();
        let e = b
            .upload(vec![
                ("/ok.txt".into(), Bytes::from("1")),
                ("../bad".into(), Bytes::from("2")),
            ])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidPath);
        assert!(!b.exists("/ok.txt").await.unwrap(), "nothing written");

        let written = b
            .upload(vec![
                ("a/./x.txt".into(), Bytes::from("x")),
                ("/b.txt".into(), Bytes::from("bb")),
            ])
            .await
            .unwrap();
        assert_eq!(written[0].path, "/a/x.txt");
        assert_eq!(written[1].size, 2);

        let got = b
            .download(&["/a/x.txt", "/missing", "/../x"])
            .await
            .unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(&got[0].content.as_ref().unwrap()[..], b"x");
        assert_eq!(got[1].path, "/missing");
        assert!(got[1].content.as_ref().unwrap_err().is_not_found());
        assert_eq!(
            got[2].content.as_ref().unwrap_err().kind(),
            ErrorKind::InvalidPath
        );
    });
}

#[test]
fn read_only_refuses_changes_and_passes_downloads() {
    block_on(async {
        let store = StateBackend::new();
        store.write("/a.txt", "a".into()).await.unwrap();
        let ro = ReadOnly::new(store.clone());
        for e in [
            ro.delete("/a.txt", false).await.unwrap_err(),
            ro.rename("/a.txt", "/b.txt").await.unwrap_err(),
            ro.upload(vec![("/c.txt".into(), Bytes::from("c"))])
                .await
                .unwrap_err(),
        ] {
            assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        }
        assert!(store.exists("/a.txt").await.unwrap());
        assert!(!store.exists("/c.txt").await.unwrap());
        let got = ro.download(&["/a.txt"]).await.unwrap();
        assert_eq!(&got[0].content.as_ref().unwrap()[..], b"a");
    });
}

#[test]
fn permissioned_checks_each_file_of_a_batch() {
    block_on(async {
        let store = StateBackend::new();
        store.write("/.env", "SECRET=1".into()).await.unwrap();
        store.write("/ok.txt", "ok".into()).await.unwrap();
        let mut rules = Ruleset::permissive();
        rules.read.rules.push(Rule::deny("**/.env", "secrets"));
        rules.write.rules.push(Rule::deny("locked/**", "frozen"));
        let guarded = Permissioned::new(store.clone(), rules).unwrap();

        let e = guarded
            .upload(vec![
                ("/fine.txt".into(), Bytes::from("1")),
                ("/locked/x.txt".into(), Bytes::from("2")),
            ])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(
            !store.exists("/fine.txt").await.unwrap(),
            "a refused batch writes nothing"
        );

        let got = guarded.download(&["/ok.txt", "/.env"]).await.unwrap();
        assert_eq!(&got[0].content.as_ref().unwrap()[..], b"ok");
        assert_eq!(
            got[1].content.as_ref().unwrap_err().kind(),
            ErrorKind::PermissionDenied
        );

        // Rename needs read of the source: a denied file cannot be moved
        // somewhere readable.
        let e = guarded.rename("/.env", "/visible.txt").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        let e = guarded.delete("/locked/a.txt", false).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "delete is a write");
    });
}

#[test]
fn permissioned_recursive_delete_and_directory_rename_check_every_file_below() {
    block_on(async {
        let store = StateBackend::new();
        store.write("/proj/src/a.rs", "a".into()).await.unwrap();
        store.write("/proj/.env", "SECRET".into()).await.unwrap();
        let mut rules = Ruleset::permissive();
        rules.write.rules.push(Rule::deny("**/.env", "secrets"));
        let guarded = Permissioned::new(store.clone(), rules).unwrap();
        let e = guarded.delete("/proj", true).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(e.to_string().contains("/proj/.env"), "{e}");
        let e = guarded.rename("/proj", "/moved").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(store.exists("/proj/.env").await.unwrap(), "nothing removed");
        guarded.delete("/proj/src", true).await.unwrap();
        assert!(!store.exists("/proj/src/a.rs").await.unwrap());
    });
}
