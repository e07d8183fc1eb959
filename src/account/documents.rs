//! `/api/v1/documents`: search (cursor-paginated, newest first) and one document — its stored
//! JSON, a readable receipt as the tax authority's check page shows it, the receipt's QR code as
//! SVG, and for operator staff the raw frame as hex.
//!
//! Everything is read from the projector's tables through the caller's tenant
//! (`store/reports.rs`), so another organisation's document (for a cashier: another register's)
//! answers 404. Times in queries and answers are the register's local wall clock, as printed on
//! the receipt: `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS`.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::{Extension, Json};
use chrono::{NaiveDate, NaiveDateTime};

use super::auth::{Caller, Permission};
use super::error::ApiError;
use crate::store::reports::{
    DocumentFilter, DocumentLine, DocumentSummary, Operation, PaymentForm, KINDS,
};

/// Page size of a search when the query names none.
const DEFAULT_PAGE: i64 = 50;
/// Largest search page.
const MAX_PAGE: i64 = 500;

/// Query of `GET /api/v1/documents` (and of the export, which adds its own fields).
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// One register (id).
    pub register_id: Option<i64>,
    /// Point of sale.
    pub point_of_sale_id: Option<i64>,
    /// RU fiscal drive number.
    pub fn_number: Option<String>,
    /// RU fiscal document number.
    pub fd_number: Option<i64>,
    /// Shift number.
    pub shift: Option<i64>,
    /// From this local time on (`YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS`).
    pub from: Option<String>,
    /// Before this local time (a date alone means the end of that day).
    pub to: Option<String>,
    /// Document kind: receipt, correction, bso, bso_correction, open_shift, close_shift,
    /// state_report, registration, registration_change, close_fn, kz_ticket, kz_close_shift,
    /// kz_x_report, kz_money_placement, other.
    pub kind: Option<String>,
    /// sale, refund, expense or expense_refund.
    pub operation: Option<String>,
    /// Paid (partly) in this form: cash, card, prepaid, credit, other.
    #[param(value_type = Option<String>)]
    pub payment: Option<PaymentForm>,
    /// Total at least, minor units (kopecks, tiyn).
    pub min_total: Option<i64>,
    /// Total at most, minor units.
    pub max_total: Option<i64>,
    /// Cashier's name contains.
    pub cashier: Option<String>,
    /// A line's product name contains.
    pub product: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50); for an export, the most rows wanted.
    pub limit: Option<i64>,
    /// Export only: csv, jsonl, fns or xlsx.
    pub format: Option<String>,
    /// Export only, CSV: start with a UTF-8 byte order mark (Excel).
    pub bom: Option<bool>,
    /// Export only, CSV: comma (default), semicolon or tab.
    pub separator: Option<String>,
    /// Export only: add each document's delivery state (`received`, `batched`, `accepted`,
    /// `rejected`) as a column (CSV, XLSX) or field (JSON lines). Off by default: it is read
    /// from the stored documents, which makes a large export several times slower.
    pub delivery: Option<bool>,
}

/// Answer of `GET /api/v1/documents`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DocumentPage {
    /// Newest first.
    pub documents: Vec<DocumentSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The receipt as the check page shows it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ReceiptView {
    /// Seller's name.
    pub seller: Option<String>,
    /// Seller's taxpayer number.
    pub seller_tax_id: Option<String>,
    /// Address of settlement.
    pub address: Option<String>,
    /// Place of settlement.
    pub place: Option<String>,
    /// Register's registration number.
    pub registration_number: Option<String>,
    /// Operation.
    pub operation: Option<String>,
    /// Local date and time.
    pub date: String,
    /// Shift number.
    pub shift_number: Option<i64>,
    /// Cashier.
    pub cashier: Option<String>,
    /// Lines with their VAT.
    pub lines: Vec<DocumentLine>,
    /// Total, minor units.
    pub total: i64,
    /// Paid in cash.
    pub cash: i64,
    /// Paid by card.
    pub card: i64,
    /// Prepayment.
    pub prepaid: i64,
    /// Credit.
    pub credit: i64,
    /// Other forms.
    pub other_payment: i64,
    /// RU: ФН; KZ: absent.
    pub fn_number: Option<String>,
    /// RU: ФД.
    pub fd_number: Option<i64>,
    /// RU: ФП; KZ: the fiscal sign (ticket number).
    pub fiscal_sign: Option<String>,
}

/// Answer of `GET /api/v1/documents/{id}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DocumentView {
    /// The index row.
    pub document: DocumentSummary,
    /// The JSON: RU FNS JSON, KZ header and request (rendered from the frame).
    #[schema(value_type = Object)]
    pub json: serde_json::Value,
    /// The readable receipt (receipts only).
    pub receipt: Option<ReceiptView>,
    /// What the QR code encodes (receipts only).
    pub qr_text: Option<String>,
    /// The QR code as SVG.
    pub qr_svg: Option<String>,
    /// The frame as received, hex: operator staff only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_hex: Option<String>,
}

fn bad(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_query", format!("{field}: {message}"))
}

/// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS` as local seconds; a bare date at `to` means the day's
/// end (the next midnight).
pub fn parse_local(field: &str, text: &str, end_of_day: bool) -> Result<i64, ApiError> {
    if let Ok(time) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S") {
        return Ok(time.and_utc().timestamp());
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| bad(field, "expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS"))?;
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    Ok(midnight.timestamp() + if end_of_day { 86_400 } else { 0 })
}

fn parse_cursor(text: &str) -> Result<(i64, i64), ApiError> {
    let (time, id) = text
        .split_once('_')
        .ok_or_else(|| bad("cursor", "not a cursor this API gave"))?;
    let time = time
        .parse()
        .map_err(|_| bad("cursor", "not a cursor this API gave"))?;
    let id = id
        .parse()
        .map_err(|_| bad("cursor", "not a cursor this API gave"))?;
    Ok((time, id))
}

/// The cursor that continues after `last`.
pub fn cursor_of(last: &DocumentSummary) -> String {
    format!("{}_{}", last.doc_time_secs, last.id)
}

/// Check the query's filters and make the store's filter of them (`limit` left at 0).
pub fn filter_of(query: &SearchQuery) -> Result<DocumentFilter, ApiError> {
    if let Some(kind) = &query.kind {
        if !KINDS.contains(&kind.as_str()) {
            return Err(bad("kind", format!("one of {}", KINDS.join(", "))));
        }
    }
    if let Some(operation) = &query.operation {
        if Operation::parse(operation).is_none() {
            return Err(bad(
                "operation",
                "one of sale, refund, expense, expense_refund",
            ));
        }
    }
    if let (Some(min), Some(max)) = (query.min_total, query.max_total) {
        if min > max {
            return Err(bad("min_total", "must not exceed max_total"));
        }
    }
    let from_time = query
        .from
        .as_deref()
        .map(|t| parse_local("from", t, false))
        .transpose()?;
    let to_time = query
        .to
        .as_deref()
        .map(|t| parse_local("to", t, true))
        .transpose()?;
    if let (Some(from), Some(to)) = (from_time, to_time) {
        if from >= to {
            return Err(bad("from", "must be before to"));
        }
    }
    Ok(DocumentFilter {
        register_id: query.register_id,
        point_of_sale_id: query.point_of_sale_id,
        fn_number: query.fn_number.clone(),
        fd_number: query.fd_number,
        shift_number: query.shift,
        from_time,
        to_time,
        kind: query.kind.clone(),
        operation: query.operation.clone(),
        payment: query.payment,
        min_total: query.min_total,
        max_total: query.max_total,
        cashier: query.cashier.clone().filter(|c| !c.is_empty()),
        product: query.product.clone().filter(|p| !p.is_empty()),
        before: query.cursor.as_deref().map(parse_cursor).transpose()?,
        limit: 0,
    })
}

/// `GET /api/v1/documents?…` → one page of the documents in scope, newest first.
#[utoipa::path(get, path = "/api/v1/documents", params(SearchQuery),
    responses((status = 200, body = DocumentPage), (status = 400), (status = 403)))]
pub async fn search(
    Extension(caller): Extension<Caller>,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Json<DocumentPage>, ApiError> {
    let Query(query) = query?;
    caller.require(Permission::ReadDocuments)?;
    for (field, set) in [
        ("format", query.format.is_some()),
        ("bom", query.bom.is_some()),
        ("separator", query.separator.is_some()),
        ("delivery", query.delivery.is_some()),
    ] {
        if set {
            return Err(bad(field, "only for /api/v1/documents/export"));
        }
    }
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(bad("limit", format!("must be between 1 and {MAX_PAGE}")));
    }
    let mut filter = filter_of(&query)?;
    filter.limit = limit;
    let documents = caller.0.search_documents(&filter).await?;
    let full = i64::try_from(documents.len()).is_ok_and(|n| n == limit);
    let next_cursor = documents.last().filter(|_| full).map(cursor_of);
    Ok(Json(DocumentPage {
        documents,
        next_cursor,
    }))
}

/// The RU check-page QR text: `t=YYYYMMDDTHHMM&s=R.KK&fn=…&i=…&fp=…&n=…`.
fn ru_qr_text(document: &DocumentSummary) -> Option<String> {
    let operation = match document.operation.as_deref()? {
        "sale" => 1,
        "refund" => 2,
        "expense" => 3,
        _ => 4,
    };
    let time = chrono::DateTime::from_timestamp(document.doc_time_secs, 0)?.naive_utc();
    Some(format!(
        "t={}&s={}.{:02}&fn={}&i={}&fp={}&n={operation}",
        time.format("%Y%m%dT%H%M"),
        document.total / 100,
        document.total % 100,
        document.fn_number.as_deref()?,
        document.fd_number?,
        document.fiscal_sign.as_deref()?,
    ))
}

/// `text` as an SVG QR code.
fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build(),
    )
}

/// A string field of the RU FNS JSON's form object.
fn ru_field(json: &serde_json::Value, name: &str) -> Option<String> {
    json.as_object()?
        .values()
        .next()?
        .get(name)?
        .as_str()
        .map(str::to_owned)
}

/// `GET /api/v1/documents/{id}` → the document, its receipt view and QR code; 404 when out of
/// scope.
#[utoipa::path(get, path = "/api/v1/documents/{id}",
    params(("id" = i64, Path, description = "document id")),
    responses((status = 200, body = DocumentView), (status = 404)))]
pub async fn get_one(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<DocumentView>, ApiError> {
    let Path(id) = id?;
    let stored = caller
        .0
        .document(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("document {id}")))?;
    caller.require(Permission::ReadDocuments)?;
    let json: serde_json::Value =
        serde_json::from_str(&stored.json).unwrap_or(serde_json::Value::Null);
    let document = stored.summary;
    let is_receipt = document.operation.is_some();
    let qr_text = if !is_receipt {
        None
    } else if document.dialect == "kz" {
        stored.kz_qr.clone()
    } else {
        ru_qr_text(&document)
    };
    let (owner_name, owner_tax_id, owner_address) = match stored.owner {
        Some((name, tax_id, address)) => (Some(name), Some(tax_id), address),
        None => (None, None, None),
    };
    let receipt = is_receipt.then(|| ReceiptView {
        seller: ru_field(&json, "user").or(owner_name),
        seller_tax_id: ru_field(&json, "userInn").or(owner_tax_id),
        address: ru_field(&json, "retailPlaceAddress").or(owner_address),
        place: ru_field(&json, "retailPlace"),
        registration_number: ru_field(&json, "kktRegId").or(stored.reg_number.clone()),
        operation: document.operation.clone(),
        date: document.doc_time.clone(),
        shift_number: document.shift_number,
        cashier: document.cashier.clone(),
        lines: stored.lines,
        total: document.total,
        cash: document.cash,
        card: document.card,
        prepaid: document.prepaid,
        credit: document.credit,
        other_payment: document.other_payment,
        fn_number: document.fn_number.clone(),
        fd_number: document.fd_number,
        fiscal_sign: document.fiscal_sign.clone(),
    });
    let raw_hex = super::auth::allows(caller.0.actor().role(), Permission::ReadRawFrames)
        .then(|| hex::encode(&stored.raw));
    if raw_hex.is_some() {
        caller
            .0
            .audit(None, "document.raw_read", format!("document:{id}"))
            .await?;
    }
    Ok(Json(DocumentView {
        qr_svg: qr_text.as_deref().and_then(qr_svg),
        qr_text,
        document,
        json,
        receipt,
        raw_hex,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_and_dates_parse_and_a_bare_end_date_includes_its_day() {
        let from = parse_local("from", "2026-12-01", false).expect("date");
        let to = parse_local("to", "2026-12-01", true).expect("date");
        assert_eq!(to - from, 86_400);
        let exact = parse_local("from", "2026-12-01T10:30:00", false).expect("time");
        assert_eq!(exact - from, 10 * 3600 + 30 * 60);
        let error = parse_local("from", "yesterday", false).expect_err("refused");
        assert!(format!("{error:?}").contains("from:"), "{error:?}");
    }

    #[test]
    fn a_filter_with_an_unknown_kind_or_operation_names_the_field() {
        let query = SearchQuery {
            kind: Some("invoice".into()),
            ..SearchQuery::default()
        };
        assert!(format!("{:?}", filter_of(&query).expect_err("kind")).contains("kind:"));
        let query = SearchQuery {
            operation: Some("gift".into()),
            ..SearchQuery::default()
        };
        assert!(format!("{:?}", filter_of(&query).expect_err("op")).contains("operation:"));
    }
}
