//! Retention: deleting documents the law no longer asks the operator to keep.
//!
//! Invariants:
//! - Only documents the tax authority has confirmed (outbox `state = 'sent'`) are ever deleted;
//!   a pending or rejected document stays whatever its age.
//! - "Old" is `received_at` (server time, UTC ms) before the cutoff the caller passes: the
//!   clock is read by the caller ([`crate::clock`]), so a test chooses the time.
//! - One call deletes at most `batch` rows in one short statement, oldest first, so a first
//!   run over years of rows never holds locks for long; the caller repeats until a call deletes
//!   fewer than it looked at.
//! - The walk follows the outbox's key (`document_id`) from the oldest confirmed row: ids
//!   grow with arrival, so once a whole batch holds no row older than the cutoff the work is
//!   done; a run costs what it deletes plus one batch, not a scan of every confirmed row. Rows
//!   a little out of id order (nodes' clocks a few seconds apart, a writer's batch) are skipped
//!   within a batch, not a reason to stop.
//! - The batch delete runs the same statements on SQLite and PostgreSQL. On PostgreSQL, whose
//!   `documents` is partitioned by month ([`super::partitions`]), [`drop_delivered_partitions`]
//!   first drops whole month partitions that end before the cutoff and hold only confirmed
//!   documents — no row-by-row delete, no bloat — and a month that still holds a pending or
//!   rejected document is kept whole for the batch delete (which removes only its confirmed
//!   rows). The check is repeated under the lock that detaches the month, so no document the
//!   tax authority has not confirmed is ever dropped.
//! - The read tables follow the documents ([`drop_read_months`]): a read month (the documents'
//!   local time, `migrations/postgres/0017`) that ends before the cutoff is dropped from every
//!   partitioned read table at once — index, lines, daily, hourly and product figures — once no
//!   document it was built from is still stored, checked again under the lock that detaches it.
//!   The read months do not follow the documents' months one to one (a register that was
//!   offline sends last month's receipts this month), so the rule is "nothing left to describe",
//!   not "the same month name". A read month that still describes a stored document is kept,
//!   less the index rows and lines of its documents that are gone; its daily figures stay whole
//!   until the month is dropped. A batch delete removes the index rows and lines of the
//!   documents it deletes (both backends; first, in a transaction of their own, because on SQLite
//!   they live in a file of their own, [`super::read_file`]), so a search never lists a deleted document; the daily
//!   figures are left to the month drop (SQLite keeps them: they are totals, not documents, and
//!   SQLite has no months to drop).
//! - `project_shifts` is not partitioned and is not touched: a shift row is a few per cent of
//!   the index and is what the shift reports and alerts read.

use sqlx::Row as _;

use super::partitions::{month_partitions, month_partitions_of, Month, READ_TABLES};
use super::{Backend, Placeholders, Store};

/// What [`drop_delivered_partitions`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PartitionStep {
    /// Month partitions dropped, with the documents they held.
    pub dropped: Vec<(String, u64)>,
    /// Month partitions old enough but kept, with the documents not confirmed in them.
    pub kept: Vec<(String, u64)>,
    /// Read months dropped from every read table (named by their `doc_index` partition), with
    /// the index rows they held.
    pub read_dropped: Vec<(String, u64)>,
    /// Read months old enough but kept because a document they describe is still stored (or
    /// the tables were busy).
    pub read_kept: Vec<String>,
}

impl PartitionStep {
    /// Documents in the dropped partitions.
    pub fn documents_dropped(&self) -> u64 {
        self.dropped.iter().map(|(_, n)| n).sum()
    }
}

/// How long dropping a month waits for the lock on `documents` before giving up until the next
/// run: ingest queues behind a waiting `ACCESS EXCLUSIVE` request, so the wait is kept short.
const DETACH_LOCK_TIMEOUT: &str = "2s";

/// Keys of dropped documents deleted per statement.
const KEY_BATCH: i64 = 10_000;

/// PostgreSQL: drop every month partition of `documents` that ends at or before `cutoff_ms` and
/// holds only documents the tax authority confirmed, then delete, in bounded batches, every
/// idempotency key received before the cutoff whose document is gone. SQLite: nothing to do
/// (it has no partitions).
pub async fn drop_delivered_partitions(
    store: &Store,
    cutoff_ms: i64,
) -> Result<PartitionStep, sqlx::Error> {
    let mut step = PartitionStep::default();
    if store.backend() != Backend::Postgres {
        return Ok(step);
    }
    for month in month_partitions(store).await? {
        let Some((_, end)) = month.bounds() else {
            continue;
        };
        if end > cutoff_ms {
            break;
        }
        let name = month.partition_name();
        let unconfirmed = unconfirmed_in(store.pool(), month).await?;
        if unconfirmed > 0 {
            step.kept.push((name, unconfirmed));
            continue;
        }
        // Counted before the lock (a month before the cutoff receives no new documents), so
        // the lock that stops ingest is held for the detach only, not for a scan.
        let documents: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {name}"))
            .fetch_one(store.pool())
            .await?;
        let documents = u64::try_from(documents).unwrap_or(0);
        if drop_month(store, month).await? {
            step.dropped.push((name, documents));
        } else {
            step.kept.push((name, 0));
        }
    }
    // The keys and outbox rows of the dropped months' documents — and of any month dropped by
    // a run that stopped before this point — are those before the cutoff whose document is gone.
    for (table, key) in [
        ("document_keys", "dialect, doc_key"),
        ("outbox", "document_id"),
    ] {
        delete_dropped_rows(store, table, key, i64::MIN, cutoff_ms).await?;
    }
    drop_read_months(store, cutoff_ms, &mut step).await?;
    Ok(step)
}

/// How a read month is asked whether it still describes a stored document: `{index}` is the
/// month's `doc_index` partition. The documents are found by their full key (id, arrival), so
/// each probe reads one documents partition (or none, once that month is dropped).
const DESCRIBES_STORED: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM {index} di WHERE EXISTS ( \
     SELECT 1 FROM documents d WHERE d.id = di.document_id AND d.received_at = di.received_at) \
     LIMIT 1) AS stored";

/// PostgreSQL: drop, from every read table, each month that ends at or before the cutoff
/// (local time read as UTC, the partitions' own bounds) and describes no stored document.
async fn drop_read_months(
    store: &Store,
    cutoff_ms: i64,
    step: &mut PartitionStep,
) -> Result<(), sqlx::Error> {
    let index = READ_TABLES[0];
    for month in month_partitions_of(store, index).await? {
        let Some((_, end)) = month.bounds() else {
            continue;
        };
        if end > cutoff_ms {
            break;
        }
        let name = month.partition_of(index);
        let stored: i64 = sqlx::query_scalar(&DESCRIBES_STORED.replace("{index}", &name))
            .fetch_one(store.pool())
            .await?;
        if stored > 0 {
            delete_orphans(store, month).await?;
            step.read_kept.push(name);
            continue;
        }
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {name}"))
            .fetch_one(store.pool())
            .await?;
        if drop_read_month(store, month).await? {
            step.read_dropped
                .push((name, u64::try_from(rows).unwrap_or(0)));
        } else {
            step.read_kept.push(name);
        }
    }
    Ok(())
}

/// Delete, in bounded batches, the index rows of a kept read `month` whose document is gone
/// (its documents month was dropped), then the lines without an index row: a search never lists
/// a document that is gone. The month's daily figures stay whole until the month is dropped.
async fn delete_orphans(store: &Store, month: Month) -> Result<u64, sqlx::Error> {
    let index = month.partition_of(READ_TABLES[0]);
    let items = month.partition_of(READ_TABLES[1]);
    // PostgreSQL only: ctid names a row of the one partition these statements read.
    let statements = [
        format!(
            "DELETE FROM {index} WHERE ctid IN (SELECT di.ctid FROM {index} di WHERE NOT EXISTS ( \
             SELECT 1 FROM documents d \
             WHERE d.id = di.document_id AND d.received_at = di.received_at) LIMIT $1)"
        ),
        format!(
            "DELETE FROM {items} WHERE ctid IN (SELECT it.ctid FROM {items} it WHERE NOT EXISTS ( \
             SELECT 1 FROM {index} di \
             WHERE di.document_id = it.document_id AND di.doc_time = it.doc_time) LIMIT $1)"
        ),
    ];
    let mut total = 0;
    for sql in &statements {
        loop {
            let deleted = sqlx::query(sql)
                .bind(KEY_BATCH)
                .execute(store.pool())
                .await?
                .rows_affected();
            total += deleted;
            if deleted < KEY_BATCH as u64 {
                break;
            }
        }
    }
    Ok(total)
}

/// Detach and drop `month` of every read table if, under the lock, its index describes no
/// stored document: `false` when it does again or the lock was not had in time.
async fn drop_read_month(store: &Store, month: Month) -> Result<bool, sqlx::Error> {
    let index = month.partition_of(READ_TABLES[0]);
    let mut tx = store.pool().begin().await?;
    sqlx::query(&format!("SET LOCAL lock_timeout = '{DETACH_LOCK_TIMEOUT}'"))
        .execute(&mut *tx)
        .await?;
    // In the order the projector writes them, so the two never wait on each other in a cycle.
    for table in READ_TABLES {
        let parent = table.table;
        if let Err(error) = sqlx::query(&format!("LOCK TABLE {parent} IN ACCESS EXCLUSIVE MODE"))
            .execute(&mut *tx)
            .await
        {
            tracing::info!(partition = %index, %error, "retention: read tables busy; the month is tried again on the next run");
            return Ok(false);
        }
    }
    let stored: i64 = sqlx::query_scalar(&DESCRIBES_STORED.replace("{index}", &index))
        .fetch_one(&mut *tx)
        .await?;
    if stored > 0 {
        return Ok(false);
    }
    for table in READ_TABLES {
        let parent = table.table;
        let name = month.partition_of(table);
        // A month made by hand in one table only is not an error: the others are dropped.
        let exists: Option<String> = sqlx::query_scalar(
            "SELECT CAST(c.relname AS TEXT) FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = CAST(CAST($1 AS TEXT) AS regclass) AND c.relname = $2",
        )
        .bind(parent)
        .bind(name.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if exists.is_none() {
            continue;
        }
        sqlx::query(&format!("ALTER TABLE {parent} DETACH PARTITION {name}"))
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!("DROP TABLE {name}"))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Documents of `month`'s partition the tax authority has not confirmed: their outbox rows
/// received in the month (the partition's bounds), read from the small pending and rejected
/// indexes.
async fn unconfirmed_in<'c, E>(executor: E, month: Month) -> Result<u64, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let Some((start, end)) = month.bounds() else {
        return Ok(0);
    };
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'rejected') \
         AND received_at >= $1 AND received_at < $2",
    )
    .bind(start)
    .bind(end)
    .fetch_one(executor)
    .await?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Detach and drop `month` if, under the lock, it still holds only confirmed documents: `false`
/// when it no longer qualifies or the lock was not had in time (tried again on the next run).
async fn drop_month(store: &Store, month: Month) -> Result<bool, sqlx::Error> {
    let name = month.partition_name();
    let mut tx = store.pool().begin().await?;
    sqlx::query(&format!("SET LOCAL lock_timeout = '{DETACH_LOCK_TIMEOUT}'"))
        .execute(&mut *tx)
        .await?;
    // Parent first, then the partition: the order every insert and update takes them in.
    if let Err(error) = sqlx::query("LOCK TABLE documents IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
    {
        tracing::info!(partition = %name, %error, "retention: documents busy; the month is tried again on the next run");
        return Ok(false);
    }
    if unconfirmed_in(&mut *tx, month).await? > 0 {
        return Ok(false);
    }
    sqlx::query(&format!("ALTER TABLE documents DETACH PARTITION {name}"))
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("DROP TABLE {name}"))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Delete, in bounded batches, the rows of `table` received in `[start, end)` whose document
/// is gone (dropped with its month; rows of documents still stored, in any partition, stay).
/// `table` is one of the two unpartitioned tables with a row per document, `document_id` and
/// `received_at` (the trigger-kept `document_keys` and `outbox`), `key` its primary key.
async fn delete_dropped_rows(
    store: &Store,
    table: &str,
    key: &str,
    start: i64,
    end: i64,
) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        // `table` and `key` are constants of the caller.
        let deleted = sqlx::query(&format!(
            "DELETE FROM {table} WHERE ({key}) IN ( \
                 SELECT {key} FROM {table} k \
                 WHERE k.received_at >= $1 AND k.received_at < $2 AND NOT EXISTS ( \
                     SELECT 1 FROM documents d \
                     WHERE d.id = k.document_id AND d.received_at = k.received_at) \
                 LIMIT $3)"
        ))
        .bind(start)
        .bind(end)
        .bind(KEY_BATCH)
        .execute(store.pool())
        .await?
        .rows_affected();
        total += deleted;
        if deleted < KEY_BATCH as u64 {
            return Ok(total);
        }
    }
}

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
        "SELECT document_id, received_at FROM outbox WHERE state = 'sent' \
         ORDER BY document_id LIMIT $1",
    )
    .bind(i64::try_from(batch).unwrap_or(i64::MAX))
    .fetch_all(&mut *conn)
    .await?;
    let examined = rows.len() as u64;
    let mut old = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.try_get::<i64, _>("received_at")? < cutoff_ms {
            old.push(row.try_get::<i64, _>("document_id")?);
        }
    }
    if old.is_empty() {
        return Ok(RetentionStep {
            examined,
            deleted: 0,
        });
    }
    let style = Placeholders::of(&conn);
    drop(conn);
    let ids = |first: usize| {
        (first..old.len() + first)
            .map(|n| style.nth(n))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // Their index rows and lines go first, in a transaction of the read models (on SQLite a
    // file of their own, `read_file`): every id here is deleted below (a `sent` document stays
    // sent), so a search never lists a document that is gone; after a crash between the two,
    // the next step deletes the documents whose rows are already gone.
    let mut read = store.begin_read_models_write().await?;
    for table in ["doc_items", "doc_index"] {
        let sql = format!("DELETE FROM {table} WHERE document_id IN ({})", ids(1));
        let mut query = sqlx::query(&sql);
        for id in &old {
            query = query.bind(id);
        }
        query.execute(&mut *read).await?;
    }
    read.commit().await?;
    let mut tx = store.begin_write().await?;
    // Still sent (a sent document stays sent; the outbox row goes with the document, by the
    // delete trigger).
    let sql = format!(
        "DELETE FROM documents WHERE received_at < {} AND id IN ({}) \
         AND EXISTS (SELECT 1 FROM outbox o WHERE o.document_id = documents.id \
         AND o.state = 'sent')",
        style.nth(1),
        ids(2)
    );
    let mut query = sqlx::query(&sql).bind(cutoff_ms);
    for id in &old {
        query = query.bind(id);
    }
    let deleted = query.execute(&mut *tx).await?.rows_affected();
    tx.commit().await?;
    Ok(RetentionStep { examined, deleted })
}
