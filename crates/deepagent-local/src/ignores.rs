//! The ignore files grep honours, read through the jail.
//!
//! ripgrep's `ignore` crate would read `.gitignore`, `.ignore`,
//! `.git/info/exclude` and the `gitdir:`/`commondir` indirection of a `.git`
//! file by itself, by path, following links, with no size limit and
//! blocking on a FIFO: a hostile repository could point `.gitignore` at
//! `/dev/zero` (memory without end), make it a FIFO (every grep hangs), or
//! link it to a file outside the root (outside content steers results).
//! So the walker's own ignore handling is off and this module reads those
//! files instead, each one only when it is
//!
//! - a regular file (`fstat` of the opened handle; the open never blocks),
//! - not a link itself (`O_NOFOLLOW`, as git 2.32+ treats `.gitignore`),
//! - really under the root (the opened handle is checked, so a link on the
//!   way or a `gitdir:` pointing out is refused), and
//! - at most [`IGNORE_FILE_LIMIT`] bytes (a `.git` file at most 4 KiB).
//!
//! A file that fails any of these is treated as absent. The precedence is
//! the `ignore` crate's: per kind the nearest directory with a matching
//! rule decides, `.ignore` beats `.gitignore` beats `info/exclude`, and the
//! git files of directories above a repository (a directory holding
//! `.git`) do not apply inside it.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::dirfd;
use crate::jail::Jail;

/// Largest ignore file read; a larger one is not honoured.
pub(crate) const IGNORE_FILE_LIMIT: u64 = 1 << 20;
/// Largest `.git` file or `commondir` file read (one short line in git).
const GIT_POINTER_LIMIT: u64 = 4096;

/// The ignore rules of one directory, chained to its parent's.
struct Level {
    parent: Option<Arc<Level>>,
    ignore: Option<Gitignore>,
    gitignore: Option<Gitignore>,
    exclude: Option<Gitignore>,
    has_git: bool,
}

impl Level {
    /// Whether `path` (a host path below this level's directory) is
    /// ignored, by the nearest rule of the strongest kind.
    fn is_ignored(&self, path: &Path, is_dir: bool) -> bool {
        use ignore::Match;
        let (mut m_ignore, mut m_git, mut m_exclude) = (Match::None, Match::None, Match::None);
        let mut saw_git = false;
        let mut level = Some(self);
        while let Some(l) = level {
            if m_ignore.is_none() {
                if let Some(gi) = &l.ignore {
                    m_ignore = gi.matched(path, is_dir);
                }
            }
            if !saw_git {
                if m_git.is_none() {
                    if let Some(gi) = &l.gitignore {
                        m_git = gi.matched(path, is_dir);
                    }
                }
                if m_exclude.is_none() {
                    if let Some(gi) = &l.exclude {
                        m_exclude = gi.matched(path, is_dir);
                    }
                }
            }
            saw_git |= l.has_git;
            level = l.parent.as_deref();
        }
        m_ignore.or(m_git).or(m_exclude).is_ignore()
    }
}

/// The ignore rules met in one walk, by directory (host path).
pub(crate) struct Ignores {
    levels: RwLock<HashMap<PathBuf, Arc<Level>>>,
}

impl Ignores {
    /// The rules of every directory from the root down to `start`
    /// (inclusive); never above the root, so a repository that ignores the
    /// backend's directory cannot hide its files.
    pub(crate) fn new(jail: &Jail, start: &Path) -> Self {
        let mut levels = HashMap::new();
        let root = jail.root();
        let mut parent: Option<Arc<Level>> = None;
        if let Ok(rel) = start.strip_prefix(root) {
            let mut dir = root.to_path_buf();
            let mut dirs = vec![dir.clone()];
            for comp in rel.components() {
                dir.push(comp);
                dirs.push(dir.clone());
            }
            for dir in dirs {
                let level = build_level(jail, &dir, parent.take());
                parent = Some(level.clone());
                levels.insert(dir, level);
            }
        }
        Ignores {
            levels: RwLock::new(levels),
        }
    }

    /// Whether a walked entry is ignored by the rules of the directories
    /// above it.
    pub(crate) fn is_ignored(&self, path: &Path, is_dir: bool) -> bool {
        let Some(dir) = path.parent() else {
            return false;
        };
        let levels = self.levels.read().unwrap_or_else(|p| p.into_inner());
        levels
            .get(dir)
            .is_some_and(|level| level.is_ignored(path, is_dir))
    }

    /// Reads the rules of `dir`, a directory the walk is about to enter.
    /// Costs a failed `open` or two and an `lstat` where there are none.
    pub(crate) fn enter(&self, jail: &Jail, dir: &Path) {
        let parent = dir.parent().and_then(|p| {
            let levels = self.levels.read().unwrap_or_else(|p| p.into_inner());
            levels.get(p).cloned()
        });
        let level = build_level(jail, dir, parent);
        let mut levels = self.levels.write().unwrap_or_else(|p| p.into_inner());
        levels.insert(dir.to_path_buf(), level);
    }
}

/// The rules of `dir` on top of `parent`'s; a directory with none shares
/// its parent's level.
fn build_level(jail: &Jail, dir: &Path, parent: Option<Arc<Level>>) -> Arc<Level> {
    let ignore = matcher(jail, dir, &dir.join(".ignore"));
    let gitignore = matcher(jail, dir, &dir.join(".gitignore"));
    let dot_git = dir.join(".git");
    let git_kind = std::fs::symlink_metadata(&dot_git)
        .ok()
        .map(|m| m.file_type());
    let exclude = git_kind.and_then(|kind| {
        let git_dir = if kind.is_dir() {
            dot_git
        } else if kind.is_file() {
            linked_git_dir(jail, dir, &dot_git)?
        } else {
            return None;
        };
        matcher(jail, dir, &git_dir.join("info").join("exclude"))
    });
    let has_git = git_kind.is_some();
    if ignore.is_none() && gitignore.is_none() && exclude.is_none() && !has_git {
        if let Some(parent) = parent {
            return parent;
        }
    }
    Arc::new(Level {
        parent,
        ignore,
        gitignore,
        exclude,
        has_git,
    })
}

/// The git directory a `.git` file points to (a worktree or submodule):
/// `gitdir: <dir>` (relative to the file's directory), then that
/// directory's `commondir` when it has one. Every file on the way is read
/// with [`read_vetted`], so a pointer out of the root leads nowhere.
fn linked_git_dir(jail: &Jail, dir: &Path, dot_git: &Path) -> Option<PathBuf> {
    let content = read_vetted(jail, dot_git, GIT_POINTER_LIMIT)?;
    let line = first_line(&content)?;
    let git_dir = dir.join(line.strip_prefix("gitdir:")?.trim());
    match read_vetted(jail, &git_dir.join("commondir"), GIT_POINTER_LIMIT) {
        Some(common) => Some(git_dir.join(first_line(&common)?.trim())),
        None => Some(git_dir),
    }
}

fn first_line(content: &[u8]) -> Option<&str> {
    let line = content.split(|&b| b == b'\n').next()?;
    std::str::from_utf8(line).ok()
}

/// A matcher for the ignore file at `file`, rooted at `dir`; `None` when
/// the file is absent, refused (see [`read_vetted`]) or has no rules.
fn matcher(jail: &Jail, dir: &Path, file: &Path) -> Option<Gitignore> {
    let content = read_vetted(jail, file, IGNORE_FILE_LIMIT)?;
    let mut builder = GitignoreBuilder::new(dir);
    let mut any = false;
    for (i, line) in content.split(|&b| b == b'\n').enumerate() {
        // Lines as `BufRead::lines` gives them to the `ignore` crate: a
        // line that is not UTF-8 is skipped, a CRLF ending dropped, and
        // a byte order mark at the start ignored, as git does.
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = if i == 0 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        // A malformed line is skipped, as git does.
        if builder.add_line(Some(file.to_path_buf()), line).is_ok() {
            any = true;
        }
    }
    if !any {
        return None;
    }
    builder.build().ok().filter(|gi| !gi.is_empty())
}

/// The content of `path` when it is a regular file under the root, not a
/// link itself, and at most `limit` bytes; `None` otherwise. Never blocks
/// (a FIFO is opened non-blocking and refused by its type) and never reads
/// a device.
pub(crate) fn read_vetted(jail: &Jail, path: &Path, limit: u64) -> Option<Vec<u8>> {
    let file = dirfd::open_nonblocking_nofollow(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > limit || !jail.holds(&file) {
        return None;
    }
    let mut content = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The file may grow after the fstat: read one byte past the limit to
    // notice, rather than trust the size.
    file.take(limit + 1).read_to_end(&mut content).ok()?;
    if content.len() as u64 > limit {
        return None;
    }
    Some(content)
}
