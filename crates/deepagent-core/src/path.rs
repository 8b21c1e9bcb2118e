//! Virtual POSIX paths: the one normalizer every backend uses.
//!
//! A backend's root is `/`. Relative paths are relative to `/`; `//`, `/./`
//! and a trailing `/` normalize away; `..` pops a component but may never
//! climb above `/`. NUL bytes, backslashes, a leading `~` and drive-letter
//! forms (`C:`, `C:\`) are refused, because each of them means something
//! else to some host and a model will eventually invent it.
//!
//! ```
//! use deepagent_core::VPath;
//! assert_eq!(VPath::new("src//./app.py/")?.as_str(), "/src/app.py");
//! assert_eq!(VPath::new("/a/b/../c")?.as_str(), "/a/c");
//! assert_eq!(VPath::new(".")?.as_str(), "/");
//! assert!(VPath::new("/../etc/passwd").is_err());
//! assert!(VPath::new("a..b").is_ok()); // just a name
//! # Ok::<(), deepagent_core::BackendError>(())
//! ```

use std::fmt;

use crate::error::{BackendError, Result};

/// A normalized virtual path: always absolute, no `.`/`..`/empty
/// components, no trailing `/` except for the root itself.
///
/// Ordering is byte order of the string form, which is the order results
/// are sorted in (`glob`, `grep`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VPath(String);

impl VPath {
    /// The root, `/`.
    pub fn root() -> Self {
        VPath("/".to_owned())
    }

    /// Normalizes `input`, refusing anything that is not a safe virtual path.
    pub fn new(input: &str) -> Result<Self> {
        // Most paths arrive already normalized (a router passing on what it
        // normalized, a backend re-checking its own output): take them as
        // they are, without splitting into a Vec.
        if is_normalized(input) {
            return Ok(VPath(input.to_owned()));
        }
        Self::root().join(input)
    }

    /// Resolves `rel` against `self` (an absolute `rel` replaces it).
    ///
    /// The result can never lie above `/`: `..` that would climb out is an
    /// [`BackendError::InvalidPath`].
    ///
    /// ```
    /// use deepagent_core::VPath;
    /// let base = VPath::new("/workspace")?;
    /// assert_eq!(base.join("src/../lib.rs")?.as_str(), "/workspace/lib.rs");
    /// assert_eq!(base.join("/etc")?.as_str(), "/etc");
    /// # Ok::<(), deepagent_core::BackendError>(())
    /// ```
    pub fn join(&self, rel: &str) -> Result<Self> {
        validate(rel)?;
        let mut parts: Vec<&str> = if rel.starts_with('/') {
            Vec::new()
        } else {
            self.components().collect()
        };
        for part in rel.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(BackendError::invalid_path(
                            rel,
                            "'..' would climb above the root",
                        ));
                    }
                }
                name => parts.push(name),
            }
        }
        let mut out = String::with_capacity(rel.len() + self.0.len() + 1);
        for part in &parts {
            out.push('/');
            out.push_str(part);
        }
        if out.is_empty() {
            out.push('/');
        }
        Ok(VPath(out))
    }

    /// The path as a string, e.g. `/src/app.py`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for `/`.
    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// The components after the root, e.g. `["src", "app.py"]`.
    pub fn components(&self) -> impl DoubleEndedIterator<Item = &str> + '_ {
        self.0.split('/').filter(|c| !c.is_empty())
    }

    /// The last component, or `None` for the root.
    pub fn file_name(&self) -> Option<&str> {
        if self.is_root() {
            None
        } else {
            self.0.rsplit('/').next()
        }
    }

    /// The parent directory, or `None` for the root.
    pub fn parent(&self) -> Option<VPath> {
        if self.is_root() {
            return None;
        }
        let idx = self.0.rfind('/').unwrap_or(0);
        Some(if idx == 0 {
            VPath::root()
        } else {
            VPath(self.0[..idx].to_owned())
        })
    }

    /// Appends one already-validated child name. Panics in debug builds on
    /// a name containing `/` (use [`VPath::join`] for user input).
    pub fn child(&self, name: &str) -> VPath {
        debug_assert!(!name.contains('/') && !name.is_empty() && name != "." && name != "..");
        if self.is_root() {
            VPath(format!("/{name}"))
        } else {
            VPath(format!("{}/{name}", self.0))
        }
    }

    /// True when `self` is `base` or lies under it, component-wise
    /// (`/foobar` does not start with `/foo`).
    pub fn starts_with(&self, base: &VPath) -> bool {
        self.relative_to(base).is_some()
    }

    /// The path below `base` without a leading `/` (`""` when equal), or
    /// `None` when `self` is not under `base`.
    ///
    /// ```
    /// use deepagent_core::VPath;
    /// let p = VPath::new("/project/src/app.py")?;
    /// assert_eq!(p.relative_to(&VPath::new("/project")?), Some("src/app.py"));
    /// assert_eq!(p.relative_to(&VPath::new("/proj")?), None);
    /// # Ok::<(), deepagent_core::BackendError>(())
    /// ```
    pub fn relative_to(&self, base: &VPath) -> Option<&str> {
        if base.is_root() {
            return Some(&self.0[1..]);
        }
        let rest = self.0.strip_prefix(base.as_str())?;
        if rest.is_empty() {
            Some("")
        } else {
            rest.strip_prefix('/')
        }
    }

    /// `self` re-rooted below `base`: `/project/src/a` minus `/project` is
    /// `/src/a`. `None` when `self` is not under `base`.
    pub fn strip_prefix(&self, base: &VPath) -> Option<VPath> {
        self.relative_to(base).map(|rel| VPath(format!("/{rel}")))
    }

    /// `self` (a path inside a mounted backend) placed under `prefix`:
    /// the inverse of [`VPath::strip_prefix`].
    pub fn under(&self, prefix: &VPath) -> VPath {
        if self.is_root() {
            prefix.clone()
        } else if prefix.is_root() {
            self.clone()
        } else {
            VPath(format!("{}{}", prefix.0, self.0))
        }
    }

    /// True when any component below `base` starts with `.`.
    ///
    /// Components of `base` itself do not count: grep on a hidden
    /// directory the caller named searches it.
    pub fn is_hidden_below(&self, base: &VPath) -> bool {
        match self.relative_to(base) {
            Some(rel) => rel.split('/').any(|c| c.starts_with('.')),
            None => false,
        }
    }

    /// Consumes the path, returning its string.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// True when `input` is exactly what [`VPath::new`] would return for it.
fn is_normalized(input: &str) -> bool {
    if input == "/" {
        return true;
    }
    let Some(rest) = input.strip_prefix('/') else {
        return false;
    };
    !rest.contains(['\0', '\\'])
        && rest
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// Refuses the inputs that are never a virtual path.
fn validate(input: &str) -> Result<()> {
    if input.contains('\0') {
        return Err(BackendError::invalid_path(
            input,
            "paths cannot contain NUL bytes",
        ));
    }
    if input.starts_with('~') {
        return Err(BackendError::invalid_path(
            input,
            "home-directory paths ('~') are not supported",
        ));
    }
    let bytes = input.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err(BackendError::invalid_path(
            input,
            "drive-letter paths are not supported",
        ));
    }
    if input.contains('\\') {
        return Err(BackendError::invalid_path(
            input,
            "backslashes are not path separators here; use '/'",
        ));
    }
    Ok(())
}

impl fmt::Display for VPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for VPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl AsRef<str> for VPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for VPath {
    type Err = BackendError;
    fn from_str(s: &str) -> Result<Self> {
        VPath::new(s)
    }
}

impl From<VPath> for String {
    fn from(p: VPath) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use proptest::prelude::*;

    #[test]
    fn root_spellings_agree() {
        for s in ["/", "", ".", "./", "/.", "//", "/./.", "a/.."] {
            assert_eq!(VPath::new(s).unwrap(), VPath::root(), "{s:?}");
        }
    }

    #[test]
    fn refuses_hostile_forms() {
        for s in [
            "..",
            "/..",
            "../x",
            "/a/../..",
            "a/../../b",
            "~",
            "~/x",
            "~root",
            "C:",
            "C:\\Windows",
            "c:/x",
            "a\0b",
            "..\\x",
        ] {
            let err = VPath::new(s).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidPath, "{s:?}");
        }
    }

    #[test]
    fn dots_inside_names_are_names() {
        assert_eq!(
            VPath::new("a..b/..c/d..").unwrap().as_str(),
            "/a..b/..c/d.."
        );
        assert_eq!(VPath::new("/x/.../y").unwrap().as_str(), "/x/.../y");
    }

    #[test]
    fn prefix_is_component_wise() {
        let foo = VPath::new("/foo").unwrap();
        assert!(VPath::new("/foo/x").unwrap().starts_with(&foo));
        assert!(VPath::new("/foo").unwrap().starts_with(&foo));
        assert!(!VPath::new("/foobar").unwrap().starts_with(&foo));
        assert_eq!(
            VPath::new("/foo/x/y")
                .unwrap()
                .strip_prefix(&foo)
                .unwrap()
                .as_str(),
            "/x/y"
        );
        assert_eq!(
            VPath::new("/foo").unwrap().strip_prefix(&foo).unwrap(),
            VPath::root()
        );
        assert_eq!(VPath::new("/x").unwrap().under(&foo).as_str(), "/foo/x");
        assert_eq!(VPath::root().under(&foo), foo);
    }

    #[test]
    fn parent_and_name() {
        let p = VPath::new("/a/b").unwrap();
        assert_eq!(p.file_name(), Some("b"));
        assert_eq!(p.parent().unwrap().as_str(), "/a");
        assert_eq!(p.parent().unwrap().parent().unwrap(), VPath::root());
        assert_eq!(VPath::root().parent(), None);
    }

    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("..".to_owned()),
            Just(".".to_owned()),
            Just(String::new()),
            "[a-z.]{1,4}",
            "\\PC{1,3}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Whatever the input, a path that normalizes has no `..`, `.` or
        /// empty component: it cannot name anything above the root.
        #[test]
        fn never_escapes_root(segs in prop::collection::vec(segment(), 0..12), abs in any::<bool>()) {
            let input = format!("{}{}", if abs { "/" } else { "" }, segs.join("/"));
            if let Ok(p) = VPath::new(&input) {
                prop_assert!(p.as_str().starts_with('/'));
                for c in p.components() {
                    prop_assert!(c != ".." && c != "." && !c.is_empty());
                }
                // Depth never exceeds what the input could reach.
                let depth: i64 = segs.iter().map(|s| match s.as_str() {
                    ".." => -1, "." | "" => 0, _ => 1 }).sum();
                prop_assert!(p.components().count() as i64 <= depth.max(0) + segs.len() as i64);
            }
        }

        /// The fast path for normalized input gives what the full
        /// normalizer gives.
        #[test]
        fn fast_path_agrees(segs in prop::collection::vec(segment(), 0..8), abs in any::<bool>()) {
            let input = format!("{}{}", if abs { "/" } else { "" }, segs.join("/"));
            prop_assert_eq!(VPath::new(&input).ok(), VPath::root().join(&input).ok());
        }

        #[test]
        fn normalize_is_idempotent(segs in prop::collection::vec(segment(), 0..12)) {
            let input = segs.join("/");
            if let Ok(p) = VPath::new(&input) {
                let again = VPath::new(p.as_str()).unwrap();
                prop_assert_eq!(&again, &p);
            }
        }

        /// Escaping is exactly: at some point more `..` than names.
        #[test]
        fn escape_iff_dotdot_underflows(segs in prop::collection::vec(prop_oneof![Just(".."), Just("a"), Just(".")], 0..12)) {
            let mut depth = 0i32;
            let mut escapes = false;
            for s in &segs {
                match *s { ".." => { depth -= 1; if depth < 0 { escapes = true; } } "a" => depth += 1, _ => {} }
            }
            let res = VPath::new(&segs.join("/"));
            prop_assert_eq!(res.is_err(), escapes);
        }

        #[test]
        fn strip_then_under_round_trips(a in "[a-z]{1,3}(/[a-z]{1,3}){0,3}", b in "[a-z]{1,3}(/[a-z]{1,3}){0,3}") {
            let prefix = VPath::new(&a).unwrap();
            let full = prefix.join(&b).unwrap();
            let inner = full.strip_prefix(&prefix).unwrap();
            prop_assert_eq!(inner.under(&prefix), full);
        }
    }
}
