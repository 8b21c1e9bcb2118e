//! MCP tools against a real third-party server: npm's
//! `@modelcontextprotocol/server-everything`, run with node over stdio
//! and over streamable HTTP on 127.0.0.1.
//!
//! Without node these tests say so and pass, unless
//! `DEEPAGENT_REQUIRE_MCP=1` (as `.ci/run` sets), when they fail.

#[allow(dead_code)]
#[path = "../../../examples/mcp_tools.rs"]
mod example;

mod common;
use common::{deps, tool_results};

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use deepagent::mcp::{McpError, McpServer};
use deepagent::{create_deep_agent, AgentError, Decision, FunctionModel, ModelResponse};
use serde_json::{json, Value};

/// server-everything's entry point, or `None` (test passes, with a note)
/// when node is missing and MCP is not required.
fn everything() -> Option<PathBuf> {
    static SCRIPT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match SCRIPT.get_or_init(example::everything_script) {
        Ok(p) => Some(p.clone()),
        Err(why) if std::env::var("DEEPAGENT_REQUIRE_MCP").as_deref() == Ok("1") => {
            panic!("DEEPAGENT_REQUIRE_MCP=1 but the MCP test server is unavailable: {why}")
        }
        Err(why) => {
            eprintln!("MCP test not run: {why}");
            None
        }
    }
}

async fn stdio_server(script: &std::path::Path) -> McpServer {
    McpServer::stdio("everything", example::node_command(script, "stdio"))
        .connect()
        .await
        .expect("server-everything connects over stdio")
}

/// A model that makes one call, then answers with the result it got.
fn one_call(tool: &'static str, args: Value) -> FunctionModel {
    FunctionModel::new(move |req| match req.latest_tool_results().first() {
        None => ModelResponse::call(tool, args.clone()),
        Some((_, result)) => ModelResponse::text(format!("got: {result}")),
    })
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn stdio_tools_are_offered_prefixed_and_answer_the_model() {
    let Some(script) = everything() else { return };
    let server = stdio_server(&script).await;
    let names = server.tool_names();
    for expected in [
        "everything__echo",
        "everything__get-sum",
        "everything__get-env",
    ] {
        assert!(
            names.contains(&expected.to_owned()),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        server.skipped_tools().is_empty(),
        "{:?}",
        server.skipped_tools()
    );

    let agent = create_deep_agent()
        .model_impl(Arc::new(example::offline_model()))
        .toolset(Arc::new(server.clone()))
        .build()
        .unwrap();
    let deps = deps();
    // The model sees the server's tools with their schemas, next to the built-ins.
    let defs = agent.tool_definitions(&deps);
    let sum = defs
        .iter()
        .find(|d| d.name == "everything__get-sum")
        .expect("get-sum offered");
    assert_eq!(sum.parameters["required"], json!(["a", "b"]));
    assert!(defs.iter().any(|d| d.name == "read_file"));

    let result = agent.run("add", &deps).await.unwrap();
    assert_eq!(
        result.output,
        "The server says: The sum of 1234 and 4321 is 5555."
    );
    server.close().await;
}

#[tokio::test]
async fn a_tool_error_reaches_the_model_as_a_failed_call() {
    let Some(script) = everything() else { return };
    let server = stdio_server(&script).await;
    // Valid for the light local check, refused by the server's own
    // validation (not a URL): the server answers with isError.
    let model = one_call(
        "everything__gzip-file-as-resource",
        json!({"name": "x.gz", "data": "not a url"}),
    );
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .toolset(Arc::new(server.clone()))
        .build()
        .unwrap();
    let result = agent.run("zip it", &deps()).await.unwrap();
    let results = tool_results(&result.messages);
    assert_eq!(results.len(), 1, "{results:?}");
    let (name, text, is_error) = &results[0];
    assert_eq!(name, "everything__gzip-file-as-resource");
    assert!(is_error, "{text}");
    assert!(text.starts_with("Error: "), "{text}");
    assert!(text.to_lowercase().contains("url"), "{text}");
    server.close().await;
}

#[tokio::test]
async fn the_tool_list_is_fetched_again_when_the_server_announces_a_change() {
    let Some(script) = everything() else { return };
    let server = stdio_server(&script).await;
    // server-everything registers its client-dependent tools once the
    // session is initialized, and announces it with
    // notifications/tools/list_changed. (It answers the first tools/list
    // after registering them, so the list fetched again holds the same
    // tools; what this proves is that the announcement is heard and the
    // list fetched again.)
    wait_for(
        "a tools/list_changed notification",
        Duration::from_secs(10),
        || server.list_changes() >= 1,
    )
    .await;
    wait_for(
        "the list to be fetched again",
        Duration::from_secs(10),
        || server.list_refreshes() >= 2,
    )
    .await;
    assert!(
        server
            .tool_names()
            .contains(&"everything__simulate-research-query".to_owned()),
        "{:?}",
        server.tool_names()
    );
    server.close().await;
}

#[tokio::test]
async fn a_server_killed_mid_call_fails_the_call_clearly_and_the_run_goes_on() {
    let Some(script) = everything() else { return };
    let server = stdio_server(&script).await;
    let pid = server.pid().expect("a stdio server has a pid");
    // The model starts a 30 s operation, then (after the failure) answers.
    let model = FunctionModel::new(|req| match req.latest_tool_results().first() {
        None => ModelResponse::call(
            "everything__trigger-long-running-operation",
            json!({"duration": 30, "steps": 3}),
        ),
        Some((_, result)) => ModelResponse::text(format!("noted: {result}")),
    });
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .toolset(Arc::new(server.clone()))
        .build()
        .unwrap();
    let killer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let status = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    });
    let start = Instant::now();
    let result = agent.run("go", &deps()).await.unwrap();
    killer.await.unwrap();
    eprintln!(
        "the run ended {:?} after it started (the kill came at 1.5 s)",
        start.elapsed()
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "the call waited for the dead server: {:?}",
        start.elapsed()
    );
    let results = tool_results(&result.messages);
    let (_, text, is_error) = &results[0];
    assert!(is_error);
    assert!(
        text.contains("\"everything\" is not running any more"),
        "{text}"
    );
    assert!(server.is_closed());

    // Later calls fail the same way, at once.
    let agent = create_deep_agent()
        .model_impl(Arc::new(one_call(
            "everything__echo",
            json!({"message": "hi"}),
        )))
        .toolset(Arc::new(server.clone()))
        .build()
        .unwrap();
    let result = agent.run("again", &deps()).await.unwrap();
    let results = tool_results(&result.messages);
    assert!(
        results[0].1.contains("is not running any more"),
        "{results:?}"
    );
}

#[tokio::test]
async fn interrupt_on_holds_mcp_tools_for_approval() {
    let Some(script) = everything() else { return };
    let server = stdio_server(&script).await;
    let agent = create_deep_agent()
        .model_impl(Arc::new(one_call(
            "everything__echo",
            json!({"message": "hi"}),
        )))
        .toolset(Arc::new(server.clone()))
        .interrupt_on(["everything__echo"])
        .pause_for_approval()
        .build()
        .unwrap();
    let deps = deps();
    let paused = agent.run("echo", &deps).await.unwrap_err();
    assert!(paused.is_paused(), "{}", paused.error);
    assert_eq!(paused.state.pending.len(), 1);
    assert_eq!(paused.state.pending[0].tool_name, "everything__echo");
    let id = paused.state.pending[0].call_id.clone();
    let done = agent
        .resume(*paused.state, [(id, Decision::Approve)], &deps)
        .await
        .unwrap();
    assert_eq!(done.output, "got: Echo: hi");

    // A typo in an MCP tool's name is refused at build, as for any tool.
    let err = create_deep_agent()
        .model_impl(Arc::new(deepagent::TestModel::new()))
        .toolset(Arc::new(server.clone()))
        .interrupt_on(["everything_echo"])
        .build()
        .unwrap_err();
    assert!(matches!(err, AgentError::Config(_)), "{err}");
    assert!(err.to_string().contains("everything__echo"), "{err}");
    server.close().await;
}

/// server-everything in streamable HTTP mode on 127.0.0.1 and a port the
/// OS picks; killed when dropped.
struct HttpServer {
    child: Child,
    url: String,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_server(script: &std::path::Path) -> HttpServer {
    let preload = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/loopback.cjs");
    let mut child = std::process::Command::new("node")
        .arg("--require")
        .arg(&preload)
        .arg(script)
        .arg("streamableHttp")
        .env("PORT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(port) = line.strip_prefix("DEEPAGENT_PORT=") {
                let _ = tx.send(port.trim().to_owned());
            }
        }
    });
    let port = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server-everything reports its port");
    HttpServer {
        child,
        url: format!("http://127.0.0.1:{port}/mcp"),
    }
}

#[tokio::test]
async fn streamable_http_on_loopback_lists_calls_and_fails_clearly() {
    let Some(script) = everything() else { return };
    let http = http_server(&script);
    let server = McpServer::http("web", &http.url)
        .connect()
        .await
        .expect("server-everything connects over HTTP");
    assert!(server.pid().is_none());
    assert!(server.tool_names().contains(&"web__get-sum".to_owned()));

    let agent = create_deep_agent()
        .model_impl(Arc::new(one_call(
            "web__echo",
            json!({"message": "over http"}),
        )))
        .toolset(Arc::new(server.clone()))
        .build()
        .unwrap();
    let result = agent.run("echo", &deps()).await.unwrap();
    assert_eq!(result.output, "got: Echo: over http");

    // The server goes away: the next call fails with a result that says so.
    drop(http);
    let result = agent.run("echo", &deps()).await.unwrap();
    let results = tool_results(&result.messages);
    assert!(results[0].2, "{results:?}");
    assert!(results[0].1.contains("MCP server \"web\""), "{results:?}");
    server.close().await;
}

#[tokio::test]
async fn a_missing_program_is_a_spawn_error_naming_it() {
    let cmd = tokio::process::Command::new("/nonexistent/mcp-server");
    let err = McpServer::stdio("gone", cmd).connect().await.unwrap_err();
    assert!(matches!(err, McpError::Spawn { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/mcp-server"), "{err}");

    let err = McpServer::stdio("bad label", tokio::process::Command::new("true"))
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, McpError::Config(_)), "{err}");
}
