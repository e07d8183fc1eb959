//! Client alerts in the store: the facts the evaluator judges registers by, the alerts it
//! raises and resolves (with the e-mails and webhook deliveries they cause, written in the same
//! transaction), and the organisation-scoped reads and changes the cabinet makes.
//!
//! The rules themselves are in `account/alert_rules.rs`; this module only knows rows. Facts are
//! read with one indexed lookup per register (its newest document, its drive's newest report),
//! never a scan of the documents table, so an evaluation costs O(registers), whatever the number
//! of documents.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::identity::{audit_in, queue_mail_in, NewMail};
use super::tenancy::{Tenant, SCOPE_ORG_ID};
use super::{Store, StoreError};
use crate::clock::unix_millis;

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

/// An alert as the API shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct AlertRecord {
    /// Row id.
    pub id: i64,
    /// The organisation.
    pub org_id: i64,
    /// Kind (`no_documents`, `drive_exhaustion` …).
    pub kind: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// The register it is about.
    pub register_id: Option<i64>,
    /// The finding's identity within the kind.
    pub subject: String,
    /// The figures behind it.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// `firing`, `acknowledged` or `resolved`.
    pub state: String,
    /// First raised (ms).
    pub first_seen: i64,
    /// Last found (ms).
    pub last_seen: i64,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// When (ms).
    pub acknowledged_at: Option<i64>,
    /// When it cleared (ms).
    pub resolved_at: Option<i64>,
}

const ALERT_COLUMNS: &str = "id, org_id, kind, severity, register_id, subject, detail, state, \
     first_seen, last_seen, acknowledged_by, acknowledged_at, resolved_at";

fn alert_from_row(row: &AnyRow) -> Result<AlertRecord, StoreError> {
    let detail: String = row.try_get("detail")?;
    Ok(AlertRecord {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        kind: row.try_get("kind")?,
        severity: row.try_get("severity")?,
        register_id: row.try_get("register_id")?,
        subject: row.try_get("subject")?,
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
        state: row.try_get("state")?,
        first_seen: row.try_get("first_seen")?,
        last_seen: row.try_get("last_seen")?,
        acknowledged_by: row.try_get("acknowledged_by")?,
        acknowledged_at: row.try_get("acknowledged_at")?,
        resolved_at: row.try_get("resolved_at")?,
    })
}

/// An open alert, for the evaluator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAlertRow {
    /// Row id.
    pub id: i64,
    /// Organisation.
    pub org_id: i64,
    /// Kind as stored.
    pub kind: String,
    /// Identity within the kind.
    pub subject: String,
}

/// A new alert the evaluator raises, with the mail its recipients get.
#[derive(Debug, Clone)]
pub struct NewAlert {
    /// Kind as stored.
    pub kind: &'static str,
    /// Severity as stored.
    pub severity: &'static str,
    /// The register.
    pub register_id: Option<i64>,
    /// Identity within the kind.
    pub subject: String,
    /// Figures, JSON.
    pub detail: serde_json::Value,
    /// Subject line of the e-mail.
    pub mail_subject: String,
    /// Body of the e-mail.
    pub mail_body: String,
}

/// One organisation's evaluation, to write in one transaction.
#[derive(Debug, Default)]
pub struct AlertChanges {
    /// Raise these (an identical open one makes the insert a no-op).
    pub raise: Vec<NewAlert>,
    /// Refresh these open ones: (id, figures).
    pub refresh: Vec<(i64, serde_json::Value)>,
    /// Resolve these.
    pub resolve: Vec<i64>,
}

/// The organisation's alert settings as stored.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct AlertSettingsRecord {
    /// Thresholds JSON (missing keys take the defaults).
    #[schema(value_type = Object)]
    pub thresholds: serde_json::Value,
    /// Webhook URL, if set.
    pub webhook_url: Option<String>,
    /// Kinds sent to the webhook; absent: every kind.
    pub webhook_kinds: Option<Vec<String>>,
    /// Whether a signing secret is set (the secret itself is shown once, when set).
    pub webhook_secret_set: bool,
}

/// A webhook delivery, for the sender and the delivery log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct WebhookDelivery {
    /// Row id (sent as `X-Ofd-Delivery`).
    pub id: i64,
    /// Organisation.
    pub org_id: i64,
    /// The alert.
    pub alert_id: i64,
    /// Where.
    pub url: String,
    /// The exact body signed and sent.
    pub body: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Delivered (ms).
    pub delivered_at: Option<i64>,
    /// Given up (ms).
    pub failed_at: Option<i64>,
    /// Last HTTP status.
    pub last_status: Option<i64>,
    /// Last error.
    pub last_error: Option<String>,
    /// Queued (ms).
    pub created_at: i64,
}

const DELIVERY_COLUMNS: &str = "id, org_id, alert_id, url, body, attempts, delivered_at, \
     failed_at, last_status, last_error, created_at";

fn delivery_from_row(row: &AnyRow) -> Result<WebhookDelivery, StoreError> {
    Ok(WebhookDelivery {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        alert_id: row.try_get("alert_id")?,
        url: row.try_get("url")?,
        body: row.try_get("body")?,
        attempts: row.try_get("attempts")?,
        delivered_at: row.try_get("delivered_at")?,
        failed_at: row.try_get("failed_at")?,
        last_status: row.try_get("last_status")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
    })
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
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let dialect: String = row.try_get("dialect")?;
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
                register_id: row.try_get("id")?,
                in_service: status == "active",
                created_at_ms: row.try_get("created_at")?,
                paid_until_ms: row.try_get("paid_until")?,
                last_conflict_ms: last_of(&conflicts),
                last_sign_failure_ms: last_of(&sign_failures),
                ..RegisterFacts::default()
            };
            if dialect == "ru" {
                if let Some(fn_number) = &fn_number {
                    facts.last_document_ms = sqlx::query_scalar(
                        "SELECT received_at FROM documents WHERE fn_number = $1 \
                         ORDER BY fd_number DESC LIMIT 1",
                    )
                    .bind(fn_number)
                    .fetch_optional(self.pool())
                    .await?;
                    let report: Option<String> = sqlx::query_scalar(&format!(
                        "SELECT json FROM documents WHERE fn_number = $1 \
                         AND form_code IN {DRIVE_REPORT_FORMS} ORDER BY fd_number DESC LIMIT 1"
                    ))
                    .bind(fn_number)
                    .fetch_optional(self.pool())
                    .await?;
                    facts.drive = report.as_deref().and_then(DriveReport::from_fns_json);
                }
            } else if let Some(system_id) = system_id {
                facts.last_document_ms = sqlx::query_scalar(
                    "SELECT MAX(created_at) FROM kz_tickets WHERE system_id = $1",
                )
                .bind(system_id)
                .fetch_one(self.pool())
                .await?;
                let open: Option<i64> = row.try_get("shift_open")?;
                if open.unwrap_or(0) != 0 {
                    facts.shift_opened_ms = row.try_get("shift_opened_at")?;
                }
                let offline: Option<String> = row.try_get("last_offline_period")?;
                facts.last_offline = offline.as_deref().and_then(offline_span);
            }
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

    /// Every organisation's thresholds JSON.
    pub async fn alert_thresholds(&self) -> Result<HashMap<i64, String>, StoreError> {
        let rows = sqlx::query("SELECT org_id, thresholds FROM alert_settings")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect()
    }

    /// Every open (firing or acknowledged) alert.
    pub async fn open_alerts(&self) -> Result<Vec<OpenAlertRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, org_id, kind, subject FROM alerts WHERE state <> 'resolved' ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OpenAlertRow {
                    id: row.try_get("id")?,
                    org_id: row.try_get("org_id")?,
                    kind: row.try_get("kind")?,
                    subject: row.try_get("subject")?,
                })
            })
            .collect()
    }

    /// Write one organisation's evaluation at `now`: new alerts (each mailed to its
    /// subscribers and queued for the webhook, only if it was really inserted), refreshed and
    /// resolved ones (resolutions go to the webhook too). Returns how many were raised.
    /// Alerts carry the evaluation's time; the mail and webhook rows are due at the wall-clock
    /// time they are queued, whatever time the evaluation was asked about.
    pub async fn apply_alert_changes(
        &self,
        org_id: i64,
        changes: &AlertChanges,
        now: i64,
    ) -> Result<usize, StoreError> {
        let queued_at = unix_millis();
        let mut tx = self.begin_write().await?;
        let hook = webhook_target(&mut tx, org_id).await?;
        let mut raised = 0;
        for alert in &changes.raise {
            let inserted: Option<i64> = sqlx::query_scalar(
                "INSERT INTO alerts (org_id, kind, severity, register_id, subject, detail, state, \
                 first_seen, last_seen) VALUES ($1, $2, $3, $4, $5, $6, 'firing', $7, $7) \
                 ON CONFLICT (org_id, kind, subject) WHERE state <> 'resolved' DO NOTHING \
                 RETURNING id",
            )
            .bind(org_id)
            .bind(alert.kind)
            .bind(alert.severity)
            .bind(alert.register_id)
            .bind(&alert.subject)
            .bind(alert.detail.to_string())
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(id) = inserted else { continue };
            raised += 1;
            for to in recipients(&mut tx, org_id, alert.kind, alert.severity).await? {
                let mail = NewMail {
                    to,
                    subject: alert.mail_subject.clone(),
                    body: alert.mail_body.clone(),
                };
                queue_mail_in(&mut tx, &mail, queued_at).await?;
            }
            if let Some((url, kinds)) = &hook {
                if kinds
                    .as_ref()
                    .is_none_or(|k| k.iter().any(|k| k == alert.kind))
                {
                    queue_webhook(&mut tx, org_id, id, url, "alert.firing", queued_at).await?;
                }
            }
        }
        for (id, detail) in &changes.refresh {
            sqlx::query(
                "UPDATE alerts SET detail = $1, last_seen = $2 WHERE id = $3 AND org_id = $4 \
                 AND state <> 'resolved'",
            )
            .bind(detail.to_string())
            .bind(now)
            .bind(id)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
        }
        for id in &changes.resolve {
            let done = sqlx::query(
                "UPDATE alerts SET state = 'resolved', resolved_at = $1 WHERE id = $2 \
                 AND org_id = $3 AND state <> 'resolved'",
            )
            .bind(now)
            .bind(id)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                if let Some((url, kinds)) = &hook {
                    let kind: String = sqlx::query_scalar("SELECT kind FROM alerts WHERE id = $1")
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                    if kinds.as_ref().is_none_or(|k| k.contains(&kind)) {
                        queue_webhook(&mut tx, org_id, *id, url, "alert.resolved", queued_at)
                            .await?;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(raised)
    }

    /// Firing (not acknowledged, not resolved) alerts by (kind, severity), for the metrics.
    pub async fn firing_alert_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, severity, COUNT(*) FROM alerts WHERE state = 'firing' \
             GROUP BY kind, severity",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
            .collect()
    }

    /// Webhook deliveries due at `now`, with their organisation's signing secret.
    pub async fn due_webhooks(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<(WebhookDelivery, Option<String>)>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS}, (SELECT webhook_secret FROM alert_settings s \
             WHERE s.org_id = d.org_id) AS secret FROM webhook_deliveries d \
             WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(now)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| Ok((delivery_from_row(row)?, row.try_get("secret")?)))
            .collect()
    }

    /// Record one attempt at delivery `id`: delivered, or failed with a retry time (`None`:
    /// given up).
    pub async fn webhook_attempted(
        &self,
        id: i64,
        status: Option<i64>,
        outcome: Result<(), (&str, Option<i64>)>,
        now: i64,
    ) -> Result<(), StoreError> {
        let query = match outcome {
            Ok(()) => sqlx::query(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, delivered_at = $1, \
                 last_status = $2, last_error = NULL WHERE id = $3",
            )
            .bind(now)
            .bind(status)
            .bind(id),
            Err((error, retry_at)) => sqlx::query(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $1, \
                 last_error = $2, next_attempt_at = COALESCE($3, next_attempt_at), \
                 failed_at = CASE WHEN $3 IS NULL THEN $4 ELSE NULL END WHERE id = $5",
            )
            .bind(status)
            .bind(error.to_owned())
            .bind(retry_at)
            .bind(now)
            .bind(id),
        };
        query.execute(self.pool()).await?;
        Ok(())
    }
}

/// The organisation's webhook URL and kinds, when one is set.
async fn webhook_target(
    tx: &mut sqlx::AnyConnection,
    org_id: i64,
) -> Result<Option<(String, Option<Vec<String>>)>, StoreError> {
    let row = sqlx::query(
        "SELECT webhook_url, webhook_kinds FROM alert_settings WHERE org_id = $1 \
         AND webhook_url IS NOT NULL",
    )
    .bind(org_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let kinds: Option<String> = row.try_get(1)?;
    let kinds = kinds.and_then(|k| serde_json::from_str(&k).ok());
    Ok(Some((row.try_get(0)?, kinds)))
}

/// The e-mail addresses that get a new alert of `kind`: active users who chose it, and those
/// who chose nothing for it whose role gets it by default.
async fn recipients(
    tx: &mut sqlx::AnyConnection,
    org_id: i64,
    kind: &str,
    severity: &str,
) -> Result<Vec<String>, StoreError> {
    let default_on = i64::from(severity != "info");
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT u.email FROM users u LEFT JOIN alert_subscriptions s \
         ON s.user_id = u.id AND s.kind = $2 \
         WHERE u.org_id = $1 AND u.status = 'active' AND \
         (s.email = 1 OR (s.email IS NULL AND $3 = 1 AND u.role IN ('owner', 'accountant', 'engineer'))) \
         ORDER BY u.id",
    )
    .bind(org_id)
    .bind(kind)
    .bind(default_on)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows)
}

/// Queue the webhook body for alert `alert_id` as it stands now.
async fn queue_webhook(
    tx: &mut sqlx::AnyConnection,
    org_id: i64,
    alert_id: i64,
    url: &str,
    event: &str,
    now: i64,
) -> Result<(), StoreError> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1");
    let row = sqlx::query(&sql).bind(alert_id).fetch_one(&mut *tx).await?;
    let alert = alert_from_row(&row)?;
    let body = serde_json::json!({ "event": event, "alert": alert }).to_string();
    sqlx::query(
        "INSERT INTO webhook_deliveries (org_id, alert_id, url, body, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(org_id)
    .bind(alert_id)
    .bind(url)
    .bind(body)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// What a user chose for one kind.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Subscription {
    /// Kind.
    pub kind: String,
    /// Whether it reaches them by e-mail.
    pub email: bool,
}

impl Tenant {
    /// Alerts in scope, newest first; `open_only` leaves out resolved ones.
    pub async fn alerts(
        &self,
        open_only: bool,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE {SCOPE_ORG_ID} \
             AND ($3 = 0 OR state <> 'resolved') AND id < $4 ORDER BY id DESC LIMIT $5"
        );
        let (org, all) = self.scope();
        let rows = sqlx::query(&sql)
            .bind(org)
            .bind(all)
            .bind(i64::from(open_only))
            .bind(before_id.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(self.store().pool())
            .await?;
        rows.iter().map(alert_from_row).collect()
    }

    /// Alert `id`, if in scope.
    pub async fn alert(&self, id: i64) -> Result<Option<AlertRecord>, StoreError> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE {SCOPE_ORG_ID} AND id = $3");
        self.scoped_row_by_id(&sql, id, alert_from_row).await
    }

    /// Acknowledge firing alert `id` (404 out of scope; an acknowledged or resolved alert is
    /// returned as it is). Audited.
    pub async fn acknowledge_alert(&self, id: i64) -> Result<AlertRecord, StoreError> {
        let alert = self
            .alert(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("alert {id}")))?;
        if alert.state != "firing" {
            return Ok(alert);
        }
        let now = unix_millis();
        let mut tx = self.store().begin_write().await?;
        sqlx::query(
            "UPDATE alerts SET state = 'acknowledged', acknowledged_by = $1, acknowledged_at = $2 \
             WHERE id = $3 AND state = 'firing'",
        )
        .bind(self.actor().label())
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let entry = self.entry(
            Some(alert.org_id),
            "alert.acknowledge",
            format!("alert:{id}"),
        );
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        self.alert(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("alert {id}")))
    }

    /// The settings of organisation `org_id` (defaults when never set), if in scope.
    pub async fn alert_settings(&self, org_id: i64) -> Result<AlertSettingsRecord, StoreError> {
        self.organisation(org_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("organisation {org_id}")))?;
        let row = sqlx::query(
            "SELECT thresholds, webhook_url, webhook_kinds, webhook_secret FROM alert_settings \
             WHERE org_id = $1",
        )
        .bind(org_id)
        .fetch_optional(self.store().pool())
        .await?;
        let Some(row) = row else {
            return Ok(AlertSettingsRecord {
                thresholds: serde_json::json!({}),
                ..AlertSettingsRecord::default()
            });
        };
        let thresholds: String = row.try_get(0)?;
        let kinds: Option<String> = row.try_get(2)?;
        let secret: Option<String> = row.try_get(3)?;
        Ok(AlertSettingsRecord {
            thresholds: serde_json::from_str(&thresholds).unwrap_or_default(),
            webhook_url: row.try_get(1)?,
            webhook_kinds: kinds.and_then(|k| serde_json::from_str(&k).ok()),
            webhook_secret_set: secret.is_some(),
        })
    }

    /// Replace organisation `org_id`'s settings (already validated); `new_secret`, when given,
    /// replaces the webhook signing secret. Audited without the secret.
    pub async fn set_alert_settings(
        &self,
        org_id: i64,
        thresholds: &serde_json::Value,
        webhook_url: Option<&str>,
        webhook_kinds: Option<&[String]>,
        new_secret: Option<&str>,
    ) -> Result<AlertSettingsRecord, StoreError> {
        self.organisation(org_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("organisation {org_id}")))?;
        let now = unix_millis();
        let kinds = webhook_kinds.map(|k| serde_json::to_string(k).unwrap_or_default());
        let mut tx = self.store().begin_write().await?;
        sqlx::query(
            "INSERT INTO alert_settings (org_id, thresholds, webhook_url, webhook_kinds, \
             webhook_secret, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (org_id) DO UPDATE SET thresholds = excluded.thresholds, \
             webhook_url = excluded.webhook_url, webhook_kinds = excluded.webhook_kinds, \
             webhook_secret = COALESCE(excluded.webhook_secret, alert_settings.webhook_secret), \
             updated_at = excluded.updated_at",
        )
        .bind(org_id)
        .bind(thresholds.to_string())
        .bind(webhook_url)
        .bind(kinds)
        .bind(new_secret)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let mut entry = self.entry(
            Some(org_id),
            "alert.settings",
            format!("organisation:{org_id}"),
        );
        entry.detail = Some(format!(
            "webhook {}; secret {}",
            if webhook_url.is_some() { "set" } else { "none" },
            if new_secret.is_some() {
                "rotated"
            } else {
                "kept"
            }
        ));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        self.alert_settings(org_id).await
    }

    /// The calling user's explicit choices (kinds without a row follow the role's default).
    pub async fn subscriptions(&self, user_id: i64) -> Result<Vec<Subscription>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, email FROM alert_subscriptions WHERE user_id = $1 ORDER BY kind",
        )
        .bind(user_id)
        .fetch_all(self.store().pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Subscription {
                    kind: row.try_get(0)?,
                    email: row.try_get::<i64, _>(1)? != 0,
                })
            })
            .collect()
    }

    /// Set the calling user's choice for each of `choices`.
    pub async fn set_subscriptions(
        &self,
        user_id: i64,
        choices: &[Subscription],
    ) -> Result<Vec<Subscription>, StoreError> {
        let now = unix_millis();
        let mut tx = self.store().begin_write().await?;
        for choice in choices {
            sqlx::query(
                "INSERT INTO alert_subscriptions (user_id, kind, email) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id, kind) DO UPDATE SET email = excluded.email",
            )
            .bind(user_id)
            .bind(&choice.kind)
            .bind(i64::from(choice.email))
            .execute(&mut *tx)
            .await?;
        }
        let entry = self.entry(
            self.actor().org_id(),
            "alert.subscriptions",
            format!("user:{user_id}"),
        );
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        self.subscriptions(user_id).await
    }

    /// Webhook deliveries in scope, newest first.
    pub async fn webhook_deliveries(
        &self,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE {SCOPE_ORG_ID} \
             AND id < $3 ORDER BY id DESC LIMIT $4"
        );
        let (org, all) = self.scope();
        let rows = sqlx::query(&sql)
            .bind(org)
            .bind(all)
            .bind(before_id.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(self.store().pool())
            .await?;
        rows.iter().map(delivery_from_row).collect()
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
