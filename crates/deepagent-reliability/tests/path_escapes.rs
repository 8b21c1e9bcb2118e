//! Hostile paths against the normalizer and the in-memory backend.
//!
//! Case counts are fixed here so the report can quote them; set
//! `PROPTEST_CASES` to run more.

use deepagent_core::{Backend, ErrorKind, VPath};
use deepagent_reliability::hostile::{self, reference_normalize};
use deepagent_reliability::probe::{probe, Forbidden, Tally};
use deepagent_state::StateBackend;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

use deepagent_testkit::prop::{cases, quiet};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

proptest! {
    #![proptest_config(quiet(cases(20_000)))]

    /// The normalizer agrees exactly with the naive statement of the rules:
    /// refused when it must be, otherwise the same path, and a normalized
    /// path never has a `.`, `..` or empty component.
    #[test]
    fn vpath_matches_reference(input in hostile::path()) {
        let real = VPath::new(&input);
        match reference_normalize(&input) {
            None => {
                let err = real.expect_err("must be refused");
                prop_assert_eq!(err.kind(), ErrorKind::InvalidPath);
                prop_assert!(err.to_string().contains("invalid path"));
            }
            Some(expected) => {
                let p = real.map_err(|e| TestCaseError::fail(format!("{input:?}: {e}")))?;
                prop_assert_eq!(p.as_str(), expected.as_str());
                for c in p.components() {
                    prop_assert!(c != ".." && c != "." && !c.is_empty());
                }
                // Idempotent: normalizing again changes nothing.
                prop_assert_eq!(VPath::new(p.as_str()).ok(), Some(p));
            }
        }
    }

    /// Percent-encoded and look-alike forms are names: they survive
    /// normalization literally and never count as a way up.
    #[test]
    fn encoded_and_lookalike_dots_are_names(
        pre in "[a-z]{1,3}",
        fake in prop_oneof![
            Just("%2e%2e"), Just("%2E%2E"), Just("%2e%2e%2f"), Just("..%2f"),
            Just("\u{FF0E}\u{FF0E}"), Just("\u{2025}"), Just("\u{FF0F}"), Just("..\u{FF0F}.."),
        ],
        post in "[a-z]{1,3}",
    ) {
        let p = VPath::new(&format!("{pre}/{fake}/{post}")).expect("names only");
        prop_assert_eq!(p.as_str(), format!("/{pre}/{fake}/{post}"));
        prop_assert_eq!(p.components().count(), 3);
        // At the top they cannot climb either.
        let top = VPath::new(&format!("{fake}/{post}")).expect("names only");
        prop_assert_eq!(top.components().next(), Some(fake));
    }

    /// `..` at every depth: escapes exactly when it climbs past the root.
    #[test]
    fn dotdot_everywhere_is_refused(input in hostile::dotdot_everywhere()) {
        let err = VPath::new(&input).expect_err("climbs above the root");
        prop_assert_eq!(err.kind(), ErrorKind::InvalidPath);
    }
}

#[test]
fn very_long_paths_normalize_without_truncation() {
    let mut runner = TestRunner::new(quiet(cases(256)));
    runner
        .run(&hostile::very_long_path(), |input| {
            prop_assert!(input.len() > 4096);
            let p = VPath::new(&input).expect("long but valid");
            prop_assert_eq!(p.as_str().len(), input.len() + 1);
            Ok(())
        })
        .unwrap();
}

/// Every operation of StateBackend against hostile paths, on a store
/// seeded with files whose names are the hostile pieces themselves.
#[test]
fn state_backend_keeps_every_hostile_path_inside() {
    let n = cases(4096);
    let rt = rt();
    let backend = StateBackend::new();
    rt.block_on(async {
        for seed in [
            "/a/b.txt",
            "/%2e%2e/x.txt",
            "/\u{FF0E}\u{FF0E}/y.txt",
            "/outside/in.txt",
        ] {
            backend.write(seed, "seed\n".into()).await.unwrap();
        }
    });
    let total = std::cell::Cell::new(Tally::default());
    let mut runner = TestRunner::new(quiet(n));
    runner
        .run(
            &prop_oneof![hostile::path(), hostile::dotdot_everywhere()],
            |input| {
                let t = rt
                    .block_on(probe(&backend, &input, &Forbidden::default()))
                    .map_err(TestCaseError::fail)?;
                let mut sum = total.get();
                sum += t;
                total.set(sum);
                Ok(())
            },
        )
        .unwrap();
    // Every stored path is still a normalized path under `/`.
    for p in backend.paths() {
        assert_eq!(VPath::new(&p).unwrap().as_str(), p);
    }
    let t = total.get();
    eprintln!("state: {n} cases, {t:?}");
    assert!(
        t.invalid > 0 && t.writes > 0,
        "the generator must exercise both sides: {t:?}"
    );
}
