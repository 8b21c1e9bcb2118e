//! The shared behaviour suite, run against `ObjectStoreBackend` over
//! object_store's in-memory store, below a key prefix, and over its
//! local-filesystem store (which has no conditional updates: edits there
//! are serialized by the backend's per-key lock).

use std::sync::Arc;

use deepagent_object_store::ObjectStoreBackend;
use deepagent_testkit::Fixture;
use object_store::memory::InMemory;

mod in_memory {
    use super::*;
    deepagent_testkit::conformance_tests!(lacks [delete, rename, execute], || async {
        Fixture::new(ObjectStoreBackend::new(Arc::new(InMemory::new())))
    });
}

mod below_a_prefix {
    use super::*;
    deepagent_testkit::conformance_tests!(lacks [delete, rename, execute], || async {
        // Another tenant's files next to ours must stay invisible.
        let store: Arc<dyn object_store::ObjectStore> = Arc::new(InMemory::new());
        store
            .put(&"other/run/x.txt".into(), "x".into())
            .await
            .expect("seed the neighbour");
        let prefixed = object_store::prefix::PrefixStore::new(store, "tenants/run-42");
        Fixture::new(ObjectStoreBackend::new(Arc::new(prefixed)))
    });
}

mod local_filesystem {
    use super::*;
    deepagent_testkit::conformance_tests!(lacks [delete, rename, execute], || async {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("file://{}", dir.path().display());
        let backend = ObjectStoreBackend::from_url(&url).expect("file:// backend");
        Fixture::new(backend).with_guard(dir)
    });
}
