//! `glob` and `grep` across mounts.
//!
//! With no mount below the search base, the query goes to the one backend
//! that owns the base, pattern and cap unchanged. Otherwise every backend
//! involved is asked at once: the owner of the base with the same query
//! (its results under a mount are shadowed and dropped), each mount below
//! the base from its root with a re-based pattern (see [`crate::rebase`]).
//! Each part returns up to `max_count + 1` kept results, asking its
//! backend again with a larger cap if filtering left it short, so the
//! merged cap and its `truncated` flag are exact.

use deepagent_core::glob::{file_filter, FileFilter, PathGlob};
use deepagent_core::{
    FileInfo, GlobQuery, GlobResult, GrepMatch, GrepQuery, GrepResult, Result, VPath,
};
use futures::future::try_join_all;

use crate::composite::CompositeBackend;
use crate::rebase::{rebase, Rebased};
use crate::route::{relative, Target};

/// Asks `backend` with growing caps until `need` results survive `keep`
/// or the backend has nothing more.
macro_rules! collect_kept {
    ($need:expr, $initial:expr, |$cap:ident| $call:expr, $items:ident, $keep:expr) => {{
        let need: usize = $need;
        let mut $cap: usize = $initial;
        loop {
            let res = $call.await?;
            let truncated = res.truncated;
            let kept: Vec<_> = res
                .$items
                .into_iter()
                .filter_map($keep)
                .take(need)
                .collect();
            if kept.len() >= need || !truncated || $cap == usize::MAX {
                break kept;
            }
            $cap = $cap.saturating_mul(4);
        }
    }};
}

pub(crate) async fn glob(c: &CompositeBackend, query: &GlobQuery) -> Result<GlobResult> {
    let base = VPath::new(&query.path)?;
    let owner = c.resolve(base.as_str());
    if c.mounts_below(base.as_str()).next().is_none() {
        let inner = GlobQuery::new(query.pattern.clone())
            .path(owner.inner.to_owned())
            .max_count(query.max_count);
        let mut res = owner
            .backend
            .glob(&inner)
            .await
            .map_err(|e| owner.outward_err(e))?;
        for f in &mut res.files {
            f.path = owner.outward(&f.path);
        }
        return Ok(res);
    }

    let pattern = PathGlob::new(&query.pattern)?;
    let need = query.max_count.saturating_add(1);
    let mut parts = vec![(owner, query.pattern.clone())];
    for (i, route, rel) in c.mounts_below(base.as_str()) {
        let inner_pattern = match rebase(&query.pattern, rel) {
            Rebased::Pattern(p) => p,
            Rebased::Everything => "**".to_owned(),
            Rebased::Nothing => continue,
        };
        parts.push((route.whole(i), inner_pattern));
    }

    let base = base.as_str();
    let pattern = &pattern;
    let searches = parts.iter().map(|(part, inner_pattern)| async move {
        let kept = collect_kept!(
            need,
            need,
            |cap| async {
                part.backend
                    .glob(
                        &GlobQuery::new(inner_pattern.clone())
                            .path(part.inner.to_owned())
                            .max_count(cap),
                    )
                    .await
                    .map_err(|e| e.map_path(|p| part.outward(p)))
            },
            files,
            |mut f: FileInfo| {
                f.path = part.outward(&f.path);
                let visible = c.owner_of(&f.path) == part.route
                    && relative(&f.path, base).is_some_and(|rel| pattern.is_match(rel));
                visible.then_some(f)
            }
        );
        Ok::<_, deepagent_core::BackendError>(kept)
    });
    let found: Vec<FileInfo> = try_join_all(searches)
        .await?
        .into_iter()
        .flatten()
        .collect();
    Ok(GlobResult::finish(found, query.max_count, false))
}

pub(crate) async fn grep(c: &CompositeBackend, query: &GrepQuery) -> Result<GrepResult> {
    let base = VPath::new(&query.path)?;
    let owner = c.resolve(base.as_str());
    if c.mounts_below(base.as_str()).next().is_none() {
        let mut inner = query.clone();
        inner.path = owner.inner.to_owned();
        let mut res = owner
            .backend
            .grep(&inner)
            .await
            .map_err(|e| owner.outward_err(e))?;
        if owner.prefix.is_some() {
            for m in &mut res.matches {
                m.path = owner.outward(&m.path);
            }
        }
        return Ok(res);
    }

    // Refuse a bad pattern before any backend runs, as one backend would.
    query.regex()?;
    let filter = file_filter(query.glob.as_deref())?;
    let need = query.max_count.saturating_add(1);
    let mut parts = vec![(owner, query.glob.clone())];
    for (i, route, rel) in c.mounts_below(base.as_str()) {
        if query.ignore_hidden && rel.split('/').any(|c| c.starts_with('.')) {
            continue;
        }
        let inner_glob = match query.glob.as_deref() {
            None => None,
            // A name-only filter means the same at any depth.
            Some(g) if !g.trim_start_matches('/').contains('/') => Some(g.to_owned()),
            Some(g) => match rebase(g, rel) {
                Rebased::Pattern(p) => Some(p),
                Rebased::Everything => None,
                Rebased::Nothing => continue,
            },
        };
        parts.push((route.whole(i), inner_glob));
    }

    let base = base.as_str();
    let filter: &Option<FileFilter> = &filter;
    let is_owner = |part: &Target<'_>| part.route == owner.route;
    let searches = parts.iter().map(|(part, inner_glob)| async move {
        let kept = collect_kept!(
            need,
            need,
            |cap| async {
                let mut q = query.clone();
                q.path = part.inner.to_owned();
                q.glob = inner_glob.clone();
                q.max_count = cap;
                match part.backend.grep(&q).await {
                    // The base exists only because mounts lie below it.
                    Err(e) if e.is_not_found() && is_owner(part) => Ok(GrepResult::default()),
                    other => other.map_err(|e| e.map_path(|p| part.outward(p))),
                }
            },
            matches,
            |mut m: GrepMatch| {
                m.path = part.outward(&m.path);
                let visible = c.owner_of(&m.path) == part.route
                    && relative(&m.path, base)
                        .is_some_and(|rel| filter.as_ref().is_none_or(|f| f.is_match(rel)));
                visible.then_some(m)
            }
        );
        Ok::<_, deepagent_core::BackendError>(kept)
    });
    let found: Vec<GrepMatch> = try_join_all(searches)
        .await?
        .into_iter()
        .flatten()
        .collect();
    Ok(GrepResult::finish(found, query.max_count, false))
}
