//! `delete`, `rename`, `upload` and `download` across mounts.
//!
//! A rename across two mounts is refused with `Unsupported`, like
//! `rename(2)`'s `EXDEV`, rather than done as a copy and a delete: that
//! pair is not atomic (a failure in between leaves the file in both places
//! or, for a directory, half moved), and a caller that means to move
//! between stores can do the copy itself, knowing that.

use bytes::Bytes;
use deepagent_core::{BackendError, FileDownload, Result, VPath, WriteResult};

use crate::composite::CompositeBackend;

/// Items bound for one backend (`None`: the default), in the caller's
/// order; each item carries its position in the caller's list.
type Groups<T> = Vec<(Option<usize>, Vec<(usize, T)>)>;

impl CompositeBackend {
    /// The refusal for an operation that would remove or move a mount
    /// point (or a directory with one below it): mounts are fixed when the
    /// composite is built.
    fn mount_in_the_way(&self, operation: &str, path: &VPath) -> Option<BackendError> {
        let is_mount = self.routes.iter().any(|r| r.prefix == *path);
        let below = self.mounts_below(path.as_str()).next().is_some();
        (is_mount || below).then(|| BackendError::InvalidArgument {
            message: format!(
                "{operation} of {path} refused: a mount point is at or below it, and mounts are fixed when the composite is built"
            ),
        })
    }

    pub(crate) async fn delete_routed(&self, path: &str, recursive: bool) -> Result<()> {
        let path = VPath::new(path)?;
        if path.is_root() {
            return Err(BackendError::refused_on_root("delete"));
        }
        if let Some(e) = self.mount_in_the_way("delete", &path) {
            return Err(e);
        }
        let t = self.resolve(path.as_str());
        t.backend
            .delete(t.inner, recursive)
            .await
            .map_err(|e| t.outward_err(e))
    }

    pub(crate) async fn rename_routed(&self, from: &str, to: &str) -> Result<()> {
        let (from, to) = (VPath::new(from)?, VPath::new(to)?);
        if from.is_root() || to.is_root() {
            return Err(BackendError::refused_on_root("rename"));
        }
        for p in [&from, &to] {
            if let Some(e) = self.mount_in_the_way("rename", p) {
                return Err(e);
            }
        }
        let (src, dst) = (self.resolve(from.as_str()), self.resolve(to.as_str()));
        if src.route != dst.route {
            let mount = |prefix: Option<&VPath>| match prefix {
                Some(p) => format!("the mount at {p}/"),
                None => "the default backend".to_owned(),
            };
            return Err(BackendError::unsupported(
                format!(
                    "rename from {from} ({}) to {to} ({}): a move between mounts cannot be atomic; copy it with read_bytes and write, then delete the source",
                    mount(src.prefix),
                    mount(dst.prefix)
                ),
                "CompositeBackend",
            ));
        }
        src.backend
            .rename(src.inner, dst.inner)
            .await
            .map_err(|e| src.outward_err(e))
    }

    /// Groups the files by backend, uploads each group in one call, and
    /// answers in the caller's order. Every path is checked first.
    pub(crate) async fn upload_routed(
        &self,
        files: Vec<(String, Bytes)>,
    ) -> Result<Vec<WriteResult>> {
        let mut checked = Vec::with_capacity(files.len());
        for (path, content) in files {
            let path = VPath::new(&path)?;
            if self.mounts_below(path.as_str()).next().is_some() {
                return Err(BackendError::IsADirectory {
                    path: path.to_string(),
                });
            }
            checked.push((path, content));
        }
        let mut groups: Groups<(String, Bytes)> = Vec::new();
        for (i, (path, content)) in checked.iter().enumerate() {
            let t = self.resolve(path.as_str());
            let item = (i, (t.inner.to_owned(), content.clone()));
            match groups.iter_mut().find(|(r, _)| *r == t.route) {
                Some((_, items)) => items.push(item),
                None => groups.push((t.route, vec![item])),
            }
        }
        let mut out: Vec<Option<WriteResult>> = vec![None; checked.len()];
        for (_, items) in groups {
            let first = &checked[items[0].0].0;
            let t = self.resolve(first.as_str());
            let order: Vec<usize> = items.iter().map(|(i, _)| *i).collect();
            let batch = items.into_iter().map(|(_, item)| item).collect();
            let written = t
                .backend
                .upload(batch)
                .await
                .map_err(|e| t.outward_err(e))?;
            for (i, mut w) in order.into_iter().zip(written) {
                w.path = t.outward_owned(w.path);
                out[i] = Some(w);
            }
        }
        out.into_iter()
            .map(|w| {
                w.ok_or_else(|| {
                    BackendError::other("a mount answered an upload with fewer results")
                })
            })
            .collect()
    }

    /// Groups the paths by backend, downloads each group in one call, and
    /// answers in the caller's order.
    pub(crate) async fn download_routed(&self, paths: &[&str]) -> Result<Vec<FileDownload>> {
        let mut out: Vec<Option<FileDownload>> = Vec::with_capacity(paths.len());
        let mut groups: Groups<VPath> = Vec::new();
        for (i, raw) in paths.iter().enumerate() {
            match VPath::new(raw) {
                Ok(path) if self.mounts_below(path.as_str()).next().is_some() => {
                    out.push(Some(FileDownload {
                        content: Err(BackendError::IsADirectory {
                            path: path.to_string(),
                        }),
                        path: path.into_string(),
                    }));
                }
                Ok(path) => {
                    out.push(None);
                    let route = self.resolve(path.as_str()).route;
                    match groups.iter_mut().find(|(r, _)| *r == route) {
                        Some((_, items)) => items.push((i, path)),
                        None => groups.push((route, vec![(i, path)])),
                    }
                }
                Err(e) => out.push(Some(FileDownload {
                    path: (*raw).to_owned(),
                    content: Err(e),
                })),
            }
        }
        for (_, items) in groups {
            let t = self.resolve(items[0].1.as_str());
            let inner: Vec<&str> = items
                .iter()
                .map(|(_, p)| self.resolve(p.as_str()).inner)
                .collect();
            let got = t
                .backend
                .download(&inner)
                .await
                .map_err(|e| t.outward_err(e))?;
            for ((i, _), f) in items.iter().zip(got) {
                out[*i] = Some(FileDownload {
                    path: t.outward_owned(f.path),
                    content: f.content.map_err(|e| t.outward_err(e)),
                });
            }
        }
        out.into_iter()
            .map(|f| {
                f.ok_or_else(|| BackendError::other("a mount answered a download with fewer files"))
            })
            .collect()
    }
}
