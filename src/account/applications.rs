//! Tax-authority applications of a register (registration, re-registration, deregistration):
//! `/api/v1/registers/{id}/applications` to draft and list them, `/api/v1/applications` for all
//! in scope (by status), `/api/v1/applications/{id}` for
//! the JSON export, `…/print` for the printable HTML page, `…/sign` (through the deployment's
//! [`super::esign::EsignVerifier`]; refused when none is configured), `…/submit`, and
//! `…/answer` where operator staff or the owner enter the tax authority's answer. The rules and
//! the register's moves are in `store::tax_applications`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::{Extension, Json};
use base64::Engine as _;

use super::auth::{Caller, Permission};
use super::error::ApiError;
use super::AppState;
use crate::store::tax_applications::{
    signed_bytes, ApplicationAction, ApplicationAnswer, ApplicationStatus, NewApplication,
    TaxApplication,
};

/// Answer of `GET /api/v1/registers/{id}/applications`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ApplicationList {
    /// The register's applications, oldest first.
    pub applications: Vec<TaxApplication>,
}

/// Body of `POST /api/v1/applications/{id}/sign`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// The signing tool's signature (e.g. CMS) over the bytes of `GET …/applications/{id}`'s
    /// `signed_payload`, base64.
    pub signature: String,
}

/// `GET /api/v1/applications/{id}` answer: the record and the bytes a signature covers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ApplicationExport {
    /// The application.
    #[serde(flatten)]
    pub application: TaxApplication,
    /// What a signature must cover, base64.
    pub signed_payload: String,
}

async fn existing(caller: &Caller, id: i64) -> Result<TaxApplication, ApiError> {
    caller
        .0
        .tax_application(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("application {id}")))
}

/// `POST /api/v1/registers/{id}/applications` → 201 with the draft; 400 naming a missing field,
/// 409 when the register is in no state for that kind.
#[utoipa::path(post, path = "/api/v1/registers/{id}/applications", request_body = NewApplication,
    params(("id" = i64, Path, description = "register id")),
    responses((status = 201, body = TaxApplication), (status = 400), (status = 404), (status = 409)))]
pub async fn create(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<NewApplication>, JsonRejection>,
) -> Result<(StatusCode, Json<TaxApplication>), ApiError> {
    let Path(id) = id?;
    let Json(new) = body?;
    caller
        .0
        .register(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("register {id}")))?;
    caller.require(Permission::ChangeRegisters)?;
    let application = caller.0.create_tax_application(id, &new).await?;
    Ok((StatusCode::CREATED, Json(application)))
}

/// `GET /api/v1/registers/{id}/applications`.
#[utoipa::path(get, path = "/api/v1/registers/{id}/applications",
    params(("id" = i64, Path, description = "register id")),
    responses((status = 200, body = ApplicationList), (status = 404)))]
pub async fn list(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<ApplicationList>, ApiError> {
    let Path(id) = id?;
    caller.require(Permission::ReadRegisters)?;
    let applications = caller.0.register_applications(id).await?;
    Ok(Json(ApplicationList { applications }))
}

/// Query of `GET /api/v1/applications`.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ApplicationQuery {
    /// Only `draft`, `signed`, `submitted`, `accepted` or `refused`.
    #[param(value_type = Option<String>)]
    pub status: Option<ApplicationStatus>,
}

/// `GET /api/v1/applications?status=` → the applications of every register in scope, newest
/// first (operator staff: every organisation's; a cashier: of their registers).
#[utoipa::path(get, path = "/api/v1/applications", params(ApplicationQuery),
    responses((status = 200, body = ApplicationList), (status = 400), (status = 403)))]
pub async fn list_all(
    Extension(caller): Extension<Caller>,
    query: Result<Query<ApplicationQuery>, QueryRejection>,
) -> Result<Json<ApplicationList>, ApiError> {
    let Query(query) = query?;
    caller.require(Permission::ReadRegisters)?;
    let applications = caller.0.tax_applications(query.status).await?;
    Ok(Json(ApplicationList { applications }))
}

/// `GET /api/v1/applications/{id}` → the JSON export.
#[utoipa::path(get, path = "/api/v1/applications/{id}",
    params(("id" = i64, Path, description = "application id")),
    responses((status = 200, body = ApplicationExport), (status = 404)))]
pub async fn get_one(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<ApplicationExport>, ApiError> {
    let Path(id) = id?;
    let application = existing(&caller, id).await?;
    caller.require(Permission::ReadRegisters)?;
    let signed_payload =
        base64::engine::general_purpose::STANDARD.encode(signed_bytes(&application));
    Ok(Json(ApplicationExport {
        application,
        signed_payload,
    }))
}

/// `GET /api/v1/applications/{id}/print` → the printable HTML page.
#[utoipa::path(get, path = "/api/v1/applications/{id}/print",
    params(("id" = i64, Path, description = "application id")),
    responses((status = 200, content_type = "text/html", body = String), (status = 404)))]
pub async fn print(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Path(id) = id?;
    let application = existing(&caller, id).await?;
    caller.require(Permission::ReadRegisters)?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Html(printable(&application)),
    ))
}

/// `POST /api/v1/applications/{id}/sign` → the signed application; 501 when no e-signature is
/// configured, 409 when the application is not a draft, 400 when the signature does not verify
/// or names another taxpayer.
#[utoipa::path(post, path = "/api/v1/applications/{id}/sign", request_body = SignRequest,
    params(("id" = i64, Path, description = "application id")),
    responses((status = 200, body = TaxApplication), (status = 400), (status = 404), (status = 409),
        (status = 501)))]
pub async fn sign(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<SignRequest>, JsonRejection>,
) -> Result<Json<TaxApplication>, ApiError> {
    let Path(id) = id?;
    let Json(request) = body?;
    let application = existing(&caller, id).await?;
    caller.require(Permission::ChangeRegisters)?;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(request.signature.as_bytes())
        .map_err(|_| ApiError::bad_request("invalid_request", "signature: not base64"))?;
    let signer = match state.esign.verify(&signed_bytes(&application), &signature) {
        Ok(signer) => signer,
        Err(crate::account::esign::EsignError::NotConfigured) => {
            return Err(ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "esign_not_configured",
                "signing by electronic signature is not configured on this service",
            ))
        }
        Err(error) => {
            return Err(ApiError::bad_request(
                "invalid_request",
                format!("signature: {error}"),
            ))
        }
    };
    if signer.tax_id != application.fields.org_inn {
        return Err(ApiError::bad_request(
            "invalid_request",
            "signature: the certificate names another taxpayer",
        ));
    }
    let signed = caller
        .0
        .advance_tax_application(
            id,
            ApplicationAction::Sign,
            Some((request.signature, signer.name)),
            None,
        )
        .await?;
    Ok(Json(signed))
}

/// `POST /api/v1/applications/{id}/submit` → the submitted application (its register moves on).
#[utoipa::path(post, path = "/api/v1/applications/{id}/submit",
    params(("id" = i64, Path, description = "application id")),
    responses((status = 200, body = TaxApplication), (status = 404), (status = 409)))]
pub async fn submit(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<TaxApplication>, ApiError> {
    let Path(id) = id?;
    existing(&caller, id).await?;
    caller.require(Permission::ChangeRegisters)?;
    let submitted = caller
        .0
        .advance_tax_application(id, ApplicationAction::Submit, None, None)
        .await?;
    Ok(Json(submitted))
}

/// `POST /api/v1/applications/{id}/answer` (operator staff or the owner) → the answered
/// application; accepted registration carries `reg_number` (the register becomes
/// `registered`), a refusal its `refusal_reason`.
#[utoipa::path(post, path = "/api/v1/applications/{id}/answer", request_body = ApplicationAnswer,
    params(("id" = i64, Path, description = "application id")),
    responses((status = 200, body = TaxApplication), (status = 400), (status = 403), (status = 404),
        (status = 409)))]
pub async fn answer(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<ApplicationAnswer>, JsonRejection>,
) -> Result<Json<TaxApplication>, ApiError> {
    let Path(id) = id?;
    let Json(answer) = body?;
    existing(&caller, id).await?;
    caller.require(Permission::AnswerApplications)?;
    let action = if answer.accepted {
        ApplicationAction::Accept
    } else {
        ApplicationAction::Refuse
    };
    let answered = caller
        .0
        .advance_tax_application(id, action, None, Some(&answer))
        .await?;
    Ok(Json(answered))
}

/// Escape text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The printable page: a title and a two-column table of the fields as filed.
fn printable(application: &TaxApplication) -> String {
    let f = &application.fields;
    let title = match application.kind.as_str() {
        "registration" => "Заявление о регистрации ККТ",
        "reregistration" => "Заявление о перерегистрации ККТ",
        _ => "Заявление о снятии ККТ с регистрационного учёта",
    };
    let address = f.point_of_sale.as_ref().map(|p| {
        [
            p.postal_code.as_deref(),
            p.region.as_deref(),
            p.city.as_deref(),
            p.street.as_deref(),
            p.house.as_deref(),
            p.premises.as_deref(),
            p.location.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
    });
    let reasons = f
        .reregistration_reasons
        .iter()
        .map(|r| format!("{r:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows: Vec<(&str, Option<String>)> = vec![
        ("ИНН / БИН", Some(f.org_inn.clone())),
        ("Пользователь", Some(f.org_name.clone())),
        ("Модель ККТ", f.model.clone()),
        ("Заводской номер", f.serial.clone()),
        ("Номер ФН", f.fn_number.clone()),
        ("Модель ФН", f.fn_model.clone()),
        ("Системный номер", f.system_id.map(|v| v.to_string())),
        ("Регистрационный номер", f.reg_number.clone()),
        (
            "Место установки",
            f.point_of_sale.as_ref().map(|p| p.name.clone()),
        ),
        ("Адрес", address),
        (
            "Причины перерегистрации",
            Some(reasons).filter(|r| !r.is_empty()),
        ),
        (
            "Причина снятия",
            f.deregistration_reason.map(|r| r.as_str().to_owned()),
        ),
        ("Пояснение", f.deregistration_text.clone()),
        ("Статус", Some(application.status.as_str().to_owned())),
        ("Подписано", application.signer.clone()),
        ("Причина отказа", application.refusal_reason.clone()),
        ("Присвоенный номер", f.answer_reg_number.clone()),
    ];
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"ru\"><head><meta charset=\"utf-8\"><title>{title} №{id}\
         </title><style>table{{border-collapse:collapse}}td{{border:1px solid #000;\
         padding:4px 8px}}</style></head><body><h1>{title} №{id}</h1><table>\n",
        title = escape(title),
        id = application.id
    );
    for (label, value) in rows {
        if let Some(value) = value {
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td></tr>\n",
                escape(label),
                escape(&value)
            ));
        }
    }
    html.push_str("</table></body></html>\n");
    html
}
