//! Points of sale (addresses an organisation keeps once and reuses for many registers):
//! `/api/v1/organisations/{inn}/points-of-sale` to enter and list them,
//! `/api/v1/points-of-sale/{id}` to read, replace and delete one (409 while registers work
//! there), and `/api/v1/organisations/{inn}/registers-by-point-of-sale` for the register list
//! grouped by point of sale. Scoped like every cabinet object: another organisation's is 404.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::auth::{Caller, Permission};
use super::error::ApiError;
use super::registers::RegisterView;
use crate::store::points_of_sale::{PointOfSale, PosFields};
use crate::store::register_cabinet::RegisterSearch;
use crate::store::Organisation;

/// Most registers one grouped list shows.
const GROUPED_LIMIT: i64 = 10_000;

/// Answer of `GET /api/v1/organisations/{inn}/points-of-sale`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PointOfSaleList {
    /// The organisation's points of sale, oldest first.
    pub points_of_sale: Vec<PointOfSale>,
}

/// One group of `GET /api/v1/organisations/{inn}/registers-by-point-of-sale`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PointOfSaleGroup {
    /// The point of sale; `null` for the registers that have none.
    pub point_of_sale: Option<PointOfSale>,
    /// Its registers, by id.
    pub registers: Vec<RegisterView>,
}

/// Answer of `GET /api/v1/organisations/{inn}/registers-by-point-of-sale`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RegistersByPointOfSale {
    /// One group per point of sale (also the empty ones), then the registers without one.
    pub groups: Vec<PointOfSaleGroup>,
}

async fn organisation(caller: &Caller, inn: &str) -> Result<Organisation, ApiError> {
    caller
        .0
        .organisation_by_inn(inn)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("organisation {inn}")))
}

async fn existing(caller: &Caller, id: i64) -> Result<PointOfSale, ApiError> {
    caller
        .0
        .point_of_sale(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("point of sale {id}")))
}

/// `POST /api/v1/organisations/{inn}/points-of-sale` → 201 with the point of sale; 400 naming a
/// bad field (name, postal_code, kato_code, fias_code).
#[utoipa::path(post, path = "/api/v1/organisations/{inn}/points-of-sale", request_body = PosFields,
    params(("inn" = String, Path, description = "taxpayer number")),
    responses((status = 201, body = PointOfSale), (status = 400), (status = 403), (status = 404)))]
pub async fn create(
    Extension(caller): Extension<Caller>,
    inn: Result<Path<String>, PathRejection>,
    body: Result<Json<PosFields>, JsonRejection>,
) -> Result<(StatusCode, Json<PointOfSale>), ApiError> {
    let Path(inn) = inn?;
    let Json(fields) = body?;
    let org = organisation(&caller, &inn).await?;
    caller.require(Permission::ChangeRegisters)?;
    let pos = caller.0.create_point_of_sale(org.id, &fields).await?;
    Ok((StatusCode::CREATED, Json(pos)))
}

/// `GET /api/v1/organisations/{inn}/points-of-sale`.
#[utoipa::path(get, path = "/api/v1/organisations/{inn}/points-of-sale",
    params(("inn" = String, Path, description = "taxpayer number")),
    responses((status = 200, body = PointOfSaleList), (status = 404)))]
pub async fn list(
    Extension(caller): Extension<Caller>,
    inn: Result<Path<String>, PathRejection>,
) -> Result<Json<PointOfSaleList>, ApiError> {
    let Path(inn) = inn?;
    let org = organisation(&caller, &inn).await?;
    caller.require(Permission::ReadRegisters)?;
    let points_of_sale = caller
        .0
        .points_of_sale()
        .await?
        .into_iter()
        .filter(|pos| pos.org_id == org.id)
        .collect();
    Ok(Json(PointOfSaleList { points_of_sale }))
}

/// `GET /api/v1/points-of-sale/{id}`.
#[utoipa::path(get, path = "/api/v1/points-of-sale/{id}",
    params(("id" = i64, Path, description = "point of sale id")),
    responses((status = 200, body = PointOfSale), (status = 404)))]
pub async fn get_one(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<PointOfSale>, ApiError> {
    let Path(id) = id?;
    let pos = existing(&caller, id).await?;
    caller.require(Permission::ReadRegisters)?;
    Ok(Json(pos))
}

/// `PUT /api/v1/points-of-sale/{id}` → the point of sale with its new address.
#[utoipa::path(put, path = "/api/v1/points-of-sale/{id}", request_body = PosFields,
    params(("id" = i64, Path, description = "point of sale id")),
    responses((status = 200, body = PointOfSale), (status = 400), (status = 404)))]
pub async fn update(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<PosFields>, JsonRejection>,
) -> Result<Json<PointOfSale>, ApiError> {
    let Path(id) = id?;
    let Json(fields) = body?;
    existing(&caller, id).await?;
    caller.require(Permission::ChangeRegisters)?;
    Ok(Json(caller.0.update_point_of_sale(id, &fields).await?))
}

/// `DELETE /api/v1/points-of-sale/{id}` → 204; 409 while registers work there.
#[utoipa::path(delete, path = "/api/v1/points-of-sale/{id}",
    params(("id" = i64, Path, description = "point of sale id")),
    responses((status = 204), (status = 404), (status = 409)))]
pub async fn delete(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = id?;
    existing(&caller, id).await?;
    caller.require(Permission::ChangeRegisters)?;
    caller.0.delete_point_of_sale(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/organisations/{inn}/registers-by-point-of-sale` → the organisation's registers
/// grouped by point of sale.
#[utoipa::path(get, path = "/api/v1/organisations/{inn}/registers-by-point-of-sale",
    params(("inn" = String, Path, description = "taxpayer number")),
    responses((status = 200, body = RegistersByPointOfSale), (status = 404)))]
pub async fn registers_by_point_of_sale(
    Extension(caller): Extension<Caller>,
    inn: Result<Path<String>, PathRejection>,
) -> Result<Json<RegistersByPointOfSale>, ApiError> {
    let Path(inn) = inn?;
    let org = organisation(&caller, &inn).await?;
    caller.require(Permission::ReadRegisters)?;
    let search = RegisterSearch {
        org_inn: Some(org.inn.clone()),
        limit: GROUPED_LIMIT,
        ..RegisterSearch::default()
    };
    let (registers, _) = caller.0.search_registers(&search).await?;
    let mut views = RegisterView::read_all(&caller, registers).await?;
    let mut groups = Vec::new();
    for pos in caller.0.points_of_sale().await? {
        if pos.org_id != org.id {
            continue;
        }
        let (here, rest): (Vec<_>, Vec<_>) = views
            .into_iter()
            .partition(|view| view.register.pos_id == Some(pos.id));
        views = rest;
        groups.push(PointOfSaleGroup {
            point_of_sale: Some(pos),
            registers: here,
        });
    }
    if !views.is_empty() {
        groups.push(PointOfSaleGroup {
            point_of_sale: None,
            registers: views,
        });
    }
    Ok(Json(RegistersByPointOfSale { groups }))
}
