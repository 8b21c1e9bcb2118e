//! Combine backends with path-based routing: project files on disk,
//! scratch files in memory.
//!
//! ```sh
//! export OPENAI_API_KEY=...            # optional; DEEPAGENT_MODEL picks another model
//! cargo run --example composite_backend
//! ```
//!
//! Without an API key the example says so and runs a built-in offline demo
//! model that performs the same four steps through the real tool loop, so
//! the routing is visible anywhere: `/project/...` lands in `./workspace/`
//! on disk (the mount sees paths relative to itself, so
//! `/project/src/app.py` is `./workspace/src/app.py`), while
//! `/scratch/notes.txt` exists only in memory.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;

use deepagent::models::{demo, infer_model};
use deepagent::{
    create_deep_agent, Backend, CompositeBackend, DeepAgentDeps, GlobQuery, LocalBackend, Model,
    StateBackend,
};

const INSTRUCTIONS: &str = "
    You are a project assistant.

    File organization:
    - /project/ - Persistent project files (saved to disk)
    - /workspace/ - Working files (saved to disk)
    - /temp/ or /scratch/ - Temporary files (in memory only)

    Use the appropriate location based on whether files should persist.
";

const PROMPT: &str = "Create a small Python project:
    1. Create /project/src/app.py with a simple Flask app
    2. Create /project/requirements.txt with dependencies
    3. Create /scratch/notes.txt with implementation notes (temporary)
    4. Create /project/README.md with project description
";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let model = choose_model()?;
    let report = run_example(Path::new("./workspace"), model).await?;

    println!("Agent output:");
    println!("{}", report.output);

    // Show what's in memory (temporary files)
    println!("\nTemporary files (in memory):");
    for path in &report.memory_paths {
        println!("  {path}");
    }

    println!(
        "\nPersistent files (on disk; the agent sees ./workspace/ as /project/ and /workspace/):"
    );
    for path in &report.disk_paths {
        println!("  ./workspace{path}");
    }
    Ok(())
}

/// The real model when a key is set, the offline demo otherwise.
fn choose_model() -> Result<Arc<dyn Model>, Box<dyn Error>> {
    if let Ok(spec) = std::env::var("DEEPAGENT_MODEL") {
        return Ok(infer_model(&spec)?);
    }
    if std::env::var("OPENAI_API_KEY").is_ok_and(|k| !k.trim().is_empty()) {
        return Ok(infer_model("openai:gpt-4.1")?);
    }
    println!("OPENAI_API_KEY is not set: running the built-in offline demo model (set it, or DEEPAGENT_MODEL, to use a real model).");
    Ok(Arc::new(demo::demo_model()))
}

/// What the run left behind.
pub struct Report {
    /// The agent's final answer.
    pub output: String,
    /// Paths stored in memory.
    pub memory_paths: Vec<String>,
    /// Paths stored on disk, relative to the workspace directory.
    pub disk_paths: Vec<String>,
}

/// The seed's example, with the workspace directory and the model as
/// parameters (the integration test runs it in a temporary directory).
pub async fn run_example(
    workspace: &Path,
    model: Arc<dyn Model>,
) -> Result<Report, Box<dyn Error>> {
    // Create backends:
    // - StateBackend for temporary/scratch files
    // - LocalBackend for persistent project files
    let memory_backend = StateBackend::new();
    let local_backend = LocalBackend::new(workspace)?;

    // Create composite backend with routing rules
    let backend = CompositeBackend::builder(memory_backend.clone()) // default: memory
        .route("/project/", local_backend.clone()) // project files go to disk
        .route("/workspace/", local_backend.clone()) // workspace files go to disk
        .build();

    // Create the agent
    let agent = create_deep_agent()
        .model_impl(model)
        .instructions(INSTRUCTIONS)
        .build()?;

    let deps = DeepAgentDeps::new(backend);

    // Run the agent
    let result = agent.run(PROMPT, &deps).await?;

    let disk = local_backend.glob(&GlobQuery::new("**/*")).await?;
    Ok(Report {
        output: result.output,
        memory_paths: memory_backend.paths(),
        disk_paths: disk.files.into_iter().map(|f| f.path).collect(),
    })
}
