//! The sink's own SQLite file: which batch ids and document ids it has recorded.
//!
//! Invariants:
//! - A batch id is recorded once, together with the reply given for it, in the same transaction
//!   as its documents; a resend gets that reply back unchanged.
//! - A document id is recorded once. Seeing it again under another batch id increments
//!   `duplicates` (the number that must stay 0) and keeps the first copy.
//! - Counters live in the file, so stopping and restarting the sink keeps them.

use std::collections::HashSet;
use std::path::Path;

use serde::Serialize;
use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    Row, SqlitePool,
};

use crate::store::Placeholders;
use crate::tax_batch::{BatchReply, BatchStatus, RejectedLine};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sink_batches (
        batch_id TEXT PRIMARY KEY,
        received_at BIGINT NOT NULL,
        reply TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS sink_documents (
        doc_id TEXT PRIMARY KEY,
        batch_id TEXT NOT NULL,
        dialect TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        line TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS sink_rejections (
        batch_id TEXT NOT NULL,
        doc_id TEXT NOT NULL,
        reason TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS sink_counters (
        name TEXT PRIMARY KEY,
        value BIGINT NOT NULL
    )",
    "INSERT INTO sink_counters (name, value) VALUES ('duplicates', 0), ('replayed_batches', 0)
        ON CONFLICT (name) DO NOTHING",
];

/// What `GET /stats` reports.
#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Stats {
    /// Distinct batch ids stored.
    pub batches: i64,
    /// Distinct documents stored.
    pub documents: i64,
    /// Documents that arrived again under a different batch id (must stay 0).
    pub duplicates: i64,
    /// Lines refused as invalid.
    pub rejected: i64,
    /// Resends of an already stored batch id, answered from the stored reply.
    pub replayed_batches: i64,
}

/// Accepted lines per multi-row insert: five parameters each, far below SQLite's limit.
const ROWS_PER_INSERT: usize = 100;

/// A validated line with its verdict, ready to store.
pub struct CheckedLine {
    /// The line's document id (`<dialect>:<doc_key>`).
    pub id: String,
    /// Its dialect.
    pub dialect: String,
    /// The line's text as received.
    pub text: String,
    /// `Some(reason)` when refused.
    pub rejection: Option<String>,
}

/// Handle on the sink's SQLite file.
#[derive(Clone)]
pub struct SinkStorage {
    pool: SqlitePool,
    /// One batch at a time: the batch-id check and the inserts must not interleave.
    write: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl SinkStorage {
    /// Open (creating if missing) the file and its tables.
    pub async fn open(path: &Path) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        for statement in SCHEMA {
            sqlx::query(statement).execute(&pool).await?;
        }
        Ok(Self {
            pool,
            write: Default::default(),
        })
    }

    /// Close the pool: waits for connections in use, then checkpoints the WAL into the file.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The stored reply for `batch_id`, if that id was recorded before.
    async fn stored_reply(&self, batch_id: &str) -> Result<Option<BatchReply>, sqlx::Error> {
        let row = sqlx::query("SELECT reply FROM sink_batches WHERE batch_id = $1")
            .bind(batch_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|row| {
            let text: String = row.get(0);
            serde_json::from_str(&text).ok()
        }))
    }

    /// Record a batch once; a known batch id returns the stored reply marked as a duplicate.
    pub async fn record(
        &self,
        batch_id: &str,
        lines: Vec<CheckedLine>,
        now_ms: i64,
    ) -> Result<BatchReply, sqlx::Error> {
        let _guard = self.write.lock().await;
        if let Some(mut reply) = self.stored_reply(batch_id).await? {
            sqlx::query(
                "UPDATE sink_counters SET value = value + 1 WHERE name = 'replayed_batches'",
            )
            .execute(&self.pool)
            .await?;
            reply.status = BatchStatus::Duplicate;
            return Ok(reply);
        }
        let mut tx = self.pool.begin().await?;
        let mut rejected = Vec::new();
        let mut taken = Vec::with_capacity(lines.len());
        for checked in lines {
            if let Some(reason) = checked.rejection {
                sqlx::query(
                    "INSERT INTO sink_rejections (batch_id, doc_id, reason) VALUES ($1, $2, $3)",
                )
                .bind(batch_id)
                .bind(&checked.id)
                .bind(&reason)
                .execute(&mut *tx)
                .await?;
                rejected.push(RejectedLine {
                    id: checked.id,
                    reason,
                });
            } else {
                taken.push(checked);
            }
        }
        // The accepted lines in multi-row inserts (one statement per hundred, not per line); a
        // document id already stored is left alone and counted as a duplicate.
        let accepted = taken.len() as u64;
        let mut duplicates = 0i64;
        for chunk in taken.chunks(ROWS_PER_INSERT) {
            // The sink's own database is SQLite: parameters bound in textual order.
            let sql = format!(
                "INSERT INTO sink_documents (doc_id, batch_id, dialect, received_at, line) \
                 VALUES {} ON CONFLICT (doc_id) DO NOTHING RETURNING doc_id",
                Placeholders::Positional.tuples(chunk.len(), 5, 1)
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql);
            for checked in chunk {
                query = query
                    .bind(&checked.id)
                    .bind(batch_id)
                    .bind(&checked.dialect)
                    .bind(now_ms)
                    .bind(&checked.text);
            }
            let mut inserted: HashSet<String> =
                query.fetch_all(&mut *tx).await?.into_iter().collect();
            // A second line of one id in the same batch finds its id taken by the first.
            for checked in chunk {
                if !inserted.remove(&checked.id) {
                    duplicates += 1;
                    tracing::warn!(doc = %checked.id, batch_id, "document received twice");
                }
            }
        }
        let reply = BatchReply {
            batch_id: batch_id.to_owned(),
            status: BatchStatus::Accepted,
            accepted,
            rejected,
        };
        let reply_text = serde_json::to_string(&reply).unwrap_or_default();
        sqlx::query("INSERT INTO sink_batches (batch_id, received_at, reply) VALUES ($1, $2, $3)")
            .bind(batch_id)
            .bind(now_ms)
            .bind(reply_text)
            .execute(&mut *tx)
            .await?;
        if duplicates > 0 {
            sqlx::query("UPDATE sink_counters SET value = value + $1 WHERE name = 'duplicates'")
                .bind(duplicates)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(reply)
    }

    /// Current counts.
    pub async fn stats(&self) -> Result<Stats, sqlx::Error> {
        let row = sqlx::query(
            "SELECT
                (SELECT COUNT(*) FROM sink_batches),
                (SELECT COUNT(*) FROM sink_documents),
                (SELECT value FROM sink_counters WHERE name = 'duplicates'),
                (SELECT COUNT(*) FROM sink_rejections),
                (SELECT value FROM sink_counters WHERE name = 'replayed_batches')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Stats {
            batches: row.try_get(0)?,
            documents: row.try_get(1)?,
            duplicates: row.try_get(2)?,
            rejected: row.try_get(3)?,
            replayed_batches: row.try_get(4)?,
        })
    }

    /// Every stored document id, in arrival order (tests compare it with what was ingested).
    pub async fn document_ids(&self) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT doc_id FROM sink_documents ORDER BY rowid")
            .fetch_all(&self.pool)
            .await
    }
}
