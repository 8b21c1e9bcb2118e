//! A model driven by a closure.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Model, ModelError};
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
        }
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

    async fn request(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        (self.decide)(request)
    }
}
