//! The four presets: DEFAULT, READONLY, STRICT and PERMISSIVE.

use super::rules::{Action, Operation, OperationRules, Rule, Ruleset};

/// Files that hold credentials. A pattern that matches a directory covers
/// its contents, so `**/.ssh` protects every key below it.
fn secret_rules() -> Vec<Rule> {
    vec![
        Rule::deny(
            "**/.env*",
            "environment files (.env, .env.local, ...) hold secrets",
        ),
        Rule::deny("**/*.pem", "PEM files hold certificates and private keys"),
        Rule::deny("**/*.key", "key files hold private keys"),
        Rule::deny("**/id_rsa*", "SSH private keys (id_rsa)"),
        Rule::deny("**/.ssh", "the .ssh directory holds SSH keys and config"),
    ]
}

/// Disk devices, for the `dd` rule: writing to `/dev/null` stays allowed.
const DISKS: &str = r"/dev/(?:[shv]d|xvd|nvme|mmcblk|disk|mapper/|md|loop|dm-|sr|mem|kmem)";

/// Commands that destroy a machine or hand it to someone else. Patterns
/// are regexes searched in the command (see [`Rule`]).
fn dangerous_command_rules() -> Vec<Rule> {
    // A command word starts the command, or follows a separator, a
    // subshell opener or a wrapper such as `xargs` or `env`.
    let cmd = r"(?:^|[;&|(`\n]|\$\(|\b(?:xargs|env|exec|nohup|time|nice|command)\s)\s*";
    vec![
        Rule::deny(
            format!(
                r"{cmd}(?:sudo\s+)?rm\s+(?:-{{1,2}}[\w-]+\s+)*(?:/|/\*|~/?|\$HOME/?|\$\{{HOME\}}/?)(?:\s|$|[;&|)])"
            ),
            "rm of / or the home directory deletes everything",
        ),
        Rule::deny(
            format!(r"{cmd}(?:sudo|doas)\b"),
            "sudo runs commands as root; do the work as the current user",
        ),
        Rule::deny(
            concat!(
                r"\b(?:curl|wget)\b[^;&]*\|\s*(?:sudo\s+)?(?:[\w./-]*/)?(?:ba|da|z|k)?sh\b",
                r"|\b(?:ba|da|z|k)?sh\b[^;&|]*<\(\s*(?:curl|wget)\b",
                r#"|\b(?:ba|da|z|k)?sh\s+-c\s+["']?\$\(\s*(?:curl|wget)\b"#
            ),
            "piping a download into a shell runs unreviewed code; download, read, then run it",
        ),
        Rule::deny(
            format!(r"{cmd}mkfs(?:\.\w+)?\b"),
            "mkfs formats a filesystem",
        ),
        Rule::deny(
            format!(r"\bdd\b[^;&|]*\bof={DISKS}|>\s*{DISKS}"),
            "writing raw bytes onto a disk device destroys it",
        ),
    ]
}

fn rules(default: Action, rules: Vec<Rule>) -> OperationRules {
    OperationRules { default, rules }
}

impl Ruleset {
    /// Everything allowed: the layer is transparent.
    pub fn permissive() -> Self {
        Ruleset::default()
    }

    /// DEFAULT: read freely, ask before changing anything or running a
    /// command, never touch secrets, never run destructive commands.
    ///
    /// - secrets (`**/.env*`, `**/*.pem`, `**/*.key`, `**/id_rsa*`,
    ///   `**/.ssh`) are denied for read, write, edit, ls, glob and grep,
    ///   so they are hidden from listings and searches too;
    /// - `rm -rf /` (or `~`), `sudo`, `curl ... | sh` / `wget ... | sh`,
    ///   `mkfs`, `dd of=/dev/<disk>` are denied for execute;
    /// - other writes, edits and commands ask the approver.
    ///
    /// The secret rules hold for the file tools, through links too (see
    /// [`Permissioned`](super::Permissioned)). For commands they are a
    /// **tripwire, not a boundary**: a command is refused when it names a
    /// secret or matches a destructive pattern, but a shell builds paths
    /// at run time, so globs (`cat .en?`), variables (`f=.e; cat ${f}nv`)
    /// and indirect reads (`grep -r TOKEN .`, a script the agent wrote)
    /// get past it. Against an agent that may be hostile, give it a
    /// `DockerSandbox` with no secrets inside; see `SECURITY.md`.
    pub fn default_preset() -> Self {
        let secrets = secret_rules();
        Ruleset {
            read: rules(Action::Allow, secrets.clone()),
            write: rules(Action::Ask, secrets.clone()),
            edit: rules(Action::Ask, secrets.clone()),
            execute: rules(Action::Ask, dangerous_command_rules()),
            ls: rules(Action::Allow, secrets.clone()),
            glob: rules(Action::Allow, secrets.clone()),
            grep: rules(Action::Allow, secrets),
        }
    }

    /// READONLY: reads, listings and searches allowed (secrets still
    /// denied); write, edit and execute denied.
    pub fn readonly() -> Self {
        let secrets = secret_rules();
        Ruleset {
            read: rules(Action::Allow, secrets.clone()),
            write: rules(Action::Deny, Vec::new()),
            edit: rules(Action::Deny, Vec::new()),
            execute: rules(Action::Deny, Vec::new()),
            ls: rules(Action::Allow, secrets.clone()),
            glob: rules(Action::Allow, secrets.clone()),
            grep: rules(Action::Allow, secrets),
        }
    }

    /// STRICT: every operation asks, including reads and listings. What
    /// DEFAULT denies (secrets, destructive commands) stays denied:
    /// a stricter preset never allows more.
    pub fn strict() -> Self {
        let mut set = Ruleset::default_preset();
        for op in Operation::ALL {
            set.get_mut(op).default = Action::Ask;
        }
        set
    }

    /// A preset by name: `default`, `readonly`, `strict` or `permissive`
    /// (case-insensitive), e.g. from a command-line flag.
    ///
    /// ```
    /// use deepagent_core::layers::Ruleset;
    /// assert_eq!(Ruleset::preset("STRICT"), Some(Ruleset::strict()));
    /// assert_eq!(Ruleset::preset("lenient"), None);
    /// ```
    pub fn preset(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "default" => Some(Ruleset::default_preset()),
            "readonly" | "read-only" | "read_only" => Some(Ruleset::readonly()),
            "strict" => Some(Ruleset::strict()),
            "permissive" => Some(Ruleset::permissive()),
            _ => None,
        }
    }
}
