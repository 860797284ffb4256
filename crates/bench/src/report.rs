//! Measurements: printed as a table, appended to a JSON-lines results file.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// One number a cell measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Measurement {
    pub(crate) cell: String,
    /// What the number is about (a backend, a query class, a peer…).
    pub(crate) subject: String,
    pub(crate) metric: String,
    pub(crate) value: f64,
    pub(crate) unit: String,
    pub(crate) corpus: String,
    pub(crate) git_rev: String,
    pub(crate) timestamp: u64,
}

/// Collects measurements for one run.
#[derive(Debug)]
pub(crate) struct Report {
    corpus: String,
    git_rev: String,
    timestamp: u64,
    rows: Vec<Measurement>,
}

impl Report {
    pub(crate) fn new(corpus: &str) -> Self {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            corpus: corpus.to_owned(),
            git_rev: git_rev(),
            timestamp,
            rows: Vec::new(),
        }
    }

    pub(crate) fn record(
        &mut self,
        cell: &str,
        subject: &str,
        metric: &str,
        value: f64,
        unit: &str,
    ) {
        self.rows.push(Measurement {
            cell: cell.to_owned(),
            subject: subject.to_owned(),
            metric: metric.to_owned(),
            value,
            unit: unit.to_owned(),
            corpus: self.corpus.clone(),
            git_rev: self.git_rev.clone(),
            timestamp: self.timestamp,
        });
    }

    /// The table, as markdown.
    pub(crate) fn table(&self) -> String {
        let mut out =
            String::from("| cell | subject | metric | value | unit |\n|---|---|---|---:|---|\n");
        for m in &self.rows {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                m.cell,
                m.subject,
                m.metric,
                format_value(m.value),
                m.unit
            ));
        }
        out
    }

    /// Append every row as a JSON line.
    pub(crate) fn append_jsonl(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        for m in &self.rows {
            writeln!(file, "{}", serde_json::to_string(m)?)?;
        }
        Ok(())
    }
}

fn format_value(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

fn git_rev() -> String {
    std::process::Command::new("git")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(
            || "unknown".to_owned(),
            |o| String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        )
}

/// Peak resident set size of this process, in bytes (Linux `VmHWM`).
pub(crate) fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resident set size of this process now, in bytes (Linux `VmRSS`).
pub(crate) fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Percentile (0..=100) of sorted-in-place samples, in milliseconds.
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "rank is in 0..len"
)]
pub(crate) fn percentile_ms(samples: &mut [Duration], pct: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_unstable();
    let rank = ((pct / 100.0) * (samples.len() - 1) as f64).round();
    let index = (rank as usize).min(samples.len() - 1);
    samples[index].as_secs_f64() * 1e3
}

/// Reset the kernel's peak-RSS mark so the next phase is measured alone
/// (Linux: writing 5 to `/proc/self/clear_refs`). Best effort.
pub(crate) fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
