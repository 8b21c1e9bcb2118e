//! Medians, ratios and the Markdown table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::plan::{Compare, Metric, Workload};

/// The samples of one variant over all rounds.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    /// Seconds per operation, one per round.
    pub secs: Vec<f64>,
    /// Peak RSS added, bytes, one per round that measured it.
    pub rss: Vec<f64>,
    /// What each round found (should all agree).
    pub counts: Vec<u64>,
    /// Rounds whose process failed (left out of the medians).
    pub failures: usize,
}

/// One workload's results: its variants' samples, or why it was skipped.
#[derive(Debug)]
pub enum Outcome {
    /// Measured.
    Ran(BTreeMap<&'static str, Samples>),
    /// Not measured, with the reason (e.g. no Docker engine).
    Skipped(String),
}

/// The median of some numbers (`None` when there are none).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn fmt_secs(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

fn fmt_bytes(b: f64) -> String {
    if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.0} KiB", b / 1024.0)
    }
}

struct Row {
    ours: String,
    theirs: String,
    ratio: Option<f64>,
}

fn row(c: &Compare, results: &BTreeMap<&'static str, Samples>) -> Row {
    let get = |name: &str| results.get(name);
    let med = |name: &str, time: bool| {
        get(name).and_then(|s| median(if time { &s.secs } else { &s.rss }))
    };
    match c.metric {
        Metric::Time => {
            let (o, t) = (med(c.ours, true), med(c.theirs, true));
            Row {
                ours: o.map_or("–".into(), fmt_secs),
                theirs: t.map_or("–".into(), fmt_secs),
                ratio: o.zip(t).map(|(o, t)| o / t),
            }
        }
        Metric::Memory => {
            let (o, t) = (med(c.ours, false), med(c.theirs, false));
            Row {
                ours: o.map_or("–".into(), fmt_bytes),
                theirs: t.map_or("–".into(), fmt_bytes),
                ratio: o.zip(t).map(|(o, t)| o / t),
            }
        }
        Metric::MemoryPerContent => {
            let o = med(c.ours, false);
            let content = get(c.ours)
                .and_then(|s| s.counts.first().copied())
                .map(|c| c as f64);
            Row {
                ours: o.map_or("–".into(), fmt_bytes),
                theirs: content.map_or("–".into(), |c| format!("{} content", fmt_bytes(c))),
                ratio: o.zip(content).map(|(o, c)| o / c),
            }
        }
    }
}

/// The Markdown report: one table row per comparison, then notes.
pub fn render(results: &[(&'static Workload, Outcome)], header: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{header}");
    let _ = writeln!(
        out,
        "| # | comparison (ours / theirs) | ours | theirs | ratio | target | met |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|:---:|");
    let mut notes = Vec::new();
    for (w, outcome) in results {
        match outcome {
            Outcome::Skipped(why) => {
                let _ = writeln!(out, "| {} | {}: {why} | | | | | |", w.number, w.title);
            }
            Outcome::Ran(samples) => {
                for c in w.compares {
                    let r = row(c, samples);
                    let ratio = r.ratio.map_or("–".into(), |x| format!("{x:.3}"));
                    let target = c.target.map_or("–".into(), |t| {
                        if t < 1.0 && (1.0 / t).fract() == 0.0 {
                            format!("≤ 1/{:.0}", 1.0 / t)
                        } else if t < 1.0 && (1.0 / t - 3.0).abs() < 1e-9 {
                            "≤ 1/3".into()
                        } else {
                            format!("≤ {t}")
                        }
                    });
                    let met = match (r.ratio, c.target) {
                        (Some(x), Some(t)) if x <= t => "yes",
                        (Some(_), Some(_)) => "**no**",
                        _ => "",
                    };
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} | {ratio} | {target} | {met} |",
                        w.number, c.label, r.ours, r.theirs
                    );
                }
                for (name, s) in samples {
                    if s.failures > 0 {
                        notes.push(format!(
                            "{}/{name}: {} round(s) failed and are not in the median",
                            w.name, s.failures
                        ));
                    }
                    let mut counts = s.counts.clone();
                    counts.dedup();
                    if counts.len() > 1 {
                        notes.push(format!(
                            "{}/{name}: results differ between rounds: {counts:?}",
                            w.name
                        ));
                    }
                }
                let found: Vec<String> = samples
                    .iter()
                    .filter_map(|(n, s)| s.counts.first().map(|c| format!("{n}={c}")))
                    .collect();
                notes.push(format!("{} results: {}", w.name, found.join(", ")));
            }
        }
    }
    if !notes.is_empty() {
        let _ = writeln!(
            out,
            "\nResult counts (matches, files, bytes or edits each side found):\n"
        );
        for n in notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    out
}
