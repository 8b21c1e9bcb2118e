//! Human approval of tool calls, on the terminal.
//!
//! ```sh
//! cargo run --example approvals            # asks you before each write and command
//! cargo run --example approvals < /dev/null   # no terminal: every ask is denied, with a reason
//! ```
//!
//! Two guards work together here:
//!
//! - the agent pauses before every `write_file`, `edit_file` and `execute`
//!   call (`interrupt_on`) and asks you: approve, deny with a reason (the
//!   model reads it), or edit the arguments;
//! - the backend is wrapped in a [`Permissioned`] layer with the DEFAULT
//!   preset's hard rules: secrets such as `.env` and destructive commands
//!   are refused outright, without asking anyone. Its own "ask" defaults
//!   are turned into "allow", because the agent already asked you.
//!
//! When stdin is not a terminal (CI, a pipe), nobody can answer, so each
//! call is denied automatically and the run still finishes.
//!
//! The model is an offline script (write a script, run it, try to read
//! `.env`, report) unless `OPENAI_API_KEY` or `DEEPAGENT_MODEL` is set.

use std::error::Error;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use deepagent::layers::{Action, Operation, Permissioned, Ruleset};
use deepagent::models::infer_model;
use deepagent::{
    create_deep_agent, Decision, DeepAgent, DeepAgentDeps, FunctionModel, LocalBackend, Message,
    Model, ModelResponse, PendingCall,
};
use serde_json::{json, Value};

const PROMPT: &str = "Write /hello.sh, a shell script that greets the user, run it with \
    `sh hello.sh`, then read /.env and tell me what it says.";

/// The script the offline model writes.
pub const SCRIPT: &str = "echo 'hello from the sandbox' > greeting.txt\ncat greeting.txt\n";

/// Tools that wait for a human.
pub const INTERRUPT_ON: [&str; 3] = ["write_file", "edit_file", "execute"];

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join(".env"), "API_TOKEN=do-not-leak\n")?;
    println!(
        "workspace: {} (a .env file is in it)\n",
        dir.path().display()
    );

    let agent = build_agent(choose_model()?, Some(ask_on_terminal))?;
    let deps = DeepAgentDeps::new(guarded_workspace(dir.path())?);
    let result = agent.run(PROMPT, &deps).await?;

    println!("\nAgent output:\n{}", result.output);
    println!("\nFiles in the workspace:");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        println!("  {name}");
    }
    Ok(())
}

/// The real model when configured, the offline script otherwise.
fn choose_model() -> Result<Arc<dyn Model>, Box<dyn Error>> {
    if let Ok(spec) = std::env::var("DEEPAGENT_MODEL") {
        return Ok(infer_model(&spec)?);
    }
    if std::env::var("OPENAI_API_KEY").is_ok_and(|k| !k.trim().is_empty()) {
        return Ok(infer_model("openai:gpt-4.1")?);
    }
    println!("(offline: a scripted model; set OPENAI_API_KEY or DEEPAGENT_MODEL for a real one)");
    Ok(Arc::new(offline_model()))
}

/// A LocalBackend over `dir` behind the DEFAULT preset's hard rules.
pub fn guarded_workspace(dir: &Path) -> Result<Permissioned<LocalBackend>, Box<dyn Error>> {
    // The agent asks the human before writes and commands; the layer only
    // has to say no to what no one may approve.
    let rules = Ruleset::default_preset()
        .with_default(Operation::Write, Action::Allow)
        .with_default(Operation::Edit, Action::Allow)
        .with_default(Operation::Execute, Action::Allow);
    Ok(Permissioned::new(LocalBackend::new(dir)?, rules)?)
}

/// The agent, pausing on [`INTERRUPT_ON`]; `approve` of `None` leaves it
/// without a callback (such calls are then refused).
pub fn build_agent<F, Fut>(
    model: Arc<dyn Model>,
    approve: Option<F>,
) -> Result<DeepAgent, deepagent::AgentError>
where
    F: Fn(PendingCall) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Decision> + Send + 'static,
{
    let builder = create_deep_agent()
        .model_impl(model)
        .instructions("You work in a sandbox. Explain briefly what you did.")
        .interrupt_on(INTERRUPT_ON);
    match approve {
        Some(f) => builder.on_approval(f).build(),
        None => builder.build(),
    }
}

/// Writes the script, runs it, tries `.env`, then reports every tool
/// result it saw, so what the approver and the rules said is visible.
pub fn offline_model() -> FunctionModel {
    FunctionModel::new(|req| match req.assistant_turns() {
        0 => ModelResponse::call(
            "write_file",
            json!({"path": "/hello.sh", "content": SCRIPT}),
        ),
        1 => ModelResponse::call("execute", json!({"command": "sh hello.sh"})),
        2 => ModelResponse::call("read_file", json!({"path": "/.env"})),
        _ => {
            let mut report = String::from("What happened:");
            for m in &req.messages {
                if let Message::Tool { name, content, .. } = m {
                    report.push_str(&format!("\n- {name}: {}", content.trim()));
                }
            }
            ModelResponse::text(report)
        }
    })
}

/// The approval callback: asks on the terminal, or denies when there is
/// none (so `cargo run --example approvals` never hangs in CI).
pub async fn ask_on_terminal(call: PendingCall) -> Decision {
    if !std::io::stdin().is_terminal() {
        return deny_without_terminal(&call);
    }
    let asked = tokio::task::spawn_blocking(move || {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let mut output = std::io::stdout();
        prompt_decision(&call, &mut input, &mut output)
    })
    .await;
    asked.unwrap_or_else(|e| Decision::Deny {
        reason: format!("the approval prompt failed ({e}), so the call was not run"),
    })
}

/// The non-interactive answer: deny, saying why.
pub fn deny_without_terminal(call: &PendingCall) -> Decision {
    println!(
        "[approval] {} needs approval, but stdin is not a terminal: denied automatically",
        call.tool_name
    );
    Decision::Deny {
        reason: "no one is at a terminal to approve this (stdin is not a TTY), so it was \
                 denied automatically; finish without this step"
            .into(),
    }
}

/// Shows the pending call and reads `y`, `n` (then a reason) or `e` (then
/// the new arguments as one line of JSON). End of input denies.
pub fn prompt_decision(
    call: &PendingCall,
    input: &mut impl BufRead,
    output: &mut impl Write,
) -> Decision {
    let args = serde_json::to_string_pretty(&call.args).unwrap_or_else(|_| call.args.to_string());
    let _ = writeln!(
        output,
        "\n[approval] the agent wants to call {}:\n{args}",
        call.tool_name
    );
    loop {
        let _ = write!(output, "approve? [y]es / [n]o / [e]dit arguments: ");
        let _ = output.flush();
        let Some(answer) = read_line(input) else {
            return Decision::Deny {
                reason: "the approval prompt was closed without an answer".into(),
            };
        };
        match answer.to_ascii_lowercase().as_str() {
            "y" | "yes" => return Decision::Approve,
            "n" | "no" => {
                let _ = write!(output, "reason (shown to the model): ");
                let _ = output.flush();
                let reason = read_line(input).filter(|r| !r.is_empty());
                return Decision::Deny {
                    reason: reason.unwrap_or_else(|| "the user said no".into()),
                };
            }
            "e" | "edit" => {
                let _ = write!(output, "new arguments as one line of JSON: ");
                let _ = output.flush();
                match read_line(input).map(|l| serde_json::from_str::<Value>(&l)) {
                    Some(Ok(args)) if args.is_object() => return Decision::Edit { args },
                    Some(Ok(_)) => {
                        let _ = writeln!(output, "the arguments must be a JSON object");
                    }
                    Some(Err(e)) => {
                        let _ = writeln!(output, "not JSON: {e}");
                    }
                    None => {
                        return Decision::Deny {
                            reason: "the approval prompt was closed without an answer".into(),
                        }
                    }
                }
            }
            _ => {
                let _ = writeln!(output, "please answer y, n or e");
            }
        }
    }
}

fn read_line(input: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    match input.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim().to_owned()),
    }
}
