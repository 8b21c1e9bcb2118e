//! Issue 11 item 14: the command check in rulesets is a tripwire, and the
//! docs say so. This pins both halves: the public docs (`SECURITY.md`,
//! `Permissioned`, `Ruleset::default_preset`) name the bypass classes, and
//! each class really does get past the DEFAULT preset while the plain
//! spelling is caught, so the docs stay honest if the check ever changes.

use deepagent_core::layers::{approver_fn, PermissionDecision, Permissioned, Ruleset};
use deepagent_core::{ErrorKind, Sandbox};
use deepagent_local::LocalBackend;

const SECURITY_MD: &str = include_str!("../../../SECURITY.md");
const LAYER_DOCS: &str = include_str!("../../deepagent-core/src/layers/permissions/layer.rs");
const PRESET_DOCS: &str = include_str!("../../deepagent-core/src/layers/permissions/presets.rs");

/// One example of each bypass class, as the docs write it.
const BYPASSES: [(&str, &str); 3] = [
    ("globs", "cat .en?"),
    ("variables", "f=.e; cat ${f}nv"),
    ("indirect reads", "grep -r TOKEN ."),
];

/// The text with doc-comment markers dropped and whitespace collapsed, so
/// a phrase is found across line breaks.
fn prose(text: &str) -> String {
    text.replace("///", " ")
        .replace("//!", " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_docs_call_the_command_check_a_tripwire_and_list_the_bypasses() {
    for (name, text) in [
        ("SECURITY.md", prose(SECURITY_MD)),
        ("Permissioned docs", prose(LAYER_DOCS)),
        ("default_preset docs", prose(PRESET_DOCS)),
    ] {
        assert!(text.contains("tripwire"), "{name} does not say tripwire");
        assert!(
            text.contains("DockerSandbox") && text.contains("no secrets"),
            "{name} does not give the advice"
        );
        for (class, example) in BYPASSES {
            assert!(text.contains(class), "{name} does not name {class}");
            if name == "SECURITY.md" {
                assert!(
                    text.contains(example),
                    "{name} lacks the example {example:?}"
                );
            }
        }
    }
    for topic in [
        "Threat model",
        "Out of scope",
        "hard link",
        "FIFO",
        "timeout",
    ] {
        assert!(
            SECURITY_MD.to_lowercase().contains(&topic.to_lowercase()),
            "SECURITY.md does not cover {topic}"
        );
    }
}

#[test]
fn the_documented_bypasses_are_real_and_the_plain_spelling_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "TOKEN=hunter2\n").unwrap();
    let backend = LocalBackend::builder(dir.path())
        .sync_writes(false)
        .build()
        .unwrap();
    let guarded = Permissioned::new(backend, Ruleset::default_preset())
        .unwrap()
        .with_approver(approver_fn(|_| async { PermissionDecision::Allow }));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let err = guarded.execute("cat .env", None).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        for (class, command) in BYPASSES {
            let run = guarded.execute(command, None).await.unwrap();
            assert!(
                run.output.contains("hunter2"),
                "{class} ({command}) no longer gets past the check: update SECURITY.md \
                 and the docs, which say it does; got {run:?}"
            );
        }
    });
}
