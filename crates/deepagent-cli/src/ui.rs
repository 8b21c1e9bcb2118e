//! What a person sees: streamed text, one line per tool call, todos,
//! a spinner, usage; or, with `--json`, one JSON object per line.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deepagent::core::layers::FileChange;
use deepagent::{render_todos, Todo, Usage};
use serde_json::{json, Value};

/// ANSI styles, empty when colors are off.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    on: bool,
}

impl Style {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    /// Dim (notices, usage).
    pub fn dim(&self, t: &str) -> String {
        self.wrap("2", t)
    }
    /// Bold.
    pub fn bold(&self, t: &str) -> String {
        self.wrap("1", t)
    }
    /// Green (success, additions).
    pub fn green(&self, t: &str) -> String {
        self.wrap("32", t)
    }
    /// Red (errors, removals).
    pub fn red(&self, t: &str) -> String {
        self.wrap("31", t)
    }
    /// Yellow (questions).
    pub fn yellow(&self, t: &str) -> String {
        self.wrap("33", t)
    }
    /// Cyan (tool names).
    pub fn cyan(&self, t: &str) -> String {
        self.wrap("36", t)
    }
}

/// The spinner's shared state: drawn on stderr by a task while `label`
/// is set.
#[derive(Default)]
struct SpinnerState {
    label: Option<String>,
    drawn: bool,
}

/// Writes everything the CLI shows.
#[derive(Clone)]
pub struct Ui {
    /// JSON lines instead of text.
    pub json: bool,
    /// Styles (colors only on a terminal, and not with `NO_COLOR`).
    pub style: Style,
    spinner: Option<Arc<Mutex<SpinnerState>>>,
    /// Whether the last thing printed on stdout ended a line.
    line_open: Arc<Mutex<bool>>,
}

impl Ui {
    /// A UI for stdout/stderr as they are.
    pub fn new(json: bool) -> Self {
        let tty = std::io::stdout().is_terminal();
        let color = tty && std::env::var_os("NO_COLOR").is_none() && !json;
        let spinner = (!json && std::io::stderr().is_terminal()).then(|| {
            let state = Arc::new(Mutex::new(SpinnerState::default()));
            let s = state.clone();
            tokio::spawn(async move {
                const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
                let mut i = 0usize;
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let mut st = s.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(label) = st.label.clone() {
                        let mut err = std::io::stderr();
                        let _ = write!(err, "\r\x1b[2m{} {label}\x1b[0m\x1b[K", FRAMES[i % 10]);
                        let _ = err.flush();
                        st.drawn = true;
                        i += 1;
                    }
                }
            });
            state
        });
        Ui {
            json,
            style: Style { on: color },
            spinner,
            line_open: Arc::new(Mutex::new(false)),
        }
    }

    /// Shows the spinner with `label` until something is printed.
    pub fn spin(&self, label: &str) {
        if let Some(s) = &self.spinner {
            if *self.line_open.lock().unwrap_or_else(|e| e.into_inner()) {
                return; // mid-line text: a spinner would overwrite it
            }
            s.lock().unwrap_or_else(|e| e.into_inner()).label = Some(label.to_owned());
        }
    }

    /// Hides the spinner.
    pub fn stop_spin(&self) {
        if let Some(s) = &self.spinner {
            let mut st = s.lock().unwrap_or_else(|e| e.into_inner());
            st.label = None;
            if st.drawn {
                let mut err = std::io::stderr();
                let _ = write!(err, "\r\x1b[K");
                let _ = err.flush();
                st.drawn = false;
            }
        }
    }

    fn out(&self, text: &str) {
        self.stop_spin();
        let mut out = std::io::stdout();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
        if !text.is_empty() {
            *self.line_open.lock().unwrap_or_else(|e| e.into_inner()) = !text.ends_with('\n');
        }
    }

    /// The terminal's cursor is at the start of a line (after the user
    /// pressed Enter at a prompt).
    pub fn line_closed(&self) {
        *self.line_open.lock().unwrap_or_else(|e| e.into_inner()) = false;
    }

    /// Ends an open line of streamed text.
    pub fn end_line(&self) {
        if *self.line_open.lock().unwrap_or_else(|e| e.into_inner()) {
            self.out("\n");
        }
    }

    /// A line for a person (stdout; stderr in JSON mode, so stdout stays
    /// JSON).
    pub fn say(&self, text: &str) {
        if self.json {
            eprintln!("{text}");
        } else {
            self.end_line();
            self.out(&format!("{text}\n"));
        }
    }

    /// A dimmed notice.
    pub fn notice(&self, text: &str) {
        let t = self.style.dim(text);
        self.say(&t);
    }

    /// An error line (stderr).
    pub fn error(&self, text: &str) {
        self.stop_spin();
        self.end_line();
        eprintln!("{}", self.style.red(&format!("error: {text}")));
    }

    /// One JSON event line (JSON mode only).
    pub fn event(&self, kind: &str, mut fields: Value) {
        if !self.json {
            return;
        }
        if let Value::Object(map) = &mut fields {
            map.insert("type".into(), json!(kind));
        }
        let mut out = std::io::stdout();
        let _ = writeln!(out, "{fields}");
        let _ = out.flush();
    }

    /// Streamed answer text.
    pub fn text(&self, text: &str) {
        if self.json {
            self.event("text_delta", json!({ "text": text }));
        } else {
            self.out(text);
        }
    }

    /// One line for a finished tool call: the tool, its arguments
    /// shortened, and what came of it.
    pub fn tool_line(&self, prefix: &str, name: &str, args: &Value, result: &str, is_error: bool) {
        let mark = if is_error {
            self.style.red("✗")
        } else {
            self.style.green("✓")
        };
        let outcome = shorten(result.lines().next().unwrap_or(""), 80);
        let line = format!(
            "{prefix}{mark} {} {}  {}",
            self.style.cyan(name),
            short_args(args, 60),
            self.style.dim(&format!("→ {outcome}"))
        );
        self.say(&line);
    }

    /// The todo list.
    pub fn todos(&self, todos: &[Todo]) {
        if todos.is_empty() {
            return;
        }
        self.say(&self.style.bold("Todos:"));
        for line in render_todos(todos).lines() {
            self.say(&format!("  {line}"));
        }
    }

    /// Usage and cost of a turn (and of the session so far).
    pub fn usage(&self, turn: &Usage, total: &Usage) {
        self.notice(&format!(
            "── {} · session {}",
            usage_text(turn),
            usage_text(total)
        ));
    }

    /// A unified diff of a turn's changes.
    pub fn diff(&self, changes: &[FileChange]) {
        if changes.is_empty() {
            self.say("The last turn changed no files.");
            return;
        }
        for change in changes {
            let (old, new) = (change.before.as_deref(), change.after.as_deref());
            let header = match (old, new) {
                (None, _) => format!("added {}", change.path),
                (_, None) => format!("deleted {}", change.path),
                _ => format!("modified {}", change.path),
            };
            self.say(&self.style.bold(&header));
            let text = |b: Option<&[u8]>| b.map(|b| std::str::from_utf8(b).map(str::to_owned));
            match (text(old), text(new)) {
                (Some(Err(_)), _) | (_, Some(Err(_))) => self.say("  (binary file)"),
                (o, n) => {
                    let o = o.and_then(Result::ok).unwrap_or_default();
                    let n = n.and_then(Result::ok).unwrap_or_default();
                    let diff = similar::TextDiff::from_lines(&o, &n);
                    let unified = diff
                        .unified_diff()
                        .context_radius(3)
                        .header(&format!("a{}", change.path), &format!("b{}", change.path))
                        .to_string();
                    for line in unified.lines() {
                        let styled = if line.starts_with("+++") || line.starts_with("---") {
                            self.style.dim(line)
                        } else if line.starts_with('+') {
                            self.style.green(line)
                        } else if line.starts_with('-') {
                            self.style.red(line)
                        } else if line.starts_with("@@") {
                            self.style.cyan(line)
                        } else {
                            line.to_owned()
                        };
                        self.say(&styled);
                    }
                }
            }
        }
    }
}

/// `1,234 in / 56 out tokens, 3 requests, $0.0123`.
pub fn usage_text(u: &Usage) -> String {
    let cost = if u.requests == 0 {
        "$0".to_owned()
    } else if u.unpriced_requests == u.requests {
        "cost unknown".to_owned()
    } else if u.unpriced_requests > 0 {
        format!("≥${:.4}", u.cost_usd)
    } else {
        format!("${:.4}", u.cost_usd)
    };
    format!(
        "{} in / {} out tokens, {} request{}, {cost}",
        thousands(u.input_tokens),
        thousands(u.output_tokens),
        u.requests,
        if u.requests == 1 { "" } else { "s" }
    )
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// At most `max` characters, with `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    let one_line = text.replace('\n', "⏎");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// `path=/a.txt content="hello wo…"`: each argument, long values cut.
pub fn short_args(args: &Value, max_value: usize) -> String {
    match args {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) if !s.contains([' ', '\n', '"']) && !s.is_empty() => {
                        shorten(s, max_value)
                    }
                    Value::String(s) => format!("\"{}\"", shorten(s, max_value)),
                    other => shorten(&other.to_string(), max_value),
                };
                format!("{k}={v}")
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => shorten(&other.to_string(), max_value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_shortened() {
        let args = json!({"path": "/a.txt", "content": "x".repeat(100)});
        let s = short_args(&args, 10);
        assert_eq!(s, format!("content={}… path=/a.txt", "x".repeat(9)));
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
