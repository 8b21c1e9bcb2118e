//! Spans with OpenTelemetry GenAI attributes, asserted through a capturing
//! `tracing` layer: the run, each model request, each tool call, and each
//! backend operation of a `Traced` backend, with their nesting.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::http::{MockServer, Reply};
use deepagent::models::openai::OpenAiModel;
use deepagent::telemetry::Traced;
use deepagent::{
    create_deep_agent, DeepAgentDeps, FunctionModel, ModelError, ModelResponse, RetryPolicy,
    StateBackend, ToolCall,
};
use serde_json::json;
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

#[derive(Debug, Clone)]
struct SpanRec {
    id: u64,
    /// Position in `spans` of the parent.
    parent: Option<usize>,
    name: String,
    fields: BTreeMap<String, String>,
}

impl SpanRec {
    fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<SpanRec>>>);

struct Visitor<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Visitor<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        let parent_id = ctx
            .span(id)
            .and_then(|s| s.parent())
            .map(|p| p.id().into_u64());
        // Ids are reused after a span closes: the latest holder is meant.
        let parent = parent_id.and_then(|p| spans.iter().rposition(|s| s.id == p));
        let mut fields = BTreeMap::new();
        attrs.record(&mut Visitor(&mut fields));
        spans.push(SpanRec {
            id: id.into_u64(),
            parent,
            name: attrs.metadata().name().to_owned(),
            fields,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        if let Some(s) = spans.iter_mut().rev().find(|s| s.id == id.into_u64()) {
            values.record(&mut Visitor(&mut s.fields));
        }
    }
}

impl Capture {
    fn spans(&self) -> Vec<SpanRec> {
        self.0.lock().unwrap().clone()
    }
}

fn capture() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let guard = tracing::subscriber::set_default(subscriber);
    (capture, guard)
}

fn named<'a>(spans: &'a [SpanRec], name: &str) -> Vec<(usize, &'a SpanRec)> {
    spans
        .iter()
        .enumerate()
        .filter(|(_, s)| s.name == name)
        .collect()
}

#[tokio::test]
async fn a_run_has_agent_chat_tool_and_backend_spans_nested() {
    let (capture, _guard) = capture();
    let model = FunctionModel::new(|req| match req.assistant_turns() {
        0 => ModelResponse::tool_calls([
            ToolCall::new(
                "call_w",
                "write_file",
                json!({"path": "/a.txt", "content": "hi"}),
            ),
            ToolCall::new("call_bad", "read_file", json!({})),
        ])
        .with_usage(100, 20),
        _ => ModelResponse::text("done").with_usage(150, 5),
    });
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .build()
        .unwrap();
    let deps = DeepAgentDeps::new(Traced::new(StateBackend::new()));
    agent.run("write", &deps).await.unwrap();

    let spans = capture.spans();
    let agents = named(&spans, "invoke_agent");
    assert_eq!(agents.len(), 1, "{spans:#?}");
    let (run_at, run) = agents[0];
    assert_eq!(run.parent, None);
    assert_eq!(run.get("gen_ai.operation.name"), Some("invoke_agent"));
    assert_eq!(run.get("gen_ai.agent.name"), Some("deepagent"));
    assert_eq!(run.get("gen_ai.request.model"), Some("function"));
    assert_eq!(run.get("otel.name"), Some("invoke_agent deepagent"));
    assert_eq!(run.get("gen_ai.usage.input_tokens"), Some("250"));
    assert_eq!(run.get("gen_ai.usage.output_tokens"), Some("25"));
    assert_eq!(run.get("error.type"), None);

    let chats = named(&spans, "chat");
    assert_eq!(chats.len(), 2);
    for (_, c) in &chats {
        assert_eq!(c.parent, Some(run_at));
        assert_eq!(c.get("gen_ai.operation.name"), Some("chat"));
        assert_eq!(c.get("gen_ai.output.type"), Some("text"));
    }
    assert_eq!(chats[0].1.get("gen_ai.usage.input_tokens"), Some("100"));
    assert_eq!(chats[0].1.get("gen_ai.usage.output_tokens"), Some("20"));
    assert_eq!(
        chats[0].1.get("gen_ai.response.finish_reasons"),
        Some("[\"tool_calls\"]")
    );
    assert_eq!(
        chats[1].1.get("gen_ai.response.finish_reasons"),
        Some("[\"stop\"]")
    );

    let tools = named(&spans, "execute_tool");
    assert_eq!(tools.len(), 2);
    let (write_at, write) = tools
        .iter()
        .find(|(_, t)| t.get("gen_ai.tool.name") == Some("write_file"))
        .copied()
        .unwrap();
    assert_eq!(write.parent, Some(run_at));
    assert_eq!(write.get("gen_ai.tool.call.id"), Some("call_w"));
    assert_eq!(write.get("gen_ai.tool.type"), Some("function"));
    assert_eq!(write.get("otel.name"), Some("execute_tool write_file"));
    assert_eq!(write.get("error.type"), None);
    let bad = tools
        .iter()
        .find(|(_, t)| t.get("gen_ai.tool.call.id") == Some("call_bad"))
        .unwrap()
        .1;
    assert_eq!(bad.get("error.type"), Some("invalid_arguments"));

    // The write's backend operation, inside the tool call's span.
    let backend: Vec<&SpanRec> = named(&spans, "backend")
        .into_iter()
        .map(|(_, s)| s)
        .filter(|s| s.get("deepagent.backend.operation") == Some("write"))
        .collect();
    assert_eq!(backend.len(), 1, "{spans:#?}");
    assert_eq!(backend[0].parent, Some(write_at));
    assert_eq!(backend[0].get("deepagent.backend.path"), Some("/a.txt"));
    assert_eq!(
        backend[0].get("deepagent.backend.name"),
        Some("StateBackend")
    );
    assert_eq!(backend[0].get("otel.name"), Some("backend.write"));
}

#[tokio::test]
async fn a_subagent_run_nests_under_its_task_call_and_failures_are_named() {
    let (capture, _guard) = capture();
    let model = FunctionModel::fallible(|req| {
        let sub = matches!(req.messages.first(), Some(deepagent::Message::User { content }) if content == "look");
        match (sub, req.assistant_turns()) {
            (false, 0) => Ok(ModelResponse::call("task", json!({"description": "look"}))),
            (true, _) => Err(ModelError::Other("the subagent's model broke".into())),
            (false, _) => Ok(ModelResponse::text("the subagent failed")),
        }
    });
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .build()
        .unwrap();
    let deps = DeepAgentDeps::new(StateBackend::new());
    agent.run("delegate", &deps).await.unwrap();

    let spans = capture.spans();
    let agents = named(&spans, "invoke_agent");
    assert_eq!(agents.len(), 2, "{spans:#?}");
    let (sub_at, sub) = agents[1];
    assert_eq!(sub.get("gen_ai.agent.name"), Some("general-purpose"));
    assert_eq!(sub.get("deepagent.depth"), Some("1"));
    assert_eq!(sub.get("error.type"), Some("model_error"));
    let task = &spans[sub.parent.unwrap()];
    assert_eq!(task.name, "execute_tool");
    assert_eq!(task.get("gen_ai.tool.name"), Some("task"));
    assert_eq!(task.get("error.type"), Some("tool_error"));
    let failed_chat = named(&spans, "chat")
        .into_iter()
        .find(|(_, c)| c.parent == Some(sub_at))
        .unwrap()
        .1;
    assert_eq!(failed_chat.get("error.type"), Some("model_error"));
}

#[tokio::test]
async fn openai_requests_name_the_provider_and_model() {
    let (capture, _guard) = capture();
    let server = MockServer::start(vec![Reply::json(200, json!({
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3}
    }))])
    .await;
    let model = OpenAiModel::new("gpt-test", "sk-test")
        .base_url(format!("{}/v1", server.base))
        .retry(RetryPolicy::none());
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .build()
        .unwrap();
    agent
        .run("hi", &DeepAgentDeps::new(StateBackend::new()))
        .await
        .unwrap();
    let spans = capture.spans();
    let chat = named(&spans, "chat")[0].1;
    assert_eq!(chat.get("gen_ai.provider.name"), Some("openai"));
    assert_eq!(chat.get("gen_ai.request.model"), Some("gpt-test"));
    assert_eq!(chat.get("otel.name"), Some("chat gpt-test"));
    assert_eq!(chat.get("gen_ai.usage.input_tokens"), Some("12"));
    let run = named(&spans, "invoke_agent")[0].1;
    assert_eq!(run.get("gen_ai.provider.name"), Some("openai"));
}

#[tokio::test]
async fn a_traced_sandbox_still_runs_commands_and_records_the_exit_code() {
    let (capture, _guard) = capture();
    let model = FunctionModel::new(|req| match req.assistant_turns() {
        0 => ModelResponse::call("execute", json!({"command": "echo hi"})),
        _ => ModelResponse::text("ran"),
    });
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .build()
        .unwrap();
    let deps = DeepAgentDeps::new(Traced::new(common::EchoSandbox::default()));
    let defs = agent.tool_definitions(&deps);
    assert!(
        defs.iter().any(|d| d.name == "execute"),
        "execute is offered"
    );
    let r = agent.run("run", &deps).await.unwrap();
    assert_eq!(r.output, "ran");
    let spans = capture.spans();
    let exec = named(&spans, "backend")
        .into_iter()
        .find(|(_, s)| s.get("deepagent.backend.operation") == Some("execute"))
        .expect("an execute span")
        .1;
    assert_eq!(exec.get("deepagent.backend.exit_code"), Some("0"));
    // The command text is not recorded.
    assert!(!format!("{:?}", exec.fields).contains("echo hi"));
}
