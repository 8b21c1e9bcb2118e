//! Retries and timeouts of a model named by `"provider:name"`, set on the
//! builder, against a scripted server on 127.0.0.1.
//!
//! The builder reads `OPENAI_API_KEY`/`OPENAI_BASE_URL` from the process
//! environment, so this file holds a single test: its own process, no
//! other test racing on the variables.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::http::{MockServer, Reply};
use deepagent::{
    create_deep_agent, AgentError, DeepAgentDeps, RetryPolicy, StateBackend, TestModel,
};
use serde_json::json;

fn openai_text(text: &str) -> serde_json::Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-test",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
    })
}

fn server_error() -> Reply {
    Reply::json(500, json!({"error": {"message": "overloaded"}}))
}

#[tokio::test]
async fn builder_sets_retries_and_timeouts_of_a_string_model() {
    let server = MockServer::start(vec![
        // Run 1 (no retries): one 500 and it is over.
        server_error(),
        // Run 2 (default policy): a 500, then an answer.
        server_error(),
        Reply::json(200, openai_text("second try")),
        // Run 3 (short timeout, no retries): no answer at all.
        Reply::Stall {
            head: false,
            content_type: "application/json".into(),
            sent: String::new(),
        },
    ])
    .await;
    std::env::set_var("OPENAI_API_KEY", "sk-test");
    std::env::set_var("OPENAI_BASE_URL", format!("{}/v1", server.base));
    let deps = DeepAgentDeps::new(StateBackend::new());

    let no_retry = create_deep_agent()
        .model("openai:gpt-test")
        .model_retry(RetryPolicy::none())
        .build()
        .unwrap();
    let err = no_retry.run("hi", &deps).await.unwrap_err();
    assert!(
        matches!(&err.error, AgentError::Model(e) if e.to_string().contains("500")),
        "{err}"
    );
    assert_eq!(server.requests().len(), 1, "no retry after the 500");

    let default = create_deep_agent()
        .model("openai:gpt-test")
        .build()
        .unwrap();
    let r = default.run("hi", &deps).await.unwrap();
    assert_eq!(r.output, "second try");
    assert_eq!(
        server.requests().len(),
        3,
        "the default retried the 500 once"
    );

    let impatient = create_deep_agent()
        .model("openai:gpt-test")
        .model_retry(RetryPolicy::none())
        .model_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = impatient.run("hi", &deps).await.unwrap_err();
    assert!(matches!(err.error, AgentError::Model(_)), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the 300 ms timeout ended the wait, not the 120 s default"
    );
    assert_eq!(server.requests().len(), 4);

    // A model object carries its own settings; the builder's would be
    // silently ignored, so they are refused.
    let err = create_deep_agent()
        .model_impl(Arc::new(TestModel::new()))
        .model_retry(RetryPolicy::none())
        .build()
        .err()
        .unwrap();
    assert!(matches!(err, AgentError::Config(m) if m.contains("model_impl")));
}
