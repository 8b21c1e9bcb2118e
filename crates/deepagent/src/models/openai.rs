//! OpenAI Chat Completions (and any server that speaks it: vLLM, Ollama,
//! llama.cpp, ...), with tool calling and streaming.

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde_json::{json, Value};

use super::http::{self, default_client, snippet, RetryPolicy};
use super::{sse, Model, ModelError, StreamChunk, DEFAULT_STREAM_IDLE_TIMEOUT, DEFAULT_TIMEOUT};
use crate::messages::{Message, ModelRequest, ModelResponse, ToolCall, Usage};

const PROVIDER: &str = "openai";

/// The default endpoint base.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// A Chat Completions model.
///
/// ```no_run
/// use deepagent::models::openai::OpenAiModel;
/// let model = OpenAiModel::new("gpt-4.1", std::env::var("OPENAI_API_KEY").unwrap_or_default())
///     .base_url("http://localhost:11434/v1");
/// ```
#[derive(Debug, Clone)]
pub struct OpenAiModel {
    model: String,
    api_key: String,
    base_url: String,
    retry: RetryPolicy,
    client: reqwest::Client,
    timeout: Duration,
    stream_idle_timeout: Duration,
    max_tokens: Option<u32>,
    temperature: Option<f32>,
}

impl OpenAiModel {
    /// A model by name, authenticated with `api_key`.
    pub fn new(model: impl Into<String>, api_key: impl Into<String>) -> Self {
        OpenAiModel {
            model: model.into(),
            api_key: api_key.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            retry: RetryPolicy::default(),
            client: default_client(),
            timeout: DEFAULT_TIMEOUT,
            stream_idle_timeout: DEFAULT_STREAM_IDLE_TIMEOUT,
            max_tokens: None,
            temperature: None,
        }
    }

    /// Talks to another compatible server (the path `/chat/completions`
    /// is appended).
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

    /// Caps the tokens of each answer.
    pub fn max_tokens(mut self, n: u32) -> Self {
        self.max_tokens = Some(n);
        self
    }

    /// Sets the sampling temperature.
    pub fn temperature(mut self, t: f32) -> Self {
        self.temperature = Some(t);
        self
    }

    /// The JSON body for a request (public so it can be inspected).
    pub fn body(&self, request: &ModelRequest, stream: bool) -> Value {
        let mut messages = Vec::with_capacity(request.messages.len() + 1);
        if !request.system.is_empty() {
            messages.push(json!({"role": "system", "content": request.system}));
        }
        for m in &request.messages {
            messages.push(match m {
                Message::User { content } => json!({"role": "user", "content": content}),
                Message::Assistant {
                    content,
                    tool_calls,
                } => {
                    // `null` content is accepted only beside tool calls.
                    let text = if content.is_empty() && !tool_calls.is_empty() {
                        Value::Null
                    } else {
                        json!(content)
                    };
                    let mut msg = json!({"role": "assistant", "content": text});
                    if !tool_calls.is_empty() {
                        msg["tool_calls"] = tool_calls
                            .iter()
                            .map(|c| {
                                json!({"id": c.id, "type": "function",
                                       "function": {"name": c.name, "arguments": c.arguments}})
                            })
                            .collect();
                    }
                    msg
                }
                Message::Tool {
                    tool_call_id,
                    content,
                    ..
                } => json!({"role": "tool", "tool_call_id": tool_call_id, "content": content}),
            });
        }
        let mut body = json!({"model": self.model, "messages": messages});
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                        "name": t.name, "description": t.description, "parameters": t.parameters}})
                })
                .collect();
        }
        if let Some(output) = &request.output {
            // Not strict: strict mode wants every property required and
            // no extra ones, which most derived schemas are not. The agent
            // validates the answer itself and asks again when it is wrong.
            body["response_format"] = json!({"type": "json_schema", "json_schema": {
                "name": output.name, "schema": output.schema, "strict": false}});
        }
        if let Some(n) = self.max_tokens {
            body["max_tokens"] = json!(n);
        }
        if let Some(t) = self.temperature {
            body["temperature"] = json!(t);
        }
        if stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    }

    fn url(&self) -> String {
        format!("{}/chat/completions", self.base_url)
    }

    fn request_builder(&self, url: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client.post(url).bearer_auth(&self.api_key).json(body)
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

fn usage_of(v: &Value) -> Usage {
    Usage {
        input_tokens: v.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
        output_tokens: v
            .get("completion_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        cache_read_tokens: v
            .pointer("/prompt_tokens_details/cached_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        ..Usage::default()
    }
}

/// Parses a non-streamed Chat Completions response.
pub fn parse_response(v: &Value) -> Result<ModelResponse, ModelError> {
    let message = v
        .pointer("/choices/0/message")
        .ok_or_else(|| decode_err("no choices[0].message in the response"))?;
    let text = message
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut tool_calls = Vec::new();
    if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
        for c in calls {
            let name = c
                .pointer("/function/name")
                .and_then(Value::as_str)
                .ok_or_else(|| decode_err("a tool call without function.name"))?;
            let arguments = match c.pointer("/function/arguments") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => "{}".to_owned(),
            };
            let id = c
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(crate::messages::next_call_id);
            tool_calls.push(ToolCall {
                id,
                name: name.to_owned(),
                arguments,
            });
        }
    }
    Ok(ModelResponse {
        text,
        tool_calls,
        usage: v.get("usage").map(usage_of).unwrap_or_default(),
        truncated: v
            .pointer("/choices/0/finish_reason")
            .and_then(Value::as_str)
            == Some("length"),
    })
}

/// The chunks of one streamed Chat Completions event.
pub fn parse_stream_event(v: &Value) -> Vec<StreamChunk> {
    let mut out = Vec::new();
    if let Some(delta) = v.pointer("/choices/0/delta") {
        if let Some(t) = delta.get("content").and_then(Value::as_str) {
            if !t.is_empty() {
                out.push(StreamChunk::TextDelta(t.to_owned()));
            }
        }
        if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
            for (pos, c) in calls.iter().enumerate() {
                out.push(StreamChunk::ToolCallDelta {
                    index: c
                        .get("index")
                        .and_then(Value::as_u64)
                        .map(|i| i as usize)
                        .unwrap_or(pos),
                    id: c.get("id").and_then(Value::as_str).map(str::to_owned),
                    name: c
                        .pointer("/function/name")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    arguments: c
                        .pointer("/function/arguments")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                });
            }
        }
    }
    if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
        out.push(StreamChunk::Usage(usage_of(u)));
    }
    if v.pointer("/choices/0/finish_reason")
        .and_then(Value::as_str)
        == Some("length")
    {
        out.push(StreamChunk::MaxTokens);
    }
    out
}

#[async_trait]
impl Model for OpenAiModel {
    fn name(&self) -> String {
        format!("openai:{}", self.model)
    }

    fn output_mode(&self) -> super::OutputMode {
        super::OutputMode::Native
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
            "a finish_reason or data: [DONE]",
            events,
            parse_sse_event,
        ))
    }

    fn stream_retry_policy(&self) -> RetryPolicy {
        self.retry
    }
}

fn parse_sse_event(ev: sse::SseEvent) -> sse::Parsed {
    if ev.data.trim() == "[DONE]" {
        return sse::Parsed {
            chunks: Ok(Vec::new()),
            complete: true,
            end: true,
        };
    }
    match serde_json::from_str::<Value>(&ev.data) {
        Ok(v) if v.get("error").is_some() => sse::Parsed {
            chunks: Err(ModelError::Http {
                provider: PROVIDER.to_owned(),
                status: 200,
                message: http::error_message(&ev.data),
            }),
            complete: false,
            end: true,
        },
        Ok(v) => sse::Parsed {
            complete: v
                .get("choices")
                .and_then(Value::as_array)
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c.get("finish_reason").is_some_and(|f| !f.is_null()))
                }),
            chunks: Ok(parse_stream_event(&v)),
            end: false,
        },
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
