//! Property: searching a composite gives exactly what searching one flat
//! store holding the same files (at their composite paths) gives. This
//! pins down fan-out, shadowing, pattern re-basing and the shared budget.

use deepagent_composite::CompositeBackend;
use deepagent_core::{Backend, ErrorKind, GlobQuery, GrepQuery};
use deepagent_state::StateBackend;
use proptest::prelude::*;

const DIRS: &[&str] = &["p", "q", "m", "a", ".h"];
const FILES: &[&str] = &["x.py", "y.txt", "z.md", ".e.py"];
const BASES: &[&str] = &["/", "/p", "/p/q", "/m", "/a", "/a/p", "/.h", "/p/.h"];
const GLOBS: &[&str] = &[
    "**",
    "**/*.py",
    "*.py",
    "p/**",
    "p/q/*.py",
    "*/q/**",
    "p/*",
    "{p,m}/**/*.txt",
    "**/q/*",
    "q/**/x.py",
    ".h/**",
    "a/p/q/*",
];
const FILTERS: &[Option<&str>] = &[
    None,
    Some("*.py"),
    Some("q/*.py"),
    Some("p/**/*.txt"),
    Some("**/x.py"),
    Some("*/q/*"),
];

fn file_path() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(DIRS), 0..4),
        prop::sample::select(FILES),
    )
        .prop_map(|(dirs, file)| {
            let mut p = String::new();
            for d in dirs {
                p.push('/');
                p.push_str(d);
            }
            p.push('/');
            p.push_str(file);
            p
        })
}

fn layout() -> (CompositeBackend, StateBackend) {
    let c = CompositeBackend::builder(StateBackend::new())
        .route("/p/", StateBackend::new())
        .route("/p/q/", StateBackend::new())
        .route("/m/", StateBackend::new())
        .route("/a/p/", StateBackend::new())
        .build();
    (c, StateBackend::new())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn composite_search_equals_flat_search(
        paths in prop::collection::vec(file_path(), 0..24),
        base in prop::sample::select(BASES),
        glob in prop::sample::select(GLOBS),
        filter in prop::sample::select(FILTERS),
        hidden in any::<bool>(),
        cap in prop_oneof![0usize..8, Just(1000usize)],
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        rt.block_on(async {
            let (c, flat) = layout();
            for p in &paths {
                let content = format!("{p}\nhit\n");
                c.write(p, content.clone().into()).await.expect("composite write");
                flat.write(p, content.into()).await.expect("flat write");
            }

            let q = GlobQuery::new(glob).path(base).max_count(cap);
            let got = c.glob(&q).await.expect("composite glob");
            let want = flat.glob(&q).await.expect("flat glob");
            let got_paths: Vec<_> = got.files.iter().map(|f| &f.path).collect();
            let want_paths: Vec<_> = want.files.iter().map(|f| &f.path).collect();
            assert_eq!(got_paths, want_paths, "glob {glob:?} from {base} cap {cap}");
            assert_eq!(got.truncated, want.truncated, "glob truncated");

            let mut q = GrepQuery::new("hit|/").path(base).ignore_hidden(hidden).max_count(cap);
            q.glob = filter.map(str::to_owned);
            match (c.grep(&q).await, flat.grep(&q).await) {
                (Ok(got), Ok(want)) => {
                    assert_eq!(got, want, "grep from {base} filter {filter:?} hidden {hidden} cap {cap}");
                }
                // A mount point (or a directory above one) exists in the
                // composite even when it holds no file.
                (Ok(got), Err(e)) if e.kind() == ErrorKind::NotFound => {
                    assert!(got.matches.is_empty(), "{got:?}");
                }
                (Err(got), Err(want)) if got.kind() == want.kind() => {
                    assert_eq!(got.to_string(), want.to_string());
                }
                (got, want) => panic!("grep from {base}: composite {got:?}, flat {want:?}"),
            }
        });
    }
}
