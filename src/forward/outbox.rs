//! The outbox: claiming pending documents into batches and recording the tax authority's answer.
//!
//! The state lives in `outbox`, one narrow row per document (`migrations/*/0021_outbox.sql`):
//! made with the document by the insert trigger, written here, removed with the document. The
//! wide `documents` row (frame, JSON, ack) is only read here, never rewritten: each write of the
//! state was a rewrite of that row, inside the write turn ingest waits for on SQLite.
//!
//! Invariants (each one is what makes "exactly once at the sink" hold):
//! - A document gets a batch id once (`outbox.batch_id`, set only while NULL) and keeps it.
//!   The claim writes the batch row and the documents' batch id in one transaction, before the
//!   first send, so a crash at any later point resends the *same* documents under the *same* id.
//! - The documents of a batch are exactly those whose `batch_id` is that id; the body sent is
//!   always rebuilt from them, so a resend can never carry a document the first send lacked.
//! - `outbox.state` leaves `pending` only in the transaction that records the answer, guarded by
//!   the batch row still being `open`: two forwarders finishing the same batch record it once.
//! - Claims never overlap: PostgreSQL skips rows another claim holds (`FOR UPDATE SKIP LOCKED`);
//!   SQLite has one writer process, chosen by the `forward_leases` row ([`Outbox::hold_writer_lease`]).
//! - An open batch whose lease ran out (its forwarder died or stalled) is taken over and resent
//!   with its id; if the old owner was merely slow, the sink answers the second copy from its
//!   batch-id record, so nothing is stored twice.
//!
//! On SQLite every write here, the leases' included, waits for the store's write turn
//! ([`Store::sqlite_write_turn`]): a write that met the ingest writer on SQLite's own lock made
//! one of them sleep in the busy handler (up to 1.9 s seen for a lease write under `ofd all`). The
//! writer lease and a batch's own lease are written only when half of them is gone, a take-over is
//! looked for with a read before it is written, so an idle step writes nothing, and a claim reads
//! its documents and builds their lines before it takes the turn ([`Outbox::claim`]).

use std::sync::{
    atomic::{AtomicI64, Ordering},
    Arc,
};

use serde_json::value::RawValue;
use sqlx::{any::AnyRow, AnyPool, Row};

use crate::{
    store::{Backend, Store, TurnTaker},
    tax_batch::{self, BatchLine, BatchReply},
};

/// One document on its way out.
#[derive(Debug, Clone)]
pub struct OutgoingDocument {
    /// `documents.id`.
    pub row_id: i64,
    /// When ingest committed it (unix ms); the ack-to-sink latency starts here.
    pub received_at: i64,
    /// The serialised batch line.
    pub line: Vec<u8>,
}

/// A batch ready to send: its id, creation time and documents in id order.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The idempotency key.
    pub id: String,
    /// When it was claimed (unix ms); the file sink files it by this date.
    pub created_at: i64,
    /// Until when this forwarder's hold on it lasts (unix ms), as last written.
    pub lease_until: i64,
    /// Its documents.
    pub documents: Vec<OutgoingDocument>,
}

impl Batch {
    /// Total size of the lines, uncompressed.
    pub fn bytes(&self) -> usize {
        self.documents.iter().map(|d| d.line.len() + 1).sum()
    }
}

/// How the pending queue looks right now.
#[derive(Debug, Clone, Copy, Default)]
pub struct Backlog {
    /// Documents still `pending` (claimed or not).
    pub pending: i64,
    /// `received_at` of the oldest pending document, if any.
    pub oldest_received_at: Option<i64>,
}

/// Limits for one claim.
#[derive(Debug, Clone, Copy)]
pub struct ClaimLimits {
    /// At most this many documents.
    pub max_documents: i64,
    /// At most this many bytes of lines (a single larger document still goes, alone).
    pub max_bytes: usize,
    /// How long the claim holds before another forwarder may take the batch over (ms).
    pub lease_ms: i64,
}

/// The forwarder's view of the database.
#[derive(Clone)]
pub struct Outbox {
    /// The shared store (its pool, its backend, its turns to write on SQLite).
    store: Store,
    /// This forwarder instance (a fresh id per process).
    owner: String,
    /// Until when this instance holds the SQLite writer lease (unix ms, 0: not held), shared by
    /// the clones its workers use.
    lease_until: Arc<AtomicI64>,
    /// Held by a SQLite claim from its read to its commit: the workers of this process claim
    /// one after another, as the writer lease makes this process the only one claiming.
    claiming: Arc<tokio::sync::Mutex<()>>,
}

const WRITER_LEASE: &str = "forwarder";

impl Outbox {
    /// An outbox over the shared store, as a new forwarder instance.
    pub fn new(store: &Store) -> Self {
        Self {
            store: store.clone(),
            owner: uuid::Uuid::new_v4().to_string(),
            lease_until: Arc::default(),
            claiming: Arc::default(),
        }
    }

    /// This instance's owner id, as written into leases.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The pool, for status queries.
    pub fn pool(&self) -> &AnyPool {
        self.store.pool()
    }

    /// Take or renew the single-writer lease. PostgreSQL needs none (row locks do the job) and
    /// always answers `true`. A lease this instance holds is written again only once half of it
    /// is gone: no other forwarder takes it before it expires, so until then it is ours.
    pub async fn hold_writer_lease(&self, now: i64, ttl_ms: i64) -> Result<bool, sqlx::Error> {
        if self.store.backend() == Backend::Postgres {
            return Ok(true);
        }
        if now < self.lease_until.load(Ordering::Relaxed) - ttl_ms / 2 {
            return Ok(true);
        }
        let _turn = self.store.sqlite_write_turn(TurnTaker::Background).await;
        let row = sqlx::query(
            "INSERT INTO forward_leases (name, owner, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
             WHERE forward_leases.owner = excluded.owner OR forward_leases.expires_at < $4
             RETURNING owner",
        )
        .bind(WRITER_LEASE)
        .bind(&self.owner)
        .bind(now + ttl_ms)
        .bind(now)
        .fetch_optional(self.store.pool())
        .await?;
        let held = row.is_some();
        self.lease_until
            .store(if held { now + ttl_ms } else { 0 }, Ordering::Relaxed);
        Ok(held)
    }

    /// Give the writer lease up (clean shutdown), so a standby need not wait for it to expire.
    pub async fn release_writer_lease(&self) -> Result<(), sqlx::Error> {
        self.lease_until.store(0, Ordering::Relaxed);
        let _turn = self.store.sqlite_write_turn(TurnTaker::Background).await;
        sqlx::query("DELETE FROM forward_leases WHERE name = $1 AND owner = $2")
            .bind(WRITER_LEASE)
            .bind(&self.owner)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// Whether a new batch should be claimed now: the oldest unclaimed document has waited
    /// `max_age_ms`, or a full batch's worth is waiting.
    pub async fn batch_due(
        &self,
        now: i64,
        max_age_ms: i64,
        max_documents: i64,
    ) -> Result<bool, sqlx::Error> {
        let oldest: Option<i64> = sqlx::query_scalar(
            "SELECT received_at FROM outbox
             WHERE state = 'pending' AND batch_id IS NULL ORDER BY document_id LIMIT 1",
        )
        .fetch_optional(self.store.pool())
        .await?;
        let Some(oldest) = oldest else {
            return Ok(false);
        };
        if now - oldest >= max_age_ms {
            return Ok(true);
        }
        let full: Option<i64> = sqlx::query_scalar(
            "SELECT document_id FROM outbox WHERE state = 'pending' AND batch_id IS NULL
             ORDER BY document_id LIMIT 1 OFFSET $1",
        )
        .bind(max_documents - 1)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(full.is_some())
    }

    /// Claim the oldest unclaimed pending documents into a new batch. `None` when there are none.
    /// A document whose stored JSON cannot be read is rejected here, with the reason, so it never
    /// blocks the queue.
    ///
    /// PostgreSQL reads the candidates inside the claiming transaction, locking them
    /// (`FOR UPDATE … SKIP LOCKED`), so claims of several nodes never overlap. SQLite has one
    /// claiming process (the writer lease) and its workers take turns here ([`Outbox::claiming`]),
    /// so it reads the candidates and builds their lines *before* it takes the write turn: the
    /// turn then covers only the writes, and an ingest commit queued behind it does not wait
    /// while this lower-priority task reads a hundred documents and serialises them. The writes
    /// are guarded (`batch_id IS NULL AND state = 'pending'`) and counted, so a row that
    /// changed in between (an operator's requeue) fails the claim rather than joining it.
    pub async fn claim(&self, now: i64, limits: ClaimLimits) -> Result<Option<Batch>, sqlx::Error> {
        // The oldest unclaimed outbox rows first, in the key's order, then their documents: the
        // join never reads more documents than the claim takes, however long the queue.
        let candidates = |lock: &str| {
            outgoing_sql(
                &format!(
                    "(SELECT document_id, received_at FROM outbox \
                     WHERE state = 'pending' AND batch_id IS NULL \
                     ORDER BY document_id LIMIT $1{lock})"
                ),
                "ORDER BY o.document_id",
            )
        };
        match self.store.backend() {
            Backend::Postgres => {
                let mut tx = self.store.pool().begin().await?;
                let rows = sqlx::query(&candidates(" FOR UPDATE SKIP LOCKED"))
                    .bind(limits.max_documents)
                    .fetch_all(&mut *tx)
                    .await?;
                let chosen = choose(&rows, limits.max_bytes)?;
                self.write_claim(tx, now, limits.lease_ms, chosen).await
            }
            Backend::Sqlite => {
                let _claiming = self.claiming.lock().await;
                let rows = sqlx::query(&candidates(""))
                    .bind(limits.max_documents)
                    .fetch_all(self.store.pool())
                    .await?;
                let chosen = choose(&rows, limits.max_bytes)?;
                if chosen.is_empty() {
                    return Ok(None);
                }
                // Held until the transaction ends (declared first, dropped last).
                let _turn = self.store.sqlite_write_turn(TurnTaker::Background).await;
                let tx = self.store.pool().begin().await?;
                self.write_claim(tx, now, limits.lease_ms, chosen).await
            }
        }
    }

    /// The claim's writes, in `tx`: the batch row, the batch id on each chosen document, the
    /// unreadable ones rejected; committed only when every chosen document was still unclaimed.
    async fn write_claim(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Any>,
        now: i64,
        lease_ms: i64,
        chosen: Chosen,
    ) -> Result<Option<Batch>, sqlx::Error> {
        let Chosen {
            documents,
            unreadable,
        } = chosen;
        for (row_id, reason) in &unreadable {
            sqlx::query(
                "UPDATE outbox SET state = 'rejected', reject_reason = $1
                 WHERE document_id = $2 AND state = 'pending'",
            )
            .bind(reason)
            .bind(row_id)
            .execute(&mut *tx)
            .await?;
        }
        if documents.is_empty() {
            tx.commit().await?;
            return Ok(None);
        }
        let batch_id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO forward_batches (batch_id, created_at, owner, lease_until, documents)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&batch_id)
        .bind(now)
        .bind(&self.owner)
        .bind(now + lease_ms)
        .bind(documents.len() as i64)
        .execute(&mut *tx)
        .await?;
        for chunk in documents.chunks(500) {
            let placeholders: Vec<String> =
                (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "UPDATE outbox SET batch_id = $1
                 WHERE batch_id IS NULL AND state = 'pending' AND document_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(&batch_id);
            for document in chunk {
                query = query.bind(document.row_id);
            }
            let updated = query.execute(&mut *tx).await?.rows_affected();
            if updated != chunk.len() as u64 {
                // Another claim got there first; give up this claim rather than send a partial set.
                tx.rollback().await?;
                return Ok(None);
            }
        }
        tx.commit().await?;
        Ok(Some(Batch {
            id: batch_id,
            created_at: now,
            lease_until: now + lease_ms,
            documents,
        }))
    }

    /// Take over an open batch nobody holds (its lease ran out; on SQLite, the writer also takes
    /// every batch another process left behind) and load it for resending.
    pub async fn take_over(&self, now: i64, lease_ms: i64) -> Result<Option<Batch>, sqlx::Error> {
        let orphan = match self.store.backend() {
            Backend::Postgres => "lease_until < $3",
            Backend::Sqlite => "(lease_until < $3 OR owner <> $1)",
        };
        // Looked for first with a read: the write below would take SQLite's write lock on
        // every step, and there is almost never a batch to take over.
        let candidate = match self.store.backend() {
            Backend::Postgres => sqlx::query(
                "SELECT 1 FROM forward_batches WHERE state = 'open' AND lease_until < $1 LIMIT 1",
            )
            .bind(now),
            Backend::Sqlite => sqlx::query(
                "SELECT 1 FROM forward_batches WHERE state = 'open' \
                 AND (lease_until < $1 OR owner <> $2) LIMIT 1",
            )
            .bind(now)
            .bind(&self.owner),
        }
        .fetch_optional(self.store.pool())
        .await?;
        if candidate.is_none() {
            return Ok(None);
        }
        let turn = self.store.sqlite_write_turn(TurnTaker::Background).await;
        let row = sqlx::query(&format!(
            "UPDATE forward_batches SET owner = $1, lease_until = $2
             WHERE state = 'open' AND {orphan} AND batch_id = (
                SELECT batch_id FROM forward_batches WHERE state = 'open' AND {orphan}
                ORDER BY created_at LIMIT 1)
             RETURNING batch_id, created_at"
        ))
        .bind(&self.owner)
        .bind(now + lease_ms)
        .bind(now)
        .fetch_optional(self.store.pool())
        .await?;
        drop(turn);
        let Some(row) = row else {
            return Ok(None);
        };
        let id: String = row.try_get(0)?;
        let created_at: i64 = row.try_get(1)?;
        let rows = sqlx::query(&outgoing_sql(
            "outbox",
            "WHERE o.batch_id = $1 AND o.state = 'pending' ORDER BY o.document_id",
        ))
        .bind(&id)
        .fetch_all(self.store.pool())
        .await?;
        let mut documents = Vec::with_capacity(rows.len());
        for row in &rows {
            // The JSON was readable when the batch was claimed and is never rewritten.
            if let Ok(document) = outgoing(row) {
                documents.push(document);
            }
        }
        tracing::info!(batch_id = %id, documents = documents.len(), "resuming an open batch");
        Ok(Some(Batch {
            id,
            created_at,
            lease_until: now + lease_ms,
            documents,
        }))
    }

    /// Extend this instance's hold on a batch before another attempt. `false` when another
    /// forwarder has taken it over (then this one must let it go). Written only once half of the
    /// hold is gone: until it runs out nobody takes the batch over, so until then it is ours.
    pub async fn renew(
        &self,
        batch: &mut Batch,
        now: i64,
        lease_ms: i64,
    ) -> Result<bool, sqlx::Error> {
        if now < batch.lease_until - lease_ms / 2 {
            return Ok(true);
        }
        let _turn = self.store.sqlite_write_turn(TurnTaker::Background).await;
        let updated = sqlx::query(
            "UPDATE forward_batches SET lease_until = $1
             WHERE batch_id = $2 AND owner = $3 AND state = 'open'",
        )
        .bind(now + lease_ms)
        .bind(&batch.id)
        .bind(&self.owner)
        .execute(self.store.pool())
        .await?
        .rows_affected();
        if updated == 1 {
            batch.lease_until = now + lease_ms;
        }
        Ok(updated == 1)
    }

    /// Record the sink's positive answer: refused lines → `rejected` with the reason, the rest →
    /// `sent`, the batch → `done`, all in one transaction. Returns the `received_at` of each
    /// document marked sent (empty if the batch had already been recorded).
    pub async fn record_reply(
        &self,
        batch_id: &str,
        reply: &BatchReply,
        now: i64,
    ) -> Result<Vec<i64>, sqlx::Error> {
        // Held until the transaction ends (declared first, dropped last).
        let _turn = self.store.sqlite_write_turn(TurnTaker::Background).await;
        let mut tx = self.store.pool().begin().await?;
        let reply_text = serde_json::to_string(reply).unwrap_or_default();
        let closed = sqlx::query(
            "UPDATE forward_batches SET state = 'done', sent_at = $1, reply = $2,
                attempts = attempts + 1, last_error = NULL
             WHERE batch_id = $3 AND state = 'open'",
        )
        .bind(now)
        .bind(reply_text)
        .bind(batch_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if closed == 0 {
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        for rejected in &reply.rejected {
            let Some((dialect, doc_key)) = rejected.id.split_once(':') else {
                continue;
            };
            sqlx::query(
                "UPDATE outbox SET state = 'rejected', reject_reason = $1,
                    attempts = attempts + 1
                 WHERE batch_id = $2 AND state = 'pending' AND document_id IN (
                    SELECT d.id FROM outbox b JOIN documents d
                        ON d.id = b.document_id AND d.received_at = b.received_at
                    WHERE b.batch_id = $2 AND d.dialect = $3 AND d.doc_key = $4)",
            )
            .bind(&rejected.reason)
            .bind(batch_id)
            .bind(dialect)
            .bind(doc_key)
            .execute(&mut *tx)
            .await?;
        }
        let sent: Vec<i64> = sqlx::query_scalar(
            "UPDATE outbox SET state = 'sent', sent_at = $1, attempts = attempts + 1
             WHERE batch_id = $2 AND state = 'pending' RETURNING received_at",
        )
        .bind(now)
        .bind(batch_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(sent)
    }

    /// Count a failed attempt on the batch and its documents.
    pub async fn record_failure(&self, batch_id: &str, error: &str) -> Result<i64, sqlx::Error> {
        // Held until the transaction ends (declared first, dropped last).
        let _turn = self.store.sqlite_write_turn(TurnTaker::Background).await;
        let mut tx = self.store.pool().begin().await?;
        let attempts: i64 = sqlx::query_scalar(
            "UPDATE forward_batches SET attempts = attempts + 1, last_error = $1
             WHERE batch_id = $2 RETURNING attempts",
        )
        .bind(error)
        .bind(batch_id)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1
             WHERE batch_id = $1 AND state = 'pending'",
        )
        .bind(batch_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(attempts)
    }

    /// Put rejected documents (those received at or after `since_ms`, when given) back in the
    /// outbox after the cause was fixed: pending again, out of their old batch, attempts reset.
    /// The operator's action is written to `audit_log` in the same transaction. Returns how many
    /// documents were requeued.
    pub async fn requeue_rejected(
        &self,
        since_ms: Option<i64>,
        actor: &str,
        now: i64,
    ) -> Result<u64, sqlx::Error> {
        // Held until the transaction ends (declared first, dropped last).
        let _turn = self.store.sqlite_write_turn(TurnTaker::Background).await;
        let mut tx = self.store.pool().begin().await?;
        let requeued = sqlx::query(
            "UPDATE outbox SET state = 'pending', batch_id = NULL, attempts = 0,
             reject_reason = NULL
             WHERE state = 'rejected' AND received_at >= $1",
        )
        .bind(since_ms.unwrap_or(i64::MIN))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let detail = serde_json::json!({ "since_ms": since_ms, "documents": requeued });
        sqlx::query("INSERT INTO audit_log (at, actor, action, detail) VALUES ($1, $2, $3, $4)")
            .bind(now)
            .bind(actor)
            .bind("forward.requeue_rejected")
            .bind(detail.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(requeued)
    }

    /// Pending documents and the oldest one's commit time.
    pub async fn backlog(&self) -> Result<Backlog, sqlx::Error> {
        let row =
            sqlx::query("SELECT COUNT(*), MIN(received_at) FROM outbox WHERE state = 'pending'")
                .fetch_one(self.store.pool())
                .await?;
        Ok(Backlog {
            pending: row.try_get(0)?,
            oldest_received_at: row.try_get(1)?,
        })
    }
}

/// The documents a claim takes, in id order, and those it rejects as unreadable.
#[derive(Default)]
struct Chosen {
    documents: Vec<OutgoingDocument>,
    unreadable: Vec<(i64, String)>,
}

impl Chosen {
    fn is_empty(&self) -> bool {
        self.documents.is_empty() && self.unreadable.is_empty()
    }
}

/// Build the lines of candidate rows (in id order) until `max_bytes` would be passed; a single
/// larger document still goes, alone.
fn choose(rows: &[AnyRow], max_bytes: usize) -> Result<Chosen, sqlx::Error> {
    let mut chosen = Chosen::default();
    let mut bytes = 0usize;
    for row in rows {
        match outgoing(row) {
            Ok(document) => {
                let size = document.line.len() + 1;
                if !chosen.documents.is_empty() && bytes + size > max_bytes {
                    break;
                }
                bytes += size;
                chosen.documents.push(document);
            }
            Err(reason) => chosen.unreadable.push((row.try_get::<i64, _>(0)?, reason)),
        }
    }
    Ok(chosen)
}

/// What a batch line is built from: the document, and for KZ the register it came from (the
/// authority wants the taxpayer's number beside each ticket), for the outbox rows `rows` (the
/// table or a subquery of it, named `o`), then `tail`. The document is found by its full key,
/// so on PostgreSQL each probe reads one month's partition.
fn outgoing_sql(rows: &str, tail: &str) -> String {
    format!(
        "SELECT d.id, d.dialect, d.doc_key, d.received_at, d.json, \
            d.system_id, d.doc_time, r.org_inn, r.reg_number, d.raw \
         FROM {rows} o JOIN documents d ON d.id = o.document_id AND d.received_at = o.received_at \
         LEFT JOIN registers r ON d.dialect = 'kz' AND r.system_id = d.system_id {tail}"
    )
}

/// The line of a KZ document: its message wrapped with the register's numbers, the fiscal
/// sign and both times. The fields are in the order the lines have always had them (by name).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct KzDocument<'a> {
    document_time: Option<i64>,
    fiscal_sign: Option<&'a str>,
    message: &'a RawValue,
    received_at: i64,
    registration_number: Option<String>,
    system_id: Option<i64>,
    tax_number: Option<String>,
}

/// Build the batch line of one row of [`outgoing_sql`]. RU: the stored FNS JSON as is. KZ:
/// the message ([`crate::store::documents::document_json`]: rendered from the frame, or as
/// stored by earlier versions) wrapped with the register's tax and registration numbers, the
/// fiscal sign the OFD assigned (the ticket part of the key) and both times. The JSON is checked
/// but copied as text, never parsed into a tree and printed again.
fn outgoing(row: &AnyRow) -> Result<OutgoingDocument, String> {
    let get = |e: sqlx::Error| format!("unreadable outbox row: {e}");
    let row_id: i64 = row.try_get(0).map_err(get)?;
    let dialect: String = row.try_get(1).map_err(get)?;
    let doc_key: String = row.try_get(2).map_err(get)?;
    let received_at: i64 = row.try_get(3).map_err(get)?;
    let json: String = row.try_get(4).map_err(get)?;
    let raw: Vec<u8> = row.try_get(9).map_err(get)?;
    let json =
        crate::store::documents::document_json(&dialect, json, &raw).map_err(|e| e.to_string())?;
    let stored: &RawValue = serde_json::from_str(&json)
        .map_err(|e| format!("stored JSON of the document is not valid JSON: {e}"))?;
    let id = format!("{dialect}:{doc_key}");
    let line = if dialect == "kz" {
        // KZ keys are "<system id>/<fiscal sign>" for tickets, "<system id>/c<command>/…" else.
        let fiscal_sign = doc_key
            .split_once('/')
            .map(|(_, rest)| rest)
            .filter(|rest| rest.bytes().all(|b| b.is_ascii_digit()));
        tax_batch::encode_line(&BatchLine {
            id,
            dialect,
            received_at,
            document: KzDocument {
                document_time: row.try_get(6).map_err(get)?,
                fiscal_sign,
                message: stored,
                received_at,
                registration_number: row.try_get(8).map_err(get)?,
                system_id: row.try_get(5).map_err(get)?,
                tax_number: row.try_get(7).map_err(get)?,
            },
        })
    } else {
        tax_batch::encode_line(&BatchLine {
            id,
            dialect,
            received_at,
            document: stored,
        })
    };
    Ok(OutgoingDocument {
        row_id,
        received_at,
        line,
    })
}
