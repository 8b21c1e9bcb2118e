//! The model-facing text, pinned: tool schemas and descriptions, and the
//! assembled system prompt. A change here changes what every model sees,
//! so it should show up in review.

mod common;

use std::sync::Arc;

use common::EchoSandbox;
use deepagent::{create_deep_agent, DeepAgent, DeepAgentDeps, StateBackend, SubAgent, TestModel};

fn agent() -> DeepAgent {
    create_deep_agent()
        .model_impl(Arc::new(TestModel::new()))
        .instructions(
            "
            You are a project assistant.

            File organization:
            - /project/ - Persistent project files (saved to disk)
            - /temp/ or /scratch/ - Temporary files (in memory only)
            ",
        )
        .subagent(SubAgent::new(
            "code-reviewer",
            "Reviews code for bugs and style; give it the paths to review.",
            "You are a careful code reviewer.",
        ))
        .build()
        .unwrap()
}

#[test]
fn tool_definitions() {
    let deps = DeepAgentDeps::new(EchoSandbox::default());
    let defs = agent().tool_definitions(&deps);
    insta::assert_snapshot!(serde_json::to_string_pretty(&defs).unwrap());
}

#[test]
fn system_prompt_for_a_composite() {
    let dir = tempfile::tempdir().unwrap();
    let local = deepagent::LocalBackend::new(dir.path()).unwrap();
    let backend = deepagent::CompositeBackend::builder(StateBackend::new())
        .route("/project/", local)
        .build();
    insta::assert_snapshot!(agent().system_prompt(&DeepAgentDeps::new(backend)));
}

#[test]
fn system_prompt_for_a_sandbox() {
    insta::assert_snapshot!(agent().system_prompt(&DeepAgentDeps::new(EchoSandbox::default())));
}

#[test]
fn minimal_system_prompt() {
    let agent = create_deep_agent()
        .model("test")
        .include_filesystem(false)
        .include_todo(false)
        .include_subagents(false)
        .build()
        .unwrap();
    insta::assert_snapshot!(agent.system_prompt(&DeepAgentDeps::new(StateBackend::new())));
}
