//! How the backend uses the store: byte ranges for reads, conditional puts
//! for edits, bounded fan-out for grep. Each test watches the requests
//! through the `Probe` wrapper.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{numbered, Probe, INTRUDER};
use deepagent_core::{Backend, ErrorKind, GrepQuery};
use deepagent_object_store::{ObjectStoreBackend, LINE_COUNT_METADATA};
use object_store::memory::InMemory;
use object_store::{Attribute, ObjectStore};

fn probe_backend(probe: Probe) -> (Arc<Probe>, ObjectStoreBackend) {
    let probe = Arc::new(probe);
    let backend = ObjectStoreBackend::new(probe.clone());
    (probe, backend)
}

/// Reading the first lines of a 20 MiB object fetches the first range
/// only: the line count comes from the metadata `write` stored.
#[tokio::test]
async fn read_of_a_large_object_fetches_only_the_slice() {
    let (probe, backend) = probe_backend(Probe::new());
    let content = numbered(2_000_000); // about 20 MiB
    let size = content.len() as u64;
    backend.write("/big.log", content.into()).await.unwrap();

    let head = probe
        .inner
        .get(&"big.log".into())
        .await
        .unwrap()
        .attributes
        .get(&Attribute::Metadata(LINE_COUNT_METADATA.into()))
        .map(|v| v.as_ref().to_owned());
    assert_eq!(
        head.as_deref(),
        Some("2000000"),
        "write stores the line count"
    );

    probe.stats.bytes_read.store(0, Ordering::SeqCst);
    let slice = backend.read("/big.log", 0, 10).await.unwrap();
    assert_eq!(slice.lines[0], "line 1");
    assert_eq!(slice.total_lines, 2_000_000);
    let fetched = probe.stats.bytes_read.load(Ordering::SeqCst);
    assert!(
        fetched <= 256 * 1024,
        "read(0, 10) fetched {fetched} of {size} bytes"
    );

    // A slice in the middle: the open range stops right after it.
    probe.stats.bytes_read.store(0, Ordering::SeqCst);
    let slice = backend.read("/big.log", 1_000_000, 5).await.unwrap();
    assert_eq!(
        slice.lines,
        [
            "line 1000001",
            "line 1000002",
            "line 1000003",
            "line 1000004",
            "line 1000005"
        ]
    );
    assert_eq!(slice.total_lines, 2_000_000);
    let fetched = probe.stats.bytes_read.load(Ordering::SeqCst);
    assert!(
        fetched < size * 6 / 10,
        "read of the middle fetched {fetched} of {size} bytes"
    );

    // Past the end: the stored count answers at once.
    probe.stats.bytes_read.store(0, Ordering::SeqCst);
    let e = backend.read("/big.log", 3_000_000, 5).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OffsetOutOfRange);
    assert!(e.to_string().contains("2000000"), "{e}");
    assert!(probe.stats.bytes_read.load(Ordering::SeqCst) <= 256 * 1024);
}

/// An object written by another tool has no line-count metadata: the
/// count is taken by streaming the rest, and it is right.
#[tokio::test]
async fn read_counts_lines_of_objects_without_metadata() {
    let (probe, backend) = probe_backend(Probe::new());
    let content = numbered(100_000);
    probe
        .inner
        .put(&"foreign.txt".into(), Bytes::from(content.clone()).into())
        .await
        .unwrap();
    let slice = backend.read("/foreign.txt", 5, 2).await.unwrap();
    assert_eq!(slice.lines, ["line 6", "line 7"]);
    assert_eq!(slice.total_lines, 100_000);
    let e = backend.read("/foreign.txt", 100_000, 1).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OffsetOutOfRange);
    // No trailing newline, CRLF: counted by the shared rule.
    probe
        .inner
        .put(
            &"crlf.txt".into(),
            Bytes::from_static(b"a\r\nb\r\nc").into(),
        )
        .await
        .unwrap();
    let slice = backend
        .with_first_read_bytes(2)
        .read("/crlf.txt", 1, 10)
        .await
        .unwrap();
    assert_eq!(
        (slice.lines, slice.total_lines),
        (vec!["b".to_owned(), "c".to_owned()], 3)
    );
}

/// Small first ranges still cut the same slices as reading everything.
#[tokio::test]
async fn reads_agree_whatever_the_range_size() {
    let content = "alpha\r\n\nbeta\ngamma\n\ndelta";
    for first in [1, 2, 3, 5, 8, 13, 1024] {
        let backend =
            ObjectStoreBackend::new(Arc::new(InMemory::new())).with_first_read_bytes(first);
        backend.write("/f.txt", content.into()).await.unwrap();
        for offset in 0..6 {
            for limit in 0..7 {
                let got = backend.read("/f.txt", offset, limit).await.unwrap();
                let want =
                    deepagent_core::text::read_slice("/f.txt", content.as_bytes(), offset, limit)
                        .unwrap();
                assert_eq!(
                    got, want,
                    "first range {first}, offset {offset}, limit {limit}"
                );
            }
        }
    }
}

/// Another writer replaces the object between the edit's get and its put:
/// the conditional put fails, the edit reads again and applies itself to
/// the new content. Neither change is lost.
#[tokio::test]
async fn edit_retries_when_another_writer_got_there_first() {
    let probe = Probe::new();
    probe.interfere.store(3, Ordering::SeqCst);
    let (probe, backend) = probe_backend(probe);
    backend.write("/log.txt", "END".into()).await.unwrap();
    let r = backend
        .edit("/log.txt", "END", "mine;END", deepagent_core::Replace::Once)
        .await
        .unwrap();
    assert_eq!(r.occurrences, 1);
    let text = backend.read_bytes("/log.txt").await.unwrap();
    assert_eq!(
        &text[..],
        format!("{INTRUDER}{INTRUDER}{INTRUDER}mine;END").as_bytes(),
        "the three intruding writes and the edit all survive"
    );
    assert_eq!(backend.edit_conflicts(), 3);
    assert_eq!(backend.conditional_updates(), Some(true));
    assert_eq!(probe.interfere.load(Ordering::SeqCst), 0);
}

/// A writer that wins every race makes the edit give up after the bounded
/// number of attempts, with an error that says so, instead of spinning.
#[tokio::test]
async fn edit_gives_up_after_a_bounded_number_of_attempts() {
    let probe = Probe::new();
    probe.interfere.store(usize::MAX, Ordering::SeqCst);
    let (_probe, backend) = probe_backend(probe);
    let backend = backend.with_edit_attempts(4);
    backend.write("/hot.txt", "END".into()).await.unwrap();
    let e = backend
        .edit("/hot.txt", "END", "x;END", deepagent_core::Replace::Once)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("gave up after 4 attempts") && e.to_string().contains("/hot.txt"),
        "{e}"
    );
    assert_eq!(backend.edit_conflicts(), 4);
}

/// Eight backends over one store stand for eight processes: no shared
/// lock, only the conditional put. 8 × 25 edits of one object, none lost.
/// GETs take a millisecond so that the edits really interleave.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn edits_from_separate_backends_lose_nothing() {
    let store: Arc<dyn ObjectStore> =
        Arc::new(Probe::new().with_get_delay(Duration::from_millis(1)));
    let first = ObjectStoreBackend::new(store.clone());
    first.write("/shared.txt", "END".into()).await.unwrap();
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let backend = ObjectStoreBackend::new(store.clone());
            tokio::spawn(async move {
                for i in 0..25 {
                    backend
                        .edit(
                            "/shared.txt",
                            "END",
                            &format!("w{w}-{i};END"),
                            deepagent_core::Replace::Once,
                        )
                        .await
                        .unwrap_or_else(|e| panic!("worker {w} edit {i}: {e}"));
                    tokio::task::yield_now().await;
                }
                backend.edit_conflicts()
            })
        })
        .collect();
    let mut conflicts = 0;
    for w in workers {
        conflicts += w.await.unwrap();
    }
    let text = String::from_utf8(first.read_bytes("/shared.txt").await.unwrap().to_vec()).unwrap();
    let mut lost = 0;
    for w in 0..8 {
        for i in 0..25 {
            if text.matches(&format!("w{w}-{i};")).count() != 1 {
                lost += 1;
            }
        }
    }
    eprintln!("8 backends x 25 edits: {lost} lost, {conflicts} conflicts retried");
    assert_eq!(lost, 0, "{text}");
    assert!(text.ends_with("END"));
    assert!(
        conflicts > 0,
        "the edits never raced; the test proves nothing"
    );
}

/// grep keeps about 16 GETs in flight: more than one, never more than 16.
#[tokio::test]
async fn grep_fetches_sixteen_objects_at_a_time() {
    let (probe, backend) = probe_backend(Probe::new().with_get_delay(Duration::from_millis(20)));
    for i in 0..64 {
        backend
            .write(
                &format!("/logs/f{i:02}.txt"),
                format!("needle {i}\n").into(),
            )
            .await
            .unwrap();
    }
    probe.stats.max_in_flight.store(0, Ordering::SeqCst);
    let found = backend.grep(&GrepQuery::new("needle")).await.unwrap();
    assert_eq!(found.matches.len(), 64);
    let max = probe.stats.max_in_flight.load(Ordering::SeqCst);
    assert_eq!(max, 16, "GETs in flight at most");

    let narrow = backend.with_grep_concurrency(4);
    probe.stats.max_in_flight.store(0, Ordering::SeqCst);
    narrow.grep(&GrepQuery::new("needle")).await.unwrap();
    assert_eq!(probe.stats.max_in_flight.load(Ordering::SeqCst), 4);
}

/// Objects over the size cap are skipped without being fetched.
#[tokio::test]
async fn grep_skips_objects_over_the_size_cap() {
    let (probe, backend) = probe_backend(Probe::new());
    let backend = backend.with_grep_max_object_size(1024);
    backend
        .write("/small.txt", "needle\n".into())
        .await
        .unwrap();
    backend
        .write("/huge.txt", format!("needle\n{}", "x".repeat(4096)).into())
        .await
        .unwrap();
    let found = backend.grep(&GrepQuery::new("needle")).await.unwrap();
    let paths: Vec<&str> = found.matches.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(paths, ["/small.txt"]);
    assert_eq!(
        probe.gets_of("huge.txt"),
        0,
        "the oversized object is never fetched"
    );
}

/// Once max_count matches are certain, grep stops fetching.
#[tokio::test]
async fn grep_stops_fetching_at_max_count() {
    let (probe, backend) = probe_backend(Probe::new());
    for i in 0..300 {
        backend
            .write(&format!("/m/f{i:03}.txt"), "hit\nhit\n".into())
            .await
            .unwrap();
    }
    let before = probe.total_gets();
    let found = backend
        .grep(&GrepQuery::new("hit").max_count(5))
        .await
        .unwrap();
    assert_eq!(found.matches.len(), 5);
    assert!(found.truncated);
    assert_eq!(found.matches[4].path, "/m/f002.txt");
    let gets = probe.total_gets() - before;
    assert!(gets <= 3 + 16, "grep fetched {gets} objects for 5 matches");
}

/// A store without metadata support (object_store's LocalFileSystem) still
/// gets correct reads; a store without conditional updates still edits,
/// serialized by the backend's lock, and says so.
#[tokio::test]
async fn local_filesystem_has_no_conditional_updates() {
    let dir = tempfile::tempdir().unwrap();
    let backend =
        ObjectStoreBackend::from_url(&format!("file://{}", dir.path().display())).unwrap();
    backend.write("/a.txt", numbered(10).into()).await.unwrap();
    assert_eq!(backend.read("/a.txt", 8, 5).await.unwrap().total_lines, 10);
    backend
        .edit(
            "/a.txt",
            "line 3\n",
            "three\n",
            deepagent_core::Replace::Once,
        )
        .await
        .unwrap();
    assert_eq!(backend.conditional_updates(), Some(false));
    let on_disk = std::fs::read_to_string(dir.path().join("a.txt")).unwrap();
    assert!(on_disk.contains("three\n") && !on_disk.contains("line 3\n"));
}

/// Keys are the names exactly, so other tools see what the agent wrote,
/// and objects other tools wrote are files here.
#[tokio::test]
async fn keys_are_the_paths_without_encoding() {
    let store = Arc::new(InMemory::new());
    let backend = ObjectStoreBackend::new(store.clone());
    backend
        .write("/quotes/it's \"quoted\" [1] #2.txt", "q".into())
        .await
        .unwrap();
    let keys: Vec<String> = futures::TryStreamExt::try_collect::<Vec<_>>(store.list(None))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.location.to_string())
        .collect();
    assert_eq!(keys, ["quotes/it's \"quoted\" [1] #2.txt"]);
    store
        .put(&"from-boto3/report.csv".into(), "a,b\n".into())
        .await
        .unwrap();
    assert_eq!(
        &backend.read_bytes("/from-boto3/report.csv").await.unwrap()[..],
        b"a,b\n"
    );
    let e = backend
        .write("/tab\there.txt", "x".into())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidPath, "{e}");
}

/// Errors name the URL and say what to do.
#[tokio::test]
async fn url_errors_say_what_to_set() {
    let e = ObjectStoreBackend::from_url("ftp://host/x").unwrap_err();
    assert!(
        e.to_string().contains("ftp://host/x") && e.to_string().contains("s3://bucket"),
        "{e}"
    );
    let e = ObjectStoreBackend::from_url("file://").unwrap_err();
    assert!(e.to_string().contains("name a directory"), "{e}");
    #[cfg(not(feature = "aws"))]
    {
        let e = ObjectStoreBackend::from_url("s3://bucket/run-42").unwrap_err();
        assert!(
            e.to_string().contains("s3://bucket/run-42") && e.to_string().contains("`aws`"),
            "{e}"
        );
    }
}
