//! `CompositeBackend`: routing by longest mount prefix.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use deepagent_core::{
    sort_listing, Backend, BackendError, BackendInfo, Durability, EditResult, ExecuteResponse,
    FileDownload, FileInfo, GlobQuery, GlobResult, GrepQuery, GrepResult, Mount, ReadSlice, Result,
    Sandbox, VPath, WriteResult,
};

use crate::builder::CompositeBackendBuilder;
use crate::route::{relative, Route, Target};

/// Several backends behind one namespace, chosen by path prefix.
///
/// A path goes to the backend mounted at the **longest** prefix that
/// equals it or contains it component-wise (`/foo` and `/foo/x` are under
/// `/foo/`, `/foobar` is not); unmatched paths go to the default. The
/// prefix is stripped on the way in — the backend mounted at `/project/`
/// sees `/src/app.py` for `/project/src/app.py` — and put back on every
/// path on the way out: listings, matches, write and edit results, errors.
///
/// - `ls` shows the mount points below a directory as directories (also a
///   directory that exists only because a mount lies below it), hiding
///   entries of the same name in the backend that owns the directory.
/// - `glob` and `grep` from a directory with mounts below it ask every
///   backend involved concurrently, drop the owner's results that a mount
///   shadows, and merge by path under one `max_count`. Any backend's error
///   fails the whole search.
/// - `execute` runs in the default backend when it is a [`Sandbox`];
///   otherwise it is [`Unsupported`](BackendError::Unsupported).
///
/// Build one with [`CompositeBackend::builder`]. Cloning is cheap and
/// shares the backends.
#[derive(Clone)]
pub struct CompositeBackend {
    pub(crate) default: Arc<dyn Backend>,
    /// Longest prefix first, so the first match is the winner.
    pub(crate) routes: Arc<[Route]>,
}

/// One mount point, as listed by [`CompositeBackend::mounts`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MountInfo {
    /// The prefix with a trailing `/`, e.g. `/project/`.
    pub prefix: String,
    /// The mounted backend's [`name`](Backend::name).
    pub backend: String,
}

/// Where a composite path is stored, as returned by
/// [`CompositeBackend::locate`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Location {
    /// The mount prefix (with a trailing `/`), or `None` for the default.
    pub prefix: Option<String>,
    /// The backend's [`name`](Backend::name).
    pub backend: String,
    /// The path inside that backend.
    pub path: String,
}

impl std::fmt::Debug for CompositeBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompositeBackend")
            .field("default", &self.default.name())
            .field("mounts", &self.mounts())
            .finish()
    }
}

impl CompositeBackend {
    /// Starts a composite whose unmatched paths go to `default`.
    ///
    /// An `Arc<dyn Backend>` is accepted too (it implements `Backend`);
    /// [`CompositeBackend::builder_from_arc`] avoids the extra pointer.
    pub fn builder(default: impl Backend + 'static) -> CompositeBackendBuilder {
        CompositeBackendBuilder::new(Arc::new(default))
    }

    /// [`CompositeBackend::builder`] for an already shared backend.
    pub fn builder_from_arc(default: Arc<dyn Backend>) -> CompositeBackendBuilder {
        CompositeBackendBuilder::new(default)
    }

    /// The mount points, sorted by prefix: what an agent's system prompt
    /// can tell the model about where files persist.
    pub fn mounts(&self) -> Vec<MountInfo> {
        let mut out: Vec<MountInfo> = self
            .routes
            .iter()
            .map(|r| MountInfo {
                prefix: format!("{}/", r.prefix),
                backend: r.backend.name().to_owned(),
            })
            .collect();
        out.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        out
    }

    /// Where `path` goes: the mount (or the default) and the path that
    /// backend sees. Handy for logs and for showing users where a file
    /// lives.
    ///
    /// ```
    /// # use deepagent_composite::CompositeBackend;
    /// # use deepagent_state::StateBackend;
    /// let c = CompositeBackend::builder(StateBackend::new())
    ///     .route("/project/", StateBackend::new())
    ///     .build();
    /// let at = c.locate("/project/src/app.py")?;
    /// assert_eq!(at.prefix.as_deref(), Some("/project/"));
    /// assert_eq!(at.path, "/src/app.py");
    /// assert_eq!(c.locate("/scratch/x")?.prefix, None);
    /// # Ok::<(), deepagent_core::BackendError>(())
    /// ```
    pub fn locate(&self, path: &str) -> Result<Location> {
        let path = VPath::new(path)?;
        let t = self.resolve(path.as_str());
        Ok(Location {
            prefix: t.prefix.map(|p| format!("{p}/")),
            backend: t.backend.name().to_owned(),
            path: t.inner.to_owned(),
        })
    }

    /// The backend that receives unmatched paths.
    pub fn default_backend(&self) -> &Arc<dyn Backend> {
        &self.default
    }

    /// Where `path` (normalized) goes.
    pub(crate) fn resolve<'a>(&'a self, path: &'a str) -> Target<'a> {
        for (i, route) in self.routes.iter().enumerate() {
            if let Some(inner) = route.inner(path) {
                return Target {
                    route: Some(i),
                    backend: route.backend.as_ref(),
                    prefix: Some(&route.prefix),
                    inner,
                };
            }
        }
        Target {
            route: None,
            backend: self.default.as_ref(),
            prefix: None,
            inner: path,
        }
    }

    /// The route index that owns `path` (normalized), `None` for default.
    pub(crate) fn owner_of(&self, path: &str) -> Option<usize> {
        self.routes.iter().position(|r| r.inner(path).is_some())
    }

    /// Mounts strictly below `dir`, with their path relative to it.
    pub(crate) fn mounts_below<'a>(
        &'a self,
        dir: &'a str,
    ) -> impl Iterator<Item = (usize, &'a Route, &'a str)> + 'a {
        self.routes.iter().enumerate().filter_map(move |(i, r)| {
            relative(r.prefix.as_str(), dir)
                .filter(|rel| !rel.is_empty())
                .map(|rel| (i, r, rel))
        })
    }

    /// A path with a mount below it is a directory, whatever the backend
    /// that owns it stores there.
    fn shadowed_by_mount(&self, path: &str) -> bool {
        self.mounts_below(path).next().is_some()
    }

    fn directory_error(path: &VPath) -> BackendError {
        BackendError::IsADirectory {
            path: path.to_string(),
        }
    }
}

#[async_trait]
impl Backend for CompositeBackend {
    fn name(&self) -> &str {
        "CompositeBackend"
    }

    async fn exists(&self, path: &str) -> Result<bool> {
        let path = VPath::new(path)?;
        if self.shadowed_by_mount(path.as_str()) {
            return Ok(false);
        }
        let t = self.resolve(path.as_str());
        t.backend
            .exists(t.inner)
            .await
            .map_err(|e| t.outward_err(e))
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        let path = VPath::new(path)?;
        let t = self.resolve(path.as_str());
        let mut mounted: Vec<&str> = self
            .mounts_below(path.as_str())
            .map(|(_, _, rel)| rel.split('/').next().unwrap_or(rel))
            .collect();
        let listed = t.backend.ls(t.inner).await;
        if mounted.is_empty() {
            return match listed {
                Ok(entries) => Ok(entries.into_iter().map(|f| t.outward_info(f)).collect()),
                Err(e) => Err(t.outward_err(e)),
            };
        }
        mounted.sort_unstable();
        mounted.dedup();
        let mut entries: Vec<FileInfo> = match listed {
            Ok(entries) => entries.into_iter().map(|f| t.outward_info(f)).collect(),
            // The directory exists because a mount lies below it.
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(t.outward_err(e)),
        };
        entries.retain(|f| {
            f.path != path.as_str() && mounted.binary_search(&f.name.as_str()).is_err()
        });
        entries.extend(
            mounted
                .iter()
                .map(|name| FileInfo::dir(&path.child(name), None)),
        );
        sort_listing(&mut entries);
        Ok(entries)
    }

    async fn read_bytes(&self, path: &str) -> Result<Bytes> {
        let path = VPath::new(path)?;
        if self.shadowed_by_mount(path.as_str()) {
            return Err(Self::directory_error(&path));
        }
        let t = self.resolve(path.as_str());
        t.backend
            .read_bytes(t.inner)
            .await
            .map_err(|e| t.outward_err(e))
    }

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadSlice> {
        let path = VPath::new(path)?;
        if self.shadowed_by_mount(path.as_str()) {
            return Err(Self::directory_error(&path));
        }
        let t = self.resolve(path.as_str());
        let mut slice = t
            .backend
            .read(t.inner, offset, limit)
            .await
            .map_err(|e| t.outward_err(e))?;
        slice.path = t.outward_owned(slice.path);
        Ok(slice)
    }

    async fn write(&self, path: &str, content: Bytes) -> Result<WriteResult> {
        let path = VPath::new(path)?;
        if self.shadowed_by_mount(path.as_str()) {
            return Err(Self::directory_error(&path));
        }
        let t = self.resolve(path.as_str());
        let mut res = t
            .backend
            .write(t.inner, content)
            .await
            .map_err(|e| t.outward_err(e))?;
        res.path = t.outward_owned(res.path);
        Ok(res)
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: deepagent_core::Replace,
    ) -> Result<EditResult> {
        let path = VPath::new(path)?;
        if self.shadowed_by_mount(path.as_str()) {
            return Err(Self::directory_error(&path));
        }
        let t = self.resolve(path.as_str());
        let mut res = t
            .backend
            .edit(t.inner, old, new, replace_all)
            .await
            .map_err(|e| t.outward_err(e))?;
        res.path = t.outward_owned(res.path);
        Ok(res)
    }

    async fn glob(&self, query: &GlobQuery) -> Result<GlobResult> {
        crate::search::glob(self, query).await
    }

    async fn grep(&self, query: &GrepQuery) -> Result<GrepResult> {
        crate::search::grep(self, query).await
    }

    /// Each path is resolved by the backend that owns it, one call per
    /// backend involved, and comes back under that backend's prefix.
    async fn resolve_links(&self, paths: &[String]) -> Result<Vec<Option<String>>> {
        let paths = paths
            .iter()
            .map(|p| VPath::new(p))
            .collect::<Result<Vec<_>>>()?;
        let mut out: Vec<Option<String>> = vec![None; paths.len()];
        // Group by owner (route index, `None` for the default), keeping
        // each path's position.
        let mut groups: Vec<(Option<usize>, Vec<usize>)> = Vec::new();
        for (i, p) in paths.iter().enumerate() {
            let owner = self.owner_of(p.as_str());
            match groups.iter_mut().find(|(o, _)| *o == owner) {
                Some((_, idx)) => idx.push(i),
                None => groups.push((owner, vec![i])),
            }
        }
        for (_, idx) in groups {
            let t = self.resolve(paths[idx[0]].as_str());
            let inner: Vec<String> = idx
                .iter()
                .map(|&i| self.resolve(paths[i].as_str()).inner.to_owned())
                .collect();
            let real = t
                .backend
                .resolve_links(&inner)
                .await
                .map_err(|e| t.outward_err(e))?;
            if real.len() != inner.len() {
                return Err(BackendError::Backend(format!(
                    "{}: resolve_links answered {} paths for {} asked",
                    t.backend.name(),
                    real.len(),
                    inner.len()
                )));
            }
            for (&i, r) in idx.iter().zip(real) {
                out[i] = r.map(|r| t.outward_owned(r));
            }
        }
        Ok(out)
    }

    fn as_sandbox(&self) -> Option<&dyn Sandbox> {
        self.default.as_sandbox().map(|_| self as &dyn Sandbox)
    }

    /// Each mount's info, and the default's as the mount at `/`. A
    /// capability holds when every backend has it (a caller can rely on it
    /// whatever the path), except `execute`, which is the default's;
    /// limits are the default's.
    fn info(&self) -> BackendInfo {
        let default = self.default.info();
        let mut capabilities = default.capabilities;
        let mut durability = default.durability;
        let mut mounts = Vec::with_capacity(self.routes.len() + 1);
        for route in self.routes.iter() {
            let info = route.backend.info();
            capabilities = capabilities.intersect(info.capabilities);
            capabilities.execute = default.capabilities.execute;
            if info.durability != durability {
                durability = Durability::Mixed;
            }
            mounts.push(Mount::new(format!("{}/", route.prefix), info));
        }
        let limits = default.limits;
        mounts.push(Mount::new("/", default));
        BackendInfo::new("CompositeBackend", durability)
            .with_capabilities(capabilities)
            .with_limits(limits)
            .with_mounts(mounts)
    }

    /// Routed to the owning backend; a mount point, or a directory with a
    /// mount below it, cannot be deleted.
    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        self.delete_routed(path, recursive).await
    }

    /// Within one mount, routed there (atomic where that backend's rename
    /// is); across mounts, [`Unsupported`](BackendError::Unsupported): a
    /// copy and a delete could not be atomic, so the caller decides.
    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.rename_routed(from, to).await
    }

    /// One `upload` per backend involved, results in the caller's order.
    async fn upload(&self, files: Vec<(String, Bytes)>) -> Result<Vec<WriteResult>> {
        self.upload_routed(files).await
    }

    /// One `download` per backend involved, results in the caller's order.
    async fn download(&self, paths: &[&str]) -> Result<Vec<FileDownload>> {
        self.download_routed(paths).await
    }
}

/// Commands run in the default backend, as the seed's Docker + Local
/// hybrid expects: mounts hold files, the default runs the shell.
#[async_trait]
impl Sandbox for CompositeBackend {
    /// The default backend's id, or `""` when it is not a sandbox.
    fn id(&self) -> &str {
        self.default.as_sandbox().map_or("", |s| s.id())
    }

    async fn execute(&self, command: &str, timeout: Option<Duration>) -> Result<ExecuteResponse> {
        match self.default.as_sandbox() {
            Some(sandbox) => sandbox.execute(command, timeout).await,
            None => Err(BackendError::unsupported(
                "execute",
                format!(
                    "CompositeBackend: its default backend ({}) cannot run commands",
                    self.default.name()
                ),
            )),
        }
    }
}
