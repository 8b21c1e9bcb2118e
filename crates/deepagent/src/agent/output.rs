//! Typed runs: the final answer is a JSON value of a Rust type, checked
//! against its schema and deserialized, and sent back to the model with
//! the problem when it does not fit, a bounded number of times.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

#[allow(unused_imports)]
use super::*;
use crate::messages::OutputSchema;
use crate::models::OutputMode;
use crate::tools::json_schema_for;

/// The name of the tool a typed run offers a model whose
/// [`output_mode`](crate::Model::output_mode) is
/// [`OutputMode::Tool`]: its arguments are the final answer. A user tool
/// of this name makes a typed run fail with a configuration error.
pub const OUTPUT_TOOL_NAME: &str = "final_result";

/// How the output tool is described to the model.
const OUTPUT_TOOL_DESCRIPTION: &str = "Give your final answer. Call this once the task is done, \
with the answer as the arguments; it ends the conversation, and nothing else you write is \
returned.";

type Validate = dyn Fn(&Value) -> Result<(), String> + Send + Sync;

/// What a typed run's answer must be.
pub(crate) struct OutputSpec {
    /// What the model is sent (always an object schema).
    pub schema: OutputSchema,
    /// The type's schema was not an object: the answer comes wrapped as
    /// `{"response": value}`.
    wrapped: bool,
    /// Deserializes into the run's type; the schema check comes first.
    validate: Box<Validate>,
}

impl OutputSpec {
    pub(crate) fn of<T: DeserializeOwned + JsonSchema>() -> Self {
        let schema = json_schema_for::<T>();
        let wrapped = schema.get("type").and_then(Value::as_str) != Some("object");
        let schema = if wrapped {
            serde_json::json!({"type": "object", "properties": {"response": schema},
                               "required": ["response"]})
        } else {
            schema
        };
        let name: String = T::schema_name()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect();
        OutputSpec {
            schema: OutputSchema {
                name: if name.is_empty() {
                    "output".into()
                } else {
                    name
                },
                schema,
            },
            wrapped,
            validate: Box::new(|v| {
                serde_json::from_value::<T>(v.clone())
                    .map(drop)
                    .map_err(|e| e.to_string())
            }),
        }
    }

    /// The output tool, for a model without a native response format.
    pub(crate) fn tool_def(&self) -> ToolDef {
        ToolDef {
            name: OUTPUT_TOOL_NAME.to_owned(),
            description: OUTPUT_TOOL_DESCRIPTION.to_owned(),
            parameters: self.schema.schema.clone(),
        }
    }

    /// Checks an answer as the model sent it (the wrapped object, when
    /// wrapped) and returns the value of the run's type as JSON text.
    pub(crate) fn check(&self, sent: Value) -> Result<String, String> {
        validate_args(&self.schema.schema, &sent)?;
        let value = if self.wrapped {
            match sent {
                Value::Object(mut o) => o.remove("response").unwrap_or(Value::Null),
                other => other,
            }
        } else {
            sent
        };
        (self.validate)(&value)?;
        Ok(value.to_string())
    }

    /// Checks a text answer: the JSON value, possibly in a Markdown code
    /// fence (models add one even when told not to).
    pub(crate) fn check_text(&self, text: &str) -> Result<String, String> {
        let t = text.trim();
        let t = t
            .strip_prefix("```json")
            .or_else(|| t.strip_prefix("```"))
            .and_then(|r| r.trim_end().strip_suffix("```"))
            .unwrap_or(t)
            .trim();
        let value: Value =
            serde_json::from_str(t).map_err(|e| format!("the answer is not valid JSON ({e})"))?;
        // A model answering natively sends the type's value itself; accept
        // the wrapper too, as the tool would have it.
        let sent = if self.wrapped && !is_wrapper(&value) {
            serde_json::json!({ "response": value })
        } else {
            value
        };
        self.check(sent)
    }
}

fn is_wrapper(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| o.len() == 1 && o.contains_key("response"))
}

/// The message after a text answer that did not fit.
pub(crate) fn invalid_text_message(problem: &str) -> String {
    format!(
        "Your final answer does not match the required output schema: {problem}. Answer again with only the JSON value, matching the schema."
    )
}

/// The tool result after an output tool call that did not fit.
pub(crate) fn invalid_call_message(problem: &str) -> String {
    format!("Error: invalid final answer: {problem}\nFix it and call {OUTPUT_TOOL_NAME} again.")
}

/// The result the output tool call gets once accepted (providers want
/// every call answered, also in a history continued later).
pub(crate) const OUTPUT_ACCEPTED: &str = "Final answer accepted.";

/// The result other calls of the turn that ended the run get.
pub(crate) const NOT_RUN_AFTER_OUTPUT: &str =
    "Not run: the final answer in the same turn ended the run.";

/// Whether the run offers the output tool.
pub(crate) fn uses_tool(model: &dyn Model) -> bool {
    model.output_mode() == OutputMode::Tool
}

impl DeepAgent {
    /// Runs `prompt` to a final answer of type `T`: the model is asked
    /// for a JSON value matching `T`'s schema (OpenAI through
    /// `response_format: json_schema`; Anthropic and other models through
    /// a [`final_result`](OUTPUT_TOOL_NAME) tool, see
    /// [`Model::output_mode`]). An answer that does not fit the schema or
    /// does not deserialize goes back to the model with the problem, up
    /// to [`output_retries`](DeepAgentBuilder::output_retries) times; then
    /// the run fails with [`AgentError::OutputInvalid`] and its state.
    ///
    /// [`RunResult::output`] is the `T`; the messages hold the JSON.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use deepagent::{create_deep_agent, DeepAgentDeps, StateBackend, TestModel};
    /// use schemars::JsonSchema;
    /// use serde::Deserialize;
    ///
    /// #[derive(Debug, Deserialize, JsonSchema)]
    /// struct Verdict {
    ///     /// True when the code is fine.
    ///     ok: bool,
    ///     /// What to fix, if anything.
    ///     issues: Vec<String>,
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), deepagent::RunError> {
    /// // The offline test model answers with a value generated from the schema.
    /// let agent = create_deep_agent()
    ///     .model_impl(Arc::new(TestModel::new().call_tools(Vec::<String>::new())))
    ///     .build()
    ///     .unwrap();
    /// let deps = DeepAgentDeps::new(StateBackend::new());
    /// let result = agent.run_typed::<Verdict>("Review /src", &deps).await?;
    /// assert_eq!(result.output.issues, ["a"]);
    /// # Ok(()) }
    /// ```
    pub async fn run_typed<T>(
        &self,
        prompt: &str,
        deps: &DeepAgentDeps,
    ) -> Result<RunResult<T>, RunError>
    where
        T: DeserializeOwned + JsonSchema,
    {
        self.run_typed_with_history(prompt, Vec::new(), deps).await
    }

    /// [`run_typed`](Self::run_typed) after an earlier conversation.
    pub async fn run_typed_with_history<T>(
        &self,
        prompt: &str,
        history: Vec<Message>,
        deps: &DeepAgentDeps,
    ) -> Result<RunResult<T>, RunError>
    where
        T: DeserializeOwned + JsonSchema,
    {
        let begin = Begin::prompt(history, prompt);
        self.typed_root(begin, Usage::default(), deps).await
    }

    /// [`resume`](Self::resume) for a typed run (one that paused for
    /// approval, failed or was cancelled).
    pub async fn resume_typed<T>(
        &self,
        state: RunState,
        decisions: impl IntoIterator<Item = (String, Decision)>,
        deps: &DeepAgentDeps,
    ) -> Result<RunResult<T>, RunError>
    where
        T: DeserializeOwned + JsonSchema,
    {
        let (begin, usage) = self.resume_begin(state, decisions, deps)?;
        self.typed_root(begin, usage, deps).await
    }

    async fn typed_root<T>(
        &self,
        begin: Begin,
        usage: Usage,
        deps: &DeepAgentDeps,
    ) -> Result<RunResult<T>, RunError>
    where
        T: DeserializeOwned + JsonSchema,
    {
        let mut profile = self.main_profile();
        profile.output = Some(Arc::new(OutputSpec::of::<T>()));
        let done = run::run_root(self.core.clone(), profile, begin, usage, deps, None).await?;
        // The loop accepted this text only after deserializing it as a T.
        match serde_json::from_str::<T>(&done.output) {
            Ok(output) => Ok(RunResult {
                output,
                messages: done.messages,
                usage: done.usage,
                todos: done.todos,
            }),
            Err(e) => Err(RunError {
                error: AgentError::OutputInvalid {
                    attempts: 0,
                    last_error: e.to_string(),
                },
                state: Box::new(RunState {
                    messages: done.messages,
                    usage: done.usage,
                    todos: done.todos,
                    pending: Vec::new(),
                }),
            }),
        }
    }
}
