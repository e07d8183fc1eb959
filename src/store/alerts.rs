//! Client alerts in the store: the alerts the evaluator raises and resolves (with the e-mails
//! and webhook deliveries they cause, written in the same transaction), and the
//! organisation-scoped reads and changes the cabinet makes (list, acknowledge, settings, e-mail
//! choices). The facts are read by [`super::alert_facts`], webhook rows by
//! [`super::webhook_deliveries`].
//! The rules themselves are in `account/alert_rules.rs`; this module only knows rows.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::identity::{audit_in, queue_mail_in, NewMail};
use super::tenancy::{Tenant, SCOPE_ORG_ID};
use super::{Store, StoreError};
use crate::clock::unix_millis;

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

fn alert_row(row: &AnyRow) -> Result<AlertRecord, StoreError> {
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

impl Store {
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
                    queue_webhook_of(&mut tx, org_id, id, url, "alert.firing", queued_at).await?;
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
                        queue_webhook_of(&mut tx, org_id, *id, url, "alert.resolved", queued_at)
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
        rows.iter().map(alert_row).collect()
    }

    /// Alert `id`, if in scope.
    pub async fn alert(&self, id: i64) -> Result<Option<AlertRecord>, StoreError> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE {SCOPE_ORG_ID} AND id = $3");
        self.scoped_row_by_id(&sql, id, alert_row).await
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
}

/// Queue the webhook body for alert `alert_id` as it stands now: `{"event", "alert"}`.
async fn queue_webhook_of(
    tx: &mut sqlx::AnyConnection,
    org_id: i64,
    alert_id: i64,
    url: &str,
    event: &str,
    now: i64,
) -> Result<(), StoreError> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1");
    let row = sqlx::query(&sql).bind(alert_id).fetch_one(&mut *tx).await?;
    let alert = alert_row(&row)?;
    let body = serde_json::json!({ "event": event, "alert": alert }).to_string();
    super::webhook_deliveries::queue_webhook(tx, org_id, alert_id, url, body, now).await
}
