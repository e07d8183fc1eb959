//! The forwarder's retention task: it is the role that knows what the tax authority confirmed,
//! so it is the one that deletes what the law no longer asks to keep
//! ([`crate::store::retention`] holds the rules and the statements).
//!
//! Once at start and then every [`INTERVAL`], with the cutoff `now - retention_days` read from
//! [`crate::clock`]: batches of `retention_batch` with [`PAUSE`] between them until a batch
//! finds nothing more, every deletion counted in `ofd_forward_retention_deleted_total` and each
//! run that deleted anything logged with its count and cutoff. Never silent, never a document
//! the tax authority has not confirmed. `retention_days = 0` keeps everything (no task).
//! [`run_once`] takes the time as an argument, so a test chooses it.

use std::time::Duration;

use prometheus::IntCounter;
use tokio_util::sync::CancellationToken;

use crate::store::retention::{delete_delivered_before, drop_delivered_partitions};
use crate::store::Store;

/// Time between runs.
pub const INTERVAL: Duration = Duration::from_secs(3600);

/// Pause between two batches of one run, so ingest keeps the database.
pub const PAUSE: Duration = Duration::from_millis(50);

const DAY_MS: i64 = 86_400_000;

/// The retention task's settings and counter.
pub struct Retention {
    store: Store,
    keep_ms: i64,
    batch: u64,
    deleted: IntCounter,
    partitions_dropped: Option<IntCounter>,
}

impl Retention {
    /// `None` when `days` is 0 (keep everything).
    pub fn new(store: Store, days: u32, batch: u64, deleted: IntCounter) -> Option<Retention> {
        (days > 0).then(|| Retention {
            store,
            keep_ms: i64::from(days) * DAY_MS,
            batch: batch.max(1),
            deleted,
            partitions_dropped: None,
        })
    }

    /// Also count the month partitions dropped whole (PostgreSQL) in `counter`.
    pub fn counting_partitions(mut self, counter: IntCounter) -> Retention {
        self.partitions_dropped = Some(counter);
        self
    }

    /// Run at start and every [`INTERVAL`] until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let now = crate::clock::unix_millis();
            if let Err(error) = self.run_once(now, &shutdown).await {
                tracing::warn!(error = %crate::error_chain::render(&error), "retention run failed; trying again later");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(INTERVAL) => {}
            }
        }
    }

    /// One run at `now_ms`: every confirmed document older than the retention period, in
    /// batches; the number deleted.
    pub async fn run_once(
        &self,
        now_ms: i64,
        shutdown: &CancellationToken,
    ) -> Result<u64, sqlx::Error> {
        let cutoff_ms = now_ms - self.keep_ms;
        let cutoff = chrono::DateTime::from_timestamp_millis(cutoff_ms)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        // Whole months first (PostgreSQL), then the batches for what is left: the default
        // partition, months kept because of an unconfirmed document, and SQLite.
        let months = drop_delivered_partitions(&self.store, cutoff_ms).await?;
        let mut total = months.documents_dropped();
        self.deleted.inc_by(total);
        if let Some(counter) = &self.partitions_dropped {
            counter.inc_by(months.dropped.len() as u64);
        }
        for (partition, documents) in &months.dropped {
            tracing::info!(%partition, documents, cutoff = %cutoff, "retention: dropped a month partition whose documents were all confirmed by the tax authority");
        }
        for (partition, rows) in &months.read_dropped {
            tracing::info!(%partition, rows, cutoff = %cutoff, "retention: dropped a read month (index, lines, daily figures) that describes no stored document");
        }
        for partition in &months.read_kept {
            tracing::info!(%partition, cutoff = %cutoff, "retention: read month kept: it still describes a stored document (or the read tables were busy)");
        }
        for (partition, unconfirmed) in &months.kept {
            tracing::info!(%partition, unconfirmed, cutoff = %cutoff, "retention: month partition kept (documents not confirmed by the tax authority, or busy); its confirmed documents are deleted in batches");
        }
        loop {
            let step = delete_delivered_before(&self.store, cutoff_ms, self.batch).await?;
            self.deleted.inc_by(step.deleted);
            total += step.deleted;
            if !step.more(self.batch) || shutdown.is_cancelled() {
                break;
            }
            tokio::time::sleep(PAUSE).await;
        }
        if total > 0 {
            tracing::info!(
                deleted = total,
                cutoff = %cutoff,
                "retention: deleted documents confirmed by the tax authority and received before the cutoff"
            );
        }
        Ok(total)
    }
}
