//! Reading committed documents after the cursors and writing their rows into the read tables.
//!
//! Invariants:
//! - A document is applied at most once: its `doc_index` row is inserted first with
//!   `ON CONFLICT (document_id) DO NOTHING RETURNING` — on PostgreSQL, whose `doc_index` is
//!   partitioned by `doc_time` (`migrations/postgres/0017`), `(document_id, doc_time)`, the same
//!   rule because a document's `doc_time` is a function of the stored document
//!   ([`local_time`]) — and its lines and the shift, daily,
//!   hourly and product figures are added only when that insert took (summed per row over the
//!   batch and written as multi-row upserts, so each figure row is written once per batch).
//!   Replaying a batch (a crash between the writes and the cursor move, two projectors, a
//!   sweep) therefore changes nothing.
//! - A document is applied at least once: the ids are split into [`SHARDS`] shards
//!   (`id % SHARDS`), each with a cursor row (`project_cursor`, `documents/<k>`) that moves only
//!   in the transaction that wrote the rows up to it. PostgreSQL hands out ids before commit,
//!   so a document can become visible after a higher id was already projected;
//!   [`Projector::sweep`] looks back over a window of ids below each cursor for documents
//!   without a `doc_index` row. SQLite has one writer at a time, so there ids become visible
//!   in order.
//! - Two projectors never do the same work: on PostgreSQL a step holds its shard's cursor row
//!   (`FOR UPDATE SKIP LOCKED`) for its whole transaction, so the other projector takes another
//!   shard; on SQLite the projector holding the writer lease (`forward_leases`, row
//!   `projector`) works and the others stand by until it stops renewing it.
//! - Reading the documents and decoding them happens outside the write transaction, which holds
//!   only the inserts. On SQLite that transaction writes the read models' own file
//!   ([`crate::store::read_file`]): ingest never waits for it.
//! - A document that does not decode still gets a `doc_index` row (kind `other`, its stored
//!   columns), so it never blocks the cursor, and the reason is logged and counted.

use std::collections::{BTreeMap, HashSet};

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row as _};

use super::model::{
    project_kz, project_ru, KzTicketFacts, Operation, Projected, ShiftEvent, UnsentReport,
    ZCounters,
};
use crate::store::period_pieces::month_of_day;
use crate::store::reports::{lines_to_json, HOUR_COLUMNS};
use crate::store::{Backend, Placeholders, Store, TurnTaker};

/// The cursor's row name.
const CURSOR: &str = "documents";

/// One stored document as the projector reads it.
struct Stored {
    id: i64,
    dialect: String,
    doc_key: String,
    fn_number: Option<String>,
    fd_number: Option<i64>,
    system_id: Option<i64>,
    form_code: i64,
    doc_time: Option<i64>,
    received_at: i64,
    raw: Vec<u8>,
    ack: Vec<u8>,
    register_id: Option<i64>,
    /// The register's point of sale when the document is projected.
    pos_id: Option<i64>,
}

const STORED_COLUMNS: &str = "SELECT d.id, d.dialect, d.doc_key, d.fn_number, d.fd_number, \
    d.system_id, d.form_code, d.doc_time, d.received_at, d.raw, d.ack, \
    COALESCE(rd.register_id, rf.id, rs.id) AS register_id, \
    (SELECT pos_id FROM registers WHERE id = COALESCE(rd.register_id, rf.id, rs.id)) AS pos_id \
    FROM documents d \
    LEFT JOIN register_drives rd ON d.dialect = 'ru' AND rd.fn_number = d.fn_number \
    LEFT JOIN registers rf ON d.dialect = 'ru' AND rf.fn_number = d.fn_number \
    LEFT JOIN registers rs ON d.dialect = 'kz' AND rs.system_id = d.system_id";

fn stored(row: &AnyRow) -> Result<Stored, sqlx::Error> {
    Ok(Stored {
        id: row.try_get(0)?,
        dialect: row.try_get(1)?,
        doc_key: row.try_get(2)?,
        fn_number: row.try_get(3)?,
        fd_number: row.try_get(4)?,
        system_id: row.try_get(5)?,
        form_code: row.try_get(6)?,
        doc_time: row.try_get(7)?,
        received_at: row.try_get(8)?,
        raw: row.try_get(9)?,
        ack: row.try_get(10)?,
        register_id: row.try_get(11)?,
        pos_id: row.try_get(12)?,
    })
}

/// What one step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Documents read after the cursor.
    pub read: u64,
    /// Documents newly applied (not seen before).
    pub applied: u64,
    /// Documents that did not decode (indexed as `other`).
    pub undecodable: u64,
}

impl std::ops::AddAssign for Step {
    fn add_assign(&mut self, other: Step) {
        self.read += other.read;
        self.applied += other.applied;
        self.undecodable += other.undecodable;
    }
}

/// How far behind the projector is.
#[derive(Debug, Default, Clone, Copy)]
pub struct Lag {
    /// Documents after the cursor.
    pub documents: i64,
    /// `received_at` of the first document after the cursor (unix ms).
    pub oldest_received_at: Option<i64>,
}

/// The projector's view of the database.
#[derive(Clone)]
pub struct Projector {
    store: Store,
    /// This projector instance (a fresh id per process), as written into the SQLite lease.
    owner: String,
    /// Until when this instance holds the SQLite writer lease (unix ms; 0: not held).
    lease_until: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

/// The document ids are split into this many shards (`id % SHARDS`), each with its own cursor
/// row `documents/<k>`; a projector projects one shard per step.
pub const SHARDS: i64 = 4;
/// The SQLite writer lease row (in `forward_leases`, which is a generic name → owner lease
/// table) and how long it holds without renewal.
const WRITER_LEASE: &str = "projector";
const LEASE_MS: i64 = 30_000;

fn shard_name(shard: i64) -> String {
    format!("{CURSOR}/{shard}")
}

impl Projector {
    /// A projector over `store`, as a new instance.
    pub fn new(store: &Store) -> Self {
        Self {
            store: store.clone(),
            owner: uuid::Uuid::new_v4().to_string(),
            lease_until: std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0)),
        }
    }

    /// The id below which every document is projected: the lowest shard cursor (0 before the
    /// first step; the single cursor of a database projected before shards existed).
    pub async fn cursor(&self) -> Result<i64, sqlx::Error> {
        let row =
            sqlx::query("SELECT MIN(last_id), COUNT(*) FROM project_cursor WHERE name LIKE $1")
                .bind(format!("{CURSOR}/%"))
                .fetch_one(self.store.read_pool())
                .await?;
        let shards: i64 = row.try_get(1)?;
        if shards == SHARDS {
            return Ok(row.try_get::<Option<i64>, _>(0)?.unwrap_or(0));
        }
        let legacy: Option<i64> =
            sqlx::query_scalar("SELECT last_id FROM project_cursor WHERE name = $1")
                .bind(CURSOR)
                .fetch_optional(self.store.read_pool())
                .await?;
        Ok(legacy.unwrap_or(0))
    }

    /// Each shard's cursor, `(shard, last id)`, creating the rows when missing (from the single
    /// cursor of a database projected before shards existed).
    async fn shard_cursors(&self, now_ms: i64) -> Result<Vec<(i64, i64)>, sqlx::Error> {
        for attempt in 0..2 {
            let rows = sqlx::query("SELECT name, last_id FROM project_cursor WHERE name LIKE $1")
                .bind(format!("{CURSOR}/%"))
                .fetch_all(self.store.read_pool())
                .await?;
            let mut shards = Vec::with_capacity(rows.len());
            for row in &rows {
                let name: String = row.try_get(0)?;
                if let Some(shard) = name
                    .strip_prefix(CURSOR)
                    .and_then(|n| n.strip_prefix('/'))
                    .and_then(|n| n.parse::<i64>().ok())
                {
                    shards.push((shard, row.try_get(1)?));
                }
            }
            if shards.len() as i64 == SHARDS || attempt == 1 {
                shards.sort_unstable();
                return Ok(shards);
            }
            let mut tx = self.store.begin_read_models_write().await?;
            for shard in 0..SHARDS {
                sqlx::query(
                    "INSERT INTO project_cursor (name, last_id, updated_at) \
                     SELECT $1, COALESCE(MAX(last_id), 0), $2 FROM project_cursor \
                     WHERE name = $3 ON CONFLICT (name) DO NOTHING",
                )
                .bind(shard_name(shard))
                .bind(now_ms)
                .bind(CURSOR)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
        unreachable!("the loop returns on its second turn")
    }

    /// Documents after the cursors and the oldest one's commit time.
    pub async fn lag(&self) -> Result<Lag, sqlx::Error> {
        let mut lag = Lag::default();
        for (shard, last) in self.shard_cursors(crate::clock::unix_millis()).await? {
            let row = sqlx::query(&format!(
                "SELECT COUNT(*), MIN(received_at) FROM documents \
                 WHERE id > $1 AND id % {SHARDS} = $2"
            ))
            .bind(last)
            .bind(shard)
            .fetch_one(self.store.pool())
            .await?;
            lag.documents += row.try_get::<i64, _>(0)?;
            let oldest: Option<i64> = row.try_get(1)?;
            lag.oldest_received_at = match (lag.oldest_received_at, oldest) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Ok(lag)
    }

    /// SQLite: take or renew the writer lease (one projector writes, others stand by).
    /// PostgreSQL needs none (the shard rows are locked) and always answers `true`.
    pub async fn hold_writer_lease(&self, now_ms: i64) -> Result<bool, sqlx::Error> {
        use std::sync::atomic::Ordering;
        if self.store.backend() == Backend::Postgres {
            return Ok(true);
        }
        // Renewed when half the lease is gone, not on every step (each renewal is a commit).
        if now_ms < self.lease_until.load(Ordering::Relaxed) - LEASE_MS / 2 {
            return Ok(true);
        }
        let _turn = self.store.sqlite_write_turn(TurnTaker::Background).await;
        let row = sqlx::query(
            "INSERT INTO forward_leases (name, owner, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, \
             expires_at = excluded.expires_at \
             WHERE forward_leases.owner = excluded.owner OR forward_leases.expires_at < $4 \
             RETURNING owner",
        )
        .bind(WRITER_LEASE)
        .bind(&self.owner)
        .bind(now_ms + LEASE_MS)
        .bind(now_ms)
        .fetch_optional(self.store.pool())
        .await?;
        let held = row.is_some();
        self.lease_until
            .store(if held { now_ms + LEASE_MS } else { 0 }, Ordering::Relaxed);
        Ok(held)
    }

    /// Give the SQLite writer lease up (clean shutdown), so a standby need not wait it out.
    pub async fn release_writer_lease(&self) -> Result<(), sqlx::Error> {
        if self.store.backend() == Backend::Postgres {
            return Ok(());
        }
        self.lease_until
            .store(0, std::sync::atomic::Ordering::Relaxed);
        let _turn = self.store.sqlite_write_turn(TurnTaker::Background).await;
        sqlx::query("DELETE FROM forward_leases WHERE name = $1 AND owner = $2")
            .bind(WRITER_LEASE)
            .bind(&self.owner)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// Project up to `batch` documents of one shard after its cursor, in one write transaction.
    /// The shard is the least advanced one with documents to do that no other projector holds:
    /// PostgreSQL locks its cursor row (`FOR UPDATE SKIP LOCKED`) for the transaction, so two
    /// projectors work on different shards at once and never on the same documents; SQLite has
    /// one writer, so one projector holds the writer lease and the others stand by (a step of a
    /// standby reads nothing).
    pub async fn step(&self, batch: i64, now_ms: i64) -> Result<Step, sqlx::Error> {
        if !self.hold_writer_lease(now_ms).await? {
            return Ok(Step::default());
        }
        let shards = self.shard_cursors(now_ms).await?;
        let mut order: Vec<(i64, i64)> = shards.iter().map(|(k, last)| (*last, *k)).collect();
        order.sort_unstable();
        for (_, shard) in order {
            let mut tx = match self.store.backend() {
                Backend::Postgres => {
                    let mut tx = self.store.begin_read_models_write().await?;
                    let locked: Option<i64> = sqlx::query_scalar(
                        "SELECT last_id FROM project_cursor WHERE name = $1 \
                         FOR UPDATE SKIP LOCKED",
                    )
                    .bind(shard_name(shard))
                    .fetch_optional(&mut *tx)
                    .await?;
                    match locked {
                        Some(last) => Some((tx, last)),
                        // Another projector is on this shard.
                        None => continue,
                    }
                }
                Backend::Sqlite => None,
            };
            let cursor = match &tx {
                Some((_, last)) => *last,
                None => shards
                    .iter()
                    .find(|(k, _)| *k == shard)
                    .map_or(0, |(_, last)| *last),
            };
            let rows = sqlx::query(&format!(
                "{STORED_COLUMNS} WHERE d.id > $1 AND d.id % {SHARDS} = $2 ORDER BY d.id LIMIT $3"
            ))
            .bind(cursor)
            .bind(shard)
            .bind(batch)
            .fetch_all(self.store.pool())
            .await?;
            let documents = rows.iter().map(stored).collect::<Result<Vec<_>, _>>()?;
            let Some(last) = documents.last().map(|d| d.id) else {
                if let Some((tx, _)) = tx.take() {
                    tx.rollback().await?;
                }
                continue;
            };
            let tx = tx.map(|(tx, _)| tx);
            let mut step = self
                .apply(tx, &documents, Some((shard_name(shard), last, now_ms)))
                .await?;
            step.read = documents.len() as u64;
            return Ok(step);
        }
        Ok(Step::default())
    }

    /// Apply documents below the shard cursors (within `window` ids of each) that have no
    /// `doc_index` row: on PostgreSQL, those whose transaction committed after a higher id was
    /// projected.
    pub async fn sweep(&self, window: i64) -> Result<Step, sqlx::Error> {
        let mut total = Step::default();
        for (shard, last) in self.shard_cursors(crate::clock::unix_millis()).await? {
            let rows = sqlx::query(&format!(
                "{STORED_COLUMNS} WHERE d.id > $1 AND d.id <= $2 AND d.id % {SHARDS} = $3 \
                 AND NOT EXISTS (SELECT 1 FROM doc_index i WHERE i.document_id = d.id) \
                 ORDER BY d.id LIMIT 1000"
            ))
            .bind(last - window)
            .bind(last)
            .bind(shard)
            .fetch_all(self.store.read_pool())
            .await?;
            let documents = rows.iter().map(stored).collect::<Result<Vec<_>, _>>()?;
            if documents.is_empty() {
                continue;
            }
            tracing::info!(
                documents = documents.len(),
                "projecting documents committed after later ones"
            );
            let mut step = self.apply(None, &documents, None).await?;
            step.read = documents.len() as u64;
            total += step;
        }
        Ok(total)
    }

    /// Empty every read table and reset the cursor, in one transaction (`ofd project --rebuild`),
    /// then give up the writer lease.
    pub async fn reset(&self) -> Result<(), sqlx::Error> {
        let mut tx = self.store.begin_read_models_write().await?;
        crate::store::read_file::empty(&mut tx).await?;
        tx.commit().await?;
        // A rebuild runs with the projectors stopped: a lease one of them left behind (it
        // would run out only after its time) does not keep the rebuild standing by.
        let _turn = self.store.sqlite_write_turn(TurnTaker::Background).await;
        sqlx::query("DELETE FROM forward_leases WHERE name = $1")
            .bind(WRITER_LEASE)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// Decode `documents` and write them in the transaction `tx` (or, when `None`, a write
    /// transaction begun after decoding, so SQLite's write lock is not held while decoding),
    /// which also moves the cursor row `cursor.0` to `cursor.1` (at time `cursor.2`) when
    /// given, and commits.
    async fn apply(
        &self,
        tx: Option<sqlx::Transaction<'static, sqlx::Any>>,
        documents: &[Stored],
        cursor: Option<(String, i64, i64)>,
    ) -> Result<Step, sqlx::Error> {
        let facts = self.kz_facts(documents).await?;
        let mut step = Step::default();
        let projected: Vec<Projected> = documents
            .iter()
            .map(|d| {
                let result = if d.dialect == "kz" {
                    let facts = ticket_number(&d.doc_key)
                        .and_then(|t| facts.iter().find(|(n, _)| n == t))
                        .map(|(n, shift)| KzTicketFacts {
                            ticket_number: Some(n.clone()),
                            shift_number: Some(*shift),
                        })
                        .unwrap_or_default();
                    project_kz(&d.raw, &d.ack, &facts)
                } else {
                    project_ru(&d.raw)
                };
                result.unwrap_or_else(|reason| {
                    tracing::warn!(document = d.id, %reason, "document does not project");
                    step.undecodable += 1;
                    Projected {
                        kind: "other",
                        ..Projected::default()
                    }
                })
            })
            .collect();
        // On SQLite the read models have a file of their own (`store::read_file`): this
        // transaction takes its lock, not the documents' file's, so ingest does not wait for it.
        let mut tx = match tx {
            Some(tx) => tx,
            None => self.store.begin_read_models_write().await?,
        };
        step.applied = write_batch(&mut tx, documents, &projected).await?;
        if let Some((name, last, now_ms)) = cursor {
            sqlx::query(
                "INSERT INTO project_cursor (name, last_id, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id, \
                 updated_at = excluded.updated_at WHERE project_cursor.last_id < excluded.last_id",
            )
            .bind(name)
            .bind(last)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(step)
    }

    /// `(ticket number, shift number)` of the KZ tickets among `documents`.
    async fn kz_facts(&self, documents: &[Stored]) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let numbers: Vec<&str> = documents
            .iter()
            .filter(|d| d.dialect == "kz")
            .filter_map(|d| ticket_number(&d.doc_key))
            .collect();
        let mut facts = Vec::with_capacity(numbers.len());
        for chunk in numbers.chunks(200) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT ticket_number, shift_number FROM kz_tickets WHERE ticket_number IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for number in chunk {
                query = query.bind(*number);
            }
            for row in query.fetch_all(self.store.pool()).await? {
                facts.push((row.try_get(0)?, row.try_get(1)?));
            }
        }
        Ok(facts)
    }

    /// Which backend (for the sweep's need).
    pub fn backend(&self) -> Backend {
        self.store.backend()
    }
}

/// The ticket number in a KZ ticket's key `"<system id>/<ticket number>"`.
fn ticket_number(doc_key: &str) -> Option<&str> {
    doc_key
        .split_once('/')
        .map(|(_, rest)| rest)
        .filter(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
}

/// The names of a document's lines, one per line, for the search's product filter; `None`
/// when it has none.
fn item_names(projected: &Projected) -> Option<String> {
    (!projected.lines.is_empty()).then(|| {
        let names: Vec<&str> = projected.lines.iter().map(|l| l.name.as_str()).collect();
        names.join("\n")
    })
}

/// The shift's key: RU per drive, KZ per system id.
fn shift_source(document: &Stored) -> Option<String> {
    match document.dialect.as_str() {
        "ru" => document.fn_number.as_ref().map(|f| format!("ru:{f}")),
        _ => document.system_id.map(|s| format!("kz:{s}")),
    }
}

/// Columns of one `doc_index` row in [`write_batch`]'s multi-row insert.
const INDEX_COLUMNS: usize = 29;
/// Rows per multi-row statement (29 × 40 parameters stays far below both backends' limits).
const ROWS_PER_STATEMENT: usize = 40;

/// What a batch adds to one shift.
#[derive(Default)]
struct ShiftDelta {
    register_id: Option<i64>,
    opened: Option<i64>,
    receipts: i64,
    figures: [i64; 8],
    /// The close report: its time and counters.
    close: Option<(i64, ZCounters)>,
}

/// What a batch adds to one register's day.
#[derive(Default)]
struct DayDelta {
    receipts: i64,
    sales_count: i64,
    refunds_count: i64,
    revenue: i64,
    refunds: i64,
    cash: i64,
    card: i64,
    /// Receipts per hour of the local day (`project_daily.h00` .. `h23`).
    hours: [i64; 24],
}

fn local_time(document: &Stored, projected: &Projected) -> i64 {
    projected
        .doc_time
        .or(document.doc_time)
        .unwrap_or(document.received_at / 1000)
}

/// Write a batch's rows; returns how many documents were new. The `doc_index` rows go in first
/// (multi-row, `ON CONFLICT DO NOTHING RETURNING`): only the documents whose row went in add
/// lines and figures, and the figures are summed per shift, day, hour and product in memory, so
/// each of those rows is written once per batch, not once per document.
async fn write_batch(
    tx: &mut AnyConnection,
    documents: &[Stored],
    projected: &[Projected],
) -> Result<u64, sqlx::Error> {
    let style = Placeholders::of(tx);
    // The unique key holds the partition key on PostgreSQL (`migrations/postgres/0017`).
    let index_key = if tx.backend_name().eq_ignore_ascii_case("sqlite") {
        "document_id"
    } else {
        "document_id, doc_time"
    };
    let pairs: Vec<(&Stored, &Projected)> = documents.iter().zip(projected).collect();
    let mut new_ids = HashSet::new();
    for chunk in pairs.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO doc_index (document_id, dialect, register_id, point_of_sale_id, \
             fn_number, fd_number, \
             system_id, kz_ticket, kind, form_code, shift_number, operation, doc_time, \
             received_at, total, cash, card, prepaid, credit, other_payment, cashier, \
             fiscal_sign, unsent_count, unsent_oldest, unsent_first, x_receipts, x_sales, \
             x_refunds, item_names) VALUES {} \
             ON CONFLICT ({index_key}) DO NOTHING RETURNING document_id",
            style.tuples(chunk.len(), INDEX_COLUMNS, 1)
        );
        let mut query = sqlx::query(&sql);
        for (document, projected) in chunk {
            let unsent = projected.unsent;
            // An X report's own counters (a close report's go to its shift instead).
            let x = projected
                .z
                .as_ref()
                .filter(|_| projected.kind == "kz_x_report");
            query = query
                .bind(document.id)
                .bind(document.dialect.as_str())
                .bind(document.register_id)
                .bind(document.pos_id)
                .bind(document.fn_number.as_deref())
                .bind(document.fd_number)
                .bind(document.system_id)
                .bind(ticket_number(&document.doc_key).filter(|_| document.dialect == "kz"))
                .bind(projected.kind)
                .bind(document.form_code)
                .bind(projected.shift_number)
                .bind(projected.operation.map(Operation::as_str))
                .bind(local_time(document, projected))
                .bind(document.received_at)
                .bind(projected.total)
                .bind(projected.cash)
                .bind(projected.card)
                .bind(projected.prepaid)
                .bind(projected.credit)
                .bind(projected.other_payment)
                .bind(projected.cashier.as_deref())
                .bind(projected.fiscal_sign.as_deref())
                .bind(unsent.map(|u| u.0))
                .bind(unsent.and_then(|u| u.1))
                .bind(unsent.and_then(|u| u.2))
                .bind(x.and_then(|x| x.receipts))
                .bind(x.and_then(|x| x.sales))
                .bind(x.and_then(|x| x.refunds))
                .bind(item_names(projected));
        }
        for row in query.fetch_all(&mut *tx).await? {
            new_ids.insert(row.try_get::<i64, _>(0)?);
        }
    }
    let fresh: Vec<(&Stored, &Projected)> = pairs
        .into_iter()
        .filter(|(d, _)| new_ids.contains(&d.id))
        .collect();

    // A document's lines as one row (a JSON array, [`lines_to_json`]): the receipt view reads
    // them by the document's key, and the search's product filter reads `doc_index.item_names`,
    // so a row per line (about seven a receipt) paid heap and key entries no query needed.
    // A plain insert, no `ON CONFLICT`: the row goes in only with its document's new
    // `doc_index` row, in this transaction, so it cannot be there already.
    let lines: Vec<(i64, i64, String)> = fresh
        .iter()
        .filter(|(_, p)| !p.lines.is_empty())
        .map(|(d, p)| (d.id, local_time(d, p), lines_to_json(&p.lines)))
        .collect();
    for chunk in lines.chunks(ROWS_PER_STATEMENT * 5 / 2) {
        let sql = format!(
            "INSERT INTO doc_items (document_id, doc_time, lines) VALUES {}",
            style.tuples(chunk.len(), 3, 1)
        );
        let mut query = sqlx::query(&sql);
        for (id, time, json) in chunk {
            query = query.bind(*id).bind(*time).bind(json.as_str());
        }
        query.execute(&mut *tx).await?;
    }

    let mut shifts: BTreeMap<(String, i64), ShiftDelta> = BTreeMap::new();
    let mut days: BTreeMap<(i64, i64), DayDelta> = BTreeMap::new();
    let mut products: BTreeMap<(i64, i64, &str), (i64, i64)> = BTreeMap::new();
    let mut monthly_products: BTreeMap<(i64, i64, &str), (i64, i64)> = BTreeMap::new();
    for (document, projected) in &fresh {
        let time = local_time(document, projected);
        if let (Some(source), Some(shift)) = (shift_source(document), projected.shift_number) {
            let delta = shifts.entry((source, shift)).or_default();
            delta.register_id = delta.register_id.or(document.register_id);
            if projected.shift_event == Some(ShiftEvent::Close) {
                delta.close = Some((time, projected.z.clone().unwrap_or_default()));
            } else {
                delta.opened = Some(delta.opened.map_or(time, |o| o.min(time)));
                delta.receipts += i64::from(projected.is_receipt);
                for (sum, add) in delta.figures.iter_mut().zip(shift_figures(projected)) {
                    *sum += add;
                }
            }
        }
        if !projected.is_receipt {
            continue;
        }
        let register = document.register_id.unwrap_or(0);
        let day = time.div_euclid(86_400);
        let (sales_count, refunds_count, revenue, refunds, cash, card) = match projected.operation {
            Some(Operation::Sale) => (1, 0, projected.total, 0, projected.cash, projected.card),
            Some(Operation::Refund) => (0, 1, 0, projected.total, -projected.cash, -projected.card),
            _ => (0, 0, 0, 0, 0, 0),
        };
        let d = days.entry((register, day)).or_default();
        d.receipts += 1;
        d.sales_count += sales_count;
        d.refunds_count += refunds_count;
        d.revenue += revenue;
        d.refunds += refunds;
        d.cash += cash;
        d.card += card;
        let hour = usize::try_from(time.rem_euclid(86_400) / 3_600).unwrap_or(0);
        if let Some(slot) = d.hours.get_mut(hour) {
            *slot += 1;
        }
        if projected.operation == Some(Operation::Sale) {
            // A day chrono cannot place keeps its own number as its month: the readers take
            // such days from the daily rows (store::period_pieces).
            let month_day = month_of_day(day).map_or(day, |(first, _)| first);
            for line in &projected.lines {
                for (map, period) in [(&mut products, day), (&mut monthly_products, month_day)] {
                    let p = map
                        .entry((register, period, line.name.as_str()))
                        .or_default();
                    p.0 += 1;
                    p.1 += line.amount;
                }
            }
        }
    }
    let shifts: Vec<_> = shifts.iter().collect();
    for chunk in shifts.chunks(ROWS_PER_STATEMENT) {
        write_shifts(tx, style, chunk).await?;
    }
    // Each RU drive's latest word on its unsent documents: one row per drive, the batch's
    // latest report per drive, and a stored row only replaced by a later report (two projectors
    // and a re-run apply in any order).
    let mut drives: BTreeMap<&str, (&Stored, UnsentReport, i64)> = BTreeMap::new();
    for (document, projected) in &fresh {
        if let (Some(fn_number), Some(unsent), "ru") = (
            document.fn_number.as_deref(),
            projected.unsent,
            document.dialect.as_str(),
        ) {
            let entry = drives.entry(fn_number).or_insert((
                document,
                unsent,
                local_time(document, projected),
            ));
            if document.id > entry.0.id {
                *entry = (document, unsent, local_time(document, projected));
            }
        }
    }
    let drives: Vec<_> = drives.into_iter().collect();
    for chunk in drives.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO drive_reports (fn_number, register_id, document_id, doc_time, \
             unsent_count, unsent_oldest, unsent_first) VALUES {} \
             ON CONFLICT (fn_number) DO UPDATE SET register_id = excluded.register_id, \
             document_id = excluded.document_id, doc_time = excluded.doc_time, \
             unsent_count = excluded.unsent_count, unsent_oldest = excluded.unsent_oldest, \
             unsent_first = excluded.unsent_first \
             WHERE excluded.document_id > drive_reports.document_id",
            style.tuples(chunk.len(), 7, 1)
        );
        let mut query = sqlx::query(&sql);
        for (fn_number, (document, unsent, time)) in chunk {
            query = query
                .bind(*fn_number)
                .bind(document.register_id)
                .bind(document.id)
                .bind(*time)
                .bind(unsent.0)
                .bind(unsent.1)
                .bind(unsent.2);
        }
        query.execute(&mut *tx).await?;
    }
    let days: Vec<_> = days.iter().collect();
    for chunk in days.chunks(ROWS_PER_STATEMENT * 2) {
        let sql = format!(
            "INSERT INTO project_daily (register_id, day, receipts, sales_count, refunds_count, \
             revenue, refunds, cash, card, {HOUR_COLUMNS}) VALUES {} \
             ON CONFLICT (register_id, day) DO UPDATE SET \
             receipts = project_daily.receipts + excluded.receipts, \
             sales_count = project_daily.sales_count + excluded.sales_count, \
             refunds_count = project_daily.refunds_count + excluded.refunds_count, \
             revenue = project_daily.revenue + excluded.revenue, \
             refunds = project_daily.refunds + excluded.refunds, \
             cash = project_daily.cash + excluded.cash, card = project_daily.card + excluded.card, \
             {}",
            style.tuples(chunk.len(), 9 + 24, 1),
            hour_updates()
        );
        let mut query = sqlx::query(&sql);
        for ((register, day), d) in chunk {
            query = query
                .bind(*register)
                .bind(*day)
                .bind(d.receipts)
                .bind(d.sales_count)
                .bind(d.refunds_count)
                .bind(d.revenue)
                .bind(d.refunds)
                .bind(d.cash)
                .bind(d.card);
            for receipts in d.hours {
                query = query.bind(receipts);
            }
        }
        query.execute(&mut *tx).await?;
    }
    // A day's product rows and its month's, from the same deltas in the same transaction: a
    // month's row is the sum of its days' (the readers rely on it, store::period_pieces).
    for (table, period, rows) in [
        ("project_daily_products", "day", &products),
        ("project_monthly_products", "month_day", &monthly_products),
    ] {
        let rows: Vec<_> = rows.iter().collect();
        for chunk in rows.chunks(ROWS_PER_STATEMENT * 4) {
            let sql = format!(
                "INSERT INTO {table} (register_id, {period}, name, lines, revenue) \
                 VALUES {} ON CONFLICT (register_id, {period}, name) DO UPDATE SET \
                 lines = {table}.lines + excluded.lines, \
                 revenue = {table}.revenue + excluded.revenue",
                style.tuples(chunk.len(), 5, 1)
            );
            let mut query = sqlx::query(&sql);
            for ((register, day, name), (lines, revenue)) in chunk {
                query = query
                    .bind(*register)
                    .bind(*day)
                    .bind(*name)
                    .bind(*lines)
                    .bind(*revenue);
            }
            query.execute(&mut *tx).await?;
        }
    }
    Ok(fresh.len() as u64)
}

/// `hNN = project_daily.hNN + excluded.hNN` for every hour column.
fn hour_updates() -> String {
    HOUR_COLUMNS
        .split(", ")
        .map(|c| format!("{c} = project_daily.{c} + excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Signed contributions of a receipt: (sales, sales cash, sales card, refunds, refunds cash,
/// refunds card, expenses, expense refunds).
fn shift_figures(p: &Projected) -> [i64; 8] {
    match p.operation {
        Some(Operation::Sale) => [p.total, p.cash, p.card, 0, 0, 0, 0, 0],
        Some(Operation::Refund) => [0, 0, 0, p.total, p.cash, p.card, 0, 0],
        Some(Operation::Expense) => [0, 0, 0, 0, 0, 0, p.total, 0],
        Some(Operation::ExpenseRefund) => [0, 0, 0, 0, 0, 0, 0, p.total],
        None => [0; 8],
    }
}

/// Whether a closed shift's report counters differ from the computed figures.
const MISMATCH: &str = "CASE WHEN {closed} IS NOT NULL AND \
    (({zr} IS NOT NULL AND {zr} <> {r}) OR ({zs} IS NOT NULL AND {zs} <> {s}) \
    OR ({zf} IS NOT NULL AND {zf} <> {f})) THEN 1 ELSE 0 END";

/// Add a batch's figures to its shifts and set their verdicts, one multi-row upsert. A late
/// receipt after the close report changes the verdict too, so the verdict is computed from the
/// row as it will be after the update.
async fn write_shifts(
    tx: &mut AnyConnection,
    style: Placeholders,
    shifts: &[(&(String, i64), &ShiftDelta)],
) -> Result<(), sqlx::Error> {
    let new_z = |column: &str| {
        format!(
            "(CASE WHEN excluded.closed_time IS NOT NULL THEN excluded.{column} \
             ELSE project_shifts.{column} END)"
        )
    };
    let sum = |column: &str| format!("(project_shifts.{column} + excluded.{column})");
    let mismatch = MISMATCH
        .replace(
            "{closed}",
            "COALESCE(excluded.closed_time, project_shifts.closed_time)",
        )
        .replace("{zr}", &new_z("z_receipts"))
        .replace("{zs}", &new_z("z_sales"))
        .replace("{zf}", &new_z("z_refunds"))
        .replace("{r}", &sum("receipts"))
        .replace("{s}", &sum("sales"))
        .replace("{f}", &sum("refunds"));
    let sql = format!(
        "INSERT INTO project_shifts (source, shift_number, register_id, opened_time, \
         closed_time, receipts, sales, sales_cash, sales_card, refunds, refunds_cash, \
         refunds_card, expenses, expense_refunds, z_receipts, z_sales, z_refunds, mismatch) \
         VALUES {} \
         ON CONFLICT (source, shift_number) DO UPDATE SET \
         register_id = COALESCE(project_shifts.register_id, excluded.register_id), \
         opened_time = CASE WHEN excluded.opened_time IS NOT NULL AND \
         (project_shifts.opened_time IS NULL OR project_shifts.opened_time > excluded.opened_time) \
         THEN excluded.opened_time ELSE project_shifts.opened_time END, \
         closed_time = COALESCE(excluded.closed_time, project_shifts.closed_time), \
         receipts = project_shifts.receipts + excluded.receipts, \
         sales = project_shifts.sales + excluded.sales, \
         sales_cash = project_shifts.sales_cash + excluded.sales_cash, \
         sales_card = project_shifts.sales_card + excluded.sales_card, \
         refunds = project_shifts.refunds + excluded.refunds, \
         refunds_cash = project_shifts.refunds_cash + excluded.refunds_cash, \
         refunds_card = project_shifts.refunds_card + excluded.refunds_card, \
         expenses = project_shifts.expenses + excluded.expenses, \
         expense_refunds = project_shifts.expense_refunds + excluded.expense_refunds, \
         z_receipts = {}, z_sales = {}, z_refunds = {}, mismatch = {mismatch}",
        style.tuples(shifts.len(), 18, 1),
        new_z("z_receipts"),
        new_z("z_sales"),
        new_z("z_refunds"),
    );
    let mut query = sqlx::query(&sql);
    for ((source, shift), delta) in shifts {
        let (closed, z) = match &delta.close {
            Some((time, z)) => (Some(*time), z.clone()),
            None => (None, ZCounters::default()),
        };
        let f = delta.figures;
        let differs = |counter: Option<i64>, computed: i64| counter.is_some_and(|c| c != computed);
        let mismatch = closed.is_some()
            && (differs(z.receipts, delta.receipts)
                || differs(z.sales, f[0])
                || differs(z.refunds, f[3]));
        query = query
            .bind(source.as_str())
            .bind(*shift)
            .bind(delta.register_id)
            .bind(delta.opened)
            .bind(closed)
            .bind(delta.receipts)
            .bind(f[0])
            .bind(f[1])
            .bind(f[2])
            .bind(f[3])
            .bind(f[4])
            .bind(f[5])
            .bind(f[6])
            .bind(f[7])
            .bind(z.receipts)
            .bind(z.sales)
            .bind(z.refunds)
            .bind(i64::from(mismatch));
    }
    query.execute(&mut *tx).await?;
    Ok(())
}
