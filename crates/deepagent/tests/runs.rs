//! Runs you can trust (issue 12): limits for the whole run tree, state on
//! every outcome, retries in a row, build-time checks, resuming any
//! history, pausing for approval, and cancellation.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::http::{MockServer, Reply};
use deepagent::models::openai::OpenAiModel;
use deepagent::{
    create_deep_agent, tool, AgentError, Backend, Bytes, CancellationToken, Decision,
    DeepAgentDeps, FunctionModel, LocalBackend, Message, ModelRequest, ModelResponse, RetryPolicy,
    RunState, ScriptedModel, StateBackend, SubAgent, ToolCall, ToolError, UsageLimits,
};
use serde_json::{json, Value};

fn deps() -> DeepAgentDeps {
    DeepAgentDeps::new(StateBackend::new())
}

fn tool_results(messages: &[Message]) -> Vec<(String, String, bool)> {
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

fn openai(server: &MockServer) -> OpenAiModel {
    OpenAiModel::new("gpt-test", "sk-test")
        .base_url(format!("{}/v1", server.base))
        .retry(RetryPolicy::none())
}

fn openai_calls(calls: &[(&str, &str, Value)], usage: (u64, u64)) -> Value {
    let calls: Vec<Value> = calls
        .iter()
        .map(|(id, name, args)| json!({"id": id, "type": "function", "function": {"name": name, "arguments": args.to_string()}}))
        .collect();
    json!({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null, "tool_calls": calls}}],
           "usage": {"prompt_tokens": usage.0, "completion_tokens": usage.1}})
}

fn openai_text(text: &str) -> Value {
    json!({"choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
           "usage": {"prompt_tokens": 7, "completion_tokens": 3}})
}

/// A model that counts its requests and always calls `ls`.
fn counting_ls(count: &Arc<AtomicUsize>) -> FunctionModel {
    let count = count.clone();
    FunctionModel::new(move |_| {
        count.fetch_add(1, Ordering::SeqCst);
        ModelResponse::call("ls", json!({"path": "/"})).with_usage(10, 1)
    })
}

/// A main agent that delegates to `worker` on every turn.
fn delegating(count: &Arc<AtomicUsize>) -> FunctionModel {
    let count = count.clone();
    FunctionModel::new(move |_| {
        count.fetch_add(1, Ordering::SeqCst);
        ModelResponse::call(
            "task",
            json!({"description": "list the files", "subagent_type": "worker"}),
        )
        .with_usage(10, 1)
    })
}

// (3) Limits hold for the whole run tree.

#[tokio::test]
async fn max_steps_is_one_budget_for_the_agent_and_its_subagents() {
    let requests = Arc::new(AtomicUsize::new(0));
    let agent = create_deep_agent()
        .model_impl(Arc::new(delegating(&requests)))
        .subagent(
            SubAgent::new("worker", "Lists files.", "List.")
                .model_impl(Arc::new(counting_ls(&requests))),
        )
        .max_steps(3)
        .build()
        .unwrap();
    let err = agent.run("go", &deps()).await.unwrap_err();
    assert!(
        matches!(err.error, AgentError::StepLimit { max_steps: 3 }),
        "{err}"
    );
    // On main the subagent had a budget of its own: 4 requests here.
    assert_eq!(requests.load(Ordering::SeqCst), 3);
    assert_eq!(err.state.usage.requests, 3);
}

#[tokio::test]
async fn token_limits_count_subagent_tokens_before_the_next_request() {
    let requests = Arc::new(AtomicUsize::new(0));
    let agent = create_deep_agent()
        .model_impl(Arc::new(delegating(&requests)))
        .subagent(
            SubAgent::new("worker", "Lists files.", "List.")
                .model_impl(Arc::new(counting_ls(&requests))),
        )
        .usage_limits(UsageLimits::new().input_tokens_limit(25))
        .build()
        .unwrap();
    let err = agent.run("go", &deps()).await.unwrap_err();
    assert!(matches!(err.error, AgentError::UsageLimit(_)), "{err}");
    // 10 input tokens a request: the third request (the subagent's
    // second) crosses 25 and nothing is requested after it.
    assert_eq!(requests.load(Ordering::SeqCst), 3);
    assert_eq!(err.state.usage.input_tokens, 30);
}

// (4) A failed run keeps its work.

#[tokio::test]
async fn a_provider_error_gives_back_messages_usage_and_todos_and_the_run_resumes() {
    let server = MockServer::start(vec![
        Reply::json(
            200,
            openai_calls(
                &[
                    (
                        "c1",
                        "write_todos",
                        json!({"todos": [{"content": "write a", "status": "in_progress"}]}),
                    ),
                    (
                        "c2",
                        "write_file",
                        json!({"path": "/a.txt", "content": "A"}),
                    ),
                ],
                (100, 20),
            ),
        ),
        Reply::raw(401, r#"{"error":{"message":"key revoked"}}"#),
    ])
    .await;
    let backend = StateBackend::new();
    let deps = DeepAgentDeps::new(backend.clone());
    let agent = create_deep_agent()
        .model_impl(Arc::new(openai(&server)))
        .include_subagents(false)
        .build()
        .unwrap();
    let err = agent.run("write a", &deps).await.unwrap_err();
    assert_eq!(err.to_string(), "openai returned HTTP 401: key revoked");
    let state = &err.state;
    assert_eq!(
        (
            state.usage.requests,
            state.usage.input_tokens,
            state.usage.output_tokens
        ),
        (2, 100, 20)
    );
    assert_eq!(state.todos.len(), 1);
    assert_eq!(state.todos[0].content, "write a");
    let results = tool_results(&state.messages);
    assert_eq!(results.len(), 2);
    assert_eq!(results[1].1, "Wrote 1 bytes to /a.txt");
    assert!(state.pending.is_empty());

    // Saved and loaded, it picks up where it stopped: the model gets the
    // whole conversation and the usage goes on from the saved numbers.
    let saved = serde_json::to_string(&err.state).unwrap();
    let state: RunState = serde_json::from_str(&saved).unwrap();
    assert_eq!(&state, err.state.as_ref());
    let server = MockServer::start(vec![Reply::json(200, openai_text("all done"))]).await;
    let agent = create_deep_agent()
        .model_impl(Arc::new(openai(&server)))
        .include_subagents(false)
        .build()
        .unwrap();
    let fresh = DeepAgentDeps::new(backend.clone());
    let r = agent.resume(state, [], &fresh).await.unwrap();
    assert_eq!(r.output, "all done");
    assert_eq!((r.usage.requests, r.usage.input_tokens), (3, 107));
    assert_eq!(r.todos.len(), 1, "the todos come back with the state");
    let sent = &server.requests()[0].body["messages"];
    assert_eq!(sent[1]["content"], "write a");
    assert_eq!(sent[4]["content"], "Wrote 1 bytes to /a.txt");
}

#[tokio::test]
async fn step_usage_and_retry_limits_give_back_the_state() {
    let looping = || FunctionModel::new(|_| ModelResponse::call("ls", json!({})).with_usage(10, 3));
    let agent = create_deep_agent()
        .model_impl(Arc::new(looping()))
        .max_steps(2)
        .build()
        .unwrap();
    let err = agent.run("go", &deps()).await.unwrap_err();
    assert!(matches!(err.error, AgentError::StepLimit { .. }));
    assert_eq!(err.state.usage.requests, 2);
    assert_eq!(tool_results(&err.state.messages).len(), 2);

    let agent = create_deep_agent()
        .model_impl(Arc::new(looping()))
        .usage_limits(UsageLimits::new().output_tokens_limit(5))
        .build()
        .unwrap();
    let err = agent.run("go", &deps()).await.unwrap_err();
    assert!(matches!(err.error, AgentError::UsageLimit(_)));
    assert_eq!(err.state.usage.output_tokens, 6);
    // The turn over the limit is kept, its call answered as interrupted,
    // so the conversation stays valid to resume.
    let last = tool_results(&err.state.messages).pop().unwrap();
    assert!(last.1.contains("interrupted") && last.2, "{last:?}");

    let bad = FunctionModel::new(|_| ModelResponse::call("ls", json!({"path": 3})));
    let agent = create_deep_agent()
        .model_impl(Arc::new(bad))
        .retries(1)
        .build()
        .unwrap();
    let err = agent.run("go", &deps()).await.unwrap_err();
    assert!(matches!(err.error, AgentError::ToolRetriesExceeded { .. }));
    assert_eq!(err.state.usage.requests, 2);
    assert_eq!(tool_results(&err.state.messages).len(), 2);
}

// (5) Argument retries count failures in a row, per tool.

#[tokio::test]
async fn argument_retries_reset_after_a_step_where_the_tool_succeeded() {
    let bad = || ModelResponse::call("ls", json!({"path": 3}));
    let good = || ModelResponse::call("ls", json!({"path": "/"}));
    // With retries(1), three failures over the run are fine when each is
    // followed by a success.
    let model = ScriptedModel::new([
        bad(),
        good(),
        bad(),
        good(),
        bad(),
        good(),
        ModelResponse::text("done"),
    ]);
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .retries(1)
        .build()
        .unwrap();
    let r = agent.run("go", &deps()).await.unwrap();
    assert_eq!(r.output, "done");

    // Two in a row are over the limit of 1.
    let model = ScriptedModel::new([good(), bad(), bad(), ModelResponse::text("never")]);
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .retries(1)
        .build()
        .unwrap();
    let err = agent.run("go", &deps()).await.unwrap_err();
    assert!(
        matches!(&err.error, AgentError::ToolRetriesExceeded { tool, .. } if tool == "ls"),
        "{err}"
    );
}

// (6) Empty answers, offline: the nudge has a bound.

#[tokio::test]
async fn a_model_that_keeps_answering_nothing_ends_with_a_named_error() {
    let model = FunctionModel::new(|_| ModelResponse::text(""));
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .retries(2)
        .build()
        .unwrap();
    let err = agent.run("go", &deps()).await.unwrap_err();
    assert!(
        matches!(err.error, AgentError::EmptyAnswer { attempts: 3 }),
        "{err}"
    );
    assert!(!err.state.messages.iter().any(
        |m| matches!(m, Message::Assistant { content, tool_calls } if content.is_empty() && tool_calls.is_empty())
    ));
}

// (9) Validation at build time.

#[test]
fn build_refuses_tool_names_providers_reject() {
    let named = |name: &str| {
        create_deep_agent()
            .model("test")
            .tool(tool(name).handler(|_, _| async { Ok::<_, ToolError>(String::new()) }))
            .build()
    };
    for bad in ["write file", "", "tool.v2", "ünïcode", &"x".repeat(65)] {
        let err = named(bad).unwrap_err();
        assert!(
            err.to_string().contains("not accepted by model providers"),
            "{bad:?}: {err}"
        );
    }
    for good in ["lookup", "get-weather_2", &"x".repeat(64)] {
        assert!(named(good).is_ok(), "{good:?}");
    }
}

#[test]
fn build_refuses_interrupt_on_names_that_are_no_tool() {
    let err = create_deep_agent()
        .model("test")
        .interrupt_on(["write_file", "writefile"])
        .build()
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("interrupt_on names writefile"), "{msg}");
    assert!(
        msg.contains("write_file"),
        "the message lists the real tools: {msg}"
    );

    let lookup = tool("lookup").handler(|_, _| async { Ok::<_, ToolError>(String::new()) });
    assert!(create_deep_agent()
        .model("test")
        .tool(lookup)
        .interrupt_on(["write_file", "execute", "task", "lookup"])
        .build()
        .is_ok());
}

// (12) Resume any history.

#[tokio::test]
async fn a_history_with_unanswered_tool_calls_is_sent_patched() {
    let server = MockServer::start(vec![Reply::json(200, openai_text("carrying on"))]).await;
    let agent = create_deep_agent()
        .model_impl(Arc::new(openai(&server)))
        .include_subagents(false)
        .build()
        .unwrap();
    // A run that stopped between the model's calls and their results:
    // c1 got its result, c2 never did.
    let history = vec![
        Message::user("write two files"),
        Message::Assistant {
            content: String::new(),
            tool_calls: vec![
                ToolCall::new("c1", "write_file", json!({"path": "/a", "content": "a"})),
                ToolCall::new("c2", "write_file", json!({"path": "/b", "content": "b"})),
            ],
        },
        Message::tool_result("c1", "write_file", "Wrote 1 bytes to /a"),
    ];
    let r = agent
        .run_with_history("go on", history, &deps())
        .await
        .unwrap();
    assert_eq!(r.output, "carrying on");
    let sent = server.requests()[0].body["messages"].clone();
    let roles: Vec<&str> = sent
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "tool", "tool", "user"]
    );
    assert_eq!(sent[4]["tool_call_id"], "c2");
    assert!(
        sent[4]["content"].as_str().unwrap().contains("interrupted"),
        "{}",
        sent[4]
    );
    assert_eq!(sent[5]["content"], "go on");
}

// (11) Pause now, decide later.

/// Turn 1 writes two files (both need approval) and lists the root (no
/// approval); turn 2 reports what the tools said.
fn pausing_model() -> FunctionModel {
    FunctionModel::new(|req: &ModelRequest| {
        if req.assistant_turns() == 0 {
            ModelResponse::tool_calls([
                ToolCall::new(
                    "w1",
                    "write_file",
                    json!({"path": "/a.txt", "content": "A"}),
                ),
                ToolCall::new(
                    "w2",
                    "write_file",
                    json!({"path": "/b.txt", "content": "B"}),
                ),
                ToolCall::new("l1", "ls", json!({"path": "/"})),
            ])
        } else {
            let said: Vec<String> = req
                .latest_tool_results()
                .iter()
                .map(|(_, r)| r.to_string())
                .collect();
            ModelResponse::text(said.join(" | "))
        }
    })
}

fn pausing_agent() -> deepagent::DeepAgent {
    create_deep_agent()
        .model_impl(Arc::new(pausing_model()))
        .interrupt_on(["write_file"])
        .pause_for_approval()
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_paused_run_is_resumed_in_another_process_with_decisions() {
    let backend = StateBackend::new();
    let err = pausing_agent()
        .run("write two files", &DeepAgentDeps::new(backend.clone()))
        .await
        .unwrap_err();
    assert!(err.is_paused(), "{err}");
    assert_eq!(
        err.to_string(),
        "the run is paused until a human decides on 2 tool call(s) (write_file, write_file); resume it with DeepAgent::resume"
    );
    let pending: Vec<(&str, &Value)> = err
        .state
        .pending
        .iter()
        .map(|p| (p.call_id.as_str(), &p.args))
        .collect();
    assert_eq!(
        pending,
        [
            ("w1", &json!({"path": "/a.txt", "content": "A"})),
            ("w2", &json!({"path": "/b.txt", "content": "B"}))
        ]
    );
    // Nothing gated ran; the ungated call did.
    assert!(backend.paths().is_empty());
    assert_eq!(tool_results(&err.state.messages).len(), 1);
    let saved = serde_json::to_string_pretty(&err.state).unwrap();

    // "Another process": a new agent, new deps over the same files, the
    // state and the decisions read from JSON.
    let state: RunState = serde_json::from_str(&saved).unwrap();
    let decisions: Vec<(String, Decision)> = serde_json::from_value(json!([
        ["w1", {"decision": "edit", "args": {"path": "/a.txt", "content": "edited"}}],
        ["w2", {"decision": "deny", "reason": "b is not needed"}]
    ]))
    .unwrap();
    let r = pausing_agent()
        .resume(state, decisions, &DeepAgentDeps::new(backend.clone()))
        .await
        .unwrap();
    assert_eq!(backend.paths(), ["/a.txt"]);
    assert_eq!(&backend.read_bytes("/a.txt").await.unwrap()[..], b"edited");
    assert_eq!(
        r.output,
        "Wrote 6 bytes to /a.txt | Error: the user denied this call to write_file: b is not needed | / is empty"
    );
    assert_eq!(r.usage.requests, 2);
    // Every call of the paused turn has exactly one result.
    let results = tool_results(&r.messages);
    assert_eq!(results.len(), 3);
    assert!(results[1].2, "a denial is an error result");
}

#[tokio::test]
async fn resume_refuses_missing_or_unknown_decisions_and_keeps_the_state() {
    let deps = deps();
    let agent = pausing_agent();
    let paused = agent.run("go", &deps).await.unwrap_err().into_state();

    let err = agent
        .resume(
            paused.clone(),
            [("w1".to_owned(), Decision::Approve)],
            &deps,
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("no decision for the pending call w2"),
        "{err}"
    );
    assert_eq!(err.into_state(), paused);

    let mut all: Vec<(String, Decision)> = vec![
        ("w1".into(), Decision::Approve),
        ("w2".into(), Decision::Approve),
        ("w3".into(), Decision::Approve),
    ];
    let err = agent
        .resume(paused.clone(), all.clone(), &deps)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not pending: w3"), "{err}");

    all.pop();
    let r = agent.resume(paused, all, &deps).await.unwrap();
    assert_eq!(
        r.output,
        "Wrote 1 bytes to /a.txt | Wrote 1 bytes to /b.txt | / is empty"
    );
}

// (8) Cancellation.

#[tokio::test]
async fn cancelling_stops_a_model_request_in_flight() {
    let server = MockServer::start(vec![Reply::Stall {
        head: false,
        content_type: "application/json".into(),
        sent: String::new(),
    }])
    .await;
    let agent = create_deep_agent()
        .model_impl(Arc::new(openai(&server)))
        .build()
        .unwrap();
    let token = CancellationToken::new();
    let deps = deps().with_cancellation(token.clone());
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        token.cancel();
    });
    let started = Instant::now();
    let err = agent.run("hi", &deps).await.unwrap_err();
    canceller.await.unwrap();
    assert!(matches!(err.error, AgentError::Cancelled), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.state.messages, [Message::user("hi")]);
}

#[tokio::test]
async fn cancelling_drops_running_tool_calls_and_answers_them() {
    let backend = StateBackend::new();
    let slow = tool("slow").handler(|ctx, _| async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        ctx.backend.write("/marker", Bytes::from("late")).await?;
        Ok::<_, ToolError>("slept".to_owned())
    });
    let model = FunctionModel::new(|_| ModelResponse::call("slow", json!({})));
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .tool(slow)
        .build()
        .unwrap();
    let token = CancellationToken::new();
    let deps = DeepAgentDeps::new(backend.clone()).with_cancellation(token.clone());
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        token.cancel();
    });
    let started = Instant::now();
    let err = agent.run("go", &deps).await.unwrap_err();
    canceller.await.unwrap();
    assert!(matches!(err.error, AgentError::Cancelled), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let results = tool_results(&err.state.messages);
    assert_eq!(results.len(), 1);
    assert!(results[0].1.contains("interrupted") && results[0].2);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !backend.exists("/marker").await.unwrap(),
        "the dropped call went on"
    );
}

/// The command of a cancelled `execute` must die with it: the run drops
/// the call, and LocalBackend kills the command's tree when its `execute`
/// future is dropped (without that, the marker appears 2 s later).
#[tokio::test]
async fn cancelling_kills_a_local_command() {
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::builder(dir.path())
        .enable_execute(true)
        .build()
        .unwrap();
    let model = FunctionModel::new(|_| {
        ModelResponse::call("execute", json!({"command": "sleep 2; echo done > marker"}))
    });
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .build()
        .unwrap();
    let token = CancellationToken::new();
    let deps = DeepAgentDeps::new(backend).with_cancellation(token.clone());
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel();
    });
    let started = Instant::now();
    let err = agent.run("go", &deps).await.unwrap_err();
    canceller.await.unwrap();
    assert!(matches!(err.error, AgentError::Cancelled), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !dir.path().join("marker").exists(),
        "the cancelled command kept running"
    );
}

#[tokio::test]
async fn a_streamed_run_announces_the_pause_and_resumes_streamed() {
    use deepagent::AgentEvent;
    use futures::StreamExt;

    let deps = deps();
    let agent = pausing_agent();
    let events: Vec<AgentEvent> = agent.run_stream("go", &deps).collect().await;
    let announced: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::PendingApproval { call } => Some(call.call_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(announced, ["w1", "w2"]);
    let Some(AgentEvent::Finished(end)) = events.into_iter().last() else {
        panic!("no Finished event")
    };
    let state = end.unwrap_err().into_state();
    assert_eq!(state.pending.len(), 2);

    let decisions = [
        ("w1".to_owned(), Decision::Approve),
        ("w2".to_owned(), Decision::Approve),
    ];
    let events: Vec<AgentEvent> = agent.resume_stream(state, decisions, &deps).collect().await;
    let finished: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::ToolCallFinished { call_id, .. } => Some(call_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        finished,
        ["w1", "w2"],
        "only the decided calls run on resume"
    );
    let Some(AgentEvent::Finished(end)) = events.into_iter().last() else {
        panic!("no Finished event")
    };
    assert_eq!(
        end.unwrap().output,
        "Wrote 1 bytes to /a.txt | Wrote 1 bytes to /b.txt | / is empty"
    );
}

// (6) An empty assistant turn in an old history is never sent empty.

#[test]
fn an_empty_assistant_turn_from_an_old_history_is_never_sent_empty() {
    use deepagent::models::anthropic::AnthropicModel;

    let request = ModelRequest::new(
        "",
        vec![
            Message::user("hi"),
            Message::assistant(""),
            Message::user("hello?"),
        ],
        Vec::new(),
    );
    // OpenAI refuses `content: null` without tool calls.
    let body = OpenAiModel::new("m", "k").body(&request, false);
    assert_eq!(
        body["messages"][1],
        json!({"role": "assistant", "content": ""})
    );
    // Anthropic refuses `content: []`; the empty turn carries nothing.
    let body = AnthropicModel::new("m", "k").body(&request, false);
    let roles: Vec<&str> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "user"]);
}
