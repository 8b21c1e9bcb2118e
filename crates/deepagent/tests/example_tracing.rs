//! `examples/tracing.rs` offline: what its subscriber prints holds the
//! run, request, tool and backend spans with their GenAI attributes.

#[allow(dead_code)]
#[path = "../../../examples/tracing.rs"]
mod example;

use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_tracing_example_prints_genai_spans() {
    let buffer = Buffer::default();
    let out = buffer.clone();
    let _guard = tracing::subscriber::set_default(example::subscriber(move || out.clone(), false));
    let output = example::run_example().await.unwrap();
    assert_eq!(output, "Wrote /notes.txt.");
    let printed = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    for needle in [
        "invoke_agent{",
        "gen_ai.operation.name=\"invoke_agent\"",
        "gen_ai.request.model=\"test\"",
        "chat{",
        "gen_ai.usage.input_tokens=50",
        "execute_tool{",
        "gen_ai.tool.name=\"write_file\"",
        "gen_ai.tool.call.id=\"test_write_file\"",
        "deepagent.backend.operation=\"write\"",
        "deepagent.backend.path=\"/notes.txt\"",
    ] {
        assert!(
            printed.contains(needle),
            "{needle} missing from:\n{printed}"
        );
    }
}
