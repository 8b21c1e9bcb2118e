//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod http;

use deepagent::{Backend, Bytes, StateBackend};

/// A StateBackend that pretends to run commands: `execute` answers
/// `ran: <command>` and records it (the testkit's double).
pub type EchoSandbox = deepagent_testkit::recording::RecordingSandbox<StateBackend>;

/// A StateBackend with a few files.
pub async fn seeded() -> StateBackend {
    let b = StateBackend::new();
    for (p, c) in [
        ("/src/app.py", "import os\n\ndef main():\n    print('hi')\n"),
        ("/src/util.py", "def helper():\n    return 1\n"),
        ("/README.md", "# Demo\nmain entry\n"),
    ] {
        b.write(p, Bytes::from(c)).await.unwrap();
    }
    b
}
