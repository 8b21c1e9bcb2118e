//! A model driven by a closure.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Model, ModelError, OutputMode};
use crate::messages::{ModelRequest, ModelResponse};

type Decide = dyn Fn(&ModelRequest) -> Result<ModelResponse, ModelError> + Send + Sync;

/// A model whose every turn is decided by a closure that sees the
/// conversation and the tool definitions.
///
/// ```
/// use deepagent::{FunctionModel, ModelResponse};
/// use serde_json::json;
///
/// // First turn: list the root. Second turn: answer.
/// let model = FunctionModel::new(|req| {
///     if req.latest_tool_results().is_empty() {
///         ModelResponse::call("ls", json!({"path": "/"}))
///     } else {
///         ModelResponse::text("done")
///     }
/// });
/// ```
#[derive(Clone)]
pub struct FunctionModel {
    name: String,
    decide: Arc<Decide>,
    output_mode: OutputMode,
}

impl FunctionModel {
    /// A model that always answers with what `f` returns.
    pub fn new<F>(f: F) -> Self
    where
        F: Fn(&ModelRequest) -> ModelResponse + Send + Sync + 'static,
    {
        FunctionModel {
            name: "function".to_owned(),
            decide: Arc::new(move |r| Ok(f(r))),
            output_mode: OutputMode::Native,
        }
    }

    /// A model whose closure may fail (the run then fails with the error).
    pub fn fallible<F>(f: F) -> Self
    where
        F: Fn(&ModelRequest) -> Result<ModelResponse, ModelError> + Send + Sync + 'static,
    {
        FunctionModel {
            name: "function".to_owned(),
            decide: Arc::new(f),
            output_mode: OutputMode::Native,
        }
    }

    /// How it gives a typed run's answer (default
    /// [`OutputMode::Native`]: the closure answers with the JSON value as
    /// text; with [`OutputMode::Tool`] it is offered the output tool, as
    /// Anthropic is).
    pub fn with_output_mode(mut self, mode: OutputMode) -> Self {
        self.output_mode = mode;
        self
    }

    /// Names the model (shown in messages).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
}

impl std::fmt::Debug for FunctionModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionModel")
            .field("name", &self.name)
            .finish()
    }
}

#[async_trait]
impl Model for FunctionModel {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn output_mode(&self) -> OutputMode {
        self.output_mode
    }

    async fn request(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        (self.decide)(request)
    }
}
