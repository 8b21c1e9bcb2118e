//! # deepagent (the command)
//!
//! A terminal front end for the [`deepagent`] library, built only from its
//! public API: an interactive session in the current directory, one-shot
//! tasks, approvals of writes and commands, sessions saved under
//! `.deepagent/sessions/` and resumable, and undo of a turn's file
//! changes across every mount (the `Journaled` layer of
//! `deepagent-core`).
//!
//! ```text
//! deepagent                          interactive session in the current directory
//! deepagent run "PROMPT"             one task, then exit
//! deepagent --resume [ID]            continue a session (the newest without ID)
//! deepagent undo | diff | sessions   from the shell
//! ```
//!
//! Options (before or after the command): `--config FILE` (TOML mounts,
//! with an optional `[cli]` table: `model`, `ask`, `approve`,
//! `instructions`), `--sandbox docker[:RUNTIME]`, `--model PROVIDER:NAME`,
//! `--json`, `--approve ask|all|none`, `--ask TOOL,...`, `--resume [ID]`.
//! Keys come from `OPENAI_API_KEY` / `ANTHROPIC_API_KEY`;
//! `OPENAI_BASE_URL` / `ANTHROPIC_BASE_URL` point the model at any
//! compatible server (the tests use one on 127.0.0.1). Without a key the
//! offline demo model runs, and says so.
//!
//! In a session: `/undo`, `/diff`, `/todos`, `/usage`, `/session`,
//! `/help`, `/quit` (or `/exit`, Ctrl-D); Ctrl-C cancels the running turn.
//! At an approval: `y` (yes), `n [reason]` (no), `e` (edit the arguments
//! as JSON), `a` (always for this tool).

mod app;
mod session;
mod ui;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// deepagent: an agent that plans, edits files and runs commands, with
/// your approval, in the current directory.
#[derive(Debug, Parser)]
#[command(name = "deepagent", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    options: Options,
}

/// What to do; no command opens an interactive session.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run one task and exit.
    Run {
        /// The task.
        prompt: String,
    },
    /// Undo the last turn of a session (the newest session without --session).
    Undo {
        /// The session id (see `deepagent sessions`).
        #[arg(long, value_name = "ID")]
        session: Option<String>,
    },
    /// Show what the last turn of a session changed.
    Diff {
        /// The session id (see `deepagent sessions`).
        #[arg(long, value_name = "ID")]
        session: Option<String>,
    },
    /// List the saved sessions of this directory, newest first.
    Sessions,
}

/// How tool calls that need approval are decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApproveMode {
    /// Ask in the terminal (the default on a terminal).
    Ask,
    /// Approve every call.
    All,
    /// Deny every call (the default without a terminal).
    None,
}

/// Options every command takes.
#[derive(Debug, Clone, Args)]
pub struct Options {
    /// A TOML file of mounts (see the README); default: this directory at
    /// /project/ on disk, everything else in memory.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run commands in a Docker sandbox (`docker` or `docker:RUNTIME`,
    /// e.g. docker:python-minimal); without it there is no shell.
    #[arg(long, global = true, value_name = "docker[:RUNTIME]")]
    pub sandbox: Option<String>,
    /// The model as provider:name (openai:gpt-4.1, anthropic:claude-sonnet-4-5,
    /// demo); default: from the API key in the environment, else the
    /// offline demo model.
    #[arg(long, global = true, value_name = "PROVIDER:NAME")]
    pub model: Option<String>,
    /// Print the event stream as JSON lines (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
    /// Decide approvals: ask (terminal), all, none. Default: ask on a
    /// terminal, none otherwise.
    #[arg(long, global = true, value_enum, value_name = "MODE")]
    pub approve: Option<ApproveMode>,
    /// Tools that need approval, comma-separated (default
    /// write_file,edit_file,execute; `none` for no approvals).
    #[arg(long, global = true, value_delimiter = ',', value_name = "TOOLS")]
    pub ask: Option<Vec<String>>,
    /// Continue a saved session (the newest without ID), including a run
    /// that waits for approval.
    #[arg(long, global = true, value_name = "ID", num_args = 0..=1, default_missing_value = "")]
    pub resume: Option<String>,
}

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    // The session runs as a task on a worker, not in `block_on`'s own
    // future on the main thread: LocalBackend runs single-file calls in
    // place only from a task (see deepagent-local's crate doc).
    let session = runtime.spawn(async move {
        match cli.command {
            None => app::interactive(cli.options).await,
            Some(Command::Run { prompt }) => app::run_once(cli.options, prompt).await,
            Some(Command::Undo { session }) => app::undo_command(cli.options, session).await,
            Some(Command::Diff { session }) => app::diff_command(cli.options, session).await,
            Some(Command::Sessions) => app::sessions_command(cli.options),
        }
    });
    let code = match runtime.block_on(session) {
        Ok(code) => code,
        // A panic ends the program as it would have on the main thread.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => {
            eprintln!("error: the session stopped: {e}");
            1
        }
    };
    // The stdin reader thread may be blocked in a read: do not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    std::process::exit(code);
}
