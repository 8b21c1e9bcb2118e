//! Tools: the [`Tool`] trait, a closure-based builder for your own, and
//! the built-in file, shell, todo and subagent tools.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use deepagent_core::{Backend, BackendError};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::deps::Todos;
use crate::messages::ToolDef;

pub(crate) mod builtin;
mod paging;
mod schema;
pub(crate) mod task;
mod typed;

pub use schema::validate_args;
pub use typed::{json_schema_for, typed_tool, TypedTool};

/// Why a tool call did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    /// The arguments were wrong; the model is asked to call again. Counts
    /// against the agent's `retries`.
    #[error("{0}")]
    Retry(String),
    /// The call failed; the model sees `Error: <message>` and decides what
    /// to do.
    #[error("{0}")]
    Failed(String),
}

impl From<BackendError> for ToolError {
    fn from(e: BackendError) -> Self {
        ToolError::Failed(e.to_string())
    }
}

impl ToolError {
    /// A [`ToolError::Failed`].
    pub fn failed(message: impl std::fmt::Display) -> Self {
        ToolError::Failed(message.to_string())
    }
}

/// What a tool gets besides its arguments: the run's backend and todos,
/// and which call this is.
#[derive(Clone)]
pub struct ToolContext {
    /// The backend of the run (shared with subagents).
    pub backend: Arc<dyn Backend>,
    /// The todo list of the run.
    pub todos: Todos,
    /// The model's id for this call.
    pub call_id: String,
    /// How many `write_todos` calls the model made in this turn; more than
    /// one is refused, since concurrent calls have no "last".
    pub(crate) todo_writes_in_turn: usize,
    pub(crate) env: Arc<crate::agent::RunEnv>,
}

impl ToolContext {
    /// Your value of type `T`, added to the run's deps with
    /// [`DeepAgentDeps::with_dep`](crate::DeepAgentDeps::with_dep); use it
    /// with `?` in a tool. Without one the call fails with a message
    /// naming the type (a setup mistake the model cannot fix, so it is not
    /// a retry).
    pub fn dep<T: Send + Sync + 'static>(&self) -> Result<&T, ToolError> {
        self.env.deps.dep::<T>().ok_or_else(|| {
            let held = self.env.deps.dep_names();
            ToolError::Failed(format!(
                "this tool needs a {} in the run's deps, and none was given (the program must add it with DeepAgentDeps::with_dep; deps held: {})",
                std::any::type_name::<T>(),
                if held.is_empty() { "none".to_owned() } else { held.join(", ") }
            ))
        })
    }

    /// The run's deps: the backend, the todos, your values
    /// ([`DeepAgentDeps::dep_arc`](crate::DeepAgentDeps::dep_arc) for an
    /// owned handle).
    pub fn deps(&self) -> &crate::DeepAgentDeps {
        &self.env.deps
    }

    /// How deep in subagents this run is (0 for the main agent).
    pub fn depth(&self) -> usize {
        self.env.depth
    }

    /// The longest tool result the model is sent, in characters.
    pub(crate) fn max_result_chars(&self) -> usize {
        self.env.core.max_result_chars
    }

    pub(crate) fn emit(&self, event: crate::AgentEvent) {
        self.env.emit(event);
    }
}

impl std::fmt::Debug for ToolContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolContext")
            .field("backend", &self.backend.name())
            .field("call_id", &self.call_id)
            .finish()
    }
}

/// A tool the model can call.
///
/// Implement it for full control, or build one from a closure with
/// [`tool`].
#[async_trait]
pub trait Tool: Send + Sync {
    /// The name the model calls it by.
    fn name(&self) -> &str;

    /// Name, description and JSON schema, as the model sees them.
    fn definition(&self) -> ToolDef;

    /// Runs the tool. `args` is a JSON object already checked against the
    /// schema's required properties and types.
    async fn call(&self, ctx: &ToolContext, args: Value) -> Result<String, ToolError>;
}

/// Starts building a tool from a closure.
///
/// ```
/// use deepagent::{tool, ToolError};
/// use serde::Deserialize;
/// use serde_json::json;
///
/// #[derive(Deserialize)]
/// struct Add { a: i64, b: i64 }
///
/// let add = tool("add")
///     .description("Adds two integers.")
///     .parameters(json!({
///         "type": "object",
///         "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
///         "required": ["a", "b"]
///     }))
///     .typed(|_ctx, args: Add| async move { Ok::<_, ToolError>((args.a + args.b).to_string()) });
/// ```
pub fn tool(name: impl Into<String>) -> ToolBuilder {
    ToolBuilder {
        name: name.into(),
        description: String::new(),
        parameters: serde_json::json!({"type": "object", "properties": {}}),
    }
}

/// A tool under construction; finish it with [`ToolBuilder::handler`] or
/// [`ToolBuilder::typed`].
#[derive(Debug, Clone)]
pub struct ToolBuilder {
    name: String,
    description: String,
    parameters: Value,
}

type Handler = dyn Fn(ToolContext, Value) -> futures::future::BoxFuture<'static, Result<String, ToolError>>
    + Send
    + Sync;

/// A tool made from a closure.
pub struct FnTool {
    def: ToolDef,
    handler: Arc<Handler>,
}

impl ToolBuilder {
    /// What the tool does and when to use it, for the model.
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = d.into();
        self
    }

    /// The JSON schema of the arguments (an object schema).
    pub fn parameters(mut self, schema: Value) -> Self {
        self.parameters = schema;
        self
    }

    /// Finishes with a handler taking the raw JSON arguments.
    pub fn handler<F, Fut>(self, f: F) -> Arc<dyn Tool>
    where
        F: Fn(ToolContext, Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, ToolError>> + Send + 'static,
    {
        Arc::new(FnTool {
            def: ToolDef {
                name: self.name,
                description: self.description,
                parameters: self.parameters,
            },
            handler: Arc::new(move |ctx, args| Box::pin(f(ctx, args))),
        })
    }

    /// Finishes with a handler taking typed arguments; arguments that do
    /// not deserialize are sent back to the model for a retry.
    pub fn typed<T, F, Fut>(self, f: F) -> Arc<dyn Tool>
    where
        T: DeserializeOwned + Send + 'static,
        F: Fn(ToolContext, T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, ToolError>> + Send + 'static,
    {
        let f = Arc::new(f);
        self.handler(move |ctx, args| {
            let f = f.clone();
            async move {
                let typed: T = parse_args(args)?;
                f(ctx, typed).await
            }
        })
    }
}

/// Deserializes tool arguments, turning a mismatch into a retry message.
pub fn parse_args<T: DeserializeOwned>(args: Value) -> Result<T, ToolError> {
    serde_json::from_value(args).map_err(|e| ToolError::Retry(format!("invalid arguments: {e}")))
}

#[async_trait]
impl Tool for FnTool {
    fn name(&self) -> &str {
        &self.def.name
    }

    fn definition(&self) -> ToolDef {
        self.def.clone()
    }

    async fn call(&self, ctx: &ToolContext, args: Value) -> Result<String, ToolError> {
        (self.handler)(ctx.clone(), args).await
    }
}
