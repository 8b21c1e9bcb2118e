//! Against a real S3-compatible server: the conformance suite, reads and
//! edits over HTTP, and the errors for a missing bucket, missing
//! credentials and an endpoint that does not answer.
//!
//! `cargo xtask test-s3` starts moto's server on 127.0.0.1, creates the
//! bucket and runs this file with `--features s3-tests` and
//! `DEEPAGENT_TEST_S3_URL=s3://BUCKET` plus the `AWS_*` variables that
//! point at it. The generated suite cannot skip itself, hence the feature.

#[cfg(feature = "s3-tests")]
mod s3 {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use deepagent_core::{Backend, ErrorKind};
    use deepagent_object_store::{ObjectStoreBackend, RetryOptions, StoreConfig};
    use deepagent_testkit::Fixture;

    /// The bucket URL the xtask prepared; without it these tests fail
    /// (they only build with the feature that asks for them).
    pub fn base_url() -> String {
        std::env::var("DEEPAGENT_TEST_S3_URL").unwrap_or_else(|_| {
            panic!("DEEPAGENT_TEST_S3_URL is not set: run these tests with `cargo xtask test-s3`, which starts an S3 server")
        })
    }

    /// A fresh prefix in the test bucket, so cases never see each other.
    pub fn fresh_url(label: &str) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!(
            "{}/{label}/{}-{}-{nanos}",
            base_url().trim_end_matches('/'),
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        )
    }

    pub fn fresh_backend(label: &str) -> ObjectStoreBackend {
        let url = fresh_url(label);
        ObjectStoreBackend::from_url(&url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    mod conformance {
        use super::*;
        deepagent_testkit::conformance_tests!(|| async {
            Fixture::new(fresh_backend("conformance"))
        });
    }

    fn endpoint() -> String {
        std::env::var("AWS_ENDPOINT_URL")
            .or_else(|_| std::env::var("AWS_ENDPOINT"))
            .expect("AWS_ENDPOINT_URL points at the test server")
    }

    /// Over HTTP, write stores the line count as `x-amz-meta-deepagent-lines`
    /// and a read near the start does not fetch the rest.
    #[tokio::test]
    async fn line_count_travels_as_object_metadata() {
        let backend = fresh_backend("metadata");
        let content: String = (1..=300_000).map(|i| format!("line {i}\n")).collect();
        backend.write("/big.txt", content.into()).await.unwrap();
        let got = backend
            .store()
            .get(&"big.txt".into())
            .await
            .unwrap()
            .attributes
            .get(&object_store::Attribute::Metadata(
                deepagent_object_store::LINE_COUNT_METADATA.into(),
            ))
            .map(|v| v.as_ref().to_owned());
        assert_eq!(got.as_deref(), Some("300000"));
        let slice = backend.read("/big.txt", 10, 2).await.unwrap();
        assert_eq!(slice.lines, ["line 11", "line 12"]);
        assert_eq!(slice.total_lines, 300_000);
        let slice = backend.read("/big.txt", 299_999, 5).await.unwrap();
        assert_eq!(slice.lines, ["line 300000"]);
    }

    /// Two backends (two processes, as far as S3 can tell) editing one
    /// object: the conditional put makes one of them re-read.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn edits_through_two_clients_lose_nothing() {
        let url = fresh_url("two-clients");
        let a = ObjectStoreBackend::from_url(&url).unwrap();
        let b = ObjectStoreBackend::from_url(&url).unwrap();
        a.write("/log.txt", "END".into()).await.unwrap();
        let (ra, rb) = tokio::join!(
            async {
                for i in 0..15 {
                    a.edit(
                        "/log.txt",
                        "END",
                        &format!("a{i};END"),
                        deepagent_core::Replace::Once,
                    )
                    .await
                    .unwrap();
                }
            },
            async {
                for i in 0..15 {
                    b.edit(
                        "/log.txt",
                        "END",
                        &format!("b{i};END"),
                        deepagent_core::Replace::Once,
                    )
                    .await
                    .unwrap();
                }
            }
        );
        let _ = (ra, rb);
        let text = String::from_utf8(a.read_bytes("/log.txt").await.unwrap().to_vec()).unwrap();
        for i in 0..15 {
            assert!(
                text.contains(&format!("a{i};")) && text.contains(&format!("b{i};")),
                "{text}"
            );
        }
        assert_eq!(a.conditional_updates(), Some(true));
    }

    /// A bucket that does not exist: the error names the URL and says to
    /// create the bucket, not "file not found".
    #[tokio::test]
    async fn missing_bucket_is_named() {
        let url = "s3://no-such-bucket-deepagent/run-42";
        let backend = ObjectStoreBackend::from_url(url).unwrap();
        for e in [
            backend.ls("/").await.unwrap_err(),
            backend.check().await.unwrap_err(),
            backend.write("/a.txt", "x".into()).await.unwrap_err(),
        ] {
            let msg = e.to_string();
            assert!(
                msg.contains(url) && msg.contains("does not exist") && msg.contains("create it"),
                "{msg}"
            );
        }
    }

    /// No credentials anywhere: the error names the URL and the variables
    /// to set. (The instance-metadata fallback is pointed at a closed local
    /// port so nothing leaves this machine.)
    #[tokio::test]
    async fn missing_credentials_say_what_to_set() {
        let url = format!("{}/creds", base_url());
        let config = StoreConfig::new()
            .without_environment()
            .option("endpoint", endpoint())
            .option("allow_http", "true")
            .option("region", "us-east-1")
            .option("metadata_endpoint", "http://127.0.0.1:9")
            .retry(
                RetryOptions::default()
                    .max_retries(1)
                    .retry_timeout(Duration::from_secs(2)),
            );
        let backend = ObjectStoreBackend::from_url_with(&url, &config).unwrap();
        let e = backend.check().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains(&url)
                && msg.contains("AWS_ACCESS_KEY_ID")
                && msg.contains("AWS_SECRET_ACCESS_KEY"),
            "{msg}"
        );
    }

    /// An endpoint nobody listens on: after the configured retries, the
    /// retryable kind (connection refused), naming the URL and endpoint.
    #[tokio::test]
    async fn unreachable_endpoint_is_the_retryable_kind() {
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let url = format!("{}/down", base_url());
        let endpoint = format!("http://127.0.0.1:{closed}");
        let config = StoreConfig::new().option("endpoint", &endpoint).retry(
            RetryOptions::default()
                .max_retries(2)
                .retry_timeout(Duration::from_secs(5))
                .init_backoff(Duration::from_millis(10))
                .max_backoff(Duration::from_millis(50)),
        );
        let backend = ObjectStoreBackend::from_url_with(&url, &config).unwrap();
        let started = std::time::Instant::now();
        let e = backend.read_bytes("/a.txt").await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(e.kind(), ErrorKind::Io, "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains(&url) && msg.contains(&endpoint) && msg.contains("cannot reach"),
            "{msg}"
        );
        match &e {
            deepagent_core::BackendError::Io { source, .. } => {
                assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused)
            }
            other => panic!("{other:?}"),
        }
    }
}

#[cfg(not(feature = "s3-tests"))]
#[test]
fn s3_tests_need_the_s3_tests_feature() {
    // Asked for S3 but built without the tests: a failure, not a skip.
    assert!(
        std::env::var("DEEPAGENT_TEST_S3_URL").is_err(),
        "DEEPAGENT_TEST_S3_URL is set but the S3 tests were not built: add --features s3-tests"
    );
}
