//! The caller's own state for tools (a database pool, an HTTP client, a
//! tenant id), kept by type in [`DeepAgentDeps`](crate::DeepAgentDeps).
//!
//! A map keyed by type rather than a type parameter on the agent: one
//! agent serves runs with different state, `Arc<dyn Tool>` and every
//! existing signature stay as they are, and each value still comes out
//! typed (`ctx.dep::<PgPool>()?` is a `&PgPool`). The price is that a
//! missing value is found at the call, not at compile time; the error
//! names the type.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

type Entry = (Arc<dyn Any + Send + Sync>, &'static str);

/// Values by type; clones share them.
#[derive(Clone, Default)]
pub(crate) struct UserDeps(Arc<HashMap<TypeId, Entry>>);

impl UserDeps {
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: Arc<T>) {
        Arc::make_mut(&mut self.0).insert(TypeId::of::<T>(), (value, std::any::type_name::<T>()));
    }

    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.0
            .get(&TypeId::of::<T>())
            .and_then(|(v, _)| v.downcast_ref::<T>())
    }

    pub(crate) fn get_arc<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        let (v, _) = self.0.get(&TypeId::of::<T>())?;
        v.clone().downcast::<T>().ok()
    }

    /// The type names held, sorted (for `Debug` and error messages).
    pub(crate) fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.0.values().map(|(_, n)| *n).collect();
        names.sort_unstable();
        names
    }
}
