//! `task`: hand work to a subagent.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{parse_args, Tool, ToolContext, ToolError};
use crate::agent::{run_loop, AgentCore, Begin, Profile, GENERAL_PURPOSE};
use crate::messages::ToolDef;

/// How the general-purpose subagent is described to the main agent.
pub const GENERAL_PURPOSE_DESCRIPTION: &str =
    "A general-purpose agent with the same tools as you, \
for research, multi-step work and anything that would fill your context.";

const GENERAL_PURPOSE_INSTRUCTIONS: &str = "You are a subagent. Complete the task you are given \
with your tools, then answer with a concise report of what you did and found; that report is all \
the caller sees.";

pub(crate) struct TaskTool {
    types: Vec<String>,
    description: String,
}

impl TaskTool {
    pub(crate) fn new(core: &AgentCore) -> Self {
        let mut types = Vec::new();
        let mut lines = Vec::new();
        if core.include_general_purpose {
            types.push(GENERAL_PURPOSE.to_owned());
            lines.push(format!(
                "- {GENERAL_PURPOSE}: {GENERAL_PURPOSE_DESCRIPTION}"
            ));
        }
        for s in &core.subagents {
            types.push(s.name.clone());
            lines.push(format!("- {}: {}", s.name, s.description));
        }
        let description = format!(
            "Start a subagent to do a self-contained task and get its final report back. The subagent does not see this conversation: describe the task completely and say what to report. It shares the files, not the todo list. Call task several times in one turn to run independent tasks in parallel.\n\nSubagent types:\n{}",
            lines.join("\n")
        );
        TaskTool { types, description }
    }
}

#[derive(Deserialize)]
struct TaskArgs {
    description: String,
    #[serde(default)]
    subagent_type: Option<String>,
}

#[async_trait]
impl Tool for TaskTool {
    fn name(&self) -> &str {
        "task"
    }

    fn definition(&self) -> ToolDef {
        ToolDef {
            name: "task".to_owned(),
            description: self.description.clone(),
            parameters: json!({"type": "object", "properties": {
                "description": {"type": "string", "description": "The complete task for the subagent, with everything it needs to know and what to report back."},
                "subagent_type": {"type": "string", "enum": self.types, "default": self.types.first(), "description": "Which subagent to use."}
            }, "required": ["description"]}),
        }
    }

    async fn call(&self, ctx: &ToolContext, args: Value) -> Result<String, ToolError> {
        let a: TaskArgs = parse_args(args)?;
        let core: Arc<AgentCore> = ctx.env.core.clone();
        let kind = a
            .subagent_type
            .filter(|k| !k.is_empty())
            .or_else(|| self.types.first().cloned())
            .unwrap_or_else(|| GENERAL_PURPOSE.to_owned());
        let depth = ctx.env.depth + 1;
        let profile = if kind == GENERAL_PURPOSE && core.include_general_purpose {
            let instructions = match &core.instructions {
                Some(i) => format!(
                    "{GENERAL_PURPOSE_INSTRUCTIONS}\n\n{}",
                    crate::prompt::dedent(i)
                ),
                None => GENERAL_PURPOSE_INSTRUCTIONS.to_owned(),
            };
            Profile {
                instructions: Some(instructions),
                tools: core.tools.clone(),
                model: core.model.clone(),
                depth,
                processors: core.processors.clone(),
                run_id: ctx.env.child_run_id(&kind),
                compactor: core.compactor.clone(),
                output: None,
            }
        } else if let Some(s) = core.subagents.iter().find(|s| s.name == kind) {
            Profile {
                instructions: Some(s.instructions.clone()),
                tools: s.tools.clone().unwrap_or_else(|| core.tools.clone()),
                model: s.model.clone().unwrap_or_else(|| core.model.clone()),
                depth,
                processors: s
                    .history_processors
                    .clone()
                    .unwrap_or_else(|| core.processors.clone()),
                run_id: ctx.env.child_run_id(&kind),
                compactor: match core.sub_compactors.get(&s.name) {
                    Some(own) => own.clone(),
                    None => core.compactor.clone(),
                },
                output: None,
            }
        } else {
            return Err(ToolError::Retry(format!(
                "unknown subagent_type {kind:?}; available: {}",
                self.types.join(", ")
            )));
        };
        let deps = ctx.env.deps.for_subagent();
        let events = ctx.env.child_events(&kind);
        // The subagent spends from the run tree's one budget, so the
        // limits hold for the tree and a failed subagent's tokens count.
        let span = crate::telemetry::agent_span(&kind, &profile.model.name(), depth);
        let end = Box::pin(tracing::Instrument::instrument(
            run_loop(
                core,
                profile,
                Begin::task(a.description),
                &deps,
                events,
                ctx.env.budget.clone(),
            ),
            span.clone(),
        ))
        .await;
        if let Err(e) = &end.result {
            crate::telemetry::record_error(&span, e);
        }
        let result = end.result;
        match result {
            Ok(output) => Ok(output),
            Err(e) => Err(ToolError::Failed(format!(
                "the {kind} subagent failed: {e}"
            ))),
        }
    }
}
