//! Documents: the search form with every filter of `GET /api/v1/documents` (register, point of
//! sale, ФН, ФД, shift, date range, kind, operation, payment form, amount range, cashier,
//! product), the result table newest first with the API's cursor paging, one document's page
//! (the receipt as the tax authority's check page shows it, its QR code, the stored FNS JSON,
//! and for operator staff the raw frame as hex), and the export buttons.
//!
//! Everything is read through the API's handlers in-process ([`api::search`], [`api::get_one`],
//! [`exports::export`]), so scope, role and validation are the API's: another organisation's
//! document is the 404 page. The export is a page route (`/documents/export`) that answers with
//! the API's own streamed file, because operator staff's browsers carry an operator cookie that
//! the JSON API does not read; the filters travel as the same query fields.
//!
//! Amounts are typed in roubles / tenge (`1500`, `1 500,50`, `1500.5`) and sent to the API in
//! minor units. The QR code is the API's SVG, shown as an `<img>` from a `data:` URL (the
//! Content-Security-Policy allows `img-src data:`, and an image cannot carry script or style into
//! the page).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse as _, Response};
use axum::{Extension, Json};
use base64::Engine as _;
use maud::{html, Markup};

use super::forms::parse_id;
use super::forms::{input_with_id, select_with_id, Problems};
use super::local_time::currency_of;
use super::{Ctx, OrPage as _, Signed};
use crate::account::auth::{Caller, Permission};
use crate::account::documents::{self as api, DocumentView, ReceiptView, SearchQuery};
use crate::account::error::ApiError;
use crate::account::exports;
use crate::account::AppState;
use crate::store::reports::{DocumentSummary, PaymentForm, KINDS};

/// Rows per page.
const PAGE: i64 = 50;

/// The query fields of the search form, in its order (each one a filter of the API).
const FILTERS: [&str; 15] = [
    "register_id",
    "point_of_sale_id",
    "fn_number",
    "fd_number",
    "shift",
    "from",
    "to",
    "kind",
    "operation",
    "payment",
    "min_total",
    "max_total",
    "cashier",
    "product",
    "cursor",
];

fn bad(field: &str, message: &str) -> ApiError {
    ApiError::bad_request("invalid_query", format!("{field}: {message}"))
}

/// An amount typed in major units (`1 500,50`, `1500.5`, `-3`) as minor units.
pub fn minor_units(text: &str) -> Option<i64> {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
        .map(|c| if c == ',' { '.' } else { c })
        .collect();
    let (negative, digits) = match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, cleaned.as_str()),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty()
        || fraction.len() > 2
        || !whole
            .chars()
            .chain(fraction.chars())
            .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let cents: i64 = format!("{fraction:0<2}").parse().ok()?;
    let minor = whole.checked_mul(100)?.checked_add(cents)?;
    Some(if negative { -minor } else { minor })
}

/// The API's query of the page's query fields; a malformed field is refused naming it.
pub fn search_query(query: &HashMap<String, String>) -> Result<SearchQuery, ApiError> {
    let text = |name: &str| {
        query
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let int = |name: &str| -> Result<Option<i64>, ApiError> {
        text(name)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| bad(name, "not a whole number"))
            })
            .transpose()
    };
    let money = |name: &str| -> Result<Option<i64>, ApiError> {
        text(name)
            .map(|v| minor_units(&v).ok_or_else(|| bad(name, "not an amount")))
            .transpose()
    };
    let payment = text("payment")
        .map(|v| {
            serde_json::from_value::<PaymentForm>(serde_json::Value::String(v))
                .map_err(|_| bad("payment", "one of cash, card, prepaid, credit, other"))
        })
        .transpose()?;
    Ok(SearchQuery {
        register_id: int("register_id")?,
        point_of_sale_id: int("point_of_sale_id")?,
        fn_number: text("fn_number"),
        fd_number: int("fd_number")?,
        shift: int("shift")?,
        from: text("from"),
        to: text("to"),
        kind: text("kind"),
        operation: text("operation"),
        payment,
        min_total: money("min_total")?,
        max_total: money("max_total")?,
        cashier: text("cashier"),
        product: text("product"),
        cursor: text("cursor"),
        ..SearchQuery::default()
    })
}

/// `path?` with the non-empty filters of `query` (less `cursor`) and `extra` pairs.
fn link(path: &str, query: &HashMap<String, String>, extra: &[(&str, &str)]) -> String {
    let mut pairs = url::form_urlencoded::Serializer::new(String::new());
    for name in FILTERS.iter().filter(|n| **n != "cursor") {
        if let Some(value) = query.get(*name).filter(|v| !v.trim().is_empty()) {
            pairs.append_pair(name, value);
        }
    }
    for (name, value) in extra {
        pairs.append_pair(name, value);
    }
    format!("{path}?{}", pairs.finish())
}

/// The message key of a document kind.
pub fn kind_key(kind: &str) -> String {
    format!("doc.kind.{kind}")
}

fn operation_key(operation: &str) -> &'static str {
    match operation {
        "sale" => "doc.op.sale",
        "refund" => "doc.op.refund",
        "expense" => "doc.op.expense",
        _ => "doc.op.expense_refund",
    }
}

fn kind_label(ctx: &Ctx, kind: &str) -> String {
    ctx.lang.lookup(&kind_key(kind)).unwrap_or(kind).to_owned()
}

/// The document's number as people know it: ФД (RU) or the ticket number (KZ).
fn number_of(document: &DocumentSummary) -> String {
    match (&document.fd_number, &document.kz_ticket) {
        (Some(fd), _) => fd.to_string(),
        (None, Some(ticket)) => ticket.clone(),
        (None, None) => String::new(),
    }
}

/// `GET /documents?<filters>&cursor=`: the search form, one page of results, export buttons.
pub async fn search(
    Signed(ctx, caller): Signed,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let mut problems = Problems::none();
    let mut page = None;
    match search_query(&query) {
        Ok(mut search) => {
            search.limit = Some(PAGE);
            match api::search(Extension(caller.clone()), Ok(Query(search))).await {
                Ok(Json(found)) => page = Some(found),
                Err(error) if error.status().as_u16() == 400 => {
                    problems = Problems::from_api(&error)
                }
                Err(error) => return Err(ctx.fail(error)),
            }
        }
        Err(error) => problems = Problems::from_api(&error),
    }
    let value = |name: &str| query.get(name).map(String::as_str).unwrap_or("");
    let any = ctx.t("filter.any");
    let mut kinds: Vec<(&str, String)> = vec![("", any.to_owned())];
    kinds.extend(KINDS.iter().map(|k| (*k, kind_label(&ctx, k))));
    let kinds: Vec<(&str, &str)> = kinds.iter().map(|(k, l)| (*k, l.as_str())).collect();
    let operations = [
        ("", any),
        ("sale", ctx.t("doc.op.sale")),
        ("refund", ctx.t("doc.op.refund")),
        ("expense", ctx.t("doc.op.expense")),
        ("expense_refund", ctx.t("doc.op.expense_refund")),
    ];
    let payments = [
        ("", any),
        ("cash", ctx.t("doc.pay.cash")),
        ("card", ctx.t("doc.pay.card")),
        ("prepaid", ctx.t("doc.pay.prepaid")),
        ("credit", ctx.t("doc.pay.credit")),
        ("other", ctx.t("doc.pay.other")),
    ];
    let field = |name: &str, key: &str, kind: &str| {
        input_with_id(
            &ctx,
            &problems,
            &format!("q-{name}"),
            name,
            key,
            kind,
            value(name),
            false,
        )
    };
    let may_export = caller.require(Permission::ExportDocuments).is_ok();
    let body = html! {
        form.filters.documents method="get" action="/documents" {
            (field("register_id", "doc.f.register", "number"))
            (field("point_of_sale_id", "doc.f.point_of_sale", "number"))
            (field("fn_number", "doc.f.fn", "text"))
            (field("fd_number", "doc.f.fd", "number"))
            (field("shift", "doc.f.shift", "number"))
            (field("from", "doc.f.from", "date"))
            (field("to", "doc.f.to", "date"))
            (select_with_id(&ctx, &problems, "q-kind", "kind", "doc.f.kind", &kinds, value("kind")))
            (select_with_id(&ctx, &problems, "q-operation", "operation", "doc.f.operation", &operations, value("operation")))
            (select_with_id(&ctx, &problems, "q-payment", "payment", "doc.f.payment", &payments, value("payment")))
            (field("min_total", "doc.f.min_total", "text"))
            (field("max_total", "doc.f.max_total", "text"))
            (field("cashier", "doc.f.cashier", "text"))
            (field("product", "doc.f.product", "text"))
            button type="submit" { (ctx.t("filter.apply")) }
        }
        (problems.summary(&ctx))
        @if let Some(page) = &page {
            @if page.documents.is_empty() {
                p.quiet { (ctx.t("doc.none")) }
            } @else {
                div.scroll {
                    table.documents {
                        thead { tr {
                            th { (ctx.t("doc.c.time")) }
                            th { (ctx.t("doc.c.register")) }
                            th { (ctx.t("doc.c.kind")) }
                            th { (ctx.t("doc.c.number")) }
                            th { (ctx.t("doc.c.shift")) }
                            th.num { (ctx.t("doc.c.total")) }
                            th { (ctx.t("doc.c.cashier")) }
                            th { (ctx.t("doc.c.delivery")) }
                        } }
                        tbody {
                            @for d in &page.documents {
                                tr.document {
                                    td { a href={ "/documents/" (d.id) } { (ctx.lang.local_time(&d.doc_time)) } }
                                    td { @if let Some(r) = d.register_id { (r) } }
                                    td {
                                        (kind_label(&ctx, &d.kind))
                                        @if let Some(op) = &d.operation { " · " (ctx.t(operation_key(op))) }
                                    }
                                    td { (number_of(d)) }
                                    td { @if let Some(s) = d.shift_number { (s) } }
                                    td.num { (ctx.lang.money(d.total, currency_of(&d.dialect))) }
                                    td { (d.cashier.as_deref().unwrap_or("")) }
                                    td { (delivery_label(&ctx, &d.delivery)) }
                                }
                            }
                        }
                    }
                }
                @if let Some(next) = &page.next_cursor {
                    p { a rel="next" href=(link("/documents", &query, &[("cursor", next)])) { (ctx.t("paging.next")) } }
                }
            }
        }
        @if may_export {
            section aria-labelledby="h-export" {
                h2 id="h-export" { (ctx.t("doc.export")) }
                form.filters method="get" action="/documents/export" {
                    @for name in FILTERS.iter().filter(|n| **n != "cursor") {
                        @if !value(name).trim().is_empty() {
                            input type="hidden" name=(name) value=(value(name));
                        }
                    }
                    (select_with_id(&ctx, &Problems::none(), "x-separator", "separator", "doc.separator", &[
                        ("comma", ctx.t("doc.sep.comma")),
                        ("semicolon", ctx.t("doc.sep.semicolon")),
                        ("tab", ctx.t("doc.sep.tab")),
                    ], "semicolon"))
                    div.field.check {
                        input id="x-bom" type="checkbox" name="bom" value="true" checked;
                        label for="x-bom" { (ctx.t("doc.bom")) }
                    }
                    button type="submit" name="format" value="csv" { "CSV" }
                    button type="submit" name="format" value="xlsx" { "XLSX" }
                    button type="submit" name="format" value="jsonl" { (ctx.t("doc.jsonl")) }
                    button type="submit" name="format" value="fns" { (ctx.t("doc.fns_json")) }
                }
                p.quiet { (ctx.t("doc.export_hint")) }
            }
        }
    };
    Ok(ctx.page(ctx.t("doc.title"), body))
}

fn delivery_label(ctx: &Ctx, delivery: &str) -> String {
    ctx.lang
        .lookup(&format!("doc.delivery.{delivery}"))
        .unwrap_or(delivery)
        .to_owned()
}

/// `GET /documents/export?format=&bom=&separator=&<filters>`: the API's export of the same
/// search, as the file it streams.
pub async fn export(
    State(state): State<AppState>,
    Signed(ctx, caller): Signed,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let mut search = search_query(&query).or_page(&ctx)?;
    let format = query
        .get("format")
        .cloned()
        .unwrap_or_else(|| "csv".to_owned());
    if format == "csv" {
        search.bom = Some(query.get("bom").is_some_and(|v| v == "true"));
        search.separator = query.get("separator").cloned();
    }
    search.format = Some(format);
    let file = exports::export(State(state), Extension(caller), Ok(Query(search)))
        .await
        .or_page(&ctx)?;
    Ok(file.into_response())
}

/// `GET /documents/{id}`: one document (the 404 page when it is not in the caller's scope).
pub async fn one(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let Json(view) = api::get_one(Extension(caller.clone()), Ok(Path(id)))
        .await
        .or_page(&ctx)?;
    Ok(document_page(&ctx, &caller, &view))
}

fn document_page(ctx: &Ctx, caller: &Caller, view: &DocumentView) -> Response {
    let d = &view.document;
    let currency = currency_of(&d.dialect);
    let money = |minor: i64| ctx.lang.money(minor, currency);
    let row = |key: &str, value: String| -> Markup {
        html! { tr { th scope="row" { (ctx.t(key)) } td { (value) } } }
    };
    let qr = view.qr_svg.as_ref().map(|svg| {
        format!(
            "data:image/svg+xml;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(svg)
        )
    });
    let json = serde_json::to_string_pretty(&view.json).unwrap_or_default();
    let body = html! {
        @if let Some(receipt) = &view.receipt {
            (receipt_markup(ctx, receipt, currency))
        } @else {
            table.details {
                (row("doc.c.kind", kind_label(ctx, &d.kind)))
                (row("doc.c.time", ctx.lang.local_time(&d.doc_time)))
                @if let Some(s) = d.shift_number { (row("doc.c.shift", s.to_string())) }
                @if let Some(f) = &d.fn_number { (row("doc.fn", f.clone())) }
                @if let Some(f) = d.fd_number { (row("doc.fd", f.to_string())) }
                @if let Some(f) = &d.fiscal_sign { (row("doc.fp", f.clone())) }
                @if d.total != 0 { (row("doc.total", money(d.total))) }
            }
        }
        table.details {
            @if let Some(r) = d.register_id {
                tr { th scope="row" { (ctx.t("doc.c.register")) } td {
                    @if caller.require(Permission::ReadRegisters).is_ok() {
                        a href={ "/registers/" (r) } { (r) }
                    } @else { (r) }
                } }
            }
            (row("doc.c.delivery", delivery_label(ctx, &d.delivery)))
            (row("doc.received", ctx.when(d.received_at)))
        }
        @if let (Some(qr), Some(text)) = (&qr, &view.qr_text) {
            figure.qr {
                img #qr src=(qr) alt=(ctx.t("doc.qr")) width="200" height="200";
                figcaption { code { (text) } }
            }
        }
        details {
            summary { (ctx.t("doc.json")) }
            pre.json { (json) }
        }
        @if let Some(hex) = &view.raw_hex {
            details #raw {
                summary { (ctx.t("doc.raw")) }
                pre.hex { (hex) }
            }
        }
        p { a href="/documents" { (ctx.t("doc.back")) } }
    };
    let title = match &view.receipt {
        Some(_) => ctx.t1("doc.receipt_title", number_of(d)),
        None => ctx.t1("doc.one_title", d.id),
    };
    ctx.page(&title, body)
}

/// The receipt as the check page lays it out: seller, address, lines with VAT, totals, payment
/// forms, fiscal data.
fn receipt_markup(ctx: &Ctx, r: &ReceiptView, currency: super::i18n::Currency) -> Markup {
    let money = |minor: i64| ctx.lang.money(minor, currency);
    let payments = [
        ("doc.pay.cash", r.cash),
        ("doc.pay.card", r.card),
        ("doc.pay.prepaid", r.prepaid),
        ("doc.pay.credit", r.credit),
        ("doc.pay.other", r.other_payment),
    ];
    html! {
        article.receipt {
            header {
                @if let Some(seller) = &r.seller { p.seller { strong { (seller) } } }
                @if let Some(tax_id) = &r.seller_tax_id { p { (ctx.t("doc.tax_id")) " " (tax_id) } }
                @if let Some(address) = &r.address { p { (ctx.t("doc.address")) " " (address) } }
                @if let Some(place) = &r.place { p { (ctx.t("doc.place")) " " (place) } }
                p {
                    @if let Some(op) = &r.operation { strong { (ctx.t(operation_key(op))) } " · " }
                    time { (ctx.lang.local_time(&r.date)) }
                }
                p {
                    @if let Some(shift) = r.shift_number { (ctx.t("doc.c.shift")) " " (shift) " · " }
                    @if let Some(cashier) = &r.cashier { (ctx.t("doc.c.cashier")) " " (cashier) }
                }
            }
            div.scroll {
                table.lines {
                    thead { tr {
                        th { (ctx.t("doc.l.name")) }
                        th.num { (ctx.t("doc.l.price")) }
                        th.num { (ctx.t("doc.l.quantity")) }
                        th.num { (ctx.t("doc.l.amount")) }
                        th { (ctx.t("doc.l.vat")) }
                    } }
                    tbody {
                        @for line in &r.lines {
                            tr {
                                td { (line.name) }
                                td.num { (money(line.price)) }
                                td.num { (line.quantity) }
                                td.num { (money(line.amount)) }
                                td {
                                    (line.vat_rate.as_deref().unwrap_or(ctx.t("doc.no_vat")))
                                    @if let Some(vat) = line.vat_amount { " · " (money(vat)) }
                                }
                            }
                        }
                    }
                }
            }
            table.details.totals {
                tr.total { th scope="row" { (ctx.t("doc.total")) } td.num #receipt-total { (money(r.total)) } }
                @for (key, amount) in payments {
                    @if amount != 0 { tr { th scope="row" { (ctx.t(key)) } td.num { (money(amount)) } } }
                }
            }
            table.details.fiscal {
                @if let Some(reg) = &r.registration_number { tr { th scope="row" { (ctx.t("doc.reg_number")) } td { (reg) } } }
                @if let Some(f) = &r.fn_number { tr { th scope="row" { (ctx.t("doc.fn")) } td { (f) } } }
                @if let Some(f) = r.fd_number { tr { th scope="row" { (ctx.t("doc.fd")) } td { (f) } } }
                @if let Some(f) = &r.fiscal_sign { tr { th scope="row" { (ctx.t("doc.fp")) } td { (f) } } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_typed_in_major_units_become_minor_units() {
        assert_eq!(minor_units("1500"), Some(150_000));
        assert_eq!(minor_units("1 500,5"), Some(150_050));
        assert_eq!(minor_units("0.07"), Some(7));
        assert_eq!(minor_units("-3"), Some(-300));
        assert_eq!(minor_units("1.234"), None);
        assert_eq!(minor_units("ten"), None);
        assert_eq!(minor_units(","), None);
    }

    #[test]
    fn a_malformed_filter_is_refused_naming_its_field() {
        let query: HashMap<String, String> = [("shift".to_owned(), "x".to_owned())].into();
        let error = search_query(&query).expect_err("refused");
        assert_eq!(
            Problems::from_api(&error).of("shift"),
            Some("not a whole number")
        );
        let query: HashMap<String, String> = [
            ("min_total".to_owned(), "10,5".to_owned()),
            ("payment".to_owned(), "card".to_owned()),
            ("kind".to_owned(), String::new()),
        ]
        .into();
        let search = search_query(&query).expect("fine");
        assert_eq!(search.min_total, Some(1050));
        assert_eq!(search.payment, Some(PaymentForm::Card));
        assert_eq!(search.kind, None);
    }
}
