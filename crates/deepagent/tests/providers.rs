//! OpenAI and Anthropic adapters against a scripted server on 127.0.0.1:
//! request bodies, tool call round trips, streaming split across chunks,
//! retries and errors.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::http::{MockServer, Reply};
use deepagent::models::anthropic::AnthropicModel;
use deepagent::models::openai::OpenAiModel;
use deepagent::{
    create_deep_agent, AgentError, AgentEvent, Backend, DeepAgent, DeepAgentDeps, Model,
    ModelError, RetryPolicy, StateBackend,
};
use futures::StreamExt;
use serde_json::{json, Value};

fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(2)
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(5))
}

fn openai(server: &MockServer) -> OpenAiModel {
    OpenAiModel::new("gpt-test", "sk-test")
        .base_url(format!("{}/v1", server.base))
        .retry(fast_retry())
}

fn anthropic(server: &MockServer) -> AnthropicModel {
    AnthropicModel::new("claude-test", "ak-test")
        .base_url(&server.base)
        .retry(fast_retry())
}

fn agent(model: impl Model + 'static) -> DeepAgent {
    create_deep_agent()
        .model_impl(Arc::new(model))
        .include_subagents(false)
        .instructions("Be brief.")
        .build()
        .unwrap()
}

fn openai_tool_call(id: &str, name: &str, args: Value) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-test",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": null,
            "tool_calls": [{"id": id, "type": "function", "function": {"name": name, "arguments": args.to_string()}}]
        }}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 20, "total_tokens": 140}
    })
}

fn openai_text(text: &str) -> Value {
    json!({
        "id": "chatcmpl-2", "object": "chat.completion", "model": "gpt-test",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 150, "completion_tokens": 8, "total_tokens": 158}
    })
}

#[tokio::test]
async fn openai_round_trip_sends_tools_roles_and_tool_call_ids() {
    let server = MockServer::start(vec![
        Reply::json(
            200,
            openai_tool_call(
                "call_abc",
                "write_file",
                json!({"path": "/a.txt", "content": "hi"}),
            ),
        ),
        Reply::json(200, openai_text("Wrote it.")),
    ])
    .await;
    let backend = StateBackend::new();
    let r = agent(openai(&server))
        .run("write a.txt", &DeepAgentDeps::new(backend.clone()))
        .await
        .unwrap();
    assert_eq!(r.output, "Wrote it.");
    assert_eq!(
        (
            r.usage.requests,
            r.usage.input_tokens,
            r.usage.output_tokens
        ),
        (2, 270, 28)
    );
    assert_eq!(&backend.read_bytes("/a.txt").await.unwrap()[..], b"hi");

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(reqs[0].header("authorization"), Some("Bearer sk-test"));
    let first = &reqs[0].body;
    assert_eq!(first["model"], "gpt-test");
    assert_eq!(first["messages"][0]["role"], "system");
    assert!(first["messages"][0]["content"]
        .as_str()
        .unwrap()
        .ends_with("## Instructions\nBe brief."));
    assert_eq!(
        first["messages"][1],
        json!({"role": "user", "content": "write a.txt"})
    );
    let tools: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(
        tools.contains(&"write_file") && tools.contains(&"grep"),
        "{tools:?}"
    );
    assert!(first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["type"] == "function" && t["function"]["parameters"]["type"] == "object"));
    assert!(first.get("stream").is_none());

    let second = &reqs[1].body["messages"];
    assert_eq!(second[2]["role"], "assistant");
    assert_eq!(second[2]["tool_calls"][0]["id"], "call_abc");
    assert_eq!(second[2]["tool_calls"][0]["function"]["name"], "write_file");
    assert_eq!(
        second[3],
        json!({"role": "tool", "tool_call_id": "call_abc", "content": "Wrote 2 bytes to /a.txt"})
    );
}

fn sse(events: &[Value]) -> String {
    let mut s: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    s.push_str("data: [DONE]\n\n");
    s
}

/// Cuts a text into pieces of `n` bytes (so lines and JSON are split).
fn pieces(text: &str, n: usize) -> Vec<String> {
    text.as_bytes()
        .chunks(n)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

#[tokio::test]
async fn openai_streaming_reassembles_text_and_split_tool_calls() {
    let delta = |d: Value| json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": d, "finish_reason": null}]});
    let turn1 = sse(&[
        delta(json!({"role": "assistant", "content": "Let me "})),
        delta(json!({"content": "write."})),
        delta(
            json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "write_file", "arguments": ""}}]}),
        ),
        delta(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"path\": \"/s.txt\", "}}]}),
        ),
        delta(
            json!({"tool_calls": [{"index": 1, "id": "call_2", "type": "function", "function": {"name": "ls", "arguments": "{}"}}]}),
        ),
        delta(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"content\": \"streamed\"}"}}]}),
        ),
        json!({"id": "c", "object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7}}),
    ]);
    let turn2 = sse(&[
        delta(json!({"content": "Done"})),
        delta(json!({"content": "!"})),
        json!({"id": "c", "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 2}}),
    ]);
    let server = MockServer::start(vec![
        Reply::sse(pieces(&turn1, 37)),
        Reply::sse(pieces(&turn2, 11)),
    ])
    .await;
    let backend = StateBackend::new();
    let deps = DeepAgentDeps::new(backend.clone());
    let agent = agent(openai(&server));
    let events: Vec<AgentEvent> = agent.run_stream("go", &deps).collect().await;
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, "Let me write.Done!");
    let finished: Vec<(&str, &str)> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::ToolCallFinished {
                call_id, result, ..
            } => Some((call_id.as_str(), result.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(finished.len(), 2);
    assert!(
        finished.contains(&("call_1", "Wrote 8 bytes to /s.txt")),
        "{finished:?}"
    );
    assert_eq!(
        &backend.read_bytes("/s.txt").await.unwrap()[..],
        b"streamed"
    );
    let Some(AgentEvent::Finished(result)) = events.last() else {
        panic!("no Finished event")
    };
    let result = result.as_ref().as_ref().unwrap();
    assert_eq!(result.output, "Done!");
    assert_eq!(
        (result.usage.input_tokens, result.usage.output_tokens),
        (31, 9)
    );
    let reqs = server.requests();
    assert_eq!(reqs[0].body["stream"], true);
    assert_eq!(reqs[0].body["stream_options"]["include_usage"], true);
    // The streamed calls went back in call order, with their ids.
    let msgs = &reqs[1].body["messages"];
    assert_eq!(msgs[2]["content"], "Let me write.");
    assert_eq!(msgs[3]["tool_call_id"], "call_1");
    assert_eq!(msgs[4]["tool_call_id"], "call_2");
}

#[tokio::test]
async fn transient_failures_are_retried_with_backoff() {
    let server = MockServer::start(vec![
        Reply::Full {
            status: 429,
            headers: vec![("retry-after".into(), "0".into())],
            body: r#"{"error":{"message":"slow down"}}"#.into(),
        },
        Reply::raw(503, r#"{"error":{"message":"overloaded"}}"#),
        Reply::json(200, openai_text("finally")),
    ])
    .await;
    let r = agent(openai(&server))
        .run("hi", &DeepAgentDeps::new(StateBackend::new()))
        .await
        .unwrap();
    assert_eq!(r.output, "finally");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    let server = MockServer::start(vec![
        Reply::Drop,
        Reply::json(200, openai_text("after reset")),
    ])
    .await;
    let r = agent(openai(&server))
        .run("hi", &DeepAgentDeps::new(StateBackend::new()))
        .await
        .unwrap();
    assert_eq!(r.output, "after reset");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn retries_are_bounded_and_the_last_error_is_reported() {
    let server = MockServer::start(vec![
        Reply::raw(500, r#"{"error":{"message":"boom 1"}}"#),
        Reply::raw(500, r#"{"error":{"message":"boom 2"}}"#),
        Reply::raw(500, r#"{"error":{"message":"boom 3"}}"#),
        Reply::json(200, openai_text("never reached")),
    ])
    .await;
    let err = agent(openai(&server))
        .run("hi", &DeepAgentDeps::new(StateBackend::new()))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "openai returned HTTP 500: boom 3");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn other_http_errors_surface_the_provider_message_without_retry() {
    let server = MockServer::start(vec![Reply::raw(
        401,
        r#"{"error":{"message":"Incorrect API key provided: sk-test.","type":"invalid_request_error"}}"#,
    )])
    .await;
    let err = agent(openai(&server))
        .run("hi", &DeepAgentDeps::new(StateBackend::new()))
        .await
        .unwrap_err();
    match err.error {
        AgentError::Model(ModelError::Http {
            status, message, ..
        }) => {
            assert_eq!(status, 401);
            assert_eq!(message, "Incorrect API key provided: sk-test.");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn malformed_json_is_a_decode_error() {
    let server = MockServer::start(vec![Reply::raw(200, r#"{"choices": [{"message": "#)]).await;
    let err = agent(openai(&server))
        .run("hi", &DeepAgentDeps::new(StateBackend::new()))
        .await
        .unwrap_err();
    assert!(
        matches!(err.error, AgentError::Model(ModelError::Decode { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("invalid JSON"), "{err}");

    let server =
        MockServer::start(vec![Reply::sse(vec!["data: {\"choices\": [\n\n".into()])]).await;
    let deps = DeepAgentDeps::new(StateBackend::new());
    let model_agent = agent(openai(&server));
    let events: Vec<AgentEvent> = model_agent.run_stream("hi", &deps).collect().await;
    let Some(AgentEvent::Finished(r)) = events.last() else {
        panic!()
    };
    let err = r.as_ref().as_ref().unwrap_err();
    assert!(
        err.to_string().contains("invalid JSON in a stream event"),
        "{err}"
    );
}

#[tokio::test]
async fn anthropic_round_trip_uses_tool_use_and_tool_result_blocks() {
    let server = MockServer::start(vec![
        Reply::json(200, json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
            "content": [
                {"type": "text", "text": "Writing two files."},
                {"type": "tool_use", "id": "toolu_1", "name": "write_file", "input": {"path": "/a.txt", "content": "A"}},
                {"type": "tool_use", "id": "toolu_2", "name": "write_file", "input": {"path": "/b.txt", "content": "BB"}}
            ],
            "stop_reason": "tool_use", "usage": {"input_tokens": 300, "output_tokens": 40}
        })),
        Reply::json(200, json!({
            "id": "msg_2", "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": "Both written."}],
            "stop_reason": "end_turn", "usage": {"input_tokens": 380, "output_tokens": 5}
        })),
    ])
    .await;
    let backend = StateBackend::new();
    let r = agent(anthropic(&server))
        .run("two files", &DeepAgentDeps::new(backend.clone()))
        .await
        .unwrap();
    assert_eq!(r.output, "Both written.");
    assert_eq!((r.usage.input_tokens, r.usage.output_tokens), (680, 45));
    assert!(backend.exists("/b.txt").await.unwrap());

    let reqs = server.requests();
    assert_eq!(reqs[0].path, "/v1/messages");
    assert_eq!(reqs[0].header("x-api-key"), Some("ak-test"));
    assert_eq!(reqs[0].header("anthropic-version"), Some("2023-06-01"));
    let first = &reqs[0].body;
    assert!(first["system"].as_str().unwrap().contains("## Files"));
    assert_eq!(first["max_tokens"], 8192);
    assert_eq!(first["messages"][0]["role"], "user");
    assert!(first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "edit_file" && t["input_schema"]["type"] == "object"));
    let msgs = reqs[1].body["messages"].as_array().unwrap().clone();
    assert_eq!(
        msgs.len(),
        3,
        "tool results of one turn travel in one user message: {msgs:#?}"
    );
    assert_eq!(msgs[1]["role"], "assistant");
    assert_eq!(
        msgs[1]["content"][1],
        json!({"type": "tool_use", "id": "toolu_1", "name": "write_file", "input": {"path": "/a.txt", "content": "A"}})
    );
    assert_eq!(msgs[2]["role"], "user");
    assert_eq!(msgs[2]["content"][0]["tool_use_id"], "toolu_1");
    assert_eq!(msgs[2]["content"][1]["tool_use_id"], "toolu_2");
    assert_eq!(msgs[2]["content"][1]["content"], "Wrote 2 bytes to /b.txt");
    assert_eq!(msgs[2]["content"][1]["is_error"], false);
}

#[tokio::test]
async fn anthropic_streaming_reassembles_input_json_deltas() {
    let ev = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let turn1 = [
        ev("message_start", json!({"type": "message_start", "message": {"id": "m", "role": "assistant", "content": [], "usage": {"input_tokens": 50, "output_tokens": 1}}})),
        ev("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
        ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "On it."}})),
        ev("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        ev("content_block_start", json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_9", "name": "write_file", "input": {}}})),
        ev("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"path\": \"/x"}})),
        ev("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ".md\", \"content\": \"# X\"}"}})),
        ev("content_block_stop", json!({"type": "content_block_stop", "index": 1})),
        ev("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 30}})),
        ev("message_stop", json!({"type": "message_stop"})),
    ]
    .concat();
    let turn2 = [
        ev("message_start", json!({"type": "message_start", "message": {"usage": {"input_tokens": 90, "output_tokens": 1}}})),
        ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Done."}})),
        ev("message_delta", json!({"type": "message_delta", "usage": {"output_tokens": 3}})),
        ev("message_stop", json!({"type": "message_stop"})),
    ]
    .concat();
    let server = MockServer::start(vec![
        Reply::sse(pieces(&turn1, 29)),
        Reply::sse(pieces(&turn2, 64)),
    ])
    .await;
    let backend = StateBackend::new();
    let deps = DeepAgentDeps::new(backend.clone());
    let agent = agent(anthropic(&server));
    let events: Vec<AgentEvent> = agent.run_stream("go", &deps).collect().await;
    let Some(AgentEvent::Finished(r)) = events.last() else {
        panic!()
    };
    let r = r.as_ref().as_ref().unwrap();
    assert_eq!(r.output, "Done.");
    assert_eq!((r.usage.input_tokens, r.usage.output_tokens), (140, 33));
    assert_eq!(&backend.read_bytes("/x.md").await.unwrap()[..], b"# X");
    let reqs = server.requests();
    assert_eq!(reqs[0].body["stream"], true);
    assert_eq!(
        reqs[1].body["messages"][2]["content"][0]["tool_use_id"],
        "toolu_9"
    );
}

#[tokio::test]
async fn anthropic_errors_surface_the_provider_message() {
    let server = MockServer::start(vec![Reply::raw(
        400,
        r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too large"}}"#,
    )])
    .await;
    let err = agent(anthropic(&server))
        .run("hi", &DeepAgentDeps::new(StateBackend::new()))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "anthropic returned HTTP 400: max_tokens: too large"
    );
}

#[tokio::test]
async fn base_url_and_key_come_from_the_environment() {
    let server = MockServer::start(vec![
        Reply::json(200, openai_text("from openai")),
        Reply::json(
            200,
            json!({"content": [{"type": "text", "text": "from anthropic"}], "usage": {"input_tokens": 1, "output_tokens": 1}}),
        ),
    ])
    .await;
    let base = server.base.clone();
    let env = move |k: &str| match k {
        "OPENAI_API_KEY" => Some("sk-env".to_owned()),
        "OPENAI_BASE_URL" => Some(format!("{base}/v1")),
        "ANTHROPIC_API_KEY" => Some("ak-env".to_owned()),
        "ANTHROPIC_BASE_URL" => Some(base.clone()),
        _ => None,
    };
    let deps = DeepAgentDeps::new(StateBackend::new());
    for (spec, expected) in [
        ("openai:gpt-x", "from openai"),
        ("anthropic:claude-x", "from anthropic"),
    ] {
        let model = deepagent::models::infer_model_with(spec, &env).unwrap();
        let agent = create_deep_agent().model_impl(model).build().unwrap();
        assert_eq!(agent.run("hi", &deps).await.unwrap().output, expected);
    }
    let reqs = server.requests();
    assert_eq!(reqs[0].header("authorization"), Some("Bearer sk-env"));
    assert_eq!(reqs[0].body["model"], "gpt-x");
    assert_eq!(reqs[1].header("x-api-key"), Some("ak-env"));
    assert_eq!(reqs[1].body["model"], "claude-x");
}

#[tokio::test]
async fn a_response_that_breaks_off_is_retried() {
    let server = MockServer::start(vec![
        Reply::Truncated {
            promised: 500,
            sent: r#"{"choices": [{"mess"#.into(),
        },
        Reply::json(200, openai_text("whole")),
    ])
    .await;
    let r = agent(openai(&server))
        .run("hi", &DeepAgentDeps::new(StateBackend::new()))
        .await
        .unwrap();
    assert_eq!(r.output, "whole");
    assert_eq!(server.requests().len(), 2);
}
