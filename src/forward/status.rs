//! `ofd forward status`: what the operator needs to see about the outbox — counts per state, the
//! age of the oldest pending document, batches still waiting for an answer, and the documents
//! the tax authority rejected, with the reason.

use serde::Serialize;
use sqlx::{AnyPool, Row};

/// A rejected document, for the operator.
#[derive(Debug, Serialize)]
pub struct Rejection {
    /// `<dialect>:<doc_key>`.
    pub id: String,
    /// Why.
    pub reason: String,
    /// The batch it went out in, if any.
    pub batch_id: Option<String>,
}

/// An unanswered batch.
#[derive(Debug, Serialize)]
pub struct OpenBatch {
    /// Its id.
    pub batch_id: String,
    /// Documents in it.
    pub documents: i64,
    /// Sends tried so far.
    pub attempts: i64,
    /// The last failure.
    pub last_error: Option<String>,
}

/// Delivery of the most recently sent documents: how fast, and how long after the register's
/// ack the tax authority confirmed them (`sent_at - received_at`).
#[derive(Debug, Serialize, Default)]
pub struct RecentDelivery {
    /// Documents in the window.
    pub documents: usize,
    /// Documents confirmed per second across the window (first to last confirmation).
    pub per_second: f64,
    /// Median ack-to-confirmation time, ms.
    pub p50_ms: i64,
    /// 99th percentile ack-to-confirmation time, ms.
    pub p99_ms: i64,
    /// Longest ack-to-confirmation time, ms.
    pub max_ms: i64,
}

impl RecentDelivery {
    /// Summarise `(received_at, sent_at)` pairs.
    fn from_times(times: &[(i64, i64)]) -> Self {
        if times.is_empty() {
            return Self::default();
        }
        let mut latencies: Vec<i64> = times.iter().map(|(r, s)| (s - r).max(0)).collect();
        latencies.sort_unstable();
        let rank = |q: f64| {
            latencies[((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1]
        };
        let first = times.iter().map(|t| t.1).min().unwrap_or(0);
        let last = times.iter().map(|t| t.1).max().unwrap_or(0);
        let span_s = (last - first) as f64 / 1000.0;
        Self {
            documents: times.len(),
            per_second: if span_s > 0.0 {
                times.len() as f64 / span_s
            } else {
                0.0
            },
            p50_ms: rank(0.50),
            p99_ms: rank(0.99),
            max_ms: latencies[latencies.len() - 1],
        }
    }
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Status {
    /// Documents waiting to be sent.
    pub pending: i64,
    /// Documents the sink confirmed.
    pub sent: i64,
    /// Documents the sink refused.
    pub rejected: i64,
    /// Seconds since the oldest pending document was committed.
    pub oldest_pending_age_seconds: Option<i64>,
    /// Batches claimed but not yet answered.
    pub open_batches: Vec<OpenBatch>,
    /// The most recent rejections.
    pub recent_rejections: Vec<Rejection>,
    /// Delivery figures over the last `window` sent documents.
    pub recent_delivery: RecentDelivery,
}

/// Read the report; `limit` bounds the lists, `window` the sent documents summarised.
pub async fn read(
    pool: &AnyPool,
    now_ms: i64,
    limit: i64,
    window: i64,
) -> Result<Status, sqlx::Error> {
    let mut status = Status {
        pending: 0,
        sent: 0,
        rejected: 0,
        oldest_pending_age_seconds: None,
        open_batches: Vec::new(),
        recent_rejections: Vec::new(),
        recent_delivery: RecentDelivery::default(),
    };
    let counts = sqlx::query("SELECT state, COUNT(*) FROM outbox GROUP BY state")
        .fetch_all(pool)
        .await?;
    for row in counts {
        let state: String = row.try_get(0)?;
        let count: i64 = row.try_get(1)?;
        match state.as_str() {
            "pending" => status.pending = count,
            "sent" => status.sent = count,
            "rejected" => status.rejected = count,
            _ => {}
        }
    }
    let oldest: Option<i64> =
        sqlx::query_scalar("SELECT MIN(received_at) FROM outbox WHERE state = 'pending'")
            .fetch_one(pool)
            .await?;
    status.oldest_pending_age_seconds = oldest.map(|t| (now_ms - t).max(0) / 1000);
    for row in sqlx::query(
        "SELECT batch_id, documents, attempts, last_error FROM forward_batches
         WHERE state = 'open' ORDER BY created_at LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?
    {
        status.open_batches.push(OpenBatch {
            batch_id: row.try_get(0)?,
            documents: row.try_get(1)?,
            attempts: row.try_get(2)?,
            last_error: row.try_get(3)?,
        });
    }
    for row in sqlx::query(
        "SELECT d.dialect, d.doc_key, o.reject_reason, o.batch_id FROM outbox o
         JOIN documents d ON d.id = o.document_id AND d.received_at = o.received_at
         WHERE o.state = 'rejected' ORDER BY o.document_id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?
    {
        let dialect: String = row.try_get(0)?;
        let doc_key: String = row.try_get(1)?;
        let reason: Option<String> = row.try_get(2)?;
        status.recent_rejections.push(Rejection {
            id: format!("{dialect}:{doc_key}"),
            reason: reason.unwrap_or_default(),
            batch_id: row.try_get(3)?,
        });
    }
    let times: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT received_at, sent_at FROM outbox
         WHERE state = 'sent' AND sent_at IS NOT NULL ORDER BY sent_at DESC LIMIT $1",
    )
    .bind(window)
    .fetch_all(pool)
    .await?;
    status.recent_delivery = RecentDelivery::from_times(&times);
    Ok(status)
}

/// Human-readable form.
pub fn render(status: &Status) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let age = status
        .oldest_pending_age_seconds
        .map_or("-".to_owned(), |s| format!("{s} s"));
    let _ = writeln!(
        out,
        "pending {}  sent {}  rejected {}  oldest pending {age}",
        status.pending, status.sent, status.rejected
    );
    let delivery = &status.recent_delivery;
    if delivery.documents > 0 {
        let _ = writeln!(
            out,
            "last {} sent: {:.0} docs/s, ack to confirmation p50 {} ms, p99 {} ms, max {} ms",
            delivery.documents,
            delivery.per_second,
            delivery.p50_ms,
            delivery.p99_ms,
            delivery.max_ms
        );
    }
    if !status.open_batches.is_empty() {
        let _ = writeln!(out, "open batches:");
        for batch in &status.open_batches {
            let _ = writeln!(
                out,
                "  {}  {} documents  {} attempts  {}",
                batch.batch_id,
                batch.documents,
                batch.attempts,
                batch.last_error.as_deref().unwrap_or("")
            );
        }
    }
    if !status.recent_rejections.is_empty() {
        let _ = writeln!(out, "rejected documents (newest first):");
        for rejection in &status.recent_rejections {
            let _ = writeln!(out, "  {}  {}", rejection.id, rejection.reason);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_percentiles_and_rate() {
        // 100 documents confirmed over 9.9 s, latencies 1..=100 ms.
        let times: Vec<(i64, i64)> = (1..=100).map(|i| (i * 100 - i, i * 100)).collect();
        let summary = RecentDelivery::from_times(&times);
        assert_eq!(summary.documents, 100);
        assert_eq!(
            (summary.p50_ms, summary.p99_ms, summary.max_ms),
            (50, 99, 100)
        );
        assert!((summary.per_second - 100.0 / 9.9).abs() < 1e-9);
        assert_eq!(RecentDelivery::from_times(&[]).documents, 0);
    }
}
