//! What `cargo xtask bench` measures: the workloads, their variants (which
//! process runs them) and the comparisons the report shows.

/// Which program runs a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `deepagent-bench` (our backends, and the CLIs it times: rg, docker).
    Rust,
    /// `xtask/bench/python/bench.py` (pydantic-ai-backend).
    Python,
}

/// One process to run per round.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// The name both programs know it by.
    pub name: &'static str,
    /// Who runs it.
    pub side: Side,
}

/// What a comparison divides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Median seconds per operation, ours / theirs.
    Time,
    /// Peak RSS added by the first operation, ours / theirs.
    Memory,
    /// Peak RSS added / content size (`theirs` is unused).
    MemoryPerContent,
}

/// One row of the report.
#[derive(Debug, Clone, Copy)]
pub struct Compare {
    /// What the row shows, e.g. `StateBackend grep vs Python`.
    pub label: &'static str,
    /// Our variant.
    pub ours: &'static str,
    /// The variant we are compared with.
    pub theirs: &'static str,
    /// The quantity compared.
    pub metric: Metric,
    /// The target for ours / theirs, when it sets one.
    pub target: Option<f64>,
}

/// One workload of issue 6.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// The name on the command line.
    pub name: &'static str,
    /// The number for it.
    pub number: u32,
    /// What it does, for the report.
    pub title: &'static str,
    /// Processes to run, alternately.
    pub variants: &'static [Variant],
    /// Rows of the report.
    pub compares: &'static [Compare],
}

const fn rust(name: &'static str) -> Variant {
    Variant {
        name,
        side: Side::Rust,
    }
}

const fn py(name: &'static str) -> Variant {
    Variant {
        name,
        side: Side::Python,
    }
}

const fn time(
    label: &'static str,
    ours: &'static str,
    theirs: &'static str,
    target: Option<f64>,
) -> Compare {
    Compare {
        label,
        ours,
        theirs,
        metric: Metric::Time,
        target,
    }
}

/// Every workload, in the order.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "state-grep",
        number: 1,
        title: "StateBackend grep, regex over files x 100 lines",
        variants: &[rust("ours"), py("python"), rust("rg")],
        compares: &[
            time(
                "StateBackend grep / Python StateBackend",
                "ours",
                "python",
                Some(0.1),
            ),
            time(
                "StateBackend grep / rg CLI (same files on disk)",
                "ours",
                "rg",
                Some(1.0),
            ),
        ],
    },
    Workload {
        name: "local-grep",
        number: 2,
        title: "LocalBackend grep over a tree with .gitignore",
        variants: &[rust("ours"), rust("rg"), py("python")],
        compares: &[
            time("LocalBackend grep / rg CLI", "ours", "rg", Some(1.0)),
            time(
                "LocalBackend grep / Python LocalBackend",
                "ours",
                "python",
                Some(1.0 / 3.0),
            ),
        ],
    },
    Workload {
        name: "glob",
        number: 3,
        title: "glob **/*.py over a tree of entries",
        variants: &[
            rust("local-ours"),
            py("local-python"),
            rust("state-ours"),
            py("state-python"),
        ],
        compares: &[
            time(
                "LocalBackend glob / Python",
                "local-ours",
                "local-python",
                Some(0.1),
            ),
            time(
                "StateBackend glob / Python",
                "state-ours",
                "state-python",
                Some(0.1),
            ),
        ],
    },
    Workload {
        name: "read",
        number: 4,
        title: "read lines 50,000-52,000 of a big file (rendered)",
        variants: &[
            rust("local-ours"),
            py("local-python"),
            rust("state-ours"),
            py("state-python"),
        ],
        compares: &[
            time(
                "LocalBackend read / Python",
                "local-ours",
                "local-python",
                Some(0.1),
            ),
            Compare {
                label: "LocalBackend read peak memory / Python",
                ours: "local-ours",
                theirs: "local-python",
                metric: Metric::Memory,
                target: None,
            },
            time(
                "StateBackend read / Python",
                "state-ours",
                "state-python",
                Some(0.5),
            ),
        ],
    },
    Workload {
        name: "composite",
        number: 5,
        title: "write + read back small files via CompositeBackend (memory default, local mount)",
        variants: &[
            rust("composite-ours"),
            rust("direct-ours"),
            py("composite-python"),
            rust("composite-ours-nosync"),
            rust("direct-ours-nosync"),
            rust("composite-memory"),
            rust("direct-memory"),
            rust("floor"),
            rust("floor-handoff"),
        ],
        compares: &[
            time(
                "composite / direct (ours, fsync on)",
                "composite-ours",
                "direct-ours",
                Some(1.05),
            ),
            time(
                "composite / direct (ours, sync_writes(false))",
                "composite-ours-nosync",
                "direct-ours-nosync",
                Some(1.05),
            ),
            time(
                "composite / direct (ours, StateBackend mounted: routing alone)",
                "composite-memory",
                "direct-memory",
                None,
            ),
            time(
                "CompositeBackend / Python (ours fsyncs, Python does not)",
                "composite-ours",
                "composite-python",
                Some(0.1),
            ),
            time(
                "CompositeBackend sync_writes(false) / Python",
                "composite-ours-nosync",
                "composite-python",
                Some(0.1),
            ),
            time(
                "bare std::fs floor (in place, no checks) / Python",
                "floor",
                "composite-python",
                None,
            ),
            time(
                "CompositeBackend sync_writes(false) / bare std::fs floor",
                "composite-ours-nosync",
                "floor",
                Some(1.5),
            ),
            time(
                "floor with one spawn_blocking per call / bare std::fs floor",
                "floor-handoff",
                "floor",
                None,
            ),
            time(
                "CompositeBackend sync_writes(false) / floor with one spawn_blocking per call",
                "composite-ours-nosync",
                "floor-handoff",
                None,
            ),
        ],
    },
    Workload {
        name: "edit",
        number: 6,
        title: "edits on one 10,000-line file",
        variants: &[
            rust("local-ours"),
            py("local-python"),
            rust("local-ours-nosync"),
            rust("state-ours"),
            py("state-python"),
            rust("floor"),
        ],
        compares: &[
            time(
                "LocalBackend edits / Python (ours fsyncs, Python does not)",
                "local-ours",
                "local-python",
                Some(0.1),
            ),
            time(
                "LocalBackend sync_writes(false) edits / Python",
                "local-ours-nosync",
                "local-python",
                Some(0.1),
            ),
            time(
                "bare std::fs floor (read, replace, write in place) / Python",
                "floor",
                "local-python",
                None,
            ),
            time(
                "LocalBackend sync_writes(false) edits / bare std::fs floor",
                "local-ours-nosync",
                "floor",
                None,
            ),
            time(
                "StateBackend edits / Python",
                "state-ours",
                "state-python",
                Some(0.1),
            ),
        ],
    },
    Workload {
        name: "docker",
        number: 7,
        title: "DockerSandbox execute(\"true\") and small-file writes",
        variants: &[
            rust("exec-ours"),
            rust("exec-cli"),
            py("exec-python"),
            rust("write-ours"),
            py("write-python"),
        ],
        compares: &[
            time(
                "execute(\"true\") / docker exec CLI",
                "exec-ours",
                "exec-cli",
                Some(0.5),
            ),
            time(
                "execute(\"true\") / Python DockerSandbox",
                "exec-ours",
                "exec-python",
                None,
            ),
            time(
                "small-file writes / Python DockerSandbox",
                "write-ours",
                "write-python",
                None,
            ),
        ],
    },
    Workload {
        name: "memory",
        number: 8,
        title: "StateBackend holding files of 1 KiB",
        variants: &[rust("state-ours"), py("state-python")],
        compares: &[
            Compare {
                label: "StateBackend peak RSS / content size",
                ours: "state-ours",
                theirs: "",
                metric: Metric::MemoryPerContent,
                target: Some(1.5),
            },
            Compare {
                label: "StateBackend peak RSS / Python",
                ours: "state-ours",
                theirs: "state-python",
                metric: Metric::Memory,
                target: None,
            },
        ],
    },
];

/// The workload called `name`.
pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}
