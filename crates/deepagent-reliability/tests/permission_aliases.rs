//! Permission rules match the file, not the spelling (issue 11, items 7,
//! 9 and 10): a symbolic link inside a LocalBackend root gives no access a
//! rule denies, an edit needs read permission, and a gitignore-style
//! directory rule is refused when the ruleset loads instead of being
//! silently ignored.
//!
//! The hostile repository here holds `.env` and `.ssh/authorized_keys`
//! (both denied by the DEFAULT preset) and two aliases an attacker could
//! commit: `docs/notes.txt -> ../.env` and `keys -> .ssh`. The approver
//! allows everything it is asked, so only deny rules stand in the way.

use std::path::Path;
use std::sync::Arc;

use deepagent_composite::CompositeBackend;
use deepagent_core::layers::{
    approver_fn, Operation, PermissionDecision, Permissioned, Rule, Ruleset, Scoped,
};
use deepagent_core::{Backend, ErrorKind, GlobQuery, GrepQuery};
use deepagent_local::LocalBackend;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const SECRET: &str = "API_TOKEN=hunter2\n";
const KEY: &str = "ssh-ed25519 AAAA attacker-wants-this\n";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime")
}

/// The hostile repository: secrets, aliases to them, and ordinary files.
fn plant(root: &Path) {
    std::fs::create_dir_all(root.join(".ssh")).unwrap();
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join(".env"), SECRET).unwrap();
    std::fs::write(root.join(".ssh/authorized_keys"), KEY).unwrap();
    std::fs::write(root.join("docs/readme.md"), "read me\n").unwrap();
    std::os::unix::fs::symlink("../.env", root.join("docs/notes.txt")).unwrap();
    std::os::unix::fs::symlink(".ssh", root.join("keys")).unwrap();
}

fn allow_all<B: Backend>(inner: B, rules: Ruleset) -> Permissioned<B> {
    Permissioned::new(inner, rules)
        .expect("ruleset")
        .with_approver(approver_fn(|_| async { PermissionDecision::Allow }))
}

fn local(root: &Path) -> LocalBackend {
    LocalBackend::builder(root)
        .sync_writes(false)
        .build()
        .expect("backend")
}

fn assert_denied<T: std::fmt::Debug>(what: &str, res: deepagent_core::Result<T>) {
    match res {
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
        other => panic!("{what}: expected PermissionDenied, got {other:?}"),
    }
}

/// Every operation through every alias, against `guarded` whose `/`
/// holds the planted repository under `prefix` (`""` or a mount).
async fn no_access_through_aliases(guarded: &dyn Backend, prefix: &str, root: &Path) {
    let notes = format!("{prefix}/docs/notes.txt");
    let keys = format!("{prefix}/keys");
    let key_file = format!("{prefix}/keys/authorized_keys");

    // read, read_bytes
    assert_denied("read via file link", guarded.read(&notes, 0, 10).await);
    assert_denied("read_bytes via file link", guarded.read_bytes(&notes).await);
    assert_denied("read via dir link", guarded.read(&key_file, 0, 10).await);
    assert_denied(
        "read via dir link, odd spelling",
        guarded
            .read_bytes(&format!("{prefix}//keys/./authorized_keys"))
            .await,
    );
    assert!(
        !guarded.exists(&notes).await.unwrap(),
        "exists via file link"
    );
    assert!(
        !guarded.exists(&key_file).await.unwrap(),
        "exists via dir link"
    );

    // ls: the linked directory is refused, and no link to a secret is
    // listed (its entry would show the secret's size).
    assert_denied("ls of dir link", guarded.ls(&keys).await);
    let docs = guarded.ls(&format!("{prefix}/docs")).await.unwrap();
    let names: Vec<&str> = docs.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["readme.md"], "ls /docs shows a link to .env");
    let top = guarded
        .ls(if prefix.is_empty() { "/" } else { prefix })
        .await
        .unwrap();
    assert!(
        top.iter().all(|f| f.name != "keys"),
        "ls / shows the link to .ssh: {top:?}"
    );

    // grep, glob: from the aliases and from the top.
    let pattern = "hunter2|attacker-wants-this";
    for base in [notes.as_str(), keys.as_str()] {
        match guarded.grep(&GrepQuery::new(pattern).path(base)).await {
            Err(e) => assert_eq!(e.kind(), ErrorKind::PermissionDenied, "grep {base}: {e}"),
            Ok(r) => assert!(r.matches.is_empty(), "grep {base} found {:?}", r.matches),
        }
        match guarded.glob(&GlobQuery::new("**").path(base)).await {
            Err(e) => assert_eq!(e.kind(), ErrorKind::PermissionDenied, "glob {base}: {e}"),
            Ok(r) => assert!(r.files.is_empty(), "glob {base} found {:?}", r.files),
        }
    }
    let everywhere = guarded
        .grep(&GrepQuery::new(pattern).path(if prefix.is_empty() { "/" } else { prefix }))
        .await
        .unwrap();
    assert!(everywhere.matches.is_empty(), "{:?}", everywhere.matches);

    // write, edit: refused, and the secrets are unchanged.
    assert_denied(
        "write via dir link",
        guarded.write(&key_file, "ssh-rsa EVIL\n".into()).await,
    );
    assert_denied(
        "write via file link",
        guarded.write(&notes, "API_TOKEN=evil\n".into()).await,
    );
    assert_denied(
        "edit via dir link",
        guarded
            .edit(
                &key_file,
                "ssh-ed25519",
                "ssh-rsa",
                deepagent_core::Replace::Once,
            )
            .await,
    );
    assert_denied(
        "edit via file link",
        guarded
            .edit(&notes, "hunter2", "evil", deepagent_core::Replace::Once)
            .await,
    );
    assert_eq!(std::fs::read_to_string(root.join(".env")).unwrap(), SECRET);
    assert_eq!(
        std::fs::read_to_string(root.join(".ssh/authorized_keys")).unwrap(),
        KEY
    );

    // Ordinary files still work through the same layer.
    let readme = format!("{prefix}/docs/readme.md");
    guarded.write(&readme, "read me\n".into()).await.unwrap();
    assert_eq!(
        guarded.read(&readme, 0, 10).await.unwrap().lines,
        ["read me"]
    );
    guarded
        .edit(
            &readme,
            "read me",
            "read me twice",
            deepagent_core::Replace::Once,
        )
        .await
        .unwrap();
}

#[test]
fn default_preset_gives_no_access_through_symlinks_in_a_local_root() {
    let dir = tempfile::tempdir().unwrap();
    plant(dir.path());
    let guarded = allow_all(local(dir.path()), Ruleset::default_preset());
    rt().block_on(no_access_through_aliases(&guarded, "", dir.path()));
}

#[test]
fn symlinks_stay_denied_through_a_composite_mount_and_a_scope() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    plant(&repo);
    let scratch = tempfile::tempdir().unwrap();
    let composite = CompositeBackend::builder(local(scratch.path()))
        .route("/project/", local(&repo))
        .build();
    let guarded = allow_all(composite, Ruleset::default_preset());
    rt().block_on(no_access_through_aliases(&guarded, "/project", &repo));

    // The same repository one directory down, presented as `/` by Scoped.
    let scoped = Scoped::new(Arc::new(local(dir.path())), "/repo").unwrap();
    let guarded = allow_all(scoped, Ruleset::default_preset());
    rt().block_on(no_access_through_aliases(&guarded, "", &repo));
}

/// A rule on the spelling alone is still a rule: a link whose target is
/// allowed does not unlock a path whose own name is denied.
#[test]
fn a_denied_spelling_stays_denied_when_its_target_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plain.txt"), "fine\n").unwrap();
    std::os::unix::fs::symlink("plain.txt", dir.path().join("secret.pem")).unwrap();
    let guarded = allow_all(local(dir.path()), Ruleset::default_preset());
    rt().block_on(async {
        assert_denied(
            "read of a denied name",
            guarded.read("/secret.pem", 0, 1).await,
        );
        assert_eq!(
            guarded.read("/plain.txt", 0, 1).await.unwrap().lines,
            ["fine"]
        );
    });
}

/// Item 9: with read denied and edit allowed, an edit used to answer
/// whether `old` is in the file (and how often): a read oracle.
#[test]
fn edit_needs_read_permission() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("private")).unwrap();
    std::fs::write(dir.path().join("private/salary.txt"), "alice 120000\n").unwrap();
    std::fs::write(dir.path().join("open.txt"), "hello\n").unwrap();
    let rules = Ruleset::permissive().with_rule(
        Operation::Read,
        Rule::deny("private/**", "private files are not to be read"),
    );
    let guarded = Permissioned::new(local(dir.path()), rules).unwrap();
    rt().block_on(async {
        for guess in ["alice 120000", "alice 99999"] {
            let err = guarded
                .edit(
                    "/private/salary.txt",
                    guess,
                    "REDACTED",
                    deepagent_core::Replace::Once,
                )
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
            assert!(err.to_string().contains("read"), "{err}");
        }
        // Edits of readable files are untouched by the new rule.
        guarded
            .edit("/open.txt", "hello", "bye", deepagent_core::Replace::Once)
            .await
            .unwrap();
    });
    assert_eq!(
        std::fs::read_to_string(dir.path().join("private/salary.txt")).unwrap(),
        "alice 120000\n"
    );
}

/// Item 9 with `ask`: an edit of a file whose read asks goes to the
/// approver even when edit itself is allowed.
#[test]
fn edit_asks_when_read_asks() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "x\n").unwrap();
    let rules =
        Ruleset::permissive().with_default(Operation::Read, deepagent_core::layers::Action::Ask);
    let guarded = Permissioned::new(local(dir.path()), rules).unwrap();
    rt().block_on(async {
        let err = guarded
            .edit("/a.txt", "x", "y", deepagent_core::Replace::Once)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        assert!(err.to_string().contains("approval"), "{err}");
    });
}

/// Item 10: `secrets/` and `/secrets/` matched nothing and were loaded
/// without a word. Now loading fails, naming the pattern and the fix.
#[test]
fn gitignore_style_directory_rules_are_refused_at_load() {
    for pattern in [
        "secrets/",
        "/secrets/",
        "./secrets/",
        "**/secrets/",
        "secrets//key",
    ] {
        let json_text = format!(
            r#"{{"read": {{"default": "allow", "rules": [{{"pattern": "{pattern}", "action": "deny"}}]}}}}"#
        );
        let from_json = serde_json::from_str::<Ruleset>(&json_text);
        let err = from_json.expect_err(pattern).to_string();
        assert!(err.contains(pattern), "{err}");
        let built = Ruleset::permissive().with_rule(Operation::Read, Rule::deny(pattern, ""));
        let err = Permissioned::new(local(tempfile::tempdir().unwrap().path()), built).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidPattern, "{err}");
    }
    let msg = deepagent_core::layers::Policy::new(
        Ruleset::permissive().with_rule(Operation::Write, Rule::deny("secrets/", "")),
    )
    .unwrap_err()
    .to_string();
    assert!(
        msg.contains("\"secrets\"") && msg.contains("\"**/secrets\""),
        "the message says what to write instead: {msg}"
    );
    // Execute patterns are regexes: a trailing `/` there is fine.
    deepagent_core::layers::Policy::new(
        Ruleset::permissive().with_rule(Operation::Execute, Rule::deny("rm -rf /", "")),
    )
    .unwrap();
}

/// Whatever way a directory rule is written, it is either refused when
/// the ruleset is built, or it denies everything below the directory.
#[test]
fn a_directory_rule_is_never_silently_ignored() {
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    let spelling = prop_oneof![
        Just("{}"),
        Just("/{}"),
        Just("./{}"),
        Just("{}/"),
        Just("/{}/"),
        Just("{}//"),
        Just("{}/**"),
        Just("/{}/**"),
        Just("**/{}"),
        Just("**/{}/"),
        Just("**/{}/**"),
    ];
    let strategy = (
        "[a-z][a-z0-9_.-]{0,8}",
        spelling,
        "[a-z]{1,6}(/[a-z]{1,6}){0,2}",
    );
    runner
        .run(&strategy, |(dir, spelling, below)| {
            prop_assume!(dir != "." && !dir.starts_with(".."));
            let pattern = spelling.replace("{}", &dir);
            let rules = Ruleset::permissive()
                .with_rule(Operation::Read, Rule::deny(pattern.clone(), "private"));
            let Ok(policy) = deepagent_core::layers::Policy::new(rules.clone()) else {
                // Refused: also when loaded from a file.
                let json = serde_json::to_string(&rules).unwrap();
                prop_assert!(serde_json::from_str::<Ruleset>(&json).is_err());
                return Ok(());
            };
            let inside = deepagent_core::VPath::new(&format!("/{dir}/{below}")).unwrap();
            prop_assert!(
                policy.denies(Operation::Read, &inside),
                "{pattern:?} loaded but does not deny {inside}"
            );
            Ok(())
        })
        .unwrap();
}

/// Every wrapper forwards `resolve_links`: one that did not would judge
/// the spelling alone, and the alias would get through again.
#[test]
fn read_only_and_shared_backends_forward_the_resolution() {
    let dir = tempfile::tempdir().unwrap();
    plant(dir.path());
    let shared: Arc<dyn Backend> =
        Arc::new(deepagent_core::layers::ReadOnly::new(local(dir.path())));
    let guarded = allow_all(shared.clone(), Ruleset::default_preset());
    let boxed: Box<dyn Backend> = Box::new(allow_all(shared, Ruleset::permissive()));
    let outer = allow_all(boxed, Ruleset::default_preset());
    rt().block_on(async {
        assert_denied(
            "read via ReadOnly in an Arc",
            guarded.read_bytes("/docs/notes.txt").await,
        );
        assert_denied("ls via ReadOnly in an Arc", guarded.ls("/keys").await);
        // A permissive layer inside a strict one still forwards.
        assert_denied(
            "read via nested layers",
            outer.read_bytes("/keys/authorized_keys").await,
        );
        assert_eq!(
            outer
                .resolve_links(&[
                    "/docs/notes.txt".to_owned(),
                    "/keys/x/y".to_owned(),
                    "/docs".to_owned()
                ])
                .await
                .unwrap(),
            [
                Some("/.env".to_owned()),
                Some("/.ssh/x/y".to_owned()),
                Some("/docs".to_owned())
            ]
        );
    });
}

/// A link out of a `Scoped` view has no name in it: `None`, and the
/// spelling is all the layer can judge (the inner backend still refuses
/// what its own jail refuses).
#[test]
fn scoped_answers_none_for_a_link_out_of_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("view")).unwrap();
    std::fs::write(dir.path().join("outside.txt"), "x\n").unwrap();
    std::os::unix::fs::symlink("../outside.txt", dir.path().join("view/out")).unwrap();
    std::fs::write(dir.path().join("view/in.txt"), "y\n").unwrap();
    let scoped = Scoped::new(Arc::new(local(dir.path())), "/view").unwrap();
    rt().block_on(async {
        let real = scoped
            .resolve_links(&["/out".to_owned(), "in.txt".to_owned()])
            .await
            .unwrap();
        assert_eq!(real, [None, Some("/in.txt".to_owned())]);
        let err = scoped
            .resolve_links(&["/../x".to_owned()])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidPath);
    });
}
