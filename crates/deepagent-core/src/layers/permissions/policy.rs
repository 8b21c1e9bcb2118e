//! A ruleset compiled for matching.

use regex::Regex;

use super::rules::{Action, Operation, OperationRules, Ruleset};
use crate::glob::PathGlob;
use crate::{BackendError, Result, VPath};

#[derive(Debug, Clone)]
enum Matcher {
    Glob(PathGlob),
    Command(Regex),
}

#[derive(Debug, Clone)]
struct CompiledRule {
    matcher: Matcher,
    action: Action,
    pattern: String,
    description: String,
}

#[derive(Debug, Clone)]
struct CompiledOp {
    default: Action,
    rules: Vec<CompiledRule>,
}

/// What a [`Policy`] says about one operation on one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// What to do.
    pub action: Action,
    /// The operation asked about.
    pub operation: Operation,
    /// The pattern of the rule that matched, or `None` when the
    /// operation's default applied.
    pub pattern: Option<String>,
    /// Why: the matching rule's description, or a sentence naming the
    /// default.
    pub reason: String,
}

/// A [`Ruleset`] compiled once, so checking a path is a few glob matches.
///
/// ```
/// use deepagent_core::layers::{Action, Operation, Policy, Ruleset};
/// use deepagent_core::VPath;
/// let policy = Policy::new(Ruleset::default_preset())?;
/// let env = VPath::new("app/../.env")?;
/// assert_eq!(policy.check_path(Operation::Read, &env).action, Action::Deny);
/// assert_eq!(policy.check_command("sudo reboot").action, Action::Deny);
/// assert_eq!(policy.check_command("cargo test").action, Action::Ask);
/// # Ok::<(), deepagent_core::BackendError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Policy {
    ruleset: Ruleset,
    ops: Vec<CompiledOp>,
}

fn op_index(op: Operation) -> usize {
    match op {
        Operation::Read => 0,
        Operation::Write => 1,
        Operation::Edit => 2,
        Operation::Execute => 3,
        Operation::Ls => 4,
        Operation::Glob => 5,
        Operation::Grep => 6,
    }
}

fn compile_op(op: Operation, rules: &OperationRules) -> Result<CompiledOp> {
    let compiled = rules
        .rules
        .iter()
        .map(|rule| {
            let matcher = if op == Operation::Execute {
                Matcher::Command(
                    Regex::new(&rule.pattern)
                        .map_err(|e| BackendError::invalid_pattern(&rule.pattern, e))?,
                )
            } else {
                check_path_pattern(op, &rule.pattern)?;
                Matcher::Glob(PathGlob::new(&rule.pattern)?)
            };
            Ok(CompiledRule {
                matcher,
                action: rule.action,
                pattern: rule.pattern.clone(),
                description: rule.description.clone(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(CompiledOp {
        default: rules.default,
        rules: compiled,
    })
}

/// Refuses a path pattern that could never match a normalized path, so a
/// rule is never silently ignored. Normalized paths have no trailing `/`
/// and no empty, `.` or `..` components; a gitignore-style directory rule
/// (`secrets/`) would match nothing.
fn check_path_pattern(op: Operation, pattern: &str) -> Result<()> {
    let trimmed = pattern.trim_start_matches("./").trim_start_matches('/');
    if trimmed.is_empty() {
        // PathGlob refuses it, with its own message.
        return Ok(());
    }
    if trimmed.ends_with('/') {
        let dir = trimmed.trim_end_matches('/');
        return Err(BackendError::invalid_pattern(
            pattern,
            format!(
                "{op} rule ends with '/', which no normalized path does, so it would never \
                 match; a rule that matches a directory already covers everything below it: \
                 write {dir:?} for the directory at the top, or \"**/{dir}\" for one at any depth"
            ),
        ));
    }
    if trimmed
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(BackendError::invalid_pattern(
            pattern,
            format!(
                "{op} rule has an empty, '.' or '..' component, which no normalized path \
                 has, so it would never match; write the path as it normalizes \
                 (e.g. \"a/b\", not \"a//b\" or \"a/./b\")"
            ),
        ));
    }
    Ok(())
}

impl Policy {
    /// Compiles `ruleset`; a glob or regex that does not parse, or a path
    /// pattern that could never match a normalized path (a gitignore-style
    /// `secrets/`, `a//b`, `a/../b`), is [`BackendError::InvalidPattern`]
    /// naming it and saying what to write instead.
    pub fn new(ruleset: Ruleset) -> Result<Self> {
        let ops = Operation::ALL
            .iter()
            .map(|&op| compile_op(op, ruleset.get(op)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Policy { ruleset, ops })
    }

    /// The ruleset this policy was compiled from.
    pub fn ruleset(&self) -> &Ruleset {
        &self.ruleset
    }

    /// The verdict for `op` on `path`. The first rule that matches the
    /// path or one of its ancestor directories wins; then the default.
    pub fn check_path(&self, op: Operation, path: &VPath) -> Verdict {
        let rel = &path.as_str()[1..];
        // The path itself, then each ancestor: a rule naming a directory
        // covers what is inside it.
        let ancestors = rel
            .char_indices()
            .filter(|&(_, c)| c == '/')
            .map(|(i, _)| &rel[..i]);
        let candidates: Vec<&str> = std::iter::once(rel).chain(ancestors).collect();
        self.first_match(op, |m| match m {
            Matcher::Glob(g) => candidates.iter().any(|c| g.is_match(c)),
            Matcher::Command(r) => candidates.iter().any(|c| r.is_match(c)),
        })
    }

    /// The verdict for running `command` (execute rules only; see
    /// [`Permissioned`](super::Permissioned) for the path check of its
    /// arguments).
    pub fn check_command(&self, command: &str) -> Verdict {
        self.first_match(Operation::Execute, |m| match m {
            Matcher::Command(r) => r.is_match(command),
            Matcher::Glob(g) => g.is_match(command),
        })
    }

    /// True when some path rule exists, i.e. the verdict for a path can
    /// depend on which path it is. Without one, resolving symbolic links
    /// to check the real target could never change an answer.
    pub fn has_path_rules(&self) -> bool {
        Operation::ALL
            .iter()
            .any(|&op| op != Operation::Execute && !self.ops[op_index(op)].rules.is_empty())
    }

    /// True when `op` is denied on `path` (asking does not count).
    pub fn denies(&self, op: Operation, path: &VPath) -> bool {
        self.check_path(op, path).action == Action::Deny
    }

    fn first_match(&self, op: Operation, matches: impl Fn(&Matcher) -> bool) -> Verdict {
        let compiled = &self.ops[op_index(op)];
        for rule in &compiled.rules {
            if matches(&rule.matcher) {
                let reason = if rule.description.is_empty() {
                    format!("{op} rule {:?}", rule.pattern)
                } else {
                    rule.description.clone()
                };
                return Verdict {
                    action: rule.action,
                    operation: op,
                    pattern: Some(rule.pattern.clone()),
                    reason,
                };
            }
        }
        let reason = match compiled.default {
            Action::Allow => format!("{op} is allowed by default"),
            Action::Deny => {
                format!("{op} is not allowed here (the ruleset's default for {op} is deny)")
            }
            Action::Ask => format!("{op} needs approval (the ruleset's default for {op} is ask)"),
        };
        Verdict {
            action: compiled.default,
            operation: op,
            pattern: None,
            reason,
        }
    }
}
