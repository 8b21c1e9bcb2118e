//! [`ObjectStoreBackend`]: the [`Backend`] trait over an object store.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use deepagent_core::edit::{apply_edit, validate_edit};
use deepagent_core::{
    text, Backend, BackendError, EditResult, FileInfo, GlobQuery, GlobResult, GrepQuery,
    GrepResult, ReadSlice, Result, VPath, WriteResult,
};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    Attribute, AttributeValue, Attributes, ObjectMeta, ObjectStore, PutMode, PutOptions,
    PutPayload, PutResult, UpdateVersion,
};

use crate::config::{self, StoreConfig};
use crate::errors::{self, Ctx, Failure};
use crate::locks::KeyLocks;

/// The user-metadata key under which `write` and `edit` store a file's
/// line count, so `read` can report the total without fetching the whole
/// object. On S3 it is the header `x-amz-meta-deepagent-lines`.
pub const LINE_COUNT_METADATA: &str = "deepagent-lines";

const DEFAULT_GREP_CONCURRENCY: usize = 16;
const DEFAULT_GREP_MAX_OBJECT_SIZE: u64 = 16 * 1024 * 1024;
const DEFAULT_EDIT_ATTEMPTS: usize = 50;
const DEFAULT_FIRST_READ_BYTES: u64 = 256 * 1024;

/// Whether the store accepts something, learned from its first answer.
const UNKNOWN: u8 = 0;
const YES: u8 = 1;
const NO: u8 = 2;

/// A [`Backend`] whose files are objects in an [`ObjectStore`]: S3 and
/// S3-compatible servers, Google Cloud Storage, Azure Blob Storage, a local
/// directory or memory. See the [crate docs](crate) for how each operation
/// maps onto objects and what concurrent writers can and cannot do.
///
/// ```
/// use std::sync::Arc;
/// use deepagent_object_store::ObjectStoreBackend;
///
/// // Any object_store store...
/// let store = Arc::new(object_store::memory::InMemory::new());
/// let backend = ObjectStoreBackend::new(store)
///     .with_grep_concurrency(8)
///     .with_grep_max_object_size(4 << 20);
/// // ...or one chosen by URL, credentials from the environment:
/// let scratch = ObjectStoreBackend::from_url("memory://")?;
/// # let _ = (backend, scratch);
/// # Ok::<(), deepagent_core::BackendError>(())
/// ```
pub struct ObjectStoreBackend {
    store: Arc<dyn ObjectStore>,
    /// The URL (or the store's description) named in every error.
    url: String,
    /// What to set when credentials are missing or wrong.
    credentials_hint: String,
    /// What to check when the store does not answer.
    endpoint_hint: String,
    locks: KeyLocks,
    /// Does the store keep user metadata (`Attributes`)?
    metadata: AtomicU8,
    /// Does the store do conditional puts (`PutMode::Update`)?
    conditional: AtomicU8,
    /// Conditional puts that lost to another writer (and were retried).
    conflicts: AtomicU64,
    grep_concurrency: usize,
    grep_max_object_size: u64,
    edit_attempts: usize,
    first_read_bytes: u64,
}

impl std::fmt::Debug for ObjectStoreBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStoreBackend")
            .field("url", &self.url)
            .field("store", &self.store.to_string())
            .finish_non_exhaustive()
    }
}

impl ObjectStoreBackend {
    /// A backend over `store`, whose root is the backend's `/`. To keep the
    /// files below a prefix, wrap the store in
    /// [`PrefixStore`](object_store::prefix::PrefixStore) or use
    /// [`from_url`](Self::from_url).
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        let url = store.to_string();
        Self::assemble(
            store,
            url,
            "check the store's credentials".into(),
            "check the store's endpoint".into(),
        )
    }

    /// A backend for a store URL, with credentials, region and endpoint
    /// from the provider's standard environment:
    ///
    /// | URL | store | needs |
    /// |---|---|---|
    /// | `s3://bucket/prefix` | S3 or an S3-compatible server | feature `aws`; `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL` (+ `AWS_ALLOW_HTTP=true` for `http://`) |
    /// | `gs://bucket/prefix` | Google Cloud Storage | feature `gcp`; `GOOGLE_SERVICE_ACCOUNT` |
    /// | `az://container/prefix` | Azure Blob Storage | feature `azure`; `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY` |
    /// | `file:///dir`, `file://rel/dir` | a local directory (created if missing) | |
    /// | `memory://` | memory, gone with the process | |
    ///
    /// Building makes no request; a missing bucket, wrong credentials or
    /// an unreachable endpoint show up on the first operation (or
    /// [`check`](Self::check)) as errors naming the URL and what to set.
    pub fn from_url(url: &str) -> Result<Self> {
        Self::from_url_with(url, &StoreConfig::default())
    }

    /// [`from_url`](Self::from_url) with provider options (which win over
    /// the environment) and the HTTP retry policy.
    ///
    /// ```
    /// use deepagent_object_store::{ObjectStoreBackend, StoreConfig};
    /// let err = ObjectStoreBackend::from_url_with("memory://", &StoreConfig::new().option("region", "x"))
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("memory:// takes no options"));
    /// ```
    pub fn from_url_with(url: &str, config: &StoreConfig) -> Result<Self> {
        let built = config::build(url, config)?;
        let store: Arc<dyn ObjectStore> = if built.prefix.is_empty() {
            built.store
        } else {
            Arc::new(PrefixStore::new(built.store, built.prefix.as_str()))
        };
        Ok(Self::assemble(
            store,
            url.to_owned(),
            built.scheme.credentials_hint().to_owned(),
            built.endpoint_hint,
        ))
    }

    fn assemble(
        store: Arc<dyn ObjectStore>,
        url: String,
        credentials_hint: String,
        endpoint_hint: String,
    ) -> Self {
        ObjectStoreBackend {
            store,
            url,
            credentials_hint,
            endpoint_hint,
            locks: KeyLocks::new(),
            metadata: AtomicU8::new(UNKNOWN),
            conditional: AtomicU8::new(UNKNOWN),
            conflicts: AtomicU64::new(0),
            grep_concurrency: DEFAULT_GREP_CONCURRENCY,
            grep_max_object_size: DEFAULT_GREP_MAX_OBJECT_SIZE,
            edit_attempts: DEFAULT_EDIT_ATTEMPTS,
            first_read_bytes: DEFAULT_FIRST_READ_BYTES,
        }
    }

    /// How many objects `grep` fetches at once (default 16).
    pub fn with_grep_concurrency(mut self, n: usize) -> Self {
        self.grep_concurrency = n.max(1);
        self
    }

    /// Objects larger than this are not searched by `grep` (default 16 MiB),
    /// like binary objects.
    pub fn with_grep_max_object_size(mut self, bytes: u64) -> Self {
        self.grep_max_object_size = bytes;
        self
    }

    /// How many times `edit` re-reads and retries when another writer
    /// changed the object between its get and its conditional put
    /// (default 50, with jittered backoff between attempts).
    pub fn with_edit_attempts(mut self, n: usize) -> Self {
        self.edit_attempts = n.max(1);
        self
    }

    /// The size of the first byte range `read` fetches (default 256 KiB);
    /// a slice that ends inside it costs one request.
    pub fn with_first_read_bytes(mut self, bytes: u64) -> Self {
        self.first_read_bytes = bytes.max(1);
        self
    }

    /// How many times an `edit` found that another writer had changed the
    /// object between its get and its conditional put, and started over.
    /// Each of these is an update that a plain put would have lost.
    pub fn edit_conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    /// Whether the store has shown that it does conditional updates:
    /// `Some(true)` after an edit went through one, `Some(false)` after the
    /// store refused one (edits then rely on this process's lock alone),
    /// `None` before the first edit.
    pub fn conditional_updates(&self) -> Option<bool> {
        match self.conditional.load(Ordering::Relaxed) {
            YES => Some(true),
            NO => Some(false),
            _ => None,
        }
    }

    /// The URL this backend was built from (or the store's description).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The underlying store (already below the URL's prefix).
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Asks the store for one listing entry, to learn early (at startup
    /// rather than at the model's first tool call) that the bucket is
    /// missing, the credentials are wrong or the endpoint is down; the
    /// error names the URL and what to set.
    pub async fn check(&self) -> Result<()> {
        let mut listing = self.store.list(None);
        match listing.try_next().await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.error("/", "list", e)),
        }
    }

    // ---- helpers shared by the operations ----

    pub(crate) fn error(&self, path: &str, op: &str, e: object_store::Error) -> BackendError {
        let hint = match errors::classify(&e) {
            Failure::Credentials | Failure::Denied => self.credentials_hint.as_str(),
            _ => self.endpoint_hint.as_str(),
        };
        errors::to_backend(
            &Ctx {
                url: &self.url,
                path,
                op,
                hint,
            },
            e,
        )
    }

    /// The object key of a virtual path: the path without its leading `/`.
    /// Keys are the names exactly (no percent-encoding), so other tools
    /// see the same names the agent does.
    pub(crate) fn key(&self, vpath: &VPath) -> Result<Path> {
        Path::parse(vpath.as_str().trim_start_matches('/')).map_err(|e| {
            BackendError::invalid_path(
                vpath.as_str(),
                format!("not a valid object key ({e}); object keys cannot hold control characters"),
            )
        })
    }

    /// The virtual path of a listed key; `None` for keys no virtual path
    /// can name (e.g. written by another tool with `..` in them).
    pub(crate) fn vpath_of(key: &Path) -> Option<VPath> {
        VPath::new(&format!("/{}", key.as_ref()))
            .ok()
            .filter(|v| v.as_str().trim_start_matches('/') == key.as_ref())
    }

    pub(crate) fn file_info(vpath: &VPath, meta: &ObjectMeta) -> FileInfo {
        FileInfo::file(vpath, meta.size, Some(SystemTime::from(meta.last_modified)))
    }

    /// True when some object lies below `key` (so `key` is a directory).
    pub(crate) async fn is_dir(&self, vpath: &VPath, key: &Path) -> Result<bool> {
        if vpath.is_root() {
            return Ok(true);
        }
        let mut listing = self.store.list(Some(key));
        match listing.try_next().await {
            Ok(found) => Ok(found.is_some()),
            Err(e) => Err(self.error(vpath.as_str(), "list", e)),
        }
    }

    /// The error for a key with no object: a directory or nothing.
    pub(crate) async fn missing(&self, vpath: &VPath, key: &Path) -> BackendError {
        match self.is_dir(vpath, key).await {
            Ok(true) => BackendError::IsADirectory {
                path: vpath.as_str().to_owned(),
            },
            Ok(false) => BackendError::not_found(vpath.as_str()),
            Err(e) => e,
        }
    }

    /// A put that stores the line count as metadata where the store keeps
    /// metadata, and learns (once) when it does not.
    async fn put(
        &self,
        key: &Path,
        content: &Bytes,
        mode: PutMode,
    ) -> object_store::Result<PutResult> {
        if self.metadata.load(Ordering::Relaxed) != NO {
            let mut attributes = Attributes::new();
            attributes.insert(
                Attribute::Metadata(LINE_COUNT_METADATA.into()),
                AttributeValue::from(text::count_lines(content).to_string()),
            );
            let opts = PutOptions {
                mode: mode.clone(),
                attributes,
                ..Default::default()
            };
            match self
                .store
                .put_opts(key, PutPayload::from(content.clone()), opts)
                .await
            {
                Err(object_store::Error::NotImplemented) => {}
                other => {
                    if other.is_ok() {
                        self.metadata.store(YES, Ordering::Relaxed);
                    }
                    return other;
                }
            }
        }
        let opts = PutOptions {
            mode,
            ..Default::default()
        };
        let result = self
            .store
            .put_opts(key, PutPayload::from(content.clone()), opts)
            .await;
        if result.is_ok() {
            // The same put without metadata went through: the store keeps
            // none (object_store's LocalFileSystem, for one).
            self.metadata.store(NO, Ordering::Relaxed);
        }
        result
    }

    /// Checks that `vpath` can become a file: it is not a directory and
    /// no parent is a file. All the checks go out at once.
    async fn check_writable(&self, vpath: &VPath, key: &Path) -> Result<()> {
        let parents: Vec<VPath> = std::iter::successors(vpath.parent(), VPath::parent)
            .filter(|p| !p.is_root())
            .collect();
        let parent_checks = futures::future::join_all(parents.iter().map(|parent| async move {
            let parent_key = self.key(parent)?;
            match self.store.head(&parent_key).await {
                Ok(_) => Ok(Some(parent.clone())),
                Err(e) if errors::classify(&e) == Failure::NotFound => Ok(None),
                Err(e) => Err(self.error(parent.as_str(), "head", e)),
            }
        }));
        let (dir, parents) = futures::future::join(self.is_dir(vpath, key), parent_checks).await;
        if dir? {
            return Err(BackendError::IsADirectory {
                path: vpath.as_str().to_owned(),
            });
        }
        for found in parents {
            if let Some(file) = found? {
                return Err(BackendError::NotADirectory {
                    path: file.as_str().to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// A pause before the next edit attempt: exponential from 5 ms to 320 ms,
/// scaled by a random factor in [0.5, 1.5) so processes that collided do
/// not collide again in lockstep.
fn backoff(attempt: usize) -> Duration {
    let base = 5u64 << attempt.min(6);
    let noise = RandomState::new().hash_one(attempt) % 1000;
    Duration::from_micros(base * (500 + noise))
}

#[async_trait]
impl Backend for ObjectStoreBackend {
    fn name(&self) -> &str {
        "ObjectStoreBackend"
    }

    async fn exists(&self, path: &str) -> Result<bool> {
        let vpath = VPath::new(path)?;
        if vpath.is_root() {
            return Ok(false);
        }
        let key = self.key(&vpath)?;
        match self.store.head(&key).await {
            Ok(_) => Ok(true),
            Err(e) if errors::classify(&e) == Failure::NotFound => Ok(false),
            Err(e) => Err(self.error(vpath.as_str(), "head", e)),
        }
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        let vpath = VPath::new(path)?;
        let key = self.key(&vpath)?;
        let prefix = (!vpath.is_root()).then_some(&key);
        let head = async {
            if vpath.is_root() {
                None
            } else {
                Some(self.store.head(&key).await)
            }
        };
        // A file or a directory: ask both at once, one round trip.
        let (head, listing) =
            futures::future::join(head, self.store.list_with_delimiter(prefix)).await;
        match head {
            Some(Ok(meta)) => return Ok(vec![Self::file_info(&vpath, &meta)]),
            Some(Err(e)) if errors::classify(&e) != Failure::NotFound => {
                return Err(self.error(vpath.as_str(), "head", e))
            }
            _ => {}
        }
        let listing = listing.map_err(|e| self.error(vpath.as_str(), "list", e))?;
        let mut entries: Vec<FileInfo> = listing
            .common_prefixes
            .iter()
            .filter_map(Self::vpath_of)
            .map(|dir| FileInfo::dir(&dir, None))
            .chain(listing.objects.iter().filter_map(|meta| {
                Self::vpath_of(&meta.location).map(|file| Self::file_info(&file, meta))
            }))
            .collect();
        if entries.is_empty() && !vpath.is_root() {
            return Err(BackendError::not_found(vpath.as_str()));
        }
        deepagent_core::sort_listing(&mut entries);
        Ok(entries)
    }

    async fn read_bytes(&self, path: &str) -> Result<Bytes> {
        let vpath = VPath::new(path)?;
        if vpath.is_root() {
            return Err(BackendError::IsADirectory { path: "/".into() });
        }
        let key = self.key(&vpath)?;
        let got = match self.store.get(&key).await {
            Ok(got) => got,
            Err(e) if errors::classify(&e) == Failure::NotFound => {
                return Err(self.missing(&vpath, &key).await)
            }
            Err(e) => return Err(self.error(vpath.as_str(), "get", e)),
        };
        got.bytes()
            .await
            .map_err(|e| self.error(vpath.as_str(), "get", e))
    }

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadSlice> {
        let vpath = VPath::new(path)?;
        if vpath.is_root() {
            return Err(BackendError::IsADirectory { path: "/".into() });
        }
        let key = self.key(&vpath)?;
        crate::read::read_slice(self, &vpath, &key, offset, limit, self.first_read_bytes).await
    }

    async fn write(&self, path: &str, content: Bytes) -> Result<WriteResult> {
        let vpath = VPath::new(path)?;
        if vpath.is_root() {
            return Err(BackendError::IsADirectory { path: "/".into() });
        }
        let key = self.key(&vpath)?;
        let _guard = self.locks.lock(key.as_ref()).await;
        self.check_writable(&vpath, &key).await?;
        self.put(&key, &content, PutMode::Overwrite)
            .await
            .map_err(|e| self.error(vpath.as_str(), "put", e))?;
        Ok(WriteResult::new(vpath.into_string(), content.len() as u64))
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: deepagent_core::Replace,
    ) -> Result<EditResult> {
        let vpath = VPath::new(path)?;
        validate_edit(old, new)?;
        if vpath.is_root() {
            return Err(BackendError::IsADirectory { path: "/".into() });
        }
        let key = self.key(&vpath)?;
        let _guard = self.locks.lock(key.as_ref()).await;
        let mut attempt = 0;
        loop {
            let got = match self.store.get(&key).await {
                Ok(got) => got,
                Err(e) if errors::classify(&e) == Failure::NotFound => {
                    return Err(self.missing(&vpath, &key).await)
                }
                Err(e) => return Err(self.error(vpath.as_str(), "get", e)),
            };
            let version = UpdateVersion {
                e_tag: got.meta.e_tag.clone(),
                version: got.meta.version.clone(),
            };
            let content = got
                .bytes()
                .await
                .map_err(|e| self.error(vpath.as_str(), "get", e))?;
            let (edited, occurrences) =
                apply_edit(vpath.as_str(), &content, old, new, replace_all)?;
            let edited = Bytes::from(edited);
            // Without a version to condition on (or a store that cannot),
            // the per-key lock is all there is: atomic in this process only.
            let conditional = self.conditional.load(Ordering::Relaxed) != NO
                && (version.e_tag.is_some() || version.version.is_some());
            let mode = if conditional {
                PutMode::Update(version)
            } else {
                PutMode::Overwrite
            };
            match self.put(&key, &edited, mode).await {
                Ok(_) => {
                    if conditional {
                        self.conditional.store(YES, Ordering::Relaxed);
                    }
                    return Ok(EditResult::new(vpath.into_string(), occurrences));
                }
                Err(object_store::Error::NotImplemented) if conditional => {
                    self.conditional.store(NO, Ordering::Relaxed);
                    // Retry at once, unconditionally, still under the lock.
                }
                // Another writer replaced (or deleted) the object since our
                // get: read it again and redo the edit on what is there now.
                Err(e)
                    if matches!(
                        errors::classify(&e),
                        Failure::Conflict | Failure::NotFound | Failure::AlreadyExists
                    ) =>
                {
                    self.conflicts.fetch_add(1, Ordering::Relaxed);
                    attempt += 1;
                    if attempt >= self.edit_attempts {
                        return Err(BackendError::other(format!(
                            "edit of {} on {} gave up after {attempt} attempts: another writer changed the object every time between read and write; try again",
                            vpath.as_str(),
                            self.url
                        )));
                    }
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(e) => return Err(self.error(vpath.as_str(), "put", e)),
            }
        }
    }

    async fn glob(&self, query: &GlobQuery) -> Result<GlobResult> {
        crate::search::glob(self, query).await
    }

    async fn grep(&self, query: &GrepQuery) -> Result<GrepResult> {
        crate::search::grep(
            self,
            query,
            self.grep_concurrency,
            self.grep_max_object_size,
        )
        .await
    }
}
