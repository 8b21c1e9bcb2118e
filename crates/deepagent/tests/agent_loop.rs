//! The tool loop: concurrency, ordering, errors, retries, limits,
//! approvals, streaming, history and subagents.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deepagent::models::infer_model_with;
use deepagent::{
    create_deep_agent, tool, AgentError, AgentEvent, Backend, Decision, DeepAgentDeps,
    FunctionModel, Message, ModelResponse, ScriptedModel, StateBackend, SubAgent, ToolCall,
    ToolError, UsageLimits,
};
use futures::StreamExt;
use serde_json::json;

fn results(messages: &[Message]) -> Vec<(String, String)> {
    messages
        .iter()
        .filter_map(|m| match m {
            Message::Tool {
                tool_call_id,
                content,
                ..
            } => Some((tool_call_id.clone(), content.clone())),
            _ => None,
        })
        .collect()
}

fn deps() -> DeepAgentDeps {
    DeepAgentDeps::new(StateBackend::new())
}

#[tokio::test]
async fn calls_of_one_turn_run_concurrently_and_answer_in_order() {
    // Each call waits until both have started: run one after the other,
    // they would never finish.
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let b = barrier.clone();
    let wait = tool("wait")
        .description("waits")
        .parameters(
            json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}),
        )
        .handler(move |_ctx, args| {
            let b = b.clone();
            async move {
                b.wait().await;
                let n = args["n"].as_i64().unwrap_or(-1);
                // The first call finishes last.
                tokio::time::sleep(Duration::from_millis(if n == 1 { 30 } else { 0 })).await;
                Ok(format!("n={n}"))
            }
        });
    let model = ScriptedModel::new([
        ModelResponse::tool_calls([
            ToolCall::new("c1", "wait", json!({"n": 1})),
            ToolCall::new("c2", "wait", json!({"n": 2})),
        ]),
        ModelResponse::text("ok"),
    ]);
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .tool(wait)
        .build()
        .unwrap();
    let r = tokio::time::timeout(Duration::from_secs(10), agent.run("go", &deps()))
        .await
        .expect("the two calls deadlocked: they did not run concurrently")
        .unwrap();
    assert_eq!(
        results(&r.messages),
        vec![("c1".into(), "n=1".into()), ("c2".into(), "n=2".into())]
    );
}

#[tokio::test]
async fn tool_errors_become_text_and_the_run_goes_on() {
    let failing =
        tool("fail").handler(|_ctx, _args| async { Err(ToolError::failed("disk on fire")) });
    let model = ScriptedModel::new([
        ModelResponse::tool_calls([
            ToolCall::new("a", "fail", json!({})),
            ToolCall::new("b", "read_file", json!({"path": "/missing.txt"})),
        ]),
        ModelResponse::text("recovered"),
    ]);
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .tool(failing)
        .build()
        .unwrap();
    let r = agent.run("go", &deps()).await.unwrap();
    assert_eq!(r.output, "recovered");
    let res = results(&r.messages);
    assert_eq!(res[0].1, "Error: disk on fire");
    assert_eq!(
        res[1].1,
        "Error: not found: /missing.txt (check the path with ls or glob)"
    );
}

#[tokio::test]
async fn invalid_json_arguments_get_a_retry_message() {
    let model = Arc::new(ScriptedModel::new([
        ModelResponse::tool_calls([ToolCall::raw(
            "x",
            "write_file",
            "{\"path\": \"/a.txt\", \"content\": ",
        )]),
        ModelResponse::call("write_file", json!({"path": "/a.txt"})),
        ModelResponse::call("write_file", json!({"path": "/a.txt", "content": "fixed"})),
        ModelResponse::text("done"),
    ]));
    let agent = create_deep_agent()
        .model_impl(model.clone())
        .retries(2)
        .build()
        .unwrap();
    let backend = StateBackend::new();
    let r = agent
        .run("go", &DeepAgentDeps::new(backend.clone()))
        .await
        .unwrap();
    let res = results(&r.messages);
    assert!(
        res[0].1.starts_with(
            "Error: invalid arguments for write_file: the arguments are not valid JSON ("
        ),
        "{}",
        res[0].1
    );
    assert!(res[0]
        .1
        .ends_with("Fix the arguments and call write_file again."));
    assert_eq!(
        res[1].1,
        "Error: invalid arguments for write_file: missing required argument `content`\nFix the arguments and call write_file again."
    );
    assert_eq!(res[2].1, "Wrote 5 bytes to /a.txt");
    assert_eq!(&backend.read_bytes("/a.txt").await.unwrap()[..], b"fixed");
}

#[tokio::test]
async fn too_many_retries_fail_the_run() {
    let model = FunctionModel::new(|_| ModelResponse::call("read_file", json!({"path": 42})));
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .retries(1)
        .build()
        .unwrap();
    let err = agent.run("go", &deps()).await.unwrap_err();
    match &err.error {
        AgentError::ToolRetriesExceeded {
            tool,
            retries,
            last_error,
        } => {
            assert_eq!((tool.as_str(), *retries), ("read_file", 1));
            assert!(
                last_error.contains("argument `path` must be string, got an integer"),
                "{last_error}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn unknown_tools_get_a_retry_message_naming_the_real_ones() {
    let model = ScriptedModel::new([
        ModelResponse::call("delete_everything", json!({})),
        ModelResponse::text("ok"),
    ]);
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .include_subagents(false)
        .include_todo(false)
        .build()
        .unwrap();
    let r = agent.run("go", &deps()).await.unwrap();
    assert_eq!(
        results(&r.messages)[0].1,
        "Error: there is no tool named \"delete_everything\"; available tools: edit_file, glob, grep, ls, read_file, write_file\nFix the arguments and call delete_everything again."
    );
}

#[tokio::test]
async fn step_and_usage_limits_stop_the_run_clearly() {
    let looping = || FunctionModel::new(|_| ModelResponse::call("ls", json!({})).with_usage(10, 3));
    let agent = create_deep_agent()
        .model_impl(Arc::new(looping()))
        .max_steps(5)
        .build()
        .unwrap();
    let err = agent.run("go", &deps()).await.unwrap_err();
    assert!(matches!(err.error, AgentError::StepLimit { max_steps: 5 }));
    assert!(err.to_string().contains("step limit of 5"));

    let limits = UsageLimits::new().total_tokens_limit(30);
    let agent = create_deep_agent()
        .model_impl(Arc::new(looping()))
        .usage_limits(limits)
        .build()
        .unwrap();
    let err = agent.run("go", &deps()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "usage limit exceeded: 39 tokens used, over the limit of 30"
    );

    let limits = UsageLimits::new().request_limit(2);
    let agent = create_deep_agent()
        .model_impl(Arc::new(looping()))
        .usage_limits(limits)
        .build()
        .unwrap();
    let err = agent.run("go", &deps()).await.unwrap_err();
    assert!(err.to_string().contains("request limit of 2"), "{err}");
}

#[tokio::test]
async fn usage_is_counted() {
    let model = ScriptedModel::new([
        ModelResponse::call("ls", json!({})).with_usage(100, 7),
        ModelResponse::text("done").with_usage(120, 4),
    ]);
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .build()
        .unwrap();
    let r = agent.run("go", &deps()).await.unwrap();
    assert_eq!(
        (
            r.usage.requests,
            r.usage.input_tokens,
            r.usage.output_tokens
        ),
        (2, 220, 11)
    );
}

fn write_call() -> ScriptedModel {
    ScriptedModel::new([
        ModelResponse::tool_calls([ToolCall::new(
            "w",
            "write_file",
            json!({"path": "/a.txt", "content": "original"}),
        )]),
        ModelResponse::text("done"),
    ])
}

#[tokio::test]
async fn approval_approve_runs_the_call() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let agent = create_deep_agent()
        .model_impl(Arc::new(write_call()))
        .interrupt_on(["write_file"])
        .on_approval(move |call| {
            s.lock().unwrap().push(call);
            async { Decision::Approve }
        })
        .build()
        .unwrap();
    let backend = StateBackend::new();
    let r = agent
        .run("go", &DeepAgentDeps::new(backend.clone()))
        .await
        .unwrap();
    assert_eq!(results(&r.messages)[0].1, "Wrote 8 bytes to /a.txt");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].tool_name, "write_file");
    assert_eq!(seen[0].args["content"], "original");
}

#[tokio::test]
async fn approval_deny_tells_the_model_why() {
    let agent = create_deep_agent()
        .model_impl(Arc::new(write_call()))
        .interrupt_on(["write_file"])
        .on_approval(|_| async {
            Decision::Deny {
                reason: "not today".into(),
            }
        })
        .build()
        .unwrap();
    let backend = StateBackend::new();
    let r = agent
        .run("go", &DeepAgentDeps::new(backend.clone()))
        .await
        .unwrap();
    assert_eq!(
        results(&r.messages)[0].1,
        "Error: the user denied this call to write_file: not today"
    );
    assert!(!backend.exists("/a.txt").await.unwrap());
}

#[tokio::test]
async fn approval_edit_runs_with_new_arguments() {
    let agent = create_deep_agent()
        .model_impl(Arc::new(write_call()))
        .interrupt_on(["write_file"])
        .on_approval(|call| async move {
            let mut args = call.args;
            args["content"] = json!("edited");
            Decision::Edit { args }
        })
        .build()
        .unwrap();
    let backend = StateBackend::new();
    agent
        .run("go", &DeepAgentDeps::new(backend.clone()))
        .await
        .unwrap();
    assert_eq!(&backend.read_bytes("/a.txt").await.unwrap()[..], b"edited");
}

#[tokio::test]
async fn approval_without_a_callback_is_denied_with_a_clear_message() {
    let agent = create_deep_agent()
        .model_impl(Arc::new(write_call()))
        .interrupt_on(["write_file"])
        .build()
        .unwrap();
    let backend = StateBackend::new();
    let r = agent
        .run("go", &DeepAgentDeps::new(backend.clone()))
        .await
        .unwrap();
    assert_eq!(
        results(&r.messages)[0].1,
        "Error: write_file needs human approval, and no approval callback is configured (set one with on_approval), so the call was not run"
    );
    assert!(!backend.exists("/a.txt").await.unwrap());
}

#[tokio::test]
async fn run_stream_reports_events_in_order() {
    let model = ScriptedModel::new([
        ModelResponse::tool_calls([ToolCall::new(
            "t1",
            "write_todos",
            json!({"todos": [{"content": "step", "status": "in_progress"}]}),
        )]),
        ModelResponse::text("all done"),
    ]);
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .interrupt_on(["write_todos"])
        .on_approval(|_| async { Decision::Approve })
        .build()
        .unwrap();
    let deps = deps();
    let events: Vec<AgentEvent> = agent.run_stream("go", &deps).collect().await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            AgentEvent::TextDelta { .. } => "text",
            AgentEvent::ToolCallStarted { .. } => "started",
            AgentEvent::ToolCallFinished { .. } => "finished",
            AgentEvent::TodosUpdated { .. } => "todos",
            AgentEvent::PendingApproval { .. } => "approval",
            AgentEvent::Finished(_) => "end",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        ["started", "approval", "todos", "finished", "text", "end"]
    );
    match &events[3] {
        AgentEvent::ToolCallFinished {
            name,
            args,
            result,
            is_error,
            ..
        } => {
            assert_eq!(name, "write_todos");
            assert_eq!(args["todos"][0]["content"], "step");
            assert!(result.starts_with("Updated the todo list"));
            assert!(!is_error);
        }
        other => panic!("{other:?}"),
    }
    match events.last() {
        Some(AgentEvent::Finished(r)) => {
            assert_eq!(r.as_ref().as_ref().unwrap().output, "all done")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_run_continues_from_earlier_messages() {
    let model = Arc::new(FunctionModel::new(|req| {
        let users = req
            .messages
            .iter()
            .filter(|m| matches!(m, Message::User { .. }))
            .count();
        ModelResponse::text(format!("{users} prompts so far"))
    }));
    let agent = create_deep_agent().model_impl(model).build().unwrap();
    let deps = deps();
    let first = agent.run("one", &deps).await.unwrap();
    assert_eq!(first.output, "1 prompts so far");
    let second = agent
        .run_with_history("two", first.messages, &deps)
        .await
        .unwrap();
    assert_eq!(second.output, "2 prompts so far");
    assert_eq!(second.messages.len(), 4);
}

#[tokio::test]
async fn subagents_share_the_backend_but_not_the_todos() {
    // The main agent delegates; the subagent (same model) writes a file
    // and a todo, then reports.
    let model = FunctionModel::new(|req| {
        let prompt = req.last_user_prompt().unwrap_or_default().to_owned();
        let results = req.latest_tool_results();
        if prompt == "main" {
            match results.first() {
                None => ModelResponse::call(
                    "task",
                    json!({"description": "write the file", "subagent_type": "writer"}),
                ),
                Some((_, report)) => ModelResponse::text(format!("subagent said: {report}")),
            }
        } else {
            assert!(req.system.contains("You write files."), "{}", req.system);
            if results.is_empty() {
                ModelResponse::tool_calls([
                    ToolCall::new(
                        "s1",
                        "write_file",
                        json!({"path": "/from_sub.txt", "content": "hi"}),
                    ),
                    ToolCall::new(
                        "s2",
                        "write_todos",
                        json!({"todos": [{"content": "sub", "status": "completed"}]}),
                    ),
                ])
                .with_usage(5, 5)
            } else {
                ModelResponse::text("wrote /from_sub.txt").with_usage(5, 5)
            }
        }
    });
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .subagent(SubAgent::new("writer", "Writes files.", "You write files."))
        .build()
        .unwrap();
    let backend = StateBackend::new();
    let deps = DeepAgentDeps::new(backend.clone());
    let r = agent.run("main", &deps).await.unwrap();
    assert_eq!(r.output, "subagent said: wrote /from_sub.txt");
    assert!(backend.exists("/from_sub.txt").await.unwrap());
    assert!(
        deps.todos().is_empty(),
        "the subagent's todos leaked: {:?}",
        deps.todos()
    );
    assert_eq!(r.usage.requests, 4);
    assert_eq!(r.usage.input_tokens, 10);
}

/// A main agent that delegates once to `worker` (running `sub`) and then
/// answers; each of its two turns costs 1 input and 1 output token.
fn delegating_agent(sub: impl deepagent::Model + 'static, retries: usize) -> deepagent::DeepAgent {
    let main = ScriptedModel::new([
        ModelResponse::call(
            "task",
            json!({"description": "work", "subagent_type": "worker"}),
        )
        .with_usage(1, 1),
        ModelResponse::text("the worker gave up").with_usage(1, 1),
    ]);
    create_deep_agent()
        .model_impl(Arc::new(main))
        .subagent(SubAgent::new("worker", "Works.", "You work.").model_impl(Arc::new(sub)))
        .retries(retries)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_subagent_that_fails_after_some_steps_still_counts_its_tokens() {
    // Two successful turns, then the model fails (the script runs out).
    let sub = ScriptedModel::new([
        ModelResponse::call("ls", json!({})).with_usage(100, 10),
        ModelResponse::call("ls", json!({})).with_usage(50, 5),
    ]);
    let r = delegating_agent(sub, 3).run("go", &deps()).await.unwrap();
    assert!(
        results(&r.messages)[0]
            .1
            .contains("the worker subagent failed"),
        "{:?}",
        results(&r.messages)
    );
    assert_eq!(
        (
            r.usage.requests,
            r.usage.input_tokens,
            r.usage.output_tokens
        ),
        // The third, failed request was sent too: it counts against the
        // limits like any other.
        (2 + 3, 2 + 150, 2 + 15)
    );
}

#[tokio::test]
async fn a_subagent_stopped_by_the_retry_limit_still_counts_its_tokens() {
    // The subagent keeps calling a tool that does not exist: the second
    // retry message is over the limit of 1 and ends its loop.
    let sub = FunctionModel::new(|_| ModelResponse::call("nope", json!({})).with_usage(10, 1));
    let r = delegating_agent(sub, 1).run("go", &deps()).await.unwrap();
    assert!(
        results(&r.messages)[0]
            .1
            .contains("the worker subagent failed"),
        "{:?}",
        results(&r.messages)
    );
    assert_eq!(
        (
            r.usage.requests,
            r.usage.input_tokens,
            r.usage.output_tokens
        ),
        (2 + 2, 2 + 20, 2 + 2)
    );
}

#[tokio::test]
async fn subagent_nesting_is_bounded() {
    let depth_seen = Arc::new(AtomicUsize::new(0));
    let d = depth_seen.clone();
    let model = FunctionModel::new(move |req| {
        let has_task = req.tools.iter().any(|t| t.name == "task");
        if has_task && req.latest_tool_results().is_empty() {
            d.fetch_add(1, Ordering::SeqCst);
            ModelResponse::call("task", json!({"description": "go deeper"}))
        } else {
            ModelResponse::text("bottom")
        }
    });
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .max_subagent_depth(2)
        .build()
        .unwrap();
    let r = agent.run("start", &deps()).await.unwrap();
    // The main agent and its subagent delegate; the grandchild cannot.
    assert_eq!(depth_seen.load(Ordering::SeqCst), 2);
    assert_eq!(r.output, "bottom");
}

#[tokio::test]
async fn unknown_subagent_type_is_refused() {
    let model = ScriptedModel::new([
        ModelResponse::call(
            "task",
            json!({"description": "x", "subagent_type": "wizard"}),
        ),
        ModelResponse::text("ok"),
    ]);
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .build()
        .unwrap();
    let r = agent.run("go", &deps()).await.unwrap();
    assert!(
        results(&r.messages)[0]
            .1
            .contains("must be one of \"general-purpose\""),
        "{:?}",
        results(&r.messages)
    );
}

#[test]
fn build_rejects_unknown_providers_and_missing_keys() {
    let err = create_deep_agent().model("gemini:pro").build().unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown model provider \"gemini\""),
        "{err}"
    );
    let no_env = |_: &str| None;
    let err = infer_model_with("openai:gpt-4.1", &no_env).err().unwrap();
    assert!(
        err.to_string().contains("OPENAI_API_KEY is not set"),
        "{err}"
    );
    let err = infer_model_with("anthropic:claude-sonnet-4-5", &no_env)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("ANTHROPIC_API_KEY is not set"),
        "{err}"
    );
    let env = |k: &str| (k == "OPENAI_API_KEY").then(|| "sk-test".to_owned());
    assert_eq!(
        infer_model_with("openai:gpt-4.1", &env)
            .ok()
            .unwrap()
            .name(),
        "openai:gpt-4.1"
    );
    let err = create_deep_agent().build().unwrap_err();
    assert!(err.to_string().contains("no model set"));
}

#[test]
fn deps_take_a_shared_backend_as_is() {
    let shared: Arc<dyn Backend> = Arc::new(StateBackend::new());
    let deps = DeepAgentDeps::new(shared.clone());
    assert!(Arc::ptr_eq(deps.backend(), &shared));
    assert_eq!(deps.backend().name(), "StateBackend");
}

#[tokio::test]
async fn subagent_events_reach_the_stream_tagged_with_the_subagent() {
    let model = FunctionModel::new(|req| {
        let results = req.latest_tool_results();
        match (req.last_user_prompt(), results.first()) {
            (Some("main"), None) => ModelResponse::call(
                "task",
                json!({"description": "write it", "subagent_type": "writer"}),
            ),
            (Some("main"), Some((_, report))) => ModelResponse::text(format!("sub: {report}")),
            (_, None) => {
                ModelResponse::call("write_file", json!({"path": "/s.txt", "content": "x"}))
            }
            (_, Some(_)) => ModelResponse::text("written"),
        }
    });
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .subagent(SubAgent::new("writer", "Writes.", "You write."))
        .build()
        .unwrap();
    let deps = deps();
    let events: Vec<AgentEvent> = agent.run_stream("main", &deps).collect().await;
    let sub_writes: Vec<(&Vec<String>, &str)> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Subagent { subagent, event } => match event.as_ref() {
                AgentEvent::ToolCallFinished { name, result, .. } if name == "write_file" => {
                    Some((subagent, result.as_str()))
                }
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(
        sub_writes,
        [(&vec!["writer".to_owned()], "Wrote 1 bytes to /s.txt")]
    );
    // The main agent's own events are not tagged.
    assert!(events
        .iter()
        .any(|e| matches!(e, AgentEvent::ToolCallFinished { name, .. } if name == "task")));
    let Some(AgentEvent::Finished(r)) = events.last() else {
        panic!()
    };
    assert_eq!(r.as_ref().as_ref().unwrap().output, "sub: written");
}
