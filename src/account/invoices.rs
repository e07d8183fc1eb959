//! Invoices: `/api/v1/invoices`. An organisation's owner or accountant (or operator staff,
//! naming `org_id`) issues an invoice for its registers' tariffs; only operator staff mark one
//! paid, by hand (`POST /invoices/{id}/paid`) or from a bank statement
//! (`POST /invoices/payments-import`, CSV with `invoice_number` and `amount` columns and an
//! optional `reference`, one report entry per row). Paying extends the registers' paid-until
//! dates and re-activates registers blocked for nonpayment (`store/invoices.rs`). Operator
//! staff also withdraw an unpaid invoice (`POST /invoices/{id}/cancel`).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::auth::{Caller, Permission};
use super::csv_import::{amount_minor, read_rows};
use super::error::ApiError;
use crate::clock::unix_millis;
use crate::store::invoices::{Invoice, InvoiceStatus, NewInvoice, NewInvoiceLine, PaymentRefusal};
use crate::store::tariffs::DAY_MS;

/// Days until an invoice is due unless the request says.
const DEFAULT_DUE_DAYS: i64 = 10;

/// One line of `POST /api/v1/invoices`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineRequest {
    /// Pay this register's current plan…
    pub register_id: Option<i64>,
    /// …for this many periods (default 1).
    pub periods: Option<i64>,
    /// A line without a register: its description…
    pub description: Option<String>,
    /// …and amount in minor units.
    pub amount_minor: Option<i64>,
}

/// Body of `POST /api/v1/invoices`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceRequest {
    /// Operator staff only: the organisation billed.
    pub org_id: Option<i64>,
    /// Days until due (1 to 365, default 10).
    pub due_in_days: Option<i64>,
    /// Currency; required only when no line names a register.
    pub currency: Option<String>,
    /// The lines.
    pub lines: Vec<LineRequest>,
}

/// Query of `GET /api/v1/invoices`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InvoiceQuery {
    /// Only `unpaid`, `paid` or `cancelled`.
    pub status: Option<InvoiceStatus>,
}

/// Answer of `GET /api/v1/invoices`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct InvoiceList {
    /// Newest first.
    pub invoices: Vec<Invoice>,
}

/// Body of `POST /api/v1/invoices/{id}/paid`.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaidRequest {
    /// The bank's payment reference or a note.
    pub payment_ref: Option<String>,
}

/// Body of `POST /api/v1/invoices/{id}/cancel`.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Why, for the audit log.
    pub reason: Option<String>,
}

/// One row of a bank-statement import.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PaymentRow {
    /// Line in the file (1 = the header).
    pub line: u64,
    /// The invoice number the row quotes.
    pub invoice_number: Option<String>,
    /// `paid`, `unknown_invoice`, `amount_mismatch`, `not_unpaid` or `invalid_row`.
    pub result: &'static str,
    /// What went wrong, for people.
    pub error: Option<String>,
}

/// Answer of `POST /api/v1/invoices/payments-import`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PaymentReport {
    /// Rows that paid an invoice.
    pub paid: usize,
    /// One entry per data row, in file order.
    pub rows: Vec<PaymentRow>,
}

/// `POST /api/v1/invoices` → 201 with the invoice (number `INV-…`, lines priced from the
/// registers' plans). 400 naming the field, 403 for roles that may not bill, 404 for another
/// organisation.
#[utoipa::path(post, path = "/api/v1/invoices", request_body = InvoiceRequest,
    responses((status = 201, body = Invoice), (status = 400), (status = 403), (status = 404)))]
pub async fn create(
    Extension(caller): Extension<Caller>,
    body: Result<Json<InvoiceRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Invoice>), ApiError> {
    let Json(request) = body?;
    caller.require(Permission::ManageBilling)?;
    let org_id = caller.target_org(request.org_id)?;
    let due_days = request.due_in_days.unwrap_or(DEFAULT_DUE_DAYS);
    if !(1..=365).contains(&due_days) {
        return Err(ApiError::bad_request(
            "invalid_request",
            "due_in_days: 1 to 365",
        ));
    }
    let new = NewInvoice {
        org_id,
        due_at: unix_millis() + due_days * DAY_MS,
        currency: request.currency,
        lines: request
            .lines
            .into_iter()
            .map(|line| NewInvoiceLine {
                register_id: line.register_id,
                periods: line.periods.unwrap_or(1),
                description: line.description,
                amount_minor: line.amount_minor,
            })
            .collect(),
    };
    let invoice = caller.0.create_invoice(&new).await?;
    Ok((StatusCode::CREATED, Json(invoice)))
}

/// `GET /api/v1/invoices?status=` → the invoices in scope (operator staff: all).
#[utoipa::path(get, path = "/api/v1/invoices", params(InvoiceQuery),
    responses((status = 200, body = InvoiceList), (status = 403)))]
pub async fn list(
    Extension(caller): Extension<Caller>,
    query: Result<Query<InvoiceQuery>, QueryRejection>,
) -> Result<Json<InvoiceList>, ApiError> {
    let Query(query) = query?;
    caller.require(Permission::ReadBilling)?;
    let invoices = caller.0.invoices(query.status).await?;
    Ok(Json(InvoiceList { invoices }))
}

/// `GET /api/v1/invoices/{id}` → the invoice, or 404.
#[utoipa::path(get, path = "/api/v1/invoices/{id}",
    params(("id" = i64, Path, description = "invoice id")),
    responses((status = 200, body = Invoice), (status = 403), (status = 404)))]
pub async fn get_one(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Invoice>, ApiError> {
    let Path(id) = id?;
    let invoice = caller
        .0
        .invoice(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("invoice {id}")))?;
    caller.require(Permission::ReadBilling)?;
    Ok(Json(invoice))
}

/// `POST /api/v1/invoices/{id}/paid` → the paid invoice; operator staff only (403), 409 when
/// it is not unpaid, 404 when there is none.
#[utoipa::path(post, path = "/api/v1/invoices/{id}/paid", request_body = PaidRequest,
    params(("id" = i64, Path, description = "invoice id")),
    responses((status = 200, body = Invoice), (status = 403), (status = 404), (status = 409)))]
pub async fn mark_paid(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<PaidRequest>, JsonRejection>,
) -> Result<Json<Invoice>, ApiError> {
    let Path(id) = id?;
    let Json(request) = body?;
    if caller.0.invoice(id).await?.is_none() {
        return Err(ApiError::not_found(format!("invoice {id}")));
    }
    caller.require(Permission::MarkInvoicesPaid)?;
    let invoice = caller
        .0
        .mark_invoice_paid(id, request.payment_ref.as_deref())
        .await?;
    tracing::info!(invoice = id, "invoice marked paid");
    Ok(Json(invoice))
}

/// `POST /api/v1/invoices/{id}/cancel` → the cancelled invoice; operator staff only (403), 409
/// when it is not unpaid, 404 when there is none.
#[utoipa::path(post, path = "/api/v1/invoices/{id}/cancel", request_body = CancelRequest,
    params(("id" = i64, Path, description = "invoice id")),
    responses((status = 200, body = Invoice), (status = 403), (status = 404), (status = 409)))]
pub async fn cancel(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<CancelRequest>, JsonRejection>,
) -> Result<Json<Invoice>, ApiError> {
    let Path(id) = id?;
    let Json(request) = body?;
    if caller.0.invoice(id).await?.is_none() {
        return Err(ApiError::not_found(format!("invoice {id}")));
    }
    caller.require(Permission::MarkInvoicesPaid)?;
    let invoice = caller
        .0
        .cancel_invoice(id, request.reason.as_deref())
        .await?;
    Ok(Json(invoice))
}

/// `POST /api/v1/invoices/payments-import` with a CSV bank statement (`text/csv`; columns
/// `invoice_number`, `amount`, optional `reference`) → one report entry per row; operator staff
/// only. Each row is its own payment: a bad row does not stop the others.
#[utoipa::path(post, path = "/api/v1/invoices/payments-import",
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = PaymentReport), (status = 400), (status = 403)))]
pub async fn import_payments(
    Extension(caller): Extension<Caller>,
    body: String,
) -> Result<Json<PaymentReport>, ApiError> {
    caller.require(Permission::MarkInvoicesPaid)?;
    let rows = read_rows(&body, &["invoice_number", "amount"])?;
    let mut report = PaymentReport {
        paid: 0,
        rows: Vec::with_capacity(rows.len()),
    };
    for (line, row) in rows {
        let entry = |number: Option<&str>, result, error: Option<String>| PaymentRow {
            line,
            invoice_number: number.map(str::to_owned),
            result,
            error,
        };
        let row = match row {
            Ok(row) => row,
            Err(error) => {
                report.rows.push(entry(None, "invalid_row", Some(error)));
                continue;
            }
        };
        let number = row.get("invoice_number");
        let parsed = row
            .required("invoice_number")
            .and_then(|n| Ok((n, row.required("amount")?)))
            .and_then(|(n, a)| Ok((n, amount_minor(a).map_err(|e| format!("amount: {e}"))?)));
        let (number, amount) = match parsed {
            Ok(parsed) => parsed,
            Err(error) => {
                report.rows.push(entry(number, "invalid_row", Some(error)));
                continue;
            }
        };
        let applied = caller
            .0
            .apply_bank_payment(number, amount, row.get("reference"))
            .await?;
        report.rows.push(match applied {
            Ok(_) => {
                report.paid += 1;
                entry(Some(number), "paid", None)
            }
            Err(PaymentRefusal::Unknown) => entry(
                Some(number),
                "unknown_invoice",
                Some(format!("no invoice {number}")),
            ),
            Err(PaymentRefusal::AmountMismatch { billed }) => entry(
                Some(number),
                "amount_mismatch",
                Some(format!("paid {amount}, billed {billed} (minor units)")),
            ),
            Err(PaymentRefusal::NotUnpaid(status)) => entry(
                Some(number),
                "not_unpaid",
                Some(format!("the invoice is {}", status.as_str())),
            ),
        });
    }
    tracing::info!(
        paid = report.paid,
        rows = report.rows.len(),
        "bank payments imported"
    );
    Ok(Json(report))
}
