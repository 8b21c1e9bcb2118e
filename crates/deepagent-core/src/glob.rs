//! Glob matching with one set of rules for every backend.

use globset::{GlobBuilder, GlobMatcher};

use crate::error::{BackendError, Result};

/// A compiled glob: `*` and `?` stop at `/`, `**` crosses it, `{a,b}` and
/// `[abc]` work as in a shell.
///
/// Patterns are relative: a leading `/` or `./` is ignored, because models
/// write `/src/*.py` meaning "from the base".
///
/// ```
/// use deepagent_core::glob::PathGlob;
/// let g = PathGlob::new("**/*.py")?;
/// assert!(g.is_match("app.py") && g.is_match("src/deep/app.py"));
/// assert!(!PathGlob::new("*.py")?.is_match("src/app.py"));
/// # Ok::<(), deepagent_core::BackendError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PathGlob {
    matcher: GlobMatcher,
}

impl PathGlob {
    /// Compiles `pattern`, or [`BackendError::InvalidPattern`].
    pub fn new(pattern: &str) -> Result<Self> {
        let trimmed = pattern.trim_start_matches("./").trim_start_matches('/');
        if trimmed.is_empty() {
            return Err(BackendError::invalid_pattern(
                pattern,
                "empty glob; use ** to match every file",
            ));
        }
        let glob = GlobBuilder::new(trimmed)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| BackendError::invalid_pattern(pattern, e.kind()))?;
        Ok(PathGlob {
            matcher: glob.compile_matcher(),
        })
    }

    /// Matches a relative path (no leading `/`).
    pub fn is_match(&self, relative_path: &str) -> bool {
        self.matcher.is_match(relative_path)
    }
}

/// The `glob` filter of a grep: a pattern without `/` matches the file name
/// (`*.py`), one with `/` matches the path below the search root.
///
/// ```
/// use deepagent_core::glob::FileFilter;
/// let f = FileFilter::new("*.py")?;
/// assert!(f.is_match("src/deep/app.py"));
/// let f = FileFilter::new("src/*.py")?;
/// assert!(f.is_match("src/app.py") && !f.is_match("lib/src/app.py"));
/// # Ok::<(), deepagent_core::BackendError>(())
/// ```
#[derive(Debug, Clone)]
pub struct FileFilter {
    glob: PathGlob,
    name_only: bool,
}

impl FileFilter {
    /// Compiles the filter, or [`BackendError::InvalidPattern`].
    pub fn new(pattern: &str) -> Result<Self> {
        let name_only = !pattern.trim_start_matches('/').contains('/');
        Ok(FileFilter {
            glob: PathGlob::new(pattern)?,
            name_only,
        })
    }

    /// Matches a path relative to the search root.
    pub fn is_match(&self, relative_path: &str) -> bool {
        if self.name_only {
            let name = relative_path.rsplit('/').next().unwrap_or(relative_path);
            self.glob.is_match(name)
        } else {
            self.glob.is_match(relative_path)
        }
    }
}

/// Compiles an optional filter.
pub fn file_filter(pattern: Option<&str>) -> Result<Option<FileFilter>> {
    pattern.map(FileFilter::new).transpose()
}
