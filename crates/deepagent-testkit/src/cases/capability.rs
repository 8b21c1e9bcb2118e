//! The optional operations a backend may lack, and the checks that keep a
//! backend's declaration in [`conformance_tests!`](crate::conformance_tests)
//! honest.
//!
//! A case for an operation the backend lacks is not run and counted as
//! passed: the invocation declares `lacks [..]`, the macro generates
//! those cases with `#[ignore = "backend lacks ..."]` (cargo reports them
//! as ignored), and one always-run test,
//! `declared_capabilities_agree_with_info`, fails when the declaration and
//! the backend's [`info`](deepagent_core::Backend::info) disagree, either
//! way. Run the ignored ones (`cargo test -- --ignored`) and each checks
//! instead that the operation is refused as `Unsupported` (or, for
//! `execute`, that the backend is no sandbox).

use super::*;

/// The optional operations a backend may declare it lacks.
pub const OPTIONAL: &[&str] = &["delete", "rename", "execute"];

/// Whether the backend's [`info`](deepagent_core::Backend::info) says it
/// supports `capability` (one of [`OPTIONAL`]).
pub fn has(b: &B, capability: &str) -> bool {
    let caps = b.info().capabilities;
    match capability {
        "delete" => caps.delete,
        "rename" => caps.rename,
        "execute" => caps.execute,
        other => panic!("unknown optional capability {other:?} (known: {OPTIONAL:?})"),
    }
}

/// Fails the case unless the backend supports `capability`: a backend
/// without it must declare `lacks [capability]` so the case is generated
/// as ignored, not run.
#[track_caller]
pub fn require(b: &B, capability: &str) {
    assert!(
        has(b, capability),
        "[{}] this case needs `{capability}`, which the backend's info() says it lacks; \
         declare it: conformance_tests!(lacks [{capability}], ..)",
        b.name()
    );
}

/// What an ignored case runs (with `--ignored`): the backend lacks
/// `capability` and says so consistently. `delete`/`rename` are refused
/// as [`ErrorKind::Unsupported`]; a backend without `execute` is no
/// [`Sandbox`](deepagent_core::Sandbox).
pub async fn lacks(b: B, capability: &'static str) {
    assert!(
        !has(&b, capability),
        "[{}] declared to lack `{capability}`, but its info() says it has it",
        b.name()
    );
    match capability {
        "delete" => {
            put(&b, "/lacks-delete.txt", "x").await;
            expect_err(
                &b,
                "delete without the capability",
                b.delete("/lacks-delete.txt", false).await,
                ErrorKind::Unsupported,
            );
            assert!(ok(&b, "exists", b.exists("/lacks-delete.txt").await));
        }
        "rename" => {
            put(&b, "/lacks-rename.txt", "x").await;
            expect_err(
                &b,
                "rename without the capability",
                b.rename("/lacks-rename.txt", "/renamed.txt").await,
                ErrorKind::Unsupported,
            );
            assert!(ok(&b, "exists", b.exists("/lacks-rename.txt").await));
        }
        "execute" => assert!(
            b.as_sandbox().is_none(),
            "[{}] declared to lack `execute` and its info() agrees, but as_sandbox() is Some",
            b.name()
        ),
        other => panic!("unknown optional capability {other:?} (known: {OPTIONAL:?})"),
    }
}

/// The always-run check of a declaration: every optional capability the
/// invocation declared lacking is absent from the backend's info, and
/// every one it did not declare is present. `execute` must also agree
/// with [`as_sandbox`](deepagent_core::Backend::as_sandbox).
pub async fn declared_capabilities_agree_with_info(
    b: B,
    declared_lacking: &'static [&'static str],
) {
    for name in declared_lacking {
        assert!(
            OPTIONAL.contains(name),
            "lacks [{name}]: not an optional capability (known: {OPTIONAL:?})"
        );
    }
    let mut wrong = Vec::new();
    for &capability in OPTIONAL {
        let declared = !declared_lacking.contains(&capability);
        let actual = has(&b, capability);
        if declared != actual {
            wrong.push(format!(
                "`{capability}`: info() says {}, the invocation {}",
                if actual { "supported" } else { "not supported" },
                if declared {
                    "does not declare it lacking"
                } else {
                    "declares it lacking"
                }
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "[{}] conformance_tests!(lacks [..]) disagrees with the backend: {}",
        b.name(),
        wrong.join("; ")
    );
    assert_eq!(
        has(&b, "execute"),
        b.as_sandbox().is_some(),
        "[{}] info().capabilities.execute and as_sandbox() disagree",
        b.name()
    );
}
