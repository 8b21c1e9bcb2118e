//! Long runs (issue 16): history processors, cost and budgets, prompt
//! caching — checked on the wire against the 127.0.0.1 mock server.

mod common;

use std::sync::{Arc, Mutex};

use common::http::{MockServer, Reply};
use deepagent::models::openai::OpenAiModel;
use deepagent::{
    create_deep_agent, DeepAgentDeps, FunctionModel, Message, ModelResponse, ProcessorContext,
    RetryPolicy, StateBackend, SubAgent,
};
use serde_json::{json, Value};

fn deps() -> DeepAgentDeps {
    DeepAgentDeps::new(StateBackend::new())
}

fn openai(server: &MockServer) -> OpenAiModel {
    OpenAiModel::new("gpt-test", "sk-test")
        .base_url(format!("{}/v1", server.base))
        .retry(RetryPolicy::none())
}

fn openai_call(id: &str, name: &str, args: Value, usage: (u64, u64)) -> Value {
    json!({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": id, "type": "function", "function": {"name": name, "arguments": args.to_string()}}]}}],
           "usage": {"prompt_tokens": usage.0, "completion_tokens": usage.1}})
}

fn openai_text(text: &str, usage: (u64, u64)) -> Value {
    json!({"choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
           "usage": {"prompt_tokens": usage.0, "completion_tokens": usage.1}})
}

/// The user messages' texts of a recorded OpenAI request.
fn user_texts(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect()
}

// (1) History processors.

#[tokio::test]
async fn a_history_processor_runs_before_every_request_and_its_rewrite_is_sent() {
    let server = MockServer::start(vec![
        Reply::json(200, openai_call("c1", "ls", json!({"path": "/"}), (100, 5))),
        Reply::json(200, openai_call("c2", "ls", json!({"path": "/"}), (120, 5))),
        Reply::json(200, openai_text("done", (140, 2))),
    ])
    .await;
    let seen: Arc<Mutex<Vec<ProcessorContext>>> = Arc::default();
    let log = seen.clone();
    let agent = create_deep_agent()
        .model_impl(Arc::new(openai(&server)))
        .history_processor(move |ctx, messages: &mut Vec<Message>| {
            log.lock().unwrap().push(ctx.clone());
            // Redact the prompt on the wire, and note the step.
            for m in messages.iter_mut() {
                if let Message::User { content } = m {
                    *content = content.replace("secret", "[redacted]");
                }
            }
            messages.push(Message::user(format!("note {}", ctx.usage.requests)));
        })
        .build()
        .unwrap();
    let r = agent.run("list the secret files", &deps()).await.unwrap();
    assert_eq!(r.output, "done");

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "one call per model request");
    let requests: Vec<u64> = seen.iter().map(|c| c.usage.requests).collect();
    assert_eq!(requests, [0, 1, 2]);
    let prompts: Vec<Option<u64>> = seen.iter().map(|c| c.last_prompt_tokens).collect();
    assert_eq!(prompts, [None, Some(100), Some(120)]);
    assert!(seen
        .iter()
        .all(|c| c.depth == 0 && c.model == "openai:gpt-test"));

    let sent = server.requests();
    assert_eq!(sent.len(), 3);
    for (i, req) in sent.iter().enumerate() {
        let users = user_texts(&req.body);
        assert_eq!(users[0], "list the [redacted] files", "request {i}");
        assert_eq!(users.last().unwrap(), &format!("note {i}"), "request {i}");
    }
    // The rewrite is the run's history from then on.
    assert!(r
        .messages
        .iter()
        .all(|m| !matches!(m, Message::User { content } if content.contains("secret"))));
}

#[tokio::test]
async fn an_async_history_processor_rewrites_and_its_error_keeps_the_state() {
    let server = MockServer::start(vec![
        Reply::json(200, openai_call("c1", "ls", json!({"path": "/"}), (10, 1))),
        Reply::json(200, openai_text("unused", (10, 1))),
    ])
    .await;
    let agent = create_deep_agent()
        .model_impl(Arc::new(openai(&server)))
        .history_processor_async(
            |ctx: ProcessorContext, mut messages: Vec<Message>| async move {
                tokio::task::yield_now().await;
                if ctx.usage.requests >= 1 {
                    return Err(deepagent::AgentError::Config("summariser is down".into()));
                }
                messages.insert(0, Message::user("from the async hook"));
                Ok(messages)
            },
        )
        .build()
        .unwrap();
    let err = agent.run("go", &deps()).await.unwrap_err();
    assert!(err.to_string().contains("summariser is down"), "{err}");
    assert_eq!(server.requests().len(), 1);
    assert_eq!(
        user_texts(&server.requests()[0].body)[0],
        "from the async hook"
    );
    // The state holds the history as it was: the rewrite, the call, its result.
    assert_eq!(err.state.messages.len(), 4);
    assert_eq!(err.state.usage.requests, 1);
}

#[tokio::test]
async fn subagents_run_their_own_history_processors() {
    let main_seen: Arc<Mutex<Vec<usize>>> = Arc::default();
    let sub_seen: Arc<Mutex<Vec<usize>>> = Arc::default();
    let sub_sent: Arc<Mutex<Vec<Vec<Message>>>> = Arc::default();
    let main = FunctionModel::new(|req| {
        if req.latest_tool_results().is_empty() {
            ModelResponse::call(
                "task",
                json!({"description": "count", "subagent_type": "worker"}),
            )
        } else {
            ModelResponse::text("main done")
        }
    });
    let sent = sub_sent.clone();
    let worker = FunctionModel::new(move |req| {
        sent.lock().unwrap().push(req.messages.clone());
        ModelResponse::text("worker done")
    });
    let (m, s) = (main_seen.clone(), sub_seen.clone());
    let agent = create_deep_agent()
        .model_impl(Arc::new(main))
        .history_processor(move |ctx, _messages: &mut Vec<Message>| {
            m.lock().unwrap().push(ctx.depth)
        })
        .subagent(
            SubAgent::new("worker", "Counts.", "Count.")
                .model(Arc::new(worker))
                .history_processor(move |ctx, messages: &mut Vec<Message>| {
                    s.lock().unwrap().push(ctx.depth);
                    messages.push(Message::user("sub hook"));
                }),
        )
        .build()
        .unwrap();
    let r = agent.run("go", &deps()).await.unwrap();
    assert_eq!(r.output, "main done");
    assert_eq!(*main_seen.lock().unwrap(), [0, 0]);
    assert_eq!(*sub_seen.lock().unwrap(), [1]);
    let sub_sent = sub_sent.lock().unwrap();
    assert_eq!(
        sub_sent[0],
        [Message::user("count"), Message::user("sub hook")]
    );
    // The main agent's history never saw the subagent's rewrite.
    assert!(!r
        .messages
        .iter()
        .any(|m| matches!(m, Message::User { content } if content == "sub hook")));
}
