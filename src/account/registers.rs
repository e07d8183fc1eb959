//! `/api/v1/registers`: provision, read, search, edit (kept as versions, confirmed by the owner),
//! change status through the state machine (`store::register_lifecycle`), the status history,
//! RU fiscal drive replacement, reset a KZ token.
//!
//! Every answer carrying a register carries its last document time (`last_document_at`, `null`
//! with `has_documents: false` when it has sent none): a KZ register's from the stored documents,
//! a RU register's from the read models, as fresh as the projector (`store::register_cabinet`).
//!
//! A KZ register's token is a shared secret. It appears in exactly two answers, the ones that
//! issue it (provisioning and token reset), as the `token` field; reads and lists never carry it.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::auth::{Caller, Permission};
use super::error::ApiError;
use crate::store::register_cabinet::{
    Drive, NewDrive, RegisterEdit, RegisterSearch, RegisterSort, RegisterTransition,
    RegisterVersion,
};
use crate::store::{
    Change, ConnectionType, DeregistrationReason, DeviceType, Dialect, Lifecycle, NewRegister,
    Register, RegisterStatus,
};

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
    /// `saved` (the cabinet's flow: waits for the owner's confirmation and its application) or
    /// `active` (default: an operator provisioning a register already registered).
    #[schema(value_type = Option<String>)]
    pub initial_status: Option<Lifecycle>,
    /// The cabinet fields (point of sale, device, SIM, time zone, details).
    #[serde(default)]
    pub fields: RegisterEdit,
}

/// A register as the API shows it; `token` only in the answers that issue one.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RegisterView {
    /// The stored row (its token is never serialised from here).
    #[serde(flatten)]
    pub register: Register,
    /// When its last document was stored (UTC ms); `null` when none yet.
    pub last_document_at: Option<i64>,
    /// Whether it has sent any document.
    pub has_documents: bool,
    /// KZ: the token just issued, to be entered into the register.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<i64>,
}

impl RegisterView {
    /// The view of `register` with its last document time, without its token.
    pub(super) async fn read(caller: &Caller, register: Register) -> Result<Self, ApiError> {
        let last_document_at = caller.0.last_document_at(&register).await?;
        Ok(Self {
            register,
            last_document_at,
            has_documents: last_document_at.is_some(),
            token: None,
        })
    }

    /// The views of `registers`, in order.
    pub(super) async fn read_all(
        caller: &Caller,
        registers: Vec<Register>,
    ) -> Result<Vec<Self>, ApiError> {
        let mut views = Vec::with_capacity(registers.len());
        for register in registers {
            views.push(Self::read(caller, register).await?);
        }
        Ok(views)
    }

    async fn with_token(caller: &Caller, register: Register) -> Result<Self, ApiError> {
        let token = register.kz_token;
        let mut view = Self::read(caller, register).await?;
        view.token = token;
        Ok(view)
    }
}

/// Query of `GET /api/v1/registers`: filters and the page.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only `ru` or `kz`.
    #[param(value_type = Option<String>)]
    pub dialect: Option<Dialect>,
    /// Only this ingest gate: `active`, `blocked` or `deregistered`.
    pub status: Option<RegisterStatus>,
    /// Only this cabinet state (`saved`, `submitted`, `registered`, `active`, `blocked`,
    /// `reregistration`, `deregistered`).
    #[param(value_type = Option<String>)]
    pub lifecycle: Option<Lifecycle>,
    /// Only registers of this organisation.
    pub org_inn: Option<String>,
    /// Only registers at this point of sale.
    pub pos_id: Option<i64>,
    /// Only `hardware` or `software`.
    #[param(value_type = Option<String>)]
    pub device_type: Option<DeviceType>,
    /// Only `sim` or `wired`.
    #[param(value_type = Option<String>)]
    pub connection_type: Option<ConnectionType>,
    /// Registered at or after (UTC ms).
    pub registered_from: Option<i64>,
    /// Registered before (UTC ms).
    pub registered_to: Option<i64>,
    /// `true`: registers whose tariff is paid now; `false`: the others (unpaid or no tariff).
    pub paid: Option<bool>,
    /// Exact serial, registration number, ФН number (current or replaced) or KZ system id.
    pub q: Option<String>,
    /// The SIM's phone number, matched by its last 10 digits.
    pub msisdn: Option<String>,
    /// `id` (default), `-id`, `registered_at`, `-registered_at`.
    #[param(value_type = Option<String>)]
    pub sort: Option<RegisterSort>,
    /// Continue after this cursor (`next_cursor` of the previous page).
    pub cursor: Option<String>,
    /// Continue after this register id (`next_after_id`; with the default sort only).
    pub after_id: Option<i64>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<i64>,
}

impl ListQuery {
    /// The store search this query asks for; 400 naming a bad parameter.
    pub(super) fn search(self) -> Result<RegisterSearch, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("limit must be between 1 and {MAX_PAGE}"),
            ));
        }
        let sort = self.sort.unwrap_or_default();
        let cursor = match (self.cursor, self.after_id) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    "after_id: give either cursor or after_id",
                ))
            }
            (None, Some(_)) if sort != RegisterSort::IdAsc => {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    "after_id: only with the default sort; use cursor",
                ))
            }
            (None, Some(id)) => Some(format!("{id}:{id}")),
            (cursor, None) => cursor,
        };
        Ok(RegisterSearch {
            dialect: self.dialect,
            lifecycle: self.lifecycle,
            gate: self.status,
            org_inn: self.org_inn,
            pos_id: self.pos_id,
            device_type: self.device_type,
            connection_type: self.connection_type,
            registered_from: self.registered_from,
            registered_to: self.registered_to,
            paid: self.paid,
            q: self.q,
            msisdn: self.msisdn,
            ids: None,
            sort,
            cursor,
            limit,
        })
    }
}

/// Answer of `GET /api/v1/registers`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RegisterPage {
    /// The registers of this page, in the asked order.
    pub registers: Vec<RegisterView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// With the default sort: pass as `after_id` for the next page; absent on the last page.
    pub next_after_id: Option<i64>,
}

/// Body of `PUT /api/v1/registers/{id}/status`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// The new state: `submitted`, `registered`, `active`, `blocked`, `reregistration` or
    /// `deregistered` (which needs `reason`). `saved` is reached by an edit.
    #[schema(value_type = String)]
    pub status: Lifecycle,
    /// Deregistration: `sold`, `broken`, `drive_replaced`, `closed_business` or `other`.
    pub reason: Option<DeregistrationReason>,
    /// Deregistration: what `other` means (required with it).
    pub reason_text: Option<String>,
}

impl StatusChange {
    /// The state machine's change this body asks for; 400 naming `reason` when deregistering
    /// without one or giving one otherwise.
    pub(super) fn change(self) -> Result<Change, ApiError> {
        match (self.status, self.reason) {
            (Lifecycle::Deregistered, Some(reason)) => {
                Ok(Change::Deregister(reason, self.reason_text))
            }
            (Lifecycle::Deregistered, None) => Err(ApiError::bad_request(
                "invalid_request",
                "reason: deregistration needs a reason (sold, broken, drive_replaced, \
                 closed_business, other)",
            )),
            (_, Some(_)) => Err(ApiError::bad_request(
                "invalid_request",
                "reason: only deregistration takes a reason",
            )),
            (to, None) => Ok(Change::To(to)),
        }
    }
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
    let saved = match request.initial_status {
        None | Some(Lifecycle::Active) => false,
        Some(Lifecycle::Saved) => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_request",
                format!(
                    "initial_status: a new register starts saved or active, not {}",
                    other.as_str()
                ),
            ))
        }
    };
    let mut fields = request.fields;
    // The top-level serial and registration number are checked like edited ones.
    fields.serial = fields.serial.or(request.serial);
    fields.reg_number = fields.reg_number.or(request.reg_number);
    let new = NewRegister {
        fn_number: request.fn_number,
        serial: fields.serial.clone(),
        model: request.model,
        reg_number: None,
        org_inn: Some(request.org_inn),
    };
    let register = caller
        .0
        .provision_register(request.dialect, new, fields, saved)
        .await?;
    tracing::info!(
        register = register.id,
        dialect = %register.dialect,
        "register provisioned"
    );
    Ok((
        StatusCode::CREATED,
        Json(RegisterView::with_token(&caller, register).await?),
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
    Ok(Json(RegisterView::read(&caller, register).await?))
}

/// `GET /api/v1/registers?…` → one page of the registers matching the filters.
#[utoipa::path(get, path = "/api/v1/registers", params(ListQuery),
    responses((status = 200, body = RegisterPage)))]
pub async fn list(
    Extension(caller): Extension<Caller>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<RegisterPage>, ApiError> {
    let Query(query) = query?;
    caller.require(Permission::ReadRegisters)?;
    let search = query.search()?;
    let default_sort = search.sort == RegisterSort::IdAsc;
    let (registers, next_cursor) = caller.0.search_registers(&search).await?;
    let next_after_id = next_cursor
        .as_ref()
        .filter(|_| default_sort)
        .and(registers.last().map(|last| last.id));
    Ok(Json(RegisterPage {
        registers: RegisterView::read_all(&caller, registers).await?,
        next_cursor,
        next_after_id,
    }))
}

/// `PUT /api/v1/registers/{id}/status` → the updated row after a transition of the state
/// machine; 409 when the transition is not allowed from the current state (deregistration is
/// final), 400 when a deregistration has no reason, 404 when there is no such register.
#[utoipa::path(put, path = "/api/v1/registers/{id}/status", request_body = StatusChange,
    params(("id" = i64, Path, description = "register id")),
    responses((status = 200, body = RegisterView), (status = 400), (status = 404), (status = 409)))]
pub async fn set_status(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<StatusChange>, JsonRejection>,
) -> Result<Json<RegisterView>, ApiError> {
    let Path(id) = id?;
    let Json(change) = body?;
    existing(&caller, id).await?;
    caller.require(Permission::ChangeRegisters)?;
    let change = change.change()?;
    let register = caller.0.change_register(id, &change).await?;
    tracing::info!(
        register = id,
        status = register.lifecycle.as_str(),
        "register status changed"
    );
    Ok(Json(RegisterView::read(&caller, register).await?))
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
    Ok(Json(RegisterView::with_token(&caller, register).await?))
}

/// `PATCH /api/v1/registers/{id}` → the edited register, now `saved` until its owner confirms;
/// the edit is kept as a version. 400 naming a bad field, 404, 409 when deregistered.
#[utoipa::path(patch, path = "/api/v1/registers/{id}", request_body = RegisterEdit,
    params(("id" = i64, Path, description = "register id")),
    responses((status = 200, body = RegisterView), (status = 400), (status = 404), (status = 409)))]
pub async fn edit(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<RegisterEdit>, JsonRejection>,
) -> Result<Json<RegisterView>, ApiError> {
    let Path(id) = id?;
    let Json(edit) = body?;
    existing(&caller, id).await?;
    caller.require(Permission::ChangeRegisters)?;
    let register = caller.0.edit_register(id, edit).await?;
    Ok(Json(RegisterView::read(&caller, register).await?))
}

/// `POST /api/v1/registers/{id}/confirm` (the owner or operator staff) → the register back in
/// the state it had before the edit; 409 when it is not waiting for a confirmation.
#[utoipa::path(post, path = "/api/v1/registers/{id}/confirm",
    params(("id" = i64, Path, description = "register id")),
    responses((status = 200, body = RegisterView), (status = 403), (status = 404), (status = 409)))]
pub async fn confirm(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<RegisterView>, ApiError> {
    let Path(id) = id?;
    existing(&caller, id).await?;
    caller.require(Permission::ConfirmRegisters)?;
    let register = caller.0.change_register(id, &Change::Confirm).await?;
    Ok(Json(RegisterView::read(&caller, register).await?))
}

/// `GET /api/v1/registers/{id}/versions` → every version, oldest first, with who and when.
#[utoipa::path(get, path = "/api/v1/registers/{id}/versions",
    params(("id" = i64, Path, description = "register id")),
    responses((status = 200, body = [RegisterVersion]), (status = 404)))]
pub async fn versions(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Vec<RegisterVersion>>, ApiError> {
    let Path(id) = id?;
    caller.require(Permission::ReadRegisters)?;
    Ok(Json(caller.0.register_versions(id).await?))
}

/// `GET /api/v1/registers/{id}/history` → every status change, oldest first, with who, when
/// and why.
#[utoipa::path(get, path = "/api/v1/registers/{id}/history",
    params(("id" = i64, Path, description = "register id")),
    responses((status = 200, body = [RegisterTransition]), (status = 404)))]
pub async fn history(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Vec<RegisterTransition>>, ApiError> {
    let Path(id) = id?;
    caller.require(Permission::ReadRegisters)?;
    Ok(Json(caller.0.register_history(id).await?))
}

/// `GET /api/v1/registers/{id}/drives` → the RU register's fiscal drives, oldest first.
#[utoipa::path(get, path = "/api/v1/registers/{id}/drives",
    params(("id" = i64, Path, description = "register id")),
    responses((status = 200, body = [Drive]), (status = 404)))]
pub async fn drives(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Vec<Drive>>, ApiError> {
    let Path(id) = id?;
    caller.require(Permission::ReadRegisters)?;
    Ok(Json(caller.0.register_drives(id).await?))
}

/// `POST /api/v1/registers/{id}/drives` → the register with its new fiscal drive (RU). The
/// register keeps its registration number and history; the old drive's documents made before
/// `started_at` are still accepted. 400 for KZ or a bad number, 409 for a known number.
#[utoipa::path(post, path = "/api/v1/registers/{id}/drives", request_body = NewDrive,
    params(("id" = i64, Path, description = "register id")),
    responses((status = 200, body = RegisterView), (status = 400), (status = 404), (status = 409)))]
pub async fn replace_drive(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<NewDrive>, JsonRejection>,
) -> Result<Json<RegisterView>, ApiError> {
    let Path(id) = id?;
    let Json(drive) = body?;
    existing(&caller, id).await?;
    caller.require(Permission::ChangeRegisters)?;
    let register = caller.0.replace_drive(id, &drive).await?;
    tracing::info!(register = id, "fiscal drive replaced");
    Ok(Json(RegisterView::read(&caller, register).await?))
}

/// The register with row id `id` in the caller's scope, or 404.
async fn existing(caller: &Caller, id: i64) -> Result<Register, ApiError> {
    caller
        .0
        .register(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("register {id}")))
}
