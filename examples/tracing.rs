//! The spans of a run, printed by `tracing-subscriber`: the run
//! (`invoke_agent`), each model request (`chat`), each tool call
//! (`execute_tool`) and each backend operation (`backend`, from the
//! `Traced` layer), with OpenTelemetry GenAI attributes
//! (`gen_ai.operation.name`, `gen_ai.request.model`,
//! `gen_ai.usage.input_tokens`, `gen_ai.tool.name`, ...).
//!
//! ```sh
//! cargo run --example tracing        # offline: the test model
//! ```
//!
//! To send the spans to an OpenTelemetry collector instead, build with the
//! `otel` feature and add `deepagent::telemetry::otlp::layer(..)` to the
//! subscriber.

use std::error::Error;
use std::sync::Arc;

use deepagent::telemetry::Traced;
use deepagent::{create_deep_agent, DeepAgentDeps, StateBackend, TestModel};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::fmt::MakeWriter;

/// A subscriber that prints each span when it closes, with its fields,
/// backend operations (`DEBUG`) included; colored when `ansi`.
pub fn subscriber<W>(writer: W, ansi: bool) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(ansi)
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(FmtSpan::CLOSE)
        .with_target(false)
        .without_time()
        .finish()
}

/// One offline run: the test model writes a file and lists the root.
pub async fn run_example() -> Result<String, Box<dyn Error>> {
    let model = TestModel::new()
        .call_tools(["write_file", "ls"])
        .with_args(
            "write_file",
            serde_json::json!({"path": "/notes.txt", "content": "traced"}),
        )
        .final_text("Wrote /notes.txt.");
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .include_subagents(false)
        .build()?;
    let deps = DeepAgentDeps::new(Traced::new(StateBackend::new()));
    Ok(agent.run("Write a note.", &deps).await?.output)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    use std::io::IsTerminal;
    let ansi = std::io::stdout().is_terminal();
    tracing::subscriber::set_global_default(subscriber(std::io::stdout, ansi))?;
    let output = run_example().await?;
    println!("\nAgent: {output}");
    Ok(())
}
