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
//! - A run that ends without an answer returns a [`RunError`] with the
//!   [`RunState`] so far (messages, usage, todos, pending approvals), to
//!   save and continue with [`DeepAgent::resume`]; runs can pause for
//!   approval ([`DeepAgentBuilder::pause_for_approval`]) and be cancelled
//!   ([`DeepAgentDeps::with_cancellation`]).
//! - [`models`]: OpenAI Chat Completions, Anthropic Messages, and the
//!   offline [`TestModel`], [`FunctionModel`] and [`ScriptedModel`].
//! - Long runs: [history processors](HistoryProcessor), compaction
//!   ([`CompactionConfig`], on by default, measured against
//!   [`ContextWindows`]), prompt caching, cost ([`PriceTable`]) and cost
//!   caps ([`UsageLimits`]).
//! - [`skills`]: `SKILL.md` folders on the backend, listed in the prompt
//!   and read on demand ([`DeepAgentBuilder::skills`]); [`memory`]:
//!   `AGENTS.md`-style files loaded into the prompt at each run's start
//!   and kept up to date by the agent ([`DeepAgentBuilder::memory`]).
//! - [`Toolset`]s: tools that can change while the agent lives, such as
//!   an MCP server's (`mcp::McpServer`, with the `mcp` feature).
//! - Built-in tools: `ls`, `read_file`, `write_file`, `edit_file`, `glob`,
//!   `grep`, `execute` (sandbox backends only), `write_todos`,
//!   `read_todos`, `task`.
//! - Typed tools ([`typed_tool`], [`TypedTool`]) whose schemas come from
//!   a Rust type (`schemars`), typed answers ([`DeepAgent::run_typed`]),
//!   your own state in tools ([`DeepAgentDeps::with_dep`],
//!   [`ToolContext::dep`]), prompt sections replaced, dropped or computed
//!   ([`prompt::PromptSection`]), and [`telemetry`] spans with
//!   OpenTelemetry GenAI attributes.
//!
//! ## Backends
//!
//! [`StateBackend`], [`LocalBackend`] and [`CompositeBackend`] are
//! re-exported; `DockerSandbox` too with the `docker` cargo feature.
//! [`backends`] holds each backend crate whole.
//!
//! ## Cargo features
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `state` | yes | [`StateBackend`] |
//! | `local` | yes | [`LocalBackend`] (Unix only) |
//! | `composite` | yes | [`CompositeBackend`], and mount descriptions in the prompt |
//! | `openai` | yes | [`models::openai`] (pulls in reqwest) |
//! | `anthropic` | yes | [`models::anthropic`] (pulls in reqwest) |
//! | `docker` | no | `DockerSandbox`, `RuntimeConfig`, `SessionManager` (pulls in bollard) |
//! | `otel` | no | `telemetry::otlp`: OTLP/HTTP export of the tracing spans (OpenTelemetry SDK, a blocking reqwest client) |
//! | `mcp` | no | `mcp::McpServer`: tools from MCP servers over stdio and streamable HTTP (pulls in rmcp and reqwest) |
//!
//! With `default-features = false` the runtime, the offline models and
//! the backend contract remain, with no HTTP client and no disk access;
//! bring your own [`Model`] and [`Backend`].
//!
//! ## Describing a composite layout
//!
//! The model writes better paths when it knows which ones persist.
//! [`DeepAgentDeps::new`] over a [`CompositeBackend`] lists its mounts in
//! the filesystem section of the system prompt by itself; say more (or
//! describe another layout) with
//! [`DeepAgentDeps::with_mounts_description`].

#![warn(missing_docs)]

// The README's examples compile and run as doctests, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod agent;
// Mounts by URL need the backends a URL can name.
#[cfg(all(feature = "state", feature = "local", feature = "composite"))]
pub mod config;
mod deps;
mod error;
mod events;
#[cfg(feature = "mcp")]
pub mod mcp;
pub mod memory;
mod messages;
pub mod models;
pub mod prompt;
pub mod skills;
pub mod telemetry;
mod tools;
mod toolset;
mod user_deps;

pub use agent::{
    create_deep_agent, DeepAgent, DeepAgentBuilder, RunResult, RunState, SubAgent, UsageLimits,
    GENERAL_PURPOSE, LARGE_RESULTS_DIR, OUTPUT_TOOL_NAME,
};
pub use agent::{CompactionConfig, HistoryProcessor, ProcessorContext, HISTORY_DIR};
#[cfg(all(feature = "state", feature = "local", feature = "composite"))]
pub use config::{backend_from_url, BackendConfig, ConfigError};
pub use deps::{describe_mounts, render_todos, DeepAgentDeps, Todo, TodoStatus, Todos};
pub use error::{AgentError, RunError};
pub use events::{AgentEvent, Decision, PendingCall, RunStream};
pub use messages::{Message, ModelRequest, ModelResponse, OutputSchema, ToolCall, ToolDef, Usage};
pub use models::{
    example_for_schema, FunctionModel, Model, ModelError, RetryPolicy, ScriptedModel, StreamChunk,
    TestModel,
};
pub use models::{ContextWindows, ModelPrice, PriceTable};
/// `schemars`, whose `JsonSchema` derive gives typed tools and typed run
/// outputs their schemas (depend on `schemars = "1"` to derive it).
pub use schemars;
pub use tokio_util::sync::CancellationToken;
pub use tools::{
    json_schema_for, parse_args, tool, typed_tool, validate_args, FnTool, Tool, ToolBuilder,
    ToolContext, ToolError, TypedTool,
};
pub use toolset::Toolset;

// The backend contract, by name: a glob re-export would let every item
// core adds later land in this namespace unannounced (and made
// `deepagent::Result` a backend result).
pub use deepagent_core as core;
pub use deepagent_core::{
    edit, glob, layers, listing, text, Backend, BackendError, Bytes, EditResult, ErrorKind,
    ExecuteResponse, FileInfo, GlobQuery, GlobResult, GrepMatch, GrepQuery, GrepResult, ReadSlice,
    Replace, Sandbox, VPath, WriteResult, DEFAULT_EXECUTE_TIMEOUT, DEFAULT_MAX_COUNT,
    DEFAULT_OUTPUT_LIMIT, DEFAULT_READ_LIMIT,
};

/// What a [`Backend`] operation returns: `Ok(T)` or a [`BackendError`].
/// The agent's own calls return `Result<T, AgentError>`.
pub type BackendResult<T> = deepagent_core::Result<T>;

/// Before 0.2 the facade re-exported core's `Result` here, so in the agent
/// crate `deepagent::Result` meant a backend result.
#[deprecated(
    since = "0.2.0",
    note = "use deepagent::BackendResult for a backend's result, or Result<T, AgentError>"
)]
pub type Result<T, E = BackendError> = std::result::Result<T, E>;

#[cfg(feature = "composite")]
#[allow(deprecated)]
pub use deepagent_composite::CompositeBuilder;
#[cfg(feature = "composite")]
pub use deepagent_composite::{CompositeBackend, CompositeBackendBuilder, Location, MountInfo};
#[cfg(feature = "docker")]
pub use deepagent_docker::{DockerSandbox, DockerSandboxBuilder, RuntimeConfig, SessionManager};
#[cfg(feature = "local")]
pub use deepagent_local::{LocalBackend, LocalBackendBuilder};
#[cfg(feature = "state")]
pub use deepagent_state::{FileData, StateBackend};

/// The backend crates, whole, as the enabled cargo features allow.
pub mod backends {
    #[cfg(feature = "composite")]
    pub use deepagent_composite as composite;
    #[cfg(feature = "docker")]
    pub use deepagent_docker as docker;
    #[cfg(feature = "local")]
    pub use deepagent_local as local;
    #[cfg(feature = "object-store")]
    pub use deepagent_object_store as object_store;
    #[cfg(feature = "state")]
    pub use deepagent_state as state;
}

#[cfg(feature = "object-store")]
pub use deepagent_object_store::{ObjectStoreBackend, RetryOptions, StoreConfig};
