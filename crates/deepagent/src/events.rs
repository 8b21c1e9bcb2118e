//! What a streamed run reports, and human approval of tool calls.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use futures::Stream;
use serde_json::Value;

use crate::deps::Todo;
use crate::{AgentError, RunResult};

/// Something that happened during a run, in order.
#[derive(Debug)]
#[non_exhaustive]
pub enum AgentEvent {
    /// More of the model's answer text.
    TextDelta {
        /// The new text.
        text: String,
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
    /// A call needs approval; the approval callback is being asked.
    PendingApproval {
        /// The call.
        call: PendingCall,
    },
    /// The run ended; always the last event.
    Finished(Box<Result<RunResult, AgentError>>),
}

/// A tool call waiting for a human decision.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingCall {
    /// The call id.
    pub call_id: String,
    /// The tool.
    pub tool_name: String,
    /// The arguments the model sent.
    pub args: Value,
}

/// What the approver decided.
#[derive(Debug, Clone, PartialEq)]
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

/// The events of [`DeepAgent::run_stream`](crate::DeepAgent::run_stream).
///
/// The run makes progress only while the stream is polled; the last item
/// is [`AgentEvent::Finished`].
pub struct RunStream<'a> {
    run: Option<BoxFuture<'a, Result<RunResult, AgentError>>>,
    rx: tokio::sync::mpsc::UnboundedReceiver<AgentEvent>,
    result: Option<Result<RunResult, AgentError>>,
    done: bool,
}

impl<'a> RunStream<'a> {
    pub(crate) fn new(
        run: BoxFuture<'a, Result<RunResult, AgentError>>,
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
