//! The seed's "read-only source + writable workspace" variation: source
//! files on disk that the agent may read but never change, and a workspace
//! in memory for everything it writes.
//!
//! ```sh
//! cargo run --example readonly_source
//! ```
//!
//! The source directory is a temporary copy of a small Python module, so the
//! example runs anywhere and leaves nothing behind. The offline model (a
//! script, unless `OPENAI_API_KEY` or `DEEPAGENT_MODEL` is set) reads
//! `/src/calc.py`, tries to fix it in place — the [`ReadOnly`] layer refuses
//! and the model is told why — and writes the fixed copy to
//! `/workspace/calc.py` instead, which lives in memory.
//!
//! Unlike the Python original, where `enable_execute=False` only turns the
//! shell off, the source mount here refuses every change (`write`, `edit`,
//! `delete`, `rename`, `upload`) before the disk is touched, and says so in
//! the mount description the model reads.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;

use deepagent::layers::ReadOnly;
use deepagent::models::infer_model;
use deepagent::{
    create_deep_agent, Backend, CompositeBackend, DeepAgentDeps, FunctionModel, LocalBackend,
    Message, Model, ModelResponse, StateBackend,
};
use serde_json::json;

/// The source file the example starts from: it has a bug to fix.
pub const SOURCE: &str = "def add(a, b):\n    return a - b\n";

/// The fix the offline model writes to the workspace.
pub const FIXED: &str = "def add(a, b):\n    return a + b\n";

const INSTRUCTIONS: &str = "
    You review code.

    File organization:
    - /src/ - The project's source (read-only: never change it)
    - /workspace/ - Your working copies (in memory)
";

const PROMPT: &str = "Fix the bug in /src/calc.py.";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let source = tempfile::tempdir()?;
    std::fs::write(source.path().join("calc.py"), SOURCE)?;

    let report = run_example(source.path(), choose_model()?).await?;
    println!("Agent output:\n{}\n", report.output);
    println!(
        "/src/calc.py on disk, unchanged:\n{}",
        std::fs::read_to_string(source.path().join("calc.py"))?
    );
    match &report.workspace_copy {
        Some(copy) => println!("/workspace/calc.py, in memory:\n{copy}"),
        None => println!("(the model wrote no /workspace/calc.py)"),
    }
    Ok(())
}

/// The real model when configured, the offline script otherwise.
fn choose_model() -> Result<Arc<dyn Model>, Box<dyn Error>> {
    if let Ok(spec) = std::env::var("DEEPAGENT_MODEL") {
        return Ok(infer_model(&spec)?);
    }
    if std::env::var("OPENAI_API_KEY").is_ok_and(|k| !k.trim().is_empty()) {
        return Ok(infer_model("openai:gpt-4.1")?);
    }
    println!("(offline: a scripted model; set OPENAI_API_KEY or DEEPAGENT_MODEL for a real one)\n");
    Ok(Arc::new(offline_model()))
}

/// What the run left behind.
pub struct Report {
    /// The agent's final answer.
    pub output: String,
    /// What the model was told when it tried to write to `/src/`.
    pub refusal: Option<String>,
    /// `/workspace/calc.py` in the in-memory workspace, if written.
    pub workspace_copy: Option<String>,
}

/// The variation with the source directory and the model as parameters
/// (the integration test runs it in a temporary directory).
pub async fn run_example(source: &Path, model: Arc<dyn Model>) -> Result<Report, Box<dyn Error>> {
    // Source files are read-only: the layer refuses every change, and a
    // LocalBackend has no shell unless asked for one.
    let source_backend = ReadOnly::new(LocalBackend::new(source)?);
    // Workspace for modifications.
    let workspace_backend = StateBackend::new();

    let backend = CompositeBackend::builder(workspace_backend.clone())
        .route("/src/", source_backend)
        .build();

    let agent = create_deep_agent()
        .model_impl(model)
        .instructions(INSTRUCTIONS)
        .build()?;
    let result = agent.run(PROMPT, &DeepAgentDeps::new(backend)).await?;

    let refusal = result.messages.iter().find_map(|m| match m {
        Message::Tool { name, content, .. }
            if name == "write_file" && content.contains("read-only") =>
        {
            Some(content.clone())
        }
        _ => None,
    });
    let workspace_copy = match workspace_backend.read_bytes("/workspace/calc.py").await {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(_) => None,
    };
    Ok(Report {
        output: result.output,
        refusal,
        workspace_copy,
    })
}

/// Reads the source, tries to fix it in place, then writes the fix to the
/// workspace and reports what each tool said.
pub fn offline_model() -> FunctionModel {
    FunctionModel::new(|req| match req.assistant_turns() {
        0 => ModelResponse::call("read_file", json!({"path": "/src/calc.py"})),
        1 => ModelResponse::call(
            "write_file",
            json!({"path": "/src/calc.py", "content": FIXED}),
        ),
        2 => ModelResponse::call(
            "write_file",
            json!({"path": "/workspace/calc.py", "content": FIXED}),
        ),
        _ => {
            let mut report = String::from("What happened:");
            for m in &req.messages {
                if let Message::Tool { name, content, .. } = m {
                    let first = content.lines().next().unwrap_or_default();
                    report.push_str(&format!("\n- {name}: {first}"));
                }
            }
            ModelResponse::text(report)
        }
    })
}
