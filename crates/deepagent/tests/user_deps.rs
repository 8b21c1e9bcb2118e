//! The caller's own state in tools: `DeepAgentDeps::with_dep` and
//! `ToolContext::dep`, shared with subagents, per run, and a clear error
//! when a tool needs a value nobody gave.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use deepagent::{
    create_deep_agent, tool, typed_tool, DeepAgent, DeepAgentDeps, FunctionModel, Message,
    ModelResponse, StateBackend, ToolError,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

/// Stands in for a connection pool: counts its queries.
#[derive(Default)]
struct Db {
    queries: AtomicUsize,
    name: String,
}

struct Tenant(&'static str);

#[derive(Deserialize, JsonSchema)]
struct Query {
    sql: String,
}

fn agent(model: FunctionModel) -> DeepAgent {
    let query = typed_tool("query", "Runs SQL.", |ctx, q: Query| async move {
        let db = ctx.dep::<Db>()?;
        let n = db.queries.fetch_add(1, Ordering::SeqCst) + 1;
        Ok::<_, ToolError>(format!("{} ran {:?} (query {n})", db.name, q.sql))
    });
    let tenant = tool("tenant")
        .description("The tenant.")
        .handler(|ctx, _| async move { Ok::<_, ToolError>(ctx.dep::<Tenant>()?.0.to_owned()) });
    create_deep_agent()
        .model_impl(Arc::new(model))
        .tools([query, tenant])
        .build()
        .unwrap()
}

fn result_of(messages: &[Message], name: &str) -> String {
    messages
        .iter()
        .rev()
        .find_map(|m| match m {
            Message::Tool {
                name: n, content, ..
            } if n == name => Some(content.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_tool_reaches_the_callers_value_shared_not_copied() {
    let model = FunctionModel::new(|req| match req.assistant_turns() {
        0 => ModelResponse::call("query", json!({"sql": "select 1"})),
        _ => ModelResponse::text("done"),
    });
    let db = Arc::new(Db {
        name: "main-db".into(),
        ..Db::default()
    });
    let deps = DeepAgentDeps::new(StateBackend::new()).with_dep_arc(db.clone());
    let r = agent(model).run("q", &deps).await.unwrap();
    assert_eq!(
        result_of(&r.messages, "query"),
        "main-db ran \"select 1\" (query 1)"
    );
    // The program's own handle saw the query.
    assert_eq!(db.queries.load(Ordering::SeqCst), 1);
    assert!(deps.dep::<Db>().is_some());
    assert!(Arc::ptr_eq(&deps.dep_arc::<Db>().unwrap(), &db));
}

#[tokio::test]
async fn one_agent_serves_runs_with_different_values() {
    let model = FunctionModel::new(|req| match req.assistant_turns() {
        0 => ModelResponse::call("tenant", json!({})),
        _ => ModelResponse::text(req.latest_tool_results()[0].1.to_owned()),
    });
    let agent = agent(model);
    for name in ["acme", "globex"] {
        let deps = DeepAgentDeps::new(StateBackend::new()).with_dep(Tenant(name));
        assert_eq!(agent.run("who", &deps).await.unwrap().output, name);
    }
}

#[tokio::test]
async fn a_missing_value_is_a_failed_call_naming_the_type() {
    let model = FunctionModel::new(|req| match req.assistant_turns() {
        0 => ModelResponse::call("query", json!({"sql": "select 1"})),
        _ => ModelResponse::text("done"),
    });
    let deps = DeepAgentDeps::new(StateBackend::new()).with_dep(Tenant("acme"));
    let r = agent(model).run("q", &deps).await.unwrap();
    let text = result_of(&r.messages, "query");
    assert!(
        text.starts_with("Error: this tool needs a user_deps::Db in the run's deps"),
        "{text}"
    );
    assert!(text.contains("deps held: user_deps::Tenant"), "{text}");
    let is_error = r
        .messages
        .iter()
        .any(|m| matches!(m, Message::Tool { is_error: true, .. }));
    assert!(is_error);
}

#[tokio::test]
async fn subagents_see_the_same_values() {
    // The main agent delegates; the subagent (whose conversation starts
    // with the task) runs the query.
    let model = FunctionModel::new(|req| {
        let sub =
            matches!(req.messages.first(), Some(Message::User { content }) if content == "count");
        match (sub, req.assistant_turns()) {
            (false, 0) => ModelResponse::call("task", json!({"description": "count"})),
            (true, 0) => ModelResponse::call("query", json!({"sql": "select count(*)"})),
            (true, _) => ModelResponse::text(req.latest_tool_results()[0].1.to_owned()),
            (false, _) => ModelResponse::text(req.latest_tool_results()[0].1.to_owned()),
        }
    });
    let db = Arc::new(Db {
        name: "shared".into(),
        ..Db::default()
    });
    let deps = DeepAgentDeps::new(StateBackend::new()).with_dep_arc(db.clone());
    let r = agent(model).run("delegate", &deps).await.unwrap();
    assert_eq!(r.output, "shared ran \"select count(*)\" (query 1)");
    assert_eq!(db.queries.load(Ordering::SeqCst), 1);
}

#[test]
fn a_later_value_of_the_same_type_replaces_the_first_and_debug_names_them() {
    let deps = DeepAgentDeps::new(StateBackend::new())
        .with_dep(Tenant("a"))
        .with_dep(Tenant("b"));
    assert_eq!(deps.dep::<Tenant>().unwrap().0, "b");
    assert_eq!(deps.dep_names(), ["user_deps::Tenant"]);
    assert!(format!("{deps:?}").contains("user_deps::Tenant"));
    // Clones share the values.
    assert_eq!(deps.clone().dep::<Tenant>().unwrap().0, "b");
}
