//! `cargo xtask bench --scale [--sizes 1000,10000,...]`: grep, glob and ls
//! on StateBackend, LocalBackend and a CompositeBackend at growing
//! workspace sizes, each point in its own process (so its peak RSS is its
//! own), then the capped queries of the largest workspace. Writes
//! `target/bench/scale.md` (the table) and `target/bench/scale.svg` (the
//! chart). Beside the backends, each size times the `rg` CLI on the same
//! tree (grep, and `--files` for the glob): the floor that shows which
//! growth is the machine's (page cache, inodes) and which is ours. The
//! trees are generated once under `target/bench/scale/` and
//! reused; delete that directory to reclaim the space (the 1M-file tree
//! takes several GB of inodes and blocks).

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use plotters::prelude::*;
use serde_json::Value;

use crate::Result;

/// The workspace sizes, in files, when `--sizes` is not given.
pub const DEFAULT_SIZES: &[usize] = &[1_000, 10_000, 100_000, 1_000_000];
const BACKENDS: &[&str] = &["state", "local", "composite"];
const OPS: &[&str] = &["grep", "glob", "ls"];

fn child(runner: &Path, args: &[String]) -> Result<Value> {
    let out = Command::new(runner)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", runner.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {args:?} failed ({})",
            runner.display(),
            out.status
        ));
    }
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.trim()).map_err(|e| format!("bad output {line:?}: {e}"))
}

/// One `rg` run: seconds and the lines it printed (matches or files).
fn rg_once(tree: &Path, args: &[&str]) -> Result<(f64, usize)> {
    let start = Instant::now();
    let out = Command::new("rg")
        .args(["--no-config", "--no-ignore"])
        .args(args)
        .arg(tree)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run rg: {e}"))?;
    let secs = start.elapsed().as_secs_f64();
    // 0: found something; 1: found nothing. Anything else is a failure.
    if !matches!(out.status.code(), Some(0 | 1)) {
        return Err(format!("rg {args:?} failed ({})", out.status));
    }
    Ok((secs, out.stdout.iter().filter(|&&b| b == b'\n').count()))
}

/// The `rg` floor for one size, shaped like a backend's point: grep is
/// `rg PATTERN`, glob is `rg --files -g '*.py'`, and there is no ls. Each
/// runs twice and the second counts, as for the backends.
fn rg_point(tree: &Path, files: usize, pattern: &str) -> Result<Value> {
    let mut point = serde_json::json!({ "backend": "rg", "files": files });
    for (op, args) in [
        ("grep", vec![pattern]),
        ("glob", vec!["--files", "-g", "*.py"]),
    ] {
        let (first, _) = rg_once(tree, &args)?;
        let (secs, count) = rg_once(tree, &args)?;
        point[op] = serde_json::json!({ "secs": secs, "first_secs": first, "count": count });
    }
    Ok(point)
}

/// Runs the scale points and writes the table and the chart.
pub fn run(root: &Path, runner: &Path, sizes: &[usize]) -> Result {
    let bench_dir = root.join("target/bench");
    let data = bench_dir.join("scale");
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let data_arg = data.display().to_string();
    let mut points = Vec::new();
    for &n in sizes {
        super::setup::run(
            Command::new(runner)
                .args(["scale-gen", "--data", &data_arg])
                .arg(n.to_string()),
        )?;
        for b in BACKENDS {
            let v = child(
                runner,
                &[
                    "scale".into(),
                    "--data".into(),
                    data_arg.clone(),
                    (*b).into(),
                    n.to_string(),
                ],
            )?;
            eprintln!("bench: scale {b} {n}: {v}");
            points.push(v);
        }
        // The runner says which pattern its grep used.
        let pattern = points
            .last()
            .and_then(|v: &Value| v["grep_pattern"].as_str())
            .ok_or("the runner did not report its grep pattern")?
            .to_owned();
        let v = rg_point(&data.join(format!("scale-{n}")), n, &pattern)?;
        eprintln!("bench: scale rg {n}: {v}");
        points.push(v);
    }
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let mut usable = serde_json::Map::new();
    for query in ["glob100", "grep100", "ls_flat", "grep_all", "grep_src"] {
        let v = child(
            runner,
            &[
                "usable".into(),
                "--data".into(),
                data_arg.clone(),
                largest.to_string(),
                query.into(),
            ],
        )?;
        eprintln!("bench: usable {largest} {query}: {v}");
        usable.insert(query.to_owned(), v);
    }
    let usable = Value::Object(usable);

    let table = render(&points, &usable, largest);
    let md = bench_dir.join("scale.md");
    std::fs::write(&md, &table).map_err(|e| format!("{}: {e}", md.display()))?;
    let svg = bench_dir.join("scale.svg");
    chart(&points, &svg)?;
    println!("\n{table}");
    eprintln!("bench: wrote {} and {}", md.display(), svg.display());
    Ok(())
}

fn secs(v: &Value, op: &str) -> f64 {
    v[op]["secs"].as_f64().unwrap_or(f64::NAN)
}

fn mib(bytes: Option<u64>) -> String {
    match bytes {
        Some(b) => format!("{:.1}", b as f64 / (1024.0 * 1024.0)),
        None => "–".into(),
    }
}

fn fmt_secs(s: f64) -> String {
    if !s.is_finite() {
        "–".into()
    } else if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

fn render(points: &[Value], usable: &Value, largest: usize) -> String {
    let mut out = String::from(
        "## Scaling (grep, glob `**/*.py`, ls of `flat/`)\n\n\
         Files = files under `src/` (1,000 per directory; `flat/` holds a tenth as many \
         more). Time = the second run of each operation (the first warms the page cache); \
         +RSS = peak RSS the first run added; peak = the process's peak RSS \
         (for StateBackend it holds the whole tree). `rg` rows: the ripgrep CLI on the same \
         tree, a process per run (grep; `--files -g '*.py'` as the glob), the floor.\n\n\
         | backend | files | grep | +RSS MiB | glob | +RSS MiB | ls | +RSS MiB | peak MiB |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for v in points {
        let peak = ["grep", "glob", "ls"]
            .iter()
            .filter_map(|op| v[*op]["peak_rss"].as_u64())
            .chain(v["load_peak_rss"].as_u64())
            .max();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            v["backend"].as_str().unwrap_or("?"),
            v["files"],
            fmt_secs(secs(v, "grep")),
            mib(v["grep"]["rss_delta"].as_u64()),
            fmt_secs(secs(v, "glob")),
            mib(v["glob"]["rss_delta"].as_u64()),
            fmt_secs(secs(v, "ls")),
            mib(v["ls"]["rss_delta"].as_u64()),
            mib(peak),
        );
    }
    let _ = write!(
        out,
        "\nA {largest}-file workspace on LocalBackend (first run / second run, results):\n\n\
         | query (own process each) | first | second | results | +RSS MiB |\n|---|---:|---:|---:|---:|\n"
    );
    for (key, label) in [
        ("glob100", "glob `**/*.py`, max_count 100"),
        ("grep100", "grep, max_count 100"),
        ("ls_flat", "ls of `flat/`"),
        ("grep_all", "grep, uncapped, whole tree"),
        (
            "grep_src",
            "grep, uncapped, `src/` only (no directory over 1,000 entries)",
        ),
    ] {
        let q = &usable[key];
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} | {} |",
            fmt_secs(q["first_secs"].as_f64().unwrap_or(f64::NAN)),
            fmt_secs(q["secs"].as_f64().unwrap_or(f64::NAN)),
            q["count"],
            mib(q["rss_delta"].as_u64()),
        );
    }
    out
}

/// Log-log time per operation against files, one line per backend and
/// operation.
fn chart(points: &[Value], path: &Path) -> Result {
    let err = |e: &dyn std::fmt::Display| format!("chart {}: {e}", path.display());
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let xs: Vec<f64> = points.iter().filter_map(|v| v["files"].as_f64()).collect();
    let ys: Vec<f64> = points
        .iter()
        .flat_map(|v| OPS.iter().map(move |op| secs(v, op)))
        .filter(|s| s.is_finite() && *s > 0.0)
        .collect();
    let (x0, x1) = (
        xs.iter().copied().fold(f64::INFINITY, f64::min).max(1.0),
        xs.iter().copied().fold(1.0, f64::max),
    );
    let (y0, y1) = (
        ys.iter().copied().fold(f64::INFINITY, f64::min).max(1e-7) / 2.0,
        ys.iter().copied().fold(1e-6, f64::max) * 2.0,
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "grep / glob / ls time vs workspace size (log-log)",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("files")
        .y_desc("seconds")
        // "1M", not "1000000": the last label must fit the chart's edge.
        .x_label_formatter(&|x| {
            if *x >= 1e6 {
                format!("{:.0}M", x / 1e6)
            } else if *x >= 1e3 {
                format!("{:.0}k", x / 1e3)
            } else {
                format!("{x:.0}")
            }
        })
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .draw()
        .map_err(|e| err(&e))?;
    let colors = [RED, BLUE, GREEN, BLACK];
    for (bi, b) in BACKENDS.iter().chain(&["rg"]).enumerate() {
        for (oi, op) in OPS.iter().enumerate() {
            let series: Vec<(f64, f64)> = points
                .iter()
                .filter(|v| v["backend"].as_str() == Some(b))
                .filter_map(|v| Some((v["files"].as_f64()?, secs(v, op))))
                .filter(|(_, s)| s.is_finite() && *s > 0.0)
                .collect();
            if series.is_empty() {
                continue; // rg has no ls
            }
            let style = ShapeStyle {
                color: colors[bi].mix(if oi == 0 {
                    1.0
                } else if oi == 1 {
                    0.7
                } else {
                    0.4
                }),
                filled: oi == 0,
                stroke_width: if oi == 0 { 3 } else { 2 },
            };
            chart
                .draw_series(LineSeries::new(series, style))
                .map_err(|e| err(&e))?
                .label(format!("{b} {op}"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
