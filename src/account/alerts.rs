//! `/api/v1/alerts`: the organisation's client alerts (list, one, acknowledge), the kinds there
//! are, each user's e-mail choices, the organisation's thresholds and webhook, and the webhook
//! delivery log. The alerts themselves are raised and resolved by the evaluator
//! (`alert_evaluator.rs`); here people read and acknowledge them.
//!
//! The webhook signing secret appears in exactly one answer, the one that sets it (a new
//! webhook, or `rotate_secret`), as `webhook_secret`; reads never carry it.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};

use super::alert_evaluator::title;
use super::alert_rules::{AlertKind, Severity, Thresholds};
use super::auth::{Caller, Permission};
use super::error::ApiError;
use super::webhooks::check_url;
use super::AppState;
use crate::store::alerts::{AlertRecord, AlertSettingsRecord, Subscription};
use crate::store::webhook_deliveries::WebhookDelivery;
use crate::store::Actor;

const DEFAULT_PAGE: i64 = 100;
const MAX_PAGE: i64 = 1000;

fn page(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {MAX_PAGE}"),
        ))
    }
}

/// Query of `GET /api/v1/alerts`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// `open` (firing and acknowledged, the default) or `all`.
    pub state: Option<String>,
    /// Continue with alerts older than this id (`next_before_id` of the previous page).
    pub before_id: Option<i64>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<i64>,
}

/// A page of alerts, newest first.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AlertPage {
    /// The alerts.
    pub alerts: Vec<AlertRecord>,
    /// Pass as `before_id` for the next page; absent on the last.
    pub next_before_id: Option<i64>,
}

/// `GET /api/v1/alerts?state=open|all&before_id=&limit=`.
#[utoipa::path(get, path = "/api/v1/alerts", params(AlertQuery),
    responses((status = 200, body = AlertPage), (status = 400), (status = 403)))]
pub async fn list(
    Extension(caller): Extension<Caller>,
    query: Result<Query<AlertQuery>, QueryRejection>,
) -> Result<Json<AlertPage>, ApiError> {
    let Query(query) = query?;
    caller.require(Permission::ReadAlerts)?;
    let open_only = match query.state.as_deref() {
        None | Some("open") => true,
        Some("all") => false,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("state: {other:?} is not open or all"),
            ))
        }
    };
    let limit = page(query.limit)?;
    let alerts = caller.0.alerts(open_only, query.before_id, limit).await?;
    let next_before_id = (alerts.len() as i64 == limit)
        .then(|| alerts.last().map(|a| a.id))
        .flatten();
    Ok(Json(AlertPage {
        alerts,
        next_before_id,
    }))
}

/// `GET /api/v1/alerts/{id}` → the alert, or 404.
#[utoipa::path(get, path = "/api/v1/alerts/{id}",
    params(("id" = i64, Path, description = "alert id")),
    responses((status = 200, body = AlertRecord), (status = 404)))]
pub async fn get_one(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<AlertRecord>, ApiError> {
    let Path(id) = id?;
    let alert = caller
        .0
        .alert(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("alert {id}")))?;
    caller.require(Permission::ReadAlerts)?;
    Ok(Json(alert))
}

/// `POST /api/v1/alerts/{id}/acknowledge` → the alert, acknowledged (it still resolves on its
/// own when the condition clears); an acknowledged or resolved alert is returned unchanged.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/acknowledge",
    params(("id" = i64, Path, description = "alert id")),
    responses((status = 200, body = AlertRecord), (status = 403), (status = 404)))]
pub async fn acknowledge(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<AlertRecord>, ApiError> {
    let Path(id) = id?;
    caller
        .0
        .alert(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("alert {id}")))?;
    caller.require(Permission::AcknowledgeAlerts)?;
    Ok(Json(caller.0.acknowledge_alert(id).await?))
}

/// One kind of alert.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct KindInfo {
    /// Kind.
    pub kind: AlertKind,
    /// Severity.
    pub severity: Severity,
    /// Title.
    pub title: &'static str,
}

/// `GET /api/v1/alerts/kinds` → every kind with its severity and title.
#[utoipa::path(get, path = "/api/v1/alerts/kinds",
    responses((status = 200, body = Vec<KindInfo>)))]
pub async fn kinds(Extension(caller): Extension<Caller>) -> Result<Json<Vec<KindInfo>>, ApiError> {
    caller.require(Permission::ReadAlerts)?;
    Ok(Json(
        AlertKind::ALL
            .iter()
            .map(|kind| KindInfo {
                kind: *kind,
                severity: kind.severity(),
                title: title(*kind),
            })
            .collect(),
    ))
}

/// The calling user's id; 400 for API keys (subscriptions belong to people).
fn user_id(caller: &Caller) -> Result<i64, ApiError> {
    match caller.0.actor() {
        Actor::User { id, .. } => Ok(*id),
        _ => Err(ApiError::bad_request(
            "invalid_request",
            "alert subscriptions belong to users; log in to choose yours",
        )),
    }
}

/// `GET /api/v1/alerts/subscriptions` → the calling user's choices (kinds not listed follow
/// the role's default: owners, accountants and engineers get warning and critical alerts).
#[utoipa::path(get, path = "/api/v1/alerts/subscriptions",
    responses((status = 200, body = Vec<Subscription>), (status = 400)))]
pub async fn subscriptions(
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<Subscription>>, ApiError> {
    let user = user_id(&caller)?;
    Ok(Json(caller.0.subscriptions(user).await?))
}

/// `PUT /api/v1/alerts/subscriptions` with `[{"kind": …, "email": bool}, …]`.
#[utoipa::path(put, path = "/api/v1/alerts/subscriptions", request_body = Vec<Subscription>,
    responses((status = 200, body = Vec<Subscription>), (status = 400)))]
pub async fn set_subscriptions(
    Extension(caller): Extension<Caller>,
    body: Result<Json<Vec<Subscription>>, JsonRejection>,
) -> Result<Json<Vec<Subscription>>, ApiError> {
    let Json(choices) = body?;
    let user = user_id(&caller)?;
    for (i, choice) in choices.iter().enumerate() {
        if AlertKind::parse(&choice.kind).is_none() {
            return Err(ApiError::bad_request(
                "invalid_request",
                format!("[{i}].kind: {:?} is not an alert kind", choice.kind),
            ));
        }
    }
    Ok(Json(caller.0.set_subscriptions(user, &choices).await?))
}

/// Query naming the organisation (operator staff; others get their own).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrgQuery {
    /// Operator staff: which organisation.
    pub org_id: Option<i64>,
}

/// `GET /api/v1/alerts/settings` → thresholds (as stored, defaults for missing keys) and webhook.
#[utoipa::path(get, path = "/api/v1/alerts/settings", params(OrgQuery),
    responses((status = 200, body = AlertSettingsRecord), (status = 403), (status = 404)))]
pub async fn settings(
    Extension(caller): Extension<Caller>,
    query: Result<Query<OrgQuery>, QueryRejection>,
) -> Result<Json<AlertSettingsRecord>, ApiError> {
    let Query(query) = query?;
    caller.require(Permission::ReadAlerts)?;
    let org = caller.target_org(query.org_id)?;
    Ok(Json(caller.0.alert_settings(org).await?))
}

/// Body of `PUT /api/v1/alerts/settings`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    /// Operator staff: which organisation.
    pub org_id: Option<i64>,
    /// Thresholds; missing fields take the defaults.
    #[serde(default)]
    pub thresholds: Thresholds,
    /// Webhook URL (https); absent or null: no webhook.
    pub webhook_url: Option<String>,
    /// Kinds sent to the webhook; absent: every kind.
    pub webhook_kinds: Option<Vec<String>>,
    /// Issue a new signing secret (one is issued anyway with the first webhook URL).
    #[serde(default)]
    pub rotate_secret: bool,
}

/// Answer of `PUT /api/v1/alerts/settings`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SettingsAnswer {
    /// The settings now.
    #[serde(flatten)]
    pub settings: AlertSettingsRecord,
    /// The new signing secret, only in the answer that issued it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// `PUT /api/v1/alerts/settings` → the settings, with `webhook_secret` when one was issued.
#[utoipa::path(put, path = "/api/v1/alerts/settings", request_body = SettingsChange,
    responses((status = 200, body = SettingsAnswer), (status = 400), (status = 403), (status = 404)))]
pub async fn set_settings(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<SettingsChange>, JsonRejection>,
) -> Result<Json<SettingsAnswer>, ApiError> {
    let Json(change) = body?;
    let org = caller.target_org(change.org_id)?;
    caller.0.alert_settings(org).await?;
    caller.require(Permission::ManageAlertSettings)?;
    if let Some((field, reason)) = change.thresholds.invalid_field() {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("thresholds.{field}: {reason}"),
        ));
    }
    if let Some(url) = &change.webhook_url {
        check_url(url, state.config.webhook_allow_http).map_err(|reason| {
            ApiError::bad_request("invalid_request", format!("webhook_url: {reason}"))
        })?;
    }
    for (i, kind) in change.webhook_kinds.iter().flatten().enumerate() {
        if AlertKind::parse(kind).is_none() {
            return Err(ApiError::bad_request(
                "invalid_request",
                format!("webhook_kinds[{i}]: {kind:?} is not an alert kind"),
            ));
        }
    }
    let current = caller.0.alert_settings(org).await?;
    let issue =
        change.webhook_url.is_some() && (change.rotate_secret || !current.webhook_secret_set);
    let secret = issue.then(new_secret);
    let thresholds = serde_json::to_value(&change.thresholds).unwrap_or_default();
    let settings = caller
        .0
        .set_alert_settings(
            org,
            &thresholds,
            change.webhook_url.as_deref(),
            change.webhook_kinds.as_deref(),
            secret.as_deref(),
        )
        .await?;
    tracing::info!(
        org,
        secret_issued = secret.is_some(),
        "alert settings changed"
    );
    Ok(Json(SettingsAnswer {
        settings,
        webhook_secret: secret,
    }))
}

/// 32 random bytes, hex.
fn new_secret() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Query of `GET /api/v1/alerts/webhook-deliveries`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// Continue with deliveries older than this id.
    pub before_id: Option<i64>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<i64>,
}

/// `GET /api/v1/alerts/webhook-deliveries` → the delivery log, newest first.
#[utoipa::path(get, path = "/api/v1/alerts/webhook-deliveries", params(DeliveryQuery),
    responses((status = 200, body = Vec<WebhookDelivery>), (status = 403)))]
pub async fn deliveries(
    Extension(caller): Extension<Caller>,
    query: Result<Query<DeliveryQuery>, QueryRejection>,
) -> Result<Json<Vec<WebhookDelivery>>, ApiError> {
    let Query(query) = query?;
    caller.require(Permission::ManageAlertSettings)?;
    let limit = page(query.limit)?;
    Ok(Json(
        caller.0.webhook_deliveries(query.before_id, limit).await?,
    ))
}
