//! Permission rulesets and the [`Permissioned`] layer that enforces them.
//!
//! A [`Ruleset`] gives each [`Operation`] (read, write, edit, execute, ls,
//! glob, grep) a default [`Action`] (allow, deny, ask) and ordered
//! [`Rule`]s; the first rule that matches wins. Path rules are globs over
//! the normalized path (`*` stays within a component, `**` crosses `/`,
//! case-sensitive; a rule that matches a directory covers its contents);
//! `execute` rules are regexes over the command. Presets:
//! [`Ruleset::default_preset`], [`Ruleset::readonly`],
//! [`Ruleset::strict`], [`Ruleset::permissive`]. Rulesets are serde types,
//! so they load from TOML or JSON:
//!
//! ```toml
//! [write]
//! default = "ask"
//! rules = [{ pattern = "docs/**", action = "allow", description = "docs are free to change" }]
//!
//! [execute]
//! default = "deny"
//! ```
//!
//! `ask` goes to an [`Approver`]; with none, the operation is denied with a
//! message saying approval was required.
//!
//! Patterns are anchored at `/` and match the path or any of its
//! directories, so `secrets` covers `/secrets/key` and `**/secrets` covers
//! a `secrets` directory at any depth. A gitignore-style pattern ending in
//! `/` (`secrets/`, `/secrets/`) could never match a normalized path, so
//! loading a ruleset (serde, [`Ruleset::validate`], [`Policy::new`])
//! refuses it with a message saying what to write instead.
//!
//! Rules are checked against the spelling and against where a symbolic
//! link makes the path lead; the `execute` check is a tripwire, not a
//! boundary (see [`Permissioned`] and `SECURITY.md`).
//!
//! ```
//! use deepagent_core::layers::{Action, Operation, Policy, Ruleset};
//! use deepagent_core::VPath;
//!
//! let policy = Policy::new(Ruleset::default_preset())?;
//! for spelling in ["/.env", "//.env", "./.env", "/a/../.env", "config/.env.local"] {
//!     let path = VPath::new(spelling)?;
//!     assert_eq!(policy.check_path(Operation::Read, &path).action, Action::Deny);
//! }
//! assert_eq!(policy.check_path(Operation::Write, &VPath::new("/src/app.py")?).action, Action::Ask);
//! # Ok::<(), deepagent_core::BackendError>(())
//! ```

mod approval;
mod command;
mod layer;
mod policy;
mod presets;
mod rules;

pub use approval::{approver_fn, ApprovalRequest, Approver, FnApprover, PermissionDecision};
pub use layer::Permissioned;
pub use policy::{Policy, Verdict};
pub use rules::{Action, Operation, OperationRules, Rule, Ruleset};
