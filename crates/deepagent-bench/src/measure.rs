//! Timing and peak-memory measurement, mirrored in `xtask/bench/python/common.py`.
//!
//! One process measures one variant:
//! 1. the first operation runs with the peak-RSS counter reset, so its
//!    memory cost is `VmHWM - VmRSS(before)`; it doubles as the warm-up;
//! 2. then timed iterations until 0.5 s have been spent (at least one, at
//!    most 50), and the median of those is the result.
//!
//! Both languages follow exactly these rules, so their numbers compare.

use std::time::{Duration, Instant};

use crate::Error;

/// What one process reports.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Median seconds per timed operation.
    pub secs: f64,
    /// Timed operations.
    pub iters: usize,
    /// Seconds of the first (memory-measured, untimed-for-median) operation.
    pub first_secs: f64,
    /// Peak resident memory the first operation added, in bytes (`None`
    /// when not measurable, e.g. for a child process).
    pub peak_rss_delta: Option<u64>,
    /// What the operation found (matches, files), to check both sides agree.
    pub count: u64,
}

impl Sample {
    /// The JSON line the xtask reads.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "secs": self.secs,
            "iters": self.iters,
            "first_secs": self.first_secs,
            "peak_rss_delta": self.peak_rss_delta,
            "count": self.count,
        })
    }
}

const BUDGET: Duration = Duration::from_millis(500);
const MAX_ITERS: usize = 50;

/// Measures `op` after a per-iteration untimed `setup`.
pub fn run<S, T>(
    mut setup: impl FnMut() -> Result<S, Error>,
    mut op: impl FnMut(S) -> Result<T, Error>,
    count: impl Fn(&T) -> u64,
) -> Result<Sample, Error> {
    let state = setup()?;
    let before = vm_rss();
    reset_peak();
    let start = Instant::now();
    let first = op(state)?;
    let first_secs = start.elapsed().as_secs_f64();
    let peak = vm_hwm();
    let found = count(&first);
    drop(first);

    let mut times = Vec::new();
    let mut spent = Duration::ZERO;
    while times.len() < MAX_ITERS && (times.is_empty() || spent < BUDGET) {
        let state = setup()?;
        let start = Instant::now();
        let out = op(state)?;
        let took = start.elapsed();
        drop(out);
        spent += took;
        times.push(took.as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(Sample {
        secs: median(&times),
        iters: times.len(),
        first_secs,
        peak_rss_delta: match (before, peak) {
            (Some(b), Some(p)) => Some(p.saturating_sub(b)),
            _ => None,
        },
        count: found,
    })
}

/// The middle of a sorted slice (mean of the two middles when even).
pub fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Resets the kernel's peak-RSS counter (`VmHWM`) to the current RSS.
/// Writing `5` to `clear_refs` is the documented way (Linux 4.0+).
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib = line[field.len()..].trim().trim_end_matches("kB").trim();
    kib.parse::<u64>().ok().map(|k| k * 1024)
}

/// Current resident memory in bytes.
pub fn vm_rss() -> Option<u64> {
    status_kib("VmRSS:")
}

/// Peak resident memory since the last reset, in bytes.
pub fn vm_hwm() -> Option<u64> {
    status_kib("VmHWM:")
}
