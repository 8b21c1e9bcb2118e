//! Compaction: a built-in [`HistoryProcessor`] that keeps a long run's
//! conversation inside the model's context window.
//!
//! Before a request whose prompt would reach a fraction of the window it
//! first moves large old tool results to files (a pointer stays), and if
//! that is not enough it has a model summarise the older turns, which
//! the summary then replaces. What leaves the context is appended, in
//! full, to a history file on the run's backend first, so nothing is
//! lost.

#[allow(unused_imports)]
use super::*;
use crate::models::CHARS_PER_TOKEN;

/// Where compaction saves the messages it takes out of the context, by
/// default: `/conversation_history/<run-id>.md`.
pub const HISTORY_DIR: &str = "/conversation_history";

/// What the summariser is told it is.
pub const SUMMARY_SYSTEM_PROMPT: &str = "You summarise the conversation of an AI agent that works with tools, so that it can carry on its task with a much shorter context. You are not the agent: do not continue the task, do not call tools, only write the summary.";

/// What the summariser is asked, before the conversation it summarises.
pub const SUMMARY_PROMPT: &str = "Summarise the conversation below for the agent that will continue it. The agent will see only your summary and its most recent messages, so write down everything it needs to go on:
- the user's requests, word for word;
- decisions made, and why;
- what was done and what came of it: files read, created or changed (with their paths), commands run and their outcome, facts learned;
- errors met and how they were solved, or that they were not;
- what is left to do, and the next step.
Leave out greetings and tool output the agent can read again (give its path instead). Write plain text, at most about 600 words.";

/// Longest text of one message shown to the summariser; the rest is in
/// the history file.
const SUMMARY_MESSAGE_CHARS: usize = 4_000;

/// How much of an offloaded result its pointer shows.
const POINTER_PREVIEW_CHARS: usize = 200;

/// How the message that stands for summarised messages starts.
const SUMMARY_PREFIX: &str = "[Summary of the conversation so far]";

/// How a pointer to an offloaded tool result starts, so it is never
/// offloaded again.
const POINTER_PREFIX: &str = "[This tool result (";

/// How a run keeps its conversation inside the model's context window.
/// On by default; see [`DeepAgentBuilder::compaction`].
///
/// Before each model request, the prompt is measured: the tokens the
/// provider reported for the previous request plus an estimate (about 4
/// characters a token) of what was added since, or, before the first
/// request, an estimate of the whole. When it reaches
/// [`threshold`](Self::threshold) of the model's context window (from the
/// agent's [`ContextWindows`](crate::ContextWindows); a model the table
/// does not know is not compacted):
///
/// 1. Tool results older than the last [`keep_last`](Self::keep_last)
///    messages and longer than
///    [`offload_min_chars`](Self::offload_min_chars) are written to
///    `/large_tool_results/` and replaced by a short pointer. If that
///    brings the prompt under the threshold, that is all: no model call.
/// 2. Otherwise every message before the last `keep_last` is replaced by
///    one user message holding a summary written by the
///    [summary model](Self::summary_model) (the agent's own model by
///    default), the current todo list, and the path of the history file.
///
/// The system prompt and tool definitions are never touched (they are
/// not part of the history), and the kept messages never start with a
/// tool result whose call was summarised: the cut moves back to the call.
///
/// Everything compaction takes out of the context is first appended in
/// full to `<history_dir>/<run-id>.md` on the run's backend (the run id
/// is [`ProcessorContext::run_id`]; a subagent's names its parent's), so
/// nothing is lost; each compaction adds a section.
///
/// The summary request is a model request of the run: it counts in the
/// usage, `max_steps` and the limits, cost cap included. If it fails (or
/// answers nothing), or the history file cannot be written, the run ends
/// with [`AgentError::Compaction`] and its state holds the conversation
/// not summarised (large results may already be offloaded, their text
/// saved); [`DeepAgent::resume`] with no decisions tries again. A limit
/// reached by the summary request ends the run like any other limit.
///
/// Subagents compact their own conversations, measured against their own
/// model's window, with the same settings unless given their own
/// ([`SubAgent::compaction`]).
///
/// ```
/// use std::sync::Arc;
/// use deepagent::{create_deep_agent, CompactionConfig, TestModel};
///
/// # std::env::set_var("OPENAI_API_KEY", "sk-example");
/// let agent = create_deep_agent()
///     .model_impl(Arc::new(TestModel::new()))
///     .compaction(
///         CompactionConfig::default()
///             .threshold(0.7)
///             .keep_last(10)
///             .summary_model("openai:gpt-4.1-mini"),
///     )
///     // The built-in table does not know this model.
///     .context_window("test", 100_000)
///     .build()?;
/// # let _ = agent;
/// # Ok::<(), deepagent::AgentError>(())
/// ```
#[derive(Clone)]
pub struct CompactionConfig {
    pub(crate) enabled: bool,
    pub(crate) threshold: f64,
    pub(crate) keep_last: usize,
    pub(crate) offload_min_chars: usize,
    pub(crate) history_dir: Option<String>,
    pub(crate) summary_spec: Option<String>,
    pub(crate) summary_model: Option<Arc<dyn Model>>,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        CompactionConfig {
            enabled: true,
            threshold: 0.8,
            keep_last: 20,
            offload_min_chars: 2_000,
            history_dir: Some(HISTORY_DIR.to_owned()),
            summary_spec: None,
            summary_model: None,
        }
    }
}

impl std::fmt::Debug for CompactionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompactionConfig")
            .field("enabled", &self.enabled)
            .field("threshold", &self.threshold)
            .field("keep_last", &self.keep_last)
            .field("offload_min_chars", &self.offload_min_chars)
            .field("history_dir", &self.history_dir)
            .field(
                "summary_model",
                &self
                    .summary_model
                    .as_ref()
                    .map(|m| m.name())
                    .or_else(|| self.summary_spec.clone()),
            )
            .finish()
    }
}

impl CompactionConfig {
    /// No compaction: the conversation grows until the provider refuses
    /// it (history processors of your own still run).
    pub fn disabled() -> Self {
        CompactionConfig {
            enabled: false,
            ..Self::default()
        }
    }

    /// Whether compaction runs.
    pub fn enabled(mut self, yes: bool) -> Self {
        self.enabled = yes;
        self
    }

    /// The fraction of the context window at which compaction starts
    /// (default 0.8); more than 0 and at most 1.
    pub fn threshold(mut self, fraction: f64) -> Self {
        self.threshold = fraction;
        self
    }

    /// How many of the latest messages are always kept as they are
    /// (default 20; at least 1). A tool result among them keeps its call
    /// too, so a few more may be kept.
    pub fn keep_last(mut self, messages: usize) -> Self {
        self.keep_last = messages;
        self
    }

    /// Old tool results at least this long (in characters; default
    /// 2,000) are moved to files before anything is summarised.
    pub fn offload_min_chars(mut self, chars: usize) -> Self {
        self.offload_min_chars = chars;
        self
    }

    /// The backend directory of the history files (default
    /// `/conversation_history`). `None` compacts without saving what is
    /// summarised (it is then lost to the run; the summary says so).
    pub fn history_dir(mut self, dir: Option<&str>) -> Self {
        self.history_dir = dir.map(|d| d.trim_end_matches('/').to_owned());
        self
    }

    /// The model that writes summaries, as `"provider:name"` (resolved at
    /// [`build`](crate::DeepAgentBuilder::build) like
    /// [`DeepAgentBuilder::model`](crate::DeepAgentBuilder::model), with
    /// its retry and timeout settings): a cheaper model than the agent's
    /// will do. Default: the model of the agent being compacted.
    pub fn summary_model(mut self, spec: impl Into<String>) -> Self {
        self.summary_spec = Some(spec.into());
        self.summary_model = None;
        self
    }

    /// The model that writes summaries, as an object.
    pub fn summary_model_impl(mut self, model: Arc<dyn Model>) -> Self {
        self.summary_model = Some(model);
        self.summary_spec = None;
        self
    }

    /// Checks the numbers and resolves the summary model.
    pub(crate) fn resolve(
        mut self,
        options: &ModelOptions,
    ) -> Result<Option<Arc<Compactor>>, AgentError> {
        if !self.enabled {
            return Ok(None);
        }
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(AgentError::Config(format!(
                "the compaction threshold must be a fraction of the context window, more than 0 and at most 1; got {}",
                self.threshold
            )));
        }
        if self.keep_last == 0 {
            return Err(AgentError::Config(
                "compaction must keep at least the last message (keep_last(1) or more); turn it off with CompactionConfig::disabled()".into(),
            ));
        }
        if let Some(spec) = self.summary_spec.take() {
            self.summary_model = Some(infer_model_configured(spec.as_str(), options, &|k| {
                std::env::var(k).ok()
            })?);
        }
        Ok(Some(Arc::new(Compactor { config: self })))
    }
}

/// The processor compaction runs as (last, after the user's).
pub(crate) struct Compactor {
    pub(crate) config: CompactionConfig,
}

impl Compactor {
    pub(crate) fn summary_model(&self) -> Option<&Arc<dyn Model>> {
        self.config.summary_model.as_ref()
    }
}

#[async_trait::async_trait]
impl HistoryProcessor for Compactor {
    async fn process(
        &self,
        ctx: &ProcessorContext,
        messages: &mut Vec<Message>,
    ) -> Result<(), AgentError> {
        let Some(window) = ctx.context_window else {
            return Ok(());
        };
        let limit = (window as f64 * self.config.threshold) as u64;
        let before = ctx.estimate_prompt_tokens(messages);
        if before < limit {
            return Ok(());
        }
        let keep_from = cut_point(messages, self.config.keep_last);
        let history = self
            .config
            .history_dir
            .as_ref()
            .map(|dir| format!("{dir}/{}.md", file_safe(&ctx.run_id)));

        let (mut offloaded, saved_chars) = self
            .offload(ctx, &mut messages[..keep_from], history.as_deref())
            .await?;
        let after_offload = before.saturating_sub((saved_chars / CHARS_PER_TOKEN) as u64);
        if after_offload < limit {
            if offloaded > 0 {
                ctx.env.emit(AgentEvent::Compacted {
                    offloaded,
                    summarised: 0,
                    history_path: history,
                    tokens_before: before,
                });
            }
            return Ok(());
        }

        // Where the kept messages start once the old ones are summarised.
        let mut kept_start = 0;
        if keep_from > 0 {
            let old = &messages[..keep_from];
            if let Some(path) = &history {
                let section = format!(
                    "## Compaction before request {}: {} messages summarised\n\n{}",
                    ctx.usage.requests + 1,
                    old.len(),
                    transcript(old, usize::MAX)
                );
                append_history(ctx, path, &section).await?;
            }
            let summary = self.summarise(ctx, old).await?;
            let todos = ctx.todos();
            let message = summary_message(old.len(), history.as_deref(), &summary, &todos);
            messages.splice(..keep_from, [Message::user(message)]);
            kept_start = 1;
        }
        // The kept messages alone may still be too many tokens (large
        // results among them): move those out too, all but the answers
        // to the latest turn, which the model has not read yet.
        let whole = history::EstimateBase {
            last_sent: None,
            ..ctx.estimate
        };
        if whole.tokens(messages) >= limit {
            let latest = messages
                .iter()
                .rposition(|m| matches!(m, Message::Assistant { .. }))
                .unwrap_or(0)
                .max(kept_start);
            let (more, _) = self
                .offload(ctx, &mut messages[kept_start..latest], history.as_deref())
                .await?;
            offloaded += more;
        }
        if offloaded > 0 || keep_from > 0 {
            ctx.env.emit(AgentEvent::Compacted {
                offloaded,
                summarised: keep_from,
                history_path: history,
                tokens_before: before,
            });
        }
        Ok(())
    }
}

impl Compactor {
    /// Moves large tool results of `old` to files; returns how many, and
    /// the characters taken out of the context.
    async fn offload(
        &self,
        ctx: &ProcessorContext,
        old: &mut [Message],
        history: Option<&str>,
    ) -> Result<(usize, usize), AgentError> {
        let min = self.config.offload_min_chars.max(1);
        let big: Vec<usize> = old
            .iter()
            .enumerate()
            .filter(|(_, m)| match m {
                Message::Tool { content, .. } => {
                    content.len() >= min && !content.starts_with(POINTER_PREFIX)
                }
                _ => false,
            })
            .map(|(i, _)| i)
            .collect();
        if big.is_empty() {
            return Ok((0, 0));
        }
        // The history file gets the results whole first: it alone then
        // holds every message of the run.
        if let Some(path) = history {
            let originals: Vec<Message> = big.iter().map(|&i| old[i].clone()).collect();
            let section = format!(
                "## Compaction before request {}: {} tool results moved to files\n\n{}",
                ctx.usage.requests + 1,
                originals.len(),
                transcript(&originals, usize::MAX)
            );
            append_history(ctx, path, &section).await?;
        }
        let (mut moved, mut saved) = (0, 0);
        for i in big {
            let Message::Tool {
                tool_call_id,
                content,
                ..
            } = &mut old[i]
            else {
                continue;
            };
            let path = large_result_path(tool_call_id);
            // A result cut by the tool loop names the file that already
            // holds its full output; writing this copy there would clobber it.
            let already_saved = content.contains(&path);
            if !already_saved {
                let bytes = deepagent_core::Bytes::from(content.clone());
                if ctx.backend().write(&path, bytes).await.is_err() {
                    // Kept in place: nothing is lost, and summarising may
                    // still make room.
                    continue;
                }
            }
            let pointer = offload_pointer(content, &path);
            saved += content.len().saturating_sub(pointer.len());
            *content = pointer;
            moved += 1;
        }
        Ok((moved, saved))
    }

    /// Asks the summary model for a summary of `old`.
    async fn summarise(
        &self,
        ctx: &ProcessorContext,
        old: &[Message],
    ) -> Result<String, AgentError> {
        let model = self
            .config
            .summary_model
            .clone()
            .unwrap_or_else(|| ctx.env.model.clone());
        // Room for the conversation in the summary model's window, less
        // what its answer and the instructions take.
        let room = ctx
            .env
            .core
            .windows
            .get(&model.name())
            .map_or(usize::MAX, |w| {
                (w as usize).saturating_mul(CHARS_PER_TOKEN) * 3 / 4
            });
        let request = summary_request(old, room);
        let failed = |why: String| {
            AgentError::Compaction {
            message: format!(
                "the summary request to {} {why}; the run's state holds the conversation as it was (nothing was removed), so resume it to try again, or set a summary model that works with CompactionConfig::summary_model",
                model.name()
            ),
        }
        };
        let response = match ctx.env.request_counted(model.as_ref(), &request).await {
            Ok(r) => r,
            Err(AgentError::Model(e)) => return Err(failed(format!("failed: {e}"))),
            Err(e) => return Err(e),
        };
        let text = response.text.trim();
        if text.is_empty() {
            return Err(failed("answered with no text".into()));
        }
        Ok(text.to_owned())
    }
}

/// Where messages are kept from: at most `keep` from the end, moved back
/// so the kept part does not start with a tool result (its call would
/// be summarised away, and providers refuse a result without its call).
pub(crate) fn cut_point(messages: &[Message], keep: usize) -> usize {
    let mut cut = messages.len().saturating_sub(keep);
    while cut > 0 && matches!(messages[cut], Message::Tool { .. }) {
        cut -= 1;
    }
    cut
}

/// The request that asks for a summary of `old`, its transcript cut to
/// about `room` characters.
pub(crate) fn summary_request(old: &[Message], room: usize) -> ModelRequest {
    let mut text = transcript(old, SUMMARY_MESSAGE_CHARS);
    if text.len() > room {
        // Keep the start (the task) and the most recent part.
        let head = floor_char(&text, room / 4);
        let tail = floor_char(&text, text.len() - (room - room / 4));
        text = format!(
            "{}\n\n[... {} characters left out here; they are in the history file ...]\n\n{}",
            &text[..head],
            tail - head,
            &text[tail..]
        );
    }
    // No tools and no output schema, in a typed run too: the answer is
    // plain text.
    ModelRequest::new(
        SUMMARY_SYSTEM_PROMPT,
        vec![Message::user(format!(
            "{SUMMARY_PROMPT}\n\n<conversation>\n{}\n</conversation>",
            text.trim_end()
        ))],
        Vec::new(),
    )
}

fn floor_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The messages as markdown, each text cut to `max_chars`.
pub(crate) fn transcript(messages: &[Message], max_chars: usize) -> String {
    let cut = |t: &str| -> String {
        match t.char_indices().nth(max_chars) {
            None => t.to_owned(),
            Some((i, _)) => format!(
                "{}\n[... {} more characters]",
                &t[..i],
                t.chars().count() - max_chars
            ),
        }
    };
    let mut out = String::new();
    for m in messages {
        match m {
            Message::User { content } => {
                out.push_str(&format!("### user\n\n{}\n\n", cut(content)));
            }
            Message::Assistant {
                content,
                tool_calls,
            } => {
                out.push_str("### assistant\n\n");
                if !content.is_empty() {
                    out.push_str(&format!("{}\n\n", cut(content)));
                }
                for c in tool_calls {
                    out.push_str(&format!(
                        "- call `{}` ({}): {}\n",
                        c.name,
                        c.id,
                        cut(&c.arguments)
                    ));
                }
                if !tool_calls.is_empty() {
                    out.push('\n');
                }
            }
            Message::Tool {
                tool_call_id,
                name,
                content,
                is_error,
            } => {
                let error = if *is_error { ", failed" } else { "" };
                out.push_str(&format!(
                    "### result of `{name}` ({tool_call_id}{error})\n\n{}\n\n",
                    cut(content)
                ));
            }
        }
    }
    out
}

/// The pointer an offloaded result leaves in the conversation.
pub(crate) fn offload_pointer(content: &str, path: &str) -> String {
    let chars = content.chars().count();
    let lines = deepagent_core::text::count_lines(content.as_bytes());
    let preview: String = content.chars().take(POINTER_PREVIEW_CHARS).collect();
    let more = if chars > POINTER_PREVIEW_CHARS {
        " ..."
    } else {
        ""
    };
    format!(
        "{POINTER_PREFIX}{chars} characters, {lines} lines) was moved out of the conversation to save context. It is saved in {path}; read it with read_file (offset and limit) if you need it again. It began:\n{preview}{more}]"
    )
}

/// The message that stands for the summarised part of the conversation.
pub(crate) fn summary_message(
    summarised: usize,
    history: Option<&str>,
    summary: &str,
    todos: &[Todo],
) -> String {
    let saved = match history {
        Some(path) => format!(
            "Their full text is saved in {path}; read it with read_file (offset and limit) if you need a detail the summary leaves out."
        ),
        None => "Their full text was not saved.".to_owned(),
    };
    let mut out = format!(
        "{SUMMARY_PREFIX} The earlier part of this conversation ({summarised} {}) was replaced by this summary to keep the context small. {saved}\n\n{summary}",
        if summarised == 1 { "message" } else { "messages" }
    );
    if !todos.is_empty() {
        out.push_str(&format!(
            "\n\nYour todo list now:\n{}",
            crate::deps::render_todos(todos)
        ));
    }
    out
}

/// Appends `section` to the history file at `path`.
async fn append_history(
    ctx: &ProcessorContext,
    path: &str,
    section: &str,
) -> Result<(), AgentError> {
    let backend = ctx.backend();
    let mut text = match backend.read_bytes(path).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == deepagent_core::ErrorKind::NotFound => format!(
            "# Conversation history of run {}\n\nWhat compaction took out of the conversation, in full, oldest first.\n\n",
            ctx.run_id
        ),
        Err(e) => return Err(history_error(path, &e)),
    };
    if !text.ends_with("\n\n") {
        text.push_str(if text.ends_with('\n') { "\n" } else { "\n\n" });
    }
    text.push_str(section);
    backend
        .write(path, deepagent_core::Bytes::from(text))
        .await
        .map_err(|e| history_error(path, &e))?;
    Ok(())
}

fn history_error(path: &str, e: &deepagent_core::BackendError) -> AgentError {
    AgentError::Compaction {
        message: format!(
            "the conversation history could not be saved to {path} ({e}), so nothing was compacted; give the run a backend where that path is writable, choose another directory with CompactionConfig::history_dir, or compact without saving with history_dir(None)"
        ),
    }
}
