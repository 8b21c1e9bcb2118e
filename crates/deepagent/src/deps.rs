//! What a run works with: the backend and the todo list.

use std::sync::{Arc, Mutex};

use std::any::Any;

#[cfg(feature = "composite")]
use deepagent_composite::CompositeBackend;
use deepagent_core::Backend;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// Where a todo stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TodoStatus {
    /// Not started.
    Pending,
    /// Being worked on.
    InProgress,
    /// Done.
    Completed,
}

/// One step of the agent's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Todo {
    /// What to do.
    pub content: String,
    /// Where it stands.
    pub status: TodoStatus,
}

/// Renders todos one per line: `[ ] step`, `[~] step`, `[x] step`.
pub fn render_todos(todos: &[Todo]) -> String {
    todos
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mark = match t.status {
                TodoStatus::Pending => "[ ]",
                TodoStatus::InProgress => "[~]",
                TodoStatus::Completed => "[x]",
            };
            format!("{}. {mark} {}", i + 1, t.content)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One line per mount of a composite, then the default, with what the
/// known backends mean for persistence:
///
/// ```text
/// - /project/: LocalBackend (files on disk; they persist)
/// - any other path: StateBackend (in memory; gone when the program ends)
/// ```
#[cfg(feature = "composite")]
pub fn describe_mounts(composite: &CompositeBackend) -> String {
    let kind = |name: &str| match name {
        "LocalBackend" => format!("{name} (files on disk; they persist)"),
        "StateBackend" => format!("{name} (in memory; gone when the program ends)"),
        "DockerSandbox" => format!("{name} (inside a container)"),
        other => other.to_owned(),
    };
    let mut lines: Vec<String> = composite
        .mounts()
        .iter()
        .map(|m| format!("- {}: {}", m.prefix, kind(&m.backend)))
        .collect();
    lines.push(format!(
        "- any other path: {}",
        kind(composite.default_backend().name())
    ));
    lines.join("\n")
}

/// A shared, cloneable todo list.
#[derive(Debug, Clone, Default)]
pub struct Todos(Arc<Mutex<Vec<Todo>>>);

impl Todos {
    /// A snapshot of the list.
    pub fn get(&self) -> Vec<Todo> {
        self.0.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Replaces the list.
    pub fn set(&self, todos: Vec<Todo>) {
        if let Ok(mut t) = self.0.lock() {
            *t = todos;
        }
    }
}

/// The run's dependencies: the backend the tools work through, the todo
/// list (readable after the run), and an optional description of the
/// backend's layout for the system prompt.
///
/// Cloning shares the backend and the todos.
///
/// ```
/// use deepagent::DeepAgentDeps;
/// # fn demo(backend: std::sync::Arc<dyn deepagent_core::Backend>) {
/// let deps = DeepAgentDeps::from_arc(backend)
///     .with_mounts_description("- /project/: files on disk\n- everything else: in memory");
/// assert!(deps.todos().is_empty());
/// # }
/// ```
#[derive(Clone)]
pub struct DeepAgentDeps {
    backend: Arc<dyn Backend>,
    todos: Todos,
    mounts: Option<String>,
    cancel: CancellationToken,
}

impl DeepAgentDeps {
    /// Deps over a backend.
    ///
    /// A [`CompositeBackend`] is recognised, and its mounts are described
    /// to the model (see [`describe_mounts`]).
    /// An `Arc<dyn Backend>` is used as is (no second pointer).
    pub fn new<B: Backend + 'static>(backend: B) -> Self {
        let any = &backend as &dyn Any;
        if let Some(shared) = any.downcast_ref::<Arc<dyn Backend>>() {
            return Self::from_arc(shared.clone());
        }
        #[cfg(feature = "composite")]
        let mounts = any.downcast_ref::<CompositeBackend>().map(describe_mounts);
        #[cfg(not(feature = "composite"))]
        let mounts = None;
        DeepAgentDeps {
            mounts,
            ..Self::from_arc(Arc::new(backend))
        }
    }

    /// Deps over a backend already behind an `Arc`.
    pub fn from_arc(backend: Arc<dyn Backend>) -> Self {
        DeepAgentDeps {
            backend,
            todos: Todos::default(),
            mounts: None,
            cancel: CancellationToken::new(),
        }
    }

    /// Runs over these deps stop when `token` is cancelled: the model
    /// request in flight is dropped, running tool calls are dropped (a
    /// backend's `execute` kills its command when dropped), and the run
    /// ends with [`AgentError::Cancelled`](crate::AgentError::Cancelled)
    /// and its state. Subagents stop with it.
    ///
    /// ```
    /// use deepagent::{CancellationToken, DeepAgentDeps, StateBackend};
    /// let token = CancellationToken::new();
    /// let deps = DeepAgentDeps::new(StateBackend::new()).with_cancellation(token.clone());
    /// // From another task, a signal handler, a UI button:
    /// token.cancel();
    /// assert!(deps.cancellation().is_cancelled());
    /// ```
    pub fn with_cancellation(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// The token that cancels runs over these deps.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Tells the model how the filesystem is laid out (e.g. the mounts of
    /// a composite backend: which paths persist and which are scratch).
    /// It becomes part of the system prompt's filesystem section.
    pub fn with_mounts_description(mut self, description: impl Into<String>) -> Self {
        self.mounts = Some(description.into());
        self
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// The todo list as it stands.
    pub fn todos(&self) -> Vec<Todo> {
        self.todos.get()
    }

    /// The shared todo handle.
    pub fn todo_handle(&self) -> &Todos {
        &self.todos
    }

    /// The layout description, if any.
    pub fn mounts_description(&self) -> Option<&str> {
        self.mounts.as_deref()
    }

    /// Deps for a subagent: the same backend and layout, a fresh todo list.
    pub(crate) fn for_subagent(&self) -> Self {
        DeepAgentDeps {
            backend: self.backend.clone(),
            todos: Todos::default(),
            mounts: self.mounts.clone(),
            cancel: self.cancel.clone(),
        }
    }
}

impl std::fmt::Debug for DeepAgentDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeepAgentDeps")
            .field("backend", &self.backend.name())
            .field("todos", &self.todos.get())
            .finish()
    }
}
