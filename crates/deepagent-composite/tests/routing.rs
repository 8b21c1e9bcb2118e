//! Composite-specific behaviour: routing, prefix restoring, mount
//! listings, fan-out search and execute.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use deepagent_composite::CompositeBackend;
use deepagent_core::{
    Backend, BackendError, EditResult, ErrorKind, ExecuteResponse, FileInfo, GlobQuery, GlobResult,
    GrepQuery, GrepResult, Result, Sandbox, WriteResult,
};
use deepagent_state::StateBackend;

fn run<F: std::future::Future<Output = ()>>(f: F) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn files(pairs: &[(&str, &str)]) -> StateBackend {
    StateBackend::with_files(pairs.iter().map(|(p, c)| (*p, c.to_string())))
        .expect("valid test files")
}

fn names(list: &[FileInfo]) -> Vec<(&str, bool)> {
    list.iter().map(|f| (f.name.as_str(), f.is_dir)).collect()
}

async fn glob_paths(b: &dyn Backend, pattern: &str, base: &str) -> Vec<String> {
    let res = b
        .glob(&GlobQuery::new(pattern).path(base))
        .await
        .expect("glob");
    res.files.into_iter().map(|f| f.path).collect()
}

async fn grep_hits(b: &dyn Backend, q: GrepQuery) -> Vec<(String, u64)> {
    let res = b.grep(&q).await.expect("grep");
    res.matches
        .into_iter()
        .map(|m| (m.path, m.line_number))
        .collect()
}

/// A backend that delegates to a StateBackend, can refuse to search, and
/// can act as a sandbox.
#[derive(Clone)]
struct Fake {
    inner: StateBackend,
    broken_search: bool,
    sandbox: bool,
}

impl Fake {
    fn new() -> Self {
        Fake {
            inner: StateBackend::new(),
            broken_search: false,
            sandbox: false,
        }
    }
}

#[async_trait]
impl Backend for Fake {
    fn name(&self) -> &str {
        "Fake"
    }
    async fn exists(&self, path: &str) -> Result<bool> {
        self.inner.exists(path).await
    }
    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        self.inner.ls(path).await
    }
    async fn read_bytes(&self, path: &str) -> Result<Bytes> {
        self.inner.read_bytes(path).await
    }
    async fn write(&self, path: &str, content: Bytes) -> Result<WriteResult> {
        self.inner.write(path, content).await
    }
    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        all: deepagent_core::Replace,
    ) -> Result<EditResult> {
        self.inner.edit(path, old, new, all).await
    }
    async fn glob(&self, query: &GlobQuery) -> Result<GlobResult> {
        if self.broken_search {
            return Err(BackendError::permission_denied(
                query.path.clone(),
                "this mount refuses to search",
            ));
        }
        self.inner.glob(query).await
    }
    async fn grep(&self, query: &GrepQuery) -> Result<GrepResult> {
        if self.broken_search {
            return Err(BackendError::permission_denied(
                query.path.clone(),
                "this mount refuses to search",
            ));
        }
        self.inner.grep(query).await
    }
    fn as_sandbox(&self) -> Option<&dyn Sandbox> {
        if self.sandbox {
            Some(self)
        } else {
            None
        }
    }
}

#[async_trait]
impl Sandbox for Fake {
    fn id(&self) -> &str {
        "fake-sandbox-1"
    }
    async fn execute(&self, command: &str, _timeout: Option<Duration>) -> Result<ExecuteResponse> {
        Ok(ExecuteResponse::new(format!("ran: {command}"), 0, false))
    }
}

#[test]
fn longest_prefix_wins_whatever_the_order() {
    run(async {
        let outer = StateBackend::new();
        let inner = StateBackend::new();
        let c = CompositeBackend::builder(StateBackend::new())
            .route("/a/b/", inner.clone())
            .route("/a/", outer.clone())
            .build();
        c.write("/a/b/x.txt", "1".into()).await.unwrap();
        c.write("/a/y.txt", "2".into()).await.unwrap();
        c.write("/a/bc/z.txt", "3".into()).await.unwrap();
        assert_eq!(inner.paths(), ["/x.txt"]);
        assert_eq!(outer.paths(), ["/bc/z.txt", "/y.txt"]);
    });
}

#[test]
fn prefix_matches_whole_components_only() {
    run(async {
        let memory = StateBackend::new();
        let foo = StateBackend::new();
        let c = CompositeBackend::builder(memory.clone())
            .route("/foo/", foo.clone())
            .build();
        c.write("/foobar/x", "d".into()).await.unwrap();
        c.write("/foo/x", "m".into()).await.unwrap();
        c.write("foo//y", "m".into()).await.unwrap();
        assert_eq!(memory.paths(), ["/foobar/x"]);
        assert_eq!(foo.paths(), ["/x", "/y"]);
        // `/foo` itself is the mount's root: a directory.
        assert_eq!(
            names(&c.ls("/foo").await.unwrap()),
            [("x", false), ("y", false)]
        );
        assert_eq!(
            names(&c.ls("/foo/").await.unwrap()),
            [("x", false), ("y", false)]
        );
        assert!(!c.exists("/foo").await.unwrap());
        let e = c.write("/foo", "x".into()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IsADirectory);
        assert!(e.to_string().contains("/foo"), "{e}");
    });
}

#[test]
fn prefix_forms_are_one_mount_and_root_replaces_default() {
    let a = CompositeBackend::builder(StateBackend::new())
        .route("project", StateBackend::new())
        .route("/project/", Fake::new())
        .route("/w", StateBackend::new())
        .build();
    let mounts: Vec<(String, String)> = a
        .mounts()
        .into_iter()
        .map(|m| (m.prefix, m.backend))
        .collect();
    assert_eq!(
        mounts,
        [
            ("/project/".to_owned(), "Fake".to_owned()),
            ("/w/".to_owned(), "StateBackend".to_owned()),
        ]
    );
    let b = CompositeBackend::builder(StateBackend::new())
        .route("/", Fake::new())
        .build();
    assert!(b.mounts().is_empty());
    assert_eq!(b.default_backend().name(), "Fake");
    let bad =
        CompositeBackend::builder(StateBackend::new()).try_route("../up", StateBackend::new());
    assert_eq!(bad.err().map(|e| e.kind()), Some(ErrorKind::InvalidPath));
}

#[test]
#[should_panic(expected = "CompositeBackend route")]
fn invalid_prefix_panics_in_route() {
    let _ = CompositeBackend::builder(StateBackend::new()).route("~/x", StateBackend::new());
}

#[test]
fn prefix_is_restored_in_results_and_errors() {
    run(async {
        let project = StateBackend::new();
        let c = CompositeBackend::builder(StateBackend::new())
            .route("/project/", project.clone())
            .build();
        let w = c
            .write("project/./src/app.py", "a = 1\nb = 2\n".into())
            .await
            .unwrap();
        assert_eq!(w.path, "/project/src/app.py");
        assert_eq!(project.paths(), ["/src/app.py"]);
        let e = c
            .edit(
                "/project/src/app.py",
                "a = 1",
                "a = 3",
                deepagent_core::Replace::Once,
            )
            .await
            .unwrap();
        assert_eq!(e.path, "/project/src/app.py");
        let r = c.read("/project/src/app.py", 1, 5).await.unwrap();
        assert_eq!(
            (r.path.as_str(), r.lines.as_slice()),
            ("/project/src/app.py", &["b = 2".to_owned()][..])
        );
        let ls = c.ls("/project/src").await.unwrap();
        assert_eq!(ls[0].path, "/project/src/app.py");
        let ls = c.ls("/project/src/app.py").await.unwrap();
        assert_eq!(
            (ls[0].name.as_str(), ls[0].path.as_str()),
            ("app.py", "/project/src/app.py")
        );
        let ls = c.ls("/project").await.unwrap();
        assert_eq!((ls[0].path.as_str(), ls[0].is_dir), ("/project/src", true));
        assert_eq!(
            glob_paths(&c, "**/*.py", "/project").await,
            ["/project/src/app.py"]
        );
        assert_eq!(
            grep_hits(&c, GrepQuery::new("b = ").path("/project/src")).await,
            [("/project/src/app.py".to_owned(), 2)]
        );

        let cases: Vec<(BackendError, ErrorKind, &str)> = vec![
            (
                c.read_bytes("/project/nope.txt").await.unwrap_err(),
                ErrorKind::NotFound,
                "/project/nope.txt",
            ),
            (
                c.read("/project/src", 0, 1).await.unwrap_err(),
                ErrorKind::IsADirectory,
                "/project/src",
            ),
            (
                c.read("/project/src/app.py", 9, 1).await.unwrap_err(),
                ErrorKind::OffsetOutOfRange,
                "/project/src/app.py",
            ),
            (
                c.edit(
                    "/project/src/app.py",
                    "zzz",
                    "y",
                    deepagent_core::Replace::Once,
                )
                .await
                .unwrap_err(),
                ErrorKind::EditNotFound,
                "/project/src/app.py",
            ),
            (
                c.write("/project/src/app.py/x", "".into())
                    .await
                    .unwrap_err(),
                ErrorKind::NotADirectory,
                "/project/src/app.py",
            ),
            (
                c.ls("/project/missing").await.unwrap_err(),
                ErrorKind::NotFound,
                "/project/missing",
            ),
            (
                c.grep(&GrepQuery::new("x").path("/project/missing"))
                    .await
                    .unwrap_err(),
                ErrorKind::NotFound,
                "/project/missing",
            ),
        ];
        for (err, kind, path) in cases {
            assert_eq!(err.kind(), kind, "{err}");
            match &err {
                BackendError::NotFound { path: p }
                | BackendError::IsADirectory { path: p }
                | BackendError::NotADirectory { path: p }
                | BackendError::EditNotFound { path: p }
                | BackendError::OffsetOutOfRange { path: p, .. } => assert_eq!(p, path),
                other => panic!("unexpected {other}"),
            }
        }
    });
}

#[test]
fn ls_shows_mount_points_shadows_and_nested_mounts() {
    run(async {
        let memory = files(&[
            ("/x.txt", "x"),
            ("/project/shadowed.txt", "hidden by the mount"),
        ]);
        memory
            .write("/a/b", "a file where a mount lies deeper".into())
            .await
            .unwrap();
        memory.write("/a/keep.txt", "k".into()).await.unwrap();
        let project = files(&[("/README.md", "r")]);
        let deep = files(&[("/deep.txt", "d")]);
        let c = CompositeBackend::builder(memory.clone())
            .route("/project/", project)
            .route("/a/b/c/", deep)
            .route("/m/n/", StateBackend::new())
            .build();
        assert_eq!(
            names(&c.ls("/").await.unwrap()),
            [
                ("a", true),
                ("m", true),
                ("project", true),
                ("x.txt", false)
            ]
        );
        let ls_project = c.ls("/project").await.unwrap();
        assert_eq!(names(&ls_project), [("README.md", false)]);
        assert_eq!(
            names(&c.ls("/a").await.unwrap()),
            [("b", true), ("keep.txt", false)]
        );
        assert_eq!(c.ls("/a").await.unwrap()[0].path, "/a/b");
        assert_eq!(names(&c.ls("/a/b").await.unwrap()), [("c", true)]);
        assert_eq!(names(&c.ls("/a/b/c").await.unwrap()), [("deep.txt", false)]);
        // Directories that exist only because of a mount below them.
        assert_eq!(names(&c.ls("/m").await.unwrap()), [("n", true)]);
        assert!(c.ls("/m/n").await.unwrap().is_empty());
        assert_eq!(
            c.ls("/m/zzz").await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        // The default's file at /a/b is a directory of the composite.
        assert!(!c.exists("/a/b").await.unwrap());
        assert_eq!(
            c.read_bytes("/a/b").await.unwrap_err().kind(),
            ErrorKind::IsADirectory
        );
        assert_eq!(
            c.write("/a/b", "".into()).await.unwrap_err().kind(),
            ErrorKind::IsADirectory
        );
        // Shadowed default files are not found by a search either.
        assert_eq!(
            glob_paths(&c, "project/*", "/").await,
            ["/project/README.md"]
        );
    });
}

#[test]
fn fan_out_merges_sorted_with_one_budget() {
    run(async {
        // The default's files under /a sort first but are shadowed by the
        // mount; they must not use up the budget.
        let mut defaults: Vec<(String, String)> = (0..20)
            .map(|i| (format!("/a/shadow{i:02}.txt"), "hit\n".to_owned()))
            .collect();
        defaults.push(("/b.txt".into(), "hit\nhit\n".into()));
        defaults.push(("/z.txt".into(), "hit\n".into()));
        let memory = StateBackend::with_files(defaults).unwrap();
        let a = files(&[("/1.txt", "hit\n"), ("/2.txt", "hit\n")]);
        let y = files(&[("/y.txt", "hit\n")]);
        let c = CompositeBackend::builder(memory)
            .route("/a/", a)
            .route("/y/", y)
            .build();

        let all = ["/a/1.txt", "/a/2.txt", "/b.txt", "/y/y.txt", "/z.txt"];
        assert_eq!(glob_paths(&c, "**/*.txt", "/").await, all);
        for cap in 0..=6 {
            let res = c.glob(&GlobQuery::new("**").max_count(cap)).await.unwrap();
            let got: Vec<_> = res.files.iter().map(|f| f.path.as_str()).collect();
            assert_eq!(got, &all[..cap.min(5)], "cap {cap}");
            assert_eq!(res.truncated, cap < 5, "truncated at cap {cap}");
        }

        let expected = [
            ("/a/1.txt".to_owned(), 1),
            ("/a/2.txt".to_owned(), 1),
            ("/b.txt".to_owned(), 1),
            ("/b.txt".to_owned(), 2),
            ("/y/y.txt".to_owned(), 1),
            ("/z.txt".to_owned(), 1),
        ];
        assert_eq!(grep_hits(&c, GrepQuery::new("hit")).await, expected);
        for cap in 0..=7 {
            let res = c.grep(&GrepQuery::new("hit").max_count(cap)).await.unwrap();
            assert_eq!(res.matches.len(), cap.min(6), "cap {cap}");
            assert_eq!(res.truncated, cap < 6, "truncated at cap {cap}");
            let got: Vec<_> = res
                .matches
                .iter()
                .map(|m| (m.path.clone(), m.line_number))
                .collect();
            assert_eq!(got, &expected[..cap.min(6)]);
        }
    });
}

#[test]
fn glob_patterns_are_rebased_onto_mounts() {
    run(async {
        let local = files(&[
            ("/src/app.py", ""),
            ("/src/util/io.py", ""),
            ("/README.md", ""),
        ]);
        let deep = files(&[("/x.txt", ""), ("/sub/y.txt", "")]);
        let c = CompositeBackend::builder(files(&[("/top.py", "")]))
            .route("/project/", local)
            .route("/a/b/c/", deep)
            .build();
        assert_eq!(
            glob_paths(&c, "project/**/*.py", "/").await,
            ["/project/src/app.py", "/project/src/util/io.py"]
        );
        assert_eq!(
            glob_paths(&c, "/project/src/*.py", "/").await,
            ["/project/src/app.py"]
        );
        assert_eq!(
            glob_paths(&c, "*/src/*.py", "/").await,
            ["/project/src/app.py"]
        );
        assert_eq!(
            glob_paths(&c, "**/*.py", "/").await,
            ["/project/src/app.py", "/project/src/util/io.py", "/top.py"]
        );
        assert_eq!(glob_paths(&c, "*.py", "/").await, ["/top.py"]);
        assert_eq!(glob_paths(&c, "project", "/").await, Vec::<String>::new());
        assert_eq!(glob_paths(&c, "b/c/*.txt", "/a").await, ["/a/b/c/x.txt"]);
        assert_eq!(
            glob_paths(&c, "b/*/sub/*", "/a").await,
            ["/a/b/c/sub/y.txt"]
        );
        assert_eq!(
            glob_paths(&c, "**/*.txt", "/a/b").await,
            ["/a/b/c/sub/y.txt", "/a/b/c/x.txt"]
        );
        assert_eq!(glob_paths(&c, "*.txt", "/a/b/c").await, ["/a/b/c/x.txt"]);
        assert_eq!(
            c.glob(&GlobQuery::new("[z-")).await.unwrap_err().kind(),
            ErrorKind::InvalidPattern
        );
    });
}

#[test]
fn grep_filters_and_hidden_mounts_mean_what_they_mean_on_one_backend() {
    run(async {
        let project = files(&[
            ("/src/app.py", "TODO a\n"),
            ("/docs/x.md", "TODO m\n"),
            ("/.env", "TODO secret\n"),
        ]);
        let hidden = files(&[("/h.txt", "TODO h\n")]);
        let c = CompositeBackend::builder(files(&[("/top.py", "TODO t\n")]))
            .route("/project/", project)
            .route("/.cache/", hidden)
            .build();
        let paths = |v: Vec<(String, u64)>| v.into_iter().map(|(p, _)| p).collect::<Vec<_>>();
        assert_eq!(
            paths(grep_hits(&c, GrepQuery::new("TODO")).await),
            ["/project/docs/x.md", "/project/src/app.py", "/top.py"]
        );
        assert_eq!(
            paths(grep_hits(&c, GrepQuery::new("TODO").ignore_hidden(false)).await),
            [
                "/.cache/h.txt",
                "/project/.env",
                "/project/docs/x.md",
                "/project/src/app.py",
                "/top.py"
            ]
        );
        assert_eq!(
            paths(grep_hits(&c, GrepQuery::new("TODO").glob("*.py")).await),
            ["/project/src/app.py", "/top.py"]
        );
        assert_eq!(
            paths(grep_hits(&c, GrepQuery::new("TODO").glob("project/src/*.py")).await),
            ["/project/src/app.py"]
        );
        assert_eq!(
            paths(grep_hits(&c, GrepQuery::new("TODO").glob("*/docs/*")).await),
            ["/project/docs/x.md"]
        );
        assert_eq!(
            paths(grep_hits(&c, GrepQuery::new("TODO").path("/.cache")).await),
            ["/.cache/h.txt"],
            "a hidden mount named by the query is searched"
        );
        assert_eq!(
            c.grep(&GrepQuery::new("(")).await.unwrap_err().kind(),
            ErrorKind::InvalidPattern
        );
        assert_eq!(
            c.grep(&GrepQuery::new("x").glob("[z-"))
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidPattern
        );
    });
}

#[test]
fn an_error_from_one_mount_fails_the_search() {
    run(async {
        let broken = Fake {
            broken_search: true,
            ..Fake::new()
        };
        let c = CompositeBackend::builder(files(&[("/ok.txt", "hit\n")]))
            .route("/broken/", broken)
            .route("/fine/", files(&[("/f.txt", "hit\n")]))
            .build();
        let e = c.grep(&GrepQuery::new("hit")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(e.to_string().contains("/broken"), "{e}");
        let e = c.glob(&GlobQuery::new("**")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        // Searches that do not reach the broken mount still work.
        assert_eq!(glob_paths(&c, "**", "/fine").await, ["/fine/f.txt"]);
        assert_eq!(
            grep_hits(&c, GrepQuery::new("hit").path("/ok.txt"))
                .await
                .len(),
            1
        );
    });
}

#[test]
fn one_backend_at_two_prefixes() {
    run(async {
        let shared = StateBackend::new();
        let c = CompositeBackend::builder(StateBackend::new())
            .route("/project/", shared.clone())
            .route("/workspace/", shared.clone())
            .build();
        c.write("/project/a.txt", "same file\n".into())
            .await
            .unwrap();
        assert_eq!(
            c.read_bytes("/workspace/a.txt").await.unwrap().as_ref(),
            b"same file\n"
        );
        assert_eq!(shared.paths(), ["/a.txt"]);
        assert_eq!(
            glob_paths(&c, "**", "/").await,
            ["/project/a.txt", "/workspace/a.txt"]
        );
        let hits = grep_hits(&c, GrepQuery::new("same")).await;
        assert_eq!(
            hits,
            [
                ("/project/a.txt".to_owned(), 1),
                ("/workspace/a.txt".to_owned(), 1)
            ]
        );
    });
}

#[test]
fn execute_goes_to_a_sandbox_default_only() {
    run(async {
        let sandbox = Fake {
            sandbox: true,
            ..Fake::new()
        };
        let c = CompositeBackend::builder(sandbox)
            .route("/local/", StateBackend::new())
            .build();
        let s = c.as_sandbox().expect("a sandbox default makes a sandbox");
        assert_eq!(s.id(), "fake-sandbox-1");
        let out = s.execute("echo hi", None).await.unwrap();
        assert_eq!(out.output, "ran: echo hi");
        // A sandbox mounted under a prefix does not make the composite one.
        let c = CompositeBackend::builder(StateBackend::new())
            .route(
                "/box/",
                Fake {
                    sandbox: true,
                    ..Fake::new()
                },
            )
            .build();
        assert!(c.as_sandbox().is_none());
        let e = Sandbox::execute(&c, "ls", None).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("StateBackend"), "{e}");
    });
}

/// Two mounts whose searches each wait for the other: this finishes only
/// if the composite runs them at the same time.
#[test]
fn fan_out_runs_concurrently() {
    #[derive(Clone)]
    struct Rendezvous {
        inner: StateBackend,
        barrier: Arc<tokio::sync::Barrier>,
    }
    #[async_trait]
    impl Backend for Rendezvous {
        fn name(&self) -> &str {
            "Rendezvous"
        }
        async fn exists(&self, p: &str) -> Result<bool> {
            self.inner.exists(p).await
        }
        async fn ls(&self, p: &str) -> Result<Vec<FileInfo>> {
            self.inner.ls(p).await
        }
        async fn read_bytes(&self, p: &str) -> Result<Bytes> {
            self.inner.read_bytes(p).await
        }
        async fn write(&self, p: &str, c: Bytes) -> Result<WriteResult> {
            self.inner.write(p, c).await
        }
        async fn edit(
            &self,
            p: &str,
            o: &str,
            n: &str,
            a: deepagent_core::Replace,
        ) -> Result<EditResult> {
            self.inner.edit(p, o, n, a).await
        }
        async fn glob(&self, q: &GlobQuery) -> Result<GlobResult> {
            self.barrier.wait().await;
            self.inner.glob(q).await
        }
        async fn grep(&self, q: &GrepQuery) -> Result<GrepResult> {
            self.barrier.wait().await;
            self.inner.grep(q).await
        }
    }
    run(async {
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let mk = |f: &str| Rendezvous {
            inner: files(&[(f, "hit\n")]),
            barrier: barrier.clone(),
        };
        let c = CompositeBackend::builder(StateBackend::new())
            .route("/one/", mk("/1.txt"))
            .route("/two/", mk("/2.txt"))
            .build();
        let guard = Duration::from_secs(30);
        let res = tokio::time::timeout(guard, c.glob(&GlobQuery::new("**")))
            .await
            .expect("glob parts ran one after another (deadlock)")
            .unwrap();
        assert_eq!(res.files.len(), 2);
        let res = tokio::time::timeout(guard, c.grep(&GrepQuery::new("hit")))
            .await
            .expect("grep parts ran one after another (deadlock)")
            .unwrap();
        assert_eq!(res.matches.len(), 2);
    });
}

/// The seed's layouts with a real directory: files under a LocalBackend
/// mount land on disk without the prefix, searches span disk and memory,
/// and a LocalBackend default runs commands.
#[test]
fn local_backend_mounted_and_as_default() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let local = deepagent_local::LocalBackend::new(dir.path()).expect("local");
        let memory = StateBackend::new();
        let c = CompositeBackend::builder(memory.clone())
            .route("/project/", local.clone())
            .route("/workspace/", local.clone())
            .build();
        c.write("/project/src/app.py", "import flask\n".into())
            .await
            .unwrap();
        c.write("/scratch/notes.txt", "flask notes\n".into())
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("src/app.py")).expect("on disk"),
            b"import flask\n"
        );
        assert_eq!(memory.paths(), ["/scratch/notes.txt"]);
        assert_eq!(
            glob_paths(&c, "**/*.py", "/").await,
            ["/project/src/app.py", "/workspace/src/app.py"]
        );
        assert_eq!(
            grep_hits(&c, GrepQuery::new("flask")).await,
            [
                ("/project/src/app.py".to_owned(), 1),
                ("/scratch/notes.txt".to_owned(), 1),
                ("/workspace/src/app.py".to_owned(), 1)
            ]
        );
        let e = c.read_bytes("/project/nope.py").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().contains("/project/nope.py"), "{e}");
        assert!(c.as_sandbox().is_none(), "a memory default cannot execute");

        let hybrid = CompositeBackend::builder(local.clone())
            .route("/mem/", StateBackend::new())
            .build();
        let shell = hybrid
            .as_sandbox()
            .expect("a LocalBackend default executes");
        assert_eq!(shell.id(), local.as_sandbox().expect("local sandbox").id());
        let out = shell.execute("cat src/app.py", None).await.unwrap();
        assert_eq!((out.output.as_str(), out.exit_code), ("import flask\n", 0));
    });
}

/// When one mount holds every result, the cap and `truncated` still come
/// out exact: the part keeps `max_count + 1` to know something was cut.
#[test]
fn one_part_holding_everything_reports_truncation() {
    run(async {
        let m = files(&[("/1", "hit\n"), ("/2", "hit\n"), ("/3", "hit\nhit\n")]);
        let c = CompositeBackend::builder(StateBackend::new())
            .route("/m/", m)
            .route("/empty/", StateBackend::new())
            .build();
        for (cap, truncated) in [(1, true), (2, true), (3, false), (4, false)] {
            let g = c.glob(&GlobQuery::new("**").max_count(cap)).await.unwrap();
            assert_eq!(
                (g.files.len(), g.truncated),
                (cap.min(3), truncated),
                "glob cap {cap}"
            );
        }
        for (cap, truncated) in [(3, true), (4, false)] {
            let g = c.grep(&GrepQuery::new("hit").max_count(cap)).await.unwrap();
            assert_eq!(
                (g.matches.len(), g.truncated),
                (cap, truncated),
                "grep cap {cap}"
            );
        }
    });
}

/// A rename within one mount is routed there; across mounts it is a clear
/// `Unsupported` (a copy and a delete could not be atomic); a mount point
/// cannot be deleted or moved; batches are split per mount and answered
/// in the caller's order.
#[test]
fn new_operations_route_by_mount() {
    use deepagent_core::{Backend, Bytes, ErrorKind};
    use deepagent_state::StateBackend;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let project = StateBackend::new();
        let memory = StateBackend::new();
        let c = deepagent_composite::CompositeBackend::builder(memory.clone())
            .route("/project/", project.clone())
            .build();
        c.write("/project/a.txt", "a".into()).await.unwrap();
        c.rename("/project/a.txt", "/project/src/b.txt")
            .await
            .unwrap();
        assert_eq!(project.paths(), ["/src/b.txt"]);

        let e = c
            .rename("/project/src/b.txt", "/tmp/b.txt")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("cannot be atomic"), "{e}");
        assert!(
            c.exists("/project/src/b.txt").await.unwrap(),
            "nothing moved"
        );

        for e in [
            c.delete("/project", true).await.unwrap_err(),
            c.rename("/project", "/elsewhere").await.unwrap_err(),
        ] {
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        }

        let written = c
            .upload(vec![
                ("/tmp/1.txt".into(), Bytes::from("1")),
                ("/project/2.txt".into(), Bytes::from("2")),
                ("/tmp/3.txt".into(), Bytes::from("3")),
            ])
            .await
            .unwrap();
        let paths: Vec<&str> = written.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(paths, ["/tmp/1.txt", "/project/2.txt", "/tmp/3.txt"]);
        assert_eq!(memory.paths(), ["/tmp/1.txt", "/tmp/3.txt"]);
        let got = c
            .download(&["/project/2.txt", "/tmp/3.txt", "/project/none"])
            .await
            .unwrap();
        assert_eq!(got[0].content.as_deref().ok(), Some(&b"2"[..]));
        assert_eq!(got[1].content.as_deref().ok(), Some(&b"3"[..]));
        let missing = got[2].content.as_ref().unwrap_err();
        assert!(missing.to_string().contains("/project/none"), "{missing}");

        c.delete("/project/src", true).await.unwrap();
        assert_eq!(project.paths(), ["/2.txt"]);
    });
}
