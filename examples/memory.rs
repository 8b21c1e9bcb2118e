//! Memory that outlives the run: `/project/AGENTS.md`, on disk through the
//! seed's layout, loaded into the prompt when each run starts and updated
//! by the agent with its file tools.
//!
//! ```sh
//! cargo run -p deepagent --example memory            # uses ./workspace
//! cargo run -p deepagent --example memory -- /tmp/x  # or another directory
//! ```
//!
//! Two runs, each with a new agent and new backends over the same
//! directory: in the first, the user says their name and the agent writes
//! it to its memory file; the second starts with that file in its prompt
//! and knows the name. The model is an offline script unless
//! `DEEPAGENT_MODEL` is set.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use deepagent::memory::DEFAULT_MEMORY_FILE;
use deepagent::models::infer_model;
use deepagent::{
    create_deep_agent, CompositeBackend, DeepAgent, DeepAgentDeps, FunctionModel, LocalBackend,
    Model, ModelRequest, ModelResponse, RunResult, StateBackend,
};
use serde_json::json;

/// What the user says in the first run.
pub const FIRST: &str = "Hi, my name is Ada. Please remember it.";
/// What the user asks in the second.
pub const SECOND: &str = "What is my name?";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let dir: PathBuf = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("./workspace"));
    std::fs::create_dir_all(&dir)?;
    let model: Arc<dyn Model> = match std::env::var("DEEPAGENT_MODEL") {
        Ok(spec) => infer_model(&spec)?,
        Err(_) => {
            println!("(offline: a scripted model; set DEEPAGENT_MODEL for a real one)");
            Arc::new(offline_model())
        }
    };

    let first = run_once(&dir, model.clone(), FIRST).await?;
    println!("run 1> {FIRST}\n{}\n", first.output);
    let memory = std::fs::read_to_string(dir.join("AGENTS.md"))?;
    println!("{}/AGENTS.md now holds:\n{memory}", dir.display());

    let second = run_once(&dir, model, SECOND).await?;
    println!("run 2> {SECOND}\n{}", second.output);
    Ok(())
}

/// One run of a new agent over the seed's layout: `dir` mounted at
/// `/project/`, everything else in memory.
pub async fn run_once(
    dir: &Path,
    model: Arc<dyn Model>,
    prompt: &str,
) -> Result<RunResult, Box<dyn Error>> {
    let backend = CompositeBackend::builder(StateBackend::new())
        .route("/project/", LocalBackend::new(dir)?)
        .build();
    let agent = build_agent(model)?;
    Ok(agent.run(prompt, &DeepAgentDeps::new(backend)).await?)
}

/// An agent whose memory is `/project/AGENTS.md`.
pub fn build_agent(model: Arc<dyn Model>) -> Result<DeepAgent, deepagent::AgentError> {
    create_deep_agent()
        .model_impl(model)
        .memory([DEFAULT_MEMORY_FILE])
        .build()
}

/// The offline model: [`respond`] as a [`FunctionModel`].
pub fn offline_model() -> FunctionModel {
    FunctionModel::new(respond)
}

/// Writes what it is told to remember to its memory file; answers
/// questions from what its prompt's memory says.
pub fn respond(req: &ModelRequest) -> ModelResponse {
    {
        let remembered = req
            .system
            .lines()
            .find_map(|l| l.strip_prefix("- The user's name is "))
            .map(|n| n.trim_end_matches('.').to_owned());
        let asked = req
            .messages
            .iter()
            .rev()
            .find_map(|m| match m {
                deepagent::Message::User { content } => Some(content.clone()),
                _ => None,
            })
            .unwrap_or_default();
        if !req.latest_tool_results().is_empty() {
            return ModelResponse::text("Nice to meet you, Ada. I will remember your name.");
        }
        match (asked.strip_prefix("Hi, my name is "), remembered) {
            (Some(rest), _) => {
                let name = rest.split('.').next().unwrap_or(rest);
                ModelResponse::call(
                    "write_file",
                    json!({
                        "path": DEFAULT_MEMORY_FILE,
                        "content": format!("# Memory\n\n- The user's name is {name}.\n"),
                    }),
                )
            }
            (None, Some(name)) => ModelResponse::text(format!("Your name is {name}.")),
            (None, None) => ModelResponse::text("I do not know your name yet."),
        }
    }
}
