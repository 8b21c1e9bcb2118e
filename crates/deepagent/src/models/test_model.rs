//! A model that exercises every tool with schema-valid arguments.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::{Model, ModelError};
use crate::messages::{Message, ModelRequest, ModelResponse, ToolCall};

/// On a fresh prompt, calls every tool once (all in one turn) with
/// arguments generated from its JSON schema; after the results come back,
/// answers with a JSON object mapping each tool name to its result (in a
/// typed run: a value generated from the output schema, given as text,
/// [`OutputMode::Native`](super::OutputMode::Native)).
///
/// Use [`TestModel::call_tools`] to pick the tools and
/// [`TestModel::with_args`] to give a tool specific arguments.
///
/// ```
/// use deepagent::TestModel;
/// use serde_json::json;
/// let model = TestModel::new()
///     .call_tools(["write_file", "ls"])
///     .with_args("write_file", json!({"path": "/a.txt", "content": "hi"}));
/// ```
#[derive(Debug, Clone, Default)]
pub struct TestModel {
    only: Option<Vec<String>>,
    args: BTreeMap<String, Value>,
    final_text: Option<String>,
}

impl TestModel {
    /// A model that calls every tool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls only these tools (in this order).
    pub fn call_tools<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.only = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Uses `args` for `tool` instead of generated ones.
    pub fn with_args(mut self, tool: impl Into<String>, args: Value) -> Self {
        self.args.insert(tool.into(), args);
        self
    }

    /// Answers with this text instead of the JSON summary.
    pub fn final_text(mut self, text: impl Into<String>) -> Self {
        self.final_text = Some(text.into());
        self
    }
}

#[async_trait]
impl Model for TestModel {
    fn name(&self) -> String {
        "test".to_owned()
    }

    fn output_mode(&self) -> super::OutputMode {
        super::OutputMode::Native
    }

    async fn request(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let fresh = matches!(request.messages.last(), Some(Message::User { .. }) | None);
        if fresh {
            let calls: Vec<ToolCall> = request
                .tools
                .iter()
                .filter(|t| match &self.only {
                    Some(only) => only.contains(&t.name),
                    None => true,
                })
                .map(|t| {
                    let args = self
                        .args
                        .get(&t.name)
                        .cloned()
                        .unwrap_or_else(|| example_for_schema(&t.parameters));
                    ToolCall::new(format!("test_{}", t.name), &t.name, args)
                })
                .collect();
            if !calls.is_empty() {
                return Ok(ModelResponse::tool_calls(calls).with_usage(50, 10));
            }
        }
        if let Some(text) = &self.final_text {
            return Ok(ModelResponse::text(text.clone()).with_usage(50, 5));
        }
        // A typed run: a value valid for the output schema.
        if let Some(output) = &request.output {
            let value = example_for_schema(&output.schema);
            return Ok(ModelResponse::text(value.to_string()).with_usage(50, 5));
        }
        let results = request.latest_tool_results();
        if results.is_empty() {
            return Ok(ModelResponse::text("success (no tool calls)").with_usage(50, 5));
        }
        let mut summary = Map::new();
        for (name, content) in results {
            summary.insert(name.to_owned(), Value::String(content.to_owned()));
        }
        Ok(ModelResponse::text(Value::Object(summary).to_string()).with_usage(50, 5))
    }
}

/// A value valid for a JSON schema: every property filled (first enum
/// value, `minimum` for numbers, `"a"` for strings, one item for arrays).
///
/// ```
/// use deepagent::example_for_schema;
/// use serde_json::json;
/// let schema = json!({"type": "object", "properties": {
///     "path": {"type": "string"}, "limit": {"type": "integer", "minimum": 1}}});
/// assert_eq!(example_for_schema(&schema), json!({"path": "a", "limit": 1}));
/// ```
pub fn example_for_schema(schema: &Value) -> Value {
    if let Some(v) = schema.get("const") {
        return v.clone();
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(|e| e.as_array())
        .and_then(|a| a.first())
    {
        return first.clone();
    }
    if let Some(v) = schema.get("default") {
        return v.clone();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = schema
            .get(key)
            .and_then(|e| e.as_array())
            .and_then(|a| a.first())
        {
            return example_for_schema(first);
        }
    }
    let ty = match schema.get("type") {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(|t| t.as_str())
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    match ty {
        "object" => {
            let mut out = Map::new();
            if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
                for (name, sub) in props {
                    out.insert(name.clone(), example_for_schema(sub));
                }
            }
            Value::Object(out)
        }
        "array" => {
            let item = schema
                .get("items")
                .map(example_for_schema)
                .unwrap_or(json!("a"));
            let min = schema
                .get("minItems")
                .and_then(|m| m.as_u64())
                .unwrap_or(1)
                .max(1);
            Value::Array(vec![item; min as usize])
        }
        "integer" => json!(schema.get("minimum").and_then(|m| m.as_i64()).unwrap_or(0)),
        "number" => json!(schema
            .get("minimum")
            .and_then(|m| m.as_f64())
            .unwrap_or(0.0)),
        "boolean" => json!(false),
        "null" => Value::Null,
        _ => {
            let min = schema
                .get("minLength")
                .and_then(|m| m.as_u64())
                .unwrap_or(1)
                .max(1);
            json!("a".repeat(min as usize))
        }
    }
}
