//! The tool loop.

use super::call::{handle_call, parse_arguments, pending_call};
use super::output;
#[allow(unused_imports)]
use super::*;
use tracing::Instrument;

/// What a run tree has spent. The main agent and every subagent it
/// starts share one, so `max_steps` and the [`UsageLimits`] hold for the
/// whole tree, checked before each model request.
#[derive(Debug, Default)]
pub(crate) struct Budget(Mutex<Usage>);

impl Budget {
    fn new(start: Usage) -> Self {
        Budget(Mutex::new(start))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Usage> {
        // A panic elsewhere cannot leave a Usage half-updated.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn get(&self) -> Usage {
        *self.lock()
    }

    /// Claims the next model request, whose prompt is estimated to cost
    /// `estimate_usd`, or says which limit forbids it.
    pub(crate) fn reserve(&self, core: &AgentCore, estimate_usd: f64) -> Result<(), AgentError> {
        let mut u = self.lock();
        if u.requests >= core.max_steps {
            return Err(AgentError::StepLimit {
                max_steps: core.max_steps,
            });
        }
        if let Some(l) = core.limits.request_limit.filter(|l| u.requests >= *l) {
            return Err(AgentError::UsageLimit(format!(
                "the next model request would exceed the request limit of {l}"
            )));
        }
        // Tokens a subagent spent may already be over a limit.
        core.limits.check_tokens(&u)?;
        if let Some(cap) = core
            .limits
            .cost_limit_usd
            .filter(|cap| u.cost_usd + estimate_usd > *cap)
        {
            return Err(AgentError::UsageLimit(format!(
                "the next model request (about ${estimate_usd:.4} for its prompt) would take the cost from ${:.4} past the cost limit of ${cap:.4}",
                u.cost_usd
            )));
        }
        u.requests += 1;
        Ok(())
    }

    /// Adds a turn's tokens, priced at `price` (none: counted as
    /// unpriced).
    pub(crate) fn add_tokens(
        &self,
        core: &AgentCore,
        mut turn: Usage,
        price: Option<&ModelPrice>,
    ) -> Result<(), AgentError> {
        // The request was counted by `reserve`.
        turn.requests = 0;
        turn.cost_usd = price.map_or(0.0, |p| p.cost(&turn));
        turn.unpriced_requests = u64::from(price.is_none());
        let mut u = self.lock();
        u.add(turn);
        core.limits.check_tokens(&u)
    }
}

/// Where a run starts: its conversation, and the calls a human decided
/// on while it was paused (run before the first model request).
pub(crate) struct Begin {
    messages: Vec<Message>,
    decided: Vec<(PendingCall, Decision)>,
}

impl Begin {
    /// A new prompt after `history`.
    pub(crate) fn prompt(mut history: Vec<Message>, prompt: &str) -> Self {
        answer_unanswered_calls(&mut history, &HashSet::new());
        history.push(Message::user(prompt));
        Begin {
            messages: history,
            decided: Vec::new(),
        }
    }

    /// A run picked up again from its state.
    pub(crate) fn resumed(
        mut messages: Vec<Message>,
        decided: Vec<(PendingCall, Decision)>,
    ) -> Self {
        let waiting: HashSet<String> = decided.iter().map(|(p, _)| p.call_id.clone()).collect();
        answer_unanswered_calls(&mut messages, &waiting);
        Begin { messages, decided }
    }

    /// A subagent's task.
    pub(crate) fn task(description: String) -> Self {
        Begin {
            messages: vec![Message::user(description)],
            decided: Vec::new(),
        }
    }
}

/// The result a tool call gets when its run stopped before it finished.
pub(crate) const INTERRUPTED_RESULT: &str = "Error: this call was interrupted before it finished (the run was cancelled or stopped), so it has no result. Call it again if it is still needed.";

/// What the model is told after an empty answer.
const EMPTY_ANSWER_NUDGE: &str =
    "Your last answer was empty. Answer the request, or call a tool if you need one.";

/// Gives every tool call in `messages` without a result (other than those
/// in `except`) a result saying it was interrupted: providers refuse a
/// conversation with an unanswered call.
pub(crate) fn answer_unanswered_calls(messages: &mut Vec<Message>, except: &HashSet<String>) {
    let mut i = 0;
    while i < messages.len() {
        let Message::Assistant { tool_calls, .. } = &messages[i] else {
            i += 1;
            continue;
        };
        let mut end = i + 1;
        let mut answered = HashSet::new();
        while let Some(Message::Tool { tool_call_id, .. }) = messages.get(end) {
            answered.insert(tool_call_id.as_str());
            end += 1;
        }
        let missing: Vec<Message> = tool_calls
            .iter()
            .filter(|c| !answered.contains(c.id.as_str()) && !except.contains(&c.id))
            .map(interrupted)
            .collect();
        let added = missing.len();
        messages.splice(end..end, missing);
        i = end + added;
    }
}

/// Puts the results after the last assistant turn in the order of its
/// calls: the decided calls of a resumed run answer after the ones that
/// ran before the pause, and the model reads them best in call order.
fn order_latest_results(messages: &mut [Message]) {
    let Some(turn) = messages
        .iter()
        .rposition(|m| matches!(m, Message::Assistant { .. }))
    else {
        return;
    };
    let (head, results) = messages.split_at_mut(turn + 1);
    let Message::Assistant { tool_calls, .. } = &head[turn] else {
        return;
    };
    let position = |m: &Message| match m {
        Message::Tool { tool_call_id, .. } => tool_calls
            .iter()
            .position(|c| &c.id == tool_call_id)
            .unwrap_or(usize::MAX),
        _ => usize::MAX,
    };
    results.sort_by_key(position);
}

fn interrupted(call: &ToolCall) -> Message {
    Message::Tool {
        tool_call_id: call.id.clone(),
        name: call.name.clone(),
        content: INTERRUPTED_RESULT.to_owned(),
        is_error: true,
    }
}

/// How a loop ended: the answer or why not, with the conversation and
/// the calls left waiting for a decision.
pub(crate) struct LoopEnd {
    pub result: Result<String, AgentError>,
    pub messages: Vec<Message>,
    pub pending: Vec<PendingCall>,
}

/// A main-agent run: one budget from `start`, and the outcome with its
/// state.
pub(crate) async fn run_root(
    core: Arc<AgentCore>,
    mut profile: Profile,
    begin: Begin,
    start: Usage,
    deps: &DeepAgentDeps,
    events: Option<EventSink>,
) -> Result<RunResult, RunError> {
    let budget = Arc::new(Budget::new(start));
    if profile.run_id.is_empty() {
        profile.run_id = new_run_id();
    }
    let span = crate::telemetry::agent_span("deepagent", &profile.model.name(), 0);
    let end = run_loop(core, profile, begin, deps, events, budget.clone())
        .instrument(span.clone())
        .await;
    let usage = budget.get();
    crate::telemetry::record_run(&span, &usage, end.result.as_ref().err());
    let todos = deps.todos();
    match end.result {
        Ok(output) => Ok(RunResult {
            output,
            messages: end.messages,
            usage,
            todos,
        }),
        Err(error) => Err(RunError {
            error,
            state: Box::new(RunState {
                messages: end.messages,
                usage,
                todos,
                pending: end.pending,
            }),
        }),
    }
}

/// Invalid-argument failures per tool, in a row.
type Retries = HashMap<String, usize>;

/// The tool loop, spending from `budget` (shared with subagents).
pub(crate) async fn run_loop(
    core: Arc<AgentCore>,
    profile: Profile,
    begin: Begin,
    deps: &DeepAgentDeps,
    events: Option<EventSink>,
    budget: Arc<Budget>,
) -> LoopEnd {
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
        budget: budget.clone(),
        model: profile.model.clone(),
        run_id: profile.run_id.clone(),
        children: Default::default(),
    });
    let cancel = deps.cancellation().clone();
    // One request object for the whole run: messages are appended in
    // place rather than cloned per step.
    // Skills and memory are read from the backend once, at the run's
    // start, and follow the built-in sections on every request.
    let mut from_backend = String::new();
    for section in backend_sections(&core, deps).await {
        from_backend.push_str("\n\n");
        from_backend.push_str(&section);
    }
    let mut request = ModelRequest {
        system: system_prompt(&core, &profile, deps, &tools, budget.get()) + &from_backend,
        messages: begin.messages,
        tools: definitions,
        output: profile.output.as_ref().map(|o| o.schema.clone()),
    };
    // A typed run on a model without a native response format: the
    // answer comes as the arguments of the output tool.
    let output_tool = profile.output.is_some() && output::uses_tool(profile.model.as_ref());
    if output_tool {
        if by_name.contains_key(output::OUTPUT_TOOL_NAME) {
            let msg = format!(
                "a tool is named {:?}, the name a typed run gives its output tool; rename the tool",
                output::OUTPUT_TOOL_NAME
            );
            return LoopEnd {
                result: Err(AgentError::Config(msg)),
                messages: request.messages,
                pending: Vec::new(),
            };
        }
        if let Some(out) = &profile.output {
            request.tools.push(out.tool_def());
        }
    }
    let mut invalid_outputs = 0;
    let end = |result: Result<String, AgentError>, messages: Vec<Message>| LoopEnd {
        result,
        messages,
        pending: Vec::new(),
    };
    let mut retries = Retries::new();
    if !begin.decided.is_empty() {
        let calls = begin
            .decided
            .into_iter()
            .map(|(p, d)| {
                let call = ToolCall {
                    id: p.call_id,
                    name: p.tool_name,
                    arguments: p.args.to_string(),
                };
                (call, Some(d))
            })
            .collect();
        let ran = run_tools(
            &env,
            &by_name,
            calls,
            false,
            &mut request.messages,
            &mut retries,
        );
        let ran = ran.await;
        order_latest_results(&mut request.messages);
        if let Err(e) = ran {
            return end(Err(e), request.messages);
        }
    }
    let mut empty_answers = 0;
    let model_name = profile.model.name();
    let price = core.prices.get(&model_name);
    let tools_chars: usize = request
        .tools
        .iter()
        .map(|t| t.name.len() + t.description.len() + t.parameters.to_string().len())
        .sum();
    let context_window = core.windows.get(&model_name);
    // The user's processors, then compaction, which must see the
    // history as it will be sent.
    let mut processors = profile.processors.clone();
    processors.extend(profile.compactor.clone());
    // Prompt tokens the provider reported for the previous request.
    let mut last_prompt_tokens: Option<u64> = None;
    // What the next prompt is measured from: the previous request's
    // prompt and answer, in tokens, and how many messages it sent.
    let mut estimate = history::EstimateBase {
        fixed_chars: request.system.len() + tools_chars,
        last_sent: None,
    };
    loop {
        if cancel.is_cancelled() {
            return end(Err(AgentError::Cancelled), request.messages);
        }
        if !processors.is_empty() {
            let ctx = ProcessorContext {
                usage: budget.get(),
                model: model_name.clone(),
                depth: profile.depth,
                last_prompt_tokens,
                context_window,
                run_id: profile.run_id.clone(),
                estimate,
                env: env.clone(),
            };
            if let Err(e) = history::apply(&processors, &ctx, &mut request.messages).await {
                return end(Err(e), request.messages);
            }
        }
        // Computed sections and instructions see the run as it is now.
        if core.prompt.is_dynamic() {
            request.system =
                system_prompt(&core, &profile, deps, &tools, budget.get()) + &from_backend;
            estimate.fixed_chars = request.system.len() + tools_chars;
        }
        let estimate_usd = match (&price, core.limits.cost_limit_usd) {
            (Some(p), Some(_)) => {
                let tokens = estimate.tokens(&request.messages);
                tokens as f64 * p.input / 1_000_000.0
            }
            _ => 0.0,
        };
        let sent_len = request.messages.len();
        if let Err(e) = budget.reserve(&core, estimate_usd) {
            return end(Err(e), request.messages);
        }
        let chat = crate::telemetry::chat_span(&model_name, request.output.is_some());
        let turn = async {
            if streaming {
                stream_turn(profile.model.as_ref(), &request, &env).await
            } else {
                profile
                    .model
                    .request(&request)
                    .await
                    .map_err(AgentError::from)
            }
        }
        .instrument(chat.clone());
        // Dropping the request future closes its connection.
        let response = tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(AgentError::Cancelled),
            r = turn => r,
        };
        crate::telemetry::record_chat(&chat, &response);
        let response = match response {
            Ok(r) => r,
            Err(e) => return end(Err(e), request.messages),
        };
        last_prompt_tokens = Some(response.usage.input_tokens);
        estimate.last_sent = Some((
            response.usage.input_tokens + response.usage.output_tokens,
            sent_len,
        ));
        let over = budget.add_tokens(&core, response.usage, price.as_ref());
        let ModelResponse {
            text,
            tool_calls,
            truncated,
            ..
        } = response;
        if tool_calls.is_empty() {
            if truncated {
                // Kept so the state shows how far the answer got.
                if !text.trim().is_empty() {
                    request.messages.push(Message::assistant(text));
                }
                return end(
                    Err(over.err().unwrap_or(AgentError::OutputTruncated)),
                    request.messages,
                );
            }
            if text.trim().is_empty() {
                // Never stored: providers refuse an empty assistant turn.
                if let Err(e) = over {
                    return end(Err(e), request.messages);
                }
                empty_answers += 1;
                if empty_answers > core.retries {
                    return end(
                        Err(AgentError::EmptyAnswer {
                            attempts: empty_answers,
                        }),
                        request.messages,
                    );
                }
                request.messages.push(Message::user(EMPTY_ANSWER_NUDGE));
                continue;
            }
            request.messages.push(Message::assistant(text.clone()));
            let Some(out) = &profile.output else {
                return end(over.map(|()| text), request.messages);
            };
            if let Err(e) = over {
                return end(Err(e), request.messages);
            }
            // A typed run: the text must be the value (also accepted from
            // a model that was offered the output tool but wrote it out).
            match out.check_text(&text) {
                Ok(json) => return end(Ok(json), request.messages),
                Err(problem) => {
                    invalid_outputs += 1;
                    if invalid_outputs > core.output_retries {
                        let error = AgentError::OutputInvalid {
                            attempts: invalid_outputs,
                            last_error: problem,
                        };
                        return end(Err(error), request.messages);
                    }
                    let nudge = if output_tool {
                        format!(
                            "Give your final answer by calling the {} tool.",
                            output::OUTPUT_TOOL_NAME
                        )
                    } else {
                        output::invalid_text_message(&problem)
                    };
                    request.messages.push(Message::user(nudge));
                    continue;
                }
            }
        }
        empty_answers = 0;
        request.messages.push(Message::Assistant {
            content: text,
            tool_calls: tool_calls.clone(),
        });
        if let Err(e) = over {
            answer_unanswered_calls(&mut request.messages, &HashSet::new());
            return end(Err(e), request.messages);
        }
        // The output tool's calls are the answer, not work to run.
        let (output_calls, tool_calls): (Vec<ToolCall>, Vec<ToolCall>) = tool_calls
            .into_iter()
            .partition(|c| output_tool && c.name == output::OUTPUT_TOOL_NAME);
        if let (Some(out), Some(first)) = (&profile.output, output_calls.first()) {
            let verdict = parse_arguments(&first.arguments, truncated).and_then(|v| out.check(v));
            let answer = |call: &ToolCall, content: String, is_error: bool| Message::Tool {
                tool_call_id: call.id.clone(),
                name: call.name.clone(),
                content,
                is_error,
            };
            match verdict {
                Ok(json) => {
                    // Every call gets a result, so the history can be
                    // continued; the others of the turn do not run.
                    for c in &output_calls {
                        let text = if c.id == first.id {
                            output::OUTPUT_ACCEPTED
                        } else {
                            output::NOT_RUN_AFTER_OUTPUT
                        };
                        request.messages.push(answer(c, text.to_owned(), false));
                    }
                    for c in &tool_calls {
                        let text = output::NOT_RUN_AFTER_OUTPUT.to_owned();
                        request.messages.push(answer(c, text, false));
                    }
                    order_latest_results(&mut request.messages);
                    return end(Ok(json), request.messages);
                }
                Err(problem) => {
                    invalid_outputs += 1;
                    for c in &output_calls {
                        let text = output::invalid_call_message(&problem);
                        request.messages.push(answer(c, text, true));
                    }
                    if invalid_outputs > core.output_retries {
                        answer_unanswered_calls(&mut request.messages, &HashSet::new());
                        order_latest_results(&mut request.messages);
                        let error = AgentError::OutputInvalid {
                            attempts: invalid_outputs,
                            last_error: problem,
                        };
                        return end(Err(error), request.messages);
                    }
                }
            }
        }
        // In pause mode the main agent's calls that need approval wait for
        // a decision; the others run now.
        let mut pending = Vec::new();
        let mut now = Vec::new();
        for call in tool_calls {
            match pending_call(&core, &by_name, &call, env.depth) {
                Some(p) => pending.push(p),
                None => now.push((call, None)),
            }
        }
        for p in &pending {
            env.emit(AgentEvent::PendingApproval { call: p.clone() });
        }
        let ran = run_tools(
            &env,
            &by_name,
            now,
            truncated,
            &mut request.messages,
            &mut retries,
        );
        let ran = ran.await;
        if !output_calls.is_empty() {
            order_latest_results(&mut request.messages);
        }
        if let Err(e) = ran {
            let waiting: HashSet<String> = pending.iter().map(|p| p.call_id.clone()).collect();
            answer_unanswered_calls(&mut request.messages, &waiting);
            return LoopEnd {
                result: Err(e),
                messages: request.messages,
                pending,
            };
        }
        if !pending.is_empty() {
            return LoopEnd {
                result: Err(AgentError::Paused {
                    tools: pending.iter().map(|p| p.tool_name.clone()).collect(),
                }),
                messages: request.messages,
                pending,
            };
        }
    }
}

/// Runs the calls of one turn concurrently and appends their results in
/// call order. Cancellation drops the running calls (a backend kills the
/// command of a dropped `execute`) and answers them as interrupted.
async fn run_tools(
    env: &Arc<RunEnv>,
    by_name: &HashMap<String, (Arc<dyn Tool>, Value)>,
    calls: Vec<(ToolCall, Option<Decision>)>,
    truncated: bool,
    messages: &mut Vec<Message>,
    retries: &mut Retries,
) -> Result<(), AgentError> {
    if calls.is_empty() {
        return Ok(());
    }
    let core = &env.core;
    let deps = &env.deps;
    let cancel = deps.cancellation();
    // These calls run concurrently, so two todo writes among them would
    // have no "last": the tool refuses them all (see WriteTodos).
    let todo_writes_in_turn = calls
        .iter()
        .filter(|(c, _)| c.name == "write_todos")
        .count();
    let all = futures::future::join_all(calls.iter().map(|(call, decision)| {
        let ctx = ToolContext {
            backend: deps.backend().clone(),
            todos: deps.todo_handle().clone(),
            call_id: call.id.clone(),
            todo_writes_in_turn,
            env: env.clone(),
        };
        handle_call(core, by_name, call, ctx, truncated, decision.clone())
    }));
    let outcomes = tokio::select! {
        biased;
        _ = cancel.cancelled() => None,
        o = all => Some(o),
    };
    let Some(outcomes) = outcomes else {
        messages.extend(calls.iter().map(|(c, _)| interrupted(c)));
        return Err(AgentError::Cancelled);
    };
    // Per tool: failed arguments this turn, and whether a call succeeded.
    let mut turn: HashMap<&str, (usize, bool, String)> = HashMap::new();
    for ((call, _), outcome) in calls.iter().zip(outcomes) {
        let entry = turn
            .entry(call.name.as_str())
            .or_insert((0, false, String::new()));
        if outcome.retry {
            entry.0 += 1;
            entry.2 = outcome.text.clone();
        } else {
            entry.1 = true;
        }
        messages.push(Message::Tool {
            tool_call_id: call.id.clone(),
            name: call.name.clone(),
            content: outcome.text,
            is_error: outcome.is_error,
        });
    }
    // Retries count failures in a row: a turn where the tool got valid
    // arguments starts its count again.
    let mut names: Vec<&str> = turn.keys().copied().collect();
    names.sort_unstable();
    for name in names {
        let (failed, succeeded, last_error) = &turn[name];
        if *succeeded {
            retries.remove(name);
            continue;
        }
        let used = retries.entry(name.to_owned()).or_insert(0);
        *used += failed;
        if *used > core.retries {
            return Err(AgentError::ToolRetriesExceeded {
                tool: name.to_owned(),
                retries: core.retries,
                last_error: last_error.clone(),
            });
        }
    }
    // Subagents started by these calls spent from the same budget.
    core.limits.check_tokens(&env.budget.get())
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
