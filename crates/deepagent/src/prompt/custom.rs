//! Fitting the system prompt: sections replaced, dropped or computed by
//! name, and instructions computed from the run's context before every
//! model request.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use super::dedent;
use crate::deps::DeepAgentDeps;
use crate::messages::Usage;

/// A section of the built-in system prompt, in the order they appear.
/// Each is present only when its capability is (`Execute` with the
/// `execute` tool, ...); `Base` always is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum PromptSection {
    /// How the agent works (plan, act, check, summarize).
    Base,
    /// `## Files`: the file tools, and the backend's layout.
    Filesystem,
    /// `## Shell`: the `execute` tool.
    Execute,
    /// `## Planning`: the todo tools.
    Todos,
    /// `## Subagents`: the `task` tool and the subagent types.
    Subagents,
    /// `## Instructions`: yours (and those computed per request).
    Instructions,
}

impl PromptSection {
    /// Every section, in prompt order.
    pub const ALL: [PromptSection; 6] = [
        PromptSection::Base,
        PromptSection::Filesystem,
        PromptSection::Execute,
        PromptSection::Todos,
        PromptSection::Subagents,
        PromptSection::Instructions,
    ];

    /// The section's name: `base`, `filesystem`, `execute`, `todos`,
    /// `subagents`, `instructions`.
    pub fn name(self) -> &'static str {
        match self {
            PromptSection::Base => "base",
            PromptSection::Filesystem => "filesystem",
            PromptSection::Execute => "execute",
            PromptSection::Todos => "todos",
            PromptSection::Subagents => "subagents",
            PromptSection::Instructions => "instructions",
        }
    }
}

impl fmt::Display for PromptSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PromptSection {
    type Err = String;

    /// A section by [name](PromptSection::name) (for configuration files).
    ///
    /// ```
    /// use deepagent::prompt::PromptSection;
    /// assert_eq!("todos".parse::<PromptSection>(), Ok(PromptSection::Todos));
    /// assert!("todo".parse::<PromptSection>().unwrap_err().contains("base, filesystem"));
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PromptSection::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = PromptSection::ALL.iter().map(|p| p.name()).collect();
                format!(
                    "no prompt section is named {s:?}; the sections are {}",
                    names.join(", ")
                )
            })
    }
}

/// What a computed section or computed instructions see: the run's deps
/// (backend, todos, your values), how deep the agent is, its model, what
/// the run has spent so far, and the built-in text of the section being
/// computed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PromptContext<'a> {
    /// The run's deps: [`dep`](DeepAgentDeps::dep) for your own values,
    /// [`todos`](DeepAgentDeps::todos), the backend.
    pub deps: &'a DeepAgentDeps,
    /// 0 for the main agent.
    pub depth: usize,
    /// The model's name.
    pub model: &'a str,
    /// Spent so far by the run tree (`requests` counts the requests made
    /// before this one; 0 for the first).
    pub usage: Usage,
    /// The built-in text of the section being computed (`None` for
    /// computed instructions).
    pub default: Option<&'a str>,
}

type SectionFn = dyn Fn(&PromptContext<'_>) -> Option<String> + Send + Sync;
type InstructionsFn = dyn Fn(&PromptContext<'_>) -> String + Send + Sync;

/// What replaces a section.
#[derive(Clone)]
pub(crate) enum Replacement {
    Drop,
    Text(String),
    Computed(Arc<SectionFn>),
}

/// The agent's prompt customizations.
#[derive(Clone, Default)]
pub(crate) struct PromptConfig {
    overrides: Vec<(PromptSection, Replacement)>,
    instructions: Vec<Arc<InstructionsFn>>,
}

impl PromptConfig {
    /// A later override of the same section replaces an earlier one.
    pub(crate) fn set(&mut self, section: PromptSection, r: Replacement) {
        self.overrides.retain(|(s, _)| *s != section);
        self.overrides.push((section, r));
    }

    pub(crate) fn add_instructions(&mut self, f: Arc<InstructionsFn>) {
        self.instructions.push(f);
    }

    /// True when the prompt must be rebuilt before every request.
    pub(crate) fn is_dynamic(&self) -> bool {
        !self.instructions.is_empty()
            || self
                .overrides
                .iter()
                .any(|(_, r)| matches!(r, Replacement::Computed(_)))
    }

    /// Applies the overrides to built-in sections and appends the computed
    /// instructions. `main`: the main agent; a subagent keeps its own
    /// instructions (no override of them, no computed ones).
    pub(crate) fn apply(
        &self,
        mut sections: Vec<(PromptSection, String)>,
        ctx: &PromptContext<'_>,
        main: bool,
    ) -> Vec<(PromptSection, String)> {
        for (section, r) in &self.overrides {
            if !main && *section == PromptSection::Instructions {
                continue;
            }
            let Some(pos) = sections.iter().position(|(s, _)| s == section) else {
                continue;
            };
            let text = match r {
                Replacement::Drop => None,
                Replacement::Text(t) => Some(t.clone()),
                Replacement::Computed(f) => {
                    let mut c = ctx.clone();
                    c.default = Some(&sections[pos].1);
                    f(&c)
                }
            };
            match text {
                Some(t) => sections[pos].1 = t,
                None => {
                    sections.remove(pos);
                }
            }
        }
        if main && !self.instructions.is_empty() {
            let computed: Vec<String> = self
                .instructions
                .iter()
                .map(|f| dedent(&f(ctx)))
                .filter(|t| !t.is_empty())
                .collect();
            if !computed.is_empty() {
                let extra = computed.join("\n\n");
                match sections
                    .iter_mut()
                    .find(|(s, _)| *s == PromptSection::Instructions)
                {
                    Some((_, text)) => {
                        text.push_str("\n\n");
                        text.push_str(&extra);
                    }
                    None => sections.push((
                        PromptSection::Instructions,
                        format!("## Instructions\n{extra}"),
                    )),
                }
            }
        }
        sections
    }
}
