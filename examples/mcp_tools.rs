//! Tools from an MCP server: npm's `@modelcontextprotocol/server-everything`
//! started with node over stdio, its tools offered to the agent as
//! `everything__<tool>`.
//!
//! ```sh
//! cargo run -p deepagent --features mcp --example mcp_tools
//! ```
//!
//! Needs `node` and `npm` (Debian: `apt-get install nodejs npm`). The
//! server package is installed on first use into `target/mcp-servers/`
//! (or point `DEEPAGENT_MCP_EVERYTHING` at its `dist/index.js`). The model
//! is an offline script (add two numbers with the server's `get-sum`,
//! then answer) unless `DEEPAGENT_MODEL` is set.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use deepagent::mcp::McpServer;
use deepagent::models::infer_model;
use deepagent::{create_deep_agent, DeepAgentDeps, FunctionModel, Model, ModelResponse};
use serde_json::json;

/// The server-everything release the tests and this example use.
pub const EVERYTHING_VERSION: &str = "2026.8.31";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let script = match everything_script() {
        Ok(s) => s,
        Err(why) => {
            eprintln!("This example needs node and npm: {why}");
            std::process::exit(2);
        }
    };
    let everything = McpServer::stdio("everything", node_command(&script, "stdio"))
        .connect()
        .await?;
    println!(
        "connected to server-everything (pid {:?}); its tools:",
        everything.pid()
    );
    for name in everything.tool_names() {
        println!("  {name}");
    }

    let model: Arc<dyn Model> = match std::env::var("DEEPAGENT_MODEL") {
        Ok(spec) => infer_model(&spec)?,
        Err(_) => {
            println!("\n(offline: a scripted model; set DEEPAGENT_MODEL for a real one)");
            Arc::new(offline_model())
        }
    };
    let agent = create_deep_agent()
        .model_impl(model)
        .toolset(Arc::new(everything.clone()))
        .build()?;
    let deps = DeepAgentDeps::new(deepagent::StateBackend::new());
    let result = agent
        .run("What is 1234 + 4321? Use the MCP server.", &deps)
        .await?;
    println!("\nAgent output: {}", result.output);
    everything.close().await;
    Ok(())
}

/// Calls `everything__get-sum`, then repeats what it said.
pub fn offline_model() -> FunctionModel {
    FunctionModel::new(|req| match req.latest_tool_results().first() {
        None => ModelResponse::call("everything__get-sum", json!({"a": 1234, "b": 4321})),
        Some((_, result)) => ModelResponse::text(format!("The server says: {result}")),
    })
}

/// `node <script> <transport>` as a tokio command.
pub fn node_command(script: &Path, transport: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(script).arg(transport);
    cmd
}

/// Where server-everything's entry point is, installing the package with
/// npm into `target/mcp-servers/` when it is not there yet. `Err` says
/// what is missing.
pub fn everything_script() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("DEEPAGENT_MCP_EVERYTHING") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!(
                "DEEPAGENT_MCP_EVERYTHING={} is not a file",
                p.display()
            ))
        };
    }
    let ok = |program: &str| {
        Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !ok("node") {
        return Err("`node` is not installed (Debian: apt-get install nodejs npm)".into());
    }
    let dir = servers_dir();
    let script = dir.join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    if script.is_file() {
        return Ok(script);
    }
    if !ok("npm") {
        return Err("`npm` is not installed (Debian: apt-get install npm)".into());
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let out = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .arg(format!(
            "@modelcontextprotocol/server-everything@{EVERYTHING_VERSION}"
        ))
        .output()
        .map_err(|e| format!("npm did not start: {e}"))?;
    if !out.status.success() || !script.is_file() {
        return Err(format!(
            "npm install of server-everything into {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(script)
}

/// `target/mcp-servers` of this workspace (or of `CARGO_TARGET_DIR`).
fn servers_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("mcp-servers")
}
