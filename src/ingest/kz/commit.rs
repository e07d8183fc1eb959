//! KZ rows (`kz_state`, `kz_tickets`; migrations `0003_kz.sql`) and the one transaction that
//! commits an exchange.
//!
//! [`KzCommit`] runs inside the shared group-commit writer. Its steps, all in one transaction:
//! 1. check that `kz_state.version` is still the one the handler read (else: `StateChanged`,
//!    nothing written), and hold it there until commit: on PostgreSQL the read takes the row
//!    lock (`FOR UPDATE`), so a second node committing for the same register waits for this
//!    transaction and then sees the new version at its own step 1 instead of failing its guarded
//!    write at step 3 (tests/multi_node.rs sends one KZ request to three nodes at once); on
//!    SQLite the writer's `BEGIN IMMEDIATE` already excludes every other writer;
//! 2. insert the new `kz_tickets` row (its primary key makes ticket numbers unique; a taken
//!    number returns `TicketNumberTaken`, nothing written, and the handler draws another);
//! 3. write the new state (counters, shift, cached responses) with `version + 1`; after a
//!    token-rotating exchange the last exchange is also the last successful one, and its bytes
//!    are stored once: `ok_response` is NULL beside a set `ok_reqnum` and means "the same as
//!    `last_response`" (`load_state`; migration `0018_kz_state_response_once.sql`, which an
//!    older release refuses to run on). The next non-rotating exchange stores `ok_response` in
//!    full again;
//! 4. rotate `registers.kz_token` from the token the handler checked to the new one;
//! 5. insert the document (and its outbox state).
//!
//! Steps 1–2 write nothing when they refuse, so refusing returns `Ok` and leaves the rest of the
//! batch intact. Rows are never deleted: `kz_tickets` is the evidence behind every fiscal sign.

use chrono::NaiveDateTime;
use futures::future::BoxFuture;
use futures::FutureExt as _;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row as _};

use super::engine::{KnownTicket, NewTicket};
use super::ledger::{Ledger, Lifetime, ShiftCounters};
use super::local_time::naive_secs;
use super::state::{Exchange, KzState};
use crate::store::{
    bucket, insert_document, insert_new_documents, insert_quarantine, NewDocument, Placeholders,
    Quarantine, StatementTexts, StoreError, TxWork,
};

const STATE_COLUMNS: &str = "version, last_reqnum, last_token, last_command, last_response, \
     ok_reqnum, ok_token, ok_command, ok_response, shift_number, shift_open, shift_opened_at, \
     shift_opened_local, shift_counters, lifetime, cash_tiyn, last_offline_period";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("kz_state.{what}"))
}

fn exchange(
    reqnum: Option<i64>,
    token: Option<i64>,
    command: Option<i64>,
    response: Option<Vec<u8>>,
) -> Result<Option<Exchange>, StoreError> {
    let (Some(reqnum), Some(token), Some(command), Some(response)) =
        (reqnum, token, command, response)
    else {
        return Ok(None);
    };
    Ok(Some(Exchange {
        reqnum: u16::try_from(reqnum).map_err(|_| corrupt("reqnum"))?,
        token: u32::try_from(token).map_err(|_| corrupt("token"))?,
        command: i32::try_from(command).map_err(|_| corrupt("command"))?,
        response,
    }))
}

/// The stored state of register `system_id` (the default, version 0, if it has none yet).
pub async fn load_state(conn: &mut AnyConnection, system_id: u32) -> Result<KzState, StoreError> {
    let sql = format!("SELECT {STATE_COLUMNS} FROM kz_state WHERE system_id = $1");
    let Some(row) = sqlx::query(&sql)
        .bind(i64::from(system_id))
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(KzState::default());
    };
    let counters: ShiftCounters =
        serde_json::from_str(&row.try_get::<String, _>("shift_counters")?)
            .map_err(|_| corrupt("shift_counters"))?;
    let lifetime: Lifetime = serde_json::from_str(&row.try_get::<String, _>("lifetime")?)
        .map_err(|_| corrupt("lifetime"))?;
    let opened_local: Option<i64> = row.try_get("shift_opened_local")?;
    let last = exchange(
        row.try_get("last_reqnum")?,
        row.try_get("last_token")?,
        row.try_get("last_command")?,
        row.try_get("last_response")?,
    )?;
    let (ok_reqnum, ok_token, ok_command): (Option<i64>, Option<i64>, Option<i64>) = (
        row.try_get("ok_reqnum")?,
        row.try_get("ok_token")?,
        row.try_get("ok_command")?,
    );
    // No `ok_response` beside an `ok_reqnum`: the last successful exchange is the last one, and
    // its bytes are stored once, in `last_response` (module header).
    let ok_response = match row.try_get::<Option<Vec<u8>>, _>("ok_response")? {
        Some(response) => Some(response),
        None if ok_reqnum.is_some() => {
            let same = last.as_ref().filter(|e| {
                Some(i64::from(e.reqnum)) == ok_reqnum
                    && Some(i64::from(e.token)) == ok_token
                    && Some(i64::from(e.command)) == ok_command
            });
            Some(same.ok_or_else(|| corrupt("ok_response"))?.response.clone())
        }
        None => None,
    };
    Ok(KzState {
        version: row.try_get("version")?,
        last_ok: exchange(ok_reqnum, ok_token, ok_command, ok_response)?,
        last,
        ledger: Ledger {
            shift_number: u32::try_from(row.try_get::<i64, _>("shift_number")?)
                .map_err(|_| corrupt("shift_number"))?,
            shift_open: row.try_get::<i64, _>("shift_open")? != 0,
            opened_at_ms: row.try_get("shift_opened_at")?,
            opened_local: opened_local
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                .map(|t| t.naive_utc()),
            counters,
            lifetime,
            cash: row.try_get("cash_tiyn")?,
        },
        last_offline_period: row.try_get("last_offline_period")?,
    })
}

/// The ticket already assigned to register `system_id`'s autonomous sign `sign`, if any.
pub async fn find_offline_ticket(
    conn: &mut AnyConnection,
    system_id: u32,
    sign: u32,
) -> Result<Option<KnownTicket>, StoreError> {
    let row = sqlx::query(
        "SELECT ticket_number, qr_code FROM kz_tickets WHERE system_id = $1 AND offline_sign = $2",
    )
    .bind(i64::from(system_id))
    .bind(i64::from(sign))
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| {
        Ok(KnownTicket {
            ticket_number: row.try_get("ticket_number")?,
            qr_code: row.try_get("qr_code")?,
        })
    })
    .transpose()
}

/// What committing an exchange did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Everything is durable; the response may be sent.
    Committed,
    /// The drawn ticket number exists already; nothing was written.
    TicketNumberTaken,
    /// Another writer changed the register's state since it was read; nothing was written.
    StateChanged,
}

/// One exchange's writes, committed atomically by the group-commit writer.
#[derive(Debug, Clone)]
pub struct KzCommit {
    /// The register.
    pub system_id: u32,
    /// The new state; its `version` must be the read version + 1. Shared with the exchange,
    /// which keeps it as the register's cached state once committed.
    pub state: std::sync::Arc<KzState>,
    /// Token rotation: (token checked, new token).
    pub rotate: Option<(u32, u32)>,
    /// A receipt's fiscal-sign row.
    pub ticket: Option<NewTicket>,
    /// The fiscal document.
    pub document: Option<NewDocument>,
    /// A request whose body the decoder refused, kept with its bytes.
    pub quarantine: Option<Quarantine>,
    /// Server time, UTC ms.
    pub now_ms: i64,
}

/// The clause that makes step 1's version read hold the rows until commit (module header).
fn row_lock(conn: &AnyConnection) -> &'static str {
    match Placeholders::of(conn) {
        Placeholders::Numbered => " FOR UPDATE",
        Placeholders::Positional => "",
    }
}

fn conflict(what: &str) -> sqlx::Error {
    sqlx::Error::Protocol(format!("kz commit: {what} changed concurrently"))
}

impl KzCommit {
    async fn run(&self, conn: &mut AnyConnection) -> Result<CommitOutcome, sqlx::Error> {
        let system_id = i64::from(self.system_id);
        let read_version = self.state.version - 1;
        let sql = format!(
            "SELECT version FROM kz_state WHERE system_id = $1{}",
            row_lock(conn)
        );
        let stored: Option<i64> = sqlx::query_scalar(&sql)
            .bind(system_id)
            .fetch_optional(&mut *conn)
            .await?;
        if stored.unwrap_or(0) != read_version {
            return Ok(CommitOutcome::StateChanged);
        }
        if let Some(ticket) = &self.ticket {
            let doc_key = self
                .document
                .as_ref()
                .map(|d| d.doc_key.clone())
                .unwrap_or_default();
            let inserted = sqlx::query(
                "INSERT INTO kz_tickets (ticket_number, system_id, shift_number, shift_seq, \
                 offline_sign, offline_period, qr_code, doc_key, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT DO NOTHING RETURNING ticket_number",
            )
            .bind(ticket.ticket_number.as_str())
            .bind(system_id)
            .bind(i64::from(ticket.shift_number))
            .bind(i64::from(ticket.shift_seq))
            .bind(ticket.offline_sign.map(i64::from))
            .bind(ticket.offline_period.as_deref())
            .bind(ticket.qr_code.as_slice())
            .bind(doc_key)
            .bind(self.now_ms)
            .fetch_optional(&mut *conn)
            .await?;
            if inserted.is_none() {
                return Ok(CommitOutcome::TicketNumberTaken);
            }
        }
        self.write_state(conn, stored.is_none()).await?;
        if let Some((old, new)) = self.rotate {
            let rotated = sqlx::query(
                "UPDATE registers SET kz_token = $1, updated_at = $2 \
                 WHERE system_id = $3 AND kz_token = $4",
            )
            .bind(i64::from(new))
            .bind(self.now_ms)
            .bind(system_id)
            .bind(i64::from(old))
            .execute(&mut *conn)
            .await?;
            if rotated.rows_affected() != 1 {
                return Err(conflict("registers.kz_token"));
            }
        }
        if let Some(document) = &self.document {
            insert_document(conn, document).await?;
        }
        if let Some(quarantine) = &self.quarantine {
            insert_quarantine(conn, quarantine).await?;
        }
        Ok(CommitOutcome::Committed)
    }

    async fn write_state(&self, conn: &mut AnyConnection, insert: bool) -> Result<(), sqlx::Error> {
        let sql = if insert {
            "INSERT INTO kz_state (version, last_reqnum, last_token, last_command, last_response, \
             ok_reqnum, ok_token, ok_command, ok_response, shift_number, shift_open, \
             shift_opened_at, shift_opened_local, shift_counters, lifetime, cash_tiyn, \
             last_offline_period, updated_at, system_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19)"
        } else {
            "UPDATE kz_state SET version = $1, last_reqnum = $2, last_token = $3, \
             last_command = $4, last_response = $5, ok_reqnum = $6, ok_token = $7, \
             ok_command = $8, ok_response = $9, shift_number = $10, shift_open = $11, \
             shift_opened_at = $12, shift_opened_local = $13, shift_counters = $14, \
             lifetime = $15, cash_tiyn = $16, last_offline_period = $17, updated_at = $18 \
             WHERE system_id = $19 AND version = $20"
        };
        let written = bind_state(sqlx::query(sql), self)?;
        let written = if insert {
            written
        } else {
            written.bind(self.state.version - 1)
        };
        let result = written.execute(&mut *conn).await?;
        if result.rows_affected() != 1 {
            return Err(conflict("kz_state"));
        }
        Ok(())
    }
}

impl TxWork for KzCommit {
    type Output = CommitOutcome;

    const GROUPED: bool = true;

    fn apply<'c>(
        &'c self,
        conn: &'c mut AnyConnection,
    ) -> BoxFuture<'c, Result<CommitOutcome, sqlx::Error>> {
        self.run(conn).boxed()
    }

    fn apply_all<'c>(
        items: Vec<&'c Self>,
        conn: &'c mut AnyConnection,
    ) -> BoxFuture<'c, Result<Vec<CommitOutcome>, sqlx::Error>> {
        run_all(items, conn).boxed()
    }
}

/// Bind parameters per kz_state row in the bulk upsert.
const STATE_PARAMS: usize = 19;
/// Bind parameters per ticket row in the bulk insert: its nine columns and the version its
/// exchange was computed from.
const TICKET_PARAMS: usize = 10;
/// Rows per multi-row statement: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const ROWS_PER_STATEMENT: usize = 500;

/// `v.column1, …, v.columnN`: the columns of a `(VALUES …) AS v` row source (both backends name
/// them so).
fn value_columns(n: usize) -> String {
    (1..=n)
        .map(|i| format!("v.column{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The multi-row statements of [`run_all`], per style and [`bucket`] size (the rest of the
/// rows bound are all-NULL ones that no statement takes, their WHERE being NULL).
static TICKETS: StatementTexts = StatementTexts::new(tickets_sql);
static STATES: StatementTexts = StatementTexts::new(states_sql);
static TOKENS: StatementTexts = StatementTexts::new(tokens_sql);

/// The exchanges of one batch in a few multi-row statements, with the effect of
/// [`KzCommit::run`] on each in turn. Every statement is a hand-off to the driver's thread, so
/// on SQLite the version check has no statement of its own; it is folded into the writes (on
/// PostgreSQL a locking read of the versions comes first, step 0 in the code):
/// 1. the tickets in one insert that takes a row only where the stored version is still the one
///    its exchange was computed from; a row not inserted is then looked at alone (rare): a moved
///    version is `StateChanged`, else the number was taken, `TicketNumberTaken` — both write
///    nothing for that item;
/// 2. the states of the rest in one upsert guarded by the version (an item whose state is not
///    written is `StateChanged`; it wrote nothing, unless its ticket went in at step 1 in a race
///    with another node, which fails the batch);
/// 3. their tokens in one update, 4. their documents through the bulk insert, 5. quarantined
///    bodies one by one (rare).
///
/// A guard that does not hold fails the batch, and the writer then runs each item alone
/// through `run`.
async fn run_all(
    items: Vec<&KzCommit>,
    conn: &mut AnyConnection,
) -> Result<Vec<CommitOutcome>, sqlx::Error> {
    let mut ids: Vec<u32> = items.iter().map(|item| item.system_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut numbers: Vec<&str> = items
        .iter()
        .filter_map(|item| item.ticket.as_ref().map(|t| t.ticket_number.as_str()))
        .collect();
    let tickets = numbers.len();
    numbers.sort_unstable();
    numbers.dedup();
    if ids.len() != items.len() || numbers.len() != tickets || items.len() > ROWS_PER_STATEMENT {
        // Two exchanges of one register (two nodes), one ticket number drawn twice, or a huge
        // batch: one at a time.
        let mut outcomes = Vec::with_capacity(items.len());
        for item in items {
            outcomes.push(item.run(conn).await?);
        }
        return Ok(outcomes);
    }
    let mut outcome: Vec<Option<CommitOutcome>> = vec![None; items.len()];

    // 0. PostgreSQL only: lock the state rows first, so another node committing for the same
    // register waits for this transaction instead of moving a version between steps 1 and 2
    // (a single-item batch that failed there would not be retried alone). SQLite needs no such
    // step: the writer's BEGIN IMMEDIATE already excludes every other writer.
    if Placeholders::of(conn) == Placeholders::Numbered {
        lock_versions(&items, &mut outcome, conn).await?;
    }

    // 1. Tickets, where the version holds.
    let with_ticket: Vec<usize> = (0..items.len())
        .filter(|&i| outcome[i].is_none() && items[i].ticket.is_some())
        .collect();
    if !with_ticket.is_empty() {
        let inserted = insert_tickets(&items, &with_ticket, conn).await?;
        let refused: Vec<usize> = with_ticket
            .iter()
            .copied()
            .filter(|&i| {
                items[i]
                    .ticket
                    .as_ref()
                    .is_some_and(|t| !inserted.contains(&t.ticket_number))
            })
            .collect();
        for i in refused {
            let item = items[i];
            let stored: Option<i64> =
                sqlx::query_scalar("SELECT version FROM kz_state WHERE system_id = $1")
                    .bind(i64::from(item.system_id))
                    .fetch_optional(&mut *conn)
                    .await?;
            outcome[i] = Some(if stored.unwrap_or(0) != item.state.version - 1 {
                CommitOutcome::StateChanged
            } else {
                CommitOutcome::TicketNumberTaken
            });
        }
    }

    // 2. States, where the version holds.
    let candidates: Vec<usize> = (0..items.len()).filter(|&i| outcome[i].is_none()).collect();
    if candidates.is_empty() {
        return Ok(outcome
            .into_iter()
            .map(|o| o.unwrap_or(CommitOutcome::Committed))
            .collect());
    }
    let written = write_states(&items, &candidates, conn).await?;
    for &i in &candidates {
        if !written.contains(&i64::from(items[i].system_id)) {
            if items[i].ticket.is_some() {
                // Its ticket went in at step 1: the version moved in between (another node).
                return Err(conflict("kz_state (bulk)"));
            }
            outcome[i] = Some(CommitOutcome::StateChanged);
        }
    }

    let live: Vec<&KzCommit> = (0..items.len())
        .filter(|&i| outcome[i].is_none())
        .map(|i| items[i])
        .collect();
    if !live.is_empty() {
        rotate_tokens(&live, conn).await?;
        let documents: Vec<&NewDocument> = live
            .iter()
            .filter_map(|item| item.document.as_ref())
            .collect();
        let in_bulk = insert_new_documents(conn, &documents).await?;
        for (document, settled) in documents.iter().zip(in_bulk) {
            if settled.is_none() {
                insert_document(conn, document).await?;
            }
        }
        for item in &live {
            if let Some(quarantine) = &item.quarantine {
                insert_quarantine(conn, quarantine).await?;
            }
        }
    }
    Ok(outcome
        .into_iter()
        .map(|o| o.unwrap_or(CommitOutcome::Committed))
        .collect())
}

/// Step 0 of [`run_all`] on PostgreSQL: the stored versions, read with the rows locked until
/// commit; an item whose version moved is `StateChanged`.
async fn lock_versions(
    items: &[&KzCommit],
    outcome: &mut [Option<CommitOutcome>],
    conn: &mut AnyConnection,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "SELECT system_id, version FROM kz_state WHERE system_id IN ({}) FOR UPDATE",
        (1..=items.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut query = sqlx::query(&sql);
    for item in items {
        query = query.bind(i64::from(item.system_id));
    }
    let mut stored = std::collections::HashMap::with_capacity(items.len());
    for row in query.fetch_all(&mut *conn).await? {
        stored.insert(
            row.try_get::<i64, _>("system_id")?,
            row.try_get::<i64, _>("version")?,
        );
    }
    for (i, item) in items.iter().enumerate() {
        let version = stored.get(&i64::from(item.system_id)).copied().unwrap_or(0);
        if version != item.state.version - 1 {
            outcome[i] = Some(CommitOutcome::StateChanged);
        }
    }
    Ok(())
}

/// Step 1 of [`run_all`]: the tickets of `items[with_ticket]` in one insert, each row taken only
/// where `kz_state` still holds the version its exchange was computed from (0: no row). Returns
/// the numbers that went in.
async fn insert_tickets(
    items: &[&KzCommit],
    with_ticket: &[usize],
    conn: &mut AnyConnection,
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    let rows = bucket(with_ticket.len());
    let sql = TICKETS.get(Placeholders::of(conn), rows);
    let mut query = sqlx::query(sql);
    for &i in with_ticket {
        let item = items[i];
        let Some(ticket) = &item.ticket else {
            continue;
        };
        query = query
            .bind(ticket.ticket_number.as_str())
            .bind(i64::from(item.system_id))
            .bind(i64::from(ticket.shift_number))
            .bind(i64::from(ticket.shift_seq))
            .bind(ticket.offline_sign.map(i64::from))
            .bind(ticket.offline_period.as_deref())
            .bind(ticket.qr_code.as_slice())
            .bind(
                item.document
                    .as_ref()
                    .map(|d| d.doc_key.as_str())
                    .unwrap_or_default(),
            )
            .bind(item.now_ms)
            .bind(item.state.version - 1);
    }
    for _ in with_ticket.len()..rows {
        query = query
            .bind(None::<&str>)
            .bind(None::<i64>)
            .bind(None::<i64>)
            .bind(None::<i64>)
            .bind(None::<i64>)
            .bind(None::<&str>)
            .bind(None::<&[u8]>)
            .bind(None::<&str>)
            .bind(None::<i64>)
            .bind(None::<i64>);
    }
    query
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| row.try_get::<String, _>("ticket_number"))
        .collect()
}

/// [`insert_tickets`]' statement for `rows` rows.
fn tickets_sql(style: Placeholders, rows: usize) -> String {
    format!(
        "INSERT INTO kz_tickets (ticket_number, system_id, shift_number, shift_seq, \
         offline_sign, offline_period, qr_code, doc_key, created_at) \
         SELECT {} FROM (VALUES {}) AS v \
         WHERE COALESCE((SELECT s.version FROM kz_state s WHERE s.system_id = v.column2), 0) \
         = v.column10 \
         ON CONFLICT DO NOTHING RETURNING ticket_number",
        value_columns(TICKET_PARAMS - 1),
        style.tuples(rows, TICKET_PARAMS, 1)
    )
}

/// Step 2 of [`run_all`]: the states of `items[candidates]` in one upsert that only replaces the
/// version each was computed from, and inserts only a register's first state (version 1).
/// Returns the system ids written.
async fn write_states(
    items: &[&KzCommit],
    candidates: &[usize],
    conn: &mut AnyConnection,
) -> Result<std::collections::HashSet<i64>, sqlx::Error> {
    let rows = bucket(candidates.len());
    let sql = STATES.get(Placeholders::of(conn), rows);
    let mut query = sqlx::query(sql);
    for &i in candidates {
        query = bind_state(query, items[i])?;
    }
    for _ in candidates.len()..rows {
        query = bind_no_state(query);
    }
    query
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| row.try_get::<i64, _>("system_id"))
        .collect()
}

/// [`write_states`]' statement for `rows` rows.
fn states_sql(style: Placeholders, rows: usize) -> String {
    format!(
        "INSERT INTO kz_state (version, last_reqnum, last_token, last_command, last_response, \
         ok_reqnum, ok_token, ok_command, ok_response, shift_number, shift_open, \
         shift_opened_at, shift_opened_local, shift_counters, lifetime, cash_tiyn, \
         last_offline_period, updated_at, system_id) \
         SELECT {} FROM (VALUES {}) AS v \
         WHERE v.column1 = 1 OR EXISTS (SELECT 1 FROM kz_state s WHERE s.system_id = v.column19) \
         ON CONFLICT (system_id) DO UPDATE SET version = excluded.version, \
         last_reqnum = excluded.last_reqnum, last_token = excluded.last_token, \
         last_command = excluded.last_command, last_response = excluded.last_response, \
         ok_reqnum = excluded.ok_reqnum, ok_token = excluded.ok_token, \
         ok_command = excluded.ok_command, ok_response = excluded.ok_response, \
         shift_number = excluded.shift_number, shift_open = excluded.shift_open, \
         shift_opened_at = excluded.shift_opened_at, \
         shift_opened_local = excluded.shift_opened_local, \
         shift_counters = excluded.shift_counters, lifetime = excluded.lifetime, \
         cash_tiyn = excluded.cash_tiyn, last_offline_period = excluded.last_offline_period, \
         updated_at = excluded.updated_at \
         WHERE kz_state.version = excluded.version - 1 \
         RETURNING system_id",
        value_columns(STATE_PARAMS),
        style.tuples(rows, STATE_PARAMS, 1)
    )
}

/// A padding row of the states statement (see [`bucket`]): 19 NULLs of the columns' types.
fn bind_no_state<'q>(query: Query<'q, Any, AnyArguments<'q>>) -> Query<'q, Any, AnyArguments<'q>> {
    query
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<&[u8]>)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<&[u8]>)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<&str>)
        .bind(None::<&str>)
        .bind(None::<i64>)
        .bind(None::<&str>)
        .bind(None::<i64>)
        .bind(None::<i64>)
}

/// Bind a state row's 19 values in column order: version, the last and last successful
/// exchanges, the ledger, the offline period, `updated_at`, `system_id`.
fn bind_state<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    item: &'q KzCommit,
) -> Result<Query<'q, Any, AnyArguments<'q>>, sqlx::Error> {
    let encode = |e: serde_json::Result<String>| {
        e.map_err(|e| sqlx::Error::Protocol(format!("kz counters do not encode: {e}")))
    };
    let s = &item.state;
    let l = &s.ledger;
    let last = s.last.as_ref();
    let ok = s.last_ok.as_ref();
    Ok(query
        .bind(s.version)
        .bind(last.map(|e| i64::from(e.reqnum)))
        .bind(last.map(|e| i64::from(e.token)))
        .bind(last.map(|e| i64::from(e.command)))
        .bind(last.map(|e| e.response.as_slice()))
        .bind(ok.map(|e| i64::from(e.reqnum)))
        .bind(ok.map(|e| i64::from(e.token)))
        .bind(ok.map(|e| i64::from(e.command)))
        // The same bytes as `last_response` are not stored twice (module header).
        .bind(
            ok.filter(|&e| Some(e) != last)
                .map(|e| e.response.as_slice()),
        )
        .bind(i64::from(l.shift_number))
        .bind(i64::from(l.shift_open))
        .bind(l.opened_at_ms)
        .bind(l.opened_local.map(naive_secs))
        .bind(encode(serde_json::to_string(&l.counters))?)
        .bind(encode(serde_json::to_string(&l.lifetime))?)
        .bind(l.cash)
        .bind(s.last_offline_period.as_deref())
        .bind(item.now_ms)
        .bind(i64::from(item.system_id)))
}

/// Step 4 of [`run_all`]: every rotation in one update, each from the token it was checked
/// against.
async fn rotate_tokens(live: &[&KzCommit], conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    let rotations: Vec<(i64, i64, i64)> = live
        .iter()
        .filter_map(|item| {
            item.rotate
                .map(|(old, new)| (i64::from(item.system_id), i64::from(old), i64::from(new)))
        })
        .collect();
    if rotations.is_empty() {
        return Ok(());
    }
    let now_ms = live
        .iter()
        .map(|item| item.now_ms)
        .max()
        .unwrap_or_default();
    let n = rotations.len();
    let rows = bucket(n);
    let sql = TOKENS.get(Placeholders::of(conn), rows);
    let padding = rows - n;
    let mut query = sqlx::query(sql);
    for (system_id, _, new) in &rotations {
        query = query.bind(*system_id).bind(*new);
    }
    for _ in 0..padding {
        query = query.bind(None::<i64>).bind(None::<i64>);
    }
    query = query.bind(now_ms);
    for (system_id, old, _) in &rotations {
        query = query.bind(*system_id).bind(*old);
    }
    for _ in 0..padding {
        query = query.bind(None::<i64>).bind(None::<i64>);
    }
    let rotated = query.execute(&mut *conn).await?.rows_affected();
    if rotated != n as u64 {
        return Err(conflict("registers.kz_token (bulk)"));
    }
    Ok(())
}

/// [`rotate_tokens`]' statement for `n` rotations (padding ones bind NULLs, which match
/// nothing).
fn tokens_sql(style: Placeholders, n: usize) -> String {
    // CASE system_id WHEN $1 THEN $2 …: $1..$2n; then $2n+1 (time); then the guards. Numbered in
    // the order they are bound, so SQLite's positional `?` (see `Placeholders`) bind the same.
    let cases: String = (0..n)
        .map(|k| {
            format!(
                " WHEN {} THEN {}",
                style.nth(2 * k + 1),
                style.nth(2 * k + 2)
            )
        })
        .collect();
    let guards: Vec<String> = (0..n)
        .map(|k| {
            format!(
                "(system_id = {} AND kz_token = {})",
                style.nth(2 * n + 2 + 2 * k),
                style.nth(2 * n + 3 + 2 * k)
            )
        })
        .collect();
    format!(
        "UPDATE registers SET kz_token = CASE system_id{cases} END, updated_at = {} WHERE {}",
        style.nth(2 * n + 1),
        guards.join(" OR ")
    )
}

/// `doc_time` convention of `documents`: naive local wall clock as unix seconds.
pub fn doc_time(t: Option<NaiveDateTime>) -> Option<i64> {
    t.map(naive_secs)
}
