//! `/api/v1/organisations`: operator staff enter taxpayers and see all of them; everyone else
//! sees their own organisation only (through the caller's tenant).

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::auth::{Caller, Permission};
use super::error::ApiError;
use super::AppState;
use crate::store::{NewOrganisation, Organisation, OrganisationPatch};

/// Answer of `GET /api/v1/organisations`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OrganisationList {
    /// The organisations the caller may see, oldest first.
    pub organisations: Vec<Organisation>,
}

/// `POST /api/v1/organisations` (operator staff) → 201 with the row; 400 naming the field whose
/// check fails (taxpayer number check digits by country, КПП, БИК, account), 409 when the
/// taxpayer number is already known.
#[utoipa::path(post, path = "/api/v1/organisations", request_body = NewOrganisation,
    responses((status = 201, body = Organisation), (status = 400), (status = 403), (status = 409)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NewOrganisation>, JsonRejection>,
) -> Result<(StatusCode, Json<Organisation>), ApiError> {
    let Json(new) = body?;
    caller.require(Permission::ProvisionOrganisations)?;
    let organisation = state.store.add_organisation(&new).await?;
    caller
        .0
        .audit(
            Some(organisation.id),
            "organisation.create",
            format!("organisation:{}", organisation.id),
        )
        .await?;
    tracing::info!(org_id = organisation.id, "organisation created");
    Ok((StatusCode::CREATED, Json(organisation)))
}

/// `GET /api/v1/organisations`.
#[utoipa::path(get, path = "/api/v1/organisations",
    responses((status = 200, body = OrganisationList)))]
pub async fn list(
    Extension(caller): Extension<Caller>,
) -> Result<Json<OrganisationList>, ApiError> {
    caller.require(Permission::ReadOrganisation)?;
    let organisations = caller.0.organisations().await?;
    Ok(Json(OrganisationList { organisations }))
}

/// `GET /api/v1/organisations/{inn}` → the row, or 404 (also for another organisation's).
#[utoipa::path(get, path = "/api/v1/organisations/{inn}",
    params(("inn" = String, Path, description = "taxpayer number")),
    responses((status = 200, body = Organisation), (status = 404)))]
pub async fn get_one(
    Extension(caller): Extension<Caller>,
    inn: Result<Path<String>, PathRejection>,
) -> Result<Json<Organisation>, ApiError> {
    let Path(inn) = inn?;
    let organisation = caller
        .0
        .organisation_by_inn(&inn)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("organisation {inn}")))?;
    caller.require(Permission::ReadOrganisation)?;
    Ok(Json(organisation))
}

/// `PATCH /api/v1/organisations/{inn}` (owner) → the changed card; 404 for another
/// organisation's, 400 naming the field whose check fails.
#[utoipa::path(patch, path = "/api/v1/organisations/{inn}", request_body = OrganisationPatch,
    params(("inn" = String, Path, description = "taxpayer number")),
    responses((status = 200, body = Organisation), (status = 400), (status = 403), (status = 404)))]
pub async fn update(
    Extension(caller): Extension<Caller>,
    inn: Result<Path<String>, PathRejection>,
    body: Result<Json<OrganisationPatch>, JsonRejection>,
) -> Result<Json<Organisation>, ApiError> {
    let Path(inn) = inn?;
    let Json(patch) = body?;
    caller
        .0
        .organisation_by_inn(&inn)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("organisation {inn}")))?;
    caller.require(Permission::EditOrganisation)?;
    Ok(Json(caller.0.update_organisation(&inn, &patch).await?))
}
