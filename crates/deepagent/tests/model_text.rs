//! What the model reads back from the file and todo tools in the cases
//! where the raw result would mislead it: binary files, edits that miss
//! only by line endings, and todo lists written twice in one turn. The
//! exact text is pinned by insta snapshots.

mod common;

use std::sync::Arc;

use common::tool_results;

use deepagent::{
    create_deep_agent, Backend, DeepAgentDeps, ModelResponse, ScriptedModel, StateBackend, ToolCall,
};
use serde_json::{json, Value};

/// Runs one turn of tool calls and returns what the model was sent, in
/// call order.
async fn turn(deps: &DeepAgentDeps, calls: Vec<(&str, Value)>) -> Vec<String> {
    let calls: Vec<ToolCall> = calls
        .into_iter()
        .enumerate()
        .map(|(i, (name, args))| ToolCall::new(format!("call_{i}"), name, args))
        .collect();
    let model = ScriptedModel::new([
        ModelResponse::tool_calls(calls),
        ModelResponse::text("done"),
    ]);
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .build()
        .unwrap();
    let result = agent.run("go", deps).await.unwrap();
    tool_results(&result.messages)
        .into_iter()
        .map(|(_, content, _)| content)
        .collect()
}

#[tokio::test]
async fn reading_a_binary_file_says_it_is_binary() {
    let backend = StateBackend::new();
    let png: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\xff\xfe";
    backend
        .write("/logo.png", png.to_vec().into())
        .await
        .unwrap();
    let deps = DeepAgentDeps::new(backend);
    let out = turn(&deps, vec![("read_file", json!({"path": "/logo.png"}))]).await;
    assert!(!out[0].contains('\u{fffd}'), "{}", out[0]);
    insta::assert_snapshot!(out[0]);
}

#[tokio::test]
async fn a_text_file_with_invalid_utf8_is_still_text() {
    let backend = StateBackend::new();
    backend
        .write("/latin1.txt", b"caf\xe9\n".to_vec().into())
        .await
        .unwrap();
    let deps = DeepAgentDeps::new(backend);
    let out = turn(&deps, vec![("read_file", json!({"path": "/latin1.txt"}))]).await;
    assert_eq!(out[0], "     1\tcaf\u{fffd}");
}

#[tokio::test]
async fn an_lf_edit_of_a_crlf_file_keeps_crlf() {
    let backend = StateBackend::new();
    backend
        .write("/win.txt", "[core]\r\nname = a\r\nmode = b\r\n".into())
        .await
        .unwrap();
    let deps = DeepAgentDeps::new(backend.clone());
    // What read_file showed, copied with \n line breaks.
    let out = turn(
        &deps,
        vec![(
            "edit_file",
            json!({"path": "/win.txt", "old_string": "name = a\nmode = b", "new_string": "name = c\nmode = d\nextra = e"}),
        )],
    )
    .await;
    assert_eq!(out[0], "Replaced 1 occurrence in /win.txt");
    let bytes = backend.read_bytes("/win.txt").await.unwrap();
    assert_eq!(
        bytes.as_ref(),
        b"[core]\r\nname = c\r\nmode = d\r\nextra = e\r\n"
    );
}

#[tokio::test]
async fn an_edit_missing_only_by_a_final_newline_says_so() {
    let backend = StateBackend::new();
    backend
        .write("/a.py", "print('a')\nprint('b')".into())
        .await
        .unwrap();
    let deps = DeepAgentDeps::new(backend);
    let out = turn(
        &deps,
        vec![(
            "edit_file",
            json!({"path": "/a.py", "old_string": "print('b')\n", "new_string": "print('c')\n"}),
        )],
    )
    .await;
    insta::assert_snapshot!(out[0]);
}

#[tokio::test]
async fn an_edit_with_crlf_text_of_an_lf_file_says_so() {
    let backend = StateBackend::new();
    backend.write("/u.txt", "one\ntwo\n".into()).await.unwrap();
    let deps = DeepAgentDeps::new(backend);
    let out = turn(
        &deps,
        vec![(
            "edit_file",
            json!({"path": "/u.txt", "old_string": "one\r\ntwo", "new_string": "1\r\n2"}),
        )],
    )
    .await;
    insta::assert_snapshot!(out[0]);
}

#[tokio::test]
async fn an_edit_of_text_that_is_not_there_has_no_hint() {
    let backend = StateBackend::new();
    backend.write("/u.txt", "one\ntwo\n".into()).await.unwrap();
    let deps = DeepAgentDeps::new(backend);
    let out = turn(
        &deps,
        vec![(
            "edit_file",
            json!({"path": "/u.txt", "old_string": "three\n", "new_string": "3\n"}),
        )],
    )
    .await;
    assert!(out[0].contains("not found"), "{}", out[0]);
    assert!(!out[0].contains("Note:"), "{}", out[0]);
}

#[tokio::test]
async fn two_write_todos_in_one_turn_are_refused() {
    let backend = StateBackend::new();
    let deps = DeepAgentDeps::new(backend);
    let list = |step: &str| json!({"todos": [{"content": step, "status": "pending"}]});
    let out = turn(
        &deps,
        vec![
            ("write_todos", list("first plan")),
            ("write_todos", list("second plan")),
        ],
    )
    .await;
    assert_eq!(out.len(), 2);
    assert_eq!(out[0], out[1]);
    insta::assert_snapshot!(out[0]);
    // Neither list was saved.
    assert!(deps.todos().is_empty());

    // One call per turn still works.
    let out = turn(&deps, vec![("write_todos", list("the plan"))]).await;
    assert!(out[0].starts_with("Updated the todo list"), "{}", out[0]);
    assert_eq!(deps.todos().len(), 1);
}
