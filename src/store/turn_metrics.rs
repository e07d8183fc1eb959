//! How long the writers of one process have held the SQLite write turn
//! ([`super::Store::sqlite_write_turn`]), exported when Prometheus scrapes as
//! `ofd_store_write_turn_held_seconds_total{holder="ingest"|"background"}`.
//!
//! The rate of the sum is the share of time the database file is being written by this process.
//! Measured under `ofd all` on 2 cores with KZ paced at 2,000 requests/s it was 0.9-1.0
//! (benches/README.md, issue 20): every commit then queues behind another, and the ack
//! latency grows with the queue however short each transaction is. The rate of the background
//! part is what moving the database to PostgreSQL on a host of its own would give back to
//! ingest; another process on the same SQLite file would still queue for its one writer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{CounterVec, Opts};

use super::TurnTaker;

/// Microseconds each side has held the turn, since the store was opened.
#[derive(Debug, Default)]
pub struct TurnsHeld {
    ingest_us: AtomicU64,
    background_us: AtomicU64,
}

impl TurnsHeld {
    /// Count `held` for `taker`.
    pub fn add(&self, taker: TurnTaker, held: Duration) {
        let micros = u64::try_from(held.as_micros()).unwrap_or(u64::MAX);
        self.counter(taker).fetch_add(micros, Ordering::Relaxed);
    }

    /// What `taker` has held so far.
    pub fn of(&self, taker: TurnTaker) -> Duration {
        Duration::from_micros(self.counter(taker).load(Ordering::Relaxed))
    }

    fn counter(&self, taker: TurnTaker) -> &AtomicU64 {
        match taker {
            TurnTaker::Ingest => &self.ingest_us,
            TurnTaker::Background => &self.background_us,
        }
    }
}

/// The Prometheus view of [`TurnsHeld`], read at scrape time.
pub struct TurnsHeldCollector {
    held: std::sync::Arc<TurnsHeld>,
    seconds: CounterVec,
    /// Two scrapes at once must not both add the same delta.
    collecting: std::sync::Mutex<()>,
}

impl TurnsHeldCollector {
    /// Export `held`.
    pub fn new(held: std::sync::Arc<TurnsHeld>) -> prometheus::Result<Self> {
        let seconds = CounterVec::new(
            Opts::new(
                "ofd_store_write_turn_held_seconds_total",
                "Time this process's writers held the SQLite write turn, by holder (ingest's group commit, or the projector and forwarder); the rate of the sum near 1 means commits queue behind one another.",
            ),
            &["holder"],
        )?;
        Ok(Self {
            held,
            seconds,
            collecting: std::sync::Mutex::new(()),
        })
    }
}

impl Collector for TurnsHeldCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.seconds.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let _one_at_a_time = self
            .collecting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (holder, taker) in [
            ("ingest", TurnTaker::Ingest),
            ("background", TurnTaker::Background),
        ] {
            let counter = self.seconds.with_label_values(&[holder]);
            // Counters only go up: add what was held since the last scrape.
            let delta = self.held.of(taker).as_secs_f64() - counter.get();
            if delta > 0.0 {
                counter.inc_by(delta);
            }
        }
        self.seconds.collect()
    }
}
