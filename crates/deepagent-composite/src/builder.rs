//! Building a [`CompositeBackend`].

use std::sync::Arc;

use deepagent_core::{Backend, Result, VPath};

use crate::composite::CompositeBackend;
use crate::route::Route;

/// Collects the default backend and the mounts; see
/// [`CompositeBackend::builder`].
pub struct CompositeBackendBuilder {
    default: Arc<dyn Backend>,
    routes: Vec<Route>,
}

impl CompositeBackendBuilder {
    pub(crate) fn new(default: Arc<dyn Backend>) -> Self {
        CompositeBackendBuilder {
            default,
            routes: Vec::new(),
        }
    }

    /// Mounts `backend` at `prefix`: paths equal to it or below it go
    /// there, with the prefix stripped.
    ///
    /// `prefix` is normalized like any path, so `/project/`, `/project`
    /// and `project` are one mount. Mounting the same prefix again
    /// replaces the earlier backend. Mounting `/` replaces the default,
    /// since every path lies below it. One backend may be mounted at
    /// several prefixes.
    ///
    /// # Panics
    ///
    /// When `prefix` is not a valid virtual path (`../x`, `~`, `C:`...):
    /// routes are part of a program's configuration, so a bad one is a bug
    /// to see at start-up. Use [`CompositeBackendBuilder::try_route`] for
    /// prefixes that come from input.
    pub fn route(self, prefix: &str, backend: impl Backend + 'static) -> Self {
        self.route_arc(prefix, Arc::new(backend))
    }

    /// [`CompositeBackendBuilder::route`] for an already shared backend.
    ///
    /// # Panics
    ///
    /// As [`CompositeBackendBuilder::route`].
    pub fn route_arc(self, prefix: &str, backend: Arc<dyn Backend>) -> Self {
        match self.try_route_arc(prefix, backend) {
            Ok(builder) => builder,
            Err(e) => panic!("CompositeBackend route {prefix:?}: {e}"),
        }
    }

    /// [`CompositeBackendBuilder::route`], returning
    /// [`InvalidPath`](deepagent_core::BackendError::InvalidPath) instead
    /// of panicking.
    pub fn try_route(self, prefix: &str, backend: impl Backend + 'static) -> Result<Self> {
        self.try_route_arc(prefix, Arc::new(backend))
    }

    /// [`CompositeBackendBuilder::try_route`] for an already shared backend.
    pub fn try_route_arc(mut self, prefix: &str, backend: Arc<dyn Backend>) -> Result<Self> {
        let prefix = VPath::new(prefix)?;
        if prefix.is_root() {
            self.default = backend;
            return Ok(self);
        }
        self.routes.retain(|r| r.prefix != prefix);
        self.routes.push(Route { prefix, backend });
        Ok(self)
    }

    /// The composite.
    pub fn build(mut self) -> CompositeBackend {
        // Longest first: the first route that matches is the longest, and
        // a longer prefix string under the same tree is a deeper mount.
        self.routes.sort_by(|a, b| {
            b.prefix
                .as_str()
                .len()
                .cmp(&a.prefix.as_str().len())
                .then_with(|| a.prefix.cmp(&b.prefix))
        });
        CompositeBackend {
            default: self.default,
            routes: self.routes.into(),
        }
    }
}
