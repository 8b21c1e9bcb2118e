//! No spelling of a denied path reaches it: random `./`, `//`, `x/..`
//! insertions, with or without a leading `/`, through every operation.
//! Letter case is kept: matching is case-sensitive, so `.ENV` is another
//! file.

mod support;

use deepagent_core::layers::{PermissionDecision, Permissioned, Ruleset};
use deepagent_core::{Backend, ErrorKind, GlobQuery, GrepQuery, Sandbox};
use proptest::prelude::*;
use support::{block_on, recording_approver, RecordingSandbox};

const SECRETS: &[&str] = &[
    "/.env",
    "/app/.env.production",
    "/certs/server.pem",
    "/deep/er/tls.key",
    "/backup/id_rsa",
    "/home/u/.ssh/authorized_keys",
];
const BODY: &str = "password=swordfish\n";

/// A separator between two components that normalizes to one `/`.
fn separator() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/".to_owned()),
        Just("//".to_owned()),
        Just("/./".to_owned()),
        "[a-z]{1,3}".prop_map(|x| format!("/{x}/../")),
        "[a-z]{1,3}".prop_map(|x| format!("/{x}/./../")),
    ]
}

/// A start that normalizes to the root.
fn start() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("/".to_owned()),
        Just("./".to_owned()),
        Just("//".to_owned()),
        "[a-z]{1,3}".prop_map(|x| format!("{x}/../")),
        "[a-z]{1,3}".prop_map(|x| format!("/{x}/../")),
    ]
}

/// Spells `components` with random separators; `seps` is cycled.
fn spell(start: &str, components: &[&str], seps: &[String], trailing: bool) -> String {
    let mut out = start.to_owned();
    for (i, c) in components.iter().enumerate() {
        if i > 0 {
            out.push_str(&seps[i % seps.len()]);
        }
        out.push_str(c);
    }
    if trailing {
        out.push('/');
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn no_spelling_reaches_a_denied_file(
        which in 0..SECRETS.len(),
        start in start(),
        seps in prop::collection::vec(separator(), 1..4),
        trailing in any::<bool>(),
    ) {
        let target = SECRETS[which];
        let components: Vec<&str> = target.split('/').filter(|c| !c.is_empty()).collect();
        let spelled = spell(&start, &components, &seps, trailing);
        let parent = spell(&start, &components[..components.len() - 1], &seps, false);
        block_on(async {
            let sb = RecordingSandbox::default();
            for s in SECRETS {
                sb.write(s, BODY.into()).await.unwrap();
            }
            sb.write("/visible.txt", BODY.into()).await.unwrap();
            let (approver, asked) = recording_approver(PermissionDecision::Allow);
            let layer = Permissioned::new(sb.clone(), Ruleset::default_preset())
                .unwrap()
                .with_approver(approver);
            let denied = |what: &str, r: Result<String, deepagent_core::BackendError>| match r {
                Err(e) => assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{what} {spelled:?}: {e}"),
                Ok(v) => panic!("{what} {spelled:?} reached {target}: {v}"),
            };
            denied("read_bytes", layer.read_bytes(&spelled).await.map(|b| format!("{b:?}")));
            denied("read", layer.read(&spelled, 0, 10).await.map(|s| format!("{s:?}")));
            denied("write", layer.write(&spelled, "x".into()).await.map(|w| format!("{w:?}")));
            denied("edit", layer.edit(&spelled, "password", "x", deepagent_core::Replace::Once).await.map(|e| format!("{e:?}")));
            denied("grep file", layer.grep(&GrepQuery::new("swordfish").path(&spelled)).await.map(|g| format!("{g:?}")));
            denied("execute", layer.execute(&format!("cat {spelled}"), None).await.map(|x| x.output));
            assert!(!layer.exists(&spelled).await.unwrap(), "exists {spelled:?}");

            if let Ok(list) = layer.ls(&parent).await {
                assert!(list.iter().all(|f| f.path != target), "ls {parent:?} shows {target}");
            }
            if let Ok(found) = layer.glob(&GlobQuery::new("**").path(&parent)).await {
                assert!(found.files.iter().all(|f| f.path != target), "glob {parent:?} shows {target}");
            }
            if let Ok(hits) = layer.grep(&GrepQuery::new("swordfish").path(&parent).ignore_hidden(false)).await {
                assert!(hits.matches.iter().all(|m| m.path == "/visible.txt"), "grep {parent:?} shows {hits:?}");
            }
            let everything = layer.grep(&GrepQuery::new("swordfish").ignore_hidden(false)).await.unwrap();
            let paths: Vec<&str> = everything.matches.iter().map(|m| m.path.as_str()).collect();
            assert_eq!(paths, ["/visible.txt"]);

            assert!(sb.ran().is_empty(), "no command ran: {:?}", sb.ran());
            assert!(asked.lock().unwrap().is_empty(), "nothing was put to the approver");
            assert_eq!(&sb.read_bytes(target).await.unwrap()[..], BODY.as_bytes());
        });
    }

    /// Case is kept, so a differently-cased name is a different file and
    /// the rules do not claim it (documented: matching is case-sensitive).
    #[test]
    fn spelling_never_changes_the_verdict_of_a_visible_file(
        start in start(),
        seps in prop::collection::vec(separator(), 1..4),
    ) {
        let spelled = spell(&start, &["docs", "guide.md"], &seps, false);
        block_on(async {
            let sb = RecordingSandbox::default();
            sb.write("/docs/guide.md", BODY.into()).await.unwrap();
            let layer = Permissioned::new(sb.clone(), Ruleset::default_preset()).unwrap();
            assert_eq!(&layer.read_bytes(&spelled).await.unwrap()[..], BODY.as_bytes());
            assert!(layer.exists(&spelled).await.unwrap());
        });
    }
}
