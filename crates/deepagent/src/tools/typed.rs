//! Tools whose argument schema comes from a Rust type
//! (`#[derive(Deserialize, JsonSchema)]`), so the schema the model sees and
//! the type the handler gets cannot drift apart.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::generate::SchemaSettings;
use schemars::transform::{RecursiveTransform, Transform};
use schemars::{JsonSchema, Schema};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{parse_args, tool, Tool, ToolBuilder, ToolContext, ToolError};
use crate::messages::ToolDef;

/// The JSON schema of `T` as the model is sent it: subschemas inlined (no
/// `$ref`s to resolve), no `$schema` or root `title`, and no numeric
/// `format`s such as `uint32` (not JSON Schema formats, and OpenAI's
/// structured outputs refuse unknown ones). Doc comments on fields become
/// their `description`s.
///
/// ```
/// use deepagent::json_schema_for;
/// use schemars::JsonSchema;
/// use serde_json::json;
///
/// #[derive(JsonSchema)]
/// #[allow(dead_code)]
/// struct Search {
///     /// What to look for.
///     query: String,
///     /// How many results (default 10).
///     limit: Option<u32>,
/// }
///
/// assert_eq!(json_schema_for::<Search>(), json!({
///     "type": "object",
///     "properties": {
///         "query": {"type": "string", "description": "What to look for."},
///         "limit": {"type": ["integer", "null"], "minimum": 0, "description": "How many results (default 10)."}
///     },
///     "required": ["query"]
/// }));
/// ```
pub fn json_schema_for<T: JsonSchema + ?Sized>() -> Value {
    let mut schema = SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator()
        .into_root_schema_for::<T>();
    RecursiveTransform(drop_numeric_format).transform(&mut schema);
    let mut value = schema.to_value();
    if let Some(obj) = value.as_object_mut() {
        obj.remove("title");
    }
    value
}

fn drop_numeric_format(schema: &mut Schema) {
    let numeric = matches!(
        schema.get("format").and_then(Value::as_str),
        Some("int8" | "int16" | "int32" | "int64" | "uint" | "uint8" | "uint16" | "uint32")
            | Some("uint64" | "int" | "float" | "double" | "uint128" | "int128")
    );
    if numeric {
        schema.remove("format");
    }
}

impl ToolBuilder {
    /// Sets the parameters to the JSON schema of `A` (see
    /// [`json_schema_for`]); pair it with [`typed`](Self::typed).
    ///
    /// ```
    /// use deepagent::{tool, ToolError};
    /// use schemars::JsonSchema;
    /// use serde::Deserialize;
    ///
    /// #[derive(Deserialize, JsonSchema)]
    /// struct Add { a: i64, b: i64 }
    ///
    /// let add = tool("add")
    ///     .description("Adds two integers.")
    ///     .parameters_for::<Add>()
    ///     .typed(|_ctx, args: Add| async move { Ok::<_, ToolError>((args.a + args.b).to_string()) });
    /// assert_eq!(add.definition().parameters["required"], serde_json::json!(["a", "b"]));
    /// ```
    pub fn parameters_for<A: JsonSchema>(self) -> Self {
        self.parameters(json_schema_for::<A>())
    }
}

/// A tool from a closure over typed arguments, its schema derived from the
/// argument type: arguments that do not fit the schema or do not
/// deserialize go back to the model as a retry, naming the problem.
///
/// ```
/// use deepagent::{typed_tool, ToolError};
/// use schemars::JsonSchema;
/// use serde::Deserialize;
///
/// /// The city to look up.
/// #[derive(Deserialize, JsonSchema)]
/// struct Weather {
///     /// A city name, e.g. `Paris`.
///     city: String,
/// }
///
/// let weather = typed_tool("weather", "Today's weather in a city.", |_ctx, args: Weather| async move {
///     Ok::<_, ToolError>(format!("Sunny in {}", args.city))
/// });
/// let def = weather.definition();
/// assert_eq!(def.parameters["properties"]["city"]["description"], "A city name, e.g. `Paris`.");
/// ```
pub fn typed_tool<A, F, Fut>(
    name: impl Into<String>,
    description: impl Into<String>,
    f: F,
) -> Arc<dyn Tool>
where
    A: DeserializeOwned + JsonSchema + Send + 'static,
    F: Fn(ToolContext, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, ToolError>> + Send + 'static,
{
    tool(name)
        .description(description)
        .parameters_for::<A>()
        .typed(f)
}

/// A tool as a type with typed arguments, for tools that carry their own
/// state (a client, a cache) or are reused across agents. Turn it into an
/// agent tool with [`into_tool`](TypedTool::into_tool).
///
/// ```
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use deepagent::{create_deep_agent, TestModel, ToolContext, ToolError, TypedTool};
/// use schemars::JsonSchema;
/// use serde::Deserialize;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Lookup { key: String }
///
/// struct Dictionary(std::collections::HashMap<String, String>);
///
/// #[async_trait]
/// impl TypedTool for Dictionary {
///     type Args = Lookup;
///     fn name(&self) -> &str { "lookup" }
///     fn description(&self) -> &str { "Looks a word up in the dictionary." }
///     async fn call(&self, _ctx: &ToolContext, args: Lookup) -> Result<String, ToolError> {
///         self.0.get(&args.key).cloned().ok_or_else(|| ToolError::failed(format!("no entry for {}", args.key)))
///     }
/// }
///
/// let agent = create_deep_agent()
///     .model_impl(Arc::new(TestModel::new()))
///     .tool(Dictionary(Default::default()).into_tool())
///     .build()
///     .unwrap();
/// # let _ = agent;
/// ```
#[async_trait]
pub trait TypedTool: Send + Sync + 'static {
    /// The arguments; their JSON schema is what the model is sent.
    type Args: DeserializeOwned + JsonSchema + Send;

    /// The name the model calls it by.
    fn name(&self) -> &str;

    /// What the tool does and when to use it, for the model.
    fn description(&self) -> &str;

    /// Runs the tool with arguments that deserialized.
    async fn call(&self, ctx: &ToolContext, args: Self::Args) -> Result<String, ToolError>;

    /// The tool for [`DeepAgentBuilder::tool`](crate::DeepAgentBuilder::tool);
    /// the schema is derived once, here.
    fn into_tool(self) -> Arc<dyn Tool>
    where
        Self: Sized,
    {
        let def = ToolDef {
            name: self.name().to_owned(),
            description: self.description().to_owned(),
            parameters: json_schema_for::<Self::Args>(),
        };
        Arc::new(TypedAdapter { inner: self, def })
    }
}

struct TypedAdapter<T> {
    inner: T,
    def: ToolDef,
}

#[async_trait]
impl<T: TypedTool> Tool for TypedAdapter<T> {
    fn name(&self) -> &str {
        &self.def.name
    }

    fn definition(&self) -> ToolDef {
        self.def.clone()
    }

    async fn call(&self, ctx: &ToolContext, args: Value) -> Result<String, ToolError> {
        let args: T::Args = parse_args(args)?;
        self.inner.call(ctx, args).await
    }
}
