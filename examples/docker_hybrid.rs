//! The seed's "Docker + Local hybrid" variation: commands and scratch files
//! in an isolated container, `/local/` on the host's disk.
//!
//! ```sh
//! dockerd --bridge=none --iptables=false &          # if no engine is running
//! DEEPAGENT_DOCKER_IMAGE=python:3.12-slim cargo run --example docker_hybrid --features docker
//! ```
//!
//! Every path except `/local/` belongs to a [`DockerSandbox`]: the model
//! writes a script into the container and runs it there (no network, a
//! non-root user, resource limits — see SECURITY.md), then saves the report
//! it produced under `/local/`, which is `./local/` on the host. The
//! container is removed when the last handle is dropped.
//!
//! The image must be present on the engine (`docker image ls`); nothing is
//! pulled behind your back when the engine has no registry access. Without
//! a reachable engine the example says how to start one and exits with
//! status 2. The model is an offline script unless `OPENAI_API_KEY` or
//! `DEEPAGENT_MODEL` is set. `cargo xtask test-docker` runs this example's
//! flow against its locally built Python image.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;

use deepagent::models::infer_model;
use deepagent::{
    create_deep_agent, CompositeBackend, DeepAgentDeps, DockerSandbox, FunctionModel, LocalBackend,
    Message, Model, ModelResponse, RuntimeConfig,
};
use serde_json::json;

/// The image used when `DEEPAGENT_DOCKER_IMAGE` is not set.
pub const DEFAULT_IMAGE: &str = "python:3.12-slim";

/// The script the offline model writes into the container.
pub const SCRIPT: &str = "\
import statistics
samples = [3.1, 2.7, 3.4, 2.9, 3.3]
print(f\"n={len(samples)} mean={statistics.mean(samples):.2f}\")
";

const INSTRUCTIONS: &str = "
    You analyse data.

    File organization:
    - /local/ - Files on the user's machine (keep your reports here)
    - everything else - An isolated container with python3; run commands there
";

const PROMPT: &str = "Compute the mean of the samples with a Python script \
    and save a one-line report to /local/report.md.";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let image = std::env::var("DEEPAGENT_DOCKER_IMAGE").unwrap_or_else(|_| DEFAULT_IMAGE.into());
    if !deepagent::backends::docker::engine_available().await {
        eprintln!(
            "No Docker engine answers at {}.\n\
             Start one (as root: `dockerd --bridge=none --iptables=false &`), or point \
             DOCKER_HOST at a running engine, then run this example again.",
            deepagent::backends::docker::engine_address()
        );
        std::process::exit(2);
    }
    let model = choose_model()?;
    let report = run_example(Path::new("./local"), &image, "docker-hybrid-example", model).await?;

    println!("Agent output:\n{}\n", report.output);
    println!("The container printed: {}", report.command_output.trim());
    println!("./local/report.md on the host:\n{}", report.local_report);
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
    /// What the command in the container printed, as the model saw it.
    pub command_output: String,
    /// `report.md` as it is on the host disk.
    pub local_report: String,
    /// The container's name (removed once the run's handles are dropped).
    pub container: String,
}

/// The variation with the host directory, the image, the session name and
/// the model as parameters (the Docker test runs it in a temporary
/// directory with the locally built test image).
pub async fn run_example(
    local_dir: &Path,
    image: &str,
    session: &str,
    model: Arc<dyn Model>,
) -> Result<Report, Box<dyn Error>> {
    std::fs::create_dir_all(local_dir)?;
    // Isolated execution: networking off, a non-root user, limits.
    let sandbox = DockerSandbox::builder(RuntimeConfig::new("python", image))
        .session(session)
        .build()?;
    let container = sandbox.container_name().to_owned();

    let backend = CompositeBackend::builder(sandbox) // default: the container
        .route("/local/", LocalBackend::new(local_dir)?) // local access
        .build();

    let agent = create_deep_agent()
        .model_impl(model)
        .instructions(INSTRUCTIONS)
        .build()?;
    let deps = DeepAgentDeps::new(backend);
    let result = agent.run(PROMPT, &deps).await?;

    let command_output = result
        .messages
        .iter()
        .find_map(|m| match m {
            Message::Tool { name, content, .. } if name == "execute" => Some(content.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let local_report = std::fs::read_to_string(local_dir.join("report.md")).unwrap_or_default();
    // `deps` holds the last handle to the sandbox: dropping it at the end
    // of this function removes the container.
    Ok(Report {
        output: result.output,
        command_output,
        local_report,
        container,
    })
}

/// Writes the script into the container, runs it there, and saves the
/// line it printed to `/local/report.md` on the host.
pub fn offline_model() -> FunctionModel {
    FunctionModel::new(|req| match req.assistant_turns() {
        0 => ModelResponse::call(
            "write_file",
            json!({"path": "/workspace/stats.py", "content": SCRIPT}),
        ),
        1 => ModelResponse::call("execute", json!({"command": "python3 /workspace/stats.py"})),
        2 => {
            let printed = req
                .messages
                .iter()
                .rev()
                .find_map(|m| match m {
                    Message::Tool { name, content, .. } if name == "execute" => content
                        .lines()
                        .find(|l| l.starts_with("n="))
                        .map(str::to_owned),
                    _ => None,
                })
                .unwrap_or_else(|| "the script printed nothing".to_owned());
            ModelResponse::call(
                "write_file",
                json!({"path": "/local/report.md", "content": format!("# Samples\n\n{printed}\n")}),
            )
        }
        _ => ModelResponse::text(
            "Ran /workspace/stats.py in the container and saved the result to /local/report.md.",
        ),
    })
}
