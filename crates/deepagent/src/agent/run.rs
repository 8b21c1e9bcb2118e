//! The tool loop.

use super::call::handle_call;
#[allow(unused_imports)]
use super::*;

/// The tool loop.
pub(crate) async fn run_loop(
    core: Arc<AgentCore>,
    profile: Profile,
    prompt: String,
    history: Vec<Message>,
    deps: &DeepAgentDeps,
    events: Option<EventSink>,
) -> Result<RunResult, AgentError> {
    let mut usage = Usage::default();
    run_loop_counting(core, profile, prompt, history, deps, events, &mut usage).await
}

/// The tool loop, adding what it spends to `usage` as it goes rather than
/// only in the result: a failed run (a model error after some steps, a
/// step or retry limit) has still spent those tokens, and a subagent's
/// caller must count them. `usage` starts at zero: the step and usage
/// limits are checked against it.
pub(crate) async fn run_loop_counting(
    core: Arc<AgentCore>,
    profile: Profile,
    prompt: String,
    history: Vec<Message>,
    deps: &DeepAgentDeps,
    events: Option<EventSink>,
    usage: &mut Usage,
) -> Result<RunResult, AgentError> {
    let tools = toolset(&core, &profile, deps);
    let definitions: Vec<ToolDef> = tools.iter().map(|t| t.definition()).collect();
    // Schemas are looked up per call; keep them rather than rebuilding.
    let by_name: HashMap<String, (Arc<dyn Tool>, Value)> = tools
        .iter()
        .zip(&definitions)
        .map(|(t, d)| (t.name().to_owned(), (t.clone(), d.parameters.clone())))
        .collect();
    let streaming = events.is_some();
    let env = Arc::new(RunEnv {
        core: core.clone(),
        depth: profile.depth,
        deps: deps.clone(),
        events,
        child_usage: Mutex::new(Usage::default()),
    });
    // One request object for the whole run: messages are appended in
    // place rather than cloned per step.
    let mut request = ModelRequest {
        system: system_prompt(&core, &profile, deps, &tools),
        messages: history,
        tools: definitions,
    };
    request.messages.push(Message::user(prompt));
    let mut retries_used: HashMap<String, usize> = HashMap::new();
    loop {
        if usage.requests >= core.max_steps {
            return Err(AgentError::StepLimit {
                max_steps: core.max_steps,
            });
        }
        if let Some(l) = core.limits.request_limit.filter(|l| usage.requests >= *l) {
            return Err(AgentError::UsageLimit(format!(
                "the next model request would exceed the request limit of {l}"
            )));
        }
        let response = if streaming {
            stream_turn(profile.model.as_ref(), &request, &env).await?
        } else {
            profile.model.request(&request).await?
        };
        usage.requests += 1;
        usage.input_tokens += response.usage.input_tokens;
        usage.output_tokens += response.usage.output_tokens;
        core.limits.check_tokens(usage)?;
        let ModelResponse {
            text, tool_calls, ..
        } = response;
        if tool_calls.is_empty() {
            request.messages.push(Message::assistant(text.clone()));
            return Ok(RunResult {
                output: text,
                messages: request.messages,
                usage: *usage,
            });
        }
        request.messages.push(Message::Assistant {
            content: text,
            tool_calls: tool_calls.clone(),
        });
        let todo_writes_in_turn = tool_calls
            .iter()
            .filter(|c| c.name == "write_todos")
            .count();
        let outcomes = futures::future::join_all(tool_calls.iter().map(|call| {
            let ctx = ToolContext {
                backend: deps.backend().clone(),
                todos: deps.todo_handle().clone(),
                call_id: call.id.clone(),
                todo_writes_in_turn,
                env: env.clone(),
            };
            handle_call(&core, &by_name, call, ctx)
        }))
        .await;
        if let Ok(mut child) = env.child_usage.lock() {
            usage.add(std::mem::take(&mut *child));
        }
        core.limits.check_tokens(usage)?;
        for (call, (content, retry)) in tool_calls.into_iter().zip(outcomes) {
            if retry {
                let used = retries_used.entry(call.name.clone()).or_insert(0);
                *used += 1;
                if *used > core.retries {
                    return Err(AgentError::ToolRetriesExceeded {
                        tool: call.name,
                        retries: core.retries,
                        last_error: content,
                    });
                }
            }
            request.messages.push(Message::Tool {
                tool_call_id: call.id,
                name: call.name,
                content,
            });
        }
    }
}

/// One streamed turn. A stream that breaks off mid-answer is requested
/// again from the start under the model's stream retry policy; listeners
/// are told with [`AgentEvent::StreamRestarted`] to drop the partial text.
async fn stream_turn(
    model: &dyn Model,
    request: &ModelRequest,
    env: &RunEnv,
) -> Result<ModelResponse, AgentError> {
    let policy = model.stream_retry_policy();
    let mut attempt = 0;
    loop {
        let err = match stream_once(model, request, env).await {
            Ok(response) => return Ok(response),
            Err(StreamFailure::Start(e)) => return Err(e.into()),
            Err(StreamFailure::Midway(e)) if e.is_transient() && attempt < policy.max_retries => e,
            Err(StreamFailure::Midway(e)) => return Err(e.into()),
        };
        tokio::time::sleep(policy.backoff(attempt)).await;
        attempt += 1;
        env.emit(AgentEvent::StreamRestarted {
            attempt,
            reason: err.to_string(),
        });
    }
}

/// Where a streamed turn failed: starting it was already retried by the
/// model; only a failure midway is the agent's to retry.
enum StreamFailure {
    Start(crate::models::ModelError),
    Midway(crate::models::ModelError),
}

async fn stream_once(
    model: &dyn Model,
    request: &ModelRequest,
    env: &RunEnv,
) -> Result<ModelResponse, StreamFailure> {
    let mut stream = model
        .request_stream(request)
        .await
        .map_err(StreamFailure::Start)?;
    let mut acc = ResponseAccumulator::default();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(StreamFailure::Midway)?;
        if let crate::models::StreamChunk::TextDelta(t) = &chunk {
            env.emit(AgentEvent::TextDelta { text: t.clone() });
        }
        acc.push(&chunk);
    }
    Ok(acc.finish())
}
