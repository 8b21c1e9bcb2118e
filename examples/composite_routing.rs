//! The seed's routing, step by step and without a model.
//!
//! A `StateBackend` is the default (scratch files, in memory); one
//! `LocalBackend` over `./workspace` (or the directory given as the first
//! argument) is mounted at both `/project/` and `/workspace/`, exactly as
//! in the seed's `CompositeBackend(default=memory, routes={...})`. The
//! example writes the four files the seed's agent is asked for and shows
//! where each one went.
//!
//! Because the composite strips the mount prefix, `/project/src/app.py` is
//! stored as `<dir>/src/app.py` — and `/workspace/src/app.py` is the same
//! file, since both prefixes lead to one directory.
//!
//! ```text
//! cargo run --example composite_routing            # uses ./workspace
//! cargo run --example composite_routing /tmp/demo  # or any directory
//! ```

use std::error::Error;
use std::path::PathBuf;

use deepagent_composite::CompositeBackend;
use deepagent_core::{Backend, Bytes, GlobQuery};
use deepagent_local::LocalBackend;
use deepagent_state::StateBackend;

const APP_PY: &str = r#"from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return "Hello from a deep agent!"


if __name__ == "__main__":
    app.run(debug=True)
"#;

const REQUIREMENTS: &str = "flask>=3.0\n";

const NOTES: &str = "\
Implementation notes (temporary):
- single-module Flask app, one route
- no database yet; add one when the project needs state
";

const README: &str = "\
# Hello Flask

A minimal Flask application.

    pip install -r requirements.txt
    python src/app.py
";

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("./workspace"));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?;
    runtime.block_on(async {
        let memory = StateBackend::new();
        let local = LocalBackend::new(&dir)?;
        let backend = CompositeBackend::builder(memory.clone())
            .route("/project/", local.clone())
            .route("/workspace/", local.clone())
            .build();

        println!("Routes:");
        for mount in backend.mounts() {
            println!(
                "  {:<14} -> {} at {}",
                mount.prefix,
                mount.backend,
                local.root().display()
            );
        }
        println!(
            "  {:<14} -> {} (the default)",
            "anything else",
            memory.name()
        );

        let files = [
            ("/project/src/app.py", APP_PY),
            ("/project/requirements.txt", REQUIREMENTS),
            ("/scratch/notes.txt", NOTES),
            ("/project/README.md", README),
        ];
        println!("\nWrites:");
        for (path, content) in files {
            let written = backend.write(path, Bytes::from(content)).await?;
            let at = backend.locate(&written.path)?;
            let place = match at.prefix {
                Some(_) => {
                    let host = local.root().join(at.path.trim_start_matches('/'));
                    let on_disk = std::fs::metadata(&host).map(|m| m.len()).unwrap_or(0);
                    format!("on disk: {} ({on_disk} bytes)", host.display())
                }
                None => format!("in memory: {} in {}", at.path, at.backend),
            };
            println!(
                "  {:<26} {:>4} bytes -> {place}",
                written.path, written.size
            );
        }

        println!("\nThe composite sees one tree:");
        for entry in backend.ls("/").await? {
            println!("  {}{}", entry.path, if entry.is_dir { "/" } else { "" });
        }
        let found = backend.glob(&GlobQuery::new("**/*.py")).await?;
        let py: Vec<&str> = found.files.iter().map(|f| f.path.as_str()).collect();
        println!("  glob **/*.py -> {py:?}");
        println!(
            "  /workspace/src/app.py is the same file: {}",
            backend.exists("/workspace/src/app.py").await?
        );

        println!("\nTemporary files (in memory):");
        for path in memory.paths() {
            println!("  {path}");
        }
        Ok(())
    })
}
