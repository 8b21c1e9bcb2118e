//! The built-in tools: files, shell, todos.
//!
//! Descriptions are written for the model: what the tool does, when to
//! use it, and what the output looks like. Their exact text is pinned by
//! snapshot tests, so a change shows up in review.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deepagent_core::{edit, text, Bytes, ErrorKind, GlobQuery, GrepQuery, DEFAULT_READ_LIMIT};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{parse_args, Tool, ToolContext, ToolError};
use crate::deps::{render_todos, Todo};
use crate::messages::ToolDef;

/// Names of the built-in file tools.
pub const FILESYSTEM_TOOLS: [&str; 6] =
    ["ls", "read_file", "write_file", "edit_file", "glob", "grep"];

fn def(name: &str, description: &str, parameters: Value) -> ToolDef {
    ToolDef {
        name: name.to_owned(),
        description: description.to_owned(),
        parameters,
    }
}

macro_rules! builtin {
    ($ty:ident, $name:literal, $def:expr, |$ctx:ident, $args:ident| $body:expr) => {
        pub(crate) struct $ty;

        #[async_trait]
        impl Tool for $ty {
            fn name(&self) -> &str {
                $name
            }
            fn definition(&self) -> ToolDef {
                $def
            }
            async fn call(&self, $ctx: &ToolContext, $args: Value) -> Result<String, ToolError> {
                $body
            }
        }
    };
}

/// The file tools.
pub(crate) fn filesystem() -> Vec<Arc<dyn Tool>> {
    vec![
        Arc::new(Ls),
        Arc::new(ReadFile),
        Arc::new(WriteFile),
        Arc::new(EditFile),
        Arc::new(Glob),
        Arc::new(Grep),
    ]
}

/// The todo tools.
pub(crate) fn todos() -> Vec<Arc<dyn Tool>> {
    vec![Arc::new(WriteTodos), Arc::new(ReadTodos)]
}

#[derive(Deserialize)]
struct LsArgs {
    #[serde(default = "root")]
    path: String,
}

fn root() -> String {
    "/".to_owned()
}

builtin!(Ls, "ls", def(
    "ls",
    "List the files and directories directly inside a directory. Directories are shown with a trailing `/`, files with their size. Use it to explore before reading or writing; use glob to find files by pattern at any depth.",
    json!({"type": "object", "properties": {
        "path": {"type": "string", "description": "Absolute path of the directory to list, e.g. `/` or `/project/src`.", "default": "/"}
    }}),
), |ctx, args| {
    let a: LsArgs = parse_args(args)?;
    let entries = ctx.backend.ls(&a.path).await?;
    if entries.is_empty() {
        return Ok(format!("{} is empty", a.path));
    }
    let lines: Vec<String> = entries
        .iter()
        .map(|e| {
            if e.is_dir {
                format!("{}/", e.path.trim_end_matches('/'))
            } else {
                match e.size {
                    Some(s) => format!("{} ({s} bytes)", e.path),
                    None => e.path.clone(),
                }
            }
        })
        .collect();
    Ok(lines.join("\n"))
});

#[derive(Deserialize)]
struct ReadArgs {
    path: String,
    #[serde(default)]
    offset: usize,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    char_offset: usize,
}

builtin!(ReadFile, "read_file", def(
    "read_file",
    "Read a text file. Lines come back numbered (`     1\tfirst line`), starting at 1. By default up to 2000 lines from the start; for longer files pass `offset` (0-based line to start at) and `limit` (number of lines) to page through, and the output ends with `... (N more lines; continue with offset=K)` when the file goes on. A line too long for one read ends with the `offset` and `char_offset` to read on from. Always read a file before editing it.",
    json!({"type": "object", "properties": {
        "path": {"type": "string", "description": "Absolute path of the file, e.g. `/project/src/app.py`."},
        "offset": {"type": "integer", "minimum": 0, "default": 0, "description": "0-based line number to start reading at."},
        "limit": {"type": "integer", "minimum": 1, "default": 2000, "description": "Maximum number of lines to read."},
        "char_offset": {"type": "integer", "minimum": 0, "default": 0, "description": "Characters of the first line to skip, to read on in a line too long for one read (the output says when)."}
    }, "required": ["path"]}),
), |ctx, args| {
    let a: ReadArgs = parse_args(args)?;
    let limit = a.limit.unwrap_or(DEFAULT_READ_LIMIT).max(1);
    let slice = ctx.backend.read(&a.path, a.offset, limit).await?;
    if slice.total_lines == 0 {
        return Ok(format!("{} is empty", slice.path));
    }
    if text::slice_is_binary(&slice) {
        // Replacement characters are noise to a model; say what it is.
        let size = ctx.backend.ls(&a.path).await.ok().and_then(|entries| {
            entries.into_iter().find(|e| !e.is_dir).and_then(|e| e.size)
        });
        return Ok(text::render_binary(&slice.path, size));
    }
    // Paged to fit the result cap, so the read never ends mid-line.
    Ok(super::paging::render_paged(&slice, a.char_offset, ctx.max_result_chars()))
});

#[derive(Deserialize)]
struct WriteArgs {
    path: String,
    content: String,
}

builtin!(WriteFile, "write_file", def(
    "write_file",
    "Create a file, or replace its whole content. Parent directories are created as needed. Use an absolute path; to change part of an existing file, prefer edit_file.",
    json!({"type": "object", "properties": {
        "path": {"type": "string", "description": "Absolute path of the file to write, e.g. `/project/README.md`."},
        "content": {"type": "string", "description": "The complete new content of the file."}
    }, "required": ["path", "content"]}),
), |ctx, args| {
    let a: WriteArgs = parse_args(args)?;
    let written = ctx.backend.write(&a.path, Bytes::from(a.content)).await?;
    Ok(format!("Wrote {} bytes to {}", written.size, written.path))
});

#[derive(Deserialize)]
struct EditArgs {
    path: String,
    old_string: String,
    new_string: String,
    #[serde(default)]
    replace_all: bool,
}

builtin!(EditFile, "edit_file", def(
    "edit_file",
    "Replace an exact piece of text in a file. `old_string` must match the file exactly, including whitespace and indentation (copy it from read_file output without the line-number prefix), and must occur exactly once unless `replace_all` is true; add surrounding lines to make it unique. Read the file first.",
    json!({"type": "object", "properties": {
        "path": {"type": "string", "description": "Absolute path of the file to edit."},
        "old_string": {"type": "string", "description": "The exact text to replace."},
        "new_string": {"type": "string", "description": "The text to put in its place."},
        "replace_all": {"type": "boolean", "default": false, "description": "Replace every occurrence instead of exactly one."}
    }, "required": ["path", "old_string", "new_string"]}),
), |ctx, args| {
    let a: EditArgs = parse_args(args)?;
    let r = match ctx.backend.edit(&a.path, &a.old_string, &a.new_string, deepagent_core::Replace::all_if(a.replace_all)).await {
        Ok(r) => r,
        Err(e) if e.kind() == ErrorKind::EditNotFound => {
            // Line endings and a final line break are invisible in
            // read_file output; when one of them is the only difference,
            // say so instead of "copy the text exactly".
            let hint = match ctx.backend.read_bytes(&a.path).await {
                Ok(content) => edit::explain_not_found(&content, &a.old_string),
                Err(_) => None,
            };
            return Err(match hint {
                Some(hint) => ToolError::Failed(format!("{e}. Note: {hint}.")),
                None => e.into(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let s = if r.occurrences == 1 { "" } else { "s" };
    Ok(format!("Replaced {} occurrence{s} in {}", r.occurrences, r.path))
});

#[derive(Deserialize)]
struct GlobArgs {
    pattern: String,
    #[serde(default = "root")]
    path: String,
}

builtin!(Glob, "glob", def(
    "glob",
    "Find files by name pattern, sorted by path. `*` matches within one directory level, `**` any number of levels: `**/*.py` finds Python files at any depth, `src/*.rs` only directly in src. The pattern is relative to `path`.",
    json!({"type": "object", "properties": {
        "pattern": {"type": "string", "description": "Glob pattern, e.g. `**/*.py`."},
        "path": {"type": "string", "default": "/", "description": "Absolute path of the directory to search from."}
    }, "required": ["pattern"]}),
), |ctx, args| {
    let a: GlobArgs = parse_args(args)?;
    let found = ctx.backend.glob(&GlobQuery::new(&a.pattern).path(&a.path)).await?;
    if found.files.is_empty() {
        return Ok(format!("No files match {} under {}", a.pattern, a.path));
    }
    let mut out: Vec<String> = found.files.iter().map(|f| f.path.clone()).collect();
    if found.truncated {
        out.push(format!("(only the first {} files are shown; narrow the pattern or path)", found.files.len()));
    }
    Ok(out.join("\n"))
});

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum OutputMode {
    #[default]
    FilesWithMatches,
    Content,
    Count,
}

#[derive(Deserialize)]
struct GrepArgs {
    pattern: String,
    #[serde(default = "root")]
    path: String,
    #[serde(default)]
    glob: Option<String>,
    #[serde(default)]
    output_mode: OutputMode,
    #[serde(default)]
    case_insensitive: bool,
}

builtin!(Grep, "grep", def(
    "grep",
    "Search file contents with a regular expression (Rust regex syntax). `output_mode` picks the output: `files_with_matches` (default) lists matching files, `content` shows `path:line: text` for each matching line, `count` shows `path: N` per file. Narrow the search with `path` (a directory or one file) and `glob` (e.g. `*.py`). Hidden files are skipped unless named by `path`.",
    json!({"type": "object", "properties": {
        "pattern": {"type": "string", "description": "Regular expression to search for, e.g. `def \\w+`."},
        "path": {"type": "string", "default": "/", "description": "Absolute path of the directory or file to search."},
        "glob": {"type": "string", "description": "Only search files whose name matches this glob, e.g. `*.py`."},
        "output_mode": {"type": "string", "enum": ["files_with_matches", "content", "count"], "default": "files_with_matches", "description": "What to show for the matches."},
        "case_insensitive": {"type": "boolean", "default": false, "description": "Ignore case when matching."}
    }, "required": ["pattern"]}),
), |ctx, args| {
    let a: GrepArgs = parse_args(args)?;
    let mut q = GrepQuery::new(&a.pattern).path(&a.path).case_insensitive(a.case_insensitive);
    if let Some(g) = a.glob.as_deref().filter(|g| !g.is_empty()) {
        q = q.glob(g);
    }
    let found = ctx.backend.grep(&q).await?;
    if found.matches.is_empty() {
        return Ok(format!("No matches for {} under {}", a.pattern, a.path));
    }
    let mut out: Vec<String> = Vec::new();
    match a.output_mode {
        OutputMode::Content => {
            out.extend(found.matches.iter().map(|m| format!("{}:{}: {}", m.path, m.line_number, m.line)));
        }
        OutputMode::FilesWithMatches | OutputMode::Count => {
            let mut counts: Vec<(&str, usize)> = Vec::new();
            for m in &found.matches {
                match counts.last_mut() {
                    Some((p, n)) if *p == m.path => *n += 1,
                    _ => counts.push((&m.path, 1)),
                }
            }
            if a.output_mode == OutputMode::Count {
                out.extend(counts.iter().map(|(p, n)| format!("{p}: {n}")));
            } else {
                out.extend(counts.iter().map(|(p, _)| p.to_string()));
            }
        }
    }
    if found.truncated {
        out.push(format!("(results stop at the first {} matching lines; narrow the search with path or glob)", found.matches.len()));
    }
    Ok(out.join("\n"))
});

#[derive(Deserialize)]
struct ExecuteArgs {
    command: String,
    #[serde(default)]
    timeout: Option<u64>,
}

builtin!(Execute, "execute", def(
    "execute",
    "Run a shell command (`sh -c`) in the sandbox and get its combined stdout and stderr and its exit code. Use it to run programs, tests and installers; use the file tools, not cat/echo, to read and write files. Long output is cut.",
    json!({"type": "object", "properties": {
        "command": {"type": "string", "description": "The shell command, e.g. `python -m pytest -q`."},
        "timeout": {"type": "integer", "minimum": 1, "default": 120, "description": "Seconds before the command is killed."}
    }, "required": ["command"]}),
), |ctx, args| {
    let a: ExecuteArgs = parse_args(args)?;
    let Some(sandbox) = ctx.backend.as_sandbox() else {
        return Err(ToolError::Failed(format!(
            "{} cannot run commands; execute is only available with a sandbox backend",
            ctx.backend.name()
        )));
    };
    let timeout = a.timeout.map(Duration::from_secs);
    let r = sandbox.execute(&a.command, timeout).await?;
    let mut out = r.output;
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    if r.truncated {
        out.push_str("[output truncated]\n");
    }
    if r.timed_out {
        out.push_str("[command timed out and was killed]\n");
    }
    out.push_str(&format!("[exit code: {}]", r.exit_code));
    Ok(out)
});

#[derive(Deserialize)]
struct WriteTodosArgs {
    todos: Vec<Todo>,
}

builtin!(WriteTodos, "write_todos", def(
    "write_todos",
    "Replace the todo list that tracks your plan. Use it for any task with three or more steps: write the steps first, mark one `in_progress` when you start it and `completed` as soon as it is done, and add steps you discover. Send the whole list every time.",
    json!({"type": "object", "properties": {
        "todos": {"type": "array", "description": "The complete todo list, in order.", "items": {
            "type": "object",
            "properties": {
                "content": {"type": "string", "description": "What to do, in the imperative."},
                "status": {"type": "string", "enum": ["pending", "in_progress", "completed"], "description": "Where the step stands."}
            },
            "required": ["content", "status"]
        }}
    }, "required": ["todos"]}),
), |ctx, args| {
    let a: WriteTodosArgs = parse_args(args)?;
    if ctx.todo_writes_in_turn > 1 {
        // The calls of a turn run concurrently, so "the last one wins"
        // would be whichever finished last: refuse them all instead.
        return Err(ToolError::Failed(format!(
            "write_todos was called {} times in one turn, so none of the lists was saved; call write_todos once per turn with the whole list",
            ctx.todo_writes_in_turn
        )));
    }
    ctx.todos.set(a.todos.clone());
    ctx.emit(crate::AgentEvent::TodosUpdated { todos: a.todos.clone() });
    Ok(format!("Updated the todo list:\n{}", render_todos(&a.todos)))
});

builtin!(
    ReadTodos,
    "read_todos",
    def(
        "read_todos",
        "Show the current todo list with each step's status.",
        json!({"type": "object", "properties": {}}),
    ),
    |ctx, _args| {
        let todos = ctx.todos.get();
        if todos.is_empty() {
            return Ok("The todo list is empty.".to_owned());
        }
        Ok(render_todos(&todos))
    }
);
