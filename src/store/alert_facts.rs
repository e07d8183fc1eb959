//! The facts the client-alert evaluator judges registers by, read from what ingest stored:
//! each register's newest document (over all its drives, as the cabinet shows it), its current
//! drive's newest shift or state report (tags 1050–1053, 1213, 1097, 1098), its KZ shift and
//! last offline period, its paid period, its recent conflicts and failed signs, the shifts the
//! projector found disagreeing with their Z report; and the organisations' overdue invoices.
//!
//! Facts are read with an indexed lookup or two per register (each drive's newest document by
//! ФД number, the newest report), never a scan of the documents table, so an evaluation costs O(registers)
//! whatever the number of documents. The rules themselves are in `account/alert_rules.rs`.
//!
//! A RU drive's newest document and report are looked up in the read models (`doc_index_fn`,
//! through [`Store::read_pool`]), not in `documents`: ingest writes no index on `documents` by
//! drive number beyond its idempotency key (migration 0029 says why). They are as fresh as the
//! projector, seconds behind ingest; a projector that stops shows first as its own SRE alert
//! (`OfdProjectBehind`), and only after the silence threshold (hours) as register silence.

use sqlx::Row as _;

use super::register_cabinet::last_document_of;
use super::{Dialect, Store, StoreError};

/// What a RU drive said about itself in its latest shift or state report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriveReport {
    /// Tag 1050.
    pub exhaustion: bool,
    /// Tag 1051.
    pub replace_urgent: bool,
    /// Tag 1052.
    pub memory_full: bool,
    /// Tag 1213: days of key validity left.
    pub key_days_left: Option<i64>,
    /// Tag 1097: documents not yet delivered to the OFD.
    pub unsent_count: Option<i64>,
    /// Tag 1098: when the oldest of them was made (unix seconds, register-local wall clock).
    pub oldest_unsent_s: Option<i64>,
}

impl DriveReport {
    /// Read the report's fields from a document's FNS JSON (`{"closeShift": {...}}`).
    pub fn from_fns_json(json: &str) -> Option<DriveReport> {
        let value: serde_json::Value = serde_json::from_str(json).ok()?;
        let fields = value.as_object()?.values().next()?.as_object()?;
        let flag = |key: &str| fields.get(key).and_then(|v| v.as_i64()).unwrap_or(0) != 0;
        let number = |key: &str| fields.get(key).and_then(|v| v.as_i64());
        Some(DriveReport {
            exhaustion: flag("fiscalDriveExhaustionSign"),
            replace_urgent: flag("fiscalDriveReplaceRequiredSign"),
            memory_full: flag("fiscalDriveMemoryExceededSign"),
            key_days_left: number("fdKeyResource"),
            unsent_count: number("notTransmittedDocumentsQuantity"),
            oldest_unsent_s: number("notTransmittedDocumentsDateTime"),
        })
    }
}

/// Everything the rules look at for one register.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterFacts {
    /// Register id.
    pub register_id: i64,
    /// Whether it is in service (active); blocked and deregistered registers raise nothing.
    pub in_service: bool,
    /// When it was provisioned (ms), the start of its silence before any document.
    pub created_at_ms: i64,
    /// When the server last committed a document of it (ms).
    pub last_document_ms: Option<i64>,
    /// RU: its drive's latest shift or state report.
    pub drive: Option<DriveReport>,
    /// KZ: since when its open shift has been open (ms), if one is.
    pub shift_opened_ms: Option<i64>,
    /// KZ: its last offline period as (hours long, when it ended as register-local seconds).
    pub last_offline: Option<(i64, i64)>,
    /// When its paid period ends (ms), if it has one.
    pub paid_until_ms: Option<i64>,
    /// Its latest conflict (ms), if any.
    pub last_conflict_ms: Option<i64>,
    /// Its latest frame quarantined for a failed fiscal sign (ms), if any.
    pub last_sign_failure_ms: Option<i64>,
    /// Shifts whose Z report disagrees with their documents: shift numbers.
    pub mismatched_shifts: Vec<i64>,
}

/// An unpaid invoice past its due date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverdueInvoice {
    /// Organisation.
    pub org_id: i64,
    /// Invoice id.
    pub id: i64,
    /// Its number (INV-…).
    pub number: String,
    /// Due date (ms).
    pub due_at_ms: i64,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// Currency.
    pub currency: String,
}

/// RU forms whose documents carry the drive's own state: shift open (2), shift close (5),
/// current state report (21).
const DRIVE_REPORT_FORMS: &str = "(2, 5, 21)";

/// Hours and end (register-local unix seconds) of a KZ `service.offline_period` as stored.
pub fn offline_span(json: &str) -> Option<(i64, i64)> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let at = |key: &str| -> Option<i64> {
        let dt = value.get(key)?;
        let (date, time) = (dt.get("date")?, dt.get("time")?);
        let n = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_i64());
        let day = chrono::NaiveDate::from_ymd_opt(
            i32::try_from(n(date, "year")?).ok()?,
            u32::try_from(n(date, "month")?).ok()?,
            u32::try_from(n(date, "day")?).ok()?,
        )?;
        let t = day.and_hms_opt(
            u32::try_from(n(time, "hour")?).ok()?,
            u32::try_from(n(time, "minute")?).ok()?,
            u32::try_from(n(time, "second").unwrap_or(0)).ok()?,
        )?;
        Some(t.and_utc().timestamp())
    };
    let (begin, end) = (at("begin_time")?, at("end_time")?);
    Some(((end - begin).max(0) / 3600, end))
}

impl Store {
    /// The facts of every register, with its organisation id; events (conflicts, failed signs)
    /// only from `events_since_ms` on.
    pub async fn alert_facts(
        &self,
        events_since_ms: i64,
    ) -> Result<Vec<(i64, RegisterFacts)>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.id, o.id AS org_id, r.dialect, r.fn_number, r.system_id, r.status, \
             r.created_at, s.shift_open, s.shift_opened_at, s.last_offline_period, \
             t.paid_until FROM registers r JOIN organisations o ON o.inn = r.org_inn \
             LEFT JOIN kz_state s ON s.system_id = r.system_id \
             LEFT JOIN register_tariffs t ON t.register_id = r.id ORDER BY r.id",
        )
        .fetch_all(self.pool())
        .await?;
        let conflicts = self
            .event_times("conflicts", "doc_key", "", events_since_ms)
            .await?;
        let sign_failures = self
            .event_times(
                "quarantine",
                "COALESCE(fn_number, CAST(system_id AS TEXT)) || '/'",
                "AND (check_name = 'sign' OR check_name IS NULL)",
                events_since_ms,
            )
            .await?;
        let mut read = self.read_pool().acquire().await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            let dialect: Dialect = row.try_get::<String, _>("dialect")?.parse()?;
            let fn_number: Option<String> = row.try_get("fn_number")?;
            let system_id: Option<i64> = row.try_get("system_id")?;
            let status: String = row.try_get("status")?;
            let key_prefix = match (&fn_number, system_id) {
                (Some(fn_number), _) => format!("{fn_number}/"),
                (None, Some(id)) => format!("{id}/"),
                _ => String::new(),
            };
            let last_of = |events: &[(String, i64)]| {
                events
                    .iter()
                    .filter(|(key, _)| !key_prefix.is_empty() && key.starts_with(&key_prefix))
                    .map(|(_, at)| *at)
                    .max()
            };
            let mut facts = RegisterFacts {
                register_id: id,
                in_service: status == "active",
                created_at_ms: row.try_get("created_at")?,
                paid_until_ms: row.try_get("paid_until")?,
                // Over all of a RU register's drives: one just replaced has sent nothing yet.
                last_document_ms: last_document_of(
                    &mut read,
                    id,
                    dialect,
                    fn_number.as_deref(),
                    system_id,
                )
                .await?,
                last_conflict_ms: last_of(&conflicts),
                last_sign_failure_ms: last_of(&sign_failures),
                ..RegisterFacts::default()
            };
            if dialect == Dialect::Ru {
                if let Some(fn_number) = &fn_number {
                    // The current drive's newest report: a drive sends its documents in the
                    // order it numbered them (`doc_index_fn`).
                    let report: Option<(String, Vec<u8>)> = sqlx::query_as(&format!(
                        "SELECT d.json, d.raw FROM doc_index di JOIN documents d \
                         ON d.id = di.document_id AND d.received_at = di.received_at \
                         WHERE di.fn_number = $1 AND di.form_code IN {DRIVE_REPORT_FORMS} \
                         ORDER BY di.fd_number DESC LIMIT 1"
                    ))
                    .bind(fn_number)
                    .fetch_optional(&mut *read)
                    .await?;
                    let report = report
                        .map(|(json, raw)| super::documents::document_json("ru", json, &raw))
                        .transpose()?;
                    facts.drive = report.as_deref().and_then(DriveReport::from_fns_json);
                }
            } else if system_id.is_some() {
                let open: Option<i64> = row.try_get("shift_open")?;
                if open.unwrap_or(0) != 0 {
                    facts.shift_opened_ms = row.try_get("shift_opened_at")?;
                }
                let offline: Option<String> = row.try_get("last_offline_period")?;
                facts.last_offline = offline.as_deref().and_then(offline_span);
            }
            // Shifts the projector found disagreeing with their Z report, closed within the
            // event window (closed_time is register-local; the window absorbs the offset).
            facts.mismatched_shifts = sqlx::query_scalar(
                "SELECT shift_number FROM project_shifts WHERE register_id = $1 AND mismatch = 1 \
                 AND closed_time >= $2 ORDER BY shift_number",
            )
            .bind(facts.register_id)
            .bind(events_since_ms / 1000)
            .fetch_all(&mut *read)
            .await?;
            out.push((row.try_get("org_id")?, facts));
        }
        Ok(out)
    }

    /// (key, received_at) of `table`'s rows since `since_ms`, the key starting with the
    /// register's "<fn>/" or "<system id>/" as `key` computes it.
    async fn event_times(
        &self,
        table: &str,
        key: &str,
        filter: &str,
        since_ms: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let sql = format!(
            "SELECT ev_key, received_at FROM (SELECT {key} AS ev_key, received_at FROM {table} \
             WHERE received_at >= $1 {filter}) AS events WHERE ev_key IS NOT NULL"
        );
        let rows = sqlx::query(&sql)
            .bind(since_ms)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect()
    }

    /// Unpaid invoices whose due date is before `now`: (organisation, invoice id, number,
    /// due at, amount in minor units, currency).
    pub async fn overdue_invoices(&self, now: i64) -> Result<Vec<OverdueInvoice>, StoreError> {
        let rows = sqlx::query(
            "SELECT org_id, id, number, due_at, amount_minor, currency FROM invoices \
             WHERE status = 'unpaid' AND due_at < $1 ORDER BY id",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OverdueInvoice {
                    org_id: row.try_get("org_id")?,
                    id: row.try_get("id")?,
                    number: row.try_get("number")?,
                    due_at_ms: row.try_get("due_at")?,
                    amount_minor: row.try_get("amount_minor")?,
                    currency: row.try_get("currency")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_shift_report_gives_the_drive_flags_and_counters() {
        let json = r#"{"closeShift":{"code":5,"fiscalDriveExhaustionSign":1,
            "fiscalDriveReplaceRequiredSign":0,"fiscalDriveMemoryExceededSign":1,
            "fdKeyResource":12,"notTransmittedDocumentsQuantity":4,
            "notTransmittedDocumentsDateTime":1700000000}}"#;
        assert_eq!(
            DriveReport::from_fns_json(json),
            Some(DriveReport {
                exhaustion: true,
                replace_urgent: false,
                memory_full: true,
                key_days_left: Some(12),
                unsent_count: Some(4),
                oldest_unsent_s: Some(1_700_000_000),
            })
        );
        assert_eq!(DriveReport::from_fns_json("not json"), None);
    }

    #[test]
    fn an_offline_period_gives_its_length_and_end() {
        let json = r#"{"begin_time":{"date":{"year":2026,"month":3,"day":1},
            "time":{"hour":8,"minute":0,"second":0}},
            "end_time":{"date":{"year":2026,"month":3,"day":3},
            "time":{"hour":10,"minute":30,"second":0}}}"#;
        let (hours, end) = offline_span(json).expect("parses");
        assert_eq!(hours, 50);
        assert_eq!(
            end,
            chrono::NaiveDate::from_ymd_opt(2026, 3, 3)
                .and_then(|d| d.and_hms_opt(10, 30, 0))
                .map(|t| t.and_utc().timestamp())
                .expect("date")
        );
    }
}
