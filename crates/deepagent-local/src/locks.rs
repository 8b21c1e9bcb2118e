//! Per-file locks that make `edit` (read, replace, rename) atomic with
//! respect to other edits and writes of the same file in this process.
//!
//! A fixed set of striped mutexes keyed by the file's real host path: no
//! map to grow or clean up, and two files share a stripe only by hash
//! collision, which costs a little waiting, never correctness. The locks are
//! taken and released within one synchronous call, on the blocking pool or
//! under `block_in_place`, never across an `.await`: waiting never blocks
//! the async runtime, and two futures of one task cannot deadlock on one.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

const STRIPES: usize = 64;

/// The striped lock set.
#[derive(Debug)]
pub(crate) struct LockSet {
    stripes: Vec<Mutex<()>>,
}

impl LockSet {
    pub(crate) fn new() -> Self {
        LockSet {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    /// Locks `path` (by its real host path, so two spellings or a symlink
    /// and its target share one lock). Blocks: call it on a blocking thread.
    pub(crate) fn lock(&self, path: &Path) -> MutexGuard<'_, ()> {
        let mut hasher = DefaultHasher::new();
        path.hash(&mut hasher);
        let stripe = &self.stripes[(hasher.finish() as usize) % STRIPES];
        // A panic while holding the lock leaves no broken invariant here:
        // the file is either renamed into place or not.
        stripe
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
