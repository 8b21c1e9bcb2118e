//! `glob` and `grep` over a listing: one prefix listing, then (for grep)
//! bounded-concurrency GETs searched with core's shared searcher.

use deepagent_core::glob::{file_filter, PathGlob};
use deepagent_core::search::Searcher;
use deepagent_core::{
    text, BackendError, GlobQuery, GlobResult, GrepMatch, GrepQuery, GrepResult, Result, VPath,
};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectMeta;

use crate::backend::ObjectStoreBackend;
use crate::errors::{self, Failure};

/// Every object below `base` (all of them for `/`), with its virtual path.
async fn list_below(b: &ObjectStoreBackend, base: &VPath) -> Result<Vec<(VPath, ObjectMeta)>> {
    let key = b.key(base)?;
    let prefix = (!base.is_root()).then_some(&key);
    let objects: Vec<ObjectMeta> = b
        .store()
        .list(prefix)
        .try_collect()
        .await
        .map_err(|e| b.error(base.as_str(), "list", e))?;
    Ok(objects
        .into_iter()
        .filter_map(|meta| ObjectStoreBackend::vpath_of(&meta.location).map(|p| (p, meta)))
        .filter(|(p, _)| p.relative_to(base).is_some_and(|rel| !rel.is_empty()))
        .collect())
}

pub(crate) async fn glob(b: &ObjectStoreBackend, query: &GlobQuery) -> Result<GlobResult> {
    let pattern = PathGlob::new(&query.pattern)?;
    let base = VPath::new(&query.path)?;
    let found = list_below(b, &base)
        .await?
        .into_iter()
        .filter(|(path, _)| pattern.is_match(path.relative_to(&base).unwrap_or_default()))
        .map(|(path, meta)| ObjectStoreBackend::file_info(&path, &meta))
        .collect();
    Ok(GlobResult::finish(found, query.max_count, false))
}

pub(crate) async fn grep(
    b: &ObjectStoreBackend,
    query: &GrepQuery,
    concurrency: usize,
    max_object_size: u64,
) -> Result<GrepResult> {
    let searcher = Searcher::new(query)?;
    let filter = file_filter(query.glob.as_deref())?;
    let base = VPath::new(&query.path)?;
    let key = b.key(&base)?;

    // The path names a file or a directory: ask both at once.
    let head = async {
        if base.is_root() {
            None
        } else {
            Some(b.store().head(&key).await)
        }
    };
    let (head, listing) = futures::future::join(head, list_below(b, &base)).await;
    let mut candidates = match head {
        Some(Ok(meta)) => {
            // A named file is searched even when hidden; the filter sees
            // its name, as it would in a walk of its directory.
            let name = base.file_name().unwrap_or_default();
            if filter.as_ref().is_some_and(|g| !g.is_match(name)) {
                Vec::new()
            } else {
                vec![(base.clone(), meta)]
            }
        }
        Some(Err(e)) if errors::classify(&e) != Failure::NotFound => {
            return Err(b.error(base.as_str(), "head", e))
        }
        _ => {
            let listing = listing?;
            if listing.is_empty() && !base.is_root() {
                return Err(BackendError::not_found(base.as_str()));
            }
            listing
                .into_iter()
                .filter(|(path, _)| {
                    let rel = path.relative_to(&base).unwrap_or_default();
                    !(query.ignore_hidden && rel.split('/').any(|c| c.starts_with('.')))
                        && filter.as_ref().is_none_or(|g| g.is_match(rel))
                })
                .collect()
        }
    };
    // Too large to search, like binary files: skipped, not an error.
    candidates.retain(|(_, meta)| meta.size <= max_object_size);
    candidates.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));

    // Up to `concurrency` GETs in flight; results come back in path order,
    // so once more than max_count matches are in, the first max_count are
    // final and the rest need not be fetched.
    let keep = query.max_count.saturating_add(1);
    let store = b.store().clone();
    let mut bodies = futures::stream::iter(candidates)
        .map(|(path, meta)| {
            let store = store.clone();
            async move {
                let body = match store.get(&meta.location).await {
                    Ok(got) => got.bytes().await,
                    Err(e) => Err(e),
                };
                (path, body)
            }
        })
        .buffered(concurrency);
    let mut found = Vec::new();
    while let Some((path, body)) = bodies.next().await {
        let content = match body {
            Ok(content) => content,
            // Deleted since the listing: it is simply not there any more.
            Err(e) if errors::classify(&e) == Failure::NotFound => continue,
            Err(e) => return Err(b.error(path.as_str(), "get", e)),
        };
        if text::is_binary(&content) {
            continue;
        }
        searcher.search(&content, |line_number, line| {
            found.push(GrepMatch::new(
                path.as_str().to_owned(),
                line_number,
                line.to_owned(),
            ));
            found.len() < keep
        });
        if found.len() >= keep {
            break;
        }
    }
    Ok(GrepResult::finish(found, query.max_count, false))
}
