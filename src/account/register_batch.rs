//! Batch work on registers: `POST /api/v1/registers/batch` applies one action to the registers
//! chosen by ids or by a filter and answers one result per register (a refusal of one does not
//! stop the others); `POST /api/v1/registers/import?org_inn=` provisions registers from a CSV
//! file with one result per row.
//!
//! Each register's change is its own transaction through the same tenant calls as the single
//! routes (so each is audited and refused exactly as it would be alone).
//!
//! A new action is a variant of [`BatchAction`] and an arm in [`apply_one`]; the permission a
//! batch needs is the action's ([`BatchAction::permission`]).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::Query;
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::auth::{Caller, Permission};
use super::error::ApiError;
use crate::store::register_cabinet::{RegisterEdit, RegisterSearch};
use crate::store::{
    Change, ConnectionType, DeregistrationReason, DeviceType, Dialect, Lifecycle, NewRegister,
    RegisterDetails, StoreError,
};

/// Most registers one batch call touches.
const MAX_BATCH: i64 = 1000;
/// Most rows one import takes.
const MAX_IMPORT_ROWS: usize = 1000;

/// Which registers a batch applies to: every given field must match.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchFilter {
    /// Cabinet state.
    #[schema(value_type = Option<String>)]
    pub lifecycle: Option<Lifecycle>,
    /// Point of sale.
    pub pos_id: Option<i64>,
    /// `hardware` or `software`.
    #[schema(value_type = Option<String>)]
    pub device_type: Option<DeviceType>,
    /// `sim` or `wired`.
    #[schema(value_type = Option<String>)]
    pub connection_type: Option<ConnectionType>,
    /// Owner's taxpayer number.
    pub org_inn: Option<String>,
    /// Exact serial, registration number, ФН number or system id.
    pub q: Option<String>,
}

/// The one action of a batch.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum BatchAction {
    /// Block (unpaid, or on request).
    Block,
    /// Move to another point of sale (an edit: the register waits in `saved` for confirmation).
    ChangePos {
        /// The point of sale, of the register's organisation.
        pos_id: i64,
    },
    /// Deregister with a reason.
    Deregister {
        /// `sold`, `broken`, `drive_replaced`, `closed_business` or `other`.
        reason: DeregistrationReason,
        /// Required with `other`.
        reason_text: Option<String>,
    },
    /// Put each register on a tariff plan (the first plan starts its free trial).
    ActivateTariff {
        /// The plan, one on offer.
        plan_id: i64,
    },
}

impl BatchAction {
    /// What the caller's role must allow: buying tariffs is billing, the rest register work.
    fn permission(&self) -> Permission {
        match self {
            BatchAction::ActivateTariff { .. } => Permission::ManageBilling,
            _ => Permission::ChangeRegisters,
        }
    }
}

/// Body of `POST /api/v1/registers/batch`: `ids` or `filter` (not both), and the action.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// These registers.
    pub ids: Option<Vec<i64>>,
    /// Or the registers matching this.
    pub filter: Option<BatchFilter>,
    /// What to do to each.
    pub action: BatchAction,
}

/// The outcome for one register or row.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ItemResult {
    /// The register id (import: of the new register, when made).
    pub id: Option<i64>,
    /// Import: the CSV line number (1 = the header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// Whether it was done.
    pub ok: bool,
    /// The register's state afterwards, when done.
    pub lifecycle: Option<String>,
    /// Why not: the error code.
    pub code: Option<String>,
    /// Why not, for people.
    pub message: Option<String>,
}

impl ItemResult {
    fn done(id: i64, lifecycle: Lifecycle) -> Self {
        Self {
            id: Some(id),
            row: None,
            ok: true,
            lifecycle: Some(lifecycle.as_str().to_owned()),
            code: None,
            message: None,
        }
    }

    fn failed(id: Option<i64>, error: StoreError) -> Self {
        let (code, message) = match error {
            StoreError::Invalid(m) => ("invalid_request", m),
            StoreError::Conflict(m) => ("conflict", m),
            StoreError::NotFound(m) => ("not_found", m),
            other => {
                tracing::error!(error = %other, "batch item failed");
                ("internal", "see the server log".to_owned())
            }
        };
        Self {
            id,
            row: None,
            ok: false,
            lifecycle: None,
            code: Some(code.to_owned()),
            message: Some(message),
        }
    }
}

/// Answer of the batch and import routes.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BatchResult {
    /// How many were done.
    pub done: usize,
    /// How many were refused.
    pub failed: usize,
    /// One result per register or row, in order.
    pub results: Vec<ItemResult>,
}

impl BatchResult {
    fn of(results: Vec<ItemResult>) -> Self {
        let done = results.iter().filter(|r| r.ok).count();
        Self {
            done,
            failed: results.len() - done,
            results,
        }
    }
}

/// Apply `action` to register `id` (in the caller's scope).
async fn apply_one(
    caller: &Caller,
    id: i64,
    action: &BatchAction,
) -> Result<Lifecycle, StoreError> {
    let register = match action {
        BatchAction::Block => {
            caller
                .0
                .change_register(id, &Change::To(Lifecycle::Blocked))
                .await?
        }
        BatchAction::ChangePos { pos_id } => {
            let edit = RegisterEdit {
                pos_id: Some(*pos_id),
                ..RegisterEdit::default()
            };
            caller.0.edit_register(id, edit).await?
        }
        BatchAction::Deregister {
            reason,
            reason_text,
        } => {
            let change = Change::Deregister(*reason, reason_text.clone());
            caller.0.change_register(id, &change).await?
        }
        BatchAction::ActivateTariff { plan_id } => {
            caller.0.activate_tariff(id, *plan_id).await?;
            caller
                .0
                .register(id)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("register {id}")))?
        }
    };
    Ok(register.lifecycle)
}

/// `POST /api/v1/registers/batch` → one result per register; ids out of scope are reported
/// `not_found` like missing ones.
#[utoipa::path(post, path = "/api/v1/registers/batch", request_body = BatchRequest,
    responses((status = 200, body = BatchResult), (status = 400), (status = 403)))]
pub async fn batch(
    Extension(caller): Extension<Caller>,
    body: Result<Json<BatchRequest>, JsonRejection>,
) -> Result<Json<BatchResult>, ApiError> {
    let Json(request) = body?;
    caller.require(request.action.permission())?;
    let ids: Vec<i64> = match (request.ids, request.filter) {
        (Some(ids), None) => {
            if ids.is_empty() || ids.len() as i64 > MAX_BATCH {
                return Err(ApiError::bad_request(
                    "invalid_request",
                    format!("ids: give 1 to {MAX_BATCH} register ids"),
                ));
            }
            ids
        }
        (None, Some(filter)) => {
            let search = RegisterSearch {
                lifecycle: filter.lifecycle,
                pos_id: filter.pos_id,
                device_type: filter.device_type,
                connection_type: filter.connection_type,
                org_inn: filter.org_inn,
                q: filter.q,
                limit: MAX_BATCH,
                ..RegisterSearch::default()
            };
            let (registers, more) = caller.0.search_registers(&search).await?;
            if more.is_some() {
                return Err(ApiError::bad_request(
                    "invalid_request",
                    format!("filter: matches more than {MAX_BATCH} registers; narrow it"),
                ));
            }
            registers.into_iter().map(|r| r.id).collect()
        }
        _ => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "ids: give either ids or filter",
            ))
        }
    };
    let mut results = Vec::with_capacity(ids.len());
    for id in ids {
        results.push(match apply_one(&caller, id, &request.action).await {
            Ok(lifecycle) => ItemResult::done(id, lifecycle),
            Err(error) => ItemResult::failed(Some(id), error),
        });
    }
    Ok(Json(BatchResult::of(results)))
}

/// Query of `POST /api/v1/registers/import`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// The organisation the registers belong to.
    pub org_inn: String,
}

/// One CSV row of an import. Columns by header name; all but `dialect` optional.
#[derive(Debug, serde::Deserialize)]
struct ImportRow {
    dialect: String,
    fn_number: Option<String>,
    serial: Option<String>,
    model: Option<String>,
    reg_number: Option<String>,
    pos_id: Option<i64>,
    device_type: Option<String>,
    connection_type: Option<String>,
    iccid: Option<String>,
    msisdn: Option<String>,
    utc_offset_minutes: Option<i64>,
    name: Option<String>,
}

fn parse_word<T: serde::de::DeserializeOwned>(
    field: &str,
    value: Option<String>,
) -> Result<Option<T>, StoreError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            serde_json::from_value(serde_json::Value::String(v.clone()))
                .map_err(|_| StoreError::Invalid(format!("{field}: {v:?} is not a known value")))
        })
        .transpose()
}

/// Provision the register one row describes (as `saved`, waiting for the owner).
async fn import_row(
    caller: &Caller,
    org_inn: &str,
    row: ImportRow,
) -> Result<(i64, Lifecycle), StoreError> {
    let dialect: Dialect = row
        .dialect
        .parse()
        .map_err(|_| StoreError::Invalid(format!("dialect: {:?} is not ru or kz", row.dialect)))?;
    let edit = RegisterEdit {
        serial: row.serial.clone(),
        model: None,
        reg_number: row.reg_number,
        pos_id: row.pos_id,
        device_type: parse_word("device_type", row.device_type)?,
        connection_type: parse_word("connection_type", row.connection_type)?,
        iccid: row.iccid.filter(|v| !v.is_empty()),
        msisdn: row.msisdn.filter(|v| !v.is_empty()),
        utc_offset_minutes: row.utc_offset_minutes,
        details: Some(RegisterDetails {
            name: row.name,
            ..RegisterDetails::default()
        }),
    };
    let new = NewRegister {
        fn_number: row.fn_number.filter(|v| !v.is_empty()),
        serial: row.serial,
        model: row.model,
        reg_number: None,
        org_inn: Some(org_inn.to_owned()),
    };
    let register = caller
        .0
        .provision_register(dialect, new, edit, true)
        .await?;
    Ok((register.id, register.lifecycle))
}

/// `POST /api/v1/registers/import?org_inn=` with a CSV body (header row: `dialect,fn_number,
/// serial,model,reg_number,pos_id,device_type,connection_type,iccid,msisdn,utc_offset_minutes,
/// name`; only `dialect` is required) → one result per row; each made register is `saved`. KZ
/// tokens are not shown here: reset them to hand them out.
#[utoipa::path(post, path = "/api/v1/registers/import", params(ImportQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = BatchResult), (status = 400), (status = 404)))]
pub async fn import(
    Extension(caller): Extension<Caller>,
    query: Result<Query<ImportQuery>, QueryRejection>,
    body: String,
) -> Result<(StatusCode, Json<BatchResult>), ApiError> {
    let Query(query) = query?;
    caller
        .0
        .organisation_by_inn(&query.org_inn)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("organisation {}", query.org_inn)))?;
    caller.require(Permission::ChangeRegisters)?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(body.as_bytes());
    let mut results = Vec::new();
    for (index, record) in reader.deserialize::<ImportRow>().enumerate() {
        if index >= MAX_IMPORT_ROWS {
            return Err(ApiError::bad_request(
                "invalid_request",
                format!("body: at most {MAX_IMPORT_ROWS} rows per import"),
            ));
        }
        let line = index as u64 + 2;
        let mut result = match record {
            Err(error) => ItemResult::failed(None, StoreError::Invalid(format!("row: {error}"))),
            Ok(row) => match import_row(&caller, &query.org_inn, row).await {
                Ok((id, lifecycle)) => ItemResult::done(id, lifecycle),
                Err(error) => ItemResult::failed(None, error),
            },
        };
        result.row = Some(line);
        results.push(result);
    }
    Ok((StatusCode::OK, Json(BatchResult::of(results))))
}
