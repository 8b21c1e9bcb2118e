//! Measurements against the S3 server of `cargo xtask test-s3 --bench`
//! (moto on 127.0.0.1). Ignored by default; each prints its numbers.
//!
//! - grep over 10,000 objects × 100 lines, against a Python boto3 loop
//!   doing the same list + get + search (plain, and with 16 threads);
//! - 1,000 small writes and reads through a composite with `/artifacts/`
//!   on S3, against the same calls on the backend and on object_store.

#[cfg(feature = "s3-tests")]
mod bench {
    use std::process::Command;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use deepagent_composite::CompositeBackend;
    use deepagent_core::{Backend, GrepQuery};
    use deepagent_object_store::ObjectStoreBackend;
    use deepagent_state::StateBackend;
    use futures::{StreamExt, TryStreamExt};
    use object_store::path::Path;
    use object_store::ObjectStore;

    const OBJECTS: usize = 10_000;
    const LINES: usize = 100;
    const PATTERN: &str = r"ERROR code \d+";

    fn base() -> String {
        std::env::var("DEEPAGENT_TEST_S3_URL").expect("run with cargo xtask test-s3 --bench")
    }

    fn object(n: usize) -> String {
        (0..LINES)
            .map(|i| {
                if n.is_multiple_of(10) && i == 50 {
                    format!("2026-12-01 ERROR code {n} in worker {i}\n")
                } else {
                    format!(
                        "2026-12-01 INFO request {i} of file {n} served in {} ms\n",
                        (n * 7 + i) % 250
                    )
                }
            })
            .collect()
    }

    /// Puts the 10,000 objects once (a later run finds them there).
    async fn seed(store: &Arc<dyn ObjectStore>) {
        let have = store
            .list(None)
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .len();
        if have >= OBJECTS {
            return;
        }
        let started = Instant::now();
        futures::stream::iter(0..OBJECTS)
            .map(|n| {
                let store = store.clone();
                async move {
                    let key = Path::from(format!("logs/{:02}/f{n:05}.log", n % 50));
                    store
                        .put(&key, Bytes::from(object(n)).into())
                        .await
                        .unwrap();
                }
            })
            .buffer_unordered(32)
            .collect::<Vec<_>>()
            .await;
        eprintln!(
            "seeded {OBJECTS} objects in {:.1}s",
            started.elapsed().as_secs_f64()
        );
    }

    fn python(prefix: &str, threads: usize) -> (f64, u64) {
        let python =
            std::env::var("DEEPAGENT_S3_BENCH_PYTHON").expect("the xtask names the venv's python");
        let script =
            std::env::var("DEEPAGENT_S3_BENCH_SCRIPT").expect("the xtask names s3_grep.py");
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
        let bucket = base()
            .trim_start_matches("s3://")
            .trim_end_matches('/')
            .to_owned();
        let out = Command::new(python)
            .args([
                &script,
                &endpoint,
                &bucket,
                prefix,
                PATTERN,
                &threads.to_string(),
            ])
            .output()
            .expect("run the boto3 side");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            v["seconds"].as_f64().unwrap(),
            v["matches"].as_u64().unwrap(),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a measurement: cargo xtask test-s3 --bench"]
    async fn grep_10k_objects_against_boto3() {
        let url = format!("{}/bench/grep-10k", base().trim_end_matches('/'));
        let backend = ObjectStoreBackend::from_url(&url).unwrap();
        seed(backend.store()).await;
        let query = GrepQuery::new(PATTERN).max_count(1_000_000);
        let mut best = Duration::MAX;
        let mut matches = 0;
        for _ in 0..2 {
            let started = Instant::now();
            let found = backend.grep(&query).await.unwrap();
            best = best.min(started.elapsed());
            matches = found.matches.len();
        }
        assert_eq!(matches, OBJECTS / 10);
        let prefix = format!(
            "{}/",
            url.trim_start_matches("s3://").split_once('/').unwrap().1
        );
        let (py1, py1_matches) = python(&prefix, 1);
        let (py16, py16_matches) = python(&prefix, 16);
        assert_eq!(
            (py1_matches, py16_matches),
            (matches as u64, matches as u64)
        );
        println!(
            "BENCH grep {OBJECTS} objects x {LINES} lines on moto: ObjectStoreBackend {:.2}s ({matches} matches); boto3 loop {py1:.2}s; boto3 16 threads {py16:.2}s; speed-up vs loop {:.1}x",
            best.as_secs_f64(),
            py1 / best.as_secs_f64()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a measurement: cargo xtask test-s3 --bench"]
    async fn small_writes_and_reads_through_the_composite() {
        const N: usize = 1000;
        let url = format!(
            "{}/bench/small-{}",
            base().trim_end_matches('/'),
            std::process::id()
        );
        let backend = Arc::new(ObjectStoreBackend::from_url(&url).unwrap());
        let store = backend.store().clone();
        let composite = CompositeBackend::builder(StateBackend::new())
            .route_arc("/artifacts/", backend.clone())
            .build();
        let body = Bytes::from_static(b"a small artifact\n");

        let started = Instant::now();
        for i in 0..N {
            let key = Path::from(format!("direct/f{i}.txt"));
            store.put(&key, body.clone().into()).await.unwrap();
            store.get(&key).await.unwrap().bytes().await.unwrap();
        }
        let direct = started.elapsed();

        let started = Instant::now();
        for i in 0..N {
            let p = format!("/backend/f{i}.txt");
            backend.write(&p, body.clone()).await.unwrap();
            backend.read_bytes(&p).await.unwrap();
        }
        let through_backend = started.elapsed();

        let started = Instant::now();
        for i in 0..N {
            let p = format!("/artifacts/composite/f{i}.txt");
            composite.write(&p, body.clone()).await.unwrap();
            composite.read_bytes(&p).await.unwrap();
        }
        let through_composite = started.elapsed();

        let ms = |d: Duration| d.as_secs_f64() * 1000.0 / N as f64;
        println!(
            "BENCH {N} small write+read pairs on moto: object_store put+get {:.2} ms/pair; ObjectStoreBackend write+read_bytes {:.2} ms/pair (+{:.0}% for the path checks); composite /artifacts/ {:.2} ms/pair (routing {:+.1}% over the backend)",
            ms(direct),
            ms(through_backend),
            (through_backend.as_secs_f64() / direct.as_secs_f64() - 1.0) * 100.0,
            ms(through_composite),
            (through_composite.as_secs_f64() / through_backend.as_secs_f64() - 1.0) * 100.0,
        );
    }
}
