//! History processors: a hook that sees, and may rewrite, the
//! conversation before every model request.

use std::sync::Arc;

use async_trait::async_trait;
use futures::future::BoxFuture;

use crate::deps::Todo;
use crate::error::AgentError;
use crate::messages::{Message, Usage};
use crate::models::CHARS_PER_TOKEN;

use super::RunEnv;

/// What a [`HistoryProcessor`] knows about the run it works for.
///
/// Equality compares the public fields.
#[derive(Clone)]
#[non_exhaustive]
pub struct ProcessorContext {
    /// What the whole run tree has spent before this request (subagents
    /// included), cost too.
    pub usage: Usage,
    /// The name of the model about to be asked (`openai:gpt-4.1`, ...).
    pub model: String,
    /// 0 for the main agent, 1 for a subagent it started, and so on.
    pub depth: usize,
    /// Prompt tokens the provider reported for this loop's previous
    /// request (cache reads and writes included), or `None` before the
    /// first one: the best measure of how full the context window is.
    pub last_prompt_tokens: Option<u64>,
    /// How many prompt tokens the model accepts, from the agent's
    /// [`ContextWindows`](crate::ContextWindows), if it knows the model.
    pub context_window: Option<u64>,
    /// Names this run (or subagent run) on the backend: compaction's
    /// history file is `/conversation_history/<run_id>.md`. A subagent's
    /// id is its parent's followed by the subagent type and a number.
    pub run_id: String,
    pub(crate) estimate: EstimateBase,
    pub(crate) env: Arc<RunEnv>,
}

impl ProcessorContext {
    /// About how many prompt tokens a request with `messages` would
    /// take: the tokens the provider reported for the previous request
    /// and its answer, plus about a token per 4 characters added since;
    /// or, before the first request, when the history got shorter, or
    /// when the provider reports no usage, the whole request (system prompt and tool definitions included)
    /// at 4 characters a token.
    pub fn estimate_prompt_tokens(&self, messages: &[Message]) -> u64 {
        self.estimate.tokens(messages)
    }

    /// The run's backend (where compaction saves what it takes out).
    pub fn backend(&self) -> &Arc<dyn deepagent_core::Backend> {
        self.env.deps.backend()
    }

    /// The run's todo list as it is now (a subagent's own list for a
    /// subagent).
    pub fn todos(&self) -> Vec<Todo> {
        self.env.deps.todos()
    }
}

impl std::fmt::Debug for ProcessorContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessorContext")
            .field("usage", &self.usage)
            .field("model", &self.model)
            .field("depth", &self.depth)
            .field("last_prompt_tokens", &self.last_prompt_tokens)
            .field("context_window", &self.context_window)
            .field("run_id", &self.run_id)
            .finish_non_exhaustive()
    }
}

impl PartialEq for ProcessorContext {
    fn eq(&self, other: &Self) -> bool {
        self.usage == other.usage
            && self.model == other.model
            && self.depth == other.depth
            && self.last_prompt_tokens == other.last_prompt_tokens
            && self.context_window == other.context_window
            && self.run_id == other.run_id
    }
}

/// What the loop knows to estimate the size of a prompt.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct EstimateBase {
    /// Characters of the system prompt and the tool definitions.
    pub fixed_chars: usize,
    /// What the previous request's prompt and answer came to, in tokens,
    /// and how many messages it sent.
    pub last_sent: Option<(u64, usize)>,
}

impl EstimateBase {
    /// The prompt tokens a request with `messages` will likely cost.
    /// Cache discounts are ignored, so the estimate errs high.
    pub(crate) fn tokens(&self, messages: &[Message]) -> u64 {
        match self.last_sent {
            // A provider that reports no usage (0) leaves only the length.
            Some((tokens, len)) if tokens > 0 && len <= messages.len() => {
                tokens + (message_chars(&messages[len..]) / CHARS_PER_TOKEN) as u64
            }
            _ => ((self.fixed_chars + message_chars(messages)) / CHARS_PER_TOKEN) as u64,
        }
    }
}

/// The characters of `messages` a model reads.
pub(crate) fn message_chars(messages: &[Message]) -> usize {
    messages
        .iter()
        .map(|m| match m {
            Message::User { content } => content.len(),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                content.len()
                    + tool_calls
                        .iter()
                        .map(|c| c.name.len() + c.arguments.len())
                        .sum::<usize>()
            }
            Message::Tool { content, .. } => content.len(),
        })
        .sum()
}

/// Sees the message list before every model request and may rewrite it
/// in place: trim old turns, drop bulky tool results, summarise, redact.
///
/// The rewritten list is what is sent, and it replaces the run's history, so what a processor
/// removes stays removed for the rest of the run and is not in the
/// [`RunResult`](crate::RunResult) (keep a copy if it matters, as
/// [compaction](crate::CompactionConfig) does). Processors run in the order they
/// were added, each on the previous one's output. A processor must keep
/// every tool call next to its result: providers refuse a call without
/// one.
///
/// Most processors are closures given to
/// [`DeepAgentBuilder::history_processor`](crate::DeepAgentBuilder::history_processor)
/// (sync) or
/// [`history_processor_async`](crate::DeepAgentBuilder::history_processor_async);
/// implement the trait for one that keeps state.
#[async_trait]
pub trait HistoryProcessor: Send + Sync {
    /// Rewrites `messages` into what is sent (and kept). An error ends
    /// the run with that error; the run's state keeps `messages` as the
    /// processor left them.
    async fn process(
        &self,
        ctx: &ProcessorContext,
        messages: &mut Vec<Message>,
    ) -> Result<(), AgentError>;
}

type SyncFn = dyn Fn(&ProcessorContext, &mut Vec<Message>) + Send + Sync;

/// A synchronous closure as a [`HistoryProcessor`].
pub(crate) struct SyncProcessor(pub(crate) Box<SyncFn>);

#[async_trait]
impl HistoryProcessor for SyncProcessor {
    async fn process(
        &self,
        ctx: &ProcessorContext,
        messages: &mut Vec<Message>,
    ) -> Result<(), AgentError> {
        (self.0)(ctx, messages);
        Ok(())
    }
}

type AsyncFn = dyn for<'a> Fn(ProcessorContext, &'a mut Vec<Message>) -> BoxFuture<'a, Result<(), AgentError>>
    + Send
    + Sync;

/// An async closure as a [`HistoryProcessor`].
pub(crate) struct AsyncProcessor(pub(crate) Box<AsyncFn>);

#[async_trait]
impl HistoryProcessor for AsyncProcessor {
    async fn process(
        &self,
        ctx: &ProcessorContext,
        messages: &mut Vec<Message>,
    ) -> Result<(), AgentError> {
        (self.0)(ctx.clone(), messages).await
    }
}

/// Wraps a sync closure.
pub(crate) fn from_sync<F>(f: F) -> Arc<dyn HistoryProcessor>
where
    F: Fn(&ProcessorContext, &mut Vec<Message>) + Send + Sync + 'static,
{
    Arc::new(SyncProcessor(Box::new(f)))
}

/// Wraps an async closure.
pub(crate) fn from_async<F>(f: F) -> Arc<dyn HistoryProcessor>
where
    F: for<'a> Fn(ProcessorContext, &'a mut Vec<Message>) -> BoxFuture<'a, Result<(), AgentError>>
        + Send
        + Sync
        + 'static,
{
    Arc::new(AsyncProcessor(Box::new(f)))
}

/// Runs `processors` in order over `messages`.
pub(crate) async fn apply(
    processors: &[Arc<dyn HistoryProcessor>],
    ctx: &ProcessorContext,
    messages: &mut Vec<Message>,
) -> Result<(), AgentError> {
    for p in processors {
        p.process(ctx, messages).await?;
    }
    Ok(())
}
