//! The forwarding loop: hold the lease, resume or claim a batch, send it until the sink answers,
//! record the answer.
//!
//! A worker keeps one batch until it has an answer: while the sink is down the batch waits with
//! its id (and new documents wait unclaimed, so the backlog gauge shows the outage), and when the
//! sink returns, that same batch goes first. Several workers in one process, and several
//! processes, share nothing but the database.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio_util::sync::CancellationToken;

use super::{
    destination::Destination,
    metrics::ForwardMetrics,
    outbox::{Batch, ClaimLimits, Outbox},
    retry::{Backoff, Breaker},
    send_error::SendError,
};
use crate::clock::unix_millis;

/// Tunables of the loop.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Batch bounds and lease length.
    pub limits: ClaimLimits,
    /// Send a partial batch once its oldest document has waited this long (ms).
    pub max_age_ms: i64,
    /// Sleep between looks at an empty queue.
    pub poll: Duration,
    /// Retry spacing.
    pub backoff: Backoff,
}

/// Everything a worker needs, shared by all workers of one process.
pub struct Forwarder {
    /// The database side.
    pub outbox: Outbox,
    /// The receiver.
    pub destination: Destination,
    /// Shared breaker.
    pub breaker: Arc<Breaker>,
    /// Instruments.
    pub metrics: ForwardMetrics,
    /// Tunables.
    pub tuning: Tuning,
}

/// Sleep unless shut down first; `false` when shut down.
async fn pause(shutdown: &CancellationToken, duration: Duration) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => false,
        _ = tokio::time::sleep(duration) => true,
    }
}

impl Forwarder {
    /// One worker, until `shutdown`. Database errors are logged and retried after a pause: the
    /// forwarder must outlive a database restart.
    pub async fn run_worker(self: Arc<Self>, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let idle = match self.step(&shutdown).await {
                Ok(worked) => !worked,
                Err(e) => {
                    tracing::warn!(error = %e, "forwarder database error");
                    true
                }
            };
            if idle && !pause(&shutdown, self.tuning.poll).await {
                break;
            }
        }
    }

    /// Do one unit of work; `Ok(false)` when there was nothing to do.
    async fn step(&self, shutdown: &CancellationToken) -> Result<bool, sqlx::Error> {
        let lease_ms = self.tuning.limits.lease_ms;
        if !self
            .outbox
            .hold_writer_lease(unix_millis(), lease_ms)
            .await?
        {
            return Ok(false);
        }
        let batch = match self.outbox.take_over(unix_millis(), lease_ms).await? {
            Some(batch) => Some(batch),
            None => {
                let now = unix_millis();
                let limits = self.tuning.limits;
                if self
                    .outbox
                    .batch_due(now, self.tuning.max_age_ms, limits.max_documents)
                    .await?
                {
                    self.outbox.claim(now, limits).await?
                } else {
                    None
                }
            }
        };
        let Some(batch) = batch else {
            return Ok(false);
        };
        self.deliver(batch, shutdown).await?;
        Ok(true)
    }

    /// Send one batch until it is answered, taken over, or we shut down. Failures of any kind
    /// (transport, timeout, 5xx, a 4xx without an answer) are retried with backoff and the
    /// breaker, without limit; only the answer's per-document verdicts reject documents.
    async fn deliver(
        &self,
        mut batch: Batch,
        shutdown: &CancellationToken,
    ) -> Result<(), sqlx::Error> {
        let mut attempt = 0u32;
        loop {
            if let Err(wait) = self.breaker.permit(Instant::now()) {
                self.metrics.circuit_open.set(1);
                if !pause(shutdown, wait).await {
                    return Ok(());
                }
                continue;
            }
            self.metrics.circuit_open.set(0);
            // Both claims must still be ours: the SQLite writer lease (a long outage outlasts
            // it) and the batch's own lease.
            let lease_ms = self.tuning.limits.lease_ms;
            if !self
                .outbox
                .hold_writer_lease(unix_millis(), lease_ms)
                .await?
                || !self
                    .outbox
                    .renew(&mut batch, unix_millis(), lease_ms)
                    .await?
            {
                tracing::info!(batch_id = %batch.id, "batch taken over by another forwarder");
                return Ok(());
            }
            attempt += 1;
            let started = Instant::now();
            let result = self.destination.send(&batch).await;
            let count = batch.documents.len() as u64;
            match result {
                Ok(reply) => {
                    self.breaker.succeeded();
                    self.metrics.sink_up.set(1);
                    self.metrics
                        .send_seconds
                        .observe(started.elapsed().as_secs_f64());
                    let now = unix_millis();
                    let sent = self.outbox.record_reply(&batch.id, &reply, now).await?;
                    for received_at in &sent {
                        let seconds = (now - received_at).max(0) as f64 / 1000.0;
                        self.metrics.ack_to_sink_seconds.observe(seconds);
                    }
                    self.metrics.batches.with_label_values(&["sent"]).inc();
                    self.metrics.batch_documents.observe(count as f64);
                    self.metrics.batch_bytes.observe(batch.bytes() as f64);
                    self.metrics
                        .documents
                        .with_label_values(&["sent"])
                        .inc_by(sent.len() as u64);
                    self.metrics
                        .documents
                        .with_label_values(&["rejected"])
                        .inc_by(reply.rejected.len() as u64);
                    for rejected in &reply.rejected {
                        tracing::warn!(doc = %rejected.id, reason = %rejected.reason, "document rejected by the sink");
                    }
                    tracing::debug!(batch_id = %batch.id, sent = sent.len(), rejected = reply.rejected.len(), status = ?reply.status, "batch answered");
                    return Ok(());
                }
                Err(error) => {
                    let text = error.to_string();
                    self.breaker.failed(Instant::now(), &text);
                    self.metrics.sink_up.set(0);
                    self.metrics
                        .documents
                        .with_label_values(&["failed"])
                        .inc_by(count);
                    let attempts = self.outbox.record_failure(&batch.id, &text).await?;
                    // Never give documents up here: a whole-batch 4xx (wrong path, 401, 403,
                    // 413 …) is a problem of our link or configuration, not the tax authority's
                    // verdict on the documents, which only a well-formed answer carries.
                    match &error {
                        SendError::Refused { status, .. } => {
                            self.metrics.batches.with_label_values(&["refused"]).inc();
                            self.metrics
                                .send_errors
                                .with_label_values(&[&status.to_string()])
                                .inc();
                            tracing::error!(batch_id = %batch.id, attempt, attempts, status, error = %text, "the sink refused the whole batch: check the sink URL, credentials and limits; the batch is kept and retried");
                        }
                        SendError::Transient(_) => {
                            self.metrics.batches.with_label_values(&["failed"]).inc();
                            self.metrics
                                .send_errors
                                .with_label_values(&["transport"])
                                .inc();
                            tracing::warn!(batch_id = %batch.id, attempt, error = %text, "send failed; will retry with the same batch id");
                        }
                    }
                    if !pause(shutdown, self.tuning.backoff.delay(attempt)).await {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Refresh the backlog gauges every `every`, until `shutdown`.
    pub async fn watch_backlog(self: Arc<Self>, every: Duration, shutdown: CancellationToken) {
        loop {
            match self.outbox.backlog().await {
                Ok(backlog) => {
                    self.metrics.backlog.set(backlog.pending);
                    let age_ms = backlog
                        .oldest_received_at
                        .map_or(0, |oldest| (unix_millis() - oldest).max(0));
                    self.metrics.oldest_pending_age_seconds.set(age_ms / 1000);
                }
                Err(e) => tracing::warn!(error = %e, "reading the backlog failed"),
            }
            self.metrics
                .circuit_open
                .set(i64::from(self.breaker.is_open()));
            if !pause(&shutdown, every).await {
                return;
            }
        }
    }
}
