//! Why a run failed, and what it leaves behind.

use crate::agent::RunState;
use crate::models::ModelError;

/// A run's failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The agent is configured wrongly (unknown provider, missing key, ...).
    #[error("configuration error: {0}")]
    Config(String),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The run used its step budget without a final answer.
    #[error("the run reached its step limit of {max_steps} model requests without a final answer (raise it with max_steps())")]
    StepLimit {
        /// The limit.
        max_steps: u64,
    },
    /// A usage limit was exceeded.
    #[error("usage limit exceeded: {0}")]
    UsageLimit(String),
    /// A tool's arguments were wrong more often than `retries` allows.
    #[error(
        "tool {tool} got invalid arguments more than {retries} times in a row; last problem: {last_error}"
    )]
    ToolRetriesExceeded {
        /// The tool.
        tool: String,
        /// The configured retries.
        retries: usize,
        /// The last message sent to the model.
        last_error: String,
    },
    /// The model answered with nothing (no text, no tool calls) again
    /// after being asked for a real answer `retries` times.
    #[error("the model gave an empty answer {attempts} times in a row")]
    EmptyAnswer {
        /// Empty answers received in a row.
        attempts: usize,
    },
    /// The model's final answer was cut off at its output token cap
    /// (OpenAI `finish_reason: "length"`, Anthropic `stop_reason:
    /// "max_tokens"`); the partial text is the last message of the state.
    #[error("the model's answer was cut off at its output token limit (raise the model's max_tokens, or ask for a shorter answer)")]
    OutputTruncated,
    /// The run was cancelled through its
    /// [`CancellationToken`](crate::CancellationToken).
    #[error("the run was cancelled")]
    Cancelled,
    /// The run stopped to wait for human decisions on tool calls (see
    /// [`DeepAgentBuilder::pause_for_approval`](crate::DeepAgentBuilder::pause_for_approval));
    /// the calls are in [`RunState::pending`]. Continue with
    /// [`DeepAgent::resume`](crate::DeepAgent::resume).
    #[error("the run is paused until a human decides on {} tool call(s) ({}); resume it with DeepAgent::resume", tools.len(), tools.join(", "))]
    Paused {
        /// The tools of the waiting calls, in call order.
        tools: Vec<String>,
    },
}

/// A run that ended without a final answer: why ([`error`](Self::error)),
/// and everything it had done so far ([`state`](Self::state)) to inspect,
/// save, or continue with [`DeepAgent::resume`](crate::DeepAgent::resume).
///
/// It converts into its [`AgentError`] with `?` where only the reason
/// matters.
///
/// ```
/// use std::sync::Arc;
/// use deepagent::{create_deep_agent, AgentError, DeepAgentDeps, FunctionModel, ModelResponse, StateBackend};
/// use serde_json::json;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // A model that never stops calling tools.
/// let model = FunctionModel::new(|_| ModelResponse::call("ls", json!({"path": "/"})));
/// let agent = create_deep_agent().model_impl(Arc::new(model)).max_steps(2).build().unwrap();
/// let err = agent.run("loop", &DeepAgentDeps::new(StateBackend::new())).await.unwrap_err();
/// assert!(matches!(err.error, AgentError::StepLimit { max_steps: 2 }));
/// assert_eq!(err.state.usage.requests, 2);
/// assert_eq!(err.state.messages.len(), 5); // the prompt, then two calls and their results
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct RunError {
    /// Why the run stopped.
    pub error: AgentError,
    /// The conversation, usage, todos and pending approvals at that point.
    pub state: Box<RunState>,
}

impl RunError {
    /// True when the run stopped to wait for approvals
    /// ([`AgentError::Paused`]), not because something failed.
    pub fn is_paused(&self) -> bool {
        matches!(self.error, AgentError::Paused { .. })
    }

    /// The state, for saving or resuming.
    pub fn into_state(self) -> RunState {
        *self.state
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // Display already shows `error`; its cause is the next link.
        std::error::Error::source(&self.error)
    }
}

impl From<RunError> for AgentError {
    fn from(e: RunError) -> Self {
        e.error
    }
}
