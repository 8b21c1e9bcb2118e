//! Tool sets whose tools can change while the agent lives: MCP servers
//! (with the `mcp` feature), or your own source of tools.

use std::sync::Arc;

use crate::tools::Tool;

/// A source of tools that may change over time, added to an agent with
/// [`DeepAgentBuilder::toolset`](crate::DeepAgentBuilder::toolset).
///
/// Each run takes a snapshot with [`tools`](Toolset::tools) when it
/// starts, so a tool added later is offered from the next run on; a tool
/// removed mid-run still answers its calls (with whatever error its
/// source gives). The tools of a set are offered to the main agent and
/// to every subagent, like the built-in tools, after them; a name that
/// is already taken (by a built-in or a user tool) keeps its first owner.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use deepagent::{create_deep_agent, tool, DeepAgentDeps, StateBackend, TestModel, Tool, Toolset, ToolError};
///
/// /// Tools registered at run time, e.g. by a plugin loader.
/// #[derive(Default)]
/// struct Plugins(Mutex<Vec<Arc<dyn Tool>>>);
///
/// impl Toolset for Plugins {
///     fn name(&self) -> &str { "plugins" }
///     fn tools(&self) -> Vec<Arc<dyn Tool>> { self.0.lock().unwrap().clone() }
/// }
///
/// let plugins = Arc::new(Plugins::default());
/// let agent = create_deep_agent()
///     .model_impl(Arc::new(TestModel::new()))
///     .toolset(plugins.clone())
///     .build()?;
/// let deps = DeepAgentDeps::new(StateBackend::new());
/// plugins.0.lock().unwrap().push(tool("ping").handler(|_, _| async { Ok::<_, ToolError>("pong".into()) }));
/// assert!(agent.tool_definitions(&deps).iter().any(|d| d.name == "ping"));
/// # Ok::<(), deepagent::AgentError>(())
/// ```
pub trait Toolset: Send + Sync {
    /// A short name for messages (an MCP server's label, say).
    fn name(&self) -> &str;

    /// The tools as they are now.
    fn tools(&self) -> Vec<Arc<dyn Tool>>;
}
