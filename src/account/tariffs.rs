//! Tariffs: `/api/v1/tariff-plans` (everyone reads the plans on offer; operator staff add and
//! change them), `/api/v1/registers/{id}/tariff` (the plan on a register, its paid-until date
//! and payment status; activating a plan starts its free trial) and `/api/v1/tariffs` (the
//! organisation's tariffs, optionally only those ending within N days).
//!
//! Payment status is `paid` while the paid-until date lies ahead, `unpaid` from it on; the
//! tariff check (`tariff_check.rs`) blocks an unpaid register after the grace period.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::auth::{Caller, Permission};
use super::error::ApiError;
use crate::clock::unix_millis;
use crate::store::tariffs::{NewPlan, PlanPatch, RegisterTariff, TariffPlan, DAY_MS};

/// Free days of a new plan unless given (what the reference cabinets give).
const DEFAULT_TRIAL_DAYS: i64 = 5;

/// Body of `POST /api/v1/tariff-plans`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// Name (unique).
    pub name: String,
    /// Price of one period in minor units (kopecks, tiyn).
    pub price_minor: i64,
    /// ISO 4217 code, e.g. `KZT`.
    pub currency: String,
    /// Period in days.
    pub period_days: i64,
    /// What the plan includes.
    #[serde(default)]
    pub includes: String,
    /// Free trial in days (default 5).
    #[serde(default)]
    pub trial_days: Option<i64>,
}

/// Body of `PATCH /api/v1/tariff-plans/{id}`: the fields to change.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanChange {
    /// Name.
    pub name: Option<String>,
    /// Price of one period in minor units.
    pub price_minor: Option<i64>,
    /// Period in days.
    pub period_days: Option<i64>,
    /// What is included.
    pub includes: Option<String>,
    /// Free trial in days.
    pub trial_days: Option<i64>,
    /// Archive (no new activations) or restore.
    pub archived: Option<bool>,
}

/// Query of `GET /api/v1/tariff-plans`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PlanQuery {
    /// Include archived plans.
    pub archived: Option<bool>,
}

/// Answer of `GET /api/v1/tariff-plans`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PlanList {
    /// The plans, by id.
    pub plans: Vec<TariffPlan>,
}

/// Body of `PUT /api/v1/registers/{id}/tariff`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    /// The plan to put the register on.
    pub plan_id: i64,
}

/// Whether a register's tariff is paid now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PaymentStatus {
    /// Paid (or in trial) until a future date.
    Paid,
    /// The paid-until date has passed.
    Unpaid,
}

/// A register's tariff as the API shows it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TariffView {
    /// The stored row.
    #[serde(flatten)]
    pub tariff: RegisterTariff,
    /// `paid` or `unpaid` at the time of the answer.
    pub payment_status: PaymentStatus,
}

impl TariffView {
    fn at(tariff: RegisterTariff, now: i64) -> Self {
        let payment_status = if now < tariff.paid_until {
            PaymentStatus::Paid
        } else {
            PaymentStatus::Unpaid
        };
        TariffView {
            tariff,
            payment_status,
        }
    }
}

/// Query of `GET /api/v1/tariffs`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TariffQuery {
    /// Only tariffs of active registers ending within this many days (0 to 366).
    pub ending_within_days: Option<i64>,
}

/// Answer of `GET /api/v1/tariffs`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TariffList {
    /// Soonest ending first.
    pub tariffs: Vec<TariffView>,
}

/// `GET /api/v1/tariff-plans` → the plans on offer (with `archived=true`, all of them).
#[utoipa::path(get, path = "/api/v1/tariff-plans", params(PlanQuery),
    responses((status = 200, body = PlanList)))]
pub async fn list_plans(
    Extension(caller): Extension<Caller>,
    query: Result<Query<PlanQuery>, QueryRejection>,
) -> Result<Json<PlanList>, ApiError> {
    let Query(query) = query?;
    let plans = caller
        .0
        .tariff_plans(query.archived.unwrap_or(false))
        .await?;
    Ok(Json(PlanList { plans }))
}

/// `POST /api/v1/tariff-plans` → 201 with the plan; operator staff only (403), 400 naming a
/// field, 409 for a name in use.
#[utoipa::path(post, path = "/api/v1/tariff-plans", request_body = PlanRequest,
    responses((status = 201, body = TariffPlan), (status = 400), (status = 403), (status = 409)))]
pub async fn create_plan(
    Extension(caller): Extension<Caller>,
    body: Result<Json<PlanRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<TariffPlan>), ApiError> {
    let Json(request) = body?;
    caller.require(Permission::ManagePlans)?;
    let plan = caller
        .0
        .create_plan(&NewPlan {
            name: request.name,
            price_minor: request.price_minor,
            currency: request.currency,
            period_days: request.period_days,
            includes: request.includes,
            trial_days: request.trial_days.unwrap_or(DEFAULT_TRIAL_DAYS),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(plan)))
}

/// `PATCH /api/v1/tariff-plans/{id}` → the changed plan; operator staff only.
#[utoipa::path(patch, path = "/api/v1/tariff-plans/{id}", request_body = PlanChange,
    params(("id" = i64, Path, description = "plan id")),
    responses((status = 200, body = TariffPlan), (status = 400), (status = 403), (status = 404),
        (status = 409)))]
pub async fn update_plan(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<PlanChange>, JsonRejection>,
) -> Result<Json<TariffPlan>, ApiError> {
    let Path(id) = id?;
    let Json(change) = body?;
    caller.require(Permission::ManagePlans)?;
    let plan = caller
        .0
        .update_plan(
            id,
            &PlanPatch {
                name: change.name,
                price_minor: change.price_minor,
                period_days: change.period_days,
                includes: change.includes,
                trial_days: change.trial_days,
                archived: change.archived,
            },
        )
        .await?;
    Ok(Json(plan))
}

/// `PUT /api/v1/registers/{id}/tariff` → the register's tariff: the first plan starts its free
/// trial, a later one keeps the paid-until date. 404 for a register out of scope, 400 naming
/// `plan_id` for a plan not on offer.
#[utoipa::path(put, path = "/api/v1/registers/{id}/tariff", request_body = ActivateRequest,
    params(("id" = i64, Path, description = "register id")),
    responses((status = 200, body = TariffView), (status = 400), (status = 403), (status = 404)))]
pub async fn activate(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<ActivateRequest>, JsonRejection>,
) -> Result<Json<TariffView>, ApiError> {
    let Path(id) = id?;
    let Json(request) = body?;
    if caller.0.register(id).await?.is_none() {
        return Err(ApiError::not_found(format!("register {id}")));
    }
    caller.require(Permission::ManageBilling)?;
    let tariff = caller.0.activate_tariff(id, request.plan_id).await?;
    Ok(Json(TariffView::at(tariff, unix_millis())))
}

/// `GET /api/v1/registers/{id}/tariff` → the register's tariff; 404 for a register out of
/// scope or one without a plan.
#[utoipa::path(get, path = "/api/v1/registers/{id}/tariff",
    params(("id" = i64, Path, description = "register id")),
    responses((status = 200, body = TariffView), (status = 403), (status = 404)))]
pub async fn get_one(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<TariffView>, ApiError> {
    let Path(id) = id?;
    let tariff = caller.0.register_tariff(id).await?;
    caller.require(Permission::ReadBilling)?;
    let tariff = tariff.ok_or_else(|| ApiError::not_found(format!("tariff of register {id}")))?;
    Ok(Json(TariffView::at(tariff, unix_millis())))
}

/// `GET /api/v1/tariffs?ending_within_days=N` → the tariffs in scope (operator staff: all).
#[utoipa::path(get, path = "/api/v1/tariffs", params(TariffQuery),
    responses((status = 200, body = TariffList), (status = 400), (status = 403)))]
pub async fn list(
    Extension(caller): Extension<Caller>,
    query: Result<Query<TariffQuery>, QueryRejection>,
) -> Result<Json<TariffList>, ApiError> {
    let Query(query) = query?;
    caller.require(Permission::ReadBilling)?;
    let now = unix_millis();
    let ending = match query.ending_within_days {
        None => None,
        Some(days @ 0..=366) => Some((now, days * DAY_MS)),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "ending_within_days: 0 to 366",
            ))
        }
    };
    let tariffs = caller.0.tariffs(ending).await?;
    Ok(Json(TariffList {
        tariffs: tariffs
            .into_iter()
            .map(|t| TariffView::at(t, now))
            .collect(),
    }))
}
