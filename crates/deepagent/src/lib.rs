//! # deepagent
//!
//! A deep-agent harness: an LLM that plans with todos, works on files and
//! a shell through pluggable [backends](deepagent_core::Backend), and
//! delegates to subagents, plus the backends themselves.
//!
//! ```
//! use std::sync::Arc;
//! use deepagent::{create_deep_agent, DeepAgentDeps, FunctionModel, ModelResponse};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), deepagent::AgentError> {
//! // An offline model: write a file, then answer.
//! let model = FunctionModel::new(|req| {
//!     if req.latest_tool_results().is_empty() {
//!         ModelResponse::call("write_file", json!({"path": "/notes.txt", "content": "hello"}))
//!     } else {
//!         ModelResponse::text("I wrote /notes.txt")
//!     }
//! });
//! let agent = create_deep_agent()
//!     .model_impl(Arc::new(model)) // or .model("openai:gpt-4.1")
//!     .instructions("You are a note taker.")
//!     .build()?;
//! let backend = deepagent::StateBackend::new(); // or LocalBackend, CompositeBackend, ...
//! let deps = DeepAgentDeps::new(backend.clone());
//! let result = agent.run("Write a note", &deps).await?;
//! assert_eq!(result.output, "I wrote /notes.txt");
//! assert_eq!(backend.paths(), ["/notes.txt"]);
//! # Ok(()) }
//! ```
//!
//! ## What is in here
//!
//! - [`create_deep_agent`] builds a [`DeepAgent`]: model, instructions,
//!   user [tools](tool), [`SubAgent`]s, approvals, limits.
//! - [`DeepAgent::run`], [`DeepAgent::run_with_history`] and
//!   [`DeepAgent::run_stream`] drive the tool loop: tool calls of a turn
//!   run concurrently, errors go back to the model as text, invalid
//!   arguments get a retry message.
//! - [`models`]: OpenAI Chat Completions, Anthropic Messages, and the
//!   offline [`TestModel`], [`FunctionModel`] and [`ScriptedModel`].
//! - Built-in tools: `ls`, `read_file`, `write_file`, `edit_file`, `glob`,
//!   `grep`, `execute` (sandbox backends only), `write_todos`,
//!   `read_todos`, `task`.
//!
//! ## Backends
//!
//! [`StateBackend`], [`LocalBackend`] and [`CompositeBackend`] are
//! re-exported; `DockerSandbox` too with the `docker` cargo feature.
//!
//! ## Describing a composite layout
//!
//! The model writes better paths when it knows which ones persist.
//! [`DeepAgentDeps::new`] over a [`CompositeBackend`] lists its mounts in
//! the filesystem section of the system prompt by itself; say more (or
//! describe another layout) with
//! [`DeepAgentDeps::with_mounts_description`].

#![warn(missing_docs)]

mod agent;
pub mod config;
mod deps;
mod error;
mod events;
mod messages;
pub mod models;
pub mod prompt;
mod tools;

pub use agent::{
    create_deep_agent, DeepAgent, DeepAgentBuilder, RunResult, SubAgent, UsageLimits,
    GENERAL_PURPOSE, LARGE_RESULTS_DIR,
};
pub use config::{backend_from_url, BackendConfig, ConfigError};
pub use deps::{describe_mounts, render_todos, DeepAgentDeps, Todo, TodoStatus, Todos};
pub use error::AgentError;
pub use events::{AgentEvent, Decision, PendingCall, RunStream};
pub use messages::{Message, ModelRequest, ModelResponse, ToolCall, ToolDef, Usage};
pub use models::{
    example_for_schema, FunctionModel, Model, ModelError, RetryPolicy, ScriptedModel, StreamChunk,
    TestModel,
};
pub use tools::{
    parse_args, tool, validate_args, FnTool, Tool, ToolBuilder, ToolContext, ToolError,
};

pub use deepagent_composite::{CompositeBackend, CompositeBuilder, Location, MountInfo};
pub use deepagent_core as core;
pub use deepagent_core::*;
pub use deepagent_local::{LocalBackend, LocalBackendBuilder};
pub use deepagent_state::{FileData, StateBackend};

/// The backend crates, whole.
pub mod backends {
    pub use deepagent_composite as composite;
    #[cfg(feature = "docker")]
    pub use deepagent_docker as docker;
    pub use deepagent_local as local;
    #[cfg(feature = "object-store")]
    pub use deepagent_object_store as object_store;
    pub use deepagent_state as state;
}

#[cfg(feature = "docker")]
pub use deepagent_docker::*;
#[cfg(feature = "object-store")]
pub use deepagent_object_store::{ObjectStoreBackend, RetryOptions, StoreConfig};
