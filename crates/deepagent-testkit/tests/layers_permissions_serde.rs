//! Rulesets load from TOML and JSON, and every preset survives a round
//! trip through both.

use deepagent_core::layers::{Action, Operation, Policy, Rule, Ruleset};
use deepagent_core::VPath;

fn presets() -> [(&'static str, Ruleset); 4] {
    [
        ("default", Ruleset::default_preset()),
        ("readonly", Ruleset::readonly()),
        ("strict", Ruleset::strict()),
        ("permissive", Ruleset::permissive()),
    ]
}

#[test]
fn presets_round_trip_through_json() {
    for (name, preset) in presets() {
        let json = serde_json::to_string_pretty(&preset).unwrap();
        let back: Ruleset = serde_json::from_str(&json).unwrap();
        assert_eq!(back, preset, "{name}");
        assert_eq!(Ruleset::preset(name), Some(preset));
    }
}

#[test]
fn presets_round_trip_through_toml() {
    for (name, preset) in presets() {
        let text = toml::to_string(&preset).unwrap();
        let back: Ruleset = toml::from_str(&text).unwrap();
        assert_eq!(back, preset, "{name}:\n{text}");
    }
}

const HAND_WRITTEN: &str = r#"
[read]
default = "allow"
rules = [
  { pattern = "**/.env*", action = "deny", description = "secrets" },
]

[write]
default = "ask"

[[write.rules]]
pattern = "/docs/**"
action = "allow"
description = "docs are free to change"

[[write.rules]]
pattern = "Cargo.lock"
action = "deny"

[execute]
default = "deny"
rules = [{ pattern = '^cargo (test|check)\b', action = "allow", description = "builds" }]
"#;

#[test]
fn a_hand_written_toml_file_means_what_it_says() {
    let rules: Ruleset = toml::from_str(HAND_WRITTEN).unwrap();
    assert_eq!(
        rules.write.rules[1],
        Rule::new("Cargo.lock", Action::Deny, "")
    );
    let policy = Policy::new(rules).unwrap();
    let path = |p: &str| VPath::new(p).unwrap();
    assert_eq!(
        policy.check_path(Operation::Read, &path("/x/.env")).action,
        Action::Deny
    );
    assert_eq!(
        policy
            .check_path(Operation::Write, &path("docs/a/b.md"))
            .action,
        Action::Allow
    );
    assert_eq!(
        policy
            .check_path(Operation::Write, &path("/src/a.rs"))
            .action,
        Action::Ask
    );
    let lock = policy.check_path(Operation::Write, &path("/Cargo.lock"));
    assert_eq!(lock.action, Action::Deny);
    assert!(
        lock.reason.contains("Cargo.lock"),
        "an empty description names the rule: {}",
        lock.reason
    );
    assert_eq!(
        policy.check_command("cargo test -p x").action,
        Action::Allow
    );
    assert_eq!(policy.check_command("make").action, Action::Deny);
    // Sections left out allow.
    assert_eq!(
        policy.check_path(Operation::Grep, &path("/any")).action,
        Action::Allow
    );
}

#[test]
fn the_same_ruleset_in_json() {
    let json = r#"{
        "read": { "default": "allow", "rules": [ { "pattern": "**/.env*", "action": "deny", "description": "secrets" } ] },
        "write": { "default": "ask", "rules": [
            { "pattern": "/docs/**", "action": "allow", "description": "docs are free to change" },
            { "pattern": "Cargo.lock", "action": "deny" } ] },
        "execute": { "default": "deny", "rules": [ { "pattern": "^cargo (test|check)\\b", "action": "allow", "description": "builds" } ] }
    }"#;
    let from_json: Ruleset = serde_json::from_str(json).unwrap();
    let from_toml: Ruleset = toml::from_str(HAND_WRITTEN).unwrap();
    assert_eq!(from_json, from_toml);
}

#[test]
fn typos_are_errors_not_silent_permissions() {
    // A misspelt section would otherwise leave execute allowed.
    assert!(toml::from_str::<Ruleset>("[exec]\ndefault = \"deny\"\n").is_err());
    assert!(toml::from_str::<Ruleset>("[write]\ndefault = \"nope\"\n").is_err());
    assert!(toml::from_str::<Ruleset>("[write]\ndefualt = \"deny\"\n").is_err());
    assert!(serde_json::from_str::<Ruleset>(r#"{"read": {"default": "allow", "rules": [{"pattern": "x", "action": "deny", "reasn": "y"}]}}"#).is_err());
    assert!(
        toml::from_str::<Ruleset>("[write]\nrules = []\n").is_err(),
        "default is required"
    );
}
