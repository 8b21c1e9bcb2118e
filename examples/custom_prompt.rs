//! Fitting the system prompt: replace the built-in base section, drop the
//! planning section, extend the files section, and add instructions
//! computed from the run (the signed-in user, the open todos) before every
//! model request.
//!
//! ```sh
//! cargo run --example custom_prompt     # offline: prints the prompt each request saw
//! ```

use std::error::Error;
use std::sync::{Arc, Mutex};

use deepagent::prompt::PromptSection;
use deepagent::{
    create_deep_agent, DeepAgent, DeepAgentDeps, FunctionModel, ModelResponse, StateBackend,
};
use serde_json::json;

/// The program's notion of who is asking.
pub struct SignedIn {
    /// The user's name.
    pub name: String,
}

/// The agent, fitted.
pub fn agent(model: FunctionModel) -> Result<DeepAgent, Box<dyn Error>> {
    Ok(create_deep_agent()
        .model_impl(Arc::new(model))
        .include_subagents(false)
        .prompt_section(
            PromptSection::Base,
            "You are the changelog keeper of a small Rust project. Be brief.",
        )
        .without_prompt_section(PromptSection::Todos)
        .prompt_section_fn(PromptSection::Filesystem, |ctx| {
            ctx.default
                .map(|d| format!("{d}\n- The changelog is /CHANGELOG.md; add entries at the top."))
        })
        .instructions_fn(|ctx| {
            let who = ctx
                .deps
                .dep::<SignedIn>()
                .map_or("someone", |u| u.name.as_str());
            format!(
                "You are talking to {who}. This is model request {} of the run.",
                ctx.usage.requests + 1
            )
        })
        .build()?)
}

/// Runs the example; the system prompt of each model request, in order.
pub async fn run_example() -> Result<Vec<String>, Box<dyn Error>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let model = FunctionModel::new(move |req| {
        log.lock().unwrap().push(req.system.clone());
        match req.assistant_turns() {
            0 => ModelResponse::call(
                "write_file",
                json!({"path": "/CHANGELOG.md", "content": "## 0.2.0\n- Typed runs.\n"}),
            ),
            _ => ModelResponse::text("Added the 0.2.0 entry."),
        }
    });
    let deps = DeepAgentDeps::new(StateBackend::new()).with_dep(SignedIn { name: "Ada".into() });
    agent(model)?
        .run("Note typed runs in the changelog.", &deps)
        .await?;
    let systems = seen.lock().unwrap().clone();
    Ok(systems)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    for (i, system) in run_example().await?.iter().enumerate() {
        println!("--- system prompt of request {} ---\n{system}\n", i + 1);
    }
    Ok(())
}
