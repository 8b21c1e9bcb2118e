//! Anthropic Messages, with tool use and streaming.

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde_json::{json, Value};

use super::http::{self, RetryPolicy};
use super::http::{default_client, snippet};
use super::{sse, Model, ModelError, StreamChunk, DEFAULT_STREAM_IDLE_TIMEOUT, DEFAULT_TIMEOUT};
use crate::messages::{Message, ModelRequest, ModelResponse, ToolCall, Usage};

const PROVIDER: &str = "anthropic";

/// The default endpoint base.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The API version header sent.
pub const API_VERSION: &str = "2023-06-01";

/// A Messages API model.
///
/// ```no_run
/// use deepagent::models::anthropic::AnthropicModel;
/// let model = AnthropicModel::new("claude-sonnet-4-5", std::env::var("ANTHROPIC_API_KEY").unwrap_or_default());
/// ```
#[derive(Debug, Clone)]
pub struct AnthropicModel {
    model: String,
    api_key: String,
    base_url: String,
    retry: RetryPolicy,
    client: reqwest::Client,
    timeout: Duration,
    stream_idle_timeout: Duration,
    max_tokens: u32,
    prompt_caching: bool,
}

impl AnthropicModel {
    /// A model by name, authenticated with `api_key`.
    pub fn new(model: impl Into<String>, api_key: impl Into<String>) -> Self {
        AnthropicModel {
            model: model.into(),
            api_key: api_key.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            retry: RetryPolicy::default(),
            client: default_client(),
            timeout: DEFAULT_TIMEOUT,
            stream_idle_timeout: DEFAULT_STREAM_IDLE_TIMEOUT,
            max_tokens: 8192,
            prompt_caching: true,
        }
    }

    /// Talks to another server (the path `/v1/messages` is appended).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// Sets how transient failures are retried (a truncated or stalled
    /// stream is one).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sets how long one attempt may wait for a whole answer (and, when
    /// streaming, for the response head); a server that stays silent
    /// longer fails the attempt, which is retried. Default:
    /// [`DEFAULT_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the longest silence between pieces of a streamed answer.
    /// Default: [`DEFAULT_STREAM_IDLE_TIMEOUT`].
    pub fn stream_idle_timeout(mut self, timeout: Duration) -> Self {
        self.stream_idle_timeout = timeout;
        self
    }

    /// Caps the tokens of each answer (the API requires a cap; default 8192).
    pub fn max_tokens(mut self, n: u32) -> Self {
        self.max_tokens = n;
        self
    }

    /// Marks prompt-cache breakpoints (`cache_control`) on the system
    /// prompt, the tools and the latest turn, so each request reads the
    /// conversation so far from Anthropic's prompt cache instead of paying
    /// for it in full (on by default). Cache writes and reads come back in
    /// [`Usage`] and are priced apart.
    pub fn prompt_caching(mut self, on: bool) -> Self {
        self.prompt_caching = on;
        self
    }

    /// The JSON body for a request.
    pub fn body(&self, request: &ModelRequest, stream: bool) -> Value {
        let mut messages: Vec<Value> = Vec::new();
        for m in &request.messages {
            match m {
                Message::User { content } => messages
                    .push(json!({"role": "user", "content": [{"type": "text", "text": content}]})),
                Message::Assistant {
                    content,
                    tool_calls,
                } => {
                    let mut blocks = Vec::new();
                    if !content.is_empty() {
                        blocks.push(json!({"type": "text", "text": content}));
                    }
                    for c in tool_calls {
                        // The API wants an object; arguments the model
                        // garbled were already answered with a retry.
                        let input = serde_json::from_str::<Value>(&c.arguments)
                            .ok()
                            .filter(Value::is_object)
                            .unwrap_or_else(|| json!({}));
                        blocks.push(
                            json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}),
                        );
                    }
                    // The API refuses an empty `content`; an empty turn
                    // (from an old history) carries nothing to keep.
                    if !blocks.is_empty() {
                        messages.push(json!({"role": "assistant", "content": blocks}));
                    }
                }
                Message::Tool {
                    tool_call_id,
                    content,
                    is_error,
                    ..
                } => {
                    let block = json!({"type": "tool_result", "tool_use_id": tool_call_id, "content": content,
                                       "is_error": is_error});
                    // Results of one turn travel together in one user message.
                    let merge = messages.last().is_some_and(|last| {
                        last["role"] == "user"
                            && last["content"]
                                .as_array()
                                .and_then(|b| b.first())
                                .is_some_and(|b| b["type"] == "tool_result")
                    });
                    if merge {
                        if let Some(Value::Array(blocks)) =
                            messages.last_mut().and_then(|l| l.get_mut("content"))
                        {
                            blocks.push(block);
                        }
                    } else {
                        messages.push(json!({"role": "user", "content": [block]}));
                    }
                }
            }
        }
        // Three of the four breakpoints the API allows: the prefix up to
        // each is cached, and the latest turn's makes the next request
        // read the whole conversation so far from the cache.
        let breakpoint = json!({"type": "ephemeral"});
        if self.prompt_caching {
            if let Some(block) = messages
                .last_mut()
                .and_then(|m| m.get_mut("content"))
                .and_then(Value::as_array_mut)
                .and_then(|b| b.last_mut())
            {
                block["cache_control"] = breakpoint.clone();
            }
        }
        let mut body =
            json!({"model": self.model, "max_tokens": self.max_tokens, "messages": messages});
        if !request.system.is_empty() {
            body["system"] = if self.prompt_caching {
                json!([{"type": "text", "text": request.system, "cache_control": breakpoint}])
            } else {
                json!(request.system)
            };
        }
        if !request.tools.is_empty() {
            let mut tools: Vec<Value> = request
                .tools
                .iter()
                .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
                .collect();
            if self.prompt_caching {
                if let Some(last) = tools.last_mut() {
                    last["cache_control"] = breakpoint;
                }
            }
            body["tools"] = Value::Array(tools);
            // A typed run offers its output tool; "any" makes the model
            // end with a tool call, so the answer cannot slip out as text.
            if request.output.is_some() {
                body["tool_choice"] = json!({"type": "any"});
            }
        }
        if stream {
            body["stream"] = json!(true);
        }
        body
    }

    fn url(&self) -> String {
        format!("{}/v1/messages", self.base_url)
    }

    fn request_builder(&self, url: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client
            .post(url)
            .header("x-api-key", &self.api_key)
            .header("anthropic-version", API_VERSION)
            .json(body)
    }

    async fn post(&self, body: Value) -> Result<reqwest::Response, ModelError> {
        let url = self.url();
        http::send(PROVIDER, &self.retry, &url, self.timeout, || {
            self.request_builder(&url, &body)
        })
        .await
    }

    async fn post_for_text(&self, body: Value) -> Result<String, ModelError> {
        let url = self.url();
        http::send_for_text(PROVIDER, &self.retry, &url, self.timeout, || {
            self.request_builder(&url, &body)
        })
        .await
    }
}

fn decode_err(message: impl Into<String>) -> ModelError {
    ModelError::Decode {
        provider: PROVIDER.to_owned(),
        message: message.into(),
    }
}

/// Anthropic's `input_tokens` leaves out the cached prompt tokens; they
/// are added in so `input_tokens` is the whole prompt, as for OpenAI.
fn usage_of(v: &Value) -> Usage {
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    let (write, read) = (
        n("cache_creation_input_tokens"),
        n("cache_read_input_tokens"),
    );
    Usage {
        input_tokens: n("input_tokens") + write + read,
        output_tokens: n("output_tokens"),
        cache_write_tokens: write,
        cache_read_tokens: read,
        ..Usage::default()
    }
}

/// Parses a non-streamed Messages response.
pub fn parse_response(v: &Value) -> Result<ModelResponse, ModelError> {
    let blocks = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| decode_err("no content array in the response"))?;
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for b in blocks {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => {
                text.push_str(b.get("text").and_then(Value::as_str).unwrap_or_default())
            }
            Some("tool_use") => tool_calls.push(ToolCall {
                id: b
                    .get("id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(crate::messages::next_call_id),
                name: b
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| decode_err("a tool_use block without a name"))?
                    .to_owned(),
                arguments: b
                    .get("input")
                    .cloned()
                    .unwrap_or_else(|| json!({}))
                    .to_string(),
            }),
            _ => {}
        }
    }
    Ok(ModelResponse {
        text,
        tool_calls,
        usage: v.get("usage").map(usage_of).unwrap_or_default(),
        truncated: v.get("stop_reason").and_then(Value::as_str) == Some("max_tokens"),
    })
}

/// The chunks of one streamed Messages event.
pub fn parse_stream_event(v: &Value) -> Result<Vec<StreamChunk>, ModelError> {
    let index = v.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
    Ok(match v.get("type").and_then(Value::as_str) {
        Some("message_start") => {
            let u = v
                .pointer("/message/usage")
                .map(usage_of)
                .unwrap_or_default();
            vec![StreamChunk::Usage(Usage {
                output_tokens: 0,
                ..u
            })]
        }
        Some("content_block_start") => match v.get("content_block") {
            Some(b) if b["type"] == "tool_use" => vec![StreamChunk::ToolCallDelta {
                index,
                id: b.get("id").and_then(Value::as_str).map(str::to_owned),
                name: b.get("name").and_then(Value::as_str).map(str::to_owned),
                arguments: String::new(),
            }],
            Some(b) if b["type"] == "text" => {
                let t = b.get("text").and_then(Value::as_str).unwrap_or_default();
                if t.is_empty() {
                    vec![]
                } else {
                    vec![StreamChunk::TextDelta(t.to_owned())]
                }
            }
            _ => vec![],
        },
        Some("content_block_delta") => match v.pointer("/delta/type").and_then(Value::as_str) {
            Some("text_delta") => vec![StreamChunk::TextDelta(
                v.pointer("/delta/text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            )],
            Some("input_json_delta") => vec![StreamChunk::ToolCallDelta {
                index,
                id: None,
                name: None,
                arguments: v
                    .pointer("/delta/partial_json")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            }],
            _ => vec![],
        },
        Some("message_delta") => {
            // Running totals; newer API versions repeat input_tokens here.
            let mut out = vec![StreamChunk::Usage(
                v.get("usage").map(usage_of).unwrap_or_default(),
            )];
            if v.pointer("/delta/stop_reason").and_then(Value::as_str) == Some("max_tokens") {
                out.push(StreamChunk::MaxTokens);
            }
            out
        }
        Some("error") => {
            // An error event mid-stream carries no HTTP status; give it the
            // one the same error has as a response, so an overloaded or
            // rate-limited stream is retried like a 529 or a 429.
            let status = match v.pointer("/error/type").and_then(Value::as_str) {
                Some("overloaded_error") => 529,
                Some("api_error") => 500,
                Some("rate_limit_error") => 429,
                Some("timeout_error") => 504,
                Some("invalid_request_error") => 400,
                Some("authentication_error") => 401,
                Some("permission_error") => 403,
                Some("not_found_error") => 404,
                Some("request_too_large") => 413,
                _ => 200,
            };
            return Err(ModelError::Http {
                provider: PROVIDER.to_owned(),
                status,
                message: http::error_message(&v.to_string()),
            });
        }
        _ => vec![],
    })
}

#[async_trait]
impl Model for AnthropicModel {
    fn name(&self) -> String {
        format!("anthropic:{}", self.model)
    }

    async fn request(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let text = self.post_for_text(self.body(request, false)).await?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| decode_err(format!("invalid JSON ({e}): {}", snippet(&text))))?;
        parse_response(&v)
    }

    async fn request_stream(
        &self,
        request: &ModelRequest,
    ) -> Result<BoxStream<'static, Result<StreamChunk, ModelError>>, ModelError> {
        let resp = self.post(self.body(request, true)).await?;
        let events = sse::events(PROVIDER, self.url(), self.stream_idle_timeout, resp);
        Ok(sse::chunks(
            PROVIDER,
            "message_stop",
            events,
            parse_sse_event,
        ))
    }

    fn stream_retry_policy(&self) -> RetryPolicy {
        self.retry
    }
}

fn parse_sse_event(ev: sse::SseEvent) -> sse::Parsed {
    match serde_json::from_str::<Value>(&ev.data) {
        Ok(v) => {
            let stop = v.get("type").and_then(Value::as_str) == Some("message_stop");
            let chunks = parse_stream_event(&v);
            sse::Parsed {
                end: chunks.is_err(),
                chunks,
                complete: stop,
            }
        }
        Err(e) => sse::Parsed {
            chunks: Err(decode_err(format!(
                "invalid JSON in a stream event ({e}): {}",
                snippet(&ev.data)
            ))),
            complete: false,
            end: true,
        },
    }
}
