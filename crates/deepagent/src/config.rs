//! Backends chosen by configuration: one URL per backend, and a TOML file
//! that mounts several into a [`CompositeBackend`].
//!
//! ## URLs
//!
//! | URL | backend | cargo feature of `deepagent` |
//! |---|---|---|
//! | `memory://` | [`StateBackend`] (in memory, gone with the process) | |
//! | `file://./workspace`, `file:///srv/ws`, `local://…` | [`LocalBackend`] on that directory (created if missing) | |
//! | `s3://bucket/prefix` | `ObjectStoreBackend` on S3 or an S3-compatible server | `object-store-aws` |
//! | `gs://bucket/prefix` | `ObjectStoreBackend` on Google Cloud Storage | `object-store-gcp` |
//! | `az://container/prefix` | `ObjectStoreBackend` on Azure Blob Storage | `object-store-azure` |
//! | `object+file:///dir`, `object+memory://` | `ObjectStoreBackend` on object_store's local or in-memory store | `object-store` |
//! | `docker://python-minimal` | `DockerSandbox` with a built-in runtime (option `image` names a local image; with it any name is a runtime name) | `docker` |
//!
//! `file://` means a [`LocalBackend`] directory, the way the seed mounts
//! `/project/`: crash-safe writes, a jail no path escapes, and the shell.
//! To keep files in a directory *as objects* instead (the object store's
//! semantics, e.g. to test a bucket layout without a server), say
//! `object+file://`. A relative `file://` path is relative to the
//! directory of the TOML file, or to the current directory for
//! [`backend_from_url`].
//!
//! Cloud credentials come from the provider's standard environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL`, ...); a mount's `options` override it.
//!
//! ## The TOML file
//!
//! ```toml
//! default = "memory://"                      # or "docker://python-minimal"
//!
//! [mounts]
//! "/project/" = "file://./workspace"
//! "/docs/" = { url = "file://./docs", read_only = true }
//! "/artifacts/" = { url = "s3://bucket/run-42", permissions = "strict", options = { endpoint = "http://127.0.0.1:9000", allow_http = "true" } }
//! "/shared/" = { url = "s3://bucket/shared", retry = { max_retries = 5, timeout_secs = 60 } }
//! ```
//!
//! Per mount (and for `default`, which takes the same table):
//! `read_only` wraps the backend in [`ReadOnly`]; `permissions` is a
//! preset name (`default`, `readonly`, `strict`, `permissive`) or a
//! [`Ruleset`] table, enforced by [`Permissioned`]; `options` are the
//! object store's provider options; `retry` is its HTTP retry policy;
//! `execute = false` turns a `file://` directory's shell off.
//!
//! ```
//! use deepagent::config::BackendConfig;
//!
//! let dir = tempfile::tempdir()?;
//! let config = BackendConfig::from_toml(
//!     r#"
//!     default = "memory://"
//!     [mounts]
//!     "/project/" = "file://./workspace"
//!     "/docs/" = { url = "file://./docs", read_only = true }
//!     "#,
//!     dir.path(),
//! )?;
//! let composite = config.build_composite()?;
//! assert_eq!(composite.mounts().len(), 2);
//! assert!(dir.path().join("workspace").is_dir());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use deepagent_composite::CompositeBackend;
use deepagent_core::layers::{Permissioned, ReadOnly, Ruleset};
use deepagent_core::{Backend, BackendError};
use deepagent_local::LocalBackend;
use deepagent_state::StateBackend;
use serde::Deserialize;

/// Why a configuration could not become a backend. Each names the URL,
/// mount or file, and what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The URL cannot be used as written (unknown scheme, missing path,
    /// a feature this build lacks).
    #[error("backend URL {url}: {message}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The backend could not be created.
    #[error("backend URL {url}: {source}")]
    Backend {
        /// The URL as given.
        url: String,
        /// The backend's error.
        #[source]
        source: BackendError,
    },
    /// A mount prefix is unusable (not a path, or mounted twice).
    #[error("mount {prefix:?}: {message}")]
    Mount {
        /// The prefix as written.
        prefix: String,
        /// What is wrong.
        message: String,
    },
    /// The configuration file could not be read or parsed.
    #[error("configuration file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O or TOML error.
        message: String,
    },
}

/// A backend from a URL (see the [module docs](self) for the schemes),
/// with a relative `file://` path taken from the current directory.
///
/// ```
/// let scratch = deepagent::backend_from_url("memory://")?;
/// assert_eq!(scratch.name(), "StateBackend");
/// let err = deepagent::backend_from_url("ftp://example/x").err().unwrap();
/// assert!(err.to_string().contains("ftp://example/x"));
/// # Ok::<(), deepagent::config::ConfigError>(())
/// ```
pub fn backend_from_url(url: &str) -> Result<Arc<dyn Backend>, ConfigError> {
    MountConfig::url(url).build(Path::new("."))
}

/// One backend: a URL and what to wrap around it. In TOML either a string
/// (the URL) or a table with `url` and the options below.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(from = "MountSpec")]
#[non_exhaustive]
pub struct MountConfig {
    /// The backend's URL.
    pub url: String,
    /// Refuse write, edit and execute ([`ReadOnly`]).
    pub read_only: bool,
    /// A permission ruleset enforced around the backend.
    pub permissions: Option<Permissions>,
    /// Object-store provider options (`endpoint`, `region`, ...).
    pub options: BTreeMap<String, String>,
    /// The object store's HTTP retry policy.
    pub retry: Option<RetryConfig>,
    /// For a `file://` directory: whether its shell runs commands
    /// (default true, as for [`LocalBackend`]).
    pub execute: Option<bool>,
}

/// The HTTP retry policy of a cloud mount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Retries of one request.
    pub max_retries: Option<usize>,
    /// Seconds after which no retry starts.
    pub timeout_secs: Option<f64>,
}

impl RetryConfig {
    /// Nothing set: the object store's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the retries of one request.
    pub fn max_retries(mut self, n: usize) -> Self {
        self.max_retries = Some(n);
        self
    }

    /// Sets the seconds after which no retry starts.
    pub fn timeout_secs(mut self, secs: f64) -> Self {
        self.timeout_secs = Some(secs);
        self
    }
}

/// The TOML forms of a mount: a URL string or a table.
#[derive(Deserialize)]
#[serde(untagged)]
enum MountSpec {
    Url(String),
    Table(Box<MountTable>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MountTable {
    url: String,
    #[serde(default)]
    read_only: bool,
    permissions: Option<Permissions>,
    #[serde(default)]
    options: BTreeMap<String, String>,
    retry: Option<RetryConfig>,
    execute: Option<bool>,
}

/// A mount's permissions: a preset name or a whole ruleset.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Permissions {
    /// `default`, `readonly`, `strict` or `permissive` (see
    /// [`Ruleset::preset`]).
    Preset(String),
    /// A ruleset table.
    Rules(Ruleset),
}

impl Permissions {
    fn ruleset(&self, url: &str) -> Result<Ruleset, ConfigError> {
        match self {
            Permissions::Rules(r) => Ok(r.clone()),
            Permissions::Preset(name) => Ruleset::preset(name).ok_or_else(|| {
                url_error(
                    url,
                    format!("unknown permissions preset {name:?}; use default, readonly, strict or permissive, or a ruleset table"),
                )
            }),
        }
    }
}

impl From<MountSpec> for MountConfig {
    fn from(spec: MountSpec) -> Self {
        match spec {
            MountSpec::Url(url) => MountConfig::url(url),
            MountSpec::Table(t) => {
                let t = *t;
                MountConfig {
                    url: t.url,
                    read_only: t.read_only,
                    permissions: t.permissions,
                    options: t.options,
                    retry: t.retry,
                    execute: t.execute,
                }
            }
        }
    }
}

impl MountConfig {
    /// A mount of `url` with no options.
    ///
    /// ```
    /// use deepagent::config::MountConfig;
    /// let docs = MountConfig::url("file:///srv/docs").read_only(true).permissions_preset("strict");
    /// assert!(docs.read_only);
    /// ```
    pub fn url(url: impl Into<String>) -> Self {
        MountConfig {
            url: url.into(),
            ..Default::default()
        }
    }

    /// Wraps the backend in [`ReadOnly`] (or not).
    pub fn read_only(mut self, on: bool) -> Self {
        self.read_only = on;
        self
    }

    /// Enforces `permissions` around the backend.
    pub fn permissions(mut self, permissions: Permissions) -> Self {
        self.permissions = Some(permissions);
        self
    }

    /// Enforces a preset ruleset (`default`, `readonly`, `strict`,
    /// `permissive`) around the backend.
    pub fn permissions_preset(self, name: impl Into<String>) -> Self {
        self.permissions(Permissions::Preset(name.into()))
    }

    /// Sets one object-store provider option (`endpoint`, `region`, ...).
    pub fn option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.insert(key.into(), value.into());
        self
    }

    /// Sets the object store's HTTP retry policy.
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = Some(retry);
        self
    }

    /// For a `file://` directory: whether its shell runs commands.
    pub fn execute(mut self, on: bool) -> Self {
        self.execute = Some(on);
        self
    }

    /// Builds the backend; a relative `file://` path is taken from
    /// `base_dir`.
    pub fn build(&self, base_dir: &Path) -> Result<Arc<dyn Backend>, ConfigError> {
        let url = self.url.trim();
        let backend = open(url, self, base_dir)?;
        let backend: Arc<dyn Backend> = match &self.permissions {
            Some(permissions) => {
                let rules = permissions.ruleset(url)?;
                let layered =
                    Permissioned::new(backend, rules).map_err(|source| ConfigError::Backend {
                        url: url.to_owned(),
                        source,
                    })?;
                Arc::new(layered)
            }
            None => backend,
        };
        Ok(if self.read_only {
            Arc::new(ReadOnly::new(backend))
        } else {
            backend
        })
    }
}

fn url_error(url: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Url {
        url: url.to_owned(),
        message: message.into(),
    }
}

/// The backend a URL names, before any layer.
fn open(url: &str, mount: &MountConfig, base_dir: &Path) -> Result<Arc<dyn Backend>, ConfigError> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(url_error(
            url,
            "not a URL; write memory://, file://DIR, s3://BUCKET/PREFIX, ... (see deepagent::config)",
        ));
    };
    let scheme = scheme.to_ascii_lowercase();
    let no_options = |what: &str| {
        if mount.options.is_empty() && mount.retry.is_none() {
            Ok(())
        } else {
            Err(url_error(
                url,
                format!("{what} takes no options or retry settings (those are for object stores)"),
            ))
        }
    };
    match scheme.as_str() {
        "memory" => {
            no_options("memory://")?;
            Ok(Arc::new(StateBackend::new()))
        }
        "file" | "local" => {
            no_options("a file:// directory")?;
            if rest.is_empty() {
                return Err(url_error(
                    url,
                    "name a directory: file://./workspace or file:///srv/workspace",
                ));
            }
            let dir = base_dir.join(rest);
            let backend = LocalBackend::builder(&dir)
                .enable_execute(mount.execute.unwrap_or(true))
                .build()
                .map_err(|source| ConfigError::Backend {
                    url: url.to_owned(),
                    source,
                })?;
            Ok(Arc::new(backend))
        }
        "docker" => open_docker(url, rest, mount),
        _ => open_object_store(url, &scheme, rest, mount, base_dir),
    }
}

#[cfg(feature = "docker")]
fn open_docker(
    url: &str,
    runtime: &str,
    mount: &MountConfig,
) -> Result<Arc<dyn Backend>, ConfigError> {
    // `image` is the one option: it names a local image for the runtime (a
    // built-in one keeps its other settings), so a sandbox runs where no
    // registry can be reached.
    if mount.options.keys().any(|k| k != "image") || mount.retry.is_some() {
        return Err(url_error(
            url,
            "docker:// takes one option, `image` (a local image for the runtime), and no retry settings",
        ));
    }
    let config = match (
        deepagent_docker::RuntimeConfig::builtin(runtime),
        mount.options.get("image"),
    ) {
        (Ok(mut builtin), Some(image)) => {
            builtin.image = image.clone();
            builtin
        }
        (Ok(builtin), None) => builtin,
        (Err(_), Some(image)) => deepagent_docker::RuntimeConfig::new(runtime, image.clone()),
        (Err(source), None) => {
            return Err(ConfigError::Backend {
                url: url.to_owned(),
                source,
            })
        }
    };
    let sandbox =
        deepagent_docker::DockerSandbox::new(config).map_err(|source| ConfigError::Backend {
            url: url.to_owned(),
            source,
        })?;
    Ok(Arc::new(sandbox))
}

#[cfg(not(feature = "docker"))]
fn open_docker(
    url: &str,
    _runtime: &str,
    _mount: &MountConfig,
) -> Result<Arc<dyn Backend>, ConfigError> {
    Err(url_error(
        url,
        "this build has no Docker support; enable the `docker` cargo feature of deepagent",
    ))
}

#[cfg(feature = "object-store")]
fn open_object_store(
    url: &str,
    scheme: &str,
    rest: &str,
    mount: &MountConfig,
    base_dir: &Path,
) -> Result<Arc<dyn Backend>, ConfigError> {
    use deepagent_object_store::{ObjectStoreBackend, RetryOptions, StoreConfig, StoreScheme};
    // `object+file://rel` keeps its directory relative to the config file
    // like `file://` does.
    let store_url = match scheme.strip_prefix("object+") {
        Some("file") if !rest.starts_with('/') => {
            format!("file://{}", base_dir.join(rest).display())
        }
        Some(inner) => format!("{inner}://{rest}"),
        None => url.to_owned(),
    };
    if StoreScheme::of_url(&store_url).is_none() {
        return Err(unknown_scheme(url));
    }
    let mut retry = RetryOptions::default();
    if let Some(r) = mount.retry {
        if let Some(n) = r.max_retries {
            retry.max_retries = n;
        }
        if let Some(secs) = r.timeout_secs {
            retry.retry_timeout = std::time::Duration::try_from_secs_f64(secs)
                .map_err(|e| url_error(url, format!("retry.timeout_secs {secs}: {e}")))?;
        }
    }
    let mut config = StoreConfig::default();
    config.options = mount.options.clone();
    config.retry = retry;
    let backend = ObjectStoreBackend::from_url_with(&store_url, &config).map_err(|source| {
        ConfigError::Backend {
            url: url.to_owned(),
            source,
        }
    })?;
    Ok(Arc::new(backend))
}

#[cfg(not(feature = "object-store"))]
fn open_object_store(
    url: &str,
    scheme: &str,
    _rest: &str,
    _mount: &MountConfig,
    _base_dir: &Path,
) -> Result<Arc<dyn Backend>, ConfigError> {
    const STORES: [&str; 8] = ["s3", "s3a", "gs", "az", "azure", "adl", "abfs", "abfss"];
    if STORES.contains(&scheme) || scheme.starts_with("object+") {
        return Err(url_error(
            url,
            "this build has no object-store support; enable the `object-store-aws` (S3), `object-store-gcp` or `object-store-azure` cargo feature of deepagent",
        ));
    }
    Err(unknown_scheme(url))
}

fn unknown_scheme(url: &str) -> ConfigError {
    url_error(
        url,
        "unknown scheme; use memory://, file://DIR, s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, az://CONTAINER/PREFIX, object+file://DIR, object+memory:// or docker://RUNTIME",
    )
}

/// A composite described by configuration: a default backend and mounts.
///
/// Load it from TOML with [`BackendConfig::load`] or
/// [`BackendConfig::from_toml`]; see the [module docs](self) for the
/// format.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BackendConfig {
    /// Where paths outside every mount go (default `memory://`).
    #[serde(default = "default_mount")]
    pub default: MountConfig,
    /// Prefix → backend.
    #[serde(default)]
    pub mounts: BTreeMap<String, MountConfig>,
    /// Where relative `file://` paths start: the TOML file's directory.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

fn default_mount() -> MountConfig {
    MountConfig::url("memory://")
}

impl BackendConfig {
    /// A composite of `default` and no mounts, with relative `file://`
    /// paths taken from the current directory; add mounts with
    /// [`mount`](Self::mount).
    ///
    /// ```
    /// use deepagent::config::{BackendConfig, MountConfig};
    /// let config = BackendConfig::new(MountConfig::url("memory://"))
    ///     .mount("/notes/", MountConfig::url("memory://"));
    /// let backend = config.build()?;
    /// assert_eq!(backend.name(), "CompositeBackend");
    /// # Ok::<(), deepagent::config::ConfigError>(())
    /// ```
    pub fn new(default: MountConfig) -> Self {
        BackendConfig {
            default,
            mounts: BTreeMap::new(),
            base_dir: PathBuf::from("."),
        }
    }

    /// Adds (or replaces) the mount at `prefix`.
    pub fn mount(mut self, prefix: impl Into<String>, mount: MountConfig) -> Self {
        self.mounts.insert(prefix.into(), mount);
        self
    }

    /// Takes relative `file://` paths from `dir`.
    pub fn base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = dir.into();
        self
    }

    /// Reads and parses a TOML file; relative `file://` paths in it are
    /// relative to the file's directory.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Self::from_toml(&text, base).map_err(|e| match e {
            ConfigError::File { message, .. } => ConfigError::File {
                path: path.to_owned(),
                message,
            },
            other => other,
        })
    }

    /// Parses TOML text; relative `file://` paths are relative to
    /// `base_dir`.
    pub fn from_toml(text: &str, base_dir: impl Into<PathBuf>) -> Result<Self, ConfigError> {
        let mut config: BackendConfig = toml::from_str(text).map_err(|e| ConfigError::File {
            path: PathBuf::from("<toml>"),
            message: e.to_string(),
        })?;
        config.base_dir = base_dir.into();
        Ok(config)
    }

    /// The composite: `default` plus every mount (longest prefix wins, as
    /// always).
    pub fn build_composite(&self) -> Result<CompositeBackend, ConfigError> {
        let default = self.default.build(&self.base_dir)?;
        let mut builder = CompositeBackend::builder_from_arc(default);
        for (prefix, mount) in &self.mounts {
            let backend = mount.build(&self.base_dir)?;
            builder = builder
                .try_route_arc(prefix, backend)
                .map_err(|e| ConfigError::Mount {
                    prefix: prefix.clone(),
                    message: e.to_string(),
                })?;
        }
        Ok(builder.build())
    }

    /// [`build_composite`](Self::build_composite) as a shared backend.
    pub fn build(&self) -> Result<Arc<dyn Backend>, ConfigError> {
        Ok(Arc::new(self.build_composite()?))
    }
}
