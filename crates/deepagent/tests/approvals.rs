//! Human approval end to end, through `examples/approvals.rs`: the agent
//! pauses on write_file and execute, a permission layer refuses secrets
//! without asking, and the model sees what the human decided.

#[allow(dead_code)]
#[path = "../../../examples/approvals.rs"]
mod example;

use std::io::Cursor;
use std::sync::{Arc, Mutex};

use deepagent::{AgentEvent, Decision, DeepAgentDeps, PendingCall, RunResult};
use futures::StreamExt;
use serde_json::json;

/// A workspace with a secret in it, and its guarded backend.
fn workspace() -> (tempfile::TempDir, DeepAgentDeps) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "API_TOKEN=do-not-leak\n").unwrap();
    let backend = example::guarded_workspace(dir.path()).unwrap();
    (dir, DeepAgentDeps::new(backend))
}

type Seen = Arc<Mutex<Vec<PendingCall>>>;

/// An approval callback that records each call and answers with `decide`.
fn approver(
    decide: impl Fn(&PendingCall) -> Decision + Send + Sync + 'static,
) -> (
    impl Fn(PendingCall) -> futures::future::Ready<Decision> + Send + Sync + 'static,
    Seen,
) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let f = move |call: PendingCall| {
        let d = decide(&call);
        log.lock().unwrap().push(call);
        futures::future::ready(d)
    };
    (f, seen)
}

async fn run_with(
    decide: impl Fn(&PendingCall) -> Decision + Send + Sync + 'static,
) -> (tempfile::TempDir, RunResult, Vec<PendingCall>) {
    let (dir, deps) = workspace();
    let (f, seen) = approver(decide);
    let agent = example::build_agent(Arc::new(example::offline_model()), Some(f)).unwrap();
    let result = agent.run("go", &deps).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    (dir, result, seen)
}

fn tools_asked(seen: &[PendingCall]) -> Vec<&str> {
    seen.iter().map(|c| c.tool_name.as_str()).collect()
}

#[tokio::test]
async fn approved_calls_run_and_the_secret_is_still_refused() {
    let (dir, result, seen) = run_with(|_| Decision::Approve).await;
    assert_eq!(
        tools_asked(&seen),
        ["write_file", "execute"],
        "read_file is not interrupted"
    );
    assert_eq!(
        seen[0].args,
        json!({"path": "/hello.sh", "content": example::SCRIPT})
    );
    assert_eq!(seen[1].args["command"], "sh hello.sh");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("greeting.txt")).unwrap(),
        "hello from the sandbox\n",
        "the approved command ran"
    );
    let out = &result.output;
    assert!(out.contains("hello from the sandbox"), "{out}");
    // The layer refused the secret without asking anyone, and said why.
    assert!(out.contains("permission denied: /.env"), "{out}");
    assert!(out.contains("**/.env*"), "{out}");
    assert!(!out.contains("do-not-leak"), "{out}");
}

#[tokio::test]
async fn a_denial_reason_reaches_the_model() {
    let (dir, result, seen) = run_with(|call| {
        if call.tool_name == "execute" {
            Decision::Deny {
                reason: "no shell today, just write the file".into(),
            }
        } else {
            Decision::Approve
        }
    })
    .await;
    assert_eq!(tools_asked(&seen), ["write_file", "execute"]);
    assert!(dir.path().join("hello.sh").is_file());
    assert!(
        !dir.path().join("greeting.txt").exists(),
        "the denied command never ran"
    );
    assert!(
        result.output.contains(
            "execute: Error: the user denied this call to execute: no shell today, just write the file"
        ),
        "the model read the reason: {}",
        result.output
    );
}

#[tokio::test]
async fn edited_arguments_are_what_runs() {
    let (dir, result, _) = run_with(|call| match call.tool_name.as_str() {
        "write_file" => Decision::Edit {
            args: json!({"path": "/hello.sh", "content": "echo edited by a human > greeting.txt\n"}),
        },
        "execute" => Decision::Edit {
            args: json!({"command": "sh hello.sh && echo edited-command"}),
        },
        _ => Decision::Approve,
    })
    .await;
    assert_eq!(
        std::fs::read_to_string(dir.path().join("hello.sh")).unwrap(),
        "echo edited by a human > greeting.txt\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("greeting.txt")).unwrap(),
        "edited by a human\n"
    );
    assert!(
        result.output.contains("edited-command"),
        "{}",
        result.output
    );
}

#[tokio::test]
async fn edited_arguments_still_pass_the_permission_rules() {
    // A human may approve, but the layer's hard rules still hold: an edit
    // that points the write at a secret is refused.
    let (dir, result, _) = run_with(|call| match call.tool_name.as_str() {
        "write_file" => Decision::Edit {
            args: json!({"path": "/.env", "content": "API_TOKEN=overwritten\n"}),
        },
        _ => Decision::Deny {
            reason: "no".into(),
        },
    })
    .await;
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".env")).unwrap(),
        "API_TOKEN=do-not-leak\n"
    );
    assert!(
        result
            .output
            .contains("write_file: Error: permission denied: /.env"),
        "{}",
        result.output
    );
}

#[tokio::test]
async fn without_a_callback_interrupted_calls_are_refused() {
    let (dir, deps) = workspace();
    type NoCallback = fn(PendingCall) -> futures::future::Ready<Decision>;
    let agent =
        example::build_agent::<NoCallback, _>(Arc::new(example::offline_model()), None).unwrap();
    let result = agent.run("go", &deps).await.unwrap();
    assert!(!dir.path().join("hello.sh").exists());
    assert!(!dir.path().join("greeting.txt").exists());
    for tool in ["write_file", "execute"] {
        assert!(
            result.output.contains(&format!(
                "{tool}: Error: {tool} needs human approval, and no approval callback is configured"
            )),
            "{}",
            result.output
        );
    }
}

#[tokio::test]
async fn the_stream_announces_each_pending_approval_before_the_call_finishes() {
    let (_dir, deps) = workspace();
    let (f, _) = approver(|_| Decision::Approve);
    let agent = example::build_agent(Arc::new(example::offline_model()), Some(f)).unwrap();
    let events: Vec<AgentEvent> = agent.run_stream("go", &deps).collect().await;
    let mut order = Vec::new();
    for e in &events {
        match e {
            AgentEvent::PendingApproval { call } => {
                order.push(format!("pending {}", call.tool_name))
            }
            AgentEvent::ToolCallFinished { name, .. } => order.push(format!("finished {name}")),
            _ => {}
        }
    }
    assert_eq!(
        order,
        [
            "pending write_file",
            "finished write_file",
            "pending execute",
            "finished execute",
            "finished read_file"
        ]
    );
    assert!(matches!(events.last(), Some(AgentEvent::Finished(r)) if r.is_ok()));
}

fn pending() -> PendingCall {
    PendingCall::new("c1", "execute", json!({"command": "make"}))
}

fn prompt(answers: &str) -> (Decision, String) {
    let mut out = Vec::new();
    let d = example::prompt_decision(&pending(), &mut Cursor::new(answers.as_bytes()), &mut out);
    (d, String::from_utf8(out).unwrap())
}

#[test]
fn the_terminal_prompt_approves_denies_and_edits() {
    let (d, shown) = prompt("y\n");
    assert_eq!(d, Decision::Approve);
    assert!(
        shown.contains("execute") && shown.contains("\"make\""),
        "{shown}"
    );

    let (d, _) = prompt("n\nuse the test target\n");
    assert_eq!(
        d,
        Decision::Deny {
            reason: "use the test target".into()
        }
    );
    let (d, _) = prompt("n\n\n");
    assert_eq!(
        d,
        Decision::Deny {
            reason: "the user said no".into()
        }
    );

    // A bad answer and bad JSON are asked again.
    let (d, shown) = prompt("maybe\ne\nnot json\ne\n{\"command\": \"make test\"}\n");
    assert_eq!(
        d,
        Decision::Edit {
            args: json!({"command": "make test"})
        }
    );
    assert!(shown.contains("please answer y, n or e"), "{shown}");
    assert!(shown.contains("not JSON"), "{shown}");
}

#[test]
fn a_closed_prompt_or_no_terminal_denies_with_a_reason() {
    let (d, _) = prompt("");
    assert!(
        matches!(d, Decision::Deny { ref reason } if reason.contains("closed")),
        "{d:?}"
    );
    let d = example::deny_without_terminal(&pending());
    assert!(
        matches!(d, Decision::Deny { ref reason } if reason.contains("not a TTY")),
        "{d:?}"
    );
}

/// The agent's answer to a paused tool call and the permission layer's
/// answer to an `ask` rule are different types with different names, so a
/// user can import both from the facade without a clash.
#[tokio::test]
async fn both_approval_answers_import_side_by_side() {
    use deepagent::layers::{
        approver_fn, ApprovalRequest, Approver, Operation, PermissionDecision,
    };

    let layer = approver_fn(|req: ApprovalRequest| async move {
        if req.operation == Operation::Execute {
            PermissionDecision::deny("no commands")
        } else {
            PermissionDecision::Allow
        }
    });
    let asked = |op| ApprovalRequest {
        operation: op,
        target: "/x".into(),
        reason: "ask".into(),
    };
    assert_eq!(
        layer.decide(asked(Operation::Write)).await,
        PermissionDecision::Allow
    );
    assert_eq!(
        layer.decide(asked(Operation::Execute)).await,
        PermissionDecision::Deny {
            reason: "no commands".into()
        }
    );
    // The tool-call answer keeps its own variants (edit has no permission
    // layer counterpart).
    let tool_answer = Decision::Edit { args: json!({}) };
    assert!(matches!(tool_answer, Decision::Edit { .. }));
}
