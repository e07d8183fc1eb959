//! Retention: deleting documents the law no longer asks the operator to keep.
//!
//! Invariants:
//! - Only documents the tax authority has confirmed (`forward_state = 'sent'`) are ever deleted;
//!   a pending or rejected document stays whatever its age.
//! - "Old" is `received_at` (server time, UTC ms) before the cutoff the caller passes: the
//!   clock is read by the caller ([`crate::clock`]), so a test chooses the time.
//! - One call deletes at most `batch` rows in one short statement, oldest first, so a first
//!   run over years of rows never holds locks for long; the caller repeats until a call deletes
//!   fewer than it looked at.
//! - The walk follows the outbox index `(forward_state, id)` from the oldest confirmed row: ids
//!   grow with arrival, so once a whole batch holds no row older than the cutoff the work is
//!   done; a run costs what it deletes plus one batch, not a scan of every confirmed row. Rows
//!   a little out of id order (nodes' clocks a few seconds apart, a writer's batch) are skipped
//!   within a batch, not a reason to stop.
//! - Same statements on SQLite and PostgreSQL. (Dropping whole monthly partitions, the cheaper
//!   way on PostgreSQL, needs partitioning, which the schema does not have: docs/scaling.md.)

use sqlx::Row as _;

use super::{Placeholders, Store};

/// What one [`delete_delivered_before`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionStep {
    /// Confirmed documents looked at (at most the batch).
    pub examined: u64,
    /// Of those, deleted (received before the cutoff).
    pub deleted: u64,
}

impl RetentionStep {
    /// Whether another call could find more to delete: a full batch that still held old rows.
    pub fn more(&self, batch: u64) -> bool {
        self.examined == batch && self.deleted > 0
    }
}

/// Delete up to `batch` of the oldest confirmed documents received before `cutoff_ms`.
pub async fn delete_delivered_before(
    store: &Store,
    cutoff_ms: i64,
    batch: u64,
) -> Result<RetentionStep, sqlx::Error> {
    let mut conn = store.pool().acquire().await?;
    let rows = sqlx::query(
        "SELECT id, received_at FROM documents WHERE forward_state = 'sent' ORDER BY id LIMIT $1",
    )
    .bind(i64::try_from(batch).unwrap_or(i64::MAX))
    .fetch_all(&mut *conn)
    .await?;
    let examined = rows.len() as u64;
    let mut old = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.try_get::<i64, _>("received_at")? < cutoff_ms {
            old.push(row.try_get::<i64, _>("id")?);
        }
    }
    if old.is_empty() {
        return Ok(RetentionStep {
            examined,
            deleted: 0,
        });
    }
    let style = Placeholders::of(&conn);
    let sql = format!(
        "DELETE FROM documents WHERE forward_state = 'sent' AND received_at < {} AND id IN ({})",
        style.nth(1),
        (2..old.len() + 2)
            .map(|n| style.nth(n))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut query = sqlx::query(&sql).bind(cutoff_ms);
    for id in &old {
        query = query.bind(id);
    }
    let deleted = query.execute(&mut *conn).await?.rows_affected();
    Ok(RetentionStep { examined, deleted })
}
