//! The agent: its builder and the tool loop.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::deps::DeepAgentDeps;
use crate::events::{AgentEvent, ApprovalFn, Decision, EventTx, PendingCall, RunStream};
use crate::messages::{Message, ModelRequest, ModelResponse, ToolCall, ToolDef, Usage};
use crate::models::{infer_model, Model, ResponseAccumulator};
use crate::prompt::{self, PromptParts};
use crate::tools::{builtin, task, validate_args, Tool, ToolContext, ToolError};
use crate::AgentError;

/// Where oversized tool results are saved.
pub const LARGE_RESULTS_DIR: &str = "/large_tool_results";
/// The name of the default subagent type.
pub const GENERAL_PURPOSE: &str = "general-purpose";

/// Caps on what a run may spend; `None` means no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageLimits {
    /// Most model requests (in addition to `max_steps`).
    pub request_limit: Option<u64>,
    /// Most prompt tokens over the run.
    pub input_tokens_limit: Option<u64>,
    /// Most completion tokens over the run.
    pub output_tokens_limit: Option<u64>,
    /// Most tokens in all.
    pub total_tokens_limit: Option<u64>,
}

impl UsageLimits {
    fn check_tokens(&self, u: &Usage) -> Result<(), AgentError> {
        let over = |what: &str, used: u64, limit: Option<u64>| match limit {
            Some(l) if used > l => Err(AgentError::UsageLimit(format!(
                "{used} {what} used, over the limit of {l}"
            ))),
            _ => Ok(()),
        };
        over("input tokens", u.input_tokens, self.input_tokens_limit)?;
        over("output tokens", u.output_tokens, self.output_tokens_limit)?;
        over("tokens", u.total_tokens(), self.total_tokens_limit)
    }
}

/// A specialised subagent the main agent can delegate to with `task`.
///
/// ```
/// use deepagent::SubAgent;
/// let reviewer = SubAgent::new(
///     "code-reviewer",
///     "Reviews code for bugs and style; give it the paths to review.",
///     "You are a careful code reviewer. Report problems with file and line.",
/// );
/// ```
#[derive(Clone)]
pub struct SubAgent {
    /// The `subagent_type` the model names.
    pub name: String,
    /// When to use it (shown to the main agent).
    pub description: String,
    /// Its own instructions.
    pub instructions: String,
    /// Its user tools; `None` means the main agent's.
    pub tools: Option<Vec<Arc<dyn Tool>>>,
    /// Its model; `None` means the main agent's.
    pub model: Option<Arc<dyn Model>>,
}

impl SubAgent {
    /// A subagent with the main agent's tools and model.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        instructions: impl Into<String>,
    ) -> Self {
        SubAgent {
            name: name.into(),
            description: description.into(),
            instructions: instructions.into(),
            tools: None,
            model: None,
        }
    }

    /// Gives it its own user tools.
    pub fn tools(mut self, tools: Vec<Arc<dyn Tool>>) -> Self {
        self.tools = Some(tools);
        self
    }

    /// Gives it its own model.
    pub fn model(mut self, model: Arc<dyn Model>) -> Self {
        self.model = Some(model);
        self
    }
}

impl std::fmt::Debug for SubAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubAgent").field("name", &self.name).finish()
    }
}

/// What a finished run returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The model's final answer.
    pub output: String,
    /// The whole conversation, including the history the run started
    /// from; pass it to [`DeepAgent::run_with_history`] to continue.
    pub messages: Vec<Message>,
    /// Requests and tokens of this run (subagents included).
    pub usage: Usage,
}

/// Starts building a deep agent.
///
/// ```
/// use std::sync::Arc;
/// use deepagent::{create_deep_agent, TestModel};
/// let agent = create_deep_agent()
///     .model_impl(Arc::new(TestModel::new()))
///     .instructions("You are a project assistant.")
///     .build()
///     .expect("a valid configuration");
/// ```
pub fn create_deep_agent() -> DeepAgentBuilder {
    DeepAgentBuilder::default()
}

/// Configures a [`DeepAgent`]; see [`create_deep_agent`].
#[derive(Default)]
pub struct DeepAgentBuilder {
    model_spec: Option<String>,
    model: Option<Arc<dyn Model>>,
    instructions: Option<String>,
    tools: Vec<Arc<dyn Tool>>,
    subagents: Vec<SubAgent>,
    include_todo: Option<bool>,
    include_filesystem: Option<bool>,
    include_subagents: Option<bool>,
    include_general_purpose: Option<bool>,
    include_execute: Option<bool>,
    interrupt_on: HashSet<String>,
    approval: Option<ApprovalFn>,
    retries: Option<usize>,
    max_steps: Option<u64>,
    limits: UsageLimits,
    max_result_chars: Option<usize>,
    max_subagent_depth: Option<usize>,
}

impl DeepAgentBuilder {
    /// The model as `"provider:name"`: `openai:gpt-4.1`,
    /// `anthropic:claude-sonnet-4-5`, or `test`.
    pub fn model(mut self, spec: impl Into<String>) -> Self {
        self.model_spec = Some(spec.into());
        self.model = None;
        self
    }

    /// A model object (a [`FunctionModel`](crate::FunctionModel), a
    /// configured [`OpenAiModel`](crate::models::openai::OpenAiModel), ...).
    pub fn model_impl(mut self, model: Arc<dyn Model>) -> Self {
        self.model = Some(model);
        self.model_spec = None;
        self
    }

    /// Your instructions, added to the system prompt (indentation of a
    /// multi-line literal is removed).
    pub fn instructions(mut self, text: impl Into<String>) -> Self {
        self.instructions = Some(text.into());
        self
    }

    /// Adds a user tool.
    pub fn tool(mut self, tool: Arc<dyn Tool>) -> Self {
        self.tools.push(tool);
        self
    }

    /// Adds several user tools.
    pub fn tools(mut self, tools: impl IntoIterator<Item = Arc<dyn Tool>>) -> Self {
        self.tools.extend(tools);
        self
    }

    /// Adds a named subagent.
    pub fn subagent(mut self, sub: SubAgent) -> Self {
        self.subagents.push(sub);
        self
    }

    /// Includes `write_todos`/`read_todos` (default true).
    pub fn include_todo(mut self, yes: bool) -> Self {
        self.include_todo = Some(yes);
        self
    }

    /// Includes the file tools (default true).
    pub fn include_filesystem(mut self, yes: bool) -> Self {
        self.include_filesystem = Some(yes);
        self
    }

    /// Includes `task` (default true).
    pub fn include_subagents(mut self, yes: bool) -> Self {
        self.include_subagents = Some(yes);
        self
    }

    /// Offers the general-purpose subagent besides the named ones
    /// (default true).
    pub fn include_general_purpose(mut self, yes: bool) -> Self {
        self.include_general_purpose = Some(yes);
        self
    }

    /// Forces `execute` on or off. By default it is offered exactly when
    /// the run's backend is a sandbox, decided at each run.
    pub fn include_execute(mut self, yes: bool) -> Self {
        self.include_execute = Some(yes);
        self
    }

    /// Tools whose calls wait for the approval callback.
    pub fn interrupt_on<I, S>(mut self, tools: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.interrupt_on.extend(tools.into_iter().map(Into::into));
        self
    }

    /// The approval callback for [`interrupt_on`](Self::interrupt_on)
    /// tools. Without one, such calls are denied with a message saying so.
    pub fn on_approval<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(PendingCall) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Decision> + Send + 'static,
    {
        self.approval = Some(Arc::new(move |call| Box::pin(f(call))));
        self
    }

    /// How many invalid-argument retries each tool gets per run (default 3).
    pub fn retries(mut self, n: usize) -> Self {
        self.retries = Some(n);
        self
    }

    /// Most model requests per run (default 100).
    pub fn max_steps(mut self, n: u64) -> Self {
        self.max_steps = Some(n);
        self
    }

    /// Token and request caps.
    pub fn usage_limits(mut self, limits: UsageLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Longest tool result sent to the model, in characters (default
    /// 20,000); the full text is saved under `/large_tool_results/`.
    pub fn max_tool_result_chars(mut self, n: usize) -> Self {
        self.max_result_chars = Some(n);
        self
    }

    /// How deep subagents may nest (default 2: a subagent may delegate
    /// once more).
    pub fn max_subagent_depth(mut self, n: usize) -> Self {
        self.max_subagent_depth = Some(n);
        self
    }

    /// Checks the configuration and builds the agent.
    pub fn build(self) -> Result<DeepAgent, AgentError> {
        let model = match (self.model, self.model_spec) {
            (Some(m), _) => m,
            (None, Some(spec)) => infer_model(&spec)?,
            (None, None) => {
                return Err(AgentError::Config(
                    "no model set; call .model(\"openai:gpt-4.1\") or .model_impl(...)".into(),
                ))
            }
        };
        let mut names = HashSet::new();
        for t in &self.tools {
            if !names.insert(t.name().to_owned()) {
                return Err(AgentError::Config(format!("two tools are named {:?}", t.name())));
            }
        }
        let mut sub_names = HashSet::new();
        for s in &self.subagents {
            if s.name.trim().is_empty() || !sub_names.insert(s.name.clone()) {
                return Err(AgentError::Config(format!(
                    "subagent names must be unique and non-empty; got {:?} twice or empty",
                    s.name
                )));
            }
        }
        let interrupt_on: HashSet<String> = self.interrupt_on;
        Ok(DeepAgent {
            core: Arc::new(AgentCore {
                model,
                instructions: self.instructions,
                tools: self.tools,
                subagents: self.subagents,
                include_todo: self.include_todo.unwrap_or(true),
                include_filesystem: self.include_filesystem.unwrap_or(true),
                include_subagents: self.include_subagents.unwrap_or(true),
                include_general_purpose: self.include_general_purpose.unwrap_or(true),
                include_execute: self.include_execute,
                interrupt_on,
                approval: self.approval,
                retries: self.retries.unwrap_or(3),
                max_steps: self.max_steps.unwrap_or(100),
                limits: self.limits,
                max_result_chars: self.max_result_chars.unwrap_or(20_000).max(1),
                max_subagent_depth: self.max_subagent_depth.unwrap_or(2),
            }),
        })
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
    events: Option<EventTx>,
    /// Usage of subagents started by this run's tools.
    pub child_usage: Mutex<Usage>,
}

impl RunEnv {
    pub(crate) fn emit(&self, event: AgentEvent) {
        if let Some(tx) = &self.events {
            let _ = tx.send(event);
        }
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
        run_loop(self.core.clone(), self.main_profile(), prompt.to_owned(), history, deps, None).await
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
            Some(tx),
        );
        RunStream::new(Box::pin(fut), rx)
    }

    /// The system prompt a run over `deps` would use.
    pub fn system_prompt(&self, deps: &DeepAgentDeps) -> String {
        let profile = self.main_profile();
        let (tools, _) = toolset(&self.core, &profile, deps);
        system_prompt(&self.core, &profile, deps, &tools)
    }

    /// The tool definitions a run over `deps` would offer.
    pub fn tool_definitions(&self, deps: &DeepAgentDeps) -> Vec<ToolDef> {
        toolset(&self.core, &self.main_profile(), deps).0.iter().map(|t| t.definition()).collect()
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

/// The tools of one run, and whether `execute` is among them.
fn toolset(
    core: &Arc<AgentCore>,
    profile: &Profile,
    deps: &DeepAgentDeps,
) -> (Vec<Arc<dyn Tool>>, bool) {
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
    (tools, execute)
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
        subagents.extend(core.subagents.iter().map(|s| (s.name.as_str(), s.description.as_str())));
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

/// The tool loop.
pub(crate) async fn run_loop(
    core: Arc<AgentCore>,
    profile: Profile,
    prompt: String,
    history: Vec<Message>,
    deps: &DeepAgentDeps,
    events: Option<EventTx>,
) -> Result<RunResult, AgentError> {
    let (tools, _) = toolset(&core, &profile, deps);
    let definitions: Vec<ToolDef> = tools.iter().map(|t| t.definition()).collect();
    // Schemas are looked up per call; keep them rather than rebuilding.
    let by_name: HashMap<String, (Arc<dyn Tool>, Value)> = tools
        .iter()
        .zip(&definitions)
        .map(|(t, d)| (t.name().to_owned(), (t.clone(), d.parameters.clone())))
        .collect();
    let streaming = events.is_some();
    let env = Arc::new(RunEnv {
        core: core.clone(),
        depth: profile.depth,
        deps: deps.clone(),
        events,
        child_usage: Mutex::new(Usage::default()),
    });
    // One request object for the whole run: messages are appended in
    // place rather than cloned per step.
    let mut request = ModelRequest {
        system: system_prompt(&core, &profile, deps, &tools),
        messages: history,
        tools: definitions,
    };
    request.messages.push(Message::user(prompt));
    let mut usage = Usage::default();
    let mut retries_used: HashMap<String, usize> = HashMap::new();
    loop {
        if usage.requests >= core.max_steps {
            return Err(AgentError::StepLimit {
                max_steps: core.max_steps,
            });
        }
        if let Some(l) = core.limits.request_limit.filter(|l| usage.requests >= *l) {
            return Err(AgentError::UsageLimit(format!(
                "the next model request would exceed the request limit of {l}"
            )));
        }
        let response = if streaming {
            stream_turn(profile.model.as_ref(), &request, &env).await?
        } else {
            profile.model.request(&request).await?
        };
        usage.requests += 1;
        usage.input_tokens += response.usage.input_tokens;
        usage.output_tokens += response.usage.output_tokens;
        core.limits.check_tokens(&usage)?;
        let ModelResponse {
            text, tool_calls, ..
        } = response;
        if tool_calls.is_empty() {
            request.messages.push(Message::assistant(text.clone()));
            return Ok(RunResult {
                output: text,
                messages: request.messages,
                usage,
            });
        }
        request.messages.push(Message::Assistant {
            content: text,
            tool_calls: tool_calls.clone(),
        });
        let outcomes = futures::future::join_all(tool_calls.iter().map(|call| {
            let ctx = ToolContext {
                backend: deps.backend().clone(),
                todos: deps.todo_handle().clone(),
                call_id: call.id.clone(),
                env: env.clone(),
            };
            handle_call(&core, &by_name, call, ctx)
        }))
        .await;
        if let Ok(mut child) = env.child_usage.lock() {
            usage.add(std::mem::take(&mut *child));
        }
        core.limits.check_tokens(&usage)?;
        for (call, (content, retry)) in tool_calls.into_iter().zip(outcomes) {
            if retry {
                let used = retries_used.entry(call.name.clone()).or_insert(0);
                *used += 1;
                if *used > core.retries {
                    return Err(AgentError::ToolRetriesExceeded {
                        tool: call.name,
                        retries: core.retries,
                        last_error: content,
                    });
                }
            }
            request.messages.push(Message::Tool {
                tool_call_id: call.id,
                name: call.name,
                content,
            });
        }
    }
}

async fn stream_turn(
    model: &dyn Model,
    request: &ModelRequest,
    env: &RunEnv,
) -> Result<ModelResponse, AgentError> {
    let mut stream = model.request_stream(request).await?;
    let mut acc = ResponseAccumulator::default();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if let crate::models::StreamChunk::TextDelta(t) = &chunk {
            env.emit(AgentEvent::TextDelta { text: t.clone() });
        }
        acc.push(&chunk);
    }
    Ok(acc.finish())
}

/// Runs one call; returns the text for the model and whether it asks the
/// model to retry.
async fn handle_call(
    core: &AgentCore,
    tools: &HashMap<String, (Arc<dyn Tool>, Value)>,
    call: &ToolCall,
    ctx: ToolContext,
) -> (String, bool) {
    let parsed = parse_arguments(&call.arguments);
    let shown = parsed.clone().unwrap_or_else(|_| Value::String(call.arguments.clone()));
    ctx.emit(AgentEvent::ToolCallStarted {
        call_id: call.id.clone(),
        name: call.name.clone(),
        args: shown.clone(),
    });
    let (args, outcome) = execute_call(core, tools, call, parsed, &ctx).await;
    let (text, is_error, retry) = match outcome {
        Ok(text) => (cap_result(core, &ctx, &call.name, text).await, false, false),
        Err(ToolError::Failed(msg)) => (
            cap_result(core, &ctx, &call.name, format!("Error: {msg}")).await,
            true,
            false,
        ),
        Err(ToolError::Retry(msg)) => (
            format!("Error: {msg}\nFix the arguments and call {} again.", call.name),
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
    (text, retry)
}

fn parse_arguments(raw: &str) -> Result<Value, String> {
    if raw.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_str(raw).map_err(|e| format!("the arguments are not valid JSON ({e})"))
}

async fn execute_call(
    core: &AgentCore,
    tools: &HashMap<String, (Arc<dyn Tool>, Value)>,
    call: &ToolCall,
    parsed: Result<Value, String>,
    ctx: &ToolContext,
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
        Err(problem) => return (None, Err(ToolError::Retry(format!("invalid arguments for {}: {problem}", call.name)))),
    };
    if let Err(problem) = validate_args(schema, &args) {
        return (
            Some(args),
            Err(ToolError::Retry(format!("invalid arguments for {}: {problem}", call.name))),
        );
    }
    if core.interrupt_on.contains(&call.name) {
        let pending = PendingCall {
            call_id: call.id.clone(),
            tool_name: call.name.clone(),
            args: args.clone(),
        };
        ctx.emit(AgentEvent::PendingApproval {
            call: pending.clone(),
        });
        let decision = match &core.approval {
            Some(approve) => approve(pending).await,
            None => {
                return (
                    Some(args),
                    Err(ToolError::Failed(format!(
                        "{} needs human approval, and no approval callback is configured (set one with on_approval), so the call was not run",
                        call.name
                    ))),
                )
            }
        };
        match decision {
            Decision::Approve => {}
            Decision::Deny { reason } => {
                return (
                    Some(args),
                    Err(ToolError::Failed(format!(
                        "the user denied this call to {}: {reason}",
                        call.name
                    ))),
                )
            }
            Decision::Edit { args: edited } => {
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
    }
    let result = tool.call(ctx, args.clone()).await;
    (Some(args), result)
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
    let id: String = ctx
        .call_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect();
    let path = format!("{LARGE_RESULTS_DIR}/{id}.txt");
    let lines = deepagent_core::text::count_lines(text.as_bytes());
    let note = match ctx.backend.write(&path, deepagent_core::Bytes::from(text.clone())).await {
        Ok(_) => format!(
            "[Output truncated: {total} characters in all, {max} shown. The full output ({lines} lines) was saved to {path}; read it with read_file using offset and limit.]"
        ),
        Err(e) => format!("[Output truncated: {total} characters in all, {max} shown. The full output could not be saved: {e}]"),
    };
    format!("{head}\n\n{note}")
}
