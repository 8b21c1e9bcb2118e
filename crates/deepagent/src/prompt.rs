//! The system prompt, assembled from sections for the tools a run has.

/// The opening section: how a deep agent works.
pub const BASE_PROMPT: &str = "You are a capable assistant that completes tasks by using tools. \
Work step by step: understand the request, plan, act with the tools, check the results, and \
finish with a short summary of what you did. Call several independent tools in one turn when \
you can. When a tool returns an error, read it, fix the cause and try again instead of \
repeating the same call.";

/// How to use the file tools.
pub const FILESYSTEM_PROMPT: &str = "## Files\n\
You work on a virtual filesystem through the tools ls, read_file, write_file, edit_file, glob \
and grep. Paths are absolute and start with `/` (for example `/project/src/app.py`); parent \
directories are created when you write a file.\n\
- Explore with ls and glob, search contents with grep.\n\
- Read a file before you edit it; edit_file needs the exact text to replace.\n\
- read_file shows numbered lines; page through long files with offset and limit.\n\
- When a tool result is too long it is cut, and the full text is saved under \
`/large_tool_results/`; read that file with offset and limit if you need the rest.";

/// How to use execute.
pub const EXECUTE_PROMPT: &str = "## Shell\n\
You can run shell commands with execute. Use it to run programs and tests; use the file tools \
to read and write files.";

/// How to plan with todos.
pub const TODO_PROMPT: &str = "## Planning\n\
For a task with three or more steps, write a plan with write_todos before you start. Keep \
exactly one step `in_progress` while you work on it, mark steps `completed` as soon as they \
are done, and send the whole list each time. read_todos shows the list.";

/// Dedents and trims user-written instructions (they are often an
/// indented multi-line string literal).
pub fn dedent(text: &str) -> String {
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let lines: Vec<&str> = text
        .lines()
        .map(|l| {
            // Strip whole characters only, so odd whitespace cannot split one.
            let mut rest = l;
            let mut stripped = 0;
            while stripped < indent {
                match rest.chars().next() {
                    Some(c) if c.is_whitespace() => {
                        rest = &rest[c.len_utf8()..];
                        stripped += c.len_utf8();
                    }
                    _ => break,
                }
            }
            rest
        })
        .collect();
    lines.join("\n").trim_matches('\n').trim_end().to_owned()
}

/// What goes into a system prompt.
#[derive(Debug, Default, Clone)]
#[non_exhaustive]
pub struct PromptParts<'a> {
    /// The filesystem tools are present.
    pub filesystem: bool,
    /// The layout of the backend, if described.
    pub mounts: Option<&'a str>,
    /// execute is present.
    pub execute: bool,
    /// The todo tools are present.
    pub todos: bool,
    /// Subagents (name, description) when task is present.
    pub subagents: Vec<(&'a str, &'a str)>,
    /// The user's instructions.
    pub instructions: Option<&'a str>,
}

/// Assembles the system prompt: base behaviour, then one section per
/// capability, then the user's instructions.
pub fn assemble(parts: &PromptParts<'_>) -> String {
    let mut sections = vec![BASE_PROMPT.to_owned()];
    if parts.filesystem {
        let mut fs = FILESYSTEM_PROMPT.to_owned();
        if let Some(m) = parts.mounts.map(str::trim).filter(|m| !m.is_empty()) {
            fs.push_str("\n\nThe filesystem is made of these areas:\n");
            fs.push_str(m);
        }
        sections.push(fs);
    }
    if parts.execute {
        sections.push(EXECUTE_PROMPT.to_owned());
    }
    if parts.todos {
        sections.push(TODO_PROMPT.to_owned());
    }
    if !parts.subagents.is_empty() {
        let mut s = "## Subagents\n\
Use the task tool to hand a self-contained piece of work to a subagent: give it a complete \
description (it does not see this conversation) and say what to report back. Subagents share \
your files but not your todo list. Independent tasks can run in parallel. Available \
subagent types:"
            .to_owned();
        for (name, description) in &parts.subagents {
            s.push_str(&format!("\n- {name}: {description}"));
        }
        sections.push(s);
    }
    if let Some(i) = parts.instructions.map(dedent).filter(|i| !i.is_empty()) {
        sections.push(format!("## Instructions\n{i}"));
    }
    sections.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedent_strips_common_indent_and_blank_edges() {
        let text = "\n        You are a helper.\n\n        - one\n          - two\n        ";
        assert_eq!(dedent(text), "You are a helper.\n\n- one\n  - two");
    }
}
