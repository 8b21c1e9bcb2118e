//! A model that replays a fixed sequence of responses.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Model, ModelError};
use crate::messages::{ModelRequest, ModelResponse};

/// Answers each request with the next response of a fixed list, and
/// records the requests it saw.
///
/// ```
/// use deepagent::{ModelResponse, ScriptedModel};
/// use serde_json::json;
/// let model = ScriptedModel::new([
///     ModelResponse::call("write_file", json!({"path": "/a.txt", "content": "hi"})),
///     ModelResponse::text("wrote /a.txt"),
/// ]);
/// ```
#[derive(Debug, Default)]
pub struct ScriptedModel {
    responses: Mutex<VecDeque<ModelResponse>>,
    seen: Mutex<Vec<ModelRequest>>,
}

impl ScriptedModel {
    /// A model that will answer with `responses`, in order.
    pub fn new(responses: impl IntoIterator<Item = ModelResponse>) -> Self {
        ScriptedModel {
            responses: Mutex::new(responses.into_iter().collect()),
            seen: Mutex::new(Vec::new()),
        }
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<ModelRequest> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Responses not yet used.
    pub fn remaining(&self) -> usize {
        self.responses.lock().map(|r| r.len()).unwrap_or(0)
    }
}

#[async_trait]
impl Model for ScriptedModel {
    fn name(&self) -> String {
        "scripted".to_owned()
    }

    /// Scripted answers are texts, so a typed run's answer is one too.
    fn output_mode(&self) -> super::OutputMode {
        super::OutputMode::Native
    }

    async fn request(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(request.clone());
        }
        self.responses
            .lock()
            .ok()
            .and_then(|mut r| r.pop_front())
            .ok_or_else(|| {
                ModelError::Other(
                    "ScriptedModel has no responses left; add more to its script".into(),
                )
            })
    }
}
