//! OTLP/HTTP export (feature `otel`): a run's spans reach a local
//! receiver on 127.0.0.1 with their OpenTelemetry names and GenAI
//! attributes. Run with `cargo test -p deepagent --features otel --test otel`.
#![cfg(feature = "otel")]

mod common;

use std::sync::Arc;

use common::http::{MockServer, Reply};
use deepagent::telemetry::{otlp, Traced};
use deepagent::{create_deep_agent, DeepAgentDeps, FunctionModel, ModelResponse, StateBackend};
use serde_json::{json, Value};
use tracing_subscriber::layer::SubscriberExt;

/// `attributes` of an OTLP JSON span as a map of string values.
fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

async fn run_with_export(protocol: otlp::Protocol) -> MockServer {
    let server = MockServer::start(vec![
        Reply::json(200, json!({})),
        Reply::json(200, json!({})),
    ])
    .await;
    let (layer, guard) = otlp::layer(&server.base, "deepagent-test", protocol).unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    {
        let _default = tracing::subscriber::set_default(subscriber);
        let model = FunctionModel::new(|req| match req.assistant_turns() {
            0 => ModelResponse::call("write_file", json!({"path": "/a.txt", "content": "hi"}))
                .with_usage(40, 8),
            _ => ModelResponse::text("done").with_usage(60, 2),
        });
        let agent = create_deep_agent()
            .model_impl(Arc::new(model))
            .build()
            .unwrap();
        let deps = DeepAgentDeps::new(Traced::new(StateBackend::new()));
        agent.run("write", &deps).await.unwrap();
    }
    // Shutdown flushes the batch; it blocks on the HTTP export.
    tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap()
        .unwrap();
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_as_otlp_json_with_genai_attributes() {
    let server = run_with_export(otlp::Protocol::HttpJson).await;
    let reqs = server.requests();
    assert!(!reqs.is_empty(), "nothing was exported");
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/v1/traces");
    assert_eq!(reqs[0].header("content-type"), Some("application/json"));
    let mut spans = Vec::new();
    for r in &reqs {
        for rs in r.body["resourceSpans"].as_array().unwrap() {
            let service = rs["resource"]["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["key"] == "service.name")
                .unwrap();
            assert_eq!(service["value"]["stringValue"], "deepagent-test");
            for ss in rs["scopeSpans"].as_array().unwrap() {
                spans.extend(ss["spans"].as_array().unwrap().iter().cloned());
            }
        }
    }
    let by_name = |n: &str| spans.iter().find(|s| s["name"] == n).cloned();
    let run = by_name("invoke_agent deepagent").expect("the run span");
    assert_eq!(
        attr(&run, "gen_ai.operation.name").unwrap()["stringValue"],
        "invoke_agent"
    );
    // OTLP JSON writes int64 as a string; accept a number too.
    let tokens = &attr(&run, "gen_ai.usage.input_tokens").unwrap()["intValue"];
    assert_eq!(tokens.to_string().trim_matches('"'), "100", "{run:#}");
    let chat = by_name("chat function").expect("a chat span");
    assert_eq!(chat["parentSpanId"], run["spanId"]);
    assert_eq!(
        attr(&chat, "gen_ai.request.model").unwrap()["stringValue"],
        "function"
    );
    let tool = by_name("execute_tool write_file").expect("the tool span");
    assert_eq!(tool["parentSpanId"], run["spanId"]);
    assert_eq!(
        attr(&tool, "gen_ai.tool.name").unwrap()["stringValue"],
        "write_file"
    );
    assert!(attr(&tool, "gen_ai.tool.call.id").is_some());
    let write = by_name("backend.write").expect("the backend span");
    assert_eq!(write["parentSpanId"], tool["spanId"]);
    assert_eq!(write["traceId"], run["traceId"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_protocol_is_protobuf() {
    let server = run_with_export(otlp::Protocol::HttpBinary).await;
    let reqs = server.requests();
    assert!(!reqs.is_empty(), "nothing was exported");
    assert_eq!(reqs[0].path, "/v1/traces");
    assert_eq!(
        reqs[0].header("content-type"),
        Some("application/x-protobuf")
    );
}
