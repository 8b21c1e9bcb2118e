//! Building a store from a URL: the scheme picks the provider, the
//! provider's standard environment supplies credentials, and
//! [`StoreConfig`] overrides either.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use deepagent_core::{BackendError, Result};
use object_store::memory::InMemory;
use object_store::ObjectStore;

/// The kinds of store a URL can name.
///
/// ```
/// use deepagent_object_store::StoreScheme;
/// assert_eq!(StoreScheme::of_url("s3://bucket/run-42"), Some(StoreScheme::S3));
/// assert_eq!(StoreScheme::of_url("memory://"), Some(StoreScheme::Memory));
/// assert_eq!(StoreScheme::of_url("ftp://x"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreScheme {
    /// `s3://bucket/prefix` (also `s3a://`): AWS S3 or any S3-compatible
    /// server (cargo feature `aws`).
    S3,
    /// `gs://bucket/prefix`: Google Cloud Storage (cargo feature `gcp`).
    Gcs,
    /// `az://container/prefix` (also `azure://`, `adl://`, `abfs://`,
    /// `abfss://`): Azure Blob Storage (cargo feature `azure`).
    Azure,
    /// `file:///absolute/dir` or `file://relative/dir`: object_store's
    /// `LocalFileSystem` over a directory (created if missing).
    File,
    /// `memory://`: object_store's `InMemory`, gone with the process.
    Memory,
}

impl StoreScheme {
    /// The scheme of `url`, or `None` for a scheme this crate does not know.
    pub fn of_url(url: &str) -> Option<Self> {
        let (scheme, _) = url.split_once("://")?;
        Some(match scheme.to_ascii_lowercase().as_str() {
            "s3" | "s3a" => Self::S3,
            "gs" => Self::Gcs,
            "az" | "azure" | "adl" | "abfs" | "abfss" => Self::Azure,
            "file" => Self::File,
            "memory" => Self::Memory,
            _ => return None,
        })
    }

    /// The cargo feature of this crate the scheme needs, if any.
    pub fn feature(self) -> Option<&'static str> {
        match self {
            Self::S3 => Some("aws"),
            Self::Gcs => Some("gcp"),
            Self::Azure => Some("azure"),
            Self::File | Self::Memory => None,
        }
    }

    /// What to set for credentials, for error messages.
    pub(crate) fn credentials_hint(self) -> &'static str {
        match self {
            Self::S3 => "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for temporary credentials), or the access_key_id and secret_access_key options",
            Self::Gcs => "set GOOGLE_SERVICE_ACCOUNT (or GOOGLE_APPLICATION_CREDENTIALS) to a service-account key file, or the service_account option",
            Self::Azure => "set AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY (or AZURE_STORAGE_SAS_KEY, or a client id and secret)",
            Self::File | Self::Memory => "no credentials are needed",
        }
    }
}

/// How the HTTP client retries a request that got no answer (connection
/// refused, timeout, 5xx) before the operation fails with the retryable
/// error kind (an I/O error of kind `ConnectionRefused` or `TimedOut`).
///
/// The defaults give up sooner than object_store's own (10 retries, 3
/// minutes): a model waiting on a tool call is better told early that the
/// store is down.
///
/// ```
/// use std::time::Duration;
/// use deepagent_object_store::RetryOptions;
/// let patient = RetryOptions::default().max_retries(10).retry_timeout(Duration::from_secs(180));
/// assert_eq!(RetryOptions::default().max_retries, 3);
/// # let _ = patient;
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RetryOptions {
    /// Retries of one request (default 3).
    pub max_retries: usize,
    /// No retry starts after this much time since the first attempt
    /// (default 30 s).
    pub retry_timeout: Duration,
    /// The first backoff (default 100 ms); it doubles up to `max_backoff`.
    pub init_backoff: Duration,
    /// The longest backoff (default 5 s).
    pub max_backoff: Duration,
}

impl Default for RetryOptions {
    fn default() -> Self {
        RetryOptions {
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryOptions {
    /// Sets the retries of one request.
    pub fn max_retries(mut self, n: usize) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets the time after the first attempt past which no retry starts.
    pub fn retry_timeout(mut self, timeout: Duration) -> Self {
        self.retry_timeout = timeout;
        self
    }

    /// Sets the first backoff.
    pub fn init_backoff(mut self, backoff: Duration) -> Self {
        self.init_backoff = backoff;
        self
    }

    /// Sets the longest backoff.
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }
}

#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
impl RetryOptions {
    fn to_object_store(self) -> object_store::RetryConfig {
        object_store::RetryConfig {
            backoff: object_store::BackoffConfig {
                init_backoff: self.init_backoff,
                max_backoff: self.max_backoff,
                base: 2.0,
            },
            max_retries: self.max_retries,
            retry_timeout: self.retry_timeout,
        }
    }
}

/// Settings for [`ObjectStoreBackend::from_url_with`](crate::ObjectStoreBackend::from_url_with),
/// on top of the environment.
///
/// `options` are the provider's configuration keys as object_store names
/// them (`endpoint`, `region`, `access_key_id`, `secret_access_key`,
/// `allow_http`, `conditional_put`, `timeout`, `connect_timeout` for S3;
/// `service_account` for GCS; `account_name`, `access_key` for Azure, each
/// also with its `aws_`/`google_`/`azure_` prefix). They win over the
/// environment.
///
/// ```
/// use deepagent_object_store::StoreConfig;
/// let config = StoreConfig::new()
///     .option("endpoint", "http://127.0.0.1:9000")
///     .option("allow_http", "true");
/// assert_eq!(config.options["endpoint"], "http://127.0.0.1:9000");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoreConfig {
    /// Provider configuration keys and values.
    pub options: BTreeMap<String, String>,
    /// The HTTP retry policy of cloud stores.
    pub retry: RetryOptions,
    /// Read the provider's standard environment (`AWS_*`, `GOOGLE_*`,
    /// `AZURE_*`) before applying `options` (default true).
    pub use_environment: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            options: BTreeMap::new(),
            retry: RetryOptions::default(),
            use_environment: true,
        }
    }
}

impl StoreConfig {
    /// No options, default retries, the environment read.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ignores the environment: only `options` configure the store (for a
    /// mount whose credentials must not be the process's).
    pub fn without_environment(mut self) -> Self {
        self.use_environment = false;
        self
    }

    /// Sets one provider option.
    pub fn option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.insert(key.into(), value.into());
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, retry: RetryOptions) -> Self {
        self.retry = retry;
        self
    }
}

/// A store built from a URL, with what messages need to know about it.
pub(crate) struct BuiltStore {
    pub store: Arc<dyn ObjectStore>,
    /// The key prefix the URL names ("" for the bucket's root).
    pub prefix: String,
    /// What to check when the store cannot be reached.
    pub endpoint_hint: String,
    pub scheme: StoreScheme,
}

fn config_error(url: &str, reason: impl std::fmt::Display) -> BackendError {
    BackendError::InvalidArgument {
        message: format!("cannot use the store URL {url}: {reason}"),
    }
}

/// Splits `scheme://bucket/some/prefix` into bucket and prefix.
fn bucket_and_prefix(url: &str) -> (&str, String) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    match rest.split_once('/') {
        Some((bucket, prefix)) => (bucket, prefix.trim_matches('/').to_owned()),
        None => (rest, String::new()),
    }
}

pub(crate) fn build(url: &str, config: &StoreConfig) -> Result<BuiltStore> {
    let Some(scheme) = StoreScheme::of_url(url) else {
        return Err(config_error(
            url,
            "unknown scheme; use s3://bucket/prefix, gs://bucket/prefix, az://container/prefix, file:///dir or memory://",
        ));
    };
    match scheme {
        StoreScheme::Memory => {
            if !config.options.is_empty() {
                return Err(config_error(url, "memory:// takes no options"));
            }
            Ok(BuiltStore {
                store: Arc::new(InMemory::new()),
                prefix: bucket_and_prefix(url).1,
                endpoint_hint: "in memory".into(),
                scheme,
            })
        }
        StoreScheme::File => build_file(url, config),
        StoreScheme::S3 => build_s3(url, config),
        StoreScheme::Gcs => build_gcs(url, config),
        StoreScheme::Azure => build_azure(url, config),
    }
}

fn build_file(url: &str, config: &StoreConfig) -> Result<BuiltStore> {
    if !config.options.is_empty() {
        return Err(config_error(url, "file:// takes no options"));
    }
    let raw = url.split_once("://").map_or("", |(_, rest)| rest);
    if raw.is_empty() {
        return Err(config_error(
            url,
            "name a directory: file:///absolute/dir or file://relative/dir",
        ));
    }
    let dir = PathBuf::from(raw);
    std::fs::create_dir_all(&dir).map_err(|e| {
        config_error(
            url,
            format!("cannot create the directory {}: {e}", dir.display()),
        )
    })?;
    let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)
        .map_err(|e| config_error(url, crate::errors::chain(&e)))?;
    Ok(BuiltStore {
        store: Arc::new(store),
        prefix: String::new(),
        endpoint_hint: format!("the directory {}", dir.display()),
        scheme: StoreScheme::File,
    })
}

#[cfg(not(feature = "aws"))]
fn build_s3(url: &str, _config: &StoreConfig) -> Result<BuiltStore> {
    Err(missing_feature(url, StoreScheme::S3))
}
#[cfg(not(feature = "gcp"))]
fn build_gcs(url: &str, _config: &StoreConfig) -> Result<BuiltStore> {
    Err(missing_feature(url, StoreScheme::Gcs))
}
#[cfg(not(feature = "azure"))]
fn build_azure(url: &str, _config: &StoreConfig) -> Result<BuiltStore> {
    Err(missing_feature(url, StoreScheme::Azure))
}

#[cfg(not(all(feature = "aws", feature = "gcp", feature = "azure")))]
fn missing_feature(url: &str, scheme: StoreScheme) -> BackendError {
    let feature = scheme.feature().unwrap_or("?");
    config_error(
        url,
        format!(
            "this build has no {feature} support; enable the `{feature}` cargo feature of deepagent-object-store (or `object-store-{feature}` of deepagent)"
        ),
    )
}

/// An option key object_store does not know, named with the keys it does.
#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
fn unknown_option(url: &str, key: &str, store: &str) -> BackendError {
    config_error(
        url,
        format!(
            "{key:?} is not a {store} option (see object_store's {store}ConfigKey for the names)"
        ),
    )
}

#[cfg(feature = "aws")]
fn build_s3(url: &str, config: &StoreConfig) -> Result<BuiltStore> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
    let (bucket, prefix) = bucket_and_prefix(url);
    if bucket.is_empty() {
        return Err(config_error(
            url,
            "the URL names no bucket; use s3://BUCKET/prefix",
        ));
    }
    let mut builder = if config.use_environment {
        AmazonS3Builder::from_env()
    } else {
        AmazonS3Builder::new()
    };
    for (key, value) in &config.options {
        let parsed: AmazonS3ConfigKey = key
            .parse()
            .map_err(|_| unknown_option(url, key, "AmazonS3"))?;
        builder = builder.with_config(parsed, value);
    }
    builder = builder
        .with_url(url)
        .with_retry(config.retry.to_object_store());
    let endpoint = builder
        .get_config_value(&AmazonS3ConfigKey::Endpoint)
        .unwrap_or_else(|| {
            let region = builder
                .get_config_value(&AmazonS3ConfigKey::Region)
                .unwrap_or_else(|| "us-east-1".into());
            format!("https://s3.{region}.amazonaws.com (AWS; set AWS_ENDPOINT_URL or the endpoint option for another server)")
        });
    let store = builder.build().map_err(|e| {
        config_error(
            url,
            format!(
                "{}; {}",
                crate::errors::chain(&e),
                StoreScheme::S3.credentials_hint()
            ),
        )
    })?;
    Ok(BuiltStore {
        store: Arc::new(store),
        prefix,
        endpoint_hint: format!("endpoint {endpoint}; AWS_ALLOW_HTTP=true is needed for http://"),
        scheme: StoreScheme::S3,
    })
}

#[cfg(feature = "gcp")]
fn build_gcs(url: &str, config: &StoreConfig) -> Result<BuiltStore> {
    use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
    let (bucket, prefix) = bucket_and_prefix(url);
    if bucket.is_empty() {
        return Err(config_error(
            url,
            "the URL names no bucket; use gs://BUCKET/prefix",
        ));
    }
    let mut builder = if config.use_environment {
        GoogleCloudStorageBuilder::from_env()
    } else {
        GoogleCloudStorageBuilder::new()
    };
    for (key, value) in &config.options {
        let parsed: GoogleConfigKey = key
            .parse()
            .map_err(|_| unknown_option(url, key, "Google"))?;
        builder = builder.with_config(parsed, value);
    }
    let store = builder
        .with_url(url)
        .with_retry(config.retry.to_object_store())
        .build()
        .map_err(|e| {
            config_error(
                url,
                format!(
                    "{}; {}",
                    crate::errors::chain(&e),
                    StoreScheme::Gcs.credentials_hint()
                ),
            )
        })?;
    Ok(BuiltStore {
        store: Arc::new(store),
        prefix,
        endpoint_hint: "endpoint https://storage.googleapis.com".into(),
        scheme: StoreScheme::Gcs,
    })
}

#[cfg(feature = "azure")]
fn build_azure(url: &str, config: &StoreConfig) -> Result<BuiltStore> {
    use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
    let (container, prefix) = bucket_and_prefix(url);
    if container.is_empty() {
        return Err(config_error(
            url,
            "the URL names no container; use az://CONTAINER/prefix",
        ));
    }
    let mut builder = if config.use_environment {
        MicrosoftAzureBuilder::from_env()
    } else {
        MicrosoftAzureBuilder::new()
    };
    for (key, value) in &config.options {
        let parsed: AzureConfigKey = key.parse().map_err(|_| unknown_option(url, key, "Azure"))?;
        builder = builder.with_config(parsed, value);
    }
    let store = builder
        .with_url(url)
        .with_retry(config.retry.to_object_store())
        .build()
        .map_err(|e| {
            config_error(
                url,
                format!(
                    "{}; {}",
                    crate::errors::chain(&e),
                    StoreScheme::Azure.credentials_hint()
                ),
            )
        })?;
    Ok(BuiltStore {
        store: Arc::new(store),
        prefix,
        endpoint_hint: "the storage account's blob endpoint".into(),
        scheme: StoreScheme::Azure,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_and_prefix_split() {
        assert_eq!(bucket_and_prefix("s3://b/run-42"), ("b", "run-42".into()));
        assert_eq!(bucket_and_prefix("s3://b/a/b/"), ("b", "a/b".into()));
        assert_eq!(bucket_and_prefix("s3://b"), ("b", String::new()));
        assert_eq!(bucket_and_prefix("memory://"), ("", String::new()));
    }

    #[test]
    fn unknown_scheme_names_the_url_and_the_choices() {
        let e = build("ftp://host/x", &StoreConfig::new()).err().unwrap();
        let msg = e.to_string();
        assert!(
            msg.contains("ftp://host/x") && msg.contains("s3://"),
            "{msg}"
        );
    }

    #[cfg(not(feature = "aws"))]
    #[test]
    fn s3_without_the_feature_says_which_feature() {
        let e = build("s3://bucket/p", &StoreConfig::new()).err().unwrap();
        assert!(e.to_string().contains("`aws` cargo feature"), "{e}");
    }
}
