//! History processors: a hook that sees, and may rewrite, the
//! conversation before every model request.

use std::sync::Arc;

use async_trait::async_trait;
use futures::future::BoxFuture;

use crate::error::AgentError;
use crate::messages::{Message, Usage};

/// What a [`HistoryProcessor`] knows about the run it works for.
#[derive(Debug, Clone, PartialEq)]
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
}

/// Sees the message list before every model request and may rewrite it
/// in place: trim old turns, drop bulky tool results, summarise, redact.
///
/// The rewritten list is what is sent, and it replaces the run's history, so what a processor
/// removes stays removed for the rest of the run and is not in the
/// [`RunResult`](crate::RunResult) (keep a copy if it matters — see
/// compaction in the issue tracker). Processors run in the order they
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
