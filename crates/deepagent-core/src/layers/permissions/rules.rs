//! The ruleset data: what a user writes in TOML or JSON.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An operation a ruleset governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// `read` and `read_bytes`.
    Read,
    /// `write`.
    Write,
    /// `edit`.
    Edit,
    /// `execute` (a sandbox command).
    Execute,
    /// `ls`.
    Ls,
    /// `glob`.
    Glob,
    /// `grep`.
    Grep,
}

impl Operation {
    /// Every operation, in a fixed order.
    pub const ALL: [Operation; 7] = [
        Operation::Read,
        Operation::Write,
        Operation::Edit,
        Operation::Execute,
        Operation::Ls,
        Operation::Glob,
        Operation::Grep,
    ];

    /// The lowercase name used in rulesets and messages, e.g. `write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Write => "write",
            Operation::Edit => "edit",
            Operation::Execute => "execute",
            Operation::Ls => "ls",
            Operation::Glob => "glob",
            Operation::Grep => "grep",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens when a rule (or an operation's default) applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The operation goes ahead.
    Allow,
    /// The operation fails with `PermissionDenied`; a denied path is also
    /// hidden from `ls`, `glob` and `grep` results.
    Deny,
    /// An [`Approver`](super::Approver) decides; without one, denied.
    Ask,
}

/// One rule: a pattern, what to do when it matches, and why (the
/// description is what a denial message and an approval request show).
///
/// For every operation but `execute` the pattern is a glob over the
/// normalized path without its leading `/` (a leading `/` or `./` in the
/// pattern is ignored, so `/src/**` and `src/**` are the same rule): `*`
/// and `?` stop at `/`, `**` crosses it, matching is case-sensitive. A
/// pattern that matches a directory covers everything below it, so
/// `**/.ssh` protects `~/.ssh/id_rsa` too. A gitignore-style pattern
/// ending in `/` (`secrets/`) would match nothing and is refused when the
/// ruleset loads; write `secrets` (at `/`) or `**/secrets` (any depth).
///
/// For `execute` the pattern is a regular expression (Rust `regex` syntax)
/// searched anywhere in the command string: commands are not paths, and
/// `curl ... | sh` needs more than a glob can say. Anchor with `^`, `\b`.
///
/// ```
/// use deepagent_core::layers::{Action, Rule};
/// let r = Rule::deny("**/*.pem", "certificates and private keys");
/// assert_eq!(r.action, Action::Deny);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A path glob, or for `execute` a command regex.
    pub pattern: String,
    /// What to do on a match.
    pub action: Action,
    /// Why the rule exists, shown in denials and approval requests.
    #[serde(default)]
    pub description: String,
}

impl Rule {
    /// A rule with any action.
    pub fn new(pattern: impl Into<String>, action: Action, description: impl Into<String>) -> Self {
        Rule {
            pattern: pattern.into(),
            action,
            description: description.into(),
        }
    }

    /// An allowing rule.
    pub fn allow(pattern: impl Into<String>, description: impl Into<String>) -> Self {
        Rule::new(pattern, Action::Allow, description)
    }

    /// A denying rule.
    pub fn deny(pattern: impl Into<String>, description: impl Into<String>) -> Self {
        Rule::new(pattern, Action::Deny, description)
    }

    /// A rule that asks the approver.
    pub fn ask(pattern: impl Into<String>, description: impl Into<String>) -> Self {
        Rule::new(pattern, Action::Ask, description)
    }
}

/// The rules of one operation: ordered, the first match wins, and
/// `default` applies when none matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationRules {
    /// The action when no rule matches.
    pub default: Action,
    /// The rules, tried in order.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

impl OperationRules {
    /// No rules, `default` for everything.
    pub fn new(default: Action) -> Self {
        OperationRules {
            default,
            rules: Vec::new(),
        }
    }

    /// Appends a rule (it is tried after the ones already there).
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }
}

impl Default for OperationRules {
    /// Allow everything: an operation a ruleset file leaves out is not
    /// restricted.
    fn default() -> Self {
        OperationRules::new(Action::Allow)
    }
}

/// Rules for every [`Operation`]: the policy a
/// [`Permissioned`](super::Permissioned) layer enforces.
///
/// Start from a preset ([`Ruleset::default_preset`], [`Ruleset::readonly`],
/// [`Ruleset::strict`], [`Ruleset::permissive`]) or load one with serde.
/// A section left out of a file allows everything for that operation;
/// unknown keys are errors, so a typo (`[exec]`) never silently loosens
/// a policy.
///
/// ```
/// use deepagent_core::layers::{Action, Operation, Ruleset};
/// let json = r#"{
///     "write": { "default": "ask",
///                "rules": [{ "pattern": "docs/**", "action": "allow", "description": "docs are free" }] },
///     "execute": { "default": "deny" }
/// }"#;
/// let rules: Ruleset = serde_json::from_str(json).unwrap();
/// assert_eq!(rules.get(Operation::Write).default, Action::Ask);
/// assert_eq!(rules.get(Operation::Read).default, Action::Allow);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RulesetFile")]
pub struct Ruleset {
    /// Rules for `read`.
    #[serde(default)]
    pub read: OperationRules,
    /// Rules for `write`.
    #[serde(default)]
    pub write: OperationRules,
    /// Rules for `edit`.
    #[serde(default)]
    pub edit: OperationRules,
    /// Rules for `execute` (patterns are command regexes).
    #[serde(default)]
    pub execute: OperationRules,
    /// Rules for `ls`.
    #[serde(default)]
    pub ls: OperationRules,
    /// Rules for `glob`.
    #[serde(default)]
    pub glob: OperationRules,
    /// Rules for `grep`.
    #[serde(default)]
    pub grep: OperationRules,
}

/// What a ruleset file holds, before [`Ruleset::validate`] has looked at
/// it: loading a ruleset refuses a rule that could never match, so a typo
/// (`secrets/`) fails where the file is read instead of loosening the
/// policy in silence.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesetFile {
    #[serde(default)]
    read: OperationRules,
    #[serde(default)]
    write: OperationRules,
    #[serde(default)]
    edit: OperationRules,
    #[serde(default)]
    execute: OperationRules,
    #[serde(default)]
    ls: OperationRules,
    #[serde(default)]
    glob: OperationRules,
    #[serde(default)]
    grep: OperationRules,
}

impl TryFrom<RulesetFile> for Ruleset {
    type Error = crate::BackendError;

    fn try_from(f: RulesetFile) -> crate::Result<Self> {
        let set = Ruleset {
            read: f.read,
            write: f.write,
            edit: f.edit,
            execute: f.execute,
            ls: f.ls,
            glob: f.glob,
            grep: f.grep,
        };
        set.validate()?;
        Ok(set)
    }
}

impl Ruleset {
    /// Checks every rule the way [`Policy::new`](super::Policy::new) does:
    /// each glob and regex compiles, and no path pattern is one that could
    /// never match a normalized path. Loading a ruleset with serde runs
    /// this, so a bad file fails to load.
    ///
    /// A gitignore-style directory rule is refused with a message saying
    /// what to write: a rule that matches a directory already covers
    /// everything below it, and patterns are anchored at `/`.
    ///
    /// ```
    /// use deepagent_core::layers::{Operation, Rule, Ruleset};
    /// let set = Ruleset::permissive().with_rule(Operation::Read, Rule::deny("secrets/", "keys"));
    /// let err = set.validate().unwrap_err().to_string();
    /// assert!(err.contains("\"**/secrets\""), "{err}");
    /// let bad: Result<Ruleset, _> = serde_json::from_str(
    ///     r#"{"read": {"default": "allow", "rules": [{"pattern": "/secrets/", "action": "deny"}]}}"#,
    /// );
    /// assert!(bad.is_err());
    /// ```
    pub fn validate(&self) -> crate::Result<()> {
        super::Policy::new(self.clone()).map(|_| ())
    }

    /// The rules of one operation.
    pub fn get(&self, op: Operation) -> &OperationRules {
        match op {
            Operation::Read => &self.read,
            Operation::Write => &self.write,
            Operation::Edit => &self.edit,
            Operation::Execute => &self.execute,
            Operation::Ls => &self.ls,
            Operation::Glob => &self.glob,
            Operation::Grep => &self.grep,
        }
    }

    /// The rules of one operation, to change them.
    pub fn get_mut(&mut self, op: Operation) -> &mut OperationRules {
        match op {
            Operation::Read => &mut self.read,
            Operation::Write => &mut self.write,
            Operation::Edit => &mut self.edit,
            Operation::Execute => &mut self.execute,
            Operation::Ls => &mut self.ls,
            Operation::Glob => &mut self.glob,
            Operation::Grep => &mut self.grep,
        }
    }

    /// Sets the default action of `op`.
    pub fn with_default(mut self, op: Operation, action: Action) -> Self {
        self.get_mut(op).default = action;
        self
    }

    /// Appends `rule` to the rules of `op` (tried after the existing ones).
    pub fn with_rule(mut self, op: Operation, rule: Rule) -> Self {
        self.get_mut(op).rules.push(rule);
        self
    }

    /// Puts `rule` first in the rules of `op`, so it wins over the
    /// existing ones (e.g. an exception to a preset).
    pub fn with_rule_first(mut self, op: Operation, rule: Rule) -> Self {
        self.get_mut(op).rules.insert(0, rule);
        self
    }
}
