//! Accepted documents (RU and KZ), their idempotency rule, and quarantine.
//!
//! The idempotency key is `(dialect, doc_key)`. Storing is `INSERT … ON CONFLICT DO NOTHING
//! RETURNING`: the common case (a new document) costs no read. The group-commit writer stores a
//! whole batch of new documents with a few multi-row statements ([`insert_new_documents`]), since
//! on SQLite each statement is a round trip to the driver's worker thread and that round trip,
//! not the row, was the cost. Only when a key already exists do we read the stored row — for
//! the whole batch at once in the writer ([`insert_new_documents`]: resends come in storms), or
//! alone ([`insert_document`]) — to tell a resend (identical raw bytes: answer with the stored
//! ack) from a conflict (different bytes: keep the newcomer in `conflicts`, answer with the
//! stored ack, never overwrite).
//!
//! What a row holds of the document is the bytes the register sent (`raw`) and the ack it got;
//! its JSON is not stored but printed from `raw` by whoever reads it ([`document_json`]): the
//! JSON was 3.4 (RU) to 4.4 (KZ) times those bytes, and printing it cost the register's wait a
//! fifth (KZ) to two fifths (RU) of the server's instructions per document. Rows that earlier
//! versions stored with their JSON keep it and are read as stored.
//!
//! The functions here take a bare connection so that other [`TxWork`] implementations (the KZ
//! handler stores a document, rotates the token and caches the response in one transaction) can
//! call them inside their own transaction.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use futures::future::BoxFuture;
use futures::FutureExt as _;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row as _};

use super::placeholders::{bucket, Placeholders, StatementTexts};
use super::tx_work::TxWork;
use super::{Dialect, StoreError};

/// The JSON of a stored document from its `dialect`, `json` and `raw` columns: `json` itself
/// when it holds text (documents stored before the JSON left the ack path), else printed from
/// the bytes in `raw` — RU: the FNS JSON of the container
/// ([`ofd_protocol::ru::json_text::document_json`]); KZ: the header and request of the frame
/// ([`ofd_protocol::kz::document_json`]). The same text the ingest server used to store, at the
/// reader's cost instead of the register's: the JSON was 3.4 (RU) to 4.4 (KZ) times the bytes
/// it is printed from (benches/README.md, issue 20). Every reader of a document's JSON goes
/// through here.
pub fn document_json(dialect: &str, json: String, raw: &[u8]) -> Result<String, StoreError> {
    if !json.is_empty() {
        return Ok(json);
    }
    let corrupt = |error: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("stored {dialect} document: {error}"))
    };
    match dialect.parse::<Dialect>()? {
        Dialect::Ru => {
            ofd_protocol::ru::json_text::document_json(raw).map_err(|error| corrupt(&error))
        }
        Dialect::Kz => ofd_protocol::kz::document_json(raw).map_err(|error| corrupt(&error)),
    }
}

/// A document that passed the checks and is ready to be stored with the ack it will get.
#[derive(Clone, Debug)]
pub struct NewDocument {
    /// Protocol family.
    pub dialect: Dialect,
    /// Idempotency key within the dialect: RU [`ru_doc_key`], KZ chosen by the KZ handler.
    pub doc_key: String,
    /// RU fiscal drive number.
    pub fn_number: Option<String>,
    /// RU fiscal document number.
    pub fd_number: Option<i64>,
    /// KZ system id.
    pub system_id: Option<i64>,
    /// RU form code (document type) or KZ command code.
    pub form_code: i64,
    /// RU ФФД version code (tag 1209) when present.
    pub ffd_version: Option<i64>,
    /// Document time as the register sent it (naive local wall clock, unix seconds).
    pub doc_time: Option<i64>,
    /// When the server received it (UTC, unix milliseconds).
    pub received_at: i64,
    /// The container bytes exactly as received; compared byte for byte on a repeated key.
    pub raw: Vec<u8>,
    /// Empty from the ingest server: the JSON is printed from `raw` whenever it is read
    /// ([`document_json`]). Text here is kept and read as it is, as earlier versions stored it.
    pub json: String,
    /// The acknowledgement bytes that will be sent; a resend gets these same bytes again.
    pub ack: Vec<u8>,
    /// `None` when format-logical control passed, else the failed rules (text or JSON).
    pub flk_errors: Option<String>,
    /// Outcome of the fiscal sign check (`verified`, `unverified`, …).
    pub sign_verdict: String,
    /// Accepted from a register that is not provisioned (`--accept-unregistered`).
    pub unregistered: bool,
    /// Remote address, for the operator.
    pub peer: Option<String>,
}

/// The RU idempotency key: `"<fn>/<fd>"`.
pub fn ru_doc_key(fn_number: &str, fd_number: i64) -> String {
    format!("{fn_number}/{fd_number}")
}

/// What storing a document did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InsertOutcome {
    /// First arrival: stored (and queued for forwarding in the same statement).
    Stored,
    /// The same bytes were already stored under this key; answer with the stored ack.
    Duplicate {
        /// The ack bytes stored with the first copy.
        ack: Vec<u8>,
    },
    /// Different bytes under an existing key: the newcomer went to `conflicts`; answer with the
    /// stored ack.
    Conflict {
        /// The ack bytes stored with the first copy.
        ack: Vec<u8>,
    },
}

/// Store `doc` on `conn` (inside the caller's transaction) following the idempotency rule.
pub async fn insert_document(
    conn: &mut AnyConnection,
    doc: &NewDocument,
) -> Result<InsertOutcome, sqlx::Error> {
    let dialect = doc.dialect.as_str();
    let inserted = bind_document(sqlx::query(SINGLE_INSERT.as_str()), doc)
        .fetch_optional(&mut *conn)
        .await?;
    if inserted.is_some() {
        return Ok(InsertOutcome::Stored);
    }

    let stored = sqlx::query(stored_by_key(Placeholders::of(conn)))
        .bind(dialect)
        .bind(doc.doc_key.as_str())
        .fetch_one(&mut *conn)
        .await?;
    let stored_raw: Vec<u8> = stored.try_get("raw")?;
    let ack: Vec<u8> = stored.try_get("ack")?;
    if stored_raw == doc.raw {
        return Ok(InsertOutcome::Duplicate { ack });
    }

    // A register that keeps resending the same conflicting copy leaves one conflicts row.
    keep_conflicts(conn, doc.dialect, &[doc]).await?;
    Ok(InsertOutcome::Conflict { ack })
}

/// The stored raw bytes and ack under `($1 dialect, $2 doc_key)`. On PostgreSQL through
/// `document_keys`, whose `(document_id, received_at)` is the partitioned table's primary key:
/// the plan reads one month's index, not one per month (docs/scaling.md, "Plans").
fn stored_by_key(style: Placeholders) -> &'static str {
    match style {
        Placeholders::Positional => {
            "SELECT raw, ack FROM documents WHERE dialect = $1 AND doc_key = $2"
        }
        Placeholders::Numbered => {
            "SELECT d.raw, d.ack FROM document_keys k \
             JOIN documents d ON d.id = k.document_id AND d.received_at = k.received_at \
             WHERE k.dialect = $1 AND k.doc_key = $2"
        }
    }
}

/// Rows per multi-row INSERT: 64 × 17 parameters stays far below SQLite's and PostgreSQL's
/// parameter limits, and with [`bucket`] sizes eleven statement shapes end up in the
/// prepared-statement cache.
const ROWS_PER_STATEMENT: usize = 64;
/// Parameters per document row in [`INSERT_HEAD`].
const COLUMNS: usize = 17;
/// Column list shared by the single and the multi-row insert.
const INSERT_HEAD: &str = "INSERT INTO documents (dialect, doc_key, fn_number, fd_number, \
     system_id, form_code, ffd_version, doc_time, received_at, raw, json, ack, flk_failed, \
     flk_errors, sign_verdict, unregistered, peer)";
/// Idempotency: an existing key is left alone (and then read by [`insert_document`]). No
/// conflict target: on SQLite the one unique key besides the id is `(dialect, doc_key)`; on
/// PostgreSQL, whose `documents` is partitioned by month and cannot hold that UNIQUE, the key
/// lives in `document_keys` and the table's insert trigger skips a row whose key is taken, so
/// the row is neither inserted nor returned — the same outcome
/// (`migrations/postgres/0013_documents_partitioned.sql`).
const INSERT_TAIL: &str = "ON CONFLICT DO NOTHING";

/// `INSERT … SELECT … FROM (VALUES (…), …) … RETURNING doc_key` for `rows` rows (a [`bucket`]
/// size up to [`ROWS_PER_STATEMENT`]). The rows beyond the documents bound are all NULL and
/// left out by the WHERE: a few shapes stay in sqlx's prepared-statement cache where one per
/// batch size did not.
static BULK_INSERT: StatementTexts = StatementTexts::new(|style, rows| {
    let columns: Vec<String> = (1..=COLUMNS).map(|c| format!("v.column{c}")).collect();
    format!(
        "{INSERT_HEAD} SELECT {} FROM (VALUES {}) AS v \
         WHERE v.column2 IS NOT NULL {INSERT_TAIL} RETURNING doc_key",
        columns.join(", "),
        style.tuples(rows, COLUMNS, 1)
    )
});

/// The one-row insert of [`insert_document`].
static SINGLE_INSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{INSERT_HEAD} VALUES {} {INSERT_TAIL} RETURNING id",
        values_rows(Placeholders::Numbered, 1)
    )
});

/// `($1, …, $17), ($18, …)` (or with `?`) for `rows` rows.
fn values_rows(style: Placeholders, rows: usize) -> String {
    let tuples: Vec<String> = (0..rows)
        .map(|row| {
            let params: Vec<String> = (1..=COLUMNS)
                .map(|column| style.nth(row * COLUMNS + column))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect();
    tuples.join(", ")
}

/// Bind `doc`'s values in [`INSERT_HEAD`] column order.
fn bind_document<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    doc: &'q NewDocument,
) -> Query<'q, Any, AnyArguments<'q>> {
    query
        .bind(doc.dialect.as_str())
        .bind(doc.doc_key.as_str())
        .bind(doc.fn_number.as_deref())
        .bind(doc.fd_number)
        .bind(doc.system_id)
        .bind(doc.form_code)
        .bind(doc.ffd_version)
        .bind(doc.doc_time)
        .bind(doc.received_at)
        .bind(doc.raw.as_slice())
        .bind(doc.json.as_str())
        .bind(doc.ack.as_slice())
        .bind(i64::from(doc.flk_errors.is_some()))
        .bind(doc.flk_errors.as_deref())
        .bind(doc.sign_verdict.as_str())
        .bind(i64::from(doc.unregistered))
        .bind(doc.peer.as_deref())
}

/// A padding row of the bulk insert: NULLs of [`INSERT_HEAD`]'s column types.
fn bind_no_document<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
) -> Query<'q, Any, AnyArguments<'q>> {
    query
        .bind(None::<&str>)
        .bind(None::<&str>)
        .bind(None::<&str>)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<&[u8]>)
        .bind(None::<&str>)
        .bind(None::<&[u8]>)
        .bind(None::<i64>)
        .bind(None::<&str>)
        .bind(None::<&str>)
        .bind(None::<i64>)
        .bind(None::<&str>)
}

/// Insert every document of `docs` whose key is new, with multi-row statements, on `conn`
/// (inside the caller's transaction), and settle the rest the same way, with the outcomes
/// [`insert_document`] gives one at a time. Returns, per input, what became of it: `Stored` by
/// this call; `Duplicate` — its key was stored before (or by an earlier entry of `docs`) with
/// these same bytes, and this is that copy's ack; `Conflict` — its key holds other bytes: the
/// newcomer is in `conflicts` (once per distinct copy: [`keep_conflicts`]) and
/// this is the stored copy's ack; `None` — its key was not found under its dialect (another
/// dialect's entry of `docs` took the key in the bulk insert, or the row was removed
/// meanwhile): such an entry must go through [`insert_document`] afterwards.
///
/// Resends come in storms (a fleet reconnecting after an outage resends what it could not get
/// acked; a test lab's emulators reuse drive numbers), and each used to cost two (a resend) or
/// four (a conflict) statements inside the writer's transaction, one after another: on
/// PostgreSQL 2,263 resends/s and 1,850 conflicts/s against 11,700 new documents/s. The stored
/// copies are now read with one statement per [`ROWS_PER_STATEMENT`] keys ([`stored_copies`]),
/// and the conflicts kept with two more ([`keep_conflicts`]).
pub async fn insert_new_documents(
    conn: &mut AnyConnection,
    docs: &[&NewDocument],
) -> Result<Vec<Option<InsertOutcome>>, sqlx::Error> {
    let mut stored = vec![false; docs.len()];
    // Only the first entry with a given `doc_key` takes part (whatever its dialect): RETURNING
    // names the keys that went in, and within one statement a key must stand for one entry.
    // Later entries go the per-document way, which tells them apart correctly.
    let mut seen = HashSet::with_capacity(docs.len());
    let candidates: Vec<usize> = (0..docs.len())
        .filter(|&i| seen.insert(docs[i].doc_key.as_str()))
        .collect();
    let style = Placeholders::of(conn);
    for chunk in candidates.chunks(ROWS_PER_STATEMENT) {
        let rows = bucket(chunk.len());
        let sql = BULK_INSERT.get(style, rows);
        let query = chunk
            .iter()
            .fold(sqlx::query(sql), |query, &i| bind_document(query, docs[i]));
        let query = (chunk.len()..rows).fold(query, |query, _| bind_no_document(query));
        let rows = query.fetch_all(&mut *conn).await?;
        let inserted = rows
            .iter()
            .map(|row| row.try_get::<String, _>("doc_key"))
            .collect::<Result<HashSet<String>, _>>()?;
        for &i in chunk {
            stored[i] = inserted.contains(docs[i].doc_key.as_str());
        }
    }
    let mut outcomes: Vec<Option<InsertOutcome>> = stored
        .iter()
        .map(|&s| s.then_some(InsertOutcome::Stored))
        .collect();
    for dialect in [Dialect::Ru, Dialect::Kz] {
        let rest: Vec<usize> = (0..docs.len())
            .filter(|&i| !stored[i] && docs[i].dialect == dialect)
            .collect();
        if rest.is_empty() {
            continue;
        }
        let keys: Vec<&str> = rest.iter().map(|&i| docs[i].doc_key.as_str()).collect();
        let copies = stored_copies(conn, dialect, &keys).await?;
        let mut conflicting = Vec::new();
        for i in rest {
            let Some((raw, ack)) = copies.get(docs[i].doc_key.as_str()) else {
                continue;
            };
            let ack = ack.clone();
            outcomes[i] = Some(if *raw == docs[i].raw {
                InsertOutcome::Duplicate { ack }
            } else {
                conflicting.push(docs[i]);
                InsertOutcome::Conflict { ack }
            });
        }
        if !conflicting.is_empty() {
            keep_conflicts(conn, dialect, &conflicting).await?;
        }
    }
    Ok(outcomes)
}

/// Keep each distinct copy among `docs` (all of `dialect`, each under a key stored with other
/// bytes) in `conflicts` unless it is there already: one read of the keys' kept copies, then
/// the new ones in multi-row inserts.
async fn keep_conflicts(
    conn: &mut AnyConnection,
    dialect: Dialect,
    docs: &[&NewDocument],
) -> Result<(), sqlx::Error> {
    let style = Placeholders::of(conn);
    let mut kept: HashSet<(String, Vec<u8>)> = HashSet::new();
    let keys: Vec<&str> = docs.iter().map(|d| d.doc_key.as_str()).collect();
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let rows = bucket(chunk.len());
        let query = chunk.iter().fold(
            sqlx::query(KEPT_CONFLICTS.get(style, rows)).bind(dialect.as_str()),
            |q, key| q.bind(*key),
        );
        let query = (chunk.len()..rows).fold(query, |q, _| q.bind(None::<&str>));
        for row in query.fetch_all(&mut *conn).await? {
            kept.insert((row.try_get("doc_key")?, row.try_get("raw")?));
        }
    }
    let mut new: Vec<&NewDocument> = Vec::new();
    for doc in docs {
        if kept.insert((doc.doc_key.clone(), doc.raw.clone())) {
            new.push(doc);
        }
    }
    for chunk in new.chunks(ROWS_PER_STATEMENT) {
        let rows = bucket(chunk.len());
        let query = chunk
            .iter()
            .fold(sqlx::query(NEW_CONFLICTS.get(style, rows)), |q, doc| {
                q.bind(dialect.as_str())
                    .bind(doc.doc_key.as_str())
                    .bind(doc.received_at)
                    .bind(doc.peer.as_deref())
                    .bind(doc.raw.as_slice())
            });
        let query = (chunk.len()..rows).fold(query, |q, _| {
            q.bind(None::<&str>)
                .bind(None::<&str>)
                .bind(None::<i64>)
                .bind(None::<&str>)
                .bind(None::<&[u8]>)
        });
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The stored `(raw, ack)` of each of `keys` under `dialect` that exists, read with one
/// statement per [`ROWS_PER_STATEMENT`] keys (padded to a [`bucket`] with NULL keys, which
/// match nothing). On PostgreSQL through `document_keys`, as [`stored_by_key`].
async fn stored_copies(
    conn: &mut AnyConnection,
    dialect: Dialect,
    keys: &[&str],
) -> Result<HashMap<String, (Vec<u8>, Vec<u8>)>, sqlx::Error> {
    let style = Placeholders::of(conn);
    let mut copies = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let rows = bucket(chunk.len());
        let sql = STORED_COPIES.get(style, rows);
        let query = chunk
            .iter()
            .fold(sqlx::query(sql).bind(dialect.as_str()), |q, key| {
                q.bind(*key)
            });
        let query = (chunk.len()..rows).fold(query, |q, _| q.bind(None::<&str>));
        for row in query.fetch_all(&mut *conn).await? {
            copies.insert(
                row.try_get::<String, _>("doc_key")?,
                (row.try_get("raw")?, row.try_get("ack")?),
            );
        }
    }
    Ok(copies)
}

/// [`stored_copies`]' statement for `rows` keys (a [`bucket`] size): `$1` the dialect, `$2…`
/// the keys.
static STORED_COPIES: StatementTexts = StatementTexts::new(|style, rows| match style {
    Placeholders::Positional => format!(
        "SELECT doc_key, raw, ack FROM documents WHERE dialect = ? AND doc_key IN ({})",
        vec!["?"; rows].join(", ")
    ),
    // One probe of the primary key per key, forced: before `document_keys` has statistics (a
    // fresh or bulk-loaded store) the planner guessed a third of the table for a 64-key
    // `IN (…)` and scanned all of it (220 ms at 1M documents), and for a plain join of the keys
    // it filtered the whole table (4.5 s). The LATERAL subquery with `OFFSET 0` cannot be
    // pulled up, so each key is its own index lookup (14 ms for 64 keys on pages not in
    // memory).
    Placeholders::Numbered => format!(
        "SELECT k.doc_key, d.raw, d.ack FROM (VALUES {}) AS v (doc_key) \
         CROSS JOIN LATERAL (SELECT document_id, received_at, doc_key \
         FROM document_keys WHERE dialect = $1 AND doc_key = v.doc_key OFFSET 0) k \
         JOIN documents d ON d.id = k.document_id AND d.received_at = k.received_at",
        style.tuples(rows, 1, 2)
    ),
});

/// [`keep_conflicts`]' read of the copies kept under `rows` keys: `$1` the dialect, `$2…` the
/// keys.
static KEPT_CONFLICTS: StatementTexts = StatementTexts::new(|style, rows| {
    let keys: Vec<String> = (2..rows + 2).map(|n| style.nth(n)).collect();
    format!(
        "SELECT doc_key, raw FROM conflicts WHERE dialect = {} AND doc_key IN ({})",
        style.nth(1),
        keys.join(", ")
    )
});

/// [`keep_conflicts`]' insert of `rows` copies (padding rows are all NULL and left out).
static NEW_CONFLICTS: StatementTexts = StatementTexts::new(|style, rows| {
    format!(
        "INSERT INTO conflicts (dialect, doc_key, received_at, peer, raw) \
         SELECT v.column1, v.column2, v.column3, v.column4, v.column5 FROM (VALUES {}) AS v \
         WHERE v.column2 IS NOT NULL",
        style.tuples(rows, 5, 1)
    )
});

/// A frame a fiscal drive or register signed that was not taken as a document — its fiscal sign
/// does not verify, the decoder refuses its document, a cross-check or the register check
/// failed — kept for the operator instead of being dropped, committed before any reply. Stored
/// through the writer like any other document; `ofd quarantine` lists and retries them.
#[derive(Clone, Debug)]
pub struct Quarantine {
    /// Protocol family.
    pub dialect: Dialect,
    /// RU fiscal drive number, when it could be read.
    pub fn_number: Option<String>,
    /// RU fiscal document number, when it could be read.
    pub fd_number: Option<i64>,
    /// KZ system id.
    pub system_id: Option<i64>,
    /// Why it was refused: a stable label (`bad_fiscal_sign`'s kind, or the failed check).
    pub reason: String,
    /// The check that failed (`sign`, `tlv`, `document_type`, `cross_check`, `register`, …).
    pub check: String,
    /// The decoder's (or check's) error, as text.
    pub error: String,
    /// When the server received it (UTC, unix milliseconds).
    pub received_at: i64,
    /// Remote address.
    pub peer: Option<String>,
    /// RU: the session header the container came in; `None` for KZ.
    pub session: Option<Vec<u8>>,
    /// The bytes as received: the RU container, or the whole KZ frame.
    pub raw: Vec<u8>,
    /// The reply sent for it, when one was sent.
    pub ack: Option<Vec<u8>>,
}

/// Store `q` on `conn`; returns its quarantine row id. The same bytes arriving again while
/// their row is open (a register resending) count up `times_seen` on that row instead of
/// adding one.
pub async fn insert_quarantine(
    conn: &mut AnyConnection,
    q: &Quarantine,
) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO quarantine (dialect, fn_number, fd_number, reason, received_at, peer, raw, \
         check_name, error, session, system_id, ack, raw_sha256, last_seen_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $5) \
         ON CONFLICT (dialect, raw_sha256) WHERE resolved_at IS NULL \
         DO UPDATE SET times_seen = quarantine.times_seen + 1, \
         last_seen_at = excluded.received_at RETURNING id",
    )
    .bind(q.dialect.as_str())
    .bind(q.fn_number.as_deref())
    .bind(q.fd_number)
    .bind(q.reason.as_str())
    .bind(q.received_at)
    .bind(q.peer.as_deref())
    .bind(q.raw.as_slice())
    .bind(q.check.as_str())
    .bind(q.error.as_str())
    .bind(q.session.as_deref())
    .bind(q.system_id)
    .bind(q.ack.as_deref())
    .bind(raw_sha256(&q.raw))
    .fetch_one(&mut *conn)
    .await?;
    row.try_get("id")
}

/// Hex SHA-256 of a quarantined frame: the key that merges resends of the same bytes.
fn raw_sha256(raw: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(raw))
}

impl TxWork for Quarantine {
    /// The quarantine row id.
    type Output = i64;

    fn apply<'c>(&'c self, conn: &'c mut AnyConnection) -> BoxFuture<'c, Result<i64, sqlx::Error>> {
        insert_quarantine(conn, self).boxed()
    }
}
