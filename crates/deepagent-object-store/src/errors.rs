//! object_store errors turned into [`BackendError`]s that name the path,
//! the store's URL and what to set.

use deepagent_core::BackendError;

/// What went wrong, read from an object_store error and its sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    NotFound,
    NoSuchBucket,
    AlreadyExists,
    /// A conditional request lost: the object changed since it was read.
    Conflict,
    NotImplemented,
    Denied,
    Credentials,
    Unreachable,
    Other,
}

/// The whole chain of an error as one string, for the classification
/// below and for messages (object_store puts the useful part, the HTTP
/// status and the server's error code, in the sources).
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

pub(crate) fn classify(e: &object_store::Error) -> Failure {
    use object_store::Error as E;
    let text = chain(e);
    // S3 answers 404 both for a missing key and a missing bucket; only the
    // error code in the body tells them apart.
    if text.contains("NoSuchBucket") || text.contains("The specified bucket does not exist") {
        return Failure::NoSuchBucket;
    }
    match e {
        E::NotFound { .. } => Failure::NotFound,
        E::AlreadyExists { .. } => Failure::AlreadyExists,
        E::Precondition { .. } | E::NotModified { .. } => Failure::Conflict,
        E::NotImplemented | E::NotSupported { .. } => Failure::NotImplemented,
        E::PermissionDenied { .. } => Failure::Denied,
        E::Unauthenticated { .. } => Failure::Credentials,
        _ => classify_text(&text),
    }
}

fn classify_text(text: &str) -> Failure {
    let lower = text.to_ascii_lowercase();
    // Credential providers fail before any request to the store is made;
    // with nothing configured, object_store falls back to the instance
    // metadata service (`/latest/api/token`), which is not there.
    if lower.contains("credential")
        || lower.contains("/latest/api/token")
        || lower.contains("/latest/meta-data")
        || lower.contains("169.254.169.254")
        || lower.contains("invalidaccesskeyid")
        || lower.contains("signaturedoesnotmatch")
    {
        return Failure::Credentials;
    }
    if lower.contains("accessdenied") || lower.contains("403 forbidden") {
        return Failure::Denied;
    }
    let unreachable = [
        "error sending request",
        "connection refused",
        "tcp connect",
        "dns error",
        "failed to lookup address",
        "connection reset",
        "connection closed",
        "timed out",
        "503 service unavailable",
        "502 bad gateway",
        "504 gateway",
    ];
    if unreachable.iter().any(|needle| lower.contains(needle)) {
        return Failure::Unreachable;
    }
    Failure::Other
}

/// Where an error happened: which store, which virtual path, which call.
pub(crate) struct Ctx<'a> {
    pub url: &'a str,
    pub path: &'a str,
    pub op: &'a str,
    pub hint: &'a str,
}

/// The [`BackendError`] for `e`, naming the path and the store and saying
/// what to do.
pub(crate) fn to_backend(ctx: &Ctx<'_>, e: object_store::Error) -> BackendError {
    let Ctx {
        url,
        path,
        op,
        hint,
    } = *ctx;
    match classify(&e) {
        Failure::NotFound => BackendError::not_found(path),
        Failure::AlreadyExists => BackendError::AlreadyExists {
            path: path.to_owned(),
        },
        Failure::NoSuchBucket => BackendError::other_with_source(
            format!(
                "{op} {path}: the bucket of {url} does not exist; create it or fix the bucket name in the URL ({})",
                chain(&e)
            ),
            e,
        ),
        Failure::Conflict => BackendError::other_with_source(
            format!(
                "{op} {path}: {path} changed on {url} while it was being updated; try again ({})",
                chain(&e)
            ),
            e,
        ),
        Failure::NotImplemented => BackendError::other_with_source(
            format!(
                "{op} {path}: the store behind {url} does not support this request ({})",
                chain(&e)
            ),
            e,
        ),
        Failure::Denied => BackendError::permission_denied(
            path,
            format!(
                "{url} refused {op}; check that the credentials may {op} in this bucket and prefix ({})",
                chain(&e)
            ),
        ),
        Failure::Credentials => BackendError::permission_denied(
            path,
            format!(
                "no valid credentials for {url}: {hint} ({})",
                chain(&e)
            ),
        ),
        Failure::Unreachable => unreachable_error(url, path, op, hint, &e),
        Failure::Other => BackendError::other_with_source(
            format!("{op} {path} on {url} failed: {}", chain(&e)),
            e,
        ),
    }
}

/// The store did not answer, after object_store's own retries: the
/// retryable kind. It is an I/O error of kind `TimedOut` or
/// `ConnectionRefused` so callers can tell it from a refusal.
fn unreachable_error(
    url: &str,
    path: &str,
    op: &str,
    hint: &str,
    e: &object_store::Error,
) -> BackendError {
    let text = chain(e);
    let kind = if text.to_ascii_lowercase().contains("timed out") {
        std::io::ErrorKind::TimedOut
    } else {
        std::io::ErrorKind::ConnectionRefused
    };
    let message = format!(
        "cannot reach the store of {url} to {op} (retried per the store's retry settings; retrying later may work): check the endpoint and the network ({hint}): {text}"
    );
    BackendError::Io {
        path: path.to_owned(),
        source: std::io::Error::new(kind, message),
    }
}
