//! Backends chosen by URL and composites described by TOML.

use deepagent::config::{BackendConfig, ConfigError, MountConfig};
use deepagent::{backend_from_url, Backend, ErrorKind, GlobQuery};

#[tokio::test]
async fn urls_pick_the_backend() {
    assert_eq!(
        backend_from_url("memory://").unwrap().name(),
        "StateBackend"
    );
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().join("ws").display());
    let local = backend_from_url(&url).unwrap();
    assert_eq!(local.name(), "LocalBackend");
    local.write("/a.txt", "on disk".into()).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ws/a.txt")).unwrap(),
        "on disk"
    );
    assert!(
        local.as_sandbox().is_some(),
        "a file:// directory keeps its shell"
    );
}

#[test]
fn bad_urls_name_the_url_and_the_fix() {
    let cases = [
        ("ftp://example/x", "unknown scheme"),
        ("no-scheme", "not a URL"),
        ("file://", "name a directory"),
    ];
    for (url, want) in cases {
        let e = backend_from_url(url).err().unwrap();
        let msg = e.to_string();
        assert!(msg.contains(url) && msg.contains(want), "{url}: {msg}");
    }
    #[cfg(not(feature = "object-store"))]
    {
        let e = backend_from_url("s3://bucket/run-42").err().unwrap();
        assert!(e.to_string().contains("object-store-aws"), "{e}");
    }
    #[cfg(not(feature = "docker"))]
    {
        let e = backend_from_url("docker://python-minimal").err().unwrap();
        assert!(e.to_string().contains("`docker` cargo feature"), "{e}");
    }
    let e = MountConfig::url("memory://")
        .permissions_preset("lenient")
        .build(std::path::Path::new("."))
        .err()
        .unwrap();
    assert!(
        e.to_string()
            .contains("unknown permissions preset \"lenient\""),
        "{e}"
    );
}

/// The issue's layout: memory default, a directory at /project/, a
/// read-only directory, a permissioned mount; relative paths start at the
/// TOML file's directory.
#[tokio::test]
async fn toml_builds_the_composite() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agent.toml");
    std::fs::create_dir_all(dir.path().join("docs")).unwrap();
    std::fs::write(dir.path().join("docs/guide.md"), "read me\n").unwrap();
    std::fs::write(
        &file,
        r#"
        default = "memory://"

        [mounts]
        "/project/" = "file://./workspace"
        "/docs/" = { url = "file://./docs", read_only = true, execute = false }
        "/vault/" = { url = "memory://", permissions = "readonly" }
        "#,
    )
    .unwrap();
    let config = BackendConfig::load(&file).unwrap();
    assert_eq!(config.default, MountConfig::url("memory://"));
    let backend = config.build_composite().unwrap();
    let prefixes: Vec<String> = backend.mounts().into_iter().map(|m| m.prefix).collect();
    assert_eq!(prefixes, ["/docs/", "/project/", "/vault/"]);

    backend
        .write("/project/src/app.py", "print(1)\n".into())
        .await
        .unwrap();
    assert!(
        dir.path().join("workspace/src/app.py").is_file(),
        "file://./workspace is next to the TOML"
    );
    backend
        .write("/scratch/notes.txt", "mem".into())
        .await
        .unwrap();
    assert!(!dir.path().join("scratch").exists());

    assert_eq!(
        &backend.read_bytes("/docs/guide.md").await.unwrap()[..],
        b"read me\n"
    );
    let e = backend
        .write("/docs/guide.md", "x".into())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    let e = backend
        .write("/vault/secret.txt", "x".into())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");

    let all = backend.glob(&GlobQuery::new("**/*")).await.unwrap();
    let paths: Vec<&str> = all.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/docs/guide.md",
            "/project/src/app.py",
            "/scratch/notes.txt"
        ]
    );
}

#[test]
fn toml_errors_name_the_file_or_mount() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    match BackendConfig::load(&missing) {
        Err(ConfigError::File { path, .. }) => assert_eq!(path, missing),
        other => panic!("{other:?}"),
    }
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "default = \"memory://\"\nmounts = 3\n").unwrap();
    let e = BackendConfig::load(&bad).unwrap_err();
    assert!(e.to_string().contains("bad.toml"), "{e}");
    let config =
        BackendConfig::from_toml("[mounts]\n\"/../escape/\" = \"memory://\"\n", dir.path())
            .unwrap();
    let e = config.build_composite().err().unwrap();
    assert!(
        matches!(e, ConfigError::Mount { .. }) && e.to_string().contains("/../escape/"),
        "{e}"
    );
}

/// With the object-store feature, `object+memory://` and `object+file://`
/// are object stores, `file://` stays a LocalBackend.
#[cfg(feature = "object-store")]
#[tokio::test]
async fn object_store_urls_are_object_stores() {
    let dir = tempfile::tempdir().unwrap();
    let config = BackendConfig::from_toml(
        r#"
        [mounts]
        "/objects/" = "object+file://./bucket"
        "/mem/" = "object+memory://"
        "/dir/" = "file://./dir"
        "#,
        dir.path(),
    )
    .unwrap();
    let backend = config.build_composite().unwrap();
    let names: Vec<String> = backend.mounts().into_iter().map(|m| m.backend).collect();
    assert_eq!(
        names,
        ["LocalBackend", "ObjectStoreBackend", "ObjectStoreBackend"]
    );
    backend.write("/objects/a/b.txt", "x".into()).await.unwrap();
    assert!(dir.path().join("bucket/a/b.txt").is_file());
}
