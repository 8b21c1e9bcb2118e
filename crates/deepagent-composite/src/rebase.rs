//! Re-basing a glob pattern onto a mount below the search base.
//!
//! A search from `/` for `project/**/*.py` must, in the backend mounted at
//! `/project/`, look for `**/*.py` from its own root. When the pattern's
//! leading components are literal names this is a plain strip; when they
//! contain wildcards the mount is asked for everything (`**`) and the
//! composite filters with the original pattern. The composite always
//! applies the original pattern afterwards, so a re-based pattern only has
//! to match a superset of what the original would.

/// What to ask a mount for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Rebased {
    /// This pattern, relative to the mount's root.
    Pattern(String),
    /// Every file (`**`); the composite filters.
    Everything,
    /// Nothing under the mount can match: skip it.
    Nothing,
}

fn is_literal(component: &str) -> bool {
    !component.is_empty()
        && component != "."
        && component != ".."
        && !component.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

/// Re-bases `pattern` (relative to the search base) for a mount that sits
/// at `mount_rel` below that base (e.g. `project`, or `a/b`).
pub(crate) fn rebase(pattern: &str, mount_rel: &str) -> Rebased {
    // The same leading-separator rule as `PathGlob`.
    let pattern = pattern.trim_start_matches("./").trim_start_matches('/');
    let mut rest = pattern;
    for want in mount_rel.split('/') {
        let (head, tail) = match rest.split_once('/') {
            Some((h, t)) => (h, Some(t)),
            None => (rest, None),
        };
        if !is_literal(head) {
            return Rebased::Everything;
        }
        if head != want {
            return Rebased::Nothing;
        }
        match tail {
            Some(t) => rest = t,
            // The pattern names the mount point itself (or a directory
            // above what remains): a directory, never a file.
            None => return Rebased::Nothing,
        }
    }
    if rest.is_empty() {
        Rebased::Nothing
    } else {
        Rebased::Pattern(rest.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_literal_components() {
        assert_eq!(
            rebase("project/**/*.py", "project"),
            Rebased::Pattern("**/*.py".into())
        );
        assert_eq!(
            rebase("/a/b/c/*.rs", "a/b"),
            Rebased::Pattern("c/*.rs".into())
        );
        assert_eq!(rebase("other/**", "project"), Rebased::Nothing);
        assert_eq!(rebase("project", "project"), Rebased::Nothing);
        assert_eq!(rebase("project/", "project"), Rebased::Nothing);
    }

    #[test]
    fn wildcards_ask_for_everything() {
        assert_eq!(rebase("**/*.py", "project"), Rebased::Everything);
        assert_eq!(rebase("proj*/x", "project"), Rebased::Everything);
        assert_eq!(rebase("{project,src}/x", "project"), Rebased::Everything);
        assert_eq!(rebase("a/*/c", "a/b"), Rebased::Everything);
    }
}
