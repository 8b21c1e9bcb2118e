//! Sessions, turns and approvals.

use std::collections::HashSet;
use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deepagent::config::{BackendConfig, MountConfig};
use deepagent::core::layers::{Journaled, Operation, Permissioned, Rule, Ruleset, Turn};
use deepagent::core::Durability;
use deepagent::models::{demo, infer_model};
use deepagent::{
    create_deep_agent, AgentEvent, Backend, CancellationToken, CompositeBackend, Decision,
    DeepAgent, DeepAgentDeps, LocalBackend, Message, Model, PendingCall, RunError, RunResult,
    RunState, RunStream, StateBackend, Todo,
};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use crate::session::{new_id, now_secs, Session, Store};
use crate::ui::{short_args, shorten, usage_text, Ui};
use crate::{ApproveMode, Options};

/// Tools that ask before they run, unless `--ask` or `[cli] ask` says
/// otherwise.
const DEFAULT_ASK: [&str; 3] = ["write_file", "edit_file", "execute"];

const INSTRUCTIONS: &str = "
    You are a coding assistant working in the user's project from a terminal.
    The project directory is mounted at /project/; files there are on disk.
    Other paths are scratch space unless the layout below says otherwise.
    Writes, edits and commands may need the user's approval; when the user
    denies a call, respect the reason and do not retry it unchanged.
    Keep answers short: the user sees every tool call as it happens.
";

/// The `[cli]` table of a `--config` file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CliConfig {
    model: Option<String>,
    ask: Option<Vec<String>>,
    approve: Option<String>,
    instructions: Option<String>,
}

/// Everything a command works with.
struct Setup {
    ui: Ui,
    store: Store,
    journal: Arc<Journaled>,
    backend: Arc<dyn Backend>,
    agent: DeepAgent,
    approve: ApproveMode,
    layout: String,
    /// Subagent approvals (subagents cannot pause, they ask a callback).
    sub_asks: mpsc::UnboundedReceiver<(PendingCall, oneshot::Sender<Decision>)>,
    always: Arc<Mutex<HashSet<String>>>,
}

/// Lines typed (or piped) on stdin, read by a thread; `None` is EOF.
fn stdin_lines() -> mpsc::UnboundedReceiver<Option<String>> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut lock = stdin.lock();
        loop {
            let mut line = String::new();
            match lock.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    let _ = tx.send(None);
                    return;
                }
                Ok(_) => {
                    let line = line.trim_end_matches(['\n', '\r']).to_owned();
                    if tx.send(Some(line)).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// Ctrl-C presses. Once this listens, Ctrl-C no longer ends the program:
/// it cancels the turn, and the session is kept.
fn ctrl_c_presses() -> mpsc::UnboundedReceiver<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if tx.send(()).is_err() {
                return;
            }
        }
    });
    rx
}

/// Reads the `--config` file: mounts for `BackendConfig`, and the CLI's
/// own `[cli]` table.
fn load_config(path: &Path) -> Result<(BackendConfig, CliConfig), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("configuration file {}: {e}", path.display()))?;
    let mut table: toml::Table =
        toml::from_str(&text).map_err(|e| format!("configuration file {}: {e}", path.display()))?;
    let cli = match table.remove("cli") {
        Some(v) => v
            .try_into()
            .map_err(|e| format!("configuration file {}, [cli]: {e}", path.display()))?,
        None => CliConfig::default(),
    };
    let rest = toml::to_string(&table).map_err(|e| format!("{}: {e}", path.display()))?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let config = BackendConfig::from_toml(&rest, base)
        .map_err(|e| format!("configuration file {}: {e}", path.display()))?;
    Ok((config, cli))
}

/// The default layout: this directory at `/project/` on disk (without a
/// shell, and with `.deepagent/` out of the agent's reach), the rest in
/// memory; with `--sandbox`, the rest in a container that runs commands.
fn default_backend(cwd: &Path, sandbox: Option<MountConfig>) -> Result<Arc<dyn Backend>, String> {
    let local = LocalBackend::builder(cwd)
        .enable_execute(false)
        .build()
        .map_err(|e| format!("cannot open {} as the project: {e}", cwd.display()))?;
    let mut rules = Ruleset::permissive();
    for op in Operation::ALL {
        if op == Operation::Execute {
            continue;
        }
        for pattern in ["/.deepagent", "/.deepagent/**"] {
            rules = rules.with_rule(
                op,
                Rule::deny(
                    pattern,
                    "deepagent's own sessions are not the agent's to touch",
                ),
            );
        }
    }
    let guarded = Permissioned::new(local, rules).map_err(|e| e.to_string())?;
    let default: Arc<dyn Backend> = match sandbox {
        Some(mount) => mount.build(cwd).map_err(|e| e.to_string())?,
        None => Arc::new(StateBackend::new()),
    };
    let composite = CompositeBackend::builder_from_arc(default)
        .route("/project/", guarded)
        .build();
    Ok(Arc::new(composite))
}

/// `docker` or `docker:RUNTIME` as a mount of the default backend.
fn sandbox_mount(spec: &str) -> Result<MountConfig, String> {
    let runtime = match spec.split_once(':') {
        None if spec == "docker" => "python-minimal",
        Some(("docker", runtime)) if !runtime.is_empty() => runtime,
        _ => {
            return Err(format!(
                "--sandbox {spec:?}: write docker or docker:RUNTIME (e.g. docker:python-minimal)"
            ))
        }
    };
    let mut mount = MountConfig::url(format!("docker://{runtime}"));
    // A local image for the runtime, for machines that cannot pull (and
    // for the tests); the TOML form is `options = { image = "..." }`.
    if let Some(image) = std::env::var("DEEPAGENT_SANDBOX_IMAGE")
        .ok()
        .filter(|i| !i.trim().is_empty())
    {
        mount.options.insert("image".into(), image);
    }
    Ok(mount)
}

/// The model: `--model`, else `[cli] model`, else `DEEPAGENT_MODEL`, else
/// by the API key set, else the offline demo (and a notice saying so).
fn choose_model(spec: Option<String>, ui: &Ui) -> Result<Arc<dyn Model>, String> {
    let spec = spec.or_else(|| {
        std::env::var("DEEPAGENT_MODEL")
            .ok()
            .filter(|s| !s.is_empty())
    });
    let key = |var: &str| std::env::var(var).is_ok_and(|k| !k.trim().is_empty());
    let spec = match spec {
        Some(s) => s,
        None if key("OPENAI_API_KEY") => "openai:gpt-4.1".to_owned(),
        None if key("ANTHROPIC_API_KEY") => "anthropic:claude-sonnet-4-5".to_owned(),
        None => {
            ui.notice(
                "No OPENAI_API_KEY or ANTHROPIC_API_KEY is set: using the built-in offline demo model. \
                 It only follows steps like `1. Create /project/hello.py with a greeting`; \
                 set a key or pass --model to use a real model.",
            );
            return Ok(Arc::new(demo::demo_model()));
        }
    };
    if matches!(spec.as_str(), "demo" | "offline-demo") {
        return Ok(Arc::new(demo::demo_model()));
    }
    infer_model(&spec).map_err(|e| e.to_string())
}

/// Which mount holds `path`, and whether its files outlive the process.
fn is_ephemeral(mounts: &[deepagent::core::Mount], path: &str) -> bool {
    mounts
        .iter()
        .filter(|m| {
            m.is_default() || path.starts_with(&m.prefix) || path == m.prefix.trim_end_matches('/')
        })
        .max_by_key(|m| m.prefix.len())
        .is_some_and(|m| m.info.durability == Durability::Ephemeral)
}

/// The journal as saved: changes on mounts that die with the process
/// (memory) are left out, since a later process cannot see them anyway.
fn durable_turns(backend: &dyn Backend, turns: Vec<Turn>) -> Vec<Turn> {
    let mounts = backend.info().mounts;
    if mounts.is_empty() {
        return turns;
    }
    turns
        .into_iter()
        .map(|t| {
            let mut kept = Turn::new(t.label()).with_ran_commands(t.ran_commands());
            for d in t.created_dirs() {
                if !is_ephemeral(&mounts, d) {
                    kept = kept.with_created_dir(d.clone());
                }
            }
            for c in t.changes() {
                if !is_ephemeral(&mounts, &c.path) {
                    kept = kept.with_change(c.path.clone(), c.before.clone());
                }
            }
            kept
        })
        .filter(|t| !t.is_empty())
        .collect()
}

fn setup(options: &Options, for_agent: bool) -> Result<Setup, String> {
    let ui = Ui::new(options.json);
    let cwd = std::env::current_dir().map_err(|e| format!("no current directory: {e}"))?;
    let store = Store::new(&cwd);
    let sandbox = options.sandbox.as_deref().map(sandbox_mount).transpose()?;
    let (backend, cli, layout) = match &options.config {
        Some(path) => {
            let (mut config, cli) = load_config(path)?;
            if let Some(mount) = sandbox {
                config.default = mount;
            }
            let backend = config.build().map_err(|e| e.to_string())?;
            (backend, cli, format!("mounts from {}", path.display()))
        }
        None => {
            let shell = if sandbox.is_some() {
                "commands run in the Docker sandbox (which does not see /project/)"
            } else {
                "no shell (--sandbox docker for one)"
            };
            let backend = default_backend(&cwd, sandbox)?;
            let layout = format!(
                "/project/ = {} on disk; everything else in memory; {shell}",
                cwd.display()
            );
            (backend, CliConfig::default(), layout)
        }
    };
    let journal = Arc::new(Journaled::from_arc(backend));
    let backend: Arc<dyn Backend> = journal.clone();
    let approve = match (options.approve, cli.approve.as_deref()) {
        (Some(mode), _) => mode,
        (None, Some("ask")) => ApproveMode::Ask,
        (None, Some("all")) => ApproveMode::All,
        (None, Some("none")) => ApproveMode::None,
        (None, Some(other)) => {
            return Err(format!(
                "[cli] approve = {other:?}: use \"ask\", \"all\" or \"none\""
            ))
        }
        (None, None) if std::io::stdin().is_terminal() => ApproveMode::Ask,
        (None, None) => ApproveMode::None,
    };
    let ask: Vec<String> = match options.ask.clone().or(cli.ask) {
        Some(list) if list.iter().any(|t| t == "none") => Vec::new(),
        Some(list) => list.into_iter().filter(|t| !t.trim().is_empty()).collect(),
        None => DEFAULT_ASK.iter().map(|s| (*s).to_owned()).collect(),
    };
    let (sub_tx, sub_asks) = mpsc::unbounded_channel();
    let always = Arc::new(Mutex::new(HashSet::new()));
    let model = if for_agent {
        choose_model(options.model.clone().or(cli.model), &ui)?
    } else {
        Arc::new(demo::demo_model())
    };
    let instructions = match &cli.instructions {
        Some(extra) => format!("{INSTRUCTIONS}\n{extra}"),
        None => INSTRUCTIONS.to_owned(),
    };
    let agent = create_deep_agent()
        .model_impl(model)
        .instructions(instructions)
        .interrupt_on(ask)
        .pause_for_approval()
        .on_approval(move |call: PendingCall| {
            let tx = sub_tx.clone();
            async move {
                let (reply, answer) = oneshot::channel();
                if tx.send((call, reply)).is_err() {
                    return Decision::Deny {
                        reason: "the terminal is gone".into(),
                    };
                }
                answer.await.unwrap_or(Decision::Deny {
                    reason: "the user did not answer".into(),
                })
            }
        })
        .build()
        .map_err(|e| e.to_string())?;
    Ok(Setup {
        ui,
        store,
        journal,
        backend,
        agent,
        approve,
        layout,
        sub_asks,
        always,
    })
}

/// What the user typed.
enum Input {
    Line(String),
    Eof,
    CtrlC,
}

/// How a turn ended, for the caller.
#[derive(Debug, PartialEq, Eq)]
enum TurnEnd {
    /// Answered.
    Done,
    /// Failed or was cancelled; the session is kept.
    Failed,
    /// The input ended at an approval: the run is saved paused.
    Quit,
}

/// A running session: the setup, the saved state, and the input.
struct App {
    s: Setup,
    session: Session,
    lines: mpsc::UnboundedReceiver<Option<String>>,
    ctrl_c: mpsc::UnboundedReceiver<()>,
    interactive_input: bool,
    eof: bool,
}

impl App {
    fn new(s: Setup, session: Session) -> Self {
        if let Ok(mut always) = s.always.lock() {
            always.extend(session.always_approve.iter().cloned());
        }
        App {
            s,
            session,
            lines: stdin_lines(),
            ctrl_c: ctrl_c_presses(),
            interactive_input: std::io::stdin().is_terminal(),
            eof: false,
        }
    }

    fn save(&mut self) {
        self.session.always_approve = self
            .s
            .always
            .lock()
            .map(|a| {
                let mut v: Vec<String> = a.iter().cloned().collect();
                v.sort();
                v
            })
            .unwrap_or_default();
        self.session.model = self.s.agent.model_name();
        if let Err(e) = self.s.store.save(&mut self.session) {
            self.s.ui.error(&e);
        }
        let turns = durable_turns(self.s.backend.as_ref(), self.s.journal.turns());
        if let Err(e) = self.s.store.save_journal(&self.session.id, &turns) {
            self.s.ui.error(&e);
        }
    }

    /// Reads one line, or notes EOF / Ctrl-C.
    async fn read_line(&mut self, prompt: &str) -> Input {
        if self.interactive_input && !self.s.ui.json {
            self.s.ui.stop_spin();
            print!("{prompt}");
            let _ = std::io::Write::flush(&mut std::io::stdout());
        }
        let input = tokio::select! {
            line = self.lines.recv() => match line.flatten() {
                Some(l) => Input::Line(l),
                None => {
                    self.eof = true;
                    Input::Eof
                }
            },
            _ = self.ctrl_c.recv() => Input::CtrlC,
        };
        // The terminal echoed the Enter (or ^C): the prompt's line is closed.
        if matches!(input, Input::CtrlC) && self.interactive_input {
            println!();
        }
        self.s.ui.line_closed();
        input
    }

    /// A decision for one call: automatic (`--approve`, "always"), or
    /// asked. `None`: the input ended or Ctrl-C was pressed.
    async fn decide(&mut self, call: &PendingCall, subagent: bool) -> Option<Decision> {
        let ui = self.s.ui.clone();
        let who = if subagent { "subagent call" } else { "call" };
        let always = self
            .s
            .always
            .lock()
            .map(|a| a.contains(&call.tool_name))
            .unwrap_or(false);
        let auto = match self.s.approve {
            _ if always => Some((Decision::Approve, "always approved for this tool")),
            ApproveMode::All => Some((Decision::Approve, "--approve all")),
            ApproveMode::None => Some((
                Decision::Deny {
                    reason: "not approved: deepagent runs with --approve none".into(),
                },
                "--approve none",
            )),
            ApproveMode::Ask => None,
        };
        if let Some((decision, why)) = auto {
            self.report_decision(call, &decision, why);
            return Some(decision);
        }
        ui.say(&format!(
            "{} {who}: {} {}",
            ui.style.yellow("?"),
            ui.style.cyan(&call.tool_name),
            short_args(&call.args, 200)
        ));
        loop {
            let Input::Line(answer) = self
                .read_line("  [y]es / [n]o / [e]dit / [a]lways for this tool: ")
                .await
            else {
                return None;
            };
            let answer = answer.trim();
            let (word, rest) = answer.split_once(' ').unwrap_or((answer, ""));
            let decision = match word.to_ascii_lowercase().as_str() {
                "y" | "yes" => Decision::Approve,
                "n" | "no" => Decision::Deny {
                    reason: if rest.trim().is_empty() {
                        "no reason given".to_owned()
                    } else {
                        rest.trim().to_owned()
                    },
                },
                "a" | "always" => {
                    if let Ok(mut a) = self.s.always.lock() {
                        a.insert(call.tool_name.clone());
                    }
                    Decision::Approve
                }
                "e" | "edit" => {
                    ui.say(&format!("  now: {}", call.args));
                    let Input::Line(line) = self
                        .read_line("  new arguments as JSON (Enter keeps them): ")
                        .await
                    else {
                        return None;
                    };
                    if line.trim().is_empty() {
                        Decision::Approve
                    } else {
                        match serde_json::from_str::<Value>(&line) {
                            Ok(args) if args.is_object() => Decision::Edit { args },
                            Ok(_) => {
                                ui.error("the arguments must be a JSON object, e.g. {\"path\": \"/project/a.txt\"}");
                                continue;
                            }
                            Err(e) => {
                                ui.error(&format!("not JSON: {e}"));
                                continue;
                            }
                        }
                    }
                }
                _ => {
                    ui.say("  answer y, n (optionally with a reason: n use tabs), e or a");
                    continue;
                }
            };
            self.report_decision(call, &decision, "asked");
            return Some(decision);
        }
    }

    fn report_decision(&self, call: &PendingCall, decision: &Decision, why: &str) {
        let ui = &self.s.ui;
        ui.event(
            "approval",
            json!({"call_id": call.call_id, "tool": call.tool_name, "decision": decision, "by": why}),
        );
        if ui.json {
            return;
        }
        let text = match decision {
            Decision::Approve => ui.style.green("approved"),
            Decision::Deny { .. } => ui.style.red("denied"),
            Decision::Edit { .. } => ui.style.yellow("approved with edited arguments"),
        };
        if why != "asked" {
            ui.notice(&format!(
                "  {} {}: {text} ({why})",
                call.tool_name, call.call_id
            ));
        }
    }

    /// Runs one turn: a new prompt, or the decisions of a paused run.
    async fn turn(&mut self, prompt: Option<String>) -> TurnEnd {
        let token = CancellationToken::new();
        let deps = DeepAgentDeps::from_arc(self.s.backend.clone()).with_cancellation(token.clone());
        deps.todo_handle().set(self.session.todos.clone());
        let agent = self.s.agent.clone();
        let mut paused = match prompt {
            Some(p) => {
                self.session.turn_label = shorten(&p, 200);
                self.s.journal.begin_turn(self.session.turn_label.clone());
                let text = if self.session.notes.is_empty() {
                    p
                } else {
                    format!(
                        "{}\n\n{p}",
                        std::mem::take(&mut self.session.notes).join("\n")
                    )
                };
                self.s.ui.event("turn_started", json!({"prompt": text}));
                let stream =
                    agent.run_stream_with_history(&text, self.session.messages.clone(), &deps);
                match self.consume(stream, &token).await {
                    Some(Ok(result)) => return self.finished(result),
                    Some(Err(e)) => match self.stopped(e) {
                        Ok(state) => state,
                        Err(end) => return end,
                    },
                    None => return self.vanished(),
                }
            }
            None => match self.session.paused.take() {
                Some(state) => {
                    // A run paused in an earlier process: its changes
                    // belong to the journal turn it started.
                    self.s
                        .journal
                        .continue_turn(self.session.turn_label.clone());
                    state
                }
                None => return TurnEnd::Done,
            },
        };
        loop {
            self.session.paused = Some(paused.clone());
            self.save();
            let mut decisions = Vec::new();
            for call in paused.pending.clone() {
                match self.decide(&call, false).await {
                    Some(d) => decisions.push((call.call_id.clone(), d)),
                    None => return self.left_at_approval(paused),
                }
            }
            self.session.paused = None;
            let stream = agent.resume_stream(paused, decisions, &deps);
            match self.consume(stream, &token).await {
                Some(Ok(result)) => return self.finished(result),
                Some(Err(e)) => match self.stopped(e) {
                    Ok(state) => paused = state,
                    Err(end) => return end,
                },
                None => return self.vanished(),
            }
        }
    }

    /// The input ended (or Ctrl-C) while calls waited for a decision.
    fn left_at_approval(&mut self, paused: RunState) -> TurnEnd {
        let ui = self.s.ui.clone();
        ui.end_line();
        if self.input_ended() {
            self.session.paused = Some(paused);
            self.save();
            ui.notice(&format!(
                "The run waits for approval; continue with `deepagent --resume {}`.",
                self.session.id
            ));
            return TurnEnd::Quit;
        }
        // Ctrl-C: the turn is cancelled; its unanswered calls are answered
        // as interrupted when the conversation goes on.
        self.session.messages = paused.messages;
        self.session.todos = paused.todos;
        self.session.usage.add(paused.usage);
        self.session.paused = None;
        self.save();
        ui.notice("Turn cancelled; the session is kept.");
        TurnEnd::Failed
    }

    fn input_ended(&self) -> bool {
        self.eof
    }

    fn vanished(&mut self) -> TurnEnd {
        self.s
            .ui
            .error("the run ended without a result; the session keeps the turns before it");
        self.save();
        TurnEnd::Failed
    }

    /// A finished turn: keep it, show what it cost.
    fn finished(&mut self, result: RunResult) -> TurnEnd {
        let ui = self.s.ui.clone();
        ui.end_line();
        self.session.usage.add(result.usage);
        ui.event(
            "turn_finished",
            json!({"output": result.output, "usage": result.usage, "session_usage": self.session.usage}),
        );
        if !ui.json {
            ui.usage(&result.usage, &self.session.usage);
        }
        self.session.messages = result.messages;
        self.session.todos = result.todos;
        self.session.paused = None;
        self.save();
        TurnEnd::Done
    }

    /// A run that stopped: paused (its state, to decide) or failed.
    fn stopped(&mut self, e: RunError) -> Result<RunState, TurnEnd> {
        if e.is_paused() {
            return Ok(*e.state);
        }
        let ui = self.s.ui.clone();
        ui.end_line();
        let cancelled = matches!(e.error, deepagent::AgentError::Cancelled);
        ui.event(
            "turn_failed",
            json!({"error": e.error.to_string(), "cancelled": cancelled, "usage": e.state.usage}),
        );
        if cancelled {
            ui.notice("Turn cancelled; the session is kept.");
        } else {
            ui.error(&e.error.to_string());
        }
        let state = *e.state;
        self.session.usage.add(state.usage);
        self.session.messages = state.messages;
        self.session.todos = state.todos;
        self.session.paused = None;
        self.save();
        Err(TurnEnd::Failed)
    }

    /// Shows a run's events until it ends; Ctrl-C cancels it. `None`: the
    /// stream ended without its `Finished` event (which it promises never
    /// to do).
    async fn consume(
        &mut self,
        mut stream: RunStream<'_>,
        token: &CancellationToken,
    ) -> Option<Result<RunResult, RunError>> {
        let ui = self.s.ui.clone();
        ui.spin("thinking");
        let mut todos: Vec<Todo> = self.session.todos.clone();
        loop {
            tokio::select! {
                event = stream.next() => match event {
                    Some(AgentEvent::Finished(result)) => {
                        ui.stop_spin();
                        return Some(*result);
                    }
                    Some(event) => self.show(event, &[], &mut todos),
                    None => {
                        ui.stop_spin();
                        return None;
                    }
                },
                _ = self.ctrl_c.recv() => {
                    ui.stop_spin();
                    ui.end_line();
                    ui.notice("Cancelling the turn…");
                    token.cancel();
                }
                Some((call, reply)) = self.s.sub_asks.recv() => {
                    ui.stop_spin();
                    ui.end_line();
                    let decision = match self.decide(&call, true).await {
                        Some(d) => d,
                        None => {
                            token.cancel();
                            Decision::Deny { reason: "the user cancelled the turn".into() }
                        }
                    };
                    let _ = reply.send(decision);
                    ui.spin("thinking");
                }
            }
        }
    }

    fn show(&self, event: AgentEvent, chain: &[String], todos: &mut Vec<Todo>) {
        let ui = &self.s.ui;
        let prefix = if chain.is_empty() {
            String::new()
        } else {
            format!("  [{}] ", chain.join(" › "))
        };
        match event {
            // A subagent's answer reaches the main agent as a tool result;
            // streaming both would show it twice.
            AgentEvent::TextDelta { text } if chain.is_empty() => ui.text(&text),
            AgentEvent::StreamRestarted { attempt, reason } => {
                ui.event(
                    "stream_restarted",
                    json!({"attempt": attempt, "reason": reason}),
                );
                if !ui.json {
                    ui.end_line();
                    ui.notice(&format!(
                        "(the answer broke off: {reason}; asking again, attempt {attempt})"
                    ));
                }
            }
            AgentEvent::ToolCallStarted {
                call_id,
                name,
                args,
            } => {
                ui.event(
                    "tool_call_started",
                    json!({"call_id": call_id, "name": name, "args": args, "subagent": chain}),
                );
                ui.spin(&format!("running {name}"));
            }
            AgentEvent::ToolCallFinished {
                call_id,
                name,
                args,
                result,
                is_error,
            } => {
                ui.event(
                    "tool_call_finished",
                    json!({"call_id": call_id, "name": name, "args": args, "result": result, "is_error": is_error, "subagent": chain}),
                );
                if !ui.json {
                    ui.tool_line(&prefix, &name, &args, &result, is_error);
                    ui.spin("thinking");
                }
            }
            AgentEvent::TodosUpdated { todos: new } if chain.is_empty() && *todos != new => {
                ui.event("todos", json!({"todos": new}));
                if !ui.json {
                    ui.todos(&new);
                }
                *todos = new;
            }
            AgentEvent::PendingApproval { call } => {
                ui.event("pending_approval", json!({"call": call, "subagent": chain}));
            }
            AgentEvent::Subagent { subagent, event } => self.show(*event, &subagent, todos),
            _ => {}
        }
    }

    /// The conversation so far, as it was shown.
    fn replay(&self) {
        let ui = &self.s.ui;
        if ui.json {
            return;
        }
        for m in &self.session.messages {
            match m {
                Message::User { content } => ui.say(&format!("{} {content}", ui.style.bold("›"))),
                Message::Assistant {
                    content,
                    tool_calls,
                } => {
                    if !content.trim().is_empty() {
                        ui.say(content.trim_end());
                    }
                    for c in tool_calls {
                        let args: Value = serde_json::from_str(&c.arguments)
                            .unwrap_or(Value::String(c.arguments.clone()));
                        ui.notice(&format!("· {} {}", c.name, short_args(&args, 60)));
                    }
                }
                Message::Tool { .. } => {}
            }
        }
    }

    async fn command(&mut self, line: &str) -> bool {
        let ui = self.s.ui.clone();
        match line.split_whitespace().next().unwrap_or("") {
            "/quit" | "/exit" => return false,
            "/help" => ui.say(HELP),
            "/undo" => {
                undo(&self.s, &mut self.session).await;
                self.save();
            }
            "/diff" => match self.s.journal.diff().await {
                Ok(changes) => ui.diff(&changes),
                Err(e) => ui.error(&e.to_string()),
            },
            "/todos" => {
                if self.session.todos.is_empty() {
                    ui.say("No todos.");
                } else {
                    ui.todos(&self.session.todos);
                }
            }
            "/usage" => ui.say(&format!("session: {}", usage_text(&self.session.usage))),
            "/session" => ui.say(&format!(
                "session {} ({} messages), saved in {}/{}; continue later with deepagent --resume {}",
                self.session.id,
                self.session.messages.len(),
                crate::session::SESSIONS_DIR,
                self.session.id,
                self.session.id
            )),
            other => ui.error(&format!("unknown command {other}; /help lists them")),
        }
        true
    }
}

const HELP: &str = "\
Type a task and press Enter. Commands:
  /undo      put back every file the last turn changed (all mounts)
  /diff      show what the last turn changed
  /todos     the agent's todo list
  /usage     tokens and cost of this session
  /session   this session's id (continue later with deepagent --resume ID)
  /help      this help
  /quit      leave (also /exit or Ctrl-D)
Ctrl-C cancels the running turn; the session is kept.
Approvals: y = yes, n [reason] = no, e = edit the arguments, a = always for this tool.";

/// Undoes the last turn and tells the model at the next prompt.
async fn undo(s: &Setup, session: &mut Session) -> bool {
    let ui = &s.ui;
    match s.journal.undo().await {
        Ok(None) => {
            ui.say("Nothing to undo.");
            false
        }
        Ok(Some(report)) => {
            ui.event("undo", json!({"turn": report.label, "restored": report.restored, "removed": report.removed, "ran_commands": report.ran_commands}));
            if !ui.json {
                ui.say(&format!("Undid turn {:?}:", report.label));
                for p in &report.restored {
                    ui.say(&format!("  restored {p}"));
                }
                for p in &report.removed {
                    ui.say(&format!("  removed  {p}"));
                }
                if report.restored.is_empty() && report.removed.is_empty() {
                    ui.say("  (its files were already as before)");
                }
                if report.ran_commands {
                    ui.notice("  That turn also ran commands; what they changed is not undone.");
                }
            }
            let mut files: Vec<&str> = report.restored.iter().map(String::as_str).collect();
            files.extend(report.removed.iter().map(String::as_str));
            session.notes.push(format!(
                "(Note from deepagent: the user undid the file changes of the turn {:?}; these files are back as they were before it: {}.)",
                report.label,
                if files.is_empty() { "none".to_owned() } else { files.join(", ") }
            ));
            true
        }
        Err(e) => {
            ui.error(&e.to_string());
            false
        }
    }
}

/// A session to continue, or a new one.
fn open_session(s: &Setup, resume: Option<&str>) -> Result<Session, String> {
    match resume {
        Some(id) => {
            let session = s.store.find(Some(id).filter(|i| !i.is_empty()))?;
            let turns = s.store.load_journal(&session.id)?;
            // Clones share the journal: this loads the saved turns into the
            // one the backend writes through.
            let _ = Journaled::clone(&s.journal).with_history(turns);
            Ok(session)
        }
        None => {
            let now = now_secs();
            Ok(Session {
                id: new_id(),
                created: now,
                updated: now,
                ..Session::default()
            })
        }
    }
}

/// `deepagent`: the interactive session.
pub async fn interactive(options: Options) -> i32 {
    let s = match setup(&options, true) {
        Ok(s) => s,
        Err(e) => return fail(&options, &e),
    };
    let session = match open_session(&s, options.resume.as_deref()) {
        Ok(session) => session,
        Err(e) => return fail(&options, &e),
    };
    let resumed = options.resume.is_some();
    let mut app = App::new(s, session);
    let ui = app.s.ui.clone();
    ui.event(
        "session",
        json!({"id": app.session.id, "model": app.s.agent.model_name(), "resumed": resumed}),
    );
    if !ui.json {
        ui.say(&format!(
            "{} {} · model {} · session {}",
            ui.style.bold("deepagent"),
            env!("CARGO_PKG_VERSION"),
            app.s.agent.model_name(),
            app.session.id
        ));
        ui.notice(&app.s.layout);
        ui.notice("Type a task, or /help. Ctrl-C cancels a turn; /quit or Ctrl-D leaves.");
    }
    if resumed {
        ui.notice(&format!(
            "Resumed session {} ({} messages):",
            app.session.id,
            app.session.messages.len()
        ));
        app.replay();
        if app.session.paused.is_some() {
            ui.notice("The last run waits for your approval:");
            if app.turn(None).await == TurnEnd::Quit {
                return 0;
            }
        }
    }
    let mut last_ctrl_c: Option<Instant> = None;
    loop {
        let prompt = format!("{} ", ui.style.bold("›"));
        let line = match app.read_line(&prompt).await {
            Input::Line(line) => line,
            Input::Eof => {
                ui.end_line();
                break;
            }
            Input::CtrlC => {
                if last_ctrl_c.is_some_and(|t| t.elapsed() < Duration::from_secs(2)) {
                    break;
                }
                last_ctrl_c = Some(Instant::now());
                ui.notice("(Ctrl-C again, /quit or Ctrl-D to leave)");
                continue;
            }
        };
        let line = line.trim().to_owned();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('/') {
            if !app.command(&line).await {
                break;
            }
            continue;
        }
        if app.turn(Some(line)).await == TurnEnd::Quit {
            return 0;
        }
    }
    app.save();
    ui.notice(&format!(
        "Session saved; continue with `deepagent --resume {}`.",
        app.session.id
    ));
    0
}

/// `deepagent run PROMPT`: one task (after a resumed session's history).
pub async fn run_once(options: Options, prompt: String) -> i32 {
    let s = match setup(&options, true) {
        Ok(s) => s,
        Err(e) => return fail(&options, &e),
    };
    let session = match open_session(&s, options.resume.as_deref()) {
        Ok(session) => session,
        Err(e) => return fail(&options, &e),
    };
    let mut app = App::new(s, session);
    let ui = app.s.ui.clone();
    ui.event(
        "session",
        json!({"id": app.session.id, "model": app.s.agent.model_name(), "resumed": options.resume.is_some()}),
    );
    if app.session.paused.is_some() {
        match app.turn(None).await {
            TurnEnd::Done => {}
            TurnEnd::Failed => return 1,
            TurnEnd::Quit => return 2,
        }
    }
    let end = app.turn(Some(prompt)).await;
    if !ui.json {
        ui.notice(&format!(
            "Session {} saved; continue with `deepagent --resume {}`.",
            app.session.id, app.session.id
        ));
    }
    match end {
        TurnEnd::Done => 0,
        TurnEnd::Failed => 1,
        TurnEnd::Quit => 2,
    }
}

/// `deepagent undo`: the last turn of a saved session, from the shell.
pub async fn undo_command(options: Options, id: Option<String>) -> i32 {
    let s = match setup(&options, false) {
        Ok(s) => s,
        Err(e) => return fail(&options, &e),
    };
    let mut session = match open_session(&s, Some(id.as_deref().unwrap_or(""))) {
        Ok(session) => session,
        Err(e) => return fail(&options, &e),
    };
    let changed = undo(&s, &mut session).await;
    if let Err(e) = s.store.save(&mut session) {
        return fail(&options, &e);
    }
    let turns = durable_turns(s.backend.as_ref(), s.journal.turns());
    if let Err(e) = s.store.save_journal(&session.id, &turns) {
        return fail(&options, &e);
    }
    if changed {
        0
    } else {
        1
    }
}

/// `deepagent diff`: what the last turn of a saved session changed.
pub async fn diff_command(options: Options, id: Option<String>) -> i32 {
    let s = match setup(&options, false) {
        Ok(s) => s,
        Err(e) => return fail(&options, &e),
    };
    if let Err(e) = open_session(&s, Some(id.as_deref().unwrap_or(""))) {
        return fail(&options, &e);
    }
    match s.journal.diff().await {
        Ok(changes) => {
            s.ui.diff(&changes);
            0
        }
        Err(e) => fail(&options, &e.to_string()),
    }
}

/// `deepagent sessions`.
pub fn sessions_command(options: Options) -> i32 {
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => return fail(&options, &format!("no current directory: {e}")),
    };
    let sessions = Store::new(&cwd).list();
    if sessions.is_empty() {
        println!("No saved sessions here; `deepagent` starts one.");
    }
    for s in sessions {
        let first = s
            .messages
            .iter()
            .find_map(|m| match m {
                Message::User { content } => Some(content.as_str()),
                _ => None,
            })
            .unwrap_or("");
        if options.json {
            println!(
                "{}",
                json!({"id": s.id, "updated": s.updated, "messages": s.messages.len(), "paused": s.paused.is_some(), "first_prompt": first})
            );
        } else {
            println!(
                "{}  {:>3} messages{}  {}",
                s.id,
                s.messages.len(),
                if s.paused.is_some() {
                    "  (waits for approval)"
                } else {
                    ""
                },
                shorten(first, 60)
            );
        }
    }
    0
}

fn fail(options: &Options, message: &str) -> i32 {
    if options.json {
        println!("{}", json!({"type": "error", "error": message}));
    }
    eprintln!("error: {message}");
    1
}
