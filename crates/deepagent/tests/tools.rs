//! Every built-in tool, driven through the real tool loop by offline models.

mod common;

use std::sync::Arc;

use common::{seeded, EchoSandbox};
use deepagent::{
    create_deep_agent, DeepAgentDeps, FunctionModel, Message, ModelResponse, RunResult,
    ScriptedModel, StateBackend, TestModel, TodoStatus,
};
use serde_json::{json, Value};

/// Runs one tool call with `args` and returns what the model was sent.
async fn call(deps: &DeepAgentDeps, name: &str, args: Value) -> String {
    let model = ScriptedModel::new([ModelResponse::call(name, args), ModelResponse::text("done")]);
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .build()
        .unwrap();
    let result = agent.run("go", deps).await.unwrap();
    tool_results(&result).remove(0)
}

fn tool_results(r: &RunResult) -> Vec<String> {
    r.messages
        .iter()
        .filter_map(|m| match m {
            Message::Tool { content, .. } => Some(content.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn test_model_calls_every_tool_with_schema_valid_arguments() {
    let backend = EchoSandbox::default();
    let deps = DeepAgentDeps::new(backend.clone());
    let agent = create_deep_agent()
        .model_impl(Arc::new(TestModel::new()))
        .max_subagent_depth(1)
        .build()
        .unwrap();
    let result = agent.run("exercise the tools", &deps).await.unwrap();
    let summary: Value = serde_json::from_str(&result.output).unwrap();
    let names: Vec<&str> = summary
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for tool in [
        "ls",
        "read_file",
        "write_file",
        "edit_file",
        "glob",
        "grep",
        "execute",
        "write_todos",
        "read_todos",
        "task",
    ] {
        assert!(names.contains(&tool), "{tool} was not called: {names:?}");
    }
    // No call was refused for its arguments.
    for (name, text) in summary.as_object().unwrap() {
        let text = text.as_str().unwrap();
        assert!(!text.contains("Fix the arguments"), "{name}: {text}");
    }
    assert_eq!(summary["write_file"], "Wrote 1 bytes to /a");
    assert_eq!(summary["execute"], "ran: a\n[exit code: 0]");
    assert!(backend.commands.lock().unwrap().contains(&"a".to_owned()));
    // 1 request for the calls + 1 for the answer, plus the subagent's 2.
    assert_eq!(result.usage.requests, 4);
}

#[tokio::test]
async fn ls_lists_dirs_first_with_sizes() {
    let deps = DeepAgentDeps::new(seeded().await);
    assert_eq!(
        call(&deps, "ls", json!({})).await,
        "/src/\n/README.md (18 bytes)"
    );
    assert_eq!(
        call(&deps, "ls", json!({"path": "/nope"})).await,
        "Error: not found: /nope (check the path with ls or glob)"
    );
}

#[tokio::test]
async fn read_file_numbers_lines_and_pages() {
    let deps = DeepAgentDeps::new(seeded().await);
    assert_eq!(
        call(&deps, "read_file", json!({"path": "/src/app.py"})).await,
        "     1\timport os\n     2\t\n     3\tdef main():\n     4\t    print('hi')"
    );
    assert_eq!(
        call(
            &deps,
            "read_file",
            json!({"path": "/src/app.py", "offset": 2, "limit": 1})
        )
        .await,
        "     3\tdef main():\n... (1 more lines; continue with offset=3)"
    );
    let err = call(
        &deps,
        "read_file",
        json!({"path": "/src/app.py", "offset": 9}),
    )
    .await;
    assert!(err.starts_with("Error: offset 9 is past the end"), "{err}");
}

#[tokio::test]
async fn write_then_edit_file() {
    let backend = StateBackend::new();
    let deps = DeepAgentDeps::new(backend.clone());
    assert_eq!(
        call(
            &deps,
            "write_file",
            json!({"path": "notes/a.txt", "content": "x-y-x"})
        )
        .await,
        "Wrote 5 bytes to /notes/a.txt"
    );
    let ambiguous = call(
        &deps,
        "edit_file",
        json!({"path": "/notes/a.txt", "old_string": "x", "new_string": "z"}),
    )
    .await;
    assert!(ambiguous.contains("occurs 2 times"), "{ambiguous}");
    assert_eq!(
        call(
            &deps,
            "edit_file",
            json!({"path": "/notes/a.txt", "old_string": "x", "new_string": "z", "replace_all": true})
        )
        .await,
        "Replaced 2 occurrences in /notes/a.txt"
    );
    let content = deepagent::Backend::read_bytes(&backend, "/notes/a.txt")
        .await
        .unwrap();
    assert_eq!(&content[..], b"z-y-z");
}

#[tokio::test]
async fn glob_finds_files_by_pattern() {
    let deps = DeepAgentDeps::new(seeded().await);
    assert_eq!(
        call(&deps, "glob", json!({"pattern": "**/*.py"})).await,
        "/src/app.py\n/src/util.py"
    );
    assert_eq!(
        call(&deps, "glob", json!({"pattern": "*.rs", "path": "/src"})).await,
        "No files match *.rs under /src"
    );
}

#[tokio::test]
async fn grep_has_three_output_modes() {
    let deps = DeepAgentDeps::new(seeded().await);
    assert_eq!(
        call(&deps, "grep", json!({"pattern": "def \\w+"})).await,
        "/src/app.py\n/src/util.py"
    );
    assert_eq!(
        call(
            &deps,
            "grep",
            json!({"pattern": "def|return", "output_mode": "count"})
        )
        .await,
        "/src/app.py: 1\n/src/util.py: 2"
    );
    assert_eq!(
        call(
            &deps,
            "grep",
            json!({"pattern": "MAIN", "output_mode": "content", "case_insensitive": true})
        )
        .await,
        "/README.md:2: main entry\n/src/app.py:3: def main():"
    );
    assert_eq!(
        call(
            &deps,
            "grep",
            json!({"pattern": "def", "glob": "util*", "output_mode": "content"})
        )
        .await,
        "/src/util.py:1: def helper():"
    );
    let bad = call(&deps, "grep", json!({"pattern": "("})).await;
    assert!(bad.starts_with("Error: invalid pattern \"(\""), "{bad}");
}

#[tokio::test]
async fn execute_is_offered_only_for_sandboxes() {
    let agent = create_deep_agent().model("test").build().unwrap();
    let plain = DeepAgentDeps::new(StateBackend::new());
    let sandbox = DeepAgentDeps::new(EchoSandbox::default());
    let names = |deps: &DeepAgentDeps| -> Vec<String> {
        agent
            .tool_definitions(deps)
            .into_iter()
            .map(|d| d.name)
            .collect()
    };
    assert!(!names(&plain).contains(&"execute".to_owned()));
    assert!(names(&sandbox).contains(&"execute".to_owned()));
    assert!(!agent.system_prompt(&plain).contains("## Shell"));
    assert!(agent.system_prompt(&sandbox).contains("## Shell"));
    // Forced on over a plain store, it explains itself instead of running.
    let model = ScriptedModel::new([
        ModelResponse::call("execute", json!({"command": "ls"})),
        ModelResponse::text("done"),
    ]);
    let forced = create_deep_agent()
        .model_impl(Arc::new(model))
        .include_execute(true)
        .build()
        .unwrap();
    let r = forced.run("go", &plain).await.unwrap();
    assert_eq!(
        tool_results(&r)[0],
        "Error: StateBackend cannot run commands; execute is only available with a sandbox backend"
    );
}

#[tokio::test]
async fn todos_are_written_read_and_kept_after_the_run() {
    let deps = DeepAgentDeps::new(StateBackend::new());
    let out = call(
        &deps,
        "write_todos",
        json!({"todos": [
            {"content": "Write app", "status": "completed"},
            {"content": "Write README", "status": "in_progress"},
            {"content": "Test", "status": "pending"}
        ]}),
    )
    .await;
    assert_eq!(
        out,
        "Updated the todo list:\n1. [x] Write app\n2. [~] Write README\n3. [ ] Test"
    );
    let todos = deps.todos();
    assert_eq!(todos.len(), 3);
    assert_eq!(todos[1].status, TodoStatus::InProgress);
    assert_eq!(
        call(&deps, "read_todos", json!({})).await,
        "1. [x] Write app\n2. [~] Write README\n3. [ ] Test"
    );
    let bad = call(
        &deps,
        "write_todos",
        json!({"todos": [{"content": "x", "status": "done"}]}),
    )
    .await;
    assert!(bad.contains("must be one of \"pending\""), "{bad}");
}

#[tokio::test]
async fn large_results_are_capped_and_saved_for_paging() {
    let backend = StateBackend::new();
    let big: String = (0..500)
        .map(|i| format!("line {i:04} {}\n", "x".repeat(40)))
        .collect();
    deepagent::Backend::write(&backend, "/big.txt", big.clone().into())
        .await
        .unwrap();
    let deps = DeepAgentDeps::new(backend.clone());
    let model = ScriptedModel::new([
        ModelResponse::tool_calls([deepagent::ToolCall::new(
            "call/1",
            "grep",
            json!({"pattern": "line", "output_mode": "content"}),
        )]),
        ModelResponse::text("done"),
    ]);
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .max_tool_result_chars(1000)
        .build()
        .unwrap();
    let r = agent.run("go", &deps).await.unwrap();
    let sent = &tool_results(&r)[0];
    assert!(sent.chars().count() < 1300, "{}", sent.len());
    assert!(
        sent.contains("saved to /large_tool_results/call_1.txt"),
        "{sent}"
    );
    assert!(sent.contains("read it with read_file using offset and limit"));
    let saved = deepagent::Backend::read_bytes(&backend, "/large_tool_results/call_1.txt")
        .await
        .unwrap();
    let saved = String::from_utf8(saved.to_vec()).unwrap();
    assert!(saved.starts_with(&sent[..1000]));
    assert_eq!(saved.lines().count(), 500);
    assert!(saved.starts_with("/big.txt:1: line 0000"));
}

#[tokio::test]
async fn function_model_sees_history_and_tool_definitions() {
    let model = FunctionModel::new(|req| {
        assert!(req.tools.iter().any(|t| t.name == "read_file"));
        assert!(req.system.contains("## Files"));
        match req.latest_tool_results().first() {
            None => ModelResponse::call("ls", json!({"path": "/src"})),
            Some((name, content)) => ModelResponse::text(format!("{name} said: {content}")),
        }
    });
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .build()
        .unwrap();
    let deps = DeepAgentDeps::new(seeded().await);
    let r = agent.run("list", &deps).await.unwrap();
    assert_eq!(
        r.output,
        "ls said: /src/app.py (39 bytes)\n/src/util.py (27 bytes)"
    );
}
