//! The `deepagent` binary as a person (tmux) and a script (pipes) use it,
//! against an OpenAI-compatible mock server on 127.0.0.1 (the wire-test
//! helper of the `deepagent` crate), pointed at with `OPENAI_BASE_URL`.
//!
//! The tmux test needs tmux; without it the test says `skipped: no tmux`,
//! and with `DEEPAGENT_REQUIRE_TMUX=1` (as `.ci/run` sets) it fails.

#[allow(dead_code)]
#[path = "../../deepagent/tests/common/http.rs"]
mod http;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use http::{MockServer, Reply};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_deepagent");

/// One streamed answer: optional text, then tool calls
/// (`(id, name, arguments)`).
fn answer(text: &str, calls: &[(&str, &str, Value)]) -> Reply {
    let chunk = |delta: Value| {
        json!({"id": "c", "object": "chat.completion.chunk",
               "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
    };
    let mut events = Vec::new();
    if !text.is_empty() {
        events.push(chunk(json!({"role": "assistant", "content": text})));
    }
    for (i, (id, name, args)) in calls.iter().enumerate() {
        events.push(chunk(
            json!({"tool_calls": [{"index": i, "id": id, "type": "function",
            "function": {"name": name, "arguments": args.to_string()}}]}),
        ));
    }
    events.push(json!({"id": "c", "choices": [], "usage": {"prompt_tokens": 1200, "completion_tokens": 30}}));
    let mut body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    body.push_str("data: [DONE]\n\n");
    Reply::sse(vec![body])
}

fn write_call(id: &str, path: &str, content: &str) -> (String, String, Value) {
    (
        id.to_owned(),
        "write_file".to_owned(),
        json!({"path": path, "content": content}),
    )
}

fn calls(list: &[(String, String, Value)]) -> Vec<(&str, &str, Value)> {
    list.iter()
        .map(|(i, n, a)| (i.as_str(), n.as_str(), a.clone()))
        .collect()
}

/// The messages the model was sent in request `n`.
fn sent_messages(server: &MockServer, n: usize) -> Vec<Value> {
    let reqs = server.requests();
    assert!(
        reqs.len() > n,
        "only {} requests reached the model",
        reqs.len()
    );
    reqs[n].body["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn deepagent(project: &Path, server: &MockServer) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(project)
        .env("OPENAI_API_KEY", "sk-test")
        .env("OPENAI_BASE_URL", format!("{}/v1", server.base))
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("DEEPAGENT_MODEL")
        .env("NO_COLOR", "1");
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_with_approve_all_prints_json_events_and_writes_the_file() {
    let plan = json!({"todos": [
        {"content": "write a.txt", "status": "in_progress"},
        {"content": "report", "status": "pending"}
    ]});
    let server = MockServer::start(vec![
        answer(
            "",
            &[
                ("t1", "write_todos", plan),
                (
                    "c1",
                    "write_file",
                    json!({"path": "/project/a.txt", "content": "hello\n"}),
                ),
            ],
        ),
        answer("Wrote a.txt.", &[]),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = deepagent(dir.path(), &server);
    cmd.args([
        "run",
        "--approve",
        "all",
        "--json",
        "--model",
        "openai:gpt-4.1",
    ])
    .arg("write a.txt")
    .stdin(Stdio::null());
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"session"), "{kinds:?}");
    let approval = events.iter().find(|e| e["type"] == "approval").unwrap();
    assert_eq!(approval["decision"]["decision"], "approve");
    assert_eq!(approval["tool"], "write_file");
    let finished = events
        .iter()
        .find(|e| e["type"] == "tool_call_finished" && e["call_id"] == "c1")
        .unwrap();
    assert_eq!(finished["result"], "Wrote 6 bytes to /project/a.txt");
    let text: String = events
        .iter()
        .filter(|e| e["type"] == "text_delta")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Wrote a.txt.");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "turn_finished");
    assert_eq!(last["usage"]["input_tokens"], 2400);
    assert!(
        last["usage"]["cost_usd"].as_f64().unwrap() > 0.0,
        "gpt-4.1 is priced"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "hello\n"
    );
    let todos = events.iter().find(|e| e["type"] == "todos").unwrap();
    assert_eq!(todos["todos"][0]["content"], "write a.txt");
    // The session (with the todos) is saved where `--resume` looks.
    let id = events[0]["id"].as_str().unwrap();
    let saved = dir
        .path()
        .join(".deepagent/sessions")
        .join(id)
        .join("session.json");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(saved).unwrap()).unwrap();
    assert_eq!(saved["todos"][1]["content"], "report");
    assert_eq!(saved["usage"]["requests"], 2);
    assert_eq!(saved["messages"].as_array().unwrap().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_approvals_default_to_none() {
    let server = MockServer::start(vec![
        answer("", &calls(&[write_call("c1", "/project/a.txt", "x")])),
        answer("It was declined.", &[]),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = deepagent(dir.path(), &server);
    cmd.args(["run", "--model", "openai:gpt-4.1", "write a.txt"])
        .stdin(Stdio::null());
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("denied (--approve none)"), "{stdout}");
    assert!(stdout.contains("It was declined."), "{stdout}");
    assert!(!stdout.contains("\x1b["), "no colors when piped: {stdout}");
    assert!(!dir.path().join("a.txt").exists());
    let tool_result = sent_messages(&server, 1)
        .into_iter()
        .find(|m| m["role"] == "tool")
        .unwrap();
    assert!(
        tool_result["content"]
            .as_str()
            .unwrap()
            .contains("--approve none"),
        "{tool_result}"
    );
}

/// Runs the binary to the end; stdout parsed as JSON lines.
async fn run_json(mut cmd: Command) -> (std::process::Output, Vec<Value>) {
    cmd.stdin(Stdio::null());
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let events = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    (out, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subagent_asks_through_the_same_approvals_and_sessions_are_out_of_reach() {
    let server = MockServer::start(vec![
        // main: peek at the sessions, and delegate a write.
        answer(
            "",
            &[
                (
                    "m1",
                    "read_file",
                    json!({"path": "/project/.deepagent/sessions"}),
                ),
                (
                    "m2",
                    "task",
                    json!({"description": "write sub.txt", "subagent_type": "general-purpose"}),
                ),
            ],
        ),
        // the subagent writes (its calls cannot pause: they ask the callback)
        answer(
            "",
            &calls(&[write_call("s1", "/project/sub.txt", "from the subagent\n")]),
        ),
        answer("sub done", &[]),
        // main again
        answer("all done", &[]),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = deepagent(dir.path(), &server);
    cmd.args([
        "run",
        "--approve",
        "all",
        "--json",
        "--model",
        "openai:gpt-4.1",
        "delegate",
    ]);
    let (out, events) = run_json(cmd).await;
    assert!(
        out.status.success(),
        "{events:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let approvals: Vec<&Value> = events.iter().filter(|e| e["type"] == "approval").collect();
    assert_eq!(approvals.len(), 1, "{events:?}");
    assert_eq!(approvals[0]["call_id"], "s1");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("sub.txt")).unwrap(),
        "from the subagent\n"
    );
    let peek = events
        .iter()
        .find(|e| e["type"] == "tool_call_finished" && e["call_id"] == "m1")
        .unwrap();
    assert_eq!(peek["is_error"], true, "{peek}");
    assert!(
        peek["result"]
            .as_str()
            .unwrap()
            .contains("deepagent's own sessions"),
        "refused by the rule, not just missing: {peek}"
    );
    assert_eq!(events.last().unwrap()["output"], "all done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_file_sets_mounts_and_the_cli_table() {
    let server = MockServer::start(vec![
        answer(
            "",
            &calls(&[
                write_call("c1", "/data/out.txt", "mounted\n"),
                write_call("c2", "/project/p.txt", "project\n"),
            ]),
        ),
        answer("ok", &[]),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("agent.toml"),
        r#"
default = "memory://"
[mounts]
"/project/" = "file://."
"/data/" = "file://./data"
[cli]
model = "openai:gpt-4.1"
ask = ["none"]
instructions = "Write tests first."
"#,
    )
    .unwrap();
    let mut cmd = deepagent(dir.path(), &server);
    // No --approve: without a terminal that is `none`, but nothing asks.
    cmd.args(["run", "--json", "--config", "agent.toml", "go"]);
    let (out, events) = run_json(cmd).await;
    assert!(
        out.status.success(),
        "{events:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(events.iter().all(|e| e["type"] != "approval"), "{events:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("data/out.txt")).unwrap(),
        "mounted\n"
    );
    assert!(dir.path().join("p.txt").is_file());
    let system = &sent_messages(&server, 0)[0]["content"];
    assert!(
        system.as_str().unwrap().contains("Write tests first."),
        "{system}"
    );
}

#[test]
fn bad_options_fail_with_a_message_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    for (args, says) in [
        (
            vec!["run", "--sandbox", "podman", "x"],
            "--sandbox \"podman\"",
        ),
        (vec!["run", "--config", "missing.toml", "x"], "missing.toml"),
        (
            vec!["run", "--model", "nope:x", "x"],
            "unknown model provider",
        ),
        (vec!["undo"], "no saved session"),
    ] {
        let out = Command::new(BIN)
            .current_dir(dir.path())
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn the_offline_demo_model_runs_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("DEEPAGENT_MODEL")
        .args(["run", "--approve", "all"])
        .arg("1. Create /project/hello.py with a greeting script")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("offline demo model"), "{stdout}");
    assert!(dir.path().join("hello.py").is_file());
}

/// A tmux server on a private socket, killed (by that socket) on drop.
struct Tmux {
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmux {
    /// None when tmux is missing and not required.
    fn start(cwd: &Path, env: &[(&str, String)]) -> Option<Tmux> {
        let found = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            if std::env::var("DEEPAGENT_REQUIRE_TMUX").as_deref() == Ok("1") {
                panic!("tmux is required (DEEPAGENT_REQUIRE_TMUX=1) but not installed: apt-get install tmux");
            }
            eprintln!("skipped: no tmux");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("tmux.sock");
        let mut cmd = Command::new("tmux");
        cmd.arg("-S")
            .arg(&socket)
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                "160",
                "-y",
                "50",
                "-c",
            ])
            .arg(cwd)
            .arg("sh");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let status = cmd.status().unwrap();
        assert!(status.success(), "tmux new-session failed");
        let t = Tmux { socket, _dir: dir };
        t.tmux(&["set-option", "-g", "history-limit", "10000"]);
        Some(t)
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `text` and presses Enter.
    fn type_line(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", text]);
        self.tmux(&["send-keys", "-t", "t", "Enter"]);
    }

    fn key(&self, key: &str) {
        self.tmux(&["send-keys", "-t", "t", key]);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t", "-S", "-10000"])
    }

    /// The screen with its colors, as escape sequences.
    fn screen_with_colors(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-e", "-t", "t", "-S", "-10000"])
    }

    /// Waits until the screen shows `what` at least `count` times;
    /// returns the whole screen.
    fn wait_for(&self, what: &str, count: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let screen = self.screen();
            if screen.matches(what).count() >= count {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what:?} (x{count}); the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_approves_denies_undoes_quits_and_resumes_in_tmux() {
    let server = MockServer::start(vec![
        // 0: the first prompt asks for two writes.
        answer(
            "I'll write both files.",
            &calls(&[
                write_call("c1", "/project/yes.txt", "approved content\n"),
                write_call("c2", "/project/no.txt", "denied content\n"),
            ]),
        ),
        // 1: after the decisions.
        answer("Wrote yes.txt; no.txt was declined.", &[]),
        // 2: after resuming: a prompt the user cancels with Ctrl-C.
        Reply::Stall {
            head: false,
            content_type: "text/event-stream".into(),
            sent: String::new(),
        },
        // 3: the next prompt is answered.
        answer("You undid my change.", &[]),
        // 4: a write the user leaves waiting (Ctrl-D at the question).
        answer(
            "",
            &calls(&[write_call("c3", "/project/later.txt", "later\n")]),
        ),
        // 5: after approving it ("always") in the next process.
        answer("Wrote later.txt.", &[]),
        // 6, 7: another write, approved by "always" without asking.
        answer(
            "",
            &calls(&[write_call("c4", "/project/more.txt", "more\n")]),
        ),
        answer("Wrote more.txt.", &[]),
        // 8, 9: an edit whose arguments the user changes.
        answer(
            "",
            &[(
                "c5",
                "edit_file",
                json!({"path": "/project/later.txt", "old_string": "later", "new_string": "LATER"}),
            )],
        ),
        answer("Edited.", &[]),
    ])
    .await;
    let home = tempfile::tempdir().unwrap();
    let project = home.path().join("project");
    std::fs::create_dir(&project).unwrap();
    let env = [
        ("OPENAI_API_KEY", "sk-test".to_owned()),
        ("OPENAI_BASE_URL", format!("{}/v1", server.base)),
        ("PS1", "$ ".to_owned()),
        ("TERM", "xterm-256color".to_owned()),
    ];
    let Some(tmux) = Tmux::start(&project, &env) else {
        return;
    };
    let cmd = format!("{BIN} --model openai:gpt-4.1");
    tmux.type_line(&cmd);
    tmux.wait_for("Type a task", 1);

    tmux.type_line("write two files");
    tmux.wait_for("[y]es / [n]o / [e]dit / [a]lways", 1);
    tmux.type_line("y");
    tmux.wait_for("[y]es / [n]o / [e]dit / [a]lways", 2);
    tmux.type_line("n not that one");
    let screen = tmux.wait_for("Wrote yes.txt; no.txt was declined.", 1);
    assert!(screen.contains("✓ write_file"), "{screen}");
    assert!(
        screen.contains("→ Wrote 17 bytes to /project/yes.txt"),
        "{screen}"
    );
    assert!(
        screen.contains("denied this call to write_file: not that one"),
        "{screen}"
    );
    assert!(
        screen.contains("── 2,400 in / 60 out tokens, 2 requests, $"),
        "{screen}"
    );
    assert!(
        tmux.screen_with_colors().contains("\x1b["),
        "colors on a terminal"
    );
    assert_eq!(
        std::fs::read_to_string(project.join("yes.txt")).unwrap(),
        "approved content\n"
    );
    assert!(
        !project.join("no.txt").exists(),
        "the denied write did not happen"
    );

    tmux.type_line("/diff");
    let screen = tmux.wait_for("+approved content", 1);
    assert!(screen.contains("added /project/yes.txt"), "{screen}");
    tmux.type_line("/undo");
    tmux.wait_for("removed  /project/yes.txt", 1);
    assert!(!project.join("yes.txt").exists(), "undo removed the file");

    tmux.type_line("/quit");
    let screen = tmux.wait_for("Session saved; continue with `deepagent --resume ", 1);
    let id = screen
        .split("deepagent --resume ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap()
        .to_owned();

    // Back in the shell: resume the newest session.
    tmux.type_line(&format!("{cmd} --resume"));
    let screen = tmux.wait_for(&format!("Resumed session {id}"), 1);
    let history = screen
        .split(&format!("Resumed session {id}"))
        .nth(1)
        .unwrap();
    assert!(history.contains("› write two files"), "{history}");
    assert!(
        history.contains("Wrote yes.txt; no.txt was declined."),
        "{history}"
    );

    // Ctrl-C cancels a turn whose model never answers; the session stays.
    tmux.type_line("take your time");
    tmux.wait_for("› take your time", 1);
    // Let the request reach the (silent) server before cancelling.
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.requests().len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    tmux.key("C-c");
    tmux.wait_for("Turn cancelled; the session is kept.", 1);
    tmux.wait_for("›", 7); // the prompt is back (capture-pane drops its trailing space)
    tmux.type_line("what happened?");
    tmux.wait_for("You undid my change.", 1);
    // The model got the whole history back, and was told about the undo.
    let sent = serde_json::to_string(&sent_messages(&server, 3)).unwrap();
    assert!(sent.contains("write two files"), "{sent}");
    assert!(sent.contains("the user undid the file changes"), "{sent}");

    // A write left waiting: Ctrl-D at the question saves the paused run.
    tmux.type_line("write later.txt");
    tmux.wait_for("[y]es / [n]o / [e]dit / [a]lways", 3);
    tmux.key("C-d");
    tmux.wait_for("The run waits for approval; continue with", 1);
    assert!(!project.join("later.txt").exists());
    tmux.type_line(&format!("{cmd} --resume {id}"));
    tmux.wait_for("The last run waits for your approval", 1);
    tmux.wait_for("[y]es / [n]o / [e]dit / [a]lways", 4);
    tmux.type_line("a");
    tmux.wait_for("Wrote later.txt.", 1);
    assert_eq!(
        std::fs::read_to_string(project.join("later.txt")).unwrap(),
        "later\n"
    );
    tmux.type_line("one more");
    let screen = tmux.wait_for("Wrote more.txt.", 1);
    assert!(
        screen.contains("(always approved for this tool)"),
        "{screen}"
    );
    assert!(project.join("more.txt").is_file());

    tmux.type_line("shout");
    tmux.wait_for("[y]es / [n]o / [e]dit / [a]lways", 5);
    tmux.type_line("e");
    tmux.wait_for("new arguments as JSON", 1);
    tmux.type_line(
        r#"{"path": "/project/later.txt", "old_string": "later", "new_string": "EDITED"}"#,
    );
    tmux.wait_for("Edited.", 1);
    assert_eq!(
        std::fs::read_to_string(project.join("later.txt")).unwrap(),
        "EDITED\n"
    );
    tmux.type_line("/quit");
    tmux.wait_for("Session saved", 2);

    // `deepagent undo` from the shell takes back the last turn (the edit),
    // then the one before, then the paused-and-resumed one, whole.
    tmux.type_line(&format!("{BIN} undo"));
    let screen = tmux.wait_for("restored /project/later.txt", 1);
    assert!(screen.contains("Undid turn \"shout\""), "{screen}");
    assert_eq!(
        std::fs::read_to_string(project.join("later.txt")).unwrap(),
        "later\n"
    );
    tmux.type_line(&format!("{BIN} undo"));
    tmux.wait_for("Undid turn \"one more\"", 1);
    assert!(!project.join("more.txt").exists());
    tmux.type_line(&format!("{BIN} undo"));
    let screen = tmux.wait_for("Undid turn \"write later.txt\"", 1);
    assert!(!project.join("later.txt").exists());
    // Shown with --nocapture: the whole session as the person saw it.
    eprintln!("{screen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_kills_a_running_command_and_keeps_the_session() {
    let server = MockServer::start(vec![
        answer(
            "",
            &[(
                "x1",
                "execute",
                json!({"command": "echo started > started.txt; sleep 3; echo late > late.txt"}),
            )],
        ),
        answer("Still here.", &[]),
    ])
    .await;
    let home = tempfile::tempdir().unwrap();
    let project = home.path().join("project");
    std::fs::create_dir(&project).unwrap();
    // The project itself is the default backend: its shell runs commands.
    let config = home.path().join("agent.toml");
    std::fs::write(&config, "default = \"file://./project\"\n").unwrap();
    let env = [
        ("OPENAI_API_KEY", "sk-test".to_owned()),
        ("OPENAI_BASE_URL", format!("{}/v1", server.base)),
    ];
    let Some(tmux) = Tmux::start(&project, &env) else {
        return;
    };
    tmux.type_line(&format!(
        "{BIN} --model openai:gpt-4.1 --config {}",
        config.display()
    ));
    tmux.wait_for("Type a task", 1);
    tmux.type_line("run the slow thing");
    tmux.wait_for("[y]es / [n]o / [e]dit / [a]lways", 1);
    tmux.type_line("y");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !project.join("started.txt").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(project.join("started.txt").exists(), "{}", tmux.screen());
    tmux.key("C-c");
    tmux.wait_for("Turn cancelled; the session is kept.", 1);
    // Past the command's sleep: killed, it never wrote late.txt.
    std::thread::sleep(Duration::from_secs(4));
    assert!(!project.join("late.txt").exists(), "{}", tmux.screen());
    tmux.wait_for("›", 2);
    tmux.type_line("are you there?");
    tmux.wait_for("Still here.", 1);
    let sent = serde_json::to_string(&sent_messages(&server, 1)).unwrap();
    assert!(sent.contains("run the slow thing"), "{sent}");
}

/// `--sandbox docker:RUNTIME`: commands run in a container (with the test
/// image through `DEEPAGENT_SANDBOX_IMAGE`), which is removed when the
/// command ends. Needs an engine: `cargo xtask test-docker` runs it with
/// `DEEPAGENT_REQUIRE_DOCKER=1`; elsewhere it says it skipped.
#[cfg(feature = "docker")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_docker_runs_commands_in_a_container_and_removes_it() {
    use deepagent::backends::docker::{engine_address, engine_available};
    let image = deepagent_testkit::docker::busybox_image();
    if !deepagent_testkit::docker::gate(engine_available().await, &engine_address(), &image) {
        return;
    }
    let server = MockServer::start(vec![
        answer(
            "",
            &[(
                "x1",
                "execute",
                json!({"command": "echo in-container > /tmp/probe; cat /tmp/probe; hostname"}),
            )],
        ),
        answer("Ran it.", &[]),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let runtime = format!("cli-test-{}", std::process::id());
    let mut cmd = deepagent(dir.path(), &server);
    cmd.env("DEEPAGENT_SANDBOX_IMAGE", &image).args([
        "run",
        "--approve",
        "all",
        "--json",
        "--model",
        "openai:gpt-4.1",
        "--sandbox",
        &format!("docker:{runtime}"),
        "probe",
    ]);
    let (out, events) = run_json(cmd).await;
    assert!(
        out.status.success(),
        "{events:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ran = events
        .iter()
        .find(|e| e["type"] == "tool_call_finished" && e["call_id"] == "x1")
        .unwrap();
    assert_eq!(ran["is_error"], false, "{ran}");
    assert!(
        ran["result"].as_str().unwrap().contains("in-container"),
        "{ran}"
    );
    assert!(
        !dir.path().join("tmp").exists(),
        "the file stayed in the container"
    );
    let left = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("name={runtime}")])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    assert_eq!(left, "", "the sandbox container outlived the command");
}
