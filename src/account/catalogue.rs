//! The product catalogue KZ registers read with NOMENCLATURE: `/api/v1/catalogue` (read, with
//! its version), `/api/v1/catalogue/items` (add, change, remove) and `/api/v1/catalogue/import`
//! (CSV with columns `name`, `price` and optional `barcode`, `vat`, `section`, `unit`; an item
//! whose barcode is in the catalogue already is updated; one report entry per row). Every change
//! makes a new catalogue version, which registers pick up on their next NOMENCLATURE request.
//! Operator staff name the organisation with `org_id`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::auth::{Caller, Permission};
use super::csv_import::{amount_minor, read_rows, CsvRow};
use super::error::ApiError;
use crate::store::catalogue::{Catalogue, CatalogueItem, ImportedRow, NewCatalogueItem};

/// Unit of an item unless given.
const DEFAULT_UNIT: &str = "шт";

/// Query naming the organisation (operator staff only; others get their own).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrgQuery {
    /// Operator staff: the organisation.
    pub org_id: Option<i64>,
}

/// Body of `POST /api/v1/catalogue/items` and `PUT /api/v1/catalogue/items/{id}`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemRequest {
    /// Operator staff only, on POST: the organisation.
    pub org_id: Option<i64>,
    /// Name as printed on receipts.
    pub name: String,
    /// Barcode (unique in the catalogue).
    pub barcode: Option<String>,
    /// Sale price in minor units.
    pub price_minor: i64,
    /// VAT rate in percent; absent: not subject to VAT.
    pub vat_percent: Option<i64>,
    /// Section (department).
    pub section: Option<String>,
    /// Unit of measure (default `шт`).
    pub unit: Option<String>,
}

/// Answer of `POST /api/v1/catalogue/import`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Rows stored.
    pub stored: usize,
    /// One entry per data row.
    pub rows: Vec<ImportedRow>,
}

fn item_of(request: ItemRequest) -> NewCatalogueItem {
    NewCatalogueItem {
        name: request.name,
        barcode: request.barcode.filter(|b| !b.trim().is_empty()),
        price_minor: request.price_minor,
        vat_percent: request.vat_percent,
        section: request.section.filter(|s| !s.trim().is_empty()),
        unit: request.unit.unwrap_or_else(|| DEFAULT_UNIT.to_owned()),
    }
}

/// `GET /api/v1/catalogue?org_id=` → the catalogue with its version.
#[utoipa::path(get, path = "/api/v1/catalogue", params(OrgQuery),
    responses((status = 200, body = Catalogue), (status = 400), (status = 403), (status = 404)))]
pub async fn get(
    Extension(caller): Extension<Caller>,
    query: Result<Query<OrgQuery>, QueryRejection>,
) -> Result<Json<Catalogue>, ApiError> {
    let Query(query) = query?;
    caller.require(Permission::ReadCatalogue)?;
    let org_id = caller.target_org(query.org_id)?;
    Ok(Json(caller.0.catalogue(org_id).await?))
}

/// `POST /api/v1/catalogue/items` → 201 with the item; 400 naming a field, 409 for a barcode
/// already in the catalogue.
#[utoipa::path(post, path = "/api/v1/catalogue/items", request_body = ItemRequest,
    responses((status = 201, body = CatalogueItem), (status = 400), (status = 403),
        (status = 404), (status = 409)))]
pub async fn add(
    Extension(caller): Extension<Caller>,
    body: Result<Json<ItemRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<CatalogueItem>), ApiError> {
    let Json(request) = body?;
    caller.require(Permission::EditCatalogue)?;
    let org_id = caller.target_org(request.org_id)?;
    let item = caller
        .0
        .add_catalogue_item(org_id, &item_of(request))
        .await?;
    Ok((StatusCode::CREATED, Json(item)))
}

/// `PUT /api/v1/catalogue/items/{id}` → the item as stored; 404 out of scope.
#[utoipa::path(put, path = "/api/v1/catalogue/items/{id}", request_body = ItemRequest,
    params(("id" = i64, Path, description = "item id")),
    responses((status = 200, body = CatalogueItem), (status = 400), (status = 403),
        (status = 404), (status = 409)))]
pub async fn update(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<ItemRequest>, JsonRejection>,
) -> Result<Json<CatalogueItem>, ApiError> {
    let Path(id) = id?;
    let Json(request) = body?;
    caller.require(Permission::EditCatalogue)?;
    if request.org_id.is_some() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "org_id: an item stays in its organisation",
        ));
    }
    let item = caller
        .0
        .update_catalogue_item(id, &item_of(request))
        .await?;
    Ok(Json(item))
}

/// `DELETE /api/v1/catalogue/items/{id}` → 204; 404 out of scope.
#[utoipa::path(delete, path = "/api/v1/catalogue/items/{id}",
    params(("id" = i64, Path, description = "item id")),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn remove(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = id?;
    caller.require(Permission::EditCatalogue)?;
    caller.0.delete_catalogue_item(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One CSV row as an item, or the row's error naming the column.
fn row_item(row: &CsvRow) -> Result<NewCatalogueItem, String> {
    let price = amount_minor(row.required("price")?).map_err(|e| format!("price: {e}"))?;
    let vat_percent = row
        .get("vat")
        .map(|v| {
            v.trim_end_matches('%')
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("vat: {v:?} is not a whole percent"))
        })
        .transpose()?;
    Ok(NewCatalogueItem {
        name: row.required("name")?.to_owned(),
        barcode: row.get("barcode").map(str::to_owned),
        price_minor: price,
        vat_percent,
        section: row.get("section").map(str::to_owned),
        unit: row.get("unit").unwrap_or(DEFAULT_UNIT).to_owned(),
    })
}

/// `POST /api/v1/catalogue/import?org_id=` with a CSV file (`text/csv`) → one report entry per
/// row; rows that fail are reported and the others stored (one new version).
#[utoipa::path(post, path = "/api/v1/catalogue/import", params(OrgQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportReport), (status = 400), (status = 403),
        (status = 404)))]
pub async fn import(
    Extension(caller): Extension<Caller>,
    query: Result<Query<OrgQuery>, QueryRejection>,
    body: String,
) -> Result<Json<ImportReport>, ApiError> {
    let Query(query) = query?;
    caller.require(Permission::EditCatalogue)?;
    let org_id = caller.target_org(query.org_id)?;
    let rows = read_rows(&body, &["name", "price"])?
        .into_iter()
        .map(|(line, row)| (line, row.and_then(|row| row_item(&row))))
        .collect();
    let rows = caller.0.import_catalogue(org_id, rows).await?;
    let stored = rows.iter().filter(|r| r.result != "error").count();
    Ok(Json(ImportReport { stored, rows }))
}
