//! `delete`, `rename` and the batches on the map. Each runs under one
//! write (or read) lock, so a rename or a batch is atomic with respect to
//! every other operation on the store.

use deepagent_core::{BackendError, Result, VPath};

use crate::store::{self, Key, Map};

/// Removes the file at `path`, or with `recursive` the directory and
/// every file below it.
pub(crate) fn delete(map: &mut Map, path: &VPath, recursive: bool) -> Result<()> {
    if path.is_root() {
        return Err(BackendError::refused_on_root("delete"));
    }
    if map.remove(path.as_str()).is_some() {
        return Ok(());
    }
    if !store::is_dir(map, path) {
        return Err(BackendError::not_found(path.as_str()));
    }
    if !recursive {
        return Err(BackendError::IsADirectory {
            path: path.to_string(),
        });
    }
    let below: Vec<VPath> = store::descendants(map, path)
        .map(|(p, _)| p.clone())
        .collect();
    for p in below {
        map.remove(p.as_str());
    }
    Ok(())
}

/// Moves a file or a directory (every file below it); see
/// [`Backend::rename`](deepagent_core::Backend::rename) for the rules.
pub(crate) fn rename(map: &mut Map, from: &VPath, to: &VPath) -> Result<()> {
    if from.is_root() || to.is_root() {
        return Err(BackendError::refused_on_root("rename"));
    }
    let from_is_file = map.contains_key(from.as_str());
    if !from_is_file && !store::is_dir(map, from) {
        return Err(BackendError::not_found(from.as_str()));
    }
    if from == to {
        return Ok(());
    }
    if to.starts_with(from) {
        return Err(BackendError::InvalidArgument {
            message: format!("cannot rename {from} into itself ({to})"),
        });
    }
    if store::is_dir(map, to) || (!from_is_file && map.contains_key(to.as_str())) {
        return Err(BackendError::AlreadyExists {
            path: to.to_string(),
        });
    }
    check_parents(map, to)?;
    if from_is_file {
        if let Some(entry) = map.remove(from.as_str()) {
            map.insert(Key(to.clone()), entry);
        }
        return Ok(());
    }
    let below: Vec<VPath> = store::descendants(map, from)
        .map(|(p, _)| p.clone())
        .collect();
    for old in below {
        let Some(rel) = old.relative_to(from) else {
            continue;
        };
        let new = to.join(rel)?;
        if let Some(entry) = map.remove(old.as_str()) {
            map.insert(Key(new), entry);
        }
    }
    Ok(())
}

/// No proper ancestor of `path` may be a file.
fn check_parents(map: &Map, path: &VPath) -> Result<()> {
    let s = path.as_str();
    for (idx, _) in s.match_indices('/').skip(1) {
        let ancestor = &s[..idx];
        if map.contains_key(ancestor) {
            return Err(BackendError::NotADirectory {
                path: ancestor.to_owned(),
            });
        }
    }
    Ok(())
}
