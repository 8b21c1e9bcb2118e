//! The seed example over the wire: the same run as the offline demo, with
//! an OpenAI-compatible server on 127.0.0.1 answering as the model.

mod common;
#[allow(dead_code)]
#[path = "../../../examples/composite_backend.rs"]
mod example;

use std::sync::Arc;

use common::http::{MockServer, Reply};
use deepagent::models::openai::OpenAiModel;
use deepagent::RetryPolicy;
use serde_json::json;

#[tokio::test]
async fn the_seed_example_runs_against_an_openai_compatible_server() {
    let write = |id: &str, path: &str, content: &str| {
        json!({"id": id, "type": "function", "function": {"name": "write_file",
               "arguments": json!({"path": path, "content": content}).to_string()}})
    };
    let server = MockServer::start(vec![
        Reply::json(200, json!({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": null, "tool_calls": [
                write("c1", "/project/src/app.py", "from flask import Flask\napp = Flask(__name__)\n"),
                write("c2", "/project/requirements.txt", "flask\n"),
                write("c3", "/scratch/notes.txt", "notes\n"),
                write("c4", "/project/README.md", "# App\n"),
            ]}}], "usage": {"prompt_tokens": 900, "completion_tokens": 120}})),
        Reply::json(200, json!({"choices": [{"index": 0, "finish_reason": "stop", "message": {
            "role": "assistant", "content": "Created the project; notes are in /scratch/notes.txt."}}],
            "usage": {"prompt_tokens": 1100, "completion_tokens": 15}})),
    ])
    .await;
    let model = OpenAiModel::new("gpt-4.1", "sk-test")
        .base_url(format!("{}/v1", server.base))
        .retry(RetryPolicy::none());
    let dir = tempfile::tempdir().unwrap();
    let report = example::run_example(dir.path(), Arc::new(model))
        .await
        .unwrap();
    assert_eq!(
        report.output,
        "Created the project; notes are in /scratch/notes.txt."
    );
    assert_eq!(report.memory_paths, ["/scratch/notes.txt"]);
    assert_eq!(
        report.disk_paths,
        ["/README.md", "/requirements.txt", "/src/app.py"]
    );
    let sent = server.requests();
    assert_eq!(sent.len(), 2);
    let results: Vec<&str> = sent[1].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(results.len(), 4);
    assert!(
        results.iter().all(|r| r.starts_with("Wrote ")),
        "{results:?}"
    );
}
