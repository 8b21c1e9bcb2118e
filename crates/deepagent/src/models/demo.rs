//! An offline demo model for examples: it follows prompts of the form
//! `N. Create /path with <what>` by writing each file through the real
//! tool loop, then summarises.
//!
//! It is no language model: it recognises that one shape of prompt and
//! writes plausible starter content by file name. Its job is to make the
//! seed example show routing (what lands on disk, what stays in memory)
//! on a machine without an API key.

use serde_json::json;

use super::FunctionModel;
use crate::messages::{Message, ModelRequest, ModelResponse};

/// One file the prompt asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlannedFile {
    /// The absolute path.
    pub path: String,
    /// What the prompt says it should hold.
    pub what: String,
}

/// The `Create /path with ...` steps of a prompt, in order.
///
/// ```
/// use deepagent::models::demo::planned_files;
/// let steps = planned_files("Do this:\n 1. Create /a/b.py with a script\n 2. Create /c.txt with notes (temporary)");
/// assert_eq!(steps.len(), 2);
/// assert_eq!(steps[1].path, "/c.txt");
/// assert_eq!(steps[1].what, "notes (temporary)");
/// ```
pub fn planned_files(prompt: &str) -> Vec<PlannedFile> {
    let re = match regex::Regex::new(r"(?im)^\s*\d+[.)]\s*create\s+(/\S+)\s+with\s+(.+?)\s*$") {
        Ok(re) => re,
        Err(_) => return Vec::new(),
    };
    re.captures_iter(prompt)
        .map(|c| PlannedFile {
            path: c[1].to_owned(),
            what: c[2].to_owned(),
        })
        .collect()
}

/// Starter content for a file, chosen by its name and description.
pub fn starter_content(file: &PlannedFile) -> String {
    let name = file
        .path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let what = file.what.to_ascii_lowercase();
    if name.ends_with(".py") && (what.contains("flask") || name == "app.py") {
        return FLASK_APP.to_owned();
    }
    if name == "requirements.txt" {
        return "flask>=3.0\n".to_owned();
    }
    if name == "readme.md" {
        return README.to_owned();
    }
    if what.contains("note") {
        return NOTES.to_owned();
    }
    format!("{}\n", file.what)
}

const FLASK_APP: &str = r#"from flask import Flask, jsonify

app = Flask(__name__)


@app.route("/")
def index():
    return jsonify(message="Hello from the project assistant!")


@app.route("/health")
def health():
    return jsonify(status="ok")


if __name__ == "__main__":
    app.run(debug=True)
"#;

const README: &str = r#"# Flask starter

A minimal Flask application.

## Run it

```sh
pip install -r requirements.txt
python src/app.py
```

Then open http://127.0.0.1:5000/ (JSON greeting) or /health.

## Layout

- `src/app.py` - the application and its two routes
- `requirements.txt` - dependencies
"#;

const NOTES: &str = r#"Implementation notes (temporary)
- Keep the app in one module until it grows; split routes into blueprints later.
- /health is for load balancers; keep it free of I/O.
- debug=True is for local runs only; use a WSGI server (gunicorn) in production.
"#;

/// The demo model.
///
/// ```
/// # use std::sync::Arc;
/// let agent = deepagent::create_deep_agent()
///     .model_impl(Arc::new(deepagent::models::demo::demo_model()))
///     .build();
/// assert!(agent.is_ok());
/// ```
pub fn demo_model() -> FunctionModel {
    FunctionModel::new(respond).named("offline-demo")
}

fn respond(req: &ModelRequest) -> ModelResponse {
    let prompt = req.last_user_prompt().unwrap_or_default();
    let plan = planned_files(prompt);
    // Results since the prompt tell how far along the plan we are.
    let done: Vec<(&str, &str)> = req
        .messages
        .iter()
        .rev()
        .take_while(|m| !matches!(m, Message::User { .. }))
        .filter_map(|m| match m {
            Message::Tool { name, content, .. } if name == "write_file" => {
                Some((name.as_str(), content.as_str()))
            }
            _ => None,
        })
        .collect();
    if plan.is_empty() {
        return ModelResponse::text(
            "The offline demo model only follows prompts that list steps like \
             `1. Create /path with ...`. Set OPENAI_API_KEY to use a real model.",
        );
    }
    if let Some(next) = plan.get(done.len()) {
        return ModelResponse::call(
            "write_file",
            json!({"path": next.path, "content": starter_content(next)}),
        )
        .with_usage(0, 0);
    }
    let mut out = String::from("Done. I created:\n");
    for (file, (_, result)) in plan.iter().zip(done.iter().rev()) {
        let status = if result.starts_with("Error:") {
            format!(" (failed: {result})")
        } else {
            String::new()
        };
        out.push_str(&format!("- {} - {}{status}\n", file.path, file.what));
    }
    out.push_str(
        "Files under /project/ and /workspace/ are on disk; the others are in memory only.",
    );
    ModelResponse::text(out)
}
