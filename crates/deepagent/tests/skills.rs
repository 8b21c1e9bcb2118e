//! Skills end to end through `examples/skills.rs`: found on the backend,
//! listed in the prompt by name and description only, read on demand, and
//! a broken `SKILL.md` reported instead of failing the run.

#[allow(dead_code)]
#[path = "../../../examples/skills.rs"]
mod example;

use std::sync::Arc;

use deepagent::skills::{load_skills, DEFAULT_SKILLS_DIR};
use deepagent::{Backend, DeepAgentDeps, Message, StateBackend};

async fn installed() -> StateBackend {
    let backend = StateBackend::new();
    example::install_skills(&backend).await.unwrap();
    backend
}

fn skills_section(prompt: &str) -> &str {
    let start = prompt.find("## Skills").expect("a skills section");
    let rest = &prompt[start..];
    // The section runs to the next one (or the end).
    match rest[2..].find("\n## ") {
        Some(end) => &rest[..end + 2],
        None => rest,
    }
}

#[tokio::test]
async fn the_prompt_lists_names_descriptions_and_paths_only() {
    let backend = installed().await;
    let agent = example::build_agent(Arc::new(example::offline_model())).unwrap();
    let prompt = agent
        .system_prompt_for_run(&DeepAgentDeps::new(backend))
        .await;
    insta::assert_snapshot!("skills_prompt_section", skills_section(&prompt));
    // Progressive disclosure: the bodies stay out of the prompt.
    assert!(!prompt.contains("then the word END"));
    assert!(!prompt.contains("Group the changes"));
}

#[tokio::test]
async fn the_model_reads_a_skill_on_demand_and_follows_it() {
    let backend = installed().await;
    let agent = example::build_agent(Arc::new(example::offline_model())).unwrap();
    let result = agent
        .run("Write me a poem", &DeepAgentDeps::new(backend))
        .await
        .unwrap();
    assert!(result.output.ends_with("END"), "{}", result.output);
    let read = result.messages.iter().any(|m| {
        matches!(m, Message::Tool { name, content, is_error: false, .. }
            if name == "read_file" && content.contains("# Haiku"))
    });
    assert!(read, "{:#?}", result.messages);
}

#[tokio::test]
async fn bad_front_matter_is_reported_not_fatal() {
    let backend = installed().await;
    backend
        .write("/skills/no-front/SKILL.md", "# just a body\n".into())
        .await
        .unwrap();
    backend
        .write("/skills/not-a-skill/README.md", "no SKILL.md here".into())
        .await
        .unwrap();
    let found = load_skills(&backend, &[DEFAULT_SKILLS_DIR, "/missing/"]).await;
    let names: Vec<&str> = found.skills.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["haiku", "release-notes"]);
    let problems: Vec<String> = found.problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("/skills/broken/SKILL.md: the front matter has no `description`"),
        "{problems:?}"
    );
    assert!(
        problems[1]
            .starts_with("/skills/no-front/SKILL.md: SKILL.md must start with YAML front matter"),
        "{problems:?}"
    );

    // The run goes on, and the model hears what was left out.
    let agent = example::build_agent(Arc::new(example::offline_model())).unwrap();
    let deps = DeepAgentDeps::new(backend);
    let prompt = agent.system_prompt_for_run(&deps).await;
    assert!(prompt.contains("could not be loaded"));
    assert!(prompt.contains("/skills/no-front/SKILL.md"));
    agent.run("Write me a poem", &deps).await.unwrap();
}

#[tokio::test]
async fn a_later_folder_overrides_a_skill_of_the_same_name() {
    let backend = installed().await;
    backend
        .write(
            "/project/skills/haiku/SKILL.md",
            "---\nname: haiku\ndescription: The project's own haiku rules.\n---\n".into(),
        )
        .await
        .unwrap();
    let found = load_skills(&backend, &["/skills/", "/project/skills/"]).await;
    let haiku = found.skills.iter().find(|s| s.name == "haiku").unwrap();
    assert_eq!(haiku.path, "/project/skills/haiku/SKILL.md");
    assert_eq!(haiku.description, "The project's own haiku rules.");
}

#[tokio::test]
async fn no_skills_no_section() {
    let agent = example::build_agent(Arc::new(example::offline_model())).unwrap();
    let prompt = agent
        .system_prompt_for_run(&DeepAgentDeps::new(StateBackend::new()))
        .await;
    assert!(!prompt.contains("## Skills"));
}
