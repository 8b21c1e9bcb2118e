//! Per-key locks that serialize edits and writes of one object within this
//! process.
//!
//! Across processes the conditional put is what keeps updates; inside one
//! process a lock is cheaper than losing a race and retrying, and it is the
//! only protection on stores without conditional updates. Striped like
//! `deepagent-local`'s lock set: no map to grow or clean up, and two keys
//! share a stripe only by hash collision (some waiting, never a deadlock:
//! an operation takes exactly one stripe).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use tokio::sync::{Mutex, MutexGuard};

const STRIPES: usize = 64;

#[derive(Debug)]
pub(crate) struct KeyLocks {
    stripes: Vec<Mutex<()>>,
}

impl KeyLocks {
    pub(crate) fn new() -> Self {
        KeyLocks {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    pub(crate) async fn lock(&self, key: &str) -> MutexGuard<'_, ()> {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        self.stripes[(hasher.finish() as usize) % STRIPES]
            .lock()
            .await
    }
}
