//! Reading and resolving `quarantine` rows: what `ofd quarantine list|show|retry` works on.
//!
//! A row is written by the ingest path ([`super::Quarantine`], committed before any reply). It
//! stays until the operator deletes it; a retry that turns it into a document stores the
//! document and marks the row resolved (`resolved_at`, `doc_key`) in one transaction, so a row is
//! resolved exactly when its document exists.

use std::str::FromStr as _;

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::documents::{insert_document, InsertOutcome, NewDocument};
use super::{Dialect, Store, StoreError};

/// Columns read by [`row_from`].
const COLUMNS: &str = "id, dialect, fn_number, fd_number, system_id, reason, check_name, error, \
                       received_at, peer, session, raw, ack, resolved_at, doc_key, retry_error";

/// One stored quarantine row.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct QuarantineRow {
    /// Row id.
    pub id: i64,
    /// Protocol family.
    pub dialect: Dialect,
    /// RU ФН number.
    pub fn_number: Option<String>,
    /// RU ФД number.
    pub fd_number: Option<i64>,
    /// KZ system id.
    pub system_id: Option<i64>,
    /// Stable reason label.
    pub reason: String,
    /// The check that failed; `sign` for rows written before checks were recorded.
    pub check: String,
    /// The decoder's or check's error at arrival.
    pub error: Option<String>,
    /// When it was received (UTC, unix ms).
    pub received_at: i64,
    /// Remote address.
    pub peer: Option<String>,
    /// RU session header.
    #[serde(skip)]
    pub session: Option<Vec<u8>>,
    /// The bytes as received (RU container or KZ frame).
    #[serde(skip)]
    pub raw: Vec<u8>,
    /// The reply that was sent.
    #[serde(skip)]
    pub ack: Option<Vec<u8>>,
    /// When a retry turned it into a document.
    pub resolved_at: Option<i64>,
    /// The document it became.
    pub doc_key: Option<String>,
    /// The error of the last retry that failed.
    pub retry_error: Option<String>,
}

fn row_from(row: &AnyRow) -> Result<QuarantineRow, StoreError> {
    let dialect: String = row.try_get("dialect")?;
    let check: Option<String> = row.try_get("check_name")?;
    Ok(QuarantineRow {
        id: row.try_get("id")?,
        dialect: Dialect::from_str(&dialect)?,
        fn_number: row.try_get("fn_number")?,
        fd_number: row.try_get("fd_number")?,
        system_id: row.try_get("system_id")?,
        reason: row.try_get("reason")?,
        check: check.unwrap_or_else(|| "sign".to_owned()),
        error: row.try_get("error")?,
        received_at: row.try_get("received_at")?,
        peer: row.try_get("peer")?,
        session: row.try_get("session")?,
        raw: row.try_get("raw")?,
        ack: row.try_get("ack")?,
        resolved_at: row.try_get("resolved_at")?,
        doc_key: row.try_get("doc_key")?,
        retry_error: row.try_get("retry_error")?,
    })
}

/// Which rows [`Store::list_quarantine`] returns.
#[derive(Clone, Copy, Debug, Default)]
pub struct QuarantineFilter {
    /// Resolved rows too (default: only open ones).
    pub include_resolved: bool,
    /// Rows with an id above this.
    pub after_id: i64,
    /// At most this many (0: no limit).
    pub limit: i64,
}

/// What a resolve did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// The document was stored (or an identical one already was) and the row marked resolved.
    Stored(InsertOutcome),
    /// The row was already resolved by someone else; nothing changed.
    AlreadyResolved,
}

impl Store {
    /// Quarantine rows in id order.
    pub async fn list_quarantine(
        &self,
        filter: QuarantineFilter,
    ) -> Result<Vec<QuarantineRow>, StoreError> {
        let limit = if filter.limit > 0 {
            filter.limit
        } else {
            i64::MAX
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM quarantine WHERE id > $1 AND ($2 = 1 OR resolved_at IS NULL) \
             ORDER BY id LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(filter.after_id)
            .bind(i64::from(filter.include_resolved))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(row_from).collect()
    }

    /// One quarantine row by id.
    pub async fn quarantine_row(&self, id: i64) -> Result<QuarantineRow, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM quarantine WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("quarantine row {id}")))?;
        row_from(&row)
    }

    /// Store `document` (made from row `id` by a retry) and mark the row resolved, in one
    /// transaction. The document joins the forwarding outbox like any other.
    pub async fn resolve_quarantine(
        &self,
        id: i64,
        document: &NewDocument,
        now_ms: i64,
    ) -> Result<Resolved, StoreError> {
        let mut tx = self.begin_write().await?;
        let marked = sqlx::query(
            "UPDATE quarantine SET resolved_at = $1, doc_key = $2, retry_error = NULL \
             WHERE id = $3 AND resolved_at IS NULL",
        )
        .bind(now_ms)
        .bind(document.doc_key.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(Resolved::AlreadyResolved);
        }
        let outcome = insert_document(&mut tx, document).await?;
        tx.commit().await?;
        Ok(Resolved::Stored(outcome))
    }

    /// Record why a retry of row `id` still failed.
    pub async fn note_quarantine_retry(&self, id: i64, error: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE quarantine SET retry_error = $1 WHERE id = $2")
            .bind(error)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
