//! Memory through `examples/memory.rs`: with the seed's layout,
//! `/project/AGENTS.md` is on disk, so what run 1 writes there is in the
//! prompt of run 2 (a new agent and new backends over the same directory).

#[allow(dead_code)]
#[path = "../../../examples/memory.rs"]
mod example;

use std::sync::{Arc, Mutex};

use deepagent::{FunctionModel, ModelRequest, ModelResponse};

/// Wraps the example's model, keeping every system prompt it was sent.
fn recording() -> (FunctionModel, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let model = FunctionModel::new(move |req: &ModelRequest| -> ModelResponse {
        log.lock().unwrap().push(req.system.clone());
        example::respond(req)
    });
    (model, seen)
}

#[tokio::test]
async fn memory_written_in_one_run_is_in_the_next_runs_prompt() {
    let dir = tempfile::tempdir().unwrap();

    let (model, seen) = recording();
    let first = example::run_once(dir.path(), Arc::new(model), example::FIRST)
        .await
        .unwrap();
    assert_eq!(
        first.output,
        "Nice to meet you, Ada. I will remember your name."
    );
    let prompt = seen.lock().unwrap()[0].clone();
    assert!(prompt.contains("## Memory"), "{prompt}");
    assert!(
        prompt.contains(
            "<memory path=\"/project/AGENTS.md\">\n(empty: the file does not exist yet)\n</memory>"
        ),
        "{prompt}"
    );
    // On disk, where the seed's layout keeps /project/.
    let on_disk = std::fs::read_to_string(dir.path().join("AGENTS.md")).unwrap();
    assert_eq!(on_disk, "# Memory\n\n- The user's name is Ada.\n");

    let (model, seen) = recording();
    let second = example::run_once(dir.path(), Arc::new(model), example::SECOND)
        .await
        .unwrap();
    assert_eq!(second.output, "Your name is Ada.");
    let prompt = seen.lock().unwrap()[0].clone();
    assert!(
        prompt.contains("<memory path=\"/project/AGENTS.md\">\n# Memory\n\n- The user's name is Ada.\n</memory>"),
        "{prompt}"
    );
}
