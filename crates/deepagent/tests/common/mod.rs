//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod http;

use deepagent::models::anthropic::AnthropicModel;
use deepagent::models::openai::OpenAiModel;
use deepagent::{Backend, Bytes, DeepAgentDeps, Message, RetryPolicy, StateBackend};
use serde_json::{json, Value};

use http::MockServer;

/// Deps over a fresh, empty StateBackend.
pub fn deps() -> DeepAgentDeps {
    DeepAgentDeps::new(StateBackend::new())
}

/// The tool results of a conversation: (tool, content, is_error), in order.
pub fn tool_results(messages: &[Message]) -> Vec<(String, String, bool)> {
    messages
        .iter()
        .filter_map(|m| match m {
            Message::Tool {
                name,
                content,
                is_error,
                ..
            } => Some((name.clone(), content.clone(), *is_error)),
            _ => None,
        })
        .collect()
}

/// An OpenAI model named `openai:gpt-test` talking to `server`, without
/// retries.
pub fn openai(server: &MockServer) -> OpenAiModel {
    OpenAiModel::new("gpt-test", "sk-test")
        .base_url(format!("{}/v1", server.base))
        .retry(RetryPolicy::none())
}

/// An Anthropic model named `anthropic:claude-test` talking to `server`,
/// without retries.
pub fn anthropic(server: &MockServer) -> AnthropicModel {
    AnthropicModel::new("claude-test", "ak-test")
        .base_url(&server.base)
        .retry(RetryPolicy::none())
}

/// An Anthropic message with these content blocks and usage.
pub fn anthropic_reply(content: Value, usage: Value) -> http::Reply {
    http::Reply::json(
        200,
        json!({"id": "msg", "type": "message", "role": "assistant", "model": "claude-test",
               "content": content, "stop_reason": "end_turn", "usage": usage}),
    )
}

/// An OpenAI chat completion calling tools: `(id, name, arguments)`.
pub fn openai_calls(calls: &[(&str, &str, Value)], usage: (u64, u64)) -> Value {
    let calls: Vec<Value> = calls
        .iter()
        .map(|(id, name, args)| json!({"id": id, "type": "function", "function": {"name": name, "arguments": args.to_string()}}))
        .collect();
    json!({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null, "tool_calls": calls}}],
           "usage": {"prompt_tokens": usage.0, "completion_tokens": usage.1}})
}

/// An OpenAI chat completion calling one tool.
pub fn openai_call(id: &str, name: &str, args: Value, usage: (u64, u64)) -> Value {
    openai_calls(&[(id, name, args)], usage)
}

/// An OpenAI chat completion answering `text`.
pub fn openai_text(text: &str, usage: (u64, u64)) -> Value {
    json!({"choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
           "usage": {"prompt_tokens": usage.0, "completion_tokens": usage.1}})
}

/// A StateBackend that pretends to run commands: `execute` answers
/// `ran: <command>` and records it (the testkit's double).
pub type EchoSandbox = deepagent_testkit::recording::RecordingSandbox<StateBackend>;

/// A StateBackend with a few files.
pub async fn seeded() -> StateBackend {
    let b = StateBackend::new();
    for (p, c) in [
        ("/src/app.py", "import os\n\ndef main():\n    print('hi')\n"),
        ("/src/util.py", "def helper():\n    return 1\n"),
        ("/README.md", "# Demo\nmain entry\n"),
    ] {
        b.write(p, Bytes::from(c)).await.unwrap();
    }
    b
}
