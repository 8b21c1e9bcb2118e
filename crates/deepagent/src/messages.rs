//! The provider-neutral conversation: messages, tool calls, tool
//! definitions, and what a model request and response carry.
//!
//! Every model adapter translates from and to these types, so a run can
//! switch providers and a history saved from one run feeds the next.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One message of the conversation (the system prompt is not one: it is
/// assembled per run and sent in [`ModelRequest::system`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message {
    /// What the user asked.
    User {
        /// The prompt text.
        content: String,
    },
    /// What the model answered: text, tool calls, or both.
    Assistant {
        /// The text part (may be empty when the model only calls tools).
        content: String,
        /// The tool calls of this turn, in the order the model made them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
    },
    /// The result of one tool call, sent back to the model.
    Tool {
        /// The id of the call this answers.
        tool_call_id: String,
        /// The tool's name.
        name: String,
        /// The result text (errors are text too, starting with `Error:`).
        content: String,
        /// True when the call failed (a tool error, a refused or invalid
        /// call); Anthropic is told so with `is_error`. Histories saved
        /// before this field existed read as `false`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
}

impl Message {
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Message::User {
            content: content.into(),
        }
    }

    /// An assistant message with text only.
    pub fn assistant(content: impl Into<String>) -> Self {
        Message::Assistant {
            content: content.into(),
            tool_calls: Vec::new(),
        }
    }

    /// A successful tool result.
    pub fn tool_result(
        tool_call_id: impl Into<String>,
        name: impl Into<String>,
        content: impl Into<String>,
    ) -> Self {
        Message::Tool {
            tool_call_id: tool_call_id.into(),
            name: name.into(),
            content: content.into(),
            is_error: false,
        }
    }
}

/// A tool call the model made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolCall {
    /// The provider's id for the call; results refer to it.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments as the model wrote them: a JSON text that may be
    /// invalid, which is why it is kept raw until the tool loop parses it.
    pub arguments: String,
}

impl ToolCall {
    /// A call with JSON arguments.
    pub fn new(id: impl Into<String>, name: impl Into<String>, arguments: Value) -> Self {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.to_string(),
        }
    }

    /// A call with its arguments as the provider sent them: a JSON text
    /// that may be invalid (the tool loop tells the model so).
    pub fn raw(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }
}

/// A tool as the model sees it: a name, what it does, and a JSON schema
/// for its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolDef {
    /// The name the model calls it by.
    pub name: String,
    /// When and how to use it, written for the model.
    pub description: String,
    /// A JSON schema (`{"type": "object", ...}`) for the arguments.
    pub parameters: Value,
}

impl ToolDef {
    /// A tool definition.
    ///
    /// ```
    /// use deepagent::ToolDef;
    /// let def = ToolDef::new(
    ///     "weather",
    ///     "Today's weather for a city.",
    ///     serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}}),
    /// );
    /// assert_eq!(def.name, "weather");
    /// ```
    pub fn new(name: impl Into<String>, description: impl Into<String>, parameters: Value) -> Self {
        ToolDef {
            name: name.into(),
            description: description.into(),
            parameters,
        }
    }
}

/// Token and request counts, and what they cost.
///
/// `input_tokens` counts every prompt token, cached or not, for every
/// provider (Anthropic reports cache writes and reads apart from its
/// `input_tokens`; they are added in), so token limits and context
/// measures mean the same everywhere. `cache_write_tokens` and
/// `cache_read_tokens` say how many of them went through the prompt cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Usage {
    /// Model requests made.
    pub requests: u64,
    /// Prompt tokens the provider reported, cache writes and reads
    /// included.
    pub input_tokens: u64,
    /// Completion tokens the provider reported.
    pub output_tokens: u64,
    /// Prompt tokens written to the prompt cache (Anthropic
    /// `cache_creation_input_tokens`).
    #[serde(default)]
    pub cache_write_tokens: u64,
    /// Prompt tokens read from the prompt cache (Anthropic
    /// `cache_read_input_tokens`, OpenAI
    /// `prompt_tokens_details.cached_tokens`).
    #[serde(default)]
    pub cache_read_tokens: u64,
    /// What the run spent in USD, each request priced by its model's
    /// [`ModelPrice`](crate::ModelPrice) (the agent's
    /// [`PriceTable`](crate::PriceTable)). Requests to a model without a
    /// price count in [`unpriced_requests`](Self::unpriced_requests), not
    /// here.
    #[serde(default)]
    pub cost_usd: f64,
    /// Requests whose model has no price in the table: when not 0,
    /// [`cost_usd`](Self::cost_usd) is a lower bound.
    #[serde(default)]
    pub unpriced_requests: u64,
}

impl Usage {
    /// Token counts of one model turn (no requests, no cache, no cost):
    /// what a [`Model`](crate::Model) reports in
    /// [`ModelResponse::usage`]. Set the cache fields on the result when
    /// the provider reports them.
    pub fn tokens(input_tokens: u64, output_tokens: u64) -> Self {
        Usage {
            input_tokens,
            output_tokens,
            ..Self::default()
        }
    }

    /// Adds `other` to this.
    pub fn add(&mut self, other: Usage) {
        self.requests += other.requests;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cost_usd += other.cost_usd;
        self.unpriced_requests += other.unpriced_requests;
    }

    /// What these tokens cost at `price`, in USD (the cached ones at the
    /// cache prices).
    pub fn cost(&self, price: &crate::ModelPrice) -> f64 {
        price.cost(self)
    }

    /// Input plus output tokens.
    pub fn total_tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// Everything a model gets for one turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ModelRequest {
    /// The assembled system prompt.
    pub system: String,
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// The tools the model may call this turn.
    pub tools: Vec<ToolDef>,
}

impl ModelRequest {
    /// A request (for calling a [`Model`](crate::Model) directly, e.g. in
    /// a test of a custom model).
    pub fn new(system: impl Into<String>, messages: Vec<Message>, tools: Vec<ToolDef>) -> Self {
        ModelRequest {
            system: system.into(),
            messages,
            tools,
        }
    }

    /// The text of the last user message, if any.
    pub fn last_user_prompt(&self) -> Option<&str> {
        self.messages.iter().rev().find_map(|m| match m {
            Message::User { content } => Some(content.as_str()),
            _ => None,
        })
    }

    /// The tool results after the last assistant message (the answers to
    /// the model's latest calls), oldest first.
    pub fn latest_tool_results(&self) -> Vec<(&str, &str)> {
        let mut out: Vec<(&str, &str)> = self
            .messages
            .iter()
            .rev()
            .take_while(|m| matches!(m, Message::Tool { .. }))
            .filter_map(|m| match m {
                Message::Tool { name, content, .. } => Some((name.as_str(), content.as_str())),
                _ => None,
            })
            .collect();
        out.reverse();
        out
    }

    /// How many assistant turns the conversation holds.
    pub fn assistant_turns(&self) -> usize {
        self.messages
            .iter()
            .filter(|m| matches!(m, Message::Assistant { .. }))
            .count()
    }
}

/// One model turn: text, tool calls, and what it cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ModelResponse {
    /// The text part.
    pub text: String,
    /// Tool calls; empty means this is the final answer.
    pub tool_calls: Vec<ToolCall>,
    /// Tokens reported for this turn (`requests` is counted by the loop).
    pub usage: Usage,
    /// The provider stopped the answer at its output token cap
    /// (`finish_reason: "length"`, `stop_reason: "max_tokens"`): the text
    /// or the last tool call's arguments are cut off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl ModelResponse {
    /// A final text answer.
    pub fn text(text: impl Into<String>) -> Self {
        ModelResponse {
            text: text.into(),
            ..Default::default()
        }
    }

    /// A turn that calls tools.
    pub fn tool_calls(calls: impl IntoIterator<Item = ToolCall>) -> Self {
        ModelResponse {
            tool_calls: calls.into_iter().collect(),
            ..Default::default()
        }
    }

    /// A turn calling one tool, with a generated call id.
    pub fn call(name: impl Into<String>, arguments: Value) -> Self {
        let name = name.into();
        Self::tool_calls([ToolCall::new(next_call_id(), name, arguments)])
    }

    /// Sets the token counts.
    pub fn with_usage(mut self, input_tokens: u64, output_tokens: u64) -> Self {
        self.usage.input_tokens = input_tokens;
        self.usage.output_tokens = output_tokens;
        self
    }
}

/// A process-unique tool call id for models that do not make their own.
pub fn next_call_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("call_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}
