//! Typed tools (schemas derived with `schemars`) and typed run outputs:
//! validation, retries with the problem sent back, the provider's native
//! response format (OpenAI) and the output tool (Anthropic, and any model
//! in tool mode), against the offline models and a scripted server on
//! 127.0.0.1.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::http::{MockServer, Reply};
use deepagent::models::anthropic::AnthropicModel;
use deepagent::models::openai::OpenAiModel;
use deepagent::models::OutputMode;
use deepagent::{
    create_deep_agent, typed_tool, AgentError, DeepAgentDeps, FunctionModel, Message, ModelRequest,
    ModelResponse, RetryPolicy, StateBackend, TestModel, ToolCall, ToolError, TypedTool,
    OUTPUT_TOOL_NAME,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize, JsonSchema, PartialEq)]
struct Forecast {
    /// A city name.
    city: String,
    /// Days ahead, 1 to 7.
    days: u8,
    #[serde(default)]
    unit: Unit,
}

#[derive(Debug, Default, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Unit {
    #[default]
    Celsius,
    Fahrenheit,
}

#[derive(Debug, Deserialize, JsonSchema, PartialEq)]
struct Verdict {
    /// True when the code is fine.
    ok: bool,
    /// What to fix.
    issues: Vec<String>,
}

fn deps() -> DeepAgentDeps {
    DeepAgentDeps::new(StateBackend::new())
}

fn forecast_tool(seen: Arc<Mutex<Vec<Forecast>>>) -> Arc<dyn deepagent::Tool> {
    typed_tool(
        "forecast",
        "The weather forecast for a city.",
        move |_ctx, args: Forecast| {
            let seen = seen.clone();
            async move {
                let text = format!("{} for {} days: sunny", args.city, args.days);
                seen.lock().unwrap().push(args);
                Ok::<_, ToolError>(text)
            }
        },
    )
}

#[test]
fn a_typed_tool_sends_the_schema_of_its_argument_type() {
    let tool = forecast_tool(Arc::default());
    let def = tool.definition();
    assert_eq!(def.name, "forecast");
    assert_eq!(
        def.parameters,
        json!({
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "A city name."},
                "days": {"type": "integer", "minimum": 0, "maximum": 255, "description": "Days ahead, 1 to 7."},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
            },
            "required": ["city", "days"]
        })
    );
}

#[tokio::test]
async fn a_typed_tool_gets_its_type_and_bad_arguments_go_back_to_the_model() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let requests = Arc::new(Mutex::new(Vec::<ModelRequest>::new()));
    let log = requests.clone();
    let model = FunctionModel::new(move |req| {
        log.lock().unwrap().push(req.clone());
        match req.assistant_turns() {
            // Wrong type for `days`, then an unknown enum value.
            0 => ModelResponse::call("forecast", json!({"city": "Paris", "days": "three"})),
            1 => ModelResponse::call(
                "forecast",
                json!({"city": "Paris", "days": 3, "unit": "kelvin"}),
            ),
            2 => ModelResponse::call("forecast", json!({"city": "Paris", "days": 3})),
            _ => ModelResponse::text("done"),
        }
    });
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .tool(forecast_tool(seen.clone()))
        .build()
        .unwrap();
    let r = agent.run("weather?", &deps()).await.unwrap();
    assert_eq!(r.output, "done");
    assert_eq!(
        *seen.lock().unwrap(),
        [Forecast {
            city: "Paris".into(),
            days: 3,
            unit: Unit::Celsius
        }]
    );
    let reqs = requests.lock().unwrap();
    let first_error = reqs[1].latest_tool_results()[0].1.to_owned();
    assert!(
        first_error.contains("argument `days` must be integer, got a string"),
        "{first_error}"
    );
    let second_error = reqs[2].latest_tool_results()[0].1.to_owned();
    assert!(
        second_error.contains("argument `unit` must be one of \"celsius\", \"fahrenheit\""),
        "{second_error}"
    );
    assert_eq!(
        reqs[3].latest_tool_results()[0].1,
        "Paris for 3 days: sunny"
    );
}

struct Echo;

#[async_trait::async_trait]
impl TypedTool for Echo {
    type Args = Verdict;
    fn name(&self) -> &str {
        "echo_verdict"
    }
    fn description(&self) -> &str {
        "Echoes a verdict."
    }
    async fn call(
        &self,
        _ctx: &deepagent::ToolContext,
        args: Verdict,
    ) -> Result<String, ToolError> {
        Ok(format!("ok={} issues={}", args.ok, args.issues.join(",")))
    }
}

#[tokio::test]
async fn a_typed_tool_trait_object_runs_with_its_derived_schema() {
    let model = TestModel::new().call_tools(["echo_verdict"]);
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .tool(Echo.into_tool())
        .build()
        .unwrap();
    let defs = agent.tool_definitions(&deps());
    let def = defs.iter().find(|d| d.name == "echo_verdict").unwrap();
    assert_eq!(def.parameters["required"], json!(["ok", "issues"]));
    let r = agent.run("go", &deps()).await.unwrap();
    // The test model fills the schema: false, one item "a".
    assert_eq!(
        r.output,
        json!({"echo_verdict": "ok=false issues=a"}).to_string()
    );
}

#[tokio::test]
async fn the_test_model_answers_a_typed_run_from_the_schema() {
    let agent = create_deep_agent()
        .model_impl(Arc::new(TestModel::new().call_tools(["ls"])))
        .build()
        .unwrap();
    let r = agent.run_typed::<Verdict>("review", &deps()).await.unwrap();
    assert_eq!(
        r.output,
        Verdict {
            ok: false,
            issues: vec!["a".into()]
        }
    );
    assert_eq!(r.usage.requests, 2);
}

#[tokio::test]
async fn an_invalid_text_answer_is_sent_back_with_the_problem() {
    let requests = Arc::new(Mutex::new(Vec::<ModelRequest>::new()));
    let log = requests.clone();
    let model = FunctionModel::new(move |req| {
        log.lock().unwrap().push(req.clone());
        match req.assistant_turns() {
            0 => ModelResponse::text("Looks fine to me!"),
            1 => ModelResponse::text(r#"{"ok": "yes", "issues": []}"#),
            _ => ModelResponse::text("```json\n{\"ok\": true, \"issues\": []}\n```"),
        }
    });
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .build()
        .unwrap();
    let r = agent.run_typed::<Verdict>("review", &deps()).await.unwrap();
    assert_eq!(
        r.output,
        Verdict {
            ok: true,
            issues: vec![]
        }
    );
    let reqs = requests.lock().unwrap();
    assert_eq!(reqs.len(), 3);
    let schema = &reqs[0].output.as_ref().unwrap().schema;
    assert_eq!(schema["required"], json!(["ok", "issues"]));
    assert_eq!(reqs[0].output.as_ref().unwrap().name, "Verdict");
    // Native mode: no output tool offered.
    assert!(reqs[0].tools.iter().all(|t| t.name != OUTPUT_TOOL_NAME));
    let nudge = reqs[1].last_user_prompt().unwrap();
    assert!(nudge.contains("the answer is not valid JSON"), "{nudge}");
    let nudge = reqs[2].last_user_prompt().unwrap();
    assert!(
        nudge.contains("argument `ok` must be boolean, got a string"),
        "{nudge}"
    );
}

#[tokio::test]
async fn too_many_invalid_answers_end_the_run_with_its_state() {
    let model = FunctionModel::new(|_| ModelResponse::text(r#"{"ok": 1, "issues": []}"#));
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .output_retries(2)
        .build()
        .unwrap();
    let err = agent
        .run_typed::<Verdict>("review", &deps())
        .await
        .unwrap_err();
    match &err.error {
        AgentError::OutputInvalid {
            attempts,
            last_error,
        } => {
            assert_eq!(*attempts, 3);
            assert!(last_error.contains("argument `ok`"), "{last_error}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.state.usage.requests, 3);
    // Three answers and two nudges after the prompt.
    assert_eq!(err.state.messages.len(), 6);
}

#[tokio::test]
async fn a_non_object_type_is_wrapped_for_the_model_and_unwrapped_for_you() {
    let requests = Arc::new(Mutex::new(Vec::<ModelRequest>::new()));
    let log = requests.clone();
    let model = FunctionModel::new(move |req| {
        log.lock().unwrap().push(req.clone());
        ModelResponse::text(r#"["x", "y"]"#)
    });
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .build()
        .unwrap();
    let r = agent
        .run_typed::<Vec<String>>("list", &deps())
        .await
        .unwrap();
    assert_eq!(r.output, ["x", "y"]);
    let schema = &requests.lock().unwrap()[0].output.clone().unwrap().schema;
    assert_eq!(
        *schema,
        json!({"type": "object", "properties": {"response": {"type": "array", "items": {"type": "string"}}},
               "required": ["response"]})
    );
}

#[tokio::test]
async fn in_tool_mode_the_answer_is_the_output_tool_call() {
    let requests = Arc::new(Mutex::new(Vec::<ModelRequest>::new()));
    let log = requests.clone();
    let model = FunctionModel::new(move |req| {
        log.lock().unwrap().push(req.clone());
        match req.assistant_turns() {
            0 => ModelResponse::tool_calls([
                ToolCall::new("c1", "ls", json!({"path": "/"})),
                ToolCall::new("c2", OUTPUT_TOOL_NAME, json!({"ok": true})),
            ]),
            _ => ModelResponse::tool_calls([
                ToolCall::new(
                    "c3",
                    OUTPUT_TOOL_NAME,
                    json!({"ok": false, "issues": ["x"]}),
                ),
                ToolCall::new("c4", "ls", json!({"path": "/"})),
            ]),
        }
    })
    .with_output_mode(OutputMode::Tool);
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .build()
        .unwrap();
    let r = agent.run_typed::<Verdict>("review", &deps()).await.unwrap();
    assert_eq!(
        r.output,
        Verdict {
            ok: false,
            issues: vec!["x".into()]
        }
    );
    let reqs = requests.lock().unwrap();
    let out_tool = reqs[0]
        .tools
        .iter()
        .find(|t| t.name == OUTPUT_TOOL_NAME)
        .expect("the output tool is offered");
    assert_eq!(out_tool.parameters["required"], json!(["ok", "issues"]));
    // The invalid call is answered with the problem; ls still ran.
    let results = reqs[1].latest_tool_results();
    assert_eq!(results[0].0, "ls");
    assert_eq!(results[1].0, OUTPUT_TOOL_NAME);
    assert!(
        results[1].1.contains("missing required argument `issues`"),
        "{}",
        results[1].1
    );
    // Every call of the last turn has a result, so the history continues.
    let tail: Vec<(String, String)> = r.messages[r.messages.len() - 2..]
        .iter()
        .map(|m| match m {
            Message::Tool {
                tool_call_id,
                content,
                ..
            } => (tool_call_id.clone(), content.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(tail[0].0, "c3");
    assert_eq!(tail[0].1, "Final answer accepted.");
    assert_eq!(tail[1].0, "c4");
    assert!(tail[1].1.starts_with("Not run"), "{}", tail[1].1);
}

#[tokio::test]
async fn a_user_tool_named_like_the_output_tool_is_refused_in_tool_mode() {
    let model =
        FunctionModel::new(|_| ModelResponse::text("{}")).with_output_mode(OutputMode::Tool);
    let clash = typed_tool(OUTPUT_TOOL_NAME, "mine", |_ctx, _a: Verdict| async move {
        Ok::<_, ToolError>(String::new())
    });
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .tool(clash)
        .build()
        .unwrap();
    let err = agent
        .run_typed::<Verdict>("review", &deps())
        .await
        .unwrap_err();
    assert!(
        matches!(&err.error, AgentError::Config(m) if m.contains("final_result")),
        "{:?}",
        err.error
    );
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(1)
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(5))
}

#[tokio::test]
async fn openai_gets_a_json_schema_response_format() {
    let server = MockServer::start(vec![
        Reply::json(
            200,
            json!({
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
                    "content": "{\"ok\": true}"}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5}
            }),
        ),
        Reply::json(
            200,
            json!({
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
                    "content": "{\"ok\": true, \"issues\": [\"none\"]}"}}],
                "usage": {"prompt_tokens": 20, "completion_tokens": 6}
            }),
        ),
    ])
    .await;
    let model = OpenAiModel::new("gpt-test", "sk-test")
        .base_url(format!("{}/v1", server.base))
        .retry(fast_retry());
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .include_subagents(false)
        .build()
        .unwrap();
    let r = agent.run_typed::<Verdict>("review", &deps()).await.unwrap();
    assert_eq!(r.output.issues, ["none"]);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let format = &reqs[0].body["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["json_schema"]["name"], "Verdict");
    assert_eq!(format["json_schema"]["strict"], false);
    assert_eq!(
        format["json_schema"]["schema"]["required"],
        json!(["ok", "issues"])
    );
    let tools: Vec<&str> = reqs[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(!tools.contains(&OUTPUT_TOOL_NAME), "{tools:?}");
    // The retry: the invalid answer, then the problem as a user message.
    let msgs = reqs[1].body["messages"].as_array().unwrap();
    let last = msgs.last().unwrap();
    assert_eq!(last["role"], "user");
    assert!(
        last["content"]
            .as_str()
            .unwrap()
            .contains("missing required argument `issues`"),
        "{last}"
    );
    // A run without a type sends no response format.
    let plain = OpenAiModel::new("gpt-test", "k").body(&ModelRequest::default(), false);
    assert!(plain.get("response_format").is_none());
}

fn anthropic_tool_use(id: &str, input: Value) -> Value {
    json!({
        "id": "msg", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [{"type": "tool_use", "id": id, "name": OUTPUT_TOOL_NAME, "input": input}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 30, "output_tokens": 10}
    })
}

#[tokio::test]
async fn anthropic_answers_through_the_output_tool_with_tool_choice_any() {
    let server = MockServer::start(vec![
        Reply::json(200, anthropic_tool_use("toolu_1", json!({"issues": []}))),
        Reply::json(
            200,
            anthropic_tool_use("toolu_2", json!({"ok": true, "issues": []})),
        ),
    ])
    .await;
    let model = AnthropicModel::new("claude-test", "ak-test")
        .base_url(&server.base)
        .retry(fast_retry());
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .include_subagents(false)
        .build()
        .unwrap();
    let r = agent.run_typed::<Verdict>("review", &deps()).await.unwrap();
    assert!(r.output.ok);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let body = &reqs[0].body;
    assert_eq!(body["tool_choice"], json!({"type": "any"}));
    assert!(body.get("response_format").is_none());
    let out = body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == OUTPUT_TOOL_NAME)
        .expect("the output tool");
    assert_eq!(out["input_schema"]["required"], json!(["ok", "issues"]));
    // The invalid call came back as an error result naming the problem.
    let msgs = reqs[1].body["messages"].as_array().unwrap();
    let result = &msgs.last().unwrap()["content"][0];
    assert_eq!(result["type"], "tool_result");
    assert_eq!(result["tool_use_id"], "toolu_1");
    assert_eq!(result["is_error"], true);
    assert!(
        result["content"]
            .as_str()
            .unwrap()
            .contains("missing required argument `ok`"),
        "{result}"
    );
}
