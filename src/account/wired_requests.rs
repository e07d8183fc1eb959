//! Wired-connection requests: `/api/v1/wired-requests`. The organisation (owner, engineer) files
//! a request with the address, contact, phone, preferred date and time window; operator staff
//! see every organisation's requests, schedule the visit and close it. The transitions and who
//! may make them are one table, `store::wired_requests::allowed`: a refused transition is 409,
//! a transition reserved to operator staff asked for by an organisation is 403.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::auth::{Caller, Permission};
use super::error::ApiError;
use crate::store::wired_requests::{NewWiredRequest, WiredRequest, WiredStatus};

/// Body of `POST /api/v1/wired-requests`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WiredRequestBody {
    /// Operator staff only: the organisation asking.
    pub org_id: Option<i64>,
    /// The register to connect, if known.
    pub register_id: Option<i64>,
    /// Where.
    pub address: String,
    /// Whom to meet.
    pub contact_person: String,
    /// Their phone (digits, optionally with `+`, spaces, dashes, brackets).
    pub phone: String,
    /// Preferred date, YYYY-MM-DD.
    pub preferred_date: String,
    /// Window start, HH:MM.
    pub window_from: String,
    /// Window end, HH:MM (after the start).
    pub window_to: String,
}

/// Body of `PUT /api/v1/wired-requests/{id}/status`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WiredStatusChange {
    /// The new status.
    pub status: WiredStatus,
    /// The visit date (YYYY-MM-DD), required for `scheduled`.
    pub scheduled_date: Option<String>,
    /// A note (e.g. why it was cancelled).
    pub note: Option<String>,
}

/// Answer of `GET /api/v1/wired-requests`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct WiredRequestList {
    /// Newest first.
    pub requests: Vec<WiredRequest>,
}

fn invalid(message: String) -> ApiError {
    ApiError::bad_request("invalid_request", message)
}

fn check_date(field: &str, value: &str) -> Result<(), ApiError> {
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(|_| ())
        .map_err(|_| invalid(format!("{field}: {value:?} is not a date YYYY-MM-DD")))
}

fn check_time(field: &str, value: &str) -> Result<chrono::NaiveTime, ApiError> {
    chrono::NaiveTime::parse_from_str(value, "%H:%M")
        .map_err(|_| invalid(format!("{field}: {value:?} is not a time HH:MM")))
}

fn check_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(invalid(format!("{field}: 1 to {max} characters")));
    }
    Ok(value.to_owned())
}

/// `POST /api/v1/wired-requests` → 201 with the request (status `new`).
#[utoipa::path(post, path = "/api/v1/wired-requests", request_body = WiredRequestBody,
    responses((status = 201, body = WiredRequest), (status = 400), (status = 403),
        (status = 404)))]
pub async fn create(
    Extension(caller): Extension<Caller>,
    body: Result<Json<WiredRequestBody>, JsonRejection>,
) -> Result<(StatusCode, Json<WiredRequest>), ApiError> {
    let Json(body) = body?;
    caller.require(Permission::RequestWired)?;
    let org_id = caller.target_org(body.org_id)?;
    let phone = check_text("phone", &body.phone, 32)?;
    let digits = phone.bytes().filter(u8::is_ascii_digit).count();
    if !(7..=15).contains(&digits)
        || !phone
            .bytes()
            .all(|b| b.is_ascii_digit() || b" +-()".contains(&b))
    {
        return Err(invalid(format!(
            "phone: {phone:?} is not a phone number (7 to 15 digits)"
        )));
    }
    check_date("preferred_date", &body.preferred_date)?;
    let from = check_time("window_from", &body.window_from)?;
    let to = check_time("window_to", &body.window_to)?;
    if to <= from {
        return Err(invalid("window_to: must be after window_from".to_owned()));
    }
    let new = NewWiredRequest {
        org_id,
        register_id: body.register_id,
        address: check_text("address", &body.address, 500)?,
        contact_person: check_text("contact_person", &body.contact_person, 200)?,
        phone,
        preferred_date: body.preferred_date,
        window_from: body.window_from,
        window_to: body.window_to,
    };
    let request = caller.0.create_wired_request(&new).await?;
    Ok((StatusCode::CREATED, Json(request)))
}

/// `GET /api/v1/wired-requests` → the requests in scope (operator staff: every organisation's).
#[utoipa::path(get, path = "/api/v1/wired-requests",
    responses((status = 200, body = WiredRequestList), (status = 403)))]
pub async fn list(
    Extension(caller): Extension<Caller>,
) -> Result<Json<WiredRequestList>, ApiError> {
    caller.require(Permission::RequestWired)?;
    let requests = caller.0.wired_requests().await?;
    Ok(Json(WiredRequestList { requests }))
}

/// `GET /api/v1/wired-requests/{id}` → the request, or 404.
#[utoipa::path(get, path = "/api/v1/wired-requests/{id}",
    params(("id" = i64, Path, description = "request id")),
    responses((status = 200, body = WiredRequest), (status = 403), (status = 404)))]
pub async fn get_one(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<WiredRequest>, ApiError> {
    let Path(id) = id?;
    let request = existing(&caller, id).await?;
    caller.require(Permission::RequestWired)?;
    Ok(Json(request))
}

/// `PUT /api/v1/wired-requests/{id}/status` → the changed request. `scheduled` and `done` are
/// for operator staff only (403); a transition the table refuses is 409; `scheduled` needs
/// `scheduled_date` (400).
#[utoipa::path(put, path = "/api/v1/wired-requests/{id}/status", request_body = WiredStatusChange,
    params(("id" = i64, Path, description = "request id")),
    responses((status = 200, body = WiredRequest), (status = 400), (status = 403),
        (status = 404), (status = 409)))]
pub async fn change_status(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<WiredStatusChange>, JsonRejection>,
) -> Result<Json<WiredRequest>, ApiError> {
    let Path(id) = id?;
    let Json(change) = body?;
    existing(&caller, id).await?;
    caller.require(Permission::RequestWired)?;
    if matches!(change.status, WiredStatus::Scheduled | WiredStatus::Done) {
        caller.require(Permission::ScheduleWired)?;
    }
    if let Some(date) = &change.scheduled_date {
        check_date("scheduled_date", date)?;
    }
    let note = change
        .note
        .as_deref()
        .map(|n| check_text("note", n, 1000))
        .transpose()?;
    let request = caller
        .0
        .change_wired_request(
            id,
            change.status,
            change.scheduled_date.as_deref(),
            note.as_deref(),
        )
        .await?;
    Ok(Json(request))
}

async fn existing(caller: &Caller, id: i64) -> Result<WiredRequest, ApiError> {
    caller
        .0
        .wired_request(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("wired request {id}")))
}
