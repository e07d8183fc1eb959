//! `/api/v1/organisations`: enter a taxpayer, list them, read one.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::auth::Caller;
use super::error::ApiError;
use crate::store::{Organisation, Store};

/// Body of `POST /api/v1/organisations`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrganisation {
    /// Taxpayer number, 10 or 12 digits.
    pub inn: String,
    /// Registered name.
    pub name: String,
}

/// Answer of `GET /api/v1/organisations`.
#[derive(Debug, serde::Serialize)]
pub struct OrganisationList {
    /// Every organisation, oldest first.
    pub organisations: Vec<Organisation>,
}

/// `POST /api/v1/organisations` → 201 with the row; 400 for a malformed INN or name, 409 when
/// the INN is already known.
pub async fn create(
    State(store): State<Store>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NewOrganisation>, JsonRejection>,
) -> Result<(StatusCode, Json<Organisation>), ApiError> {
    let Json(new) = body?;
    let organisation = store.add_organisation(&new.inn, &new.name).await?;
    tracing::info!(
        key = caller.0,
        inn = organisation.inn,
        "organisation created"
    );
    Ok((StatusCode::CREATED, Json(organisation)))
}

/// `GET /api/v1/organisations`.
pub async fn list(State(store): State<Store>) -> Result<Json<OrganisationList>, ApiError> {
    let organisations = store.list_organisations().await?;
    Ok(Json(OrganisationList { organisations }))
}

/// `GET /api/v1/organisations/{inn}` → the row, or 404.
pub async fn get_one(
    State(store): State<Store>,
    inn: Result<Path<String>, PathRejection>,
) -> Result<Json<Organisation>, ApiError> {
    let Path(inn) = inn?;
    store
        .organisation_by_inn(&inn)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("organisation {inn}")))
}
