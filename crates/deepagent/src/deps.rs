//! What a run works with: the backend and the todo list.

use std::any::Any;
use std::sync::{Arc, Mutex};

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
#[non_exhaustive]
pub struct Todo {
    /// What to do.
    pub content: String,
    /// Where it stands.
    pub status: TodoStatus,
}

impl Todo {
    /// A step with its status.
    pub fn new(content: impl Into<String>, status: TodoStatus) -> Self {
        Todo {
            content: content.into(),
            status,
        }
    }
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

/// One line per mount of a router (a [`CompositeBackend`](crate::CompositeBackend), or anything
/// whose [`info`](Backend::info) lists mounts), then the default, each
/// with what its backend says about where the files live:
///
/// ```text
/// - /project/: LocalBackend (files on disk; they persist)
/// - any other path: StateBackend (in memory; gone when the program ends)
/// ```
///
/// `None` for a backend without mounts. Layers forward the info, so a
/// composite behind `Arc<dyn Backend>`, `Permissioned` or `ReadOnly` is
/// described too (a read-only mount says so).
///
/// ```
/// use deepagent::{describe_mounts, CompositeBackend, StateBackend};
/// let c = CompositeBackend::builder(StateBackend::new())
///     .route("/memories/", StateBackend::new())
///     .build();
/// assert_eq!(
///     describe_mounts(&c).as_deref(),
///     Some("- /memories/: StateBackend (in memory; gone when the program ends)\n\
///           - any other path: StateBackend (in memory; gone when the program ends)")
/// );
/// assert_eq!(describe_mounts(&StateBackend::new()), None);
/// ```
pub fn describe_mounts(backend: &dyn Backend) -> Option<String> {
    let info = backend.info();
    if info.mounts.is_empty() {
        return None;
    }
    let (defaults, mounts): (Vec<_>, Vec<_>) = info.mounts.iter().partition(|m| m.is_default());
    let mut lines: Vec<String> = mounts
        .iter()
        .map(|m| format!("- {}: {}", m.prefix, m.info.describe()))
        .collect();
    for m in defaults {
        lines.push(format!("- any other path: {}", m.info.describe()));
    }
    Some(lines.join("\n"))
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
    /// A backend with mounts (a
    /// [`CompositeBackend`](deepagent_composite::CompositeBackend), also
    /// behind layers) has them described to the model (see
    /// [`describe_mounts`]). An `Arc<dyn Backend>` is used as is (no second
    /// pointer).
    pub fn new<B: Backend + 'static>(backend: B) -> Self {
        if let Some(shared) = (&backend as &dyn Any).downcast_ref::<Arc<dyn Backend>>() {
            return Self::from_arc(shared.clone());
        }
        Self::from_arc(Arc::new(backend))
    }

    /// Deps over a backend already behind an `Arc`; its mounts are
    /// described as for [`DeepAgentDeps::new`].
    pub fn from_arc(backend: Arc<dyn Backend>) -> Self {
        let mounts = describe_mounts(backend.as_ref());
        DeepAgentDeps {
            backend,
            todos: Todos::default(),
            mounts,
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
