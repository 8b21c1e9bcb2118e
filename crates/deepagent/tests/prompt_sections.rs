//! Fitting the system prompt: built-in sections replaced, dropped or
//! computed by name, and instructions computed from the run's context
//! before every model request. The rendered variants are pinned.

use std::sync::{Arc, Mutex};

use deepagent::prompt::{self, PromptParts, PromptSection};
use deepagent::{
    create_deep_agent, DeepAgentBuilder, DeepAgentDeps, FunctionModel, Message, ModelResponse,
    StateBackend, SubAgent,
};
use serde_json::json;

struct Customer(&'static str);

fn base() -> DeepAgentBuilder {
    create_deep_agent()
        .model("test")
        .instructions("You help with the release.")
        .subagent(SubAgent::new(
            "checker",
            "Checks a release note.",
            "You check release notes.",
        ))
}

fn deps() -> DeepAgentDeps {
    DeepAgentDeps::new(StateBackend::new()).with_dep(Customer("Acme Corp"))
}

#[test]
fn sections_are_named_in_prompt_order() {
    let mut parts = PromptParts::default();
    parts.filesystem = true;
    parts.execute = true;
    parts.todos = true;
    parts.subagents = vec![("a", "b")];
    parts.instructions = Some("x");
    let names: Vec<&str> = prompt::sections(&parts)
        .iter()
        .map(|(s, _)| s.name())
        .collect();
    assert_eq!(
        names,
        [
            "base",
            "filesystem",
            "execute",
            "todos",
            "subagents",
            "instructions"
        ]
    );
    assert_eq!(
        prompt::render(&prompt::sections(&parts)),
        prompt::assemble(&parts)
    );
}

#[test]
fn system_prompt_with_sections_replaced_and_dropped() {
    let agent = base()
        .prompt_section(
            PromptSection::Base,
            "
            You are the release bot of a small team.
            Be brief; never guess a version number.
            ",
        )
        .without_prompt_section(PromptSection::Todos)
        .without_prompt_section(PromptSection::Subagents)
        // Not offered (no sandbox), so this replacement never shows.
        .prompt_section(PromptSection::Execute, "## Shell\nNEVER SHOWN")
        .build()
        .unwrap();
    let text = agent.system_prompt(&deps());
    assert!(!text.contains("NEVER SHOWN"));
    assert!(!text.contains("## Planning") && !text.contains("## Subagents"));
    insta::assert_snapshot!(text);
}

#[test]
fn system_prompt_with_computed_sections_and_instructions() {
    let agent = base()
        .prompt_section_fn(PromptSection::Filesystem, |ctx| {
            ctx.default
                .map(|d| format!("{d}\n- Release notes go in /release/NOTES.md."))
        })
        .prompt_section_fn(PromptSection::Subagents, |_| None)
        .instructions_fn(|ctx| match ctx.deps.dep::<Customer>() {
            Some(c) => format!("The customer is {}. Model: {}.", c.0, ctx.model),
            None => String::new(),
        })
        .instructions_fn(|_| String::new())
        .build()
        .unwrap();
    let text = agent.system_prompt(&deps());
    assert!(text.ends_with(
        "## Instructions\nYou help with the release.\n\nThe customer is Acme Corp. Model: test."
    ));
    insta::assert_snapshot!(text);
}

#[test]
fn computed_instructions_make_an_instructions_section_when_there_is_none() {
    let agent = create_deep_agent()
        .model("test")
        .include_filesystem(false)
        .include_todo(false)
        .include_subagents(false)
        .instructions_fn(|_| "    Answer in French.\n".into())
        .build()
        .unwrap();
    let text = agent.system_prompt(&deps());
    insta::assert_snapshot!(text);
}

#[tokio::test]
async fn instructions_are_computed_again_before_every_request() {
    let systems = Arc::new(Mutex::new(Vec::<(bool, String)>::new()));
    let log = systems.clone();
    let model = FunctionModel::new(move |req| {
        let sub = matches!(req.messages.first(), Some(Message::User { content }) if content == "check it");
        log.lock().unwrap().push((sub, req.system.clone()));
        match (sub, req.assistant_turns()) {
            (false, 0) => ModelResponse::call(
                "write_todos",
                json!({"todos": [{"content": "draft", "status": "in_progress"}]}),
            ),
            (false, 1) => ModelResponse::call(
                "task",
                json!({"description": "check it", "subagent_type": "checker"}),
            ),
            (true, _) => ModelResponse::text("fine"),
            (false, _) => ModelResponse::text("done"),
        }
    });
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .instructions("Fixed.")
        .prompt_section(PromptSection::Base, "You are the release bot.")
        .prompt_section(PromptSection::Instructions, "## Instructions\nMAIN ONLY")
        .instructions_fn(|ctx| {
            format!(
                "Requests so far: {}. Open todos: {}.",
                ctx.usage.requests,
                ctx.deps.todos().len()
            )
        })
        .subagent(SubAgent::new("checker", "Checks.", "You check."))
        .build()
        .unwrap();
    let r = agent.run("release", &deps()).await.unwrap();
    assert_eq!(r.output, "done");
    let systems = systems.lock().unwrap();
    let main: Vec<&String> = systems.iter().filter(|(s, _)| !s).map(|(_, t)| t).collect();
    assert_eq!(main.len(), 3);
    assert!(
        main[0].ends_with("MAIN ONLY\n\nRequests so far: 0. Open todos: 0."),
        "{}",
        main[0]
    );
    assert!(
        main[1].ends_with("Requests so far: 1. Open todos: 1."),
        "{}",
        main[1]
    );
    // The subagent's request was the third of the run tree.
    assert!(
        main[2].ends_with("Requests so far: 3. Open todos: 1."),
        "{}",
        main[2]
    );
    // The subagent: the replaced base, its own instructions, nothing computed.
    let sub: Vec<&String> = systems.iter().filter(|(s, _)| *s).map(|(_, t)| t).collect();
    assert_eq!(sub.len(), 1);
    assert!(
        sub[0].starts_with("You are the release bot.\n\n"),
        "{}",
        sub[0]
    );
    assert!(
        sub[0].ends_with("## Instructions\nYou check."),
        "{}",
        sub[0]
    );
    assert!(!sub[0].contains("MAIN ONLY") && !sub[0].contains("Requests so far"));
}

#[test]
fn a_later_override_of_a_section_replaces_an_earlier_one() {
    let agent = base()
        .without_prompt_section(PromptSection::Base)
        .prompt_section(PromptSection::Base, "Second.")
        .build()
        .unwrap();
    assert!(agent
        .system_prompt(&deps())
        .starts_with("Second.\n\n## Files"));
    let dropped = base()
        .prompt_section(PromptSection::Base, "First.")
        .without_prompt_section(PromptSection::Base)
        .build()
        .unwrap();
    assert!(dropped.system_prompt(&deps()).starts_with("## Files"));
}
