//! Models behind one trait: OpenAI, Anthropic, and the offline models
//! tests and demos use.
//!
//! A [`Model`] answers a [`ModelRequest`] with a [`ModelResponse`]; it may
//! also stream the answer as [`StreamChunk`]s. Adapters translate the
//! provider-neutral [`Message`](crate::Message)s to their wire format.

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;

use crate::messages::{ModelRequest, ModelResponse, ToolCall, Usage};

#[cfg(feature = "anthropic")]
pub mod anthropic;
pub mod demo;
mod function;
mod http;
#[cfg(feature = "openai")]
pub mod openai;
mod pricing;
mod scripted;
#[cfg(any(feature = "openai", feature = "anthropic"))]
mod sse;
mod test_model;

pub use function::FunctionModel;
pub use http::RetryPolicy;
pub use pricing::{ModelPrice, PriceTable, BUILTIN_PRICES_JSON};
pub use scripted::ScriptedModel;
pub use test_model::{example_for_schema, TestModel};

/// How long an HTTP model waits for an answer by default (per attempt).
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// The longest silence a streamed answer may have by default.
pub const DEFAULT_STREAM_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Why a model request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The provider answered with an error status (after retries, for 429
    /// and 5xx).
    #[error("{provider} returned HTTP {status}: {message}")]
    Http {
        /// `openai`, `anthropic`, ...
        provider: String,
        /// The HTTP status.
        status: u16,
        /// The provider's error message.
        message: String,
    },
    /// The request could not be sent or the answer not received.
    #[error("{provider} request failed: {message}")]
    Transport {
        /// The provider.
        provider: String,
        /// What went wrong.
        message: String,
    },
    /// The answer was not in the expected shape.
    #[error("{provider} sent a response that could not be decoded: {message}")]
    Decode {
        /// The provider.
        provider: String,
        /// What was wrong with it.
        message: String,
    },
    /// A streamed answer ended before the provider marked it complete (a
    /// connection cut mid-answer). Transient: the agent retries the turn
    /// under the model's [`Model::stream_retry_policy`].
    #[error("{provider} stream was truncated: {message}")]
    Truncated {
        /// The provider.
        provider: String,
        /// What was missing.
        message: String,
    },
    /// Anything else (a scripted model ran out of responses, a function
    /// model refused, ...).
    #[error("{0}")]
    Other(String),
}

impl ModelError {
    /// True for a failure mid-stream that a fresh request may not repeat:
    /// a truncated stream, a dropped connection, a timeout, or an error
    /// event the provider sends mid-answer with a retryable status
    /// (Anthropic's `overloaded_error` is a 529, `rate_limit_error` a 429).
    pub fn is_transient(&self) -> bool {
        match self {
            ModelError::Truncated { .. } | ModelError::Transport { .. } => true,
            ModelError::Http { status, .. } => *status == 429 || (500..=599).contains(status),
            _ => false,
        }
    }
}

/// A piece of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamChunk {
    /// More answer text.
    TextDelta(String),
    /// Part of a tool call. `index` identifies the call within the turn;
    /// `id` and `name` arrive once, `arguments` in pieces.
    ///
    /// A piece with an `id` other than the one its `index` already has
    /// starts a new call: servers that send every call with `index: 0`
    /// (Ollama) or none at all (Gemini's OpenAI endpoint) still give one
    /// call per id.
    ToolCallDelta {
        /// Position of the call within the turn.
        index: usize,
        /// The call id, when this piece carries it.
        id: Option<String>,
        /// The tool name, when this piece carries it.
        name: Option<String>,
        /// More of the JSON arguments text.
        arguments: String,
    },
    /// Token counts of the turn so far. Providers report them as running
    /// totals (Gemini on every chunk, Anthropic input at the start and
    /// output at the end), so a later value replaces an earlier one, field
    /// by field; a field reported as 0 keeps the earlier value.
    Usage(Usage),
    /// The provider stopped the answer at its output token cap.
    MaxTokens,
}

/// A language model the agent can talk to.
///
/// Object safe; agents hold an `Arc<dyn Model>`.
#[async_trait]
pub trait Model: Send + Sync {
    /// A name for messages, e.g. `openai:gpt-4.1`.
    fn name(&self) -> String;

    /// One turn.
    async fn request(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError>;

    /// How a stream that breaks off mid-answer ([`ModelError::Truncated`],
    /// a dropped connection, an idle timeout) is retried by the agent: the
    /// turn is requested again from the start. The default: not at all.
    fn stream_retry_policy(&self) -> RetryPolicy {
        RetryPolicy::none()
    }

    /// One turn, streamed. The default sends the whole answer of
    /// [`Model::request`] as chunks, so every model can drive `run_stream`.
    async fn request_stream(
        &self,
        request: &ModelRequest,
    ) -> Result<BoxStream<'static, Result<StreamChunk, ModelError>>, ModelError> {
        let response = self.request(request).await?;
        Ok(futures::stream::iter(response_chunks(response).into_iter().map(Ok)).boxed())
    }
}

/// A whole response as the chunks that would stream it.
pub fn response_chunks(response: ModelResponse) -> Vec<StreamChunk> {
    let mut chunks = Vec::new();
    if !response.text.is_empty() {
        chunks.push(StreamChunk::TextDelta(response.text));
    }
    for (index, call) in response.tool_calls.into_iter().enumerate() {
        chunks.push(StreamChunk::ToolCallDelta {
            index,
            id: Some(call.id),
            name: Some(call.name),
            arguments: call.arguments,
        });
    }
    chunks.push(StreamChunk::Usage(response.usage));
    if response.truncated {
        chunks.push(StreamChunk::MaxTokens);
    }
    chunks
}

/// Builds a [`ModelResponse`] from stream chunks.
#[derive(Debug, Default)]
pub struct ResponseAccumulator {
    text: String,
    calls: Vec<PartialCall>,
    usage: Usage,
    truncated: bool,
}

#[derive(Debug)]
struct PartialCall {
    index: usize,
    id: Option<String>,
    name: String,
    arguments: String,
}

impl ResponseAccumulator {
    /// Adds one chunk.
    pub fn push(&mut self, chunk: &StreamChunk) {
        match chunk {
            StreamChunk::TextDelta(t) => self.text.push_str(t),
            StreamChunk::ToolCallDelta {
                index,
                id,
                name,
                arguments,
            } => {
                // Some servers send `"id": ""` on continuation pieces.
                let id = id.as_deref().filter(|i| !i.is_empty());
                // The latest call at this index, unless this piece starts
                // another call: a different id, or (without ids) a name
                // after the previous call's arguments have begun.
                let pos = self
                    .calls
                    .iter()
                    .rposition(|c| c.index == *index)
                    .filter(|&p| {
                        let c = &self.calls[p];
                        match (id, &c.id) {
                            (Some(new), Some(old)) => new == old,
                            (Some(_), None) => true,
                            (None, _) => name.is_none() || c.arguments.is_empty(),
                        }
                    });
                let pos = match pos {
                    Some(p) => p,
                    None => {
                        self.calls.push(PartialCall {
                            index: *index,
                            id: None,
                            name: String::new(),
                            arguments: String::new(),
                        });
                        self.calls.len() - 1
                    }
                };
                let call = &mut self.calls[pos];
                if let Some(id) = id {
                    call.id = Some(id.to_owned());
                }
                // A name repeated on every piece (some servers do) is one
                // name; pieces of a name split across chunks add up.
                if let Some(name) = name.as_deref().filter(|n| *n != call.name) {
                    call.name.push_str(name);
                }
                call.arguments.push_str(arguments);
            }
            StreamChunk::Usage(u) => {
                if u.input_tokens > 0 {
                    self.usage.input_tokens = u.input_tokens;
                }
                if u.output_tokens > 0 {
                    self.usage.output_tokens = u.output_tokens;
                }
                if u.cache_write_tokens > 0 {
                    self.usage.cache_write_tokens = u.cache_write_tokens;
                }
                if u.cache_read_tokens > 0 {
                    self.usage.cache_read_tokens = u.cache_read_tokens;
                }
            }
            StreamChunk::MaxTokens => self.truncated = true,
        }
    }

    /// The assembled response; calls without an id get one.
    pub fn finish(mut self) -> ModelResponse {
        // Stable: calls sharing an index keep their arrival order.
        self.calls.sort_by_key(|c| c.index);
        ModelResponse {
            text: self.text,
            tool_calls: self
                .calls
                .into_iter()
                .map(|c| ToolCall {
                    id: c.id.unwrap_or_else(crate::messages::next_call_id),
                    name: c.name,
                    arguments: c.arguments,
                })
                .collect(),
            usage: self.usage,
            truncated: self.truncated,
        }
    }
}

/// HTTP settings for a model named by a `"provider:model"` spec, applied
/// by [`infer_model_configured`] and the builder's
/// [`model_retry`](crate::DeepAgentBuilder::model_retry) and friends.
///
/// `None` keeps the provider model's default ([`RetryPolicy::default`],
/// [`DEFAULT_TIMEOUT`], [`DEFAULT_STREAM_IDLE_TIMEOUT`]). They have no
/// effect on `test`, which makes no requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelOptions {
    /// Retries of transient failures (429, 5xx, dropped connections).
    pub retry: Option<RetryPolicy>,
    /// How long one attempt waits for the response head.
    pub timeout: Option<std::time::Duration>,
    /// The longest silence a streamed answer may have.
    pub stream_idle_timeout: Option<std::time::Duration>,
}

impl ModelOptions {
    /// Nothing set: every default kept.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Sets how long one attempt waits for the response head.
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the longest silence a streamed answer may have.
    pub fn stream_idle_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.stream_idle_timeout = Some(timeout);
        self
    }

    /// True when nothing is set, so the model keeps all its defaults.
    pub fn is_default(&self) -> bool {
        *self == ModelOptions::default()
    }
}

/// Resolves `"provider:model"` to a model, reading API keys and base URLs
/// from the environment.
///
/// Providers: `openai:<model>` (`OPENAI_API_KEY`, `OPENAI_BASE_URL`),
/// `anthropic:<model>` (`ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL`) and
/// `test` (a [`TestModel`]).
pub fn infer_model(spec: &str) -> Result<Arc<dyn Model>, crate::AgentError> {
    infer_model_with(spec, &|k| std::env::var(k).ok())
}

/// [`infer_model`] with an explicit environment lookup (for tests).
pub fn infer_model_with(
    spec: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Model>, crate::AgentError> {
    infer_model_configured(spec, &ModelOptions::default(), env)
}

/// The error for a provider this build leaves out.
#[cfg(not(all(feature = "openai", feature = "anthropic")))]
fn compiled_out(spec: &str, provider: &str) -> crate::AgentError {
    crate::AgentError::Config(format!(
        "model {spec:?} needs deepagent's `{provider}` cargo feature, which this build leaves out"
    ))
}

/// Applies the [`ModelOptions`] that are set to a provider model. The
/// providers share these builder methods by name, not by a trait, so a
/// macro serves both.
#[cfg(any(feature = "openai", feature = "anthropic"))]
macro_rules! with_options {
    ($model:expr, $options:expr) => {{
        let mut model = $model;
        if let Some(retry) = $options.retry {
            model = model.retry(retry);
        }
        if let Some(t) = $options.timeout {
            model = model.timeout(t);
        }
        if let Some(t) = $options.stream_idle_timeout {
            model = model.stream_idle_timeout(t);
        }
        model
    }};
}

/// [`infer_model_with`] that also applies `options` (retries, timeouts) to
/// the provider model, so a model named by a string needs no hand-built
/// adapter to change them.
///
/// ```
/// use std::time::Duration;
/// use deepagent::models::{infer_model_configured, ModelOptions};
/// use deepagent::{Model, RetryPolicy};
///
/// let options = ModelOptions::new()
///     .retry(RetryPolicy::none())
///     .timeout(Duration::from_secs(30));
/// let env = |k: &str| (k == "OPENAI_API_KEY").then(|| "sk-example".to_owned());
/// let model = infer_model_configured("openai:gpt-4.1", &options, &env)?;
/// assert_eq!(model.stream_retry_policy(), RetryPolicy::none());
/// # Ok::<(), deepagent::AgentError>(())
/// ```
pub fn infer_model_configured(
    spec: &str,
    options: &ModelOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Model>, crate::AgentError> {
    let (provider, name) = match spec.split_once(':') {
        Some((p, n)) => (p.trim(), n.trim()),
        None => (spec.trim(), ""),
    };
    #[cfg(any(feature = "openai", feature = "anthropic"))]
    let need_name = |provider: &str| {
        if name.is_empty() {
            Err(crate::AgentError::Config(format!(
                "model {spec:?} names no model; write it as \"{provider}:<model>\", e.g. \"openai:gpt-4.1\""
            )))
        } else {
            Ok(())
        }
    };
    #[cfg(any(feature = "openai", feature = "anthropic"))]
    let key = |var: &str| {
        env(var).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
            crate::AgentError::Config(format!(
                "{var} is not set; export {var}=<your key> to use {spec:?}, or pass a model with model_impl()"
            ))
        })
    };
    // Without either provider, only `test` is left to name.
    #[cfg(not(any(feature = "openai", feature = "anthropic")))]
    let _ = (name, options, env);
    match provider {
        #[cfg(feature = "openai")]
        "openai" => {
            need_name(provider)?;
            let mut model = openai::OpenAiModel::new(name, key("OPENAI_API_KEY")?);
            if let Some(url) = env("OPENAI_BASE_URL").filter(|u| !u.is_empty()) {
                model = model.base_url(url);
            }
            Ok(Arc::new(with_options!(model, options)))
        }
        #[cfg(feature = "anthropic")]
        "anthropic" => {
            need_name(provider)?;
            let mut model = anthropic::AnthropicModel::new(name, key("ANTHROPIC_API_KEY")?);
            if let Some(url) = env("ANTHROPIC_BASE_URL").filter(|u| !u.is_empty()) {
                model = model.base_url(url);
            }
            Ok(Arc::new(with_options!(model, options)))
        }
        "test" => Ok(Arc::new(TestModel::new())),
        // Named but compiled out: say which feature brings it back.
        #[cfg(not(feature = "openai"))]
        "openai" => Err(compiled_out(spec, provider)),
        #[cfg(not(feature = "anthropic"))]
        "anthropic" => Err(compiled_out(spec, provider)),
        other => Err(crate::AgentError::Config(format!(
            "unknown model provider {other:?} in {spec:?}; use \"openai:<model>\", \"anthropic:<model>\" or \"test\" (or pass your own with model_impl())"
        ))),
    }
}
