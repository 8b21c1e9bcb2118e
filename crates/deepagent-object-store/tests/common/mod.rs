//! A store wrapper that records what the backend asks of the store, so
//! tests can check how many bytes a read fetched, how many GETs grep had in
//! flight, and what happens when another writer slips in before a
//! conditional put.

#![allow(dead_code)]

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// Chunks a GET body is cut into, like a network stream would be.
pub const CHUNK: usize = 64 * 1024;

#[derive(Default)]
pub struct Stats {
    /// Body bytes handed to the caller (what it actually consumed).
    pub bytes_read: AtomicU64,
    /// GET requests, by key.
    pub gets: Mutex<Vec<String>>,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

/// InMemory with a probe on every request.
pub struct Probe {
    pub inner: Arc<InMemory>,
    pub stats: Arc<Stats>,
    /// How long each GET takes (so concurrent GETs overlap).
    pub get_delay: Duration,
    /// This many conditional puts find that another writer replaced the
    /// object (with `INTRUDER` prepended) just before them.
    pub interfere: AtomicUsize,
}

pub const INTRUDER: &str = "intruder;";

impl Probe {
    pub fn new() -> Self {
        Probe {
            inner: Arc::new(InMemory::new()),
            stats: Arc::new(Stats::default()),
            get_delay: Duration::ZERO,
            interfere: AtomicUsize::new(0),
        }
    }

    pub fn with_get_delay(mut self, delay: Duration) -> Self {
        self.get_delay = delay;
        self
    }

    pub fn gets_of(&self, key: &str) -> usize {
        self.stats
            .gets
            .lock()
            .unwrap()
            .iter()
            .filter(|k| k.as_str() == key)
            .count()
    }

    pub fn total_gets(&self) -> usize {
        self.stats.gets.lock().unwrap().len()
    }
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Probe")
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Probe(InMemory)")
    }
}

struct InFlight(Arc<Stats>);

impl InFlight {
    fn enter(stats: &Arc<Stats>) -> Self {
        let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        stats.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(stats.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl ObjectStore for Probe {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        if matches!(opts.mode, PutMode::Update(_))
            && self
                .interfere
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            let current = self.inner.get(location).await?.bytes().await?;
            let mut replaced = INTRUDER.as_bytes().to_vec();
            replaced.extend_from_slice(&current);
            self.inner
                .put(location, PutPayload::from(Bytes::from(replaced)))
                .await?;
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let _in_flight = InFlight::enter(&self.stats);
        self.stats
            .gets
            .lock()
            .unwrap()
            .push(location.as_ref().to_owned());
        let result = self.inner.get_opts(location, options).await?;
        // The answer's latency: what was read may be stale by the time the
        // caller sees it, as over a network.
        if !self.get_delay.is_zero() {
            tokio::time::sleep(self.get_delay).await;
        }
        let stats = self.stats.clone();
        let GetResult {
            payload,
            meta,
            range,
            attributes,
        } = result;
        let GetResultPayload::Stream(stream) = payload else {
            unreachable!("InMemory streams")
        };
        // Re-chunk and count what the caller actually pulls.
        let chunked = stream
            .flat_map(|chunk| {
                let pieces: Vec<Result<Bytes>> = match chunk {
                    Ok(bytes) => (0..bytes.len())
                        .step_by(CHUNK)
                        .map(|i| Ok(bytes.slice(i..(i + CHUNK).min(bytes.len()))))
                        .collect(),
                    Err(e) => vec![Err(e)],
                };
                futures::stream::iter(pieces)
            })
            .inspect(move |chunk| {
                if let Ok(bytes) = chunk {
                    stats
                        .bytes_read
                        .fetch_add(bytes.len() as u64, Ordering::SeqCst);
                }
            })
            .boxed();
        Ok(GetResult {
            payload: GetResultPayload::Stream(chunked),
            meta,
            range,
            attributes,
        })
    }

    async fn get_range(&self, location: &Path, range: Range<u64>) -> Result<Bytes> {
        let got = self
            .get_opts(
                location,
                GetOptions {
                    range: Some(range.into()),
                    ..Default::default()
                },
            )
            .await?;
        got.bytes().await
    }

    async fn head(&self, location: &Path) -> Result<ObjectMeta> {
        self.inner.head(location).await
    }

    async fn delete(&self, location: &Path) -> Result<()> {
        self.inner.delete(location).await
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy(&self, from: &Path, to: &Path) -> Result<()> {
        self.inner.copy(from, to).await
    }

    async fn copy_if_not_exists(&self, from: &Path, to: &Path) -> Result<()> {
        self.inner.copy_if_not_exists(from, to).await
    }
}

/// `n` numbered lines: `line 1\n` ... `line n\n`.
pub fn numbered(n: usize) -> String {
    (1..=n).map(|i| format!("line {i}\n")).collect()
}
