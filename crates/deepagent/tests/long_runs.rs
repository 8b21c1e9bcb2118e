//! Long runs (issue 16): history processors, cost and budgets, prompt
//! caching — checked on the wire against the 127.0.0.1 mock server.

mod common;

use std::sync::{Arc, Mutex};

use common::http::{MockServer, Reply};
use deepagent::models::anthropic::{self, AnthropicModel};
use deepagent::models::openai::OpenAiModel;
use deepagent::models::ResponseAccumulator;
use std::sync::atomic::{AtomicUsize, Ordering};

use deepagent::{
    create_deep_agent, AgentError, DeepAgentDeps, FunctionModel, Message, ModelPrice,
    ModelResponse, ProcessorContext, RetryPolicy, StateBackend, SubAgent, UsageLimits,
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
        .history_processor_async(|ctx, messages| {
            Box::pin(async move {
                tokio::task::yield_now().await;
                if ctx.usage.requests >= 1 {
                    return Err(AgentError::Config("summariser is down".into()));
                }
                messages.insert(0, Message::user("from the async hook"));
                Ok(())
            })
        })
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
                .model_impl(Arc::new(worker))
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

// (4) Cost and budgets.

/// $1 per million prompt tokens, output free: costs are easy to read.
const DOLLAR_A_MILLION: ModelPrice = ModelPrice::new(1.0, 0.0).with_cache(1.25, 0.1);

fn cap(usd: f64) -> UsageLimits {
    UsageLimits::new().cost_limit_usd(usd)
}

#[tokio::test]
async fn a_cost_cap_stops_the_run_before_the_request_that_would_pass_it() {
    let ls = |id: &str| {
        Reply::json(
            200,
            openai_call(id, "ls", json!({"path": "/"}), (400_000, 10)),
        )
    };
    let server = MockServer::start(vec![
        ls("c1"),
        ls("c2"),
        ls("c3"),
        Reply::json(200, openai_text("done", (400_000, 10))),
    ])
    .await;
    let agent = create_deep_agent()
        .model_impl(Arc::new(openai(&server)))
        .model_price("openai:gpt-test", DOLLAR_A_MILLION)
        .usage_limits(cap(1.0))
        .build()
        .unwrap();
    let err = agent.run("list", &deps()).await.unwrap_err();
    assert!(matches!(err.error, AgentError::UsageLimit(_)), "{err}");
    assert!(err.to_string().contains("cost limit"), "{err}");
    // $0.40 a request: the third would end at $1.20, so it is never sent.
    assert_eq!(server.requests().len(), 2);
    let u = err.state.usage;
    assert_eq!(u.requests, 2);
    assert!((u.cost_usd - 0.80).abs() < 1e-9, "{}", u.cost_usd);
    assert_eq!(u.unpriced_requests, 0);
    // The state is whole: both calls with their results, ready to resume.
    assert_eq!(err.state.messages.len(), 5);
    assert!(matches!(err.state.messages[4], Message::Tool { .. }));
}

#[tokio::test]
async fn the_cost_cap_counts_what_subagents_spent() {
    let main_calls = Arc::new(AtomicUsize::new(0));
    let worker_calls = Arc::new(AtomicUsize::new(0));
    let n = main_calls.clone();
    let main = FunctionModel::new(move |_| {
        n.fetch_add(1, Ordering::SeqCst);
        ModelResponse::call(
            "task",
            json!({"description": "list", "subagent_type": "worker"}),
        )
        .with_usage(100_000, 0)
    })
    .named("main-model");
    let n = worker_calls.clone();
    let worker = FunctionModel::new(move |req| {
        n.fetch_add(1, Ordering::SeqCst);
        if req.latest_tool_results().is_empty() {
            ModelResponse::call("ls", json!({"path": "/"})).with_usage(450_000, 0)
        } else {
            ModelResponse::text("listed").with_usage(450_000, 0)
        }
    })
    .named("worker-model");
    let agent = create_deep_agent()
        .model_impl(Arc::new(main))
        .subagent(SubAgent::new("worker", "Lists.", "List.").model_impl(Arc::new(worker)))
        .model_price("main-model", DOLLAR_A_MILLION)
        .model_price("worker-model", DOLLAR_A_MILLION)
        .usage_limits(cap(1.05))
        .build()
        .unwrap();
    let err = agent.run("go", &deps()).await.unwrap_err();
    assert!(matches!(err.error, AgentError::UsageLimit(_)), "{err}");
    // Main $0.10 + worker $0.90 = $1.00; main's next request (~$0.10)
    // would pass $1.05. Counting only the main agent's spending, it
    // would have gone on.
    assert_eq!(main_calls.load(Ordering::SeqCst), 1);
    assert_eq!(worker_calls.load(Ordering::SeqCst), 2);
    assert!((err.state.usage.cost_usd - 1.0).abs() < 1e-9);
}

#[tokio::test]
async fn a_cost_cap_with_an_unpriced_model_is_refused_at_build() {
    let err = create_deep_agent()
        .model_impl(Arc::new(FunctionModel::new(|_| ModelResponse::text("hi"))))
        .usage_limits(cap(1.0))
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("\"function\" has no price"),
        "{err}"
    );
}

#[tokio::test]
async fn the_run_result_carries_its_cost_and_counts_unpriced_requests() {
    let server = MockServer::start(vec![Reply::json(
        200,
        openai_text("hi", (2_000_000, 500_000)),
    )])
    .await;
    let agent = create_deep_agent()
        .model_impl(Arc::new(openai(&server)))
        .model_price("gpt-test", ModelPrice::new(2.0, 8.0).with_cache(2.0, 0.5))
        .build()
        .unwrap();
    let r = agent.run("hi", &deps()).await.unwrap();
    // 2M in at $2 + 0.5M out at $8.
    assert!(
        (r.usage.cost_usd - 8.0).abs() < 1e-9,
        "{}",
        r.usage.cost_usd
    );

    let unpriced = create_deep_agent()
        .model_impl(Arc::new(FunctionModel::new(|_| {
            ModelResponse::text("hi").with_usage(5, 5)
        })))
        .build()
        .unwrap();
    let r = unpriced.run("hi", &deps()).await.unwrap();
    assert_eq!((r.usage.cost_usd, r.usage.unpriced_requests), (0.0, 1));
}

// (3) Prompt caching.

fn anthropic(server: &MockServer) -> AnthropicModel {
    AnthropicModel::new("claude-test", "ak-test")
        .base_url(&server.base)
        .retry(RetryPolicy::none())
}

fn anthropic_reply(content: Value, usage: Value) -> Reply {
    Reply::json(
        200,
        json!({"id": "msg", "type": "message", "role": "assistant", "model": "claude-test",
               "content": content, "stop_reason": "end_turn", "usage": usage}),
    )
}

fn breakpoints(body: &Value) -> usize {
    body.to_string().matches("\"cache_control\"").count()
}

#[tokio::test]
async fn anthropic_requests_mark_the_system_prompt_tools_and_latest_turn_for_caching() {
    let server = MockServer::start(vec![
        anthropic_reply(
            json!([{"type": "tool_use", "id": "toolu_1", "name": "ls", "input": {"path": "/"}}]),
            json!({"input_tokens": 50, "cache_creation_input_tokens": 1000, "cache_read_input_tokens": 0, "output_tokens": 10}),
        ),
        anthropic_reply(
            json!([{"type": "text", "text": "done"}]),
            json!({"input_tokens": 60, "cache_creation_input_tokens": 30, "cache_read_input_tokens": 1000, "output_tokens": 5}),
        ),
    ])
    .await;
    let agent = create_deep_agent()
        .model_impl(Arc::new(anthropic(&server)))
        .model_price(
            "claude-test",
            ModelPrice::new(3.0, 15.0).with_cache(3.75, 0.3),
        )
        .build()
        .unwrap();
    let r = agent.run("list", &deps()).await.unwrap();
    let ephemeral = json!({"type": "ephemeral"});
    let reqs = server.requests();
    for (i, req) in reqs.iter().enumerate() {
        let body = &req.body;
        assert_eq!(body["system"][0]["cache_control"], ephemeral, "request {i}");
        assert!(body["system"][0]["text"].as_str().unwrap().contains("ls"));
        let tools = body["tools"].as_array().unwrap();
        assert_eq!(tools.last().unwrap()["cache_control"], ephemeral);
        let last_turn = body["messages"].as_array().unwrap().last().unwrap();
        let last_block = last_turn["content"].as_array().unwrap().last().unwrap();
        assert_eq!(last_block["cache_control"], ephemeral, "request {i}");
        // Only those three: the API allows four.
        assert_eq!(breakpoints(body), 3, "request {i}: {body}");
    }
    assert_eq!(
        reqs[1].body["messages"][2]["content"][0]["type"],
        "tool_result"
    );

    // Cache writes and reads are read back, counted in the prompt, and
    // priced apart: 110 plain, 1030 written, 1000 read, 15 out.
    let u = r.usage;
    assert_eq!(
        (
            u.input_tokens,
            u.cache_write_tokens,
            u.cache_read_tokens,
            u.output_tokens
        ),
        (2140, 1030, 1000, 15)
    );
    let expected = (110.0 * 3.0 + 1030.0 * 3.75 + 1000.0 * 0.3 + 15.0 * 15.0) / 1e6;
    assert!(
        (u.cost_usd - expected).abs() < 1e-12,
        "{} vs {expected}",
        u.cost_usd
    );
}

#[tokio::test]
async fn anthropic_prompt_caching_can_be_turned_off() {
    let server = MockServer::start(vec![anthropic_reply(
        json!([{"type": "text", "text": "hi"}]),
        json!({"input_tokens": 5, "output_tokens": 1}),
    )])
    .await;
    let agent = create_deep_agent()
        .model_impl(Arc::new(anthropic(&server).prompt_caching(false)))
        .build()
        .unwrap();
    agent.run("hi", &deps()).await.unwrap();
    let body = &server.requests()[0].body;
    assert_eq!(breakpoints(body), 0, "{body}");
    assert!(body["system"].is_string());
}

#[test]
fn anthropic_streamed_cache_usage_is_read_back() {
    let start = json!({"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant",
        "content": [], "model": "claude-test",
        "usage": {"input_tokens": 7, "cache_creation_input_tokens": 200, "cache_read_input_tokens": 3000, "output_tokens": 1}}});
    let delta = json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 42}});
    let mut acc = ResponseAccumulator::default();
    for ev in [start, delta] {
        for chunk in anthropic::parse_stream_event(&ev).unwrap() {
            acc.push(&chunk);
        }
    }
    let u = acc.finish().usage;
    assert_eq!(
        (
            u.input_tokens,
            u.cache_write_tokens,
            u.cache_read_tokens,
            u.output_tokens
        ),
        (3207, 200, 3000, 42)
    );
}

#[tokio::test]
async fn openai_cached_prompt_tokens_are_read_back_and_priced() {
    let server = MockServer::start(vec![Reply::json(
        200,
        json!({"choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
               "usage": {"prompt_tokens": 1_000_000, "completion_tokens": 0,
                         "prompt_tokens_details": {"cached_tokens": 800_000}}}),
    )])
    .await;
    let agent = create_deep_agent()
        .model_impl(Arc::new(openai(&server)))
        .model_price("gpt-test", ModelPrice::new(2.0, 8.0).with_cache(2.0, 0.5))
        .build()
        .unwrap();
    let r = agent.run("hi", &deps()).await.unwrap();
    assert_eq!(
        (r.usage.input_tokens, r.usage.cache_read_tokens),
        (1_000_000, 800_000)
    );
    // 200k uncached at $2 + 800k cached at $0.50.
    assert!(
        (r.usage.cost_usd - 0.8).abs() < 1e-9,
        "{}",
        r.usage.cost_usd
    );
}
