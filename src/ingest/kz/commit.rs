//! KZ rows (`kz_state`, `kz_tickets`; migrations `0003_kz.sql`) and the one transaction that
//! commits an exchange.
//!
//! [`KzCommit`] runs inside the shared group-commit writer. Its steps, all in one transaction:
//! 1. check that `kz_state.version` is still the one the handler read (else: `StateChanged`,
//!    nothing written);
//! 2. insert the new `kz_tickets` row (its primary key makes ticket numbers unique; a taken
//!    number returns `TicketNumberTaken`, nothing written, and the handler draws another);
//! 3. write the new state (counters, shift, cached responses) with `version + 1`;
//! 4. rotate `registers.kz_token` from the token the handler checked to the new one;
//! 5. insert the document (and its outbox state).
//!
//! Steps 1–2 write nothing when they refuse, so refusing returns `Ok` and leaves the rest of the
//! batch intact. Rows are never deleted: `kz_tickets` is the evidence behind every fiscal sign.

use chrono::NaiveDateTime;
use futures::future::BoxFuture;
use futures::FutureExt as _;
use sqlx::{AnyConnection, Row as _};

use super::engine::{KnownTicket, NewTicket};
use super::ledger::{Ledger, Lifetime, ShiftCounters};
use super::local_time::naive_secs;
use super::state::{Exchange, KzState};
use crate::store::{
    insert_document, insert_quarantine, NewDocument, Quarantine, StoreError, TxWork,
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
    Ok(KzState {
        version: row.try_get("version")?,
        last: exchange(
            row.try_get("last_reqnum")?,
            row.try_get("last_token")?,
            row.try_get("last_command")?,
            row.try_get("last_response")?,
        )?,
        last_ok: exchange(
            row.try_get("ok_reqnum")?,
            row.try_get("ok_token")?,
            row.try_get("ok_command")?,
            row.try_get("ok_response")?,
        )?,
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
    /// The new state; its `version` must be the read version + 1.
    pub state: KzState,
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

fn conflict(what: &str) -> sqlx::Error {
    sqlx::Error::Protocol(format!("kz commit: {what} changed concurrently"))
}

impl KzCommit {
    async fn run(&self, conn: &mut AnyConnection) -> Result<CommitOutcome, sqlx::Error> {
        let system_id = i64::from(self.system_id);
        let read_version = self.state.version - 1;
        let stored: Option<i64> =
            sqlx::query_scalar("SELECT version FROM kz_state WHERE system_id = $1")
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
        let s = &self.state;
        let l = &s.ledger;
        let encode = |e: serde_json::Result<String>| {
            e.map_err(|e| sqlx::Error::Protocol(format!("kz counters do not encode: {e}")))
        };
        let counters = encode(serde_json::to_string(&l.counters))?;
        let lifetime = encode(serde_json::to_string(&l.lifetime))?;
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
        let last = s.last.as_ref();
        let ok = s.last_ok.as_ref();
        let written = sqlx::query(sql)
            .bind(s.version)
            .bind(last.map(|e| i64::from(e.reqnum)))
            .bind(last.map(|e| i64::from(e.token)))
            .bind(last.map(|e| i64::from(e.command)))
            .bind(last.map(|e| e.response.clone()))
            .bind(ok.map(|e| i64::from(e.reqnum)))
            .bind(ok.map(|e| i64::from(e.token)))
            .bind(ok.map(|e| i64::from(e.command)))
            .bind(ok.map(|e| e.response.clone()))
            .bind(i64::from(l.shift_number))
            .bind(i64::from(l.shift_open))
            .bind(l.opened_at_ms)
            .bind(l.opened_local.map(naive_secs))
            .bind(counters)
            .bind(lifetime)
            .bind(l.cash)
            .bind(s.last_offline_period.as_deref())
            .bind(self.now_ms)
            .bind(i64::from(self.system_id));
        let written = if insert {
            written
        } else {
            written.bind(s.version - 1)
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

    fn apply<'c>(
        &'c self,
        conn: &'c mut AnyConnection,
    ) -> BoxFuture<'c, Result<CommitOutcome, sqlx::Error>> {
        self.run(conn).boxed()
    }
}

/// `doc_time` convention of `documents`: naive local wall clock as unix seconds.
pub fn doc_time(t: Option<NaiveDateTime>) -> Option<i64> {
    t.map(naive_secs)
}
