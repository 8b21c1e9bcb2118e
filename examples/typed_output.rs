//! Typed tools and a typed answer: the tool's argument schema and the
//! run's output schema both come from Rust types (`schemars`), and the
//! answer arrives as a struct, validated.
//!
//! ```sh
//! cargo run --example typed_output                   # offline: a scripted model
//! DEEPAGENT_MODEL=openai:gpt-4.1 cargo run --example typed_output
//! ```
//!
//! OpenAI gets the schema as `response_format: json_schema`; Anthropic
//! through a `final_result` tool it must call; an answer that does not fit
//! goes back to the model with the problem.

use std::error::Error;
use std::sync::Arc;

use deepagent::models::infer_model;
use deepagent::{
    create_deep_agent, typed_tool, DeepAgent, DeepAgentDeps, FunctionModel, Model, ModelResponse,
    StateBackend, ToolError,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

/// Arguments of the `line_count` tool.
#[derive(Deserialize, JsonSchema)]
pub struct LineCount {
    /// Absolute path of the file.
    pub path: String,
}

/// What the run answers.
#[derive(Debug, Deserialize, JsonSchema, PartialEq)]
pub struct Report {
    /// The files looked at.
    pub files: Vec<String>,
    /// Lines in all of them.
    pub total_lines: u64,
    /// One sentence on what the code does.
    pub summary: String,
}

const PROMPT: &str = "Count the lines of /src/main.rs and /src/lib.rs with line_count, \
    and report them.";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (report, requests) = run_example(choose_model()?).await?;
    println!("{report:#?}");
    println!("({requests} model requests)");
    Ok(())
}

/// Runs the example over a fresh in-memory backend; the report and the
/// number of model requests.
pub async fn run_example(model: Arc<dyn Model>) -> Result<(Report, u64), Box<dyn Error>> {
    let backend = StateBackend::with_files([
        ("/src/main.rs", "fn main() {\n    app::run();\n}\n"),
        ("/src/lib.rs", "pub fn run() {\n    println!(\"hi\");\n}\n"),
    ])?;
    let deps = DeepAgentDeps::new(backend);
    let result = agent(model)?.run_typed::<Report>(PROMPT, &deps).await?;
    Ok((result.output, result.usage.requests))
}

fn agent(model: Arc<dyn Model>) -> Result<DeepAgent, Box<dyn Error>> {
    let line_count = typed_tool(
        "line_count",
        "Counts the lines of a text file.",
        |ctx, args: LineCount| async move {
            let bytes = ctx.backend.read_bytes(&args.path).await?;
            let lines = deepagent::text::count_lines(&bytes);
            Ok::<_, ToolError>(format!("{}: {lines} lines", args.path))
        },
    );
    Ok(create_deep_agent()
        .model_impl(model)
        .include_subagents(false)
        .tool(line_count)
        .build()?)
}

/// A real model when `DEEPAGENT_MODEL` is set, the offline script
/// otherwise.
fn choose_model() -> Result<Arc<dyn Model>, Box<dyn Error>> {
    if let Ok(spec) = std::env::var("DEEPAGENT_MODEL") {
        return Ok(infer_model(&spec)?);
    }
    println!("(offline: a scripted model; set DEEPAGENT_MODEL=openai:gpt-4.1 for a real one)");
    Ok(Arc::new(offline_model()))
}

/// Counts both files, first answers with a report missing a field (the
/// agent sends the problem back), then with a complete one.
pub fn offline_model() -> FunctionModel {
    FunctionModel::new(|req| match req.assistant_turns() {
        0 => ModelResponse::tool_calls([
            deepagent::ToolCall::new("c1", "line_count", json!({"path": "/src/main.rs"})),
            deepagent::ToolCall::new("c2", "line_count", json!({"path": "/src/lib.rs"})),
        ]),
        1 => ModelResponse::text(r#"{"files": ["/src/main.rs", "/src/lib.rs"], "total_lines": 6}"#),
        _ => ModelResponse::text(
            json!({
                "files": ["/src/main.rs", "/src/lib.rs"],
                "total_lines": 6,
                "summary": "A binary whose main calls the library's run, which prints hi."
            })
            .to_string(),
        ),
    })
}
