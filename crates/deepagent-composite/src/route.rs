//! Mount points and the path arithmetic of crossing one.

use std::sync::Arc;

use deepagent_core::{Backend, BackendError, FileInfo, VPath};

/// One mount: paths at or below `prefix` go to `backend`.
#[derive(Clone)]
pub(crate) struct Route {
    pub(crate) prefix: VPath,
    pub(crate) backend: Arc<dyn Backend>,
}

impl Route {
    /// The whole mount, searched from its root: what a fan-out asks of a
    /// mount that lies below the search base.
    pub(crate) fn whole(&self, index: usize) -> Target<'_> {
        Target {
            route: Some(index),
            backend: self.backend.as_ref(),
            prefix: Some(&self.prefix),
            inner: "/",
        }
    }

    /// The path the mounted backend sees for `path` (a normalized
    /// composite path), or `None` when `path` is not under this mount.
    /// Borrowed from `path`: `/project/src/a.py` becomes `/src/a.py`
    /// without allocating.
    pub(crate) fn inner<'p>(&self, path: &'p str) -> Option<&'p str> {
        let rest = path.strip_prefix(self.prefix.as_str())?;
        if rest.is_empty() {
            Some("/")
        } else if rest.starts_with('/') {
            Some(rest)
        } else {
            None
        }
    }
}

/// Where one composite path goes: a backend, the path it sees there, and
/// the prefix to put back on what comes out.
#[derive(Clone, Copy)]
pub(crate) struct Target<'a> {
    /// Index into the route table, `None` for the default backend.
    pub(crate) route: Option<usize>,
    // A plain trait object: calling through `&Arc<dyn Backend>` would go
    // through the `Arc` forwarding impl and box one more future per call.
    pub(crate) backend: &'a dyn Backend,
    pub(crate) prefix: Option<&'a VPath>,
    pub(crate) inner: &'a str,
}

impl Target<'_> {
    /// A path from the backend, in composite terms.
    pub(crate) fn outward(&self, inner: &str) -> String {
        match self.prefix {
            Some(prefix) => outward(prefix, inner),
            None => inner.to_owned(),
        }
    }

    /// Like [`Target::outward`], reusing the string when nothing changes.
    pub(crate) fn outward_owned(&self, inner: String) -> String {
        match self.prefix {
            Some(prefix) => outward(prefix, &inner),
            None => inner,
        }
    }

    pub(crate) fn outward_info(&self, mut info: FileInfo) -> FileInfo {
        if let Some(prefix) = self.prefix {
            if info.path == "/" {
                info.name = prefix.file_name().unwrap_or("/").to_owned();
            }
            info.path = outward(prefix, &info.path);
        }
        info
    }

    pub(crate) fn outward_err(&self, err: BackendError) -> BackendError {
        match self.prefix {
            Some(prefix) => err.map_path(|p| outward(prefix, p)),
            None => err,
        }
    }
}

/// `inner` (a path inside a mount) placed under `prefix`.
pub(crate) fn outward(prefix: &VPath, inner: &str) -> String {
    let inner = inner.trim_start_matches('/');
    if inner.is_empty() {
        prefix.as_str().to_owned()
    } else {
        let mut out = String::with_capacity(prefix.as_str().len() + 1 + inner.len());
        out.push_str(prefix.as_str());
        out.push('/');
        out.push_str(inner);
        out
    }
}

/// `path` relative to `base` (both normalized), without a leading `/`.
pub(crate) fn relative<'p>(path: &'p str, base: &str) -> Option<&'p str> {
    if base == "/" {
        return path.strip_prefix('/');
    }
    let rest = path.strip_prefix(base)?;
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_prefix('/')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outward_and_relative() {
        let p = VPath::new("/project").unwrap();
        assert_eq!(outward(&p, "/"), "/project");
        assert_eq!(outward(&p, "/src/a.py"), "/project/src/a.py");
        assert_eq!(outward(&p, "src"), "/project/src");
        assert_eq!(relative("/a/b", "/"), Some("a/b"));
        assert_eq!(relative("/a/b", "/a"), Some("b"));
        assert_eq!(relative("/ab", "/a"), None);
        assert_eq!(relative("/a", "/a"), Some(""));
    }
}
