//! Provider conformance: recorded request/response transcripts, replayed
//! by a mock server on 127.0.0.1 through a real agent run, streamed and
//! not.
//!
//! Each file under `tests/transcripts/<provider>/` is one provider quirk:
//! the server's answers turn by turn (`sse` for a streamed turn, `json`
//! with an optional `status` for a whole one) and what the run must come
//! to (`expect`). A transcript whose turns all have `sse` is replayed
//! streamed; one whose turns all have `json` is replayed without
//! streaming; most have both and are checked both ways. A new provider
//! quirk is one transcript (and one line below) away from a test.
//!
//! Format:
//!
//! ```json
//! {
//!   "provider": "openai" | "anthropic",
//!   "quirk": "what the server does differently",
//!   "prompt": "the user prompt",
//!   "files": {"/seed.txt": "content"},          // optional, before the run
//!   "turns": [{"sse": [event, ...], "json": {...}, "status": 200}],
//!   "expect": {
//!     "output": "final answer" | "error": "part of the error text",
//!     "usage": [requests, input_tokens, output_tokens],
//!     "calls": ["tool", ...],                    // tool calls made, in order
//!     "files": {"/path": "content"},             // after the run
//!     "http_requests": 2,                        // optional
//!     "sent": [{"request": 1, "pointer": "/messages/3/content", "equals": ..., "contains": "..."}]
//!   }
//! }
//! ```
//!
//! An OpenAI `sse` event is a JSON object sent as `data: {...}` or the
//! string `"[DONE]"`; an Anthropic one is sent as `event: <type>` plus its
//! data. Every request the server receives is also checked for what
//! providers refuse: an assistant turn with no content and no tool calls.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::http::{MockServer, Recorded, Reply};
use deepagent::models::anthropic::AnthropicModel;
use deepagent::models::openai::OpenAiModel;
use deepagent::{
    create_deep_agent, tool, AgentEvent, Backend, Bytes, DeepAgentDeps, Message, Model,
    RetryPolicy, RunError, RunResult, StateBackend, ToolError,
};
use futures::StreamExt;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Streamed,
    Whole,
}

fn load(name: &str) -> Value {
    let path = format!("{}/tests/transcripts/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The SSE text of one streamed turn.
fn sse_text(provider: &str, events: &[Value]) -> String {
    events
        .iter()
        .map(|e| match (provider, e) {
            (_, Value::String(raw)) => format!("data: {raw}\n\n"),
            ("anthropic", ev) => format!(
                "event: {}\ndata: {ev}\n\n",
                ev["type"].as_str().unwrap_or("message")
            ),
            (_, ev) => format!("data: {ev}\n\n"),
        })
        .collect()
}

/// Cuts text into pieces of `n` bytes, so events and JSON arrive split.
fn pieces(text: &str, n: usize) -> Vec<String> {
    text.as_bytes()
        .chunks(n)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

fn replies(t: &Value, mode: Mode) -> Vec<Reply> {
    let provider = t["provider"].as_str().unwrap();
    t["turns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|turn| match mode {
            Mode::Streamed => {
                let events = turn["sse"].as_array().unwrap();
                Reply::sse(pieces(&sse_text(provider, events), 23))
            }
            Mode::Whole => {
                let status = turn["status"].as_u64().unwrap_or(200) as u16;
                Reply::json(status, turn["json"].clone())
            }
        })
        .collect()
}

fn model(provider: &str, server: &MockServer) -> Arc<dyn Model> {
    let retry = RetryPolicy::default()
        .max_retries(2)
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(5));
    match provider {
        "openai" => Arc::new(
            OpenAiModel::new("gpt-test", "sk-test")
                .base_url(format!("{}/v1", server.base))
                .retry(retry),
        ),
        "anthropic" => Arc::new(
            AnthropicModel::new("claude-test", "ak-test")
                .base_url(&server.base)
                .retry(retry),
        ),
        other => panic!("unknown provider {other}"),
    }
}

/// A tool that answers with its `text`: a successful result can then
/// look like an error (`Error: ...`), which must not make it one.
fn echo() -> Arc<dyn deepagent::Tool> {
    tool("echo")
        .description("Answers with the text it is given.")
        .parameters(serde_json::json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}))
        .handler(|_ctx, args| async move {
            args["text"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| ToolError::failed("no text"))
        })
}

async fn run(t: &Value, mode: Mode) -> (Result<RunResult, RunError>, Vec<Recorded>, StateBackend) {
    let server = MockServer::start(replies(t, mode)).await;
    let backend = StateBackend::new();
    if let Some(files) = t["files"].as_object() {
        for (path, content) in files {
            let content = content.as_str().unwrap().to_owned();
            backend.write(path, Bytes::from(content)).await.unwrap();
        }
    }
    let agent = create_deep_agent()
        .model_impl(model(t["provider"].as_str().unwrap(), &server))
        .include_subagents(false)
        .tool(echo())
        .instructions("Be brief.")
        .build()
        .unwrap();
    let deps = DeepAgentDeps::new(backend.clone());
    let prompt = t["prompt"].as_str().unwrap_or("go");
    let result = match mode {
        Mode::Whole => agent.run(prompt, &deps).await,
        Mode::Streamed => {
            let events: Vec<AgentEvent> = agent.run_stream(prompt, &deps).collect().await;
            match events.into_iter().last() {
                Some(AgentEvent::Finished(r)) => *r,
                other => panic!("the stream did not end with Finished: {other:?}"),
            }
        }
    };
    (result, server.requests(), backend)
}

/// Providers refuse an assistant turn with nothing in it.
fn assert_no_empty_assistant_turns(provider: &str, requests: &[Recorded], ctx: &str) {
    for (i, r) in requests.iter().enumerate() {
        for m in r.body["messages"].as_array().into_iter().flatten() {
            if m["role"] != "assistant" {
                continue;
            }
            let empty = match provider {
                "anthropic" => m["content"].as_array().is_some_and(Vec::is_empty),
                _ => {
                    m.get("tool_calls").is_none() && (m["content"].is_null() || m["content"] == "")
                }
            };
            assert!(
                !empty,
                "{ctx}: request {i} sends an empty assistant turn: {m}"
            );
        }
    }
}

fn calls_made(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .flat_map(|m| match m {
            Message::Assistant { tool_calls, .. } => tool_calls.clone(),
            _ => Vec::new(),
        })
        .map(|c| c.name)
        .collect()
}

async fn check(name: &str) {
    let t = load(name);
    let provider = t["provider"].as_str().unwrap();
    let turns = t["turns"].as_array().unwrap();
    let mut modes = Vec::new();
    if turns.iter().all(|turn| turn.get("sse").is_some()) {
        modes.push(Mode::Streamed);
    }
    if turns.iter().all(|turn| turn.get("json").is_some()) {
        modes.push(Mode::Whole);
    }
    assert!(!modes.is_empty(), "{name}: turns need `sse` or `json`");
    let expect = &t["expect"];
    for mode in modes {
        let ctx = format!("{name} ({mode:?})");
        let (result, requests, backend) = run(&t, mode).await;
        assert_no_empty_assistant_turns(provider, &requests, &ctx);
        let (messages, usage) = match (&result, expect.get("error")) {
            (Ok(r), None) => {
                assert_eq!(r.output, expect["output"].as_str().unwrap(), "{ctx}");
                (r.messages.clone(), r.usage)
            }
            (Err(e), Some(want)) => {
                let want = want.as_str().unwrap();
                assert!(
                    e.to_string().contains(want),
                    "{ctx}: error {e:?} does not say {want:?}"
                );
                (e.state.messages.clone(), e.state.usage)
            }
            (Ok(r), Some(want)) => {
                panic!("{ctx}: expected an error saying {want}, got {:?}", r.output)
            }
            (Err(e), None) => panic!("{ctx}: unexpected error {e}: {:#?}", e.state.messages),
        };
        if let Some(u) = expect["usage"].as_array() {
            let got = [usage.requests, usage.input_tokens, usage.output_tokens];
            let want: Vec<u64> = u.iter().map(|v| v.as_u64().unwrap()).collect();
            assert_eq!(got.to_vec(), want, "{ctx}: usage [requests, input, output]");
        }
        if let Some(calls) = expect["calls"].as_array() {
            let want: Vec<&str> = calls.iter().map(|c| c.as_str().unwrap()).collect();
            assert_eq!(calls_made(&messages), want, "{ctx}: tool calls");
        }
        if let Some(files) = expect["files"].as_object() {
            for (path, content) in files {
                let got = backend
                    .read_bytes(path)
                    .await
                    .unwrap_or_else(|e| panic!("{ctx}: {path}: {e}"));
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    content.as_str().unwrap(),
                    "{ctx}: {path}"
                );
            }
        }
        if let Some(n) = expect["http_requests"].as_u64() {
            assert_eq!(requests.len() as u64, n, "{ctx}: HTTP requests");
        }
        for s in expect["sent"].as_array().into_iter().flatten() {
            let i = s["request"].as_u64().unwrap() as usize;
            let pointer = s["pointer"].as_str().unwrap();
            let body = &requests
                .get(i)
                .unwrap_or_else(|| panic!("{ctx}: no request {i}"))
                .body;
            let got = body.pointer(pointer).unwrap_or(&Value::Null);
            if let Some(want) = s.get("equals") {
                assert_eq!(got, want, "{ctx}: request {i} {pointer}");
            }
            if let Some(want) = s["contains"].as_str() {
                let text = got
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| got.to_string());
                assert!(
                    text.contains(want),
                    "{ctx}: request {i} {pointer} is {got}, without {want:?}"
                );
            }
        }
    }
}

macro_rules! transcripts {
    ($($test:ident => $file:literal,)*) => {$(
        #[tokio::test]
        async fn $test() {
            check($file).await;
        }
    )*};
}

transcripts! {
    openai_plain_round_trip => "openai/plain_round_trip.json",
    ollama_streams_every_tool_call_with_index_0 => "openai/ollama_index_reuse.json",
    gemini_streams_tool_calls_without_index => "openai/gemini_missing_index.json",
    gemini_reports_usage_cumulatively_on_every_chunk => "openai/gemini_cumulative_usage.json",
    vllm_sends_no_usage => "openai/vllm_no_usage.json",
    openai_length_on_a_final_answer_is_an_error => "openai/length_final_answer.json",
    openai_length_inside_tool_arguments_is_explained => "openai/length_tool_arguments.json",
    openai_empty_answer_is_nudged_not_stored => "openai/empty_answer.json",
    llama_cpp_style_repeats_id_and_name_on_every_piece => "openai/repeated_id_and_name.json",
    an_empty_id_on_continuation_pieces_is_no_id => "openai/empty_id_on_continuations.json",
    anthropic_plain_round_trip => "anthropic/plain_round_trip.json",
    anthropic_overloaded_mid_stream_is_retried => "anthropic/overloaded_mid_stream.json",
    anthropic_max_tokens_on_a_final_answer_is_an_error => "anthropic/max_tokens.json",
    anthropic_empty_content_is_nudged_not_stored => "anthropic/empty_content.json",
    anthropic_is_error_follows_the_tool_outcome => "anthropic/is_error.json",
    anthropic_cumulative_usage_in_message_delta => "anthropic/cumulative_usage.json",
}
