//! What a streamed run reports, and human approval of tool calls.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::deps::Todo;
use crate::{RunError, RunResult};

/// Something that happened during a run, in order.
#[derive(Debug)]
#[non_exhaustive]
pub enum AgentEvent {
    /// More of the model's answer text.
    TextDelta {
        /// The new text.
        text: String,
    },
    /// A streamed answer broke off (a truncated stream, a dropped
    /// connection, an idle timeout) and the turn is being requested again:
    /// discard the text deltas received since the last tool call or
    /// restart; the new attempt streams the answer from its start.
    StreamRestarted {
        /// The retry number, from 1.
        attempt: u32,
        /// Why the previous attempt failed.
        reason: String,
    },
    /// A tool call is about to run.
    ToolCallStarted {
        /// The call id.
        call_id: String,
        /// The tool.
        name: String,
        /// The arguments (a JSON string value when they did not parse).
        args: Value,
    },
    /// A tool call finished (or was refused).
    ToolCallFinished {
        /// The call id.
        call_id: String,
        /// The tool.
        name: String,
        /// The arguments it ran with.
        args: Value,
        /// What the model is sent back.
        result: String,
        /// True when the result is an error or a retry request.
        is_error: bool,
    },
    /// The todo list changed.
    TodosUpdated {
        /// The new list.
        todos: Vec<Todo>,
    },
    /// A call needs approval: the approval callback is being asked, or
    /// (with [`pause_for_approval`](crate::DeepAgentBuilder::pause_for_approval))
    /// the run will pause for it.
    PendingApproval {
        /// The call.
        call: PendingCall,
    },
    /// Something a subagent (started with `task`) did. `subagent` names
    /// the chain of subagent types, outermost first; subagents of
    /// subagents are reported with a longer chain, not nested events.
    Subagent {
        /// The subagent types, outermost first.
        subagent: Vec<String>,
        /// What happened (never `Finished` or `Subagent`).
        event: Box<AgentEvent>,
    },
    /// The run ended; always the last event.
    Finished(Box<Result<RunResult, RunError>>),
}

/// A tool call waiting for a human decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PendingCall {
    /// The call id.
    pub call_id: String,
    /// The tool.
    pub tool_name: String,
    /// The arguments the model sent.
    pub args: Value,
}

impl PendingCall {
    /// A call waiting for a decision (e.g. to check an approval callback
    /// in a test).
    pub fn new(call_id: impl Into<String>, tool_name: impl Into<String>, args: Value) -> Self {
        PendingCall {
            call_id: call_id.into(),
            tool_name: tool_name.into(),
            args,
        }
    }
}

/// The human's answer to a [`PendingCall`] that `interrupt_on` paused,
/// returned by the `on_approval` callback.
///
/// Not to be confused with [`layers::PermissionDecision`], a permission
/// layer [`Approver`]'s answer about a backend operation.
///
/// [`layers::PermissionDecision`]: crate::layers::PermissionDecision
/// [`Approver`]: crate::layers::Approver
///
/// It serializes as `{"decision": "approve"}`, `{"decision": "deny",
/// "reason": ...}` or `{"decision": "edit", "args": {...}}`, so decisions
/// on a paused run can come from another process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Run the call as is.
    Approve,
    /// Do not run it; the model is told why.
    Deny {
        /// Shown to the model.
        reason: String,
    },
    /// Run it with these arguments instead.
    Edit {
        /// The replacement arguments.
        args: Value,
    },
}

pub(crate) type ApprovalFn = Arc<dyn Fn(PendingCall) -> BoxFuture<'static, Decision> + Send + Sync>;

pub(crate) type EventTx = tokio::sync::mpsc::UnboundedSender<AgentEvent>;

/// Where a run sends its events: the stream's channel, tagged with the
/// subagent chain when the run is a subagent's.
#[derive(Clone)]
pub(crate) struct EventSink {
    tx: EventTx,
    subagent: Vec<String>,
}

impl EventSink {
    pub(crate) fn root(tx: EventTx) -> Self {
        EventSink {
            tx,
            subagent: Vec::new(),
        }
    }

    /// The sink for a subagent of type `name` started by this run.
    pub(crate) fn child(&self, name: &str) -> Self {
        let mut subagent = self.subagent.clone();
        subagent.push(name.to_owned());
        EventSink {
            tx: self.tx.clone(),
            subagent,
        }
    }

    pub(crate) fn send(&self, event: AgentEvent) {
        let event = if self.subagent.is_empty() {
            event
        } else {
            AgentEvent::Subagent {
                subagent: self.subagent.clone(),
                event: Box::new(event),
            }
        };
        // The receiver is gone only when the stream was dropped; the run
        // is being abandoned then, so there is nobody to tell.
        let _ = self.tx.send(event);
    }
}

/// The events of [`DeepAgent::run_stream`](crate::DeepAgent::run_stream).
///
/// The run makes progress only while the stream is polled; the last item
/// is [`AgentEvent::Finished`].
pub struct RunStream<'a> {
    run: Option<BoxFuture<'a, Result<RunResult, RunError>>>,
    rx: tokio::sync::mpsc::UnboundedReceiver<AgentEvent>,
    result: Option<Result<RunResult, RunError>>,
    done: bool,
}

impl<'a> RunStream<'a> {
    pub(crate) fn new(
        run: BoxFuture<'a, Result<RunResult, RunError>>,
        rx: tokio::sync::mpsc::UnboundedReceiver<AgentEvent>,
    ) -> Self {
        RunStream {
            run: Some(run),
            rx,
            result: None,
            done: false,
        }
    }
}

impl Stream for RunStream<'_> {
    type Item = AgentEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<AgentEvent>> {
        let this = &mut *self;
        loop {
            if let Ok(ev) = this.rx.try_recv() {
                return Poll::Ready(Some(ev));
            }
            if let Some(run) = this.run.as_mut() {
                match run.as_mut().poll(cx) {
                    Poll::Ready(r) => {
                        this.result = Some(r);
                        this.run = None;
                        continue;
                    }
                    Poll::Pending => {
                        // Register for new events too, then re-check.
                        return match this.rx.poll_recv(cx) {
                            Poll::Ready(Some(ev)) => Poll::Ready(Some(ev)),
                            _ => Poll::Pending,
                        };
                    }
                }
            }
            if this.done {
                return Poll::Ready(None);
            }
            this.done = true;
            return Poll::Ready(
                this.result
                    .take()
                    .map(|r| AgentEvent::Finished(Box::new(r))),
            );
        }
    }
}
