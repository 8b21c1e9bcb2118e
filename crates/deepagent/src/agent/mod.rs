//! The agent: its configuration, the tools of a run, and the system prompt.
//!
//! `builder` configures, `run` is the tool loop, `call` runs one tool call.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::deps::{DeepAgentDeps, Todo};
use crate::error::RunError;
use crate::events::{AgentEvent, ApprovalFn, Decision, EventSink, PendingCall, RunStream};
use crate::messages::{Message, ModelRequest, ModelResponse, ToolCall, ToolDef, Usage};
use crate::models::{
    infer_model_configured, Model, ModelOptions, ModelPrice, PriceTable, ResponseAccumulator,
};
use crate::prompt::{self, PromptParts};
use crate::tools::{builtin, task, validate_args, Tool, ToolContext, ToolError};
use crate::AgentError;

mod builder;
mod call;
mod history;
mod run;

pub use history::{HistoryProcessor, ProcessorContext};

pub use builder::{create_deep_agent, DeepAgentBuilder, SubAgent, UsageLimits};
pub(crate) use run::{run_loop, Begin, Budget};

/// Where oversized tool results are saved.
pub const LARGE_RESULTS_DIR: &str = "/large_tool_results";
/// The name of the default subagent type.
pub const GENERAL_PURPOSE: &str = "general-purpose";

/// What a finished run returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunResult {
    /// The model's final answer.
    pub output: String,
    /// The whole conversation, including the history the run started
    /// from; pass it to [`DeepAgent::run_with_history`] to continue.
    pub messages: Vec<Message>,
    /// Requests and tokens of this run, subagents included (a subagent
    /// that failed too: what it spent before failing).
    pub usage: Usage,
    /// The todo list at the end of the run.
    #[serde(default)]
    pub todos: Vec<Todo>,
}

impl RunResult {
    /// The finished run as a [`RunState`] (no pending calls), to save a
    /// session the same way as a run that stopped.
    pub fn into_state(self) -> RunState {
        RunState {
            messages: self.messages,
            usage: self.usage,
            todos: self.todos,
            pending: Vec::new(),
        }
    }
}

/// Everything a run has done so far: the conversation, what it spent,
/// its todo list, and the tool calls waiting for a human decision.
///
/// Every run that ends without an answer gives one back in its
/// [`RunError`]; it serializes (serde) so it can be saved, inspected, and
/// continued later, in another process, with [`DeepAgent::resume`].
///
/// ```
/// use deepagent::{Message, RunState};
/// let state = RunState::new(vec![Message::user("hi")]);
/// let saved = serde_json::to_string(&state).unwrap();
/// let back: RunState = serde_json::from_str(&saved).unwrap();
/// assert_eq!(back, state);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunState {
    /// The conversation so far. Every tool call in it has its result,
    /// except the [`pending`](Self::pending) ones.
    pub messages: Vec<Message>,
    /// Requests and tokens spent so far, subagents included. A resumed
    /// run goes on counting from here, so its limits hold for the whole
    /// run.
    pub usage: Usage,
    /// The todo list.
    #[serde(default)]
    pub todos: Vec<Todo>,
    /// Tool calls waiting for a human decision (a paused run), in call
    /// order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingCall>,
}

impl RunState {
    /// A state holding `messages` and nothing spent, no todos, nothing
    /// pending: a conversation to continue with
    /// [`DeepAgent::resume`]. Set the other fields on the result.
    pub fn new(messages: Vec<Message>) -> Self {
        RunState {
            messages,
            ..Self::default()
        }
    }
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
    pause_for_approval: bool,
    retries: usize,
    max_steps: u64,
    limits: UsageLimits,
    pub(crate) max_result_chars: usize,
    max_subagent_depth: usize,
    pub(crate) processors: Vec<Arc<dyn HistoryProcessor>>,
    prices: PriceTable,
}

/// Who is running: the main agent or a subagent.
#[derive(Clone)]
pub(crate) struct Profile {
    pub instructions: Option<String>,
    pub tools: Vec<Arc<dyn Tool>>,
    pub model: Arc<dyn Model>,
    pub depth: usize,
    /// Run before each of this agent's model requests.
    pub processors: Vec<Arc<dyn HistoryProcessor>>,
}

/// What tools of one run share.
pub(crate) struct RunEnv {
    pub core: Arc<AgentCore>,
    pub depth: usize,
    pub deps: DeepAgentDeps,
    events: Option<EventSink>,
    /// What the whole run tree has spent: one budget for the main agent
    /// and its subagents.
    pub budget: Arc<Budget>,
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
    ///
    /// A run that ends without one (a limit, a provider error,
    /// cancellation, a pause for approval) returns a [`RunError`] holding
    /// why and the [`RunState`] so far. Cancel a run through
    /// [`DeepAgentDeps::with_cancellation`].
    pub async fn run(&self, prompt: &str, deps: &DeepAgentDeps) -> Result<RunResult, RunError> {
        self.run_with_history(prompt, Vec::new(), deps).await
    }

    /// Runs `prompt` after an earlier conversation (e.g. the `messages` of
    /// a previous [`RunResult`]). Tool calls of the history left without
    /// a result (a run that was cut short) get one saying so, so the
    /// conversation sent stays valid.
    pub async fn run_with_history(
        &self,
        prompt: &str,
        history: Vec<Message>,
        deps: &DeepAgentDeps,
    ) -> Result<RunResult, RunError> {
        run::run_root(
            self.core.clone(),
            self.main_profile(),
            Begin::prompt(history, prompt),
            Usage::default(),
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
        let fut = run::run_root(
            self.core.clone(),
            self.main_profile(),
            Begin::prompt(history, prompt),
            Usage::default(),
            deps,
            Some(EventSink::root(tx)),
        );
        RunStream::new(Box::pin(fut), rx)
    }

    /// Continues a run from its [`RunState`]: one that paused for approval
    /// (see [`DeepAgentBuilder::pause_for_approval`]), failed, or was
    /// cancelled, possibly saved and loaded in another process.
    ///
    /// `decisions` answers each of the state's
    /// [`pending`](RunState::pending) calls by call id; every pending call
    /// needs one, and ids that name no pending call are refused, so a
    /// typo cannot approve the wrong call. The decided calls run (or are
    /// refused) first, then the loop goes on. The state's usage is the
    /// starting point of the limits and its todos are put back in `deps`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use deepagent::{create_deep_agent, Decision, DeepAgentDeps, FunctionModel, ModelResponse, RunState, StateBackend};
    /// use serde_json::json;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let model = FunctionModel::new(|req| match req.latest_tool_results().first() {
    ///     None => ModelResponse::call("write_file", json!({"path": "/a.txt", "content": "hi"})),
    ///     Some((_, result)) => ModelResponse::text(format!("tool said: {result}")),
    /// });
    /// let agent = create_deep_agent()
    ///     .model_impl(Arc::new(model))
    ///     .interrupt_on(["write_file"])
    ///     .pause_for_approval()
    ///     .build()?;
    /// let backend = StateBackend::new();
    /// let deps = DeepAgentDeps::new(backend.clone());
    ///
    /// // The run stops before writing; its state can be saved as JSON.
    /// let paused = agent.run("write a.txt", &deps).await.unwrap_err();
    /// assert!(paused.is_paused());
    /// let saved = serde_json::to_string(&paused.state)?;
    ///
    /// // Later, perhaps in another process: decide and go on.
    /// let state: RunState = serde_json::from_str(&saved)?;
    /// let id = state.pending[0].call_id.clone();
    /// let done = agent.resume(state, [(id, Decision::Approve)], &deps).await?;
    /// assert_eq!(done.output, "tool said: Wrote 2 bytes to /a.txt");
    /// assert_eq!(backend.paths(), ["/a.txt"]);
    /// # Ok(()) }
    /// ```
    pub async fn resume(
        &self,
        state: RunState,
        decisions: impl IntoIterator<Item = (String, Decision)>,
        deps: &DeepAgentDeps,
    ) -> Result<RunResult, RunError> {
        let (begin, usage) = self.resume_begin(state, decisions, deps)?;
        run::run_root(
            self.core.clone(),
            self.main_profile(),
            begin,
            usage,
            deps,
            None,
        )
        .await
    }

    /// [`resume`](Self::resume), reporting progress as a stream of events
    /// like [`run_stream`](Self::run_stream).
    pub fn resume_stream<'a>(
        &'a self,
        state: RunState,
        decisions: impl IntoIterator<Item = (String, Decision)>,
        deps: &'a DeepAgentDeps,
    ) -> RunStream<'a> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let begun = self.resume_begin(state, decisions, deps);
        let core = self.core.clone();
        let profile = self.main_profile();
        let fut = async move {
            let (begin, usage) = begun?;
            run::run_root(core, profile, begin, usage, deps, Some(EventSink::root(tx))).await
        };
        RunStream::new(Box::pin(fut), rx)
    }

    /// Matches decisions to pending calls and restores the todos.
    fn resume_begin(
        &self,
        state: RunState,
        decisions: impl IntoIterator<Item = (String, Decision)>,
        deps: &DeepAgentDeps,
    ) -> Result<(Begin, Usage), RunError> {
        let mut decisions: HashMap<String, Decision> = decisions.into_iter().collect();
        let refuse = |state: RunState, msg: String| RunError {
            error: AgentError::Config(msg),
            state: Box::new(state),
        };
        let mut decided = Vec::with_capacity(state.pending.len());
        for p in &state.pending {
            match decisions.remove(&p.call_id) {
                Some(d) => decided.push((p.clone(), d)),
                None => {
                    let msg = format!(
                        "no decision for the pending call {} ({}); pass one for every call in RunState::pending",
                        p.call_id, p.tool_name
                    );
                    return Err(refuse(state, msg));
                }
            }
        }
        if !decisions.is_empty() {
            let mut ids: Vec<&str> = decisions.keys().map(String::as_str).collect();
            ids.sort_unstable();
            let msg = format!(
                "decisions for calls that are not pending: {}; the pending calls are in RunState::pending",
                ids.join(", ")
            );
            return Err(refuse(state, msg));
        }
        deps.todo_handle().set(state.todos);
        Ok((Begin::resumed(state.messages, decided), state.usage))
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
            processors: self.core.processors.clone(),
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
