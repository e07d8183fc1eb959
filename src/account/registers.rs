//! `/api/v1/registers`: provision, read, list, change status, reset a KZ token.
//!
//! A KZ register's token is a shared secret. It appears in exactly two answers, the ones that
//! issue it (provisioning and token reset), as the `token` field; reads and lists never carry it.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::auth::{Caller, Permission};
use super::error::ApiError;
use crate::store::{Dialect, NewRegister, Register, RegisterFilter, RegisterStatus};

/// Page size of `GET /api/v1/registers` when the query names none.
const DEFAULT_PAGE: i64 = 100;
/// Largest page a client may ask for.
const MAX_PAGE: i64 = 1000;

/// Body of `POST /api/v1/registers`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionRequest {
    /// `ru` or `kz`.
    #[schema(value_type = String)]
    pub dialect: Dialect,
    /// RU: the 16-digit fiscal drive number (required); KZ: must be absent.
    pub fn_number: Option<String>,
    /// Manufacturer serial number.
    pub serial: Option<String>,
    /// Model name.
    pub model: Option<String>,
    /// Registration number issued by the tax authority.
    pub reg_number: Option<String>,
    /// Taxpayer number of the owner; the organisation must exist.
    pub org_inn: String,
}

/// A register as the API shows it; `token` only in the answers that issue one.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RegisterView {
    /// The stored row (its token is never serialised from here).
    #[serde(flatten)]
    pub register: Register,
    /// KZ: the token just issued, to be entered into the register.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<i64>,
}

impl RegisterView {
    fn without_token(register: Register) -> Self {
        Self {
            register,
            token: None,
        }
    }

    fn with_token(register: Register) -> Self {
        let token = register.kz_token;
        Self { register, token }
    }
}

/// Query of `GET /api/v1/registers`: filters and the page.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only `ru` or `kz`.
    #[param(value_type = Option<String>)]
    pub dialect: Option<Dialect>,
    /// Only `active`, `blocked` or `deregistered`.
    pub status: Option<RegisterStatus>,
    /// Only registers of this organisation.
    pub org_inn: Option<String>,
    /// Continue after this register id (`next_after_id` of the previous page).
    pub after_id: Option<i64>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<i64>,
}

/// Answer of `GET /api/v1/registers`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RegisterPage {
    /// The registers of this page, by id.
    pub registers: Vec<RegisterView>,
    /// Pass as `after_id` for the next page; absent on the last page.
    pub next_after_id: Option<i64>,
}

/// Body of `PUT /api/v1/registers/{id}/status`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// The new status.
    pub status: RegisterStatus,
}

/// `POST /api/v1/registers` → 201 with the row (KZ: with the system id and first `token`);
/// 400 for invalid fields or an unknown organisation (another organisation's is unknown too),
/// 409 for an FN number already registered.
#[utoipa::path(post, path = "/api/v1/registers", request_body = ProvisionRequest,
    responses((status = 201, body = RegisterView), (status = 400), (status = 403), (status = 409)))]
pub async fn provision(
    Extension(caller): Extension<Caller>,
    body: Result<Json<ProvisionRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<RegisterView>), ApiError> {
    let Json(request) = body?;
    caller.require(Permission::ChangeRegisters)?;
    if caller
        .0
        .organisation_by_inn(&request.org_inn)
        .await?
        .is_none()
    {
        return Err(ApiError::bad_request(
            "unknown_organisation",
            format!("org_inn: no organisation with INN {:?}", request.org_inn),
        ));
    }
    let new = NewRegister {
        fn_number: request.fn_number,
        serial: request.serial,
        model: request.model,
        reg_number: request.reg_number,
        org_inn: Some(request.org_inn),
    };
    let register = caller.0.provision_register(request.dialect, new).await?;
    tracing::info!(
        register = register.id,
        dialect = %register.dialect,
        "register provisioned"
    );
    Ok((
        StatusCode::CREATED,
        Json(RegisterView::with_token(register)),
    ))
}

/// `GET /api/v1/registers/{id}` → the row without its token, or 404.
#[utoipa::path(get, path = "/api/v1/registers/{id}",
    params(("id" = i64, Path, description = "register id")),
    responses((status = 200, body = RegisterView), (status = 404)))]
pub async fn get_one(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<RegisterView>, ApiError> {
    let Path(id) = id?;
    let register = existing(&caller, id).await?;
    caller.require(Permission::ReadRegisters)?;
    Ok(Json(RegisterView::without_token(register)))
}

/// `GET /api/v1/registers?dialect=&status=&org_inn=&after_id=&limit=` → one page.
#[utoipa::path(get, path = "/api/v1/registers", params(ListQuery),
    responses((status = 200, body = RegisterPage)))]
pub async fn list(
    Extension(caller): Extension<Caller>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<RegisterPage>, ApiError> {
    let Query(query) = query?;
    caller.require(Permission::ReadRegisters)?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {MAX_PAGE}"),
        ));
    }
    let filter = RegisterFilter {
        dialect: query.dialect,
        status: query.status,
        org_inn: query.org_inn,
        after_id: query.after_id,
        limit,
        cashier: None,
    };
    let registers = caller.0.registers(&filter).await?;
    let full = i64::try_from(registers.len()).is_ok_and(|n| n == limit);
    let next_after_id = registers.last().filter(|_| full).map(|last| last.id);
    Ok(Json(RegisterPage {
        registers: registers
            .into_iter()
            .map(RegisterView::without_token)
            .collect(),
        next_after_id,
    }))
}

/// `PUT /api/v1/registers/{id}/status` → the updated row; 409 when the register is deregistered
/// (that is final), 404 when there is no such register.
#[utoipa::path(put, path = "/api/v1/registers/{id}/status", request_body = StatusChange,
    params(("id" = i64, Path, description = "register id")),
    responses((status = 200, body = RegisterView), (status = 404), (status = 409)))]
pub async fn set_status(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<StatusChange>, JsonRejection>,
) -> Result<Json<RegisterView>, ApiError> {
    let Path(id) = id?;
    let Json(change) = body?;
    existing(&caller, id).await?;
    caller.require(Permission::ChangeRegisters)?;
    let register = caller.0.set_register_status(id, change.status).await?;
    tracing::info!(
        register = id,
        status = change.status.as_str(),
        "register status changed"
    );
    Ok(Json(RegisterView::without_token(register)))
}

/// `POST /api/v1/registers/{id}/token` → the row with a fresh `token` (the recovery from
/// INVALID_TOKEN). Only for KZ registers still in service: 400 for RU, 409 once deregistered.
#[utoipa::path(post, path = "/api/v1/registers/{id}/token",
    params(("id" = i64, Path, description = "register id")),
    responses((status = 200, body = RegisterView), (status = 400), (status = 404), (status = 409)))]
pub async fn reset_token(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<RegisterView>, ApiError> {
    let Path(id) = id?;
    let register = existing(&caller, id).await?;
    caller.require(Permission::ChangeRegisters)?;
    if register.dialect != Dialect::Kz {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("register {id} is RU; only KZ registers have tokens"),
        ));
    }
    if register.status == RegisterStatus::Deregistered {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("register {id} is deregistered; it gets no new token"),
        ));
    }
    let register = caller.0.reset_kz_token(id).await?;
    tracing::info!(register = id, "KZ token reset");
    Ok(Json(RegisterView::with_token(register)))
}

/// The register with row id `id` in the caller's scope, or 404.
async fn existing(caller: &Caller, id: i64) -> Result<Register, ApiError> {
    caller
        .0
        .register(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("register {id}")))
}
