//! Webhook deliveries of client alerts: the rows the evaluator queues with each alert it raises
//! or resolves (in the same transaction), the sender's reads and attempt records, and the
//! organisation's delivery log. Sending, signing and retry timing are in
//! `account/webhooks.rs`.

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::tenancy::{Tenant, SCOPE_ORG_ID};
use super::{Store, StoreError};

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

/// Queue `body` (the alert as it stands, see `alerts.rs`) for delivery to `url`.
pub(super) async fn queue_webhook(
    tx: &mut sqlx::AnyConnection,
    org_id: i64,
    alert_id: i64,
    url: &str,
    body: String,
    now: i64,
) -> Result<(), StoreError> {
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

impl Store {
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

impl Tenant {
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
