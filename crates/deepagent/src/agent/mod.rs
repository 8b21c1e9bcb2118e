//! The agent: its configuration, the tools of a run, and the system prompt.
//!
//! `builder` configures, `run` is the tool loop, `call` runs one tool call.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::deps::DeepAgentDeps;
use crate::events::{AgentEvent, ApprovalFn, Decision, EventSink, PendingCall, RunStream};
use crate::messages::{Message, ModelRequest, ModelResponse, ToolCall, ToolDef, Usage};
use crate::models::{infer_model_configured, Model, ModelOptions, ResponseAccumulator};
use crate::prompt::{self, PromptParts};
use crate::tools::{builtin, task, validate_args, Tool, ToolContext, ToolError};
use crate::AgentError;

mod builder;
mod call;
mod run;

pub use builder::{create_deep_agent, DeepAgentBuilder, SubAgent, UsageLimits};
pub(crate) use run::{run_loop, run_loop_counting};

/// Where oversized tool results are saved.
pub const LARGE_RESULTS_DIR: &str = "/large_tool_results";
/// The name of the default subagent type.
pub const GENERAL_PURPOSE: &str = "general-purpose";

/// What a finished run returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The model's final answer.
    pub output: String,
    /// The whole conversation, including the history the run started
    /// from; pass it to [`DeepAgent::run_with_history`] to continue.
    pub messages: Vec<Message>,
    /// Requests and tokens of this run, subagents included (a subagent
    /// that failed too: what it spent before failing).
    pub usage: Usage,
}

pub(crate) struct AgentCore {
    pub(crate) model: Arc<dyn Model>,
    pub(crate) instructions: Option<String>,
    pub(crate) tools: Vec<Arc<dyn Tool>>,
    pub(crate) subagents: Vec<SubAgent>,
    include_todo: bool,
    include_filesystem: bool,
    include_subagents: bool,
    pub(crate) include_general_purpose: bool,
    include_execute: Option<bool>,
    interrupt_on: HashSet<String>,
    approval: Option<ApprovalFn>,
    retries: usize,
    max_steps: u64,
    limits: UsageLimits,
    max_result_chars: usize,
    max_subagent_depth: usize,
}

/// Who is running: the main agent or a subagent.
#[derive(Clone)]
pub(crate) struct Profile {
    pub instructions: Option<String>,
    pub tools: Vec<Arc<dyn Tool>>,
    pub model: Arc<dyn Model>,
    pub depth: usize,
}

/// What tools of one run share.
pub(crate) struct RunEnv {
    pub core: Arc<AgentCore>,
    pub depth: usize,
    pub deps: DeepAgentDeps,
    events: Option<EventSink>,
    /// Usage of subagents started by this run's tools.
    pub child_usage: Mutex<Usage>,
}

impl RunEnv {
    pub(crate) fn emit(&self, event: AgentEvent) {
        if let Some(sink) = &self.events {
            sink.send(event);
        }
    }

    /// Where a subagent of type `name` started by this run reports.
    pub(crate) fn child_events(&self, name: &str) -> Option<EventSink> {
        self.events.as_ref().map(|s| s.child(name))
    }
}

/// A configured deep agent. Cheap to clone; one agent serves many runs.
#[derive(Clone)]
pub struct DeepAgent {
    core: Arc<AgentCore>,
}

impl std::fmt::Debug for DeepAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeepAgent")
            .field("model", &self.core.model.name())
            .finish()
    }
}

impl DeepAgent {
    /// The model's name.
    pub fn model_name(&self) -> String {
        self.core.model.name()
    }

    /// Runs `prompt` to a final answer.
    pub async fn run(&self, prompt: &str, deps: &DeepAgentDeps) -> Result<RunResult, AgentError> {
        self.run_with_history(prompt, Vec::new(), deps).await
    }

    /// Runs `prompt` after an earlier conversation (e.g. the `messages` of
    /// a previous [`RunResult`]).
    pub async fn run_with_history(
        &self,
        prompt: &str,
        history: Vec<Message>,
        deps: &DeepAgentDeps,
    ) -> Result<RunResult, AgentError> {
        run_loop(
            self.core.clone(),
            self.main_profile(),
            prompt.to_owned(),
            history,
            deps,
            None,
        )
        .await
    }

    /// Runs `prompt`, reporting progress as a stream of events; the model
    /// is asked to stream its answer. The last event is
    /// [`AgentEvent::Finished`] with the result.
    pub fn run_stream<'a>(&'a self, prompt: &str, deps: &'a DeepAgentDeps) -> RunStream<'a> {
        self.run_stream_with_history(prompt, Vec::new(), deps)
    }

    /// [`run_stream`](Self::run_stream) after an earlier conversation.
    pub fn run_stream_with_history<'a>(
        &'a self,
        prompt: &str,
        history: Vec<Message>,
        deps: &'a DeepAgentDeps,
    ) -> RunStream<'a> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let fut = run_loop(
            self.core.clone(),
            self.main_profile(),
            prompt.to_owned(),
            history,
            deps,
            Some(EventSink::root(tx)),
        );
        RunStream::new(Box::pin(fut), rx)
    }

    /// The system prompt a run over `deps` would use.
    pub fn system_prompt(&self, deps: &DeepAgentDeps) -> String {
        let profile = self.main_profile();
        let tools = toolset(&self.core, &profile, deps);
        system_prompt(&self.core, &profile, deps, &tools)
    }

    /// The tool definitions a run over `deps` would offer.
    pub fn tool_definitions(&self, deps: &DeepAgentDeps) -> Vec<ToolDef> {
        toolset(&self.core, &self.main_profile(), deps)
            .iter()
            .map(|t| t.definition())
            .collect()
    }

    fn main_profile(&self) -> Profile {
        Profile {
            instructions: self.core.instructions.clone(),
            tools: self.core.tools.clone(),
            model: self.core.model.clone(),
            depth: 0,
        }
    }
}

/// The tools of one run.
fn toolset(core: &Arc<AgentCore>, profile: &Profile, deps: &DeepAgentDeps) -> Vec<Arc<dyn Tool>> {
    let mut tools: Vec<Arc<dyn Tool>> = Vec::new();
    if core.include_filesystem {
        tools.extend(builtin::filesystem());
    }
    let execute = core
        .include_execute
        .unwrap_or_else(|| deps.backend().as_sandbox().is_some());
    if execute {
        tools.push(Arc::new(builtin::Execute));
    }
    if core.include_todo {
        tools.extend(builtin::todos());
    }
    if subagents_enabled(core, profile.depth) {
        tools.push(Arc::new(task::TaskTool::new(core)));
    }
    // A user tool with a built-in's name replaces the built-in.
    for t in &profile.tools {
        tools.retain(|b| b.name() != t.name());
        tools.push(t.clone());
    }
    tools
}

fn subagents_enabled(core: &AgentCore, depth: usize) -> bool {
    core.include_subagents
        && depth < core.max_subagent_depth
        && (core.include_general_purpose || !core.subagents.is_empty())
}

fn system_prompt(
    core: &AgentCore,
    profile: &Profile,
    deps: &DeepAgentDeps,
    tools: &[Arc<dyn Tool>],
) -> String {
    let has = |n: &str| tools.iter().any(|t| t.name() == n);
    let mut subagents = Vec::new();
    if has("task") {
        if core.include_general_purpose {
            subagents.push((GENERAL_PURPOSE, task::GENERAL_PURPOSE_DESCRIPTION));
        }
        subagents.extend(
            core.subagents
                .iter()
                .map(|s| (s.name.as_str(), s.description.as_str())),
        );
    }
    prompt::assemble(&PromptParts {
        filesystem: builtin::FILESYSTEM_TOOLS.iter().any(|n| has(n)),
        mounts: deps.mounts_description(),
        execute: has("execute"),
        todos: has("write_todos"),
        subagents,
        instructions: profile.instructions.as_deref(),
    })
}
