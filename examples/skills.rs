//! Skills: folders with a `SKILL.md`, listed in the system prompt by name
//! and description, read by the model only when a task calls for one.
//!
//! ```sh
//! cargo run -p deepagent --example skills
//! ```
//!
//! The skills live in memory under `/skills/` here (any backend works: a
//! `LocalBackend` directory of skills mounted at `/skills/` is the usual
//! setup). One of them has broken front matter: it is left out, and the
//! prompt says why instead of the run failing. The model is an offline
//! script (read the matching skill, follow it) unless `DEEPAGENT_MODEL`
//! is set.

use std::error::Error;
use std::sync::Arc;

use deepagent::models::infer_model;
use deepagent::skills::{load_skills, DEFAULT_SKILLS_DIR};
use deepagent::{
    create_deep_agent, Backend, DeepAgent, DeepAgentDeps, FunctionModel, Model, ModelResponse,
    StateBackend,
};
use serde_json::json;

/// The skills the example installs: (path, content).
pub const SKILLS: [(&str, &str); 3] = [
    (
        "/skills/haiku/SKILL.md",
        "---\nname: haiku\ndescription: Write a haiku (5-7-5 syllables). Use whenever the user asks for a poem.\n---\n\
# Haiku\n\nWrite three lines of 5, 7 and 5 syllables about the topic, then the word END on its own line.\n",
    ),
    (
        "/skills/release-notes/SKILL.md",
        "---\nname: release-notes\ndescription: >\n  Turn a list of changes into release notes.\n  Use when asked for a changelog.\n---\n\
# Release notes\n\nGroup the changes under Added, Changed and Fixed.\n",
    ),
    (
        "/skills/broken/SKILL.md",
        "---\nname: Broken Skill\n---\nThe name has capitals and there is no description.\n",
    ),
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let backend = StateBackend::new();
    install_skills(&backend).await?;

    let found = load_skills(&backend, &[DEFAULT_SKILLS_DIR]).await;
    println!("skills found: {}", found.skills.len());
    for p in &found.problems {
        println!("left out: {p}");
    }

    let model: Arc<dyn Model> = match std::env::var("DEEPAGENT_MODEL") {
        Ok(spec) => infer_model(&spec)?,
        Err(_) => {
            println!("(offline: a scripted model; set DEEPAGENT_MODEL for a real one)");
            Arc::new(offline_model())
        }
    };
    let agent = build_agent(model)?;
    let deps = DeepAgentDeps::new(backend);
    let prompt = agent.system_prompt_for_run(&deps).await;
    let section = &prompt[prompt.find("## Skills").unwrap_or(0)..];
    println!("\nThe prompt's skills section:\n{section}\n");
    let result = agent.run("Write me a poem about Rust.", &deps).await?;
    println!("Agent output:\n{}", result.output);
    Ok(())
}

/// Writes [`SKILLS`] to the backend.
pub async fn install_skills(backend: &dyn Backend) -> Result<(), Box<dyn Error>> {
    for (path, content) in SKILLS {
        backend.write(path, content.into()).await?;
    }
    Ok(())
}

/// An agent that finds its skills under `/skills/`.
pub fn build_agent(model: Arc<dyn Model>) -> Result<DeepAgent, deepagent::AgentError> {
    create_deep_agent()
        .model_impl(model)
        .skills([DEFAULT_SKILLS_DIR])
        .build()
}

/// Reads the haiku skill named in its prompt, then follows it.
pub fn offline_model() -> FunctionModel {
    FunctionModel::new(|req| match req.latest_tool_results().first() {
        None if req.system.contains("- haiku: ") => {
            ModelResponse::call("read_file", json!({"path": "/skills/haiku/SKILL.md"}))
        }
        None => ModelResponse::text("I have no skill for poems."),
        Some((_, skill)) if skill.contains("then the word END") => ModelResponse::text(
            "Borrow, then return\nthe compiler keeps its watch\nno dangling pointers\nEND",
        ),
        Some(_) => ModelResponse::text("The skill did not say how."),
    })
}
