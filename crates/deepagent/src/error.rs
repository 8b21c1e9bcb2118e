//! Why a run failed.

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
        "tool {tool} got invalid arguments more than {retries} times; last problem: {last_error}"
    )]
    ToolRetriesExceeded {
        /// The tool.
        tool: String,
        /// The configured retries.
        retries: usize,
        /// The last message sent to the model.
        last_error: String,
    },
}
