//! Runs every backend operation on one hostile path and checks what came
//! back.
//!
//! The rules, for any backend and any input string `p`:
//!
//! - when the path rules refuse `p` ([`reference_normalize`] is `None`),
//!   every operation fails with `InvalidPath`: nothing is attempted;
//! - otherwise every path in a result is normalized and lies at or below
//!   the normalized `p` (a listing of `/a` never shows `/b`);
//! - no content, line or message ever contains the sentinel that lies
//!   outside the root, and no message shows the host directory layout;
//! - a successful write is readable back at the normalized path, byte-exact.
//!
//! The filesystem side (nothing outside changed or created) is checked by
//! the caller with [`Yard`](crate::yard::Yard), since only it knows where
//! the root is.

use deepagent_core::{Backend, BackendError, ErrorKind, GlobQuery, GrepQuery, VPath};

use crate::hostile::reference_normalize;
use crate::yard::SENTINEL_CONTENT;

/// What a probe saw, for the test's own tallies.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Operations that succeeded.
    pub ok: usize,
    /// Operations refused with `InvalidPath`.
    pub invalid: usize,
    /// Operations that failed otherwise (not found, permission, I/O, ...).
    pub other_err: usize,
    /// Writes that succeeded.
    pub writes: usize,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Tally) {
        self.ok += o.ok;
        self.invalid += o.invalid;
        self.other_err += o.other_err;
        self.writes += o.writes;
    }
}

/// Strings no result may contain: the sentinel's marker and, when given,
/// the host directory the backend lives in.
#[derive(Debug, Clone, Default)]
pub struct Forbidden {
    /// Host path prefix that must never appear in a message or result.
    pub host_prefix: Option<String>,
}

impl Forbidden {
    fn check(&self, what: &str, text: &str) -> Result<(), String> {
        let marker = SENTINEL_CONTENT
            .split(':')
            .next()
            .unwrap_or(SENTINEL_CONTENT);
        if text.contains(marker) {
            return Err(format!(
                "{what} returned the sentinel from outside the root: {text:.200}"
            ));
        }
        if let Some(prefix) = &self.host_prefix {
            if text.contains(prefix.as_str()) {
                return Err(format!("{what} leaked the host path {prefix}: {text:.300}"));
            }
        }
        Ok(())
    }
}

/// Runs exists, ls, read_bytes, read, write, edit, glob (as base and as
/// pattern) and grep (as search path) on `input`; `Err` describes the
/// first rule broken.
pub async fn probe(
    backend: &dyn Backend,
    input: &str,
    forbid: &Forbidden,
) -> Result<Tally, String> {
    let expected = reference_normalize(input);
    if let Some(norm) = &expected {
        let real = VPath::new(input).map_err(|e| format!("VPath refused {input:?}: {e}"))?;
        if real.as_str() != norm {
            return Err(format!(
                "VPath::new({input:?}) = {real:?}, expected {norm:?}"
            ));
        }
    } else if VPath::new(input).is_ok() {
        return Err(format!("VPath accepted {input:?}, which must be refused"));
    }
    let under = expected.as_deref().and_then(|e| VPath::new(e).ok());
    let mut t = Tally::default();
    let ctx = Ctx {
        input,
        expected: expected.as_deref(),
        under: under.as_ref(),
        forbid,
    };

    let r = backend.exists(input).await;
    ctx.judge("exists", r.as_ref().map(|_| ()), &mut t)?;

    let r = backend.ls(input).await;
    if let Ok(list) = &r {
        for f in list {
            ctx.path_ok("ls", &f.path)?;
        }
    }
    ctx.judge("ls", r.as_ref().map(|_| ()), &mut t)?;

    let r = backend.read_bytes(input).await;
    if let Ok(bytes) = &r {
        forbid.check("read_bytes", &String::from_utf8_lossy(bytes))?;
    }
    ctx.judge("read_bytes", r.as_ref().map(|_| ()), &mut t)?;

    let r = backend.read(input, 0, 50).await;
    if let Ok(slice) = &r {
        ctx.path_ok("read", &slice.path)?;
        forbid.check("read", &slice.lines.join("\n"))?;
    }
    ctx.judge("read", r.as_ref().map(|_| ()), &mut t)?;

    let content = format!("PROBE written through {input:?}\n");
    let r = backend.write(input, content.clone().into()).await;
    if let Ok(w) = &r {
        t.writes += 1;
        if Some(w.path.as_str()) != ctx.expected {
            return Err(format!(
                "write({input:?}) reported path {:?}, expected {:?}",
                w.path, ctx.expected
            ));
        }
        let back = backend
            .read_bytes(&w.path)
            .await
            .map_err(|e| format!("written file {:?} is not readable back: {e}", w.path))?;
        if back.as_ref() != content.as_bytes() {
            return Err(format!(
                "written file {:?} reads back different content",
                w.path
            ));
        }
    }
    ctx.judge("write", r.as_ref().map(|_| ()), &mut t)?;

    let r = backend
        .edit(input, "PROBE", "PROBED", deepagent_core::Replace::Once)
        .await;
    if let Ok(e) = &r {
        ctx.path_ok("edit", &e.path)?;
    }
    ctx.judge("edit", r.as_ref().map(|_| ()), &mut t)?;

    let r = backend.glob(&GlobQuery::new("**").path(input)).await;
    if let Ok(g) = &r {
        for f in &g.files {
            ctx.path_ok("glob", &f.path)?;
        }
    }
    ctx.judge("glob", r.as_ref().map(|_| ()), &mut t)?;

    // The input as a pattern: whatever it matches must still be a file
    // inside the root (the search base is `/`).
    if let Ok(g) = backend.glob(&GlobQuery::new(input)).await {
        for f in &g.files {
            VPath::new(&f.path)
                .map_err(|e| format!("glob pattern {input:?} returned {:?}: {e}", f.path))?;
        }
    }

    let r = backend
        .grep(
            &GrepQuery::new("SENTINEL|PROBE")
                .path(input)
                .ignore_hidden(false),
        )
        .await;
    if let Ok(g) = &r {
        for m in &g.matches {
            ctx.path_ok("grep", &m.path)?;
            forbid.check("grep", &m.line)?;
        }
    }
    ctx.judge("grep", r.as_ref().map(|_| ()), &mut t)?;
    Ok(t)
}

struct Ctx<'a> {
    input: &'a str,
    expected: Option<&'a str>,
    under: Option<&'a VPath>,
    forbid: &'a Forbidden,
}

impl Ctx<'_> {
    fn judge(&self, op: &str, r: Result<(), &BackendError>, t: &mut Tally) -> Result<(), String> {
        match (r, self.expected) {
            (Ok(()), None) => Err(format!(
                "{op}({:?}) succeeded on a path that must be refused",
                self.input
            )),
            (Ok(()), Some(_)) => {
                t.ok += 1;
                Ok(())
            }
            (Err(e), None) if e.kind() == ErrorKind::InvalidPath => {
                t.invalid += 1;
                self.forbid.check(op, &e.to_string())
            }
            (Err(e), None) => Err(format!(
                "{op}({:?}) must fail with InvalidPath, got {:?}: {e}",
                self.input,
                e.kind()
            )),
            (Err(e), Some(_)) if e.kind() == ErrorKind::InvalidPath => Err(format!(
                "{op}({:?}) refused a valid path as InvalidPath: {e}",
                self.input
            )),
            (Err(e), Some(_)) => {
                t.other_err += 1;
                self.forbid.check(op, &e.to_string())
            }
        }
    }

    fn path_ok(&self, op: &str, path: &str) -> Result<(), String> {
        let p =
            VPath::new(path).map_err(|e| format!("{op} returned an invalid path {path:?}: {e}"))?;
        if p.as_str() != path {
            return Err(format!("{op} returned an unnormalized path {path:?}"));
        }
        if let Some(base) = self.under {
            if !p.starts_with(base) {
                return Err(format!(
                    "{op}({:?}) returned {path:?}, outside {base:?}",
                    self.input
                ));
            }
        }
        self.forbid.check(op, path)
    }
}
