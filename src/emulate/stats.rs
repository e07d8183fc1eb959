//! Counters and latency figures of one emulator run, and the summary built from them.
//!
//! Hot counters are atomics so that a thousand register tasks never queue on a lock; error kinds
//! are rare and go through a mutex-guarded map. Latency histograms are per worker and merged once
//! at the end, for the same reason.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::ServerCounters;

/// Highest latency the histograms track; slower exchanges are clamped to it.
const MAX_TRACKED_LATENCY_US: u64 = 120_000_000;

/// Live counters shared by every worker and the progress display.
#[derive(Default)]
pub struct Stats {
    /// Documents handed out by the register models (each counted once, however often resent).
    pub documents: AtomicU64,
    /// Frames written in full (first sends and resends).
    pub frames_sent: AtomicU64,
    /// Frames written again after a failed attempt.
    pub resends: AtomicU64,
    /// Documents acknowledged with every check passing.
    pub acked: AtomicU64,
    /// Documents the server refused with an explicit code.
    pub rejected: AtomicU64,
    /// Documents whose reply failed verification.
    pub invalid: AtomicU64,
    /// Documents given up after the per-document time limit.
    pub undelivered: AtomicU64,
    /// TCP connections established.
    pub connections: AtomicU64,
    /// Resend checks whose second reply was byte-identical to the first.
    pub resend_checks_identical: AtomicU64,
    /// Resend checks whose second reply differed.
    pub resend_checks_different: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    /// Count one event of `kind` in the error breakdown.
    pub fn error(&self, kind: impl Into<String>) {
        let mut errors = self
            .errors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *errors.entry(kind.into()).or_default() += 1;
    }

    /// Add one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Total events in the error breakdown.
    pub fn error_total(&self) -> u64 {
        self.errors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .sum()
    }

    fn errors_snapshot(&self) -> BTreeMap<String, u64> {
        self.errors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// The run's latency histograms, shared by its workers.
pub struct Latencies {
    /// Successful exchanges: first byte written → last reply byte read, for the attempt that
    /// got the acknowledgement. This is what the server and the link cost a register.
    pub exchange: Histogram<u64>,
    /// Whole deliveries: first attempt started → acknowledgement, back-offs and resends included.
    pub delivery: Histogram<u64>,
    /// Paced runs: how late a document's first attempt starts after it was due (the load
    /// generator's own delay: a late timer, building the document), before any connection.
    pub start: Histogram<u64>,
    /// Each connection opened: the TCP handshake as the client sees it.
    pub connect: Histogram<u64>,
}

impl Latencies {
    /// Empty histograms (microsecond resolution, three significant figures).
    pub fn new() -> Self {
        Latencies {
            exchange: new_histogram(),
            delivery: new_histogram(),
            start: new_histogram(),
            connect: new_histogram(),
        }
    }

    /// Record one value, clamped into the tracked range.
    pub fn record(histogram: &mut Histogram<u64>, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        histogram.saturating_record(micros.clamp(1, MAX_TRACKED_LATENCY_US));
    }
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_TRACKED_LATENCY_US, 3)
        .expect("constant histogram bounds are valid")
}

/// Percentiles of one histogram, in milliseconds.
#[derive(Debug, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Percentiles {
    fn of(histogram: &Histogram<u64>) -> Self {
        let ms = |micros: u64| micros as f64 / 1000.0;
        Percentiles {
            count: histogram.len(),
            mean: histogram.mean() / 1000.0,
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
        }
    }
}

/// The final report of a run: printed as text, or as one JSON object with `--json`.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub dialect: &'static str,
    pub target: String,
    pub registers: u64,
    pub concurrency: u64,
    /// `--rate`, when the load was paced (open loop); absent when as fast as possible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offered_rate: Option<f64>,
    pub elapsed_s: f64,
    pub seed: u64,
    /// The fleet number the registers' identities come from (derived from the seed unless
    /// `--fleet` was given).
    pub fleet: u32,
    pub documents: u64,
    pub frames_sent: u64,
    pub resends: u64,
    pub acked: u64,
    pub rejected: u64,
    pub invalid: u64,
    pub undelivered: u64,
    pub connections: u64,
    pub acked_per_s: f64,
    pub errors: BTreeMap<String, u64>,
    pub resend_checks: ResendChecks,
    pub exchange_latency_ms: Percentiles,
    pub delivery_latency_ms: Percentiles,
    /// Due → first attempt started ([`Latencies::start`]); unpaced, the time to build a document.
    pub start_latency_ms: Percentiles,
    /// TCP handshakes ([`Latencies::connect`]).
    pub connect_latency_ms: Percentiles,
    /// With `--metrics-url`: how much the server's conflict, quarantine and refusal counters
    /// grew during the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_growth: Option<ServerCounters>,
    /// Why the run failed, one short reason each (`conflicts`, `invalid_replies` …); empty when
    /// it passed.
    pub failures: Vec<String>,
}

/// Outcome of `--resend-check`.
#[derive(Debug, Serialize)]
pub struct ResendChecks {
    pub identical: u64,
    pub different: u64,
}

/// What the run was, for the summary header.
pub struct RunInfo {
    pub dialect: &'static str,
    pub target: String,
    pub registers: u64,
    pub concurrency: u64,
    pub offered_rate: Option<f64>,
    pub elapsed: Duration,
    pub seed: u64,
    pub fleet: u32,
}

impl Summary {
    /// Freeze the counters and histograms of a finished run.
    pub fn build(info: RunInfo, stats: &Stats, latencies: &Latencies) -> Self {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let elapsed_s = info.elapsed.as_secs_f64();
        let acked = load(&stats.acked);
        let mut summary = Summary {
            dialect: info.dialect,
            target: info.target,
            registers: info.registers,
            concurrency: info.concurrency,
            offered_rate: info.offered_rate,
            elapsed_s,
            seed: info.seed,
            fleet: info.fleet,
            documents: load(&stats.documents),
            frames_sent: load(&stats.frames_sent),
            resends: load(&stats.resends),
            acked,
            rejected: load(&stats.rejected),
            invalid: load(&stats.invalid),
            undelivered: load(&stats.undelivered),
            connections: load(&stats.connections),
            acked_per_s: if elapsed_s > 0.0 {
                acked as f64 / elapsed_s
            } else {
                0.0
            },
            errors: stats.errors_snapshot(),
            resend_checks: ResendChecks {
                identical: load(&stats.resend_checks_identical),
                different: load(&stats.resend_checks_different),
            },
            exchange_latency_ms: Percentiles::of(&latencies.exchange),
            delivery_latency_ms: Percentiles::of(&latencies.delivery),
            start_latency_ms: Percentiles::of(&latencies.start),
            connect_latency_ms: Percentiles::of(&latencies.connect),
            server_growth: None,
            failures: Vec::new(),
        };
        summary.failures = summary.find_failures();
        summary
    }

    /// Record what the server's counters did during the run, and judge the run again.
    pub fn set_server_growth(&mut self, growth: ServerCounters) {
        self.server_growth = Some(growth);
        self.failures = self.find_failures();
    }

    fn find_failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        let mut fail = |count: u64, what: &str| {
            if count > 0 {
                failures.push(format!("{what} {count}"));
            }
        };
        fail(self.rejected, "rejected");
        fail(self.invalid, "invalid_replies");
        fail(self.undelivered, "undelivered");
        fail(
            self.documents
                .saturating_sub(self.acked + self.rejected + self.invalid + self.undelivered),
            "unsettled",
        );
        fail(self.resend_checks.different, "resend_replies_different");
        if let Some(growth) = self.server_growth {
            fail(growth.conflicts, "server_conflicts");
            fail(growth.quarantined, "server_quarantined");
            fail(growth.refused, "server_refused");
        }
        failures
    }

    /// True when every document was acknowledged and verified and the server (when watched)
    /// saw no conflict, quarantine or refusal.
    pub fn all_verified(&self) -> bool {
        self.acked == self.documents && self.failures.is_empty()
    }

    /// The one-line verdict closing the text summary: `PASS …` or `FAIL: reasons …`.
    pub fn verdict_line(&self) -> String {
        if self.all_verified() {
            format!(
                "PASS: {} of {} documents acknowledged and verified (seed {}, fleet {})",
                self.acked, self.documents, self.seed, self.fleet
            )
        } else {
            format!(
                "FAIL: {} (seed {}, fleet {}; repeat with --seed {})",
                self.failures.join(", "),
                self.seed,
                self.fleet,
                self.seed
            )
        }
    }

    /// Human-readable report for a terminal.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "ofd emulate: {} registers ({}) against {}, concurrency {}, {:.2} s, seed {}, fleet {}",
            self.registers,
            self.dialect,
            self.target,
            self.concurrency,
            self.elapsed_s,
            self.seed,
            self.fleet
        );
        if let Some(rate) = self.offered_rate {
            let _ = writeln!(out, "offered {rate:.0} documents/s (open loop)");
        }
        let _ = writeln!(
            out,
            "documents {}  acked {}  rejected {}  invalid {}  undelivered {}",
            self.documents, self.acked, self.rejected, self.invalid, self.undelivered
        );
        let _ = writeln!(
            out,
            "frames sent {}  resends {}  connections {}  throughput {:.0} acked docs/s",
            self.frames_sent, self.resends, self.connections, self.acked_per_s
        );
        for (name, figures) in [
            ("exchange", &self.exchange_latency_ms),
            ("delivery", &self.delivery_latency_ms),
            ("start", &self.start_latency_ms),
            ("connect", &self.connect_latency_ms),
        ] {
            let _ = writeln!(
                out,
                "{name} latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p999 {:.2}  max {:.2}  (n={})",
                figures.p50, figures.p90, figures.p99, figures.p999, figures.max, figures.count
            );
        }
        if self.resend_checks.identical + self.resend_checks.different > 0 {
            let _ = writeln!(
                out,
                "resend checks: {} identical, {} different",
                self.resend_checks.identical, self.resend_checks.different
            );
        }
        if self.errors.is_empty() {
            let _ = writeln!(out, "errors: none");
        } else {
            let _ = writeln!(out, "errors:");
            for (kind, count) in &self.errors {
                let _ = writeln!(out, "  {kind}: {count}");
            }
        }
        if let Some(growth) = self.server_growth {
            let _ = writeln!(
                out,
                "server during the run: conflicts +{}  quarantined +{}  refused +{}",
                growth.conflicts, growth.quarantined, growth.refused
            );
        }
        let _ = writeln!(out, "{}", self.verdict_line());
        out
    }
}
