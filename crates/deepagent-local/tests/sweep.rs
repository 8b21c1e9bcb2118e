//! Temporary files left by killed writes are swept once old enough; young
//! ones (a write in progress elsewhere), other files and links are not.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, SystemTime};

use deepagent_core::ErrorKind;
use deepagent_local::LocalBackend;

const HOUR: Duration = Duration::from_secs(3600);

/// Creates `path` (and its parents) with a modification time `age` ago.
fn file_aged(path: &Path, age: Duration) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let f = fs::File::create(path).expect("create");
    f.set_modified(SystemTime::now() - age).expect("set mtime");
}

#[test]
fn build_removes_old_temp_files_and_keeps_young_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    file_aged(&root.join(".deepagent-tmp-old1"), HOUR);
    file_aged(&root.join("a/b/.deepagent-tmp-old2"), HOUR);
    file_aged(
        &root.join("a/.deepagent-tmp-young"),
        Duration::from_secs(60),
    );
    file_aged(&root.join("a/old-but-mine.txt"), HOUR);
    file_aged(&root.join("a/.deepagent-tmpX"), HOUR);

    LocalBackend::new(root).expect("backend");

    assert!(!root.join(".deepagent-tmp-old1").exists());
    assert!(!root.join("a/b/.deepagent-tmp-old2").exists());
    assert!(
        root.join("a/.deepagent-tmp-young").exists(),
        "may be in flight"
    );
    assert!(root.join("a/old-but-mine.txt").exists());
    assert!(root.join("a/.deepagent-tmpX").exists(), "not our prefix");
}

#[test]
fn sweep_temp_files_counts_and_never_follows_links() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    fs::create_dir_all(&root).expect("mkdir");
    let backend = LocalBackend::new(&root).expect("backend");

    file_aged(&outside.join(".deepagent-tmp-outside"), HOUR);
    symlink(&outside, root.join("link-dir")).expect("symlink dir");
    symlink(
        outside.join(".deepagent-tmp-outside"),
        root.join(".deepagent-tmp-link"),
    )
    .expect("symlink file");
    file_aged(&root.join("x/.deepagent-tmp-1"), Duration::from_secs(120));
    file_aged(&root.join("x/y/.deepagent-tmp-2"), Duration::from_secs(120));

    assert_eq!(
        backend.sweep_temp_files(HOUR).expect("sweep"),
        0,
        "too young"
    );
    assert_eq!(
        backend
            .sweep_temp_files(Duration::from_secs(60))
            .expect("sweep"),
        2
    );
    assert!(!root.join("x/.deepagent-tmp-1").exists());
    assert!(
        outside.join(".deepagent-tmp-outside").exists(),
        "outside kept"
    );
    assert!(
        fs::symlink_metadata(root.join(".deepagent-tmp-link")).is_ok(),
        "a link is not a temp file"
    );
}

#[test]
fn read_only_backends_leave_the_disk_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    file_aged(&dir.path().join(".deepagent-tmp-old"), HOUR);
    let backend = LocalBackend::builder(dir.path())
        .read_only(true)
        .build()
        .expect("backend");
    assert!(dir.path().join(".deepagent-tmp-old").exists());
    let err = backend.sweep_temp_files(HOUR).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
}
