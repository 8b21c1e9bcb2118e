//! Configuring an agent.

#[allow(unused_imports)]
use super::*;

/// Caps on what a run may spend; `None` means no cap. They hold for the
/// whole run tree (subagents spend from the same budget) and are checked
/// before each model request.
///
/// ```
/// use std::sync::Arc;
/// use deepagent::{create_deep_agent, TestModel, UsageLimits};
/// let agent = create_deep_agent()
///     .model("anthropic:claude-sonnet-4-5")
/// #   .model_impl(Arc::new(TestModel::new())).model_price("test", deepagent::ModelPrice::new(0.0, 0.0))
///     .usage_limits(UsageLimits::new().cost_limit_usd(2.50))
///     .build()?;
/// # let _ = agent;
/// # Ok::<(), deepagent::AgentError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct UsageLimits {
    /// Most model requests (in addition to `max_steps`).
    pub request_limit: Option<u64>,
    /// Most prompt tokens over the run.
    pub input_tokens_limit: Option<u64>,
    /// Most completion tokens over the run.
    pub output_tokens_limit: Option<u64>,
    /// Most tokens in all.
    pub total_tokens_limit: Option<u64>,
    /// Most USD the run tree may spend, at the agent's
    /// [`PriceTable`](crate::PriceTable). Before each request the cost so
    /// far plus an estimate of the coming prompt (the previous prompt's
    /// reported size plus what was added since, uncached) is checked, so
    /// the run stops before the request that would pass the cap; it ends
    /// with [`AgentError::UsageLimit`] and its state kept. Every model of
    /// the agent needs a price, or [`build`](DeepAgentBuilder::build)
    /// fails.
    pub cost_limit_usd: Option<f64>,
}

impl UsageLimits {
    /// No caps (the same as [`UsageLimits::default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Caps the model requests.
    pub fn request_limit(mut self, n: u64) -> Self {
        self.request_limit = Some(n);
        self
    }

    /// Caps the prompt tokens over the run.
    pub fn input_tokens_limit(mut self, n: u64) -> Self {
        self.input_tokens_limit = Some(n);
        self
    }

    /// Caps the completion tokens over the run.
    pub fn output_tokens_limit(mut self, n: u64) -> Self {
        self.output_tokens_limit = Some(n);
        self
    }

    /// Caps prompt plus completion tokens.
    pub fn total_tokens_limit(mut self, n: u64) -> Self {
        self.total_tokens_limit = Some(n);
        self
    }

    /// Caps what the run tree may spend, in USD (the field of the same
    /// name says how it is checked).
    pub fn cost_limit_usd(mut self, usd: f64) -> Self {
        self.cost_limit_usd = Some(usd);
        self
    }

    pub(super) fn check_tokens(&self, u: &Usage) -> Result<(), AgentError> {
        let over = |what: &str, used: u64, limit: Option<u64>| match limit {
            Some(l) if used > l => Err(AgentError::UsageLimit(format!(
                "{used} {what} used, over the limit of {l}"
            ))),
            _ => Ok(()),
        };
        over("input tokens", u.input_tokens, self.input_tokens_limit)?;
        over("output tokens", u.output_tokens, self.output_tokens_limit)?;
        over("tokens", u.total_tokens(), self.total_tokens_limit)?;
        match self.cost_limit_usd {
            Some(cap) if u.cost_usd > cap => Err(AgentError::UsageLimit(format!(
                "${:.4} spent, over the cost limit of ${cap:.4}",
                u.cost_usd
            ))),
            _ => Ok(()),
        }
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
#[non_exhaustive]
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
    /// Its [history processors](HistoryProcessor); `None` means the main
    /// agent's.
    pub history_processors: Option<Vec<Arc<dyn HistoryProcessor>>>,
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
            history_processors: None,
        }
    }

    /// Gives it its own user tools.
    pub fn tools(mut self, tools: Vec<Arc<dyn Tool>>) -> Self {
        self.tools = Some(tools);
        self
    }

    /// Gives it its own model (the same name and argument as
    /// [`DeepAgentBuilder::model_impl`]).
    pub fn model_impl(mut self, model: Arc<dyn Model>) -> Self {
        self.model = Some(model);
        self
    }

    /// Adds a synchronous [history processor](HistoryProcessor) of its
    /// own. A subagent with processors of its own does not run the main
    /// agent's; one without runs the main agent's.
    pub fn history_processor<F>(self, f: F) -> Self
    where
        F: Fn(&ProcessorContext, &mut Vec<Message>) + Send + Sync + 'static,
    {
        self.history_processor_impl(history::from_sync(f))
    }

    /// Adds a [`HistoryProcessor`] of its own (see
    /// [`history_processor`](Self::history_processor)).
    pub fn history_processor_impl(mut self, p: Arc<dyn HistoryProcessor>) -> Self {
        self.history_processors.get_or_insert_with(Vec::new).push(p);
        self
    }

    /// Gives it its own model.
    #[deprecated(
        since = "0.2.0",
        note = "renamed model_impl: DeepAgentBuilder::model takes a model spec string"
    )]
    pub fn model(self, model: Arc<dyn Model>) -> Self {
        self.model_impl(model)
    }
}

impl std::fmt::Debug for SubAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubAgent")
            .field("name", &self.name)
            .finish()
    }
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
    pause_for_approval: bool,
    retries: Option<usize>,
    max_steps: Option<u64>,
    limits: UsageLimits,
    max_result_chars: Option<usize>,
    max_subagent_depth: Option<usize>,
    model_options: ModelOptions,
    processors: Vec<Arc<dyn HistoryProcessor>>,
    prices: Option<PriceTable>,
}

impl DeepAgentBuilder {
    /// The model as `"provider:name"`: `openai:gpt-4.1`,
    /// `anthropic:claude-sonnet-4-5`, or `test`. Its retries and timeouts
    /// are set with [`model_retry`](Self::model_retry),
    /// [`model_timeout`](Self::model_timeout) and
    /// [`model_stream_idle_timeout`](Self::model_stream_idle_timeout).
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

    /// How a model named with [`model`](Self::model) retries transient
    /// HTTP failures (429, 5xx, dropped connections, broken-off streams);
    /// default [`RetryPolicy::default`](crate::RetryPolicy::default).
    ///
    /// Named `model_retry` to stay apart from [`retries`](Self::retries),
    /// which counts the model's invalid-argument retries per tool. A model
    /// given with [`model_impl`](Self::model_impl) carries its own settings,
    /// so combining the two is a configuration error at
    /// [`build`](Self::build) rather than a setting silently ignored.
    ///
    /// ```
    /// use std::time::Duration;
    /// use deepagent::{create_deep_agent, RetryPolicy};
    ///
    /// # std::env::set_var("OPENAI_API_KEY", "sk-example");
    /// let agent = create_deep_agent()
    ///     .model("openai:gpt-4.1")
    ///     .model_retry(RetryPolicy::default().max_retries(1))
    ///     .model_timeout(Duration::from_secs(30))
    ///     .model_stream_idle_timeout(Duration::from_secs(10))
    ///     .build()?;
    /// # let _ = agent;
    /// # Ok::<(), deepagent::AgentError>(())
    /// ```
    pub fn model_retry(mut self, policy: crate::RetryPolicy) -> Self {
        self.model_options.retry = Some(policy);
        self
    }

    /// How long each request of a model named with [`model`](Self::model)
    /// waits for the response head, per attempt (default
    /// [`DEFAULT_TIMEOUT`](crate::models::DEFAULT_TIMEOUT)); see
    /// [`model_retry`](Self::model_retry) for an example.
    pub fn model_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.model_options.timeout = Some(timeout);
        self
    }

    /// The longest silence a streamed answer of a model named with
    /// [`model`](Self::model) may have (default
    /// [`DEFAULT_STREAM_IDLE_TIMEOUT`](crate::models::DEFAULT_STREAM_IDLE_TIMEOUT));
    /// see [`model_retry`](Self::model_retry) for an example.
    pub fn model_stream_idle_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.model_options.stream_idle_timeout = Some(timeout);
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

    /// Tools whose calls wait for a human: the approval callback, or a
    /// pause (see [`pause_for_approval`](Self::pause_for_approval)). Every
    /// name must be a tool the agent can have, or [`build`](Self::build)
    /// fails: a typo must not turn the gate off.
    pub fn interrupt_on<I, S>(mut self, tools: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.interrupt_on.extend(tools.into_iter().map(Into::into));
        self
    }

    /// The approval callback for [`interrupt_on`](Self::interrupt_on)
    /// tools. Without one (and without
    /// [`pause_for_approval`](Self::pause_for_approval)), such calls are
    /// denied with a message saying so.
    pub fn on_approval<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(PendingCall) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Decision> + Send + 'static,
    {
        self.approval = Some(Arc::new(move |call| Box::pin(f(call))));
        self
    }

    /// Makes calls to [`interrupt_on`](Self::interrupt_on) tools stop the
    /// run instead of asking a callback: the other calls of the turn run,
    /// then the run ends with a [`RunError`](crate::RunError) whose error
    /// is [`AgentError::Paused`] and whose state lists the calls in
    /// [`RunState::pending`]. Save the state (it is serde), decide later,
    /// perhaps in another process, and continue with
    /// [`DeepAgent::resume`]; see there for an example.
    ///
    /// Subagents cannot pause: their calls to these tools still go to the
    /// [`on_approval`](Self::on_approval) callback, or are refused
    /// without one.
    pub fn pause_for_approval(mut self) -> Self {
        self.pause_for_approval = true;
        self
    }

    /// How many invalid-argument retries each tool gets in a row (default
    /// 3); a turn in which the tool gets valid arguments starts the count
    /// again. Empty answers from the model get as many nudges.
    pub fn retries(mut self, n: usize) -> Self {
        self.retries = Some(n);
        self
    }

    /// Most model requests per run (default 100), subagents' requests
    /// included: the run tree shares one budget, checked before each
    /// request, like the [`usage_limits`](Self::usage_limits).
    pub fn max_steps(mut self, n: u64) -> Self {
        self.max_steps = Some(n);
        self
    }

    /// Token and request caps for the whole run, subagents included.
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

    /// Adds a synchronous [history processor](HistoryProcessor): it sees
    /// the conversation before every model request of the main agent
    /// (and of subagents without processors of their own) and may
    /// rewrite it in place.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use deepagent::{create_deep_agent, Message, TestModel};
    ///
    /// // Keep the first message (the task) and the last 20.
    /// let agent = create_deep_agent()
    ///     .model_impl(Arc::new(TestModel::new()))
    ///     .history_processor(|_ctx, messages: &mut Vec<Message>| {
    ///         if messages.len() > 21 {
    ///             // A real trimmer must not cut between a call and its result.
    ///             let cut = messages.len() - 20;
    ///             messages.drain(1..cut);
    ///         }
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # let _ = agent;
    /// ```
    pub fn history_processor<F>(self, f: F) -> Self
    where
        F: Fn(&ProcessorContext, &mut Vec<Message>) + Send + Sync + 'static,
    {
        self.history_processor_impl(history::from_sync(f))
    }

    /// Adds an async [history processor](HistoryProcessor) (one that asks
    /// a model for a summary, say). It gets the run's context and the
    /// messages to rewrite in place, and returns a boxed future (the
    /// borrow of the messages lasts as long as it; nothing is copied). An
    /// error ends the run, its state keeping the messages as the
    /// processor left them.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use deepagent::{create_deep_agent, Message, TestModel};
    ///
    /// let agent = create_deep_agent()
    ///     .model_impl(Arc::new(TestModel::new()))
    ///     .history_processor_async(|ctx, messages| {
    ///         Box::pin(async move {
    ///             if ctx.depth > 0 {
    ///                 messages.retain(|m| !matches!(m, Message::User { content } if content.is_empty()));
    ///             }
    ///             Ok(())
    ///         })
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # let _ = agent;
    /// ```
    pub fn history_processor_async<F>(self, f: F) -> Self
    where
        F: for<'a> Fn(
                ProcessorContext,
                &'a mut Vec<Message>,
            ) -> futures::future::BoxFuture<'a, Result<(), AgentError>>
            + Send
            + Sync
            + 'static,
    {
        self.history_processor_impl(history::from_async(f))
    }

    /// Adds a [`HistoryProcessor`] object.
    pub fn history_processor_impl(mut self, p: Arc<dyn HistoryProcessor>) -> Self {
        self.processors.push(p);
        self
    }

    /// The prices runs are costed at (default: the built-in
    /// [`PriceTable`], see [`BUILTIN_PRICES_JSON`](crate::models::BUILTIN_PRICES_JSON)).
    pub fn price_table(mut self, table: PriceTable) -> Self {
        self.prices = Some(table);
        self
    }

    /// Sets one model's price (by name as the model reports it, e.g.
    /// `openai:gpt-4.1`, or without the provider), on top of the table.
    pub fn model_price(mut self, model: impl Into<String>, price: ModelPrice) -> Self {
        self.prices
            .get_or_insert_with(PriceTable::default)
            .set(model, price);
        self
    }

    /// Checks the configuration and builds the agent.
    pub fn build(self) -> Result<DeepAgent, AgentError> {
        let model = match (self.model, self.model_spec) {
            (Some(_), _) if !self.model_options.is_default() => {
                return Err(AgentError::Config(
                    "model_retry/model_timeout/model_stream_idle_timeout apply to a model named with .model(\"provider:name\"); set them on the model given to model_impl() instead".into(),
                ))
            }
            (Some(m), _) => m,
            (None, Some(spec)) => {
                infer_model_configured(&spec, &self.model_options, &|k| std::env::var(k).ok())?
            }
            (None, None) => {
                return Err(AgentError::Config(
                    "no model set; call .model(\"openai:gpt-4.1\") or .model_impl(...)".into(),
                ))
            }
        };
        let mut names = HashSet::new();
        for t in &self.tools {
            check_tool_name(t.name())?;
            if !names.insert(t.name().to_owned()) {
                return Err(AgentError::Config(format!(
                    "two tools are named {:?}",
                    t.name()
                )));
            }
        }
        for s in &self.subagents {
            for t in s.tools.iter().flatten() {
                check_tool_name(t.name())?;
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
        let prices = self.prices.unwrap_or_default();
        if self.limits.cost_limit_usd.is_some() {
            let models = std::iter::once(&model)
                .chain(self.subagents.iter().filter_map(|s| s.model.as_ref()));
            for m in models {
                if prices.get(&m.name()).is_none() {
                    return Err(AgentError::Config(format!(
                        "a cost limit is set but the model {:?} has no price, so its spending could not be counted; add one with .model_price({:?}, ModelPrice {{ .. }})",
                        m.name(),
                        m.name()
                    )));
                }
            }
        }
        let interrupt_on: HashSet<String> = self.interrupt_on;
        check_interrupt_on(&interrupt_on, &self.tools, &self.subagents)?;
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
                pause_for_approval: self.pause_for_approval,
                retries: self.retries.unwrap_or(3),
                max_steps: self.max_steps.unwrap_or(100),
                limits: self.limits,
                max_result_chars: self.max_result_chars.unwrap_or(20_000).max(1),
                max_subagent_depth: self.max_subagent_depth.unwrap_or(2),
                processors: self.processors,
                prices,
            }),
        })
    }
}

/// Providers accept tool names of 1 to 64 letters, digits, `_` and `-`;
/// another name would fail every request of every run, so it fails here.
fn check_tool_name(name: &str) -> Result<(), AgentError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(AgentError::Config(format!(
            "the tool name {name:?} is not accepted by model providers: use 1 to 64 letters, digits, '_' or '-'"
        )))
    }
}

/// Every `interrupt_on` name must be a tool the agent can have: a typo
/// would otherwise silently turn the approval gate off.
fn check_interrupt_on(
    names: &HashSet<String>,
    tools: &[Arc<dyn Tool>],
    subagents: &[SubAgent],
) -> Result<(), AgentError> {
    let mut known: HashSet<&str> = builtin::FILESYSTEM_TOOLS.into_iter().collect();
    known.extend(["execute", "write_todos", "read_todos", "task"]);
    known.extend(tools.iter().map(|t| t.name()));
    for s in subagents {
        known.extend(s.tools.iter().flatten().map(|t| t.name()));
    }
    let mut unknown: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| !known.contains(n))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort_unstable();
    let mut all: Vec<&str> = known.into_iter().collect();
    all.sort_unstable();
    Err(AgentError::Config(format!(
        "interrupt_on names {} that no tool of this agent has, so nothing would wait for approval; the tools are: {}",
        unknown.join(", "),
        all.join(", ")
    )))
}
