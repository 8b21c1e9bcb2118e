//! One function per behaviour, in one module per operation. Each takes an
//! empty backend and panics with a message naming the rule when the
//! backend breaks it. A case for an optional operation (`delete`,
//! `rename`, `execute`) fails when the backend lacks it: a backend
//! declares what it lacks in [`conformance_tests!`](crate::conformance_tests),
//! which generates those cases as ignored tests (see [`capability`]).

pub mod batch;
pub mod capability;
pub mod concurrency;
pub mod delete;
pub mod edit;
pub mod execute;
pub mod glob;
pub mod grep;
pub mod ls;
pub mod paths;
pub mod read;
pub mod rename;
pub mod write;

pub(crate) use std::sync::Arc;

pub(crate) use bytes::Bytes;

pub(crate) use deepagent_core::text::render_read;
pub(crate) use deepagent_core::{
    Backend, BackendError, ErrorKind, GlobQuery, GrepMatch, GrepQuery, Result, DEFAULT_READ_LIMIT,
};

/// The backend under test.
pub type B = Arc<dyn Backend>;

pub(crate) async fn put(b: &B, path: &str, content: impl Into<Bytes>) {
    if let Err(e) = b.write(path, content.into()).await {
        panic!("[{}] write {path:?} failed: {e}", b.name());
    }
}

pub(crate) async fn get(b: &B, path: &str) -> Bytes {
    match b.read_bytes(path).await {
        Ok(c) => c,
        Err(e) => panic!("[{}] read_bytes {path:?} failed: {e}", b.name()),
    }
}

#[track_caller]
pub(crate) fn ok<T>(b: &B, what: &str, res: Result<T>) -> T {
    match res {
        Ok(v) => v,
        Err(e) => panic!("[{}] {what} failed: {e}", b.name()),
    }
}

#[track_caller]
pub(crate) fn expect_err<T: std::fmt::Debug>(
    b: &B,
    what: &str,
    res: Result<T>,
    kind: ErrorKind,
) -> BackendError {
    match res {
        Ok(v) => panic!("[{}] {what}: expected {kind:?}, got Ok({v:?})", b.name()),
        Err(e) => {
            assert_eq!(
                e.kind(),
                kind,
                "[{}] {what}: expected {kind:?}, got {e}",
                b.name()
            );
            e
        }
    }
}

pub(crate) async fn paths_of_glob(b: &B, pattern: &str, base: &str) -> Vec<String> {
    let res = ok(b, "glob", b.glob(&GlobQuery::new(pattern).path(base)).await);
    res.files.into_iter().map(|f| f.path).collect()
}

pub(crate) async fn grep(b: &B, q: GrepQuery) -> Vec<GrepMatch> {
    ok(
        b,
        &format!("grep {:?} in {:?}", q.pattern, q.path),
        b.grep(&q).await,
    )
    .matches
}

pub(crate) fn grep_paths(matches: &[GrepMatch]) -> Vec<&str> {
    let mut v: Vec<&str> = matches.iter().map(|m| m.path.as_str()).collect();
    v.dedup();
    v
}

pub(crate) fn numbered(n: usize) -> String {
    (1..=n).map(|i| format!("line {i}\n")).collect()
}
