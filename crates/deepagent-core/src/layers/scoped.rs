use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{
    Backend, BackendError, BackendInfo, EditResult, ExecuteResponse, FileDownload, FileInfo,
    GlobQuery, GlobResult, GrepQuery, GrepResult, Mount, ReadSlice, Result, Sandbox, VPath,
    WriteResult,
};

/// Presents one directory of the inner backend as `/`: the inverse of a
/// composite mount.
///
/// `/a.txt` here is `<dir>/a.txt` there; paths coming back (listings,
/// matches, errors) lose the `<dir>` prefix again. Useful to run the
/// conformance suite inside a container, or to give a subagent one
/// corner of a shared store. Commands (`execute`) pass through unchanged:
/// they see the inner backend's paths and working directory.
///
/// ```
/// # async fn demo(inner: std::sync::Arc<dyn deepagent_core::Backend>) -> deepagent_core::Result<()> {
/// use deepagent_core::{layers::Scoped, Backend};
/// let scratch = Scoped::new(inner, "/tmp/job-42")?;
/// scratch.write("/notes.txt", "hi".into()).await?; // lands at /tmp/job-42/notes.txt
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Scoped {
    inner: Arc<dyn Backend>,
    dir: VPath,
    name: String,
}

impl Scoped {
    /// Scopes `inner` to `dir` (normalized; must be a valid virtual path).
    pub fn new(inner: Arc<dyn Backend>, dir: &str) -> Result<Self> {
        let dir = VPath::new(dir)?;
        let name = format!("{}@{}", inner.name(), dir);
        Ok(Scoped { inner, dir, name })
    }

    fn inward(&self, path: &str) -> Result<String> {
        Ok(VPath::new(path)?.under(&self.dir).into_string())
    }

    fn outward(&self, path: &str) -> String {
        match VPath::new(path) {
            Ok(p) => match p.strip_prefix(&self.dir) {
                Some(inner) => inner.into_string(),
                None => path.to_owned(),
            },
            Err(_) => path.to_owned(),
        }
    }

    fn out_err(&self, e: crate::BackendError) -> crate::BackendError {
        e.map_path(|p| self.outward(p))
    }

    /// The inner path of a `delete`/`rename` argument; `/` here is the
    /// scope's directory there, which these operations must not remove.
    fn inward_not_root(&self, operation: &str, path: &str) -> Result<String> {
        let p = VPath::new(path)?;
        if p.is_root() {
            return Err(BackendError::refused_on_root(operation));
        }
        Ok(p.under(&self.dir).into_string())
    }

    /// The inner backend's mounts as seen from the scope: those below the
    /// directory, re-rooted; the one holding the directory becomes `/`.
    fn scoped_mounts(&self, mounts: Vec<Mount>) -> Vec<Mount> {
        let mut out = Vec::new();
        let mut holder: Option<(usize, BackendInfo)> = None;
        for mount in mounts {
            let Ok(prefix) = VPath::new(&mount.prefix) else {
                continue;
            };
            if let Some(inner) = prefix.strip_prefix(&self.dir) {
                if !inner.is_root() {
                    out.push(Mount::new(format!("{inner}/"), mount.info));
                    continue;
                }
            }
            if self.dir.starts_with(&prefix) {
                let depth = prefix.components().count();
                let deeper = match &holder {
                    Some((d, _)) => depth >= *d,
                    None => true,
                };
                if deeper {
                    holder = Some((depth, mount.info));
                }
            }
        }
        if let Some((_, info)) = holder {
            out.push(Mount::new("/", info));
        }
        out
    }
}

#[async_trait]
impl Backend for Scoped {
    fn name(&self) -> &str {
        &self.name
    }
    async fn exists(&self, path: &str) -> Result<bool> {
        let p = self.inward(path)?;
        self.inner.exists(&p).await.map_err(|e| self.out_err(e))
    }
    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        let p = self.inward(path)?;
        let list = self.inner.ls(&p).await.map_err(|e| self.out_err(e))?;
        Ok(list
            .into_iter()
            .map(|f| f.map_path(|p| self.outward(p)))
            .collect())
    }
    async fn read_bytes(&self, path: &str) -> Result<Bytes> {
        let p = self.inward(path)?;
        self.inner.read_bytes(&p).await.map_err(|e| self.out_err(e))
    }
    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadSlice> {
        let p = self.inward(path)?;
        let mut slice = self
            .inner
            .read(&p, offset, limit)
            .await
            .map_err(|e| self.out_err(e))?;
        slice.path = self.outward(&slice.path);
        Ok(slice)
    }
    async fn write(&self, path: &str, content: Bytes) -> Result<WriteResult> {
        let p = self.inward(path)?;
        let mut res = self
            .inner
            .write(&p, content)
            .await
            .map_err(|e| self.out_err(e))?;
        res.path = self.outward(&res.path);
        Ok(res)
    }
    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        all: crate::Replace,
    ) -> Result<EditResult> {
        let p = self.inward(path)?;
        let mut res = self
            .inner
            .edit(&p, old, new, all)
            .await
            .map_err(|e| self.out_err(e))?;
        res.path = self.outward(&res.path);
        Ok(res)
    }
    async fn glob(&self, query: &GlobQuery) -> Result<GlobResult> {
        let mut q = query.clone();
        q.path = self.inward(&query.path)?;
        let res = self.inner.glob(&q).await.map_err(|e| self.out_err(e))?;
        Ok(res.map_paths(|p| self.outward(p)))
    }
    async fn grep(&self, query: &GrepQuery) -> Result<GrepResult> {
        let mut q = query.clone();
        q.path = self.inward(&query.path)?;
        let res = self.inner.grep(&q).await.map_err(|e| self.out_err(e))?;
        Ok(res.map_paths(|p| self.outward(p)))
    }
    async fn resolve_links(&self, paths: &[String]) -> Result<Vec<Option<String>>> {
        let inward = paths
            .iter()
            .map(|p| self.inward(p))
            .collect::<Result<Vec<_>>>()?;
        let real = self
            .inner
            .resolve_links(&inward)
            .await
            .map_err(|e| self.out_err(e))?;
        // A link that leads out of the directory has no name in this view.
        Ok(real
            .into_iter()
            .map(|r| {
                r.and_then(|r| VPath::new(&r).ok())
                    .and_then(|r| r.strip_prefix(&self.dir))
                    .map(VPath::into_string)
            })
            .collect())
    }
    fn as_sandbox(&self) -> Option<&dyn Sandbox> {
        self.inner.as_sandbox().map(|_| self as &dyn Sandbox)
    }
    fn info(&self) -> BackendInfo {
        let mut info = self.inner.info();
        let mounts = std::mem::take(&mut info.mounts);
        if mounts.is_empty() {
            return info;
        }
        let mounts = self.scoped_mounts(mounts);
        info.with_mounts(mounts)
    }
    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let p = self.inward_not_root("delete", path)?;
        self.inner
            .delete(&p, recursive)
            .await
            .map_err(|e| self.out_err(e))
    }
    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        let from = self.inward_not_root("rename", from)?;
        let to = self.inward_not_root("rename", to)?;
        self.inner
            .rename(&from, &to)
            .await
            .map_err(|e| self.out_err(e))
    }
    async fn upload(&self, files: Vec<(String, Bytes)>) -> Result<Vec<WriteResult>> {
        let files = files
            .into_iter()
            .map(|(path, content)| Ok((self.inward(&path)?, content)))
            .collect::<Result<Vec<_>>>()?;
        let mut written = self
            .inner
            .upload(files)
            .await
            .map_err(|e| self.out_err(e))?;
        for w in &mut written {
            w.path = self.outward(&w.path);
        }
        Ok(written)
    }
    async fn download(&self, paths: &[&str]) -> Result<Vec<FileDownload>> {
        let prepared = paths.iter().map(|p| self.inward(p)).collect();
        super::download_prepared(self.inner.as_ref(), paths, prepared, |f| FileDownload {
            path: self.outward(&f.path),
            content: f.content.map_err(|e| self.out_err(e)),
        })
        .await
        .map_err(|e| self.out_err(e))
    }
}

#[async_trait]
impl Sandbox for Scoped {
    fn id(&self) -> &str {
        &self.name
    }
    async fn execute(&self, command: &str, timeout: Option<Duration>) -> Result<ExecuteResponse> {
        match self.inner.as_sandbox() {
            Some(sandbox) => sandbox.execute(command, timeout).await,
            None => Err(crate::BackendError::unsupported(
                "execute",
                self.inner.name(),
            )),
        }
    }
}
