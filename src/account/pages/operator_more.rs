//! The operator console's work queues, below the organisations: applications submitted and
//! waiting for the tax authority's answer (answered on the application's page), open
//! wired-connection requests (scheduled on their page), unpaid invoices with a "mark paid" form
//! each, and the support view of one register: its details and the raw frames of its recent
//! documents as hex (the documents API shows them to operator staff only, and audits the read).

use std::collections::HashMap;

use axum::extract::{Path, Query};
use axum::response::{IntoResponse as _, Response};
use axum::{Extension, Json};
use maud::{html, Markup};

use super::forms::parse_id;
use super::forms::{input, Problems};
use super::parts::{self, wired_status_key};
use super::{Ctx, OrPage as _, Signed};
use crate::account::applications::{self as api_apps, ApplicationQuery};
use crate::account::auth::{Caller, Permission};
use crate::account::documents::{self, SearchQuery};
use crate::account::invoices::{self, InvoiceQuery};
use crate::account::registers;
use crate::account::wired_requests;
use crate::store::invoices::InvoiceStatus;
use crate::store::tax_applications::ApplicationStatus;
use crate::store::wired_requests::WiredStatus;

/// Recent documents the support view shows.
const SUPPORT_DOCUMENTS: i64 = 10;

/// The console's queues (operator staff only; the console checks that first).
pub async fn queues(ctx: &Ctx, caller: &Caller) -> Result<Markup, Response> {
    let Json(waiting) = api_apps::list_all(
        Extension(caller.clone()),
        Ok(Query(ApplicationQuery {
            status: Some(ApplicationStatus::Submitted),
        })),
    )
    .await
    .or_page(ctx)?;
    let Json(wired) = wired_requests::list(Extension(caller.clone()))
        .await
        .or_page(ctx)?;
    let open_wired: Vec<_> = wired
        .requests
        .iter()
        .filter(|r| matches!(r.status, WiredStatus::New | WiredStatus::Scheduled))
        .collect();
    let Json(unpaid) = invoices::list(
        Extension(caller.clone()),
        Ok(Query(InvoiceQuery {
            status: Some(InvoiceStatus::Unpaid),
        })),
    )
    .await
    .or_page(ctx)?;
    Ok(html! {
        p.links {
            a href="/registers" { (ctx.t("op.all_registers")) } " · "
            a href="/applications" { (ctx.t("op.all_applications")) } " · "
            a href="/money" { (ctx.t("money.title")) } " · "
            a href="/wired-requests" { (ctx.t("wired.title")) } " · "
            a href="/points-of-sale" { (ctx.t("pos.title")) }
        }
        section aria-labelledby="h-op-apps" {
            h2 id="h-op-apps" { (ctx.t("op.waiting_answers")) }
            @if waiting.applications.is_empty() {
                p.quiet { (ctx.t("app.none")) }
            } @else {
                (super::tax_apps::table(ctx, &waiting.applications))
            }
        }
        section aria-labelledby="h-op-wired" {
            h2 id="h-op-wired" { (ctx.t("op.open_wired")) }
            @if open_wired.is_empty() {
                p.quiet { (ctx.t("wired.none")) }
            } @else {
                ul {
                    @for r in &open_wired {
                        li {
                            a href="/wired-requests" { "№ " (r.id) } " · " (r.address) " · "
                            (parts::ymd(ctx, &r.preferred_date)) " · "
                            (ctx.t(wired_status_key(r.status.as_str())))
                        }
                    }
                }
            }
        }
        section aria-labelledby="h-op-invoices" {
            h2 id="h-op-invoices" { (ctx.t("op.unpaid_invoices")) }
            @if unpaid.invoices.is_empty() {
                p.quiet { (ctx.t("money.no_invoices")) }
            } @else {
                (super::money::invoice_table(ctx, &unpaid.invoices, true))
            }
        }
        section aria-labelledby="h-op-support" {
            h2 id="h-op-support" { (ctx.t("op.support_title")) }
            form.filters method="get" action="/operator/support" {
                (input(ctx, &Problems::none(), "register_id", "app.register", "number", "", true))
                button type="submit" { (ctx.t("op.support_open")) }
            }
        }
    })
}

/// `GET /operator/support?register_id=` → the support view of that register.
pub async fn support_by_query(
    Signed(ctx, _caller): Signed,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let id = parse_id(
        &ctx,
        query.get("register_id").map(String::as_str).unwrap_or(""),
    )?;
    Ok(axum::response::Redirect::to(&format!("/operator/registers/{id}")).into_response())
}

/// `GET /operator/registers/{id}`: operator staff only (others get the 403 page).
pub async fn support(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    caller.require(Permission::ReadRawFrames).or_page(&ctx)?;
    let id = parse_id(&ctx, &id)?;
    let Json(view) = registers::get_one(Extension(caller.clone()), Ok(Path(id)))
        .await
        .or_page(&ctx)?;
    let query = SearchQuery {
        register_id: Some(id),
        limit: Some(SUPPORT_DOCUMENTS),
        ..SearchQuery::default()
    };
    let Json(page) = documents::search(Extension(caller.clone()), Ok(Query(query)))
        .await
        .or_page(&ctx)?;
    let mut frames = Vec::with_capacity(page.documents.len());
    for summary in &page.documents {
        let Json(document) = documents::get_one(Extension(caller.clone()), Ok(Path(summary.id)))
            .await
            .or_page(&ctx)?;
        frames.push(document);
    }
    let r = &view.register;
    let body = html! {
        table.details {
            tr { th scope="row" { (ctx.t("field.dialect")) } td { (r.dialect.to_string().to_uppercase()) } }
            tr { th scope="row" { (ctx.t("field.inn")) } td { (r.org_inn.as_deref().unwrap_or("")) } }
            tr { th scope="row" { (ctx.t("registers.number")) } td { (r.fn_number.clone().or(r.system_id.map(|s| s.to_string())).unwrap_or_default()) } }
            tr { th scope="row" { (ctx.t("pos.lifecycle")) } td { (ctx.t(parts::lifecycle_key(r.lifecycle.as_str()))) } }
            tr { th scope="row" { (ctx.t("op.last_document")) } td { @if let Some(at) = view.last_document_at { (ctx.when(at)) } } }
        }
        p { a href={ "/registers/" (id) } { (ctx.t1("registers.one_title", id)) } }
        h2 { (ctx.t("op.recent_frames")) }
        @if frames.is_empty() {
            p.quiet { (ctx.t("op.no_documents")) }
        }
        @for document in &frames {
            section.frame {
                h3 { (document.document.kind) " · " (document.document.doc_time)
                    @if let Some(fd) = document.document.fd_number { " · ФД " (fd) } }
                p.quiet { (ctx.t("op.received")) " " (ctx.when(document.document.received_at)) }
                pre.hex { (hex_lines(document.raw_hex.as_deref().unwrap_or(""))) }
            }
        }
    };
    Ok(ctx.page(&ctx.t1("op.support_one", id), body))
}

/// Hex as lines of 32 bytes, bytes separated by spaces.
fn hex_lines(hex: &str) -> String {
    hex.as_bytes()
        .chunks(64)
        .map(|line| {
            line.chunks(2)
                .map(|pair| std::str::from_utf8(pair).unwrap_or(""))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_shown_in_lines_of_32_bytes() {
        let hex = "ab".repeat(33);
        let shown = super::hex_lines(&hex);
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].split(' ').count(), 32);
        assert_eq!(lines[1], "ab");
    }
}
