//! Faults the runtime must survive: streams cut before their end marker,
//! servers that stall, and user tools that panic.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::http::{MockServer, Reply};
use deepagent::models::anthropic::AnthropicModel;
use deepagent::models::openai::OpenAiModel;
use deepagent::{
    create_deep_agent, tool, AgentEvent, DeepAgent, DeepAgentDeps, FunctionModel, Model,
    ModelResponse, RetryPolicy, StateBackend, ToolError,
};
use futures::StreamExt;
use serde_json::{json, Value};

fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(2)
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(5))
}

fn agent(model: impl Model + 'static) -> DeepAgent {
    create_deep_agent()
        .model_impl(Arc::new(model))
        .include_subagents(false)
        .build()
        .unwrap()
}

fn openai(server: &MockServer) -> OpenAiModel {
    OpenAiModel::new("gpt-test", "sk-test")
        .base_url(format!("{}/v1", server.base))
        .retry(fast_retry())
}

fn data(events: &[Value]) -> String {
    events.iter().map(|e| format!("data: {e}\n\n")).collect()
}

fn openai_delta(text: &str, finish: Option<&str>) -> Value {
    json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]})
}

/// An OpenAI stream cut after "Hel": no finish_reason, no `[DONE]`.
fn openai_cut() -> Reply {
    Reply::sse(vec![data(&[openai_delta("Hel", None)])])
}

async fn stream_result(agent: &DeepAgent) -> (Vec<String>, Result<String, String>) {
    let deps = DeepAgentDeps::new(StateBackend::new());
    let events: Vec<AgentEvent> = agent.run_stream("hi", &deps).collect().await;
    let mut names = Vec::new();
    let mut result = Err("no Finished event".to_owned());
    for ev in events {
        match ev {
            AgentEvent::Finished(r) => {
                result = (*r).map(|r| r.output).map_err(|e| e.to_string());
            }
            other => names.push(format!("{other:?}")),
        }
    }
    (names, result)
}

#[tokio::test]
async fn an_openai_stream_cut_before_finish_reason_is_retried() {
    let mut whole = data(&[openai_delta("Hello", None), openai_delta("", Some("stop"))]);
    whole.push_str("data: [DONE]\n\n");
    let server = MockServer::start(vec![openai_cut(), Reply::sse(vec![whole])]).await;
    let (_, result) = stream_result(&agent(openai(&server))).await;
    assert_eq!(result.as_deref(), Ok("Hello"));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn an_openai_stream_cut_every_time_ends_with_a_truncation_error() {
    let server = MockServer::start(vec![openai_cut(), openai_cut(), openai_cut()]).await;
    let (_, result) = stream_result(&agent(openai(&server))).await;
    let err = result.expect_err("a cut stream is not an answer");
    assert!(
        err.contains("truncated") && err.contains("finish_reason"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 3, "1 attempt + 2 retries");
}

#[tokio::test]
async fn an_openai_stream_with_done_but_no_finish_reason_is_accepted() {
    // Some compatible servers never send finish_reason; [DONE] is enough.
    let mut body = data(&[openai_delta("Hi", None)]);
    body.push_str("data: [DONE]\n\n");
    let server = MockServer::start(vec![Reply::sse(vec![body])]).await;
    let (_, result) = stream_result(&agent(openai(&server))).await;
    assert_eq!(result.as_deref(), Ok("Hi"));
}

#[tokio::test]
async fn an_anthropic_stream_without_message_stop_is_an_error() {
    let start = json!({"type": "message_start", "message": {"usage": {"input_tokens": 3}}});
    let block = json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}});
    let delta = json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}});
    let cut = || Reply::sse(vec![data(&[start.clone(), block.clone(), delta.clone()])]);
    let server = MockServer::start(vec![cut(), cut(), cut()]).await;
    let model = AnthropicModel::new("claude-test", "ak")
        .base_url(&server.base)
        .retry(fast_retry());
    let (_, result) = stream_result(&agent(model)).await;
    let err = result.expect_err("a cut stream is not an answer");
    assert!(
        err.contains("truncated") && err.contains("message_stop"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_stalled_server_ends_the_run_with_a_timeout_naming_it() {
    let stall = || Reply::Stall {
        head: false,
        content_type: String::new(),
        sent: String::new(),
    };
    let server = MockServer::start(vec![stall(), stall()]).await;
    let model = openai(&server)
        .retry(RetryPolicy::none().max_retries(1))
        .timeout(Duration::from_millis(300));
    let err = agent(model)
        .run("hi", &DeepAgentDeps::new(StateBackend::new()))
        .await
        .expect_err("nothing answers")
        .to_string();
    assert!(
        err.contains("timed out") && err.contains(&server.base),
        "{err}"
    );
    assert_eq!(server.requests().len(), 2, "retried once");
}

#[tokio::test]
async fn a_stream_that_goes_silent_ends_with_an_idle_timeout() {
    let stall = || Reply::Stall {
        head: true,
        content_type: "text/event-stream".into(),
        sent: data(&[openai_delta("Hel", None)]),
    };
    let server = MockServer::start(vec![stall(), stall()]).await;
    let model = openai(&server)
        .retry(RetryPolicy::none().max_retries(1))
        .stream_idle_timeout(Duration::from_millis(300));
    let (_, result) = stream_result(&agent(model)).await;
    let err = result.expect_err("a silent stream is not an answer");
    assert!(
        err.contains("timed out") && err.contains(&server.base),
        "{err}"
    );
    assert_eq!(server.requests().len(), 2, "retried once");
}

#[tokio::test]
async fn a_panicking_tool_becomes_a_tool_error_and_the_run_continues() {
    let boom = tool("boom")
        .description("Always panics.")
        .handler(|_ctx, _args| async move {
            if std::hint::black_box(true) {
                panic!("user tool exploded");
            }
            Ok::<_, ToolError>(String::new())
        });
    let seen = Arc::new(Mutex::new(String::new()));
    let seen2 = seen.clone();
    let model = FunctionModel::new(move |req| {
        let results = req.latest_tool_results();
        if results.is_empty() {
            ModelResponse::call("boom", json!({}))
        } else {
            *seen2.lock().unwrap() = results[0].1.to_owned();
            ModelResponse::text("handled")
        }
    });
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .tool(boom)
        .build()
        .unwrap();
    let deps = DeepAgentDeps::new(StateBackend::new());
    // In a task of its own so a panic is observed, not inherited.
    let run = tokio::spawn(async move { agent.run("go", &deps).await.map(|r| r.output) });
    let out = run.await.expect("the tool's panic crashed the run");
    assert_eq!(out.expect("run ok"), "handled");
    let text = seen.lock().unwrap().clone();
    assert!(
        text.starts_with("Error:")
            && text.contains("panicked")
            && text.contains("user tool exploded"),
        "{text}"
    );
}
