//! Sending a provider request with bounded, exponential retries.

use std::time::Duration;

#[cfg(any(feature = "openai", feature = "anthropic"))]
use super::ModelError;

/// How transient failures (HTTP 429, 5xx, dropped connections) are
/// retried: up to `max_retries` more attempts, waiting `initial_backoff`,
/// then twice that, and so on, never longer than `max_backoff` (a
/// `Retry-After` header is honoured up to that bound).
///
/// ```
/// use std::time::Duration;
/// use deepagent::RetryPolicy;
/// let policy = RetryPolicy::default().max_retries(5).initial_backoff(Duration::from_millis(200));
/// assert_eq!(policy.backoff(0), Duration::from_millis(200));
/// assert_eq!(policy.backoff(2), Duration::from_millis(800));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub max_retries: u32,
    /// The first wait.
    pub initial_backoff: Duration,
    /// The longest wait.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Sets the number of retries.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets the first wait.
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// Sets the longest wait.
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// The wait before retry number `attempt` (0-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(20));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

#[cfg(any(feature = "openai", feature = "anthropic"))]
fn transient_status(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

#[cfg(any(feature = "openai", feature = "anthropic"))]
fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let secs: f64 = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(any(feature = "openai", feature = "anthropic"))]
/// Sends the request `build` makes to `url`, retrying transient failures
/// (a wait past `timeout` for the response head is one); returns a
/// successful response or the provider's error with its message.
pub(crate) async fn send(
    provider: &str,
    policy: &RetryPolicy,
    url: &str,
    timeout: Duration,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, ModelError> {
    let mut attempt = 0;
    loop {
        let result = match tokio::time::timeout(timeout, build().send()).await {
            Ok(result) => result,
            Err(_) if attempt < policy.max_retries => {
                tokio::time::sleep(policy.backoff(attempt)).await;
                attempt += 1;
                continue;
            }
            Err(_) => return Err(timed_out(provider, url, timeout, "the response")),
        };
        let wait = match result {
            Ok(resp) if resp.status().is_success() => return Ok(resp),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let hinted = retry_after(&resp);
                if !transient_status(status) || attempt >= policy.max_retries {
                    let body = resp.text().await.unwrap_or_default();
                    return Err(ModelError::Http {
                        provider: provider.to_owned(),
                        status,
                        message: error_message(&body),
                    });
                }
                hinted
                    .map(|h| h.min(policy.max_backoff))
                    .unwrap_or_else(|| policy.backoff(attempt))
            }
            Err(err) => {
                let transient = err.is_connect() || err.is_timeout() || err.is_request();
                if !transient || attempt >= policy.max_retries {
                    return Err(ModelError::Transport {
                        provider: provider.to_owned(),
                        message: describe(&err),
                    });
                }
                policy.backoff(attempt)
            }
        };
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

#[cfg(any(feature = "openai", feature = "anthropic"))]
/// [`send`], then reads the whole body; a body that breaks off (a reset
/// mid-response) is retried like a failed send, within the same policy.
/// A body that stalls past `timeout` is retried the same way.
pub(crate) async fn send_for_text(
    provider: &str,
    policy: &RetryPolicy,
    url: &str,
    timeout: Duration,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<String, ModelError> {
    let mut attempt = 0;
    loop {
        let resp = send(provider, policy, url, timeout, &build).await?;
        let err = match tokio::time::timeout(timeout, resp.text()).await {
            Ok(Ok(text)) => return Ok(text),
            Ok(Err(err)) => ModelError::Transport {
                provider: provider.to_owned(),
                message: format!("the response from {url} broke off: {}", describe(&err)),
            },
            Err(_) => timed_out(provider, url, timeout, "the response body"),
        };
        if attempt >= policy.max_retries {
            return Err(err);
        }
        tokio::time::sleep(policy.backoff(attempt)).await;
        attempt += 1;
    }
}

#[cfg(any(feature = "openai", feature = "anthropic"))]
/// The error for a server that went quiet; it names the server and the
/// setting to change.
pub(crate) fn timed_out(provider: &str, url: &str, after: Duration, what: &str) -> ModelError {
    ModelError::Transport {
        provider: provider.to_owned(),
        message: format!(
            "timed out after {after:?} waiting for {what} from {url} (raise the limit with the model's timeout() / stream_idle_timeout())"
        ),
    }
}

#[cfg(any(feature = "openai", feature = "anthropic"))]
/// The error chain of a reqwest error in one line (reqwest's own message
/// hides the cause, e.g. "connection reset by peer").
pub(crate) fn describe(err: &reqwest::Error) -> String {
    let mut msg = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[cfg(any(feature = "openai", feature = "anthropic"))]
/// The message out of a provider's error body: OpenAI and Anthropic both
/// use `{"error": {"message": ...}}`; anything else is shown as is.
pub(crate) fn error_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let found = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("message"))
            .or_else(|| v.get("error"))
            .and_then(|m| m.as_str())
            .map(str::to_owned)
    });
    found.unwrap_or_else(|| {
        let trimmed = body.trim();
        if trimmed.is_empty() {
            "(empty response body)".to_owned()
        } else {
            trimmed.chars().take(2000).collect()
        }
    })
}

#[cfg(any(feature = "openai", feature = "anthropic"))]
/// The client both adapters share. No overall timeout here: each request
/// is bounded by its model's `timeout` and `stream_idle_timeout`, so a
/// long stream that keeps talking is never cut.
pub(crate) fn default_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

#[cfg(any(feature = "openai", feature = "anthropic"))]
pub(crate) fn snippet(text: &str) -> String {
    let s: String = text.chars().take(200).collect();
    if s.len() < text.len() {
        format!("{s}...")
    } else {
        s
    }
}
