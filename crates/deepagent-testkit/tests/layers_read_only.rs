//! The `ReadOnly` layer: alone, mounted inside a composite, and the same
//! rule in `LocalBackend::read_only(true)`.

mod support;

use deepagent_composite::CompositeBackend;
use deepagent_core::layers::{read_only_denial, ReadOnly};
use deepagent_core::{Backend, BackendError, ErrorKind, GlobQuery, GrepQuery, Sandbox};
use deepagent_local::LocalBackend;
use deepagent_state::StateBackend;
use support::{block_on, RecordingSandbox};

fn assert_read_only_denial(err: &BackendError, operation: &str, path: &str) {
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let msg = err.to_string();
    assert!(msg.contains(path), "names the path {path}: {msg}");
    assert!(msg.contains("read-only"), "says why: {msg}");
    assert!(msg.contains(operation), "names the operation: {msg}");
    assert_eq!(msg, read_only_denial(operation, path).to_string());
}

async fn seeded() -> StateBackend {
    let store = StateBackend::new();
    store
        .write("/src/app.py", "print('hi')\n".into())
        .await
        .unwrap();
    store
}

#[test]
fn reads_pass_through() {
    block_on(async {
        let ro = ReadOnly::new(seeded().await);
        assert!(ro.exists("/src/app.py").await.unwrap());
        assert_eq!(
            &ro.read_bytes("src/app.py").await.unwrap()[..],
            b"print('hi')\n"
        );
        assert_eq!(
            ro.read("/src/app.py", 0, 10).await.unwrap().lines,
            ["print('hi')"]
        );
        assert_eq!(ro.ls("/src").await.unwrap()[0].path, "/src/app.py");
        assert_eq!(
            ro.glob(&GlobQuery::new("**/*.py"))
                .await
                .unwrap()
                .files
                .len(),
            1
        );
        assert_eq!(
            ro.grep(&GrepQuery::new("hi")).await.unwrap().matches.len(),
            1
        );
        assert_eq!(ro.name(), "ReadOnly(StateBackend)");
    });
}

#[test]
fn write_and_edit_are_refused_before_the_inner_backend_is_touched() {
    block_on(async {
        let store = seeded().await;
        let ro = ReadOnly::new(store.clone());
        let err = ro.write("/src/./new.py", "x".into()).await.unwrap_err();
        assert_read_only_denial(&err, "write", "/src/new.py");
        let err = ro
            .edit("src//app.py", "hi", "bye", deepagent_core::Replace::Once)
            .await
            .unwrap_err();
        assert_read_only_denial(&err, "edit", "/src/app.py");
        assert_eq!(store.paths(), ["/src/app.py"], "nothing was written");
        assert_eq!(
            &store.read_bytes("/src/app.py").await.unwrap()[..],
            b"print('hi')\n"
        );
    });
}

#[test]
fn invalid_paths_are_reported_as_invalid_not_read_only() {
    block_on(async {
        let ro = ReadOnly::new(StateBackend::new());
        let err = ro.write("../x", "x".into()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidPath);
        let err = ro
            .edit("~/x", "a", "b", deepagent_core::Replace::Once)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidPath);
    });
}

#[test]
fn execute_is_refused_and_not_advertised() {
    block_on(async {
        let sandbox = RecordingSandbox::default();
        let ro = ReadOnly::new(sandbox.clone());
        assert!(
            ro.as_sandbox().is_none(),
            "no command tool for a read-only backend"
        );
        let err = ro.execute("touch x", None).await.unwrap_err();
        assert_read_only_denial(&err, "execute", "touch x");
        assert!(sandbox.ran().is_empty());
    });
}

#[test]
fn mounted_in_a_composite_only_the_mount_is_read_only() {
    block_on(async {
        let memory = StateBackend::new();
        let source = seeded().await;
        let backend = CompositeBackend::builder(memory.clone())
            .route("/src/", ReadOnly::new(source.clone()))
            .build();

        // Reads under the mount see the source tree in composite terms.
        let read = backend.read("/src/src/app.py", 0, 10).await.unwrap();
        assert_eq!(read.lines, ["print('hi')"]);
        let found = backend.glob(&GlobQuery::new("**/*.py")).await.unwrap();
        assert_eq!(found.files[0].path, "/src/src/app.py");

        // Writes and edits under the mount are refused, naming the
        // composite path.
        let err = backend.write("/src/new.py", "x".into()).await.unwrap_err();
        assert_read_only_denial(&err, "write", "/src/new.py");
        let err = backend
            .edit(
                "/src/src/app.py",
                "hi",
                "bye",
                deepagent_core::Replace::Once,
            )
            .await
            .unwrap_err();
        assert_read_only_denial(&err, "edit", "/src/src/app.py");
        // Every spelling that lands under the mount is refused too.
        for spelling in ["src/x.py", "//src/x.py", "/tmp/../src/x.py", "./src/./x.py"] {
            let err = backend.write(spelling, "x".into()).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{spelling}: {err}");
        }
        assert_eq!(source.paths(), ["/src/app.py"]);

        // The default stays writable.
        backend
            .write("/scratch/notes.txt", "ok".into())
            .await
            .unwrap();
        backend
            .edit(
                "/scratch/notes.txt",
                "ok",
                "fine",
                deepagent_core::Replace::Once,
            )
            .await
            .unwrap();
        assert_eq!(memory.paths(), ["/scratch/notes.txt"]);
        assert_eq!(
            &memory.read_bytes("/scratch/notes.txt").await.unwrap()[..],
            b"fine"
        );
    });
}

#[test]
fn local_backend_read_only_uses_the_same_rule() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/app.py"), "print('hi')\n").unwrap();
        let local = LocalBackend::builder(dir.path())
            .read_only(true)
            .build()
            .unwrap();
        assert!(local.is_read_only());
        assert_eq!(
            local.read("/src/app.py", 0, 10).await.unwrap().lines,
            ["print('hi')"]
        );
        let err = local.write("/src/new.py", "x".into()).await.unwrap_err();
        assert_read_only_denial(&err, "write", "/src/new.py");
        let err = local
            .edit("/src/app.py", "hi", "bye", deepagent_core::Replace::Once)
            .await
            .unwrap_err();
        assert_read_only_denial(&err, "edit", "/src/app.py");
        assert!(!dir.path().join("src/new.py").exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("src/app.py")).unwrap(),
            "print('hi')\n"
        );
        if let Some(sandbox) = local.as_sandbox() {
            let err = sandbox.execute("touch made-it", None).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
            assert!(err.to_string().contains("read-only"), "{err}");
        }
        assert!(!dir.path().join("made-it").exists());

        // Mounted read-only at /src/ of a composite whose default is
        // writable: the seed's "read-only source + writable workspace".
        let memory = StateBackend::new();
        let backend = CompositeBackend::builder(memory.clone())
            .route("/src/", local.clone())
            .build();
        let err = backend
            .write("/src/src/evil.py", "x".into())
            .await
            .unwrap_err();
        assert_read_only_denial(&err, "write", "/src/src/evil.py");
        backend
            .write("/workspace/out.txt", "ok".into())
            .await
            .unwrap();
        assert_eq!(memory.paths(), ["/workspace/out.txt"]);
    });
}
