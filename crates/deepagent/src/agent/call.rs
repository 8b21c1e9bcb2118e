//! One tool call: argument checks, approval, the call, the result cap.

use std::panic::AssertUnwindSafe;

use futures::FutureExt;

#[allow(unused_imports)]
use super::*;

/// What one call gives back.
pub(super) struct CallOutcome {
    /// The text for the model.
    pub text: String,
    /// The call failed (sent to Anthropic as `is_error`).
    pub is_error: bool,
    /// The arguments were wrong: counts against the tool's retries.
    pub retry: bool,
}

/// Runs one call. `truncated`: the model's turn was cut at its token cap,
/// so arguments that do not parse were cut off, not garbled. `decided`: a
/// human's decision given when a paused run was resumed.
pub(super) async fn handle_call(
    core: &AgentCore,
    tools: &HashMap<String, (Arc<dyn Tool>, Value)>,
    call: &ToolCall,
    ctx: ToolContext,
    truncated: bool,
    decided: Option<Decision>,
) -> CallOutcome {
    use tracing::Instrument;
    let span = crate::telemetry::tool_span(&call.name, &call.id);
    let outcome = run_call(core, tools, call, ctx, truncated, decided)
        .instrument(span.clone())
        .await;
    if outcome.retry {
        span.record("error.type", "invalid_arguments");
    } else if outcome.is_error {
        span.record("error.type", "tool_error");
    }
    outcome
}

async fn run_call(
    core: &AgentCore,
    tools: &HashMap<String, (Arc<dyn Tool>, Value)>,
    call: &ToolCall,
    ctx: ToolContext,
    truncated: bool,
    decided: Option<Decision>,
) -> CallOutcome {
    let parsed = parse_arguments(&call.arguments, truncated);
    let shown = parsed
        .clone()
        .unwrap_or_else(|_| Value::String(call.arguments.clone()));
    ctx.emit(AgentEvent::ToolCallStarted {
        call_id: call.id.clone(),
        name: call.name.clone(),
        args: shown.clone(),
    });
    let (args, outcome) = execute_call(core, tools, call, parsed, &ctx, decided).await;
    let (text, is_error, retry) = match outcome {
        Ok(text) => (cap_result(core, &ctx, &call.name, text).await, false, false),
        Err(ToolError::Failed(msg)) => (
            cap_result(core, &ctx, &call.name, format!("Error: {msg}")).await,
            true,
            false,
        ),
        Err(ToolError::Retry(msg)) => (
            format!(
                "Error: {msg}\nFix the arguments and call {} again.",
                call.name
            ),
            true,
            true,
        ),
    };
    ctx.emit(AgentEvent::ToolCallFinished {
        call_id: call.id.clone(),
        name: call.name.clone(),
        args: args.unwrap_or(shown),
        result: text.clone(),
        is_error,
    });
    CallOutcome {
        text,
        is_error,
        retry,
    }
}

pub(super) fn parse_arguments(raw: &str, truncated: bool) -> Result<Value, String> {
    if raw.trim().is_empty() && !truncated {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_str(raw).map_err(|e| {
        if truncated {
            "the arguments were cut off: your answer reached the output token limit (max_tokens) while writing them. Send less in one call, e.g. write a large file in parts (write_file with the first part, then edit_file to append the rest)".to_owned()
        } else {
            format!("the arguments are not valid JSON ({e})")
        }
    })
}

/// The call as a [`PendingCall`] when it must wait for a human decision:
/// the agent pauses for approval, this is the main agent (a subagent
/// cannot pause; its calls go to the callback), and the call is valid, so
/// the human is not asked about one that would be refused anyway.
pub(super) fn pending_call(
    core: &AgentCore,
    tools: &HashMap<String, (Arc<dyn Tool>, Value)>,
    call: &ToolCall,
    depth: usize,
) -> Option<PendingCall> {
    if !core.pause_for_approval || depth > 0 || !core.interrupt_on.contains(&call.name) {
        return None;
    }
    let (_, schema) = tools.get(&call.name)?;
    let args = parse_arguments(&call.arguments, false).ok()?;
    validate_args(schema, &args).ok()?;
    Some(PendingCall {
        call_id: call.id.clone(),
        tool_name: call.name.clone(),
        args,
    })
}

async fn execute_call(
    core: &AgentCore,
    tools: &HashMap<String, (Arc<dyn Tool>, Value)>,
    call: &ToolCall,
    parsed: Result<Value, String>,
    ctx: &ToolContext,
    decided: Option<Decision>,
) -> (Option<Value>, Result<String, ToolError>) {
    let Some((tool, schema)) = tools.get(&call.name) else {
        let mut names: Vec<&str> = tools.keys().map(String::as_str).collect();
        names.sort_unstable();
        return (
            None,
            Err(ToolError::Retry(format!(
                "there is no tool named {:?}; available tools: {}",
                call.name,
                names.join(", ")
            ))),
        );
    };
    let mut args = match parsed {
        Ok(v) => v,
        Err(problem) => {
            return (
                None,
                Err(ToolError::Retry(format!(
                    "invalid arguments for {}: {problem}",
                    call.name
                ))),
            )
        }
    };
    if let Err(problem) = validate_args(schema, &args) {
        return (
            Some(args),
            Err(ToolError::Retry(format!(
                "invalid arguments for {}: {problem}",
                call.name
            ))),
        );
    }
    let decision = match decided {
        Some(d) => Some(d),
        None if core.interrupt_on.contains(&call.name) => {
            let pending = PendingCall {
                call_id: call.id.clone(),
                tool_name: call.name.clone(),
                args: args.clone(),
            };
            ctx.emit(AgentEvent::PendingApproval {
                call: pending.clone(),
            });
            match &core.approval {
                Some(approve) => Some(approve(pending).await),
                None => {
                    let why = if core.pause_for_approval {
                        "a subagent cannot pause for approval, and no approval callback is configured (set one with on_approval)"
                    } else {
                        "no approval callback is configured (set one with on_approval)"
                    };
                    return (
                        Some(args),
                        Err(ToolError::Failed(format!(
                            "{} needs human approval, and {why}, so the call was not run",
                            call.name
                        ))),
                    );
                }
            }
        }
        None => None,
    };
    match decision {
        None | Some(Decision::Approve) => {}
        Some(Decision::Deny { reason }) => {
            return (
                Some(args),
                Err(ToolError::Failed(format!(
                    "the user denied this call to {}: {reason}",
                    call.name
                ))),
            )
        }
        Some(Decision::Edit { args: edited }) => {
            if let Err(problem) = validate_args(schema, &edited) {
                return (
                    Some(edited),
                    Err(ToolError::Failed(format!(
                        "the arguments edited by the approver are invalid: {problem}"
                    ))),
                );
            }
            args = edited;
        }
    }
    // A panicking user tool must not take the run down with it: the model
    // hears of it as a failed call and can carry on.
    let result = AssertUnwindSafe(tool.call(ctx, args.clone()))
        .catch_unwind()
        .await
        .unwrap_or_else(|payload| {
            Err(ToolError::Failed(format!(
                "the tool {} panicked: {}",
                call.name,
                panic_message(payload.as_ref())
            )))
        });
    (Some(args), result)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic payload that is not text)")
}

/// Cuts a result to the configured size, saving the full text where the
/// model can page through it.
async fn cap_result(core: &AgentCore, ctx: &ToolContext, tool: &str, text: String) -> String {
    let max = core.max_result_chars;
    let Some((cut, _)) = text.char_indices().nth(max) else {
        return text;
    };
    let total = text.chars().count();
    let head = &text[..cut];
    if tool == "read_file" {
        // Saving a read would only make another file to read; ask for less.
        return format!(
            "{head}\n\n[Output truncated: {total} characters in all, {max} shown. Read a smaller range with offset and limit.]"
        );
    }
    let path = large_result_path(&ctx.call_id);
    let lines = deepagent_core::text::count_lines(text.as_bytes());
    let note = match ctx.backend.write(&path, deepagent_core::Bytes::from(text.clone())).await {
        Ok(_) => format!(
            "[Output truncated: {total} characters in all, {max} shown. The full output ({lines} lines) was saved to {path}; read it with read_file using offset and limit.]"
        ),
        Err(e) => format!("[Output truncated: {total} characters in all, {max} shown. The full output could not be saved: {e}]"),
    };
    format!("{head}\n\n{note}")
}
