//! Our side of each workload, one function per `(workload, variant)`.
//!
//! Setup (loading a tree into memory, writing the file to edit) is never
//! timed; the operation is what an agent's tool call would do, including
//! rendering a `read` the way the tool layer does.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use deepagent_composite::CompositeBackend;
use deepagent_core::{Backend, GlobQuery, GrepQuery};
use deepagent_local::LocalBackend;
use deepagent_state::StateBackend;
use tokio::runtime::Runtime;

use crate::data::{self, Sizes, GREP_PATTERN};
use crate::measure::{self, Sample};
use crate::Error;

/// Everything a variant needs.
pub struct Ctx {
    /// The tokio runtime the async backends run on (multi-threaded, one
    /// worker per core, as an application would have).
    pub rt: Runtime,
    /// Where `gen` put the data sets; scratch work goes under it too.
    pub data: PathBuf,
    /// The run's sizes.
    pub sizes: Sizes,
}

/// The variants of each workload this binary runs.
pub const VARIANTS: &[(&str, &[&str])] = &[
    ("state-grep", &["ours", "rg"]),
    ("local-grep", &["ours", "rg"]),
    ("glob", &["local-ours", "state-ours"]),
    ("read", &["local-ours", "state-ours"]),
    (
        "composite",
        &[
            "composite-ours",
            "direct-ours",
            "composite-ours-nosync",
            "direct-ours-nosync",
            "composite-memory",
            "direct-memory",
            "floor",
            "floor-handoff",
        ],
    ),
    (
        "edit",
        &["local-ours", "local-ours-nosync", "state-ours", "floor"],
    ),
    ("docker", &["exec-ours", "exec-cli", "write-ours"]),
    ("memory", &["state-ours"]),
];

/// Runs one variant and returns its sample.
pub fn run(ctx: &Ctx, workload: &str, variant: &str) -> Result<Sample, Error> {
    match (workload, variant) {
        ("state-grep", "ours") => state_grep(ctx),
        ("state-grep", "rg") => rg(&ctx.data.join("state-grep")),
        ("local-grep", "ours") => local_grep(ctx),
        ("local-grep", "rg") => rg(&ctx.data.join("local-grep")),
        ("glob", "local-ours") => {
            let backend = LocalBackend::new(ctx.data.join("glob-tree"))?;
            glob(ctx, backend)
        }
        ("glob", "state-ours") => {
            let backend = StateBackend::with_files(data::load_tree(&ctx.data.join("glob-tree"))?)?;
            glob(ctx, backend)
        }
        ("read", "local-ours") => read(ctx, LocalBackend::new(ctx.data.join("read"))?),
        ("read", "state-ours") => {
            let content = std::fs::read(ctx.data.join("read/big.txt"))?;
            read(ctx, StateBackend::with_files([("/big.txt", content)])?)
        }
        ("composite", "composite-ours") => composite(ctx, true, Mount::Local { sync: true }),
        ("composite", "direct-ours") => composite(ctx, false, Mount::Local { sync: true }),
        ("composite", "composite-ours-nosync") => {
            composite(ctx, true, Mount::Local { sync: false })
        }
        ("composite", "direct-ours-nosync") => composite(ctx, false, Mount::Local { sync: false }),
        ("composite", "composite-memory") => composite(ctx, true, Mount::Memory),
        ("composite", "direct-memory") => composite(ctx, false, Mount::Memory),
        ("composite", "floor") => composite_floor(ctx, false),
        ("composite", "floor-handoff") => composite_floor(ctx, true),
        ("edit", "local-ours") => edit(ctx, |dir| {
            Ok(Arc::new(LocalBackend::new(dir)?) as Arc<dyn Backend>)
        }),
        ("edit", "local-ours-nosync") => edit(ctx, |dir| {
            let backend = LocalBackend::builder(dir).sync_writes(false).build()?;
            Ok(Arc::new(backend) as Arc<dyn Backend>)
        }),
        ("edit", "state-ours") => edit(ctx, |_| {
            Ok(Arc::new(StateBackend::new()) as Arc<dyn Backend>)
        }),
        ("edit", "floor") => edit_floor(ctx),
        ("docker", v) => crate::docker::run(ctx, v),
        ("memory", "state-ours") => memory(ctx),
        _ => Err(format!("unknown workload/variant {workload}/{variant}").into()),
    }
}

fn grep_query() -> GrepQuery {
    GrepQuery::new(GREP_PATTERN).max_count(usize::MAX)
}

fn state_grep(ctx: &Ctx) -> Result<Sample, Error> {
    let backend = StateBackend::with_files(data::load_tree(&ctx.data.join("state-grep"))?)?;
    let query = grep_query();
    measure::run(
        || Ok(()),
        |()| Ok(ctx.rt.block_on(backend.grep(&query))?),
        |r| r.matches.len() as u64,
    )
}

fn local_grep(ctx: &Ctx) -> Result<Sample, Error> {
    let backend = LocalBackend::new(ctx.data.join("local-grep"))?;
    let query = grep_query();
    measure::run(
        || Ok(()),
        |()| Ok(ctx.rt.block_on(backend.grep(&query))?),
        |r| r.matches.len() as u64,
    )
}

/// ripgrep's CLI, started fresh each time as a user (or the Python
/// LocalBackend) would: `rg -n --no-heading PATTERN .` with output read.
fn rg(dir: &Path) -> Result<Sample, Error> {
    let mut sample = measure::run(
        || Ok(()),
        |()| {
            let out = Command::new("rg")
                .args(["--line-number", "--no-heading", GREP_PATTERN, "."])
                .current_dir(dir)
                .output()
                .map_err(|e| format!("cannot run rg: {e}"))?;
            if !out.status.success() {
                return Err(format!("rg failed: {}", String::from_utf8_lossy(&out.stderr)).into());
            }
            Ok(out.stdout)
        },
        |out| out.iter().filter(|&&b| b == b'\n').count() as u64,
    )?;
    // Memory of a child process is not ours to measure here.
    sample.peak_rss_delta = None;
    Ok(sample)
}

fn glob(ctx: &Ctx, backend: impl Backend) -> Result<Sample, Error> {
    let query = GlobQuery::new("**/*.py").max_count(usize::MAX);
    measure::run(
        || Ok(()),
        |()| Ok(ctx.rt.block_on(backend.glob(&query))?),
        |r| r.files.len() as u64,
    )
}

fn read(ctx: &Ctx, backend: impl Backend) -> Result<Sample, Error> {
    let (offset, limit) = (ctx.sizes.read_offset, ctx.sizes.read_limit);
    measure::run(
        || Ok(()),
        |()| {
            let slice = ctx.rt.block_on(backend.read("/big.txt", offset, limit))?;
            Ok(deepagent_core::text::render_read(&slice))
        },
        |text| text.lines().count() as u64,
    )
}

/// A fresh scratch directory per iteration, so every run writes new files.
/// Nothing here deletes it: the xtask clears `work/` once the run is over,
/// because deleting thousands of files slows every file creation that
/// follows for about half a minute (see `xtask/src/bench.rs`).
fn scratch(ctx: &Ctx, name: &str) -> Result<PathBuf, Error> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = ctx.data.join("work").join(format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// What is mounted at `/project/` in the composite workload.
#[derive(Clone, Copy)]
enum Mount {
    /// A LocalBackend with this `sync_writes`.
    Local { sync: bool },
    /// A second StateBackend: no disk, so composite / direct shows the
    /// routing's own cost without the disk's noise.
    Memory,
}

/// Half the files under `/project/` (a LocalBackend mount), half under
/// `/scratch/` (the memory default); all written, then all read back.
/// `routed == false` is the same work sent straight to the two backends;
/// `sync` is the LocalBackend's `sync_writes` (fsync before rename).
fn composite(ctx: &Ctx, routed: bool, mount: Mount) -> Result<Sample, Error> {
    let n = ctx.sizes.composite_files;
    let paths: Arc<Vec<(String, Bytes)>> = Arc::new(
        (0..n)
            .map(|i| {
                let root = if i % 2 == 0 { "project" } else { "scratch" };
                let path = format!("/{root}/d{:02}/f{i:05}.py", i % 100);
                (path, Bytes::from(data::small_file(i)))
            })
            .collect(),
    );
    measure::run(
        || {
            let memory = StateBackend::new();
            let local: Arc<dyn Backend> = match mount {
                Mount::Local { sync } => {
                    let dir = scratch(ctx, "composite")?;
                    Arc::new(LocalBackend::builder(&dir).sync_writes(sync).build()?)
                }
                Mount::Memory => Arc::new(StateBackend::new()),
            };
            let composite = CompositeBackend::builder(memory.clone())
                .route_arc("/project/", local.clone())
                .build();
            Ok((memory, local, composite))
        },
        |(memory, local, composite)| {
            let paths = paths.clone();
            on_worker(ctx, async move {
                let mut bytes = 0usize;
                if routed {
                    for (path, content) in paths.iter() {
                        composite.write(path, content.clone()).await?;
                    }
                    for (path, _) in paths.iter() {
                        bytes += composite.read_bytes(path).await?.len();
                    }
                } else {
                    for (path, content) in paths.iter() {
                        match path.strip_prefix("/project") {
                            Some(inner) => local.write(inner, content.clone()).await?,
                            None => memory.write(path, content.clone()).await?,
                        };
                    }
                    for (path, _) in paths.iter() {
                        bytes += match path.strip_prefix("/project") {
                            Some(inner) => local.read_bytes(inner).await?.len(),
                            None => memory.read_bytes(path).await?.len(),
                        };
                    }
                }
                Ok::<_, Error>(bytes)
            })
        },
        |bytes| *bytes as u64,
    )
}

/// Runs `work` as a task on a runtime worker and waits for it: where an
/// agent's tool calls run, rather than in `block_on`'s own thread.
fn on_worker<T: Send + 'static>(
    ctx: &Ctx,
    work: impl std::future::Future<Output = Result<T, Error>> + Send + 'static,
) -> Result<T, Error> {
    ctx.rt.block_on(ctx.rt.spawn(work))?
}

/// The least work any backend storing the same files on disk must do: bare
/// `std::fs` calls in place (no temp file, no rename, no fsync, no path
/// checks) for the mounted half, a `HashMap` for the memory half. It is
/// not a backend; it shows how low a ratio against Python can go at all.
///
/// With `handoff`, each of those calls runs as one `spawn_blocking` from
/// the async caller, as an async backend that never blocks the runtime
/// must: the floor of any such backend, before it does any work of its own.
fn composite_floor(ctx: &Ctx, handoff: bool) -> Result<Sample, Error> {
    let n = ctx.sizes.composite_files;
    let files: Arc<Vec<(usize, String, Bytes)>> = Arc::new(
        (0..n)
            .map(|i| {
                let root = if i % 2 == 0 { "project" } else { "scratch" };
                (
                    i,
                    format!("{root}/d{:02}/f{i:05}.py", i % 100),
                    Bytes::from(data::small_file(i)),
                )
            })
            .collect(),
    );
    fn put(host: PathBuf, content: Bytes) -> std::io::Result<()> {
        if let Some(parent) = host.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(host, content)
    }
    measure::run(
        || {
            let dir = scratch(ctx, if handoff { "floor-handoff" } else { "floor" })?;
            Ok(dir)
        },
        |dir| {
            let files = files.clone();
            on_worker(ctx, async move {
                let mut memory = std::collections::HashMap::new();
                for (i, path, content) in files.iter() {
                    if i % 2 == 0 {
                        let (host, content) = (dir.join(path), content.clone());
                        if handoff {
                            tokio::task::spawn_blocking(move || put(host, content)).await??;
                        } else {
                            put(host, content)?;
                        }
                    } else {
                        memory.insert(path.clone(), content.clone());
                    }
                }
                let mut bytes = 0usize;
                for (i, path, _) in files.iter() {
                    bytes += if i % 2 == 0 {
                        let host = dir.join(path);
                        if handoff {
                            tokio::task::spawn_blocking(move || std::fs::read(host))
                                .await??
                                .len()
                        } else {
                            std::fs::read(host)?.len()
                        }
                    } else {
                        memory.get(path).map_or(0, |c| c.len())
                    };
                }
                Ok::<_, Error>(bytes)
            })
        },
        |bytes| *bytes as u64,
    )
}

/// The least work an on-disk edit must do: read the file, replace the one
/// occurrence, write the whole file back in place (as the Python original
/// does; no temp file, no fsync).
fn edit_floor(ctx: &Ctx) -> Result<Sample, Error> {
    let (lines, count) = (ctx.sizes.edit_lines, ctx.sizes.edit_count);
    let content = data::edit_file(lines);
    let edits: Vec<(String, String)> = (0..count)
        .map(|k| data::edit_pair(k, lines, count))
        .collect();
    measure::run(
        || {
            let dir = scratch(ctx, "edit-floor")?;
            let file = dir.join("edited.py");
            std::fs::write(&file, &content)?;
            Ok(file)
        },
        |file| {
            let mut done = 0usize;
            for (old, new) in &edits {
                let text = std::fs::read_to_string(&file)?;
                if let Some(at) = text.find(old.as_str()) {
                    let mut out = String::with_capacity(text.len() + new.len());
                    out.push_str(&text[..at]);
                    out.push_str(new);
                    out.push_str(&text[at + old.len()..]);
                    std::fs::write(&file, out)?;
                    done += 1;
                }
            }
            Ok(done)
        },
        |done| *done as u64,
    )
}

/// `edit_count` edits, each replacing a different unique string, on one
/// file of `edit_lines` lines written fresh before each timed batch.
fn edit(
    ctx: &Ctx,
    make: impl Fn(&Path) -> Result<Arc<dyn Backend>, Error>,
) -> Result<Sample, Error> {
    let (lines, count) = (ctx.sizes.edit_lines, ctx.sizes.edit_count);
    let content = Bytes::from(data::edit_file(lines));
    let edits: Vec<(String, String)> = (0..count)
        .map(|k| data::edit_pair(k, lines, count))
        .collect();
    measure::run(
        || {
            let dir = scratch(ctx, "edit")?;
            let backend = make(&dir)?;
            ctx.rt
                .block_on(backend.write("/edited.py", content.clone()))?;
            Ok(backend)
        },
        |backend| {
            ctx.rt.block_on(async {
                let mut done = 0usize;
                for (old, new) in &edits {
                    done += backend
                        .edit("/edited.py", old, new, deepagent_core::Replace::Once)
                        .await?
                        .occurrences;
                }
                Ok::<_, Error>(done)
            })
        },
        |done| *done as u64,
    )
}

/// Peak memory of a StateBackend filled with `memory_files` files of
/// `memory_file_size` bytes; `count` is the content size, for the ratio.
fn memory(ctx: &Ctx) -> Result<Sample, Error> {
    let (n, size) = (ctx.sizes.memory_files, ctx.sizes.memory_file_size);
    let before = measure::vm_rss();
    measure::reset_peak();
    let start = std::time::Instant::now();
    let backend = StateBackend::new();
    ctx.rt.block_on(async {
        for i in 0..n {
            let path = format!("/d{:03}/f{i:06}.txt", i % 1000);
            backend
                .write(&path, Bytes::from(data::memory_file(i, size)))
                .await?;
        }
        Ok::<_, Error>(())
    })?;
    let secs = start.elapsed().as_secs_f64();
    let peak = measure::vm_hwm();
    let held = backend.len();
    drop(backend);
    Ok(Sample {
        secs,
        iters: 1,
        first_secs: secs,
        peak_rss_delta: match (before, peak) {
            (Some(b), Some(p)) => Some(p.saturating_sub(b)),
            _ => None,
        },
        count: (held * size) as u64,
    })
}
