//! Money: the tariff of every register with its paid-until date, the plans on offer, the
//! invoices (issue one for a register's plan), and one invoice's page, printable. Operator staff
//! see every organisation's and mark an invoice paid or cancel it here and in their console.

use std::collections::HashMap;

use axum::extract::{Path, Query};
use axum::response::Response;
use axum::{Extension, Json};
use maud::html;
use serde_json::json;

use super::forms::parse_id;
use super::forms::{input, typed, Posted, Problems};
use super::parts::{self, done, done_notice, invoice_status_key};
use super::{Ctx, OrPage as _, Signed};
use crate::account::auth::{Caller, Permission};
use crate::account::invoices::{
    self as api, CancelRequest, InvoiceQuery, InvoiceRequest, PaidRequest,
};
use crate::account::tariffs::{self, PaymentStatus, TariffQuery};
use crate::store::invoices::{Invoice, InvoiceStatus};

/// The invoices table; operator staff get a "mark paid" form on each unpaid one.
pub fn invoice_table(ctx: &Ctx, invoices: &[Invoice], operator: bool) -> maud::Markup {
    html! {
        div.scroll { table {
            thead { tr {
                th { (ctx.t("money.number")) }
                @if operator { th { (ctx.t("money.org")) } }
                th { (ctx.t("money.amount")) }
                th { (ctx.t("field.status")) }
                th { (ctx.t("money.due")) }
                th { (ctx.t("money.paid_at")) }
                @if operator { th { (ctx.t("money.actions")) } }
            } }
            tbody {
                @for invoice in invoices {
                    tr {
                        td { a href={ "/invoices/" (invoice.id) } { (invoice.number) } }
                        @if operator { td { (invoice.org_id) } }
                        td { (parts::money(ctx, invoice.amount_minor, &invoice.currency)) }
                        td { span class={ "invoice " (invoice.status.as_str()) } { (ctx.t(invoice_status_key(invoice.status.as_str()))) } }
                        td { (parts::date(ctx, invoice.due_at)) }
                        td { @if let Some(at) = invoice.paid_at { (parts::date(ctx, at)) } }
                        @if operator {
                            td { @if invoice.status == InvoiceStatus::Unpaid {
                                form.inline method="post" action={ "/invoices/" (invoice.id) "/paid" } {
                                    (ctx.csrf_field())
                                    label.visually-hidden for={ "ref-" (invoice.id) } { (ctx.t("money.payment_ref")) }
                                    input id={ "ref-" (invoice.id) } name="payment_ref" type="text" placeholder=(ctx.t("money.payment_ref"));
                                    button type="submit" { (ctx.t("money.mark_paid")) }
                                }
                            } }
                        }
                    }
                }
            }
        } }
    }
}

/// `GET /money`.
pub async fn page(
    Signed(ctx, caller): Signed,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    money_page(&ctx, &caller, &query, &Posted::default(), &Problems::none()).await
}

async fn money_page(
    ctx: &Ctx,
    caller: &Caller,
    query: &HashMap<String, String>,
    form: &Posted,
    problems: &Problems,
) -> Result<Response, Response> {
    let Json(tariffs) = tariffs::list(
        Extension(caller.clone()),
        Ok(Query(TariffQuery {
            ending_within_days: None,
        })),
    )
    .await
    .or_page(ctx)?;
    let Json(plans) = tariffs::list_plans(
        Extension(caller.clone()),
        Ok(Query(tariffs::PlanQuery {
            archived: Some(true),
        })),
    )
    .await
    .or_page(ctx)?;
    let Json(invoices) = api::list(
        Extension(caller.clone()),
        Ok(Query(InvoiceQuery { status: None })),
    )
    .await
    .or_page(ctx)?;
    let operator = ctx.who.as_ref().is_some_and(|w| w.operator);
    let may_bill = caller.require(Permission::ManageBilling).is_ok();
    let plan_of = |id: i64| plans.plans.iter().find(|p| p.id == id);
    let body = html! {
        (done_notice(ctx, query))
        section aria-labelledby="h-tariffs" {
            h2 id="h-tariffs" { (ctx.t("money.tariffs")) }
            @if tariffs.tariffs.is_empty() {
                p.quiet { (ctx.t("money.no_tariffs")) }
            } @else {
                div.scroll { table {
                    thead { tr {
                        th { (ctx.t("app.register")) }
                        th { (ctx.t("money.plan")) }
                        th { (ctx.t("money.price")) }
                        th { (ctx.t("money.paid_until")) }
                        th { (ctx.t("money.payment")) }
                    } }
                    tbody {
                        @for t in &tariffs.tariffs {
                            tr {
                                td { a href={ "/registers/" (t.tariff.register_id) } { (t.tariff.register_id) } }
                                td { (plan_of(t.tariff.plan_id).map(|p| p.name.clone()).unwrap_or_default()) }
                                td { @if let Some(p) = plan_of(t.tariff.plan_id) { (parts::money(ctx, p.price_minor, &p.currency)) " / " (ctx.t1("money.days", p.period_days)) } }
                                td { (parts::date(ctx, t.tariff.paid_until)) }
                                td { @match t.payment_status {
                                    PaymentStatus::Paid => span.status.active { (ctx.t("money.st_paid")) },
                                    PaymentStatus::Unpaid => span.status.blocked { (ctx.t("money.st_unpaid")) },
                                } }
                            }
                        }
                    }
                } }
            }
        }
        section aria-labelledby="h-invoices" {
            h2 id="h-invoices" { (ctx.t("money.invoices")) }
            @if invoices.invoices.is_empty() {
                p.quiet { (ctx.t("money.no_invoices")) }
            } @else {
                (invoice_table(ctx, &invoices.invoices, operator))
            }
            @if may_bill {
                h3 { (ctx.t("money.invoice_create")) }
                (problems.summary(ctx))
                form method="post" action="/invoices" {
                    (ctx.csrf_field())
                    @if operator {
                        (input(ctx, problems, "org_id", "money.org", "number", form.get("org_id"), true))
                    }
                    (input(ctx, problems, "register_id", "app.register", "number", form.get("register_id"), true))
                    (input(ctx, problems, "periods", "money.periods", "number", if form.get("periods").is_empty() { "1" } else { form.get("periods") }, true))
                    button type="submit" { (ctx.t("money.invoice_create")) }
                }
            }
        }
        section aria-labelledby="h-plans" {
            h2 id="h-plans" { (ctx.t("money.plans")) }
            div.scroll { table {
                thead { tr {
                    th { (ctx.t("money.plan")) }
                    th { (ctx.t("money.price")) }
                    th { (ctx.t("money.trial")) }
                    th { (ctx.t("money.includes")) }
                } }
                tbody {
                    @for p in plans.plans.iter().filter(|p| !p.archived) {
                        tr {
                            td { (p.name) }
                            td { (parts::money(ctx, p.price_minor, &p.currency)) " / " (ctx.t1("money.days", p.period_days)) }
                            td { (ctx.t1("money.days", p.trial_days)) }
                            td { (p.includes) }
                        }
                    }
                }
            } }
        }
    };
    Ok(ctx.page(ctx.t("money.title"), body))
}

/// `POST /invoices`: one line paying a register's plan for `periods` → the new invoice's page.
pub async fn create(Signed(ctx, caller): Signed, form: Posted) -> Result<Response, Response> {
    let number = |name: &str| -> Result<Option<i64>, Problems> {
        match form.opt(name) {
            None => Ok(None),
            Some(text) => text
                .parse::<i64>()
                .map(Some)
                .map_err(|_| Problems::field(name, ctx.t("form.not_a_number"))),
        }
    };
    let parsed =
        number("org_id").and_then(|org| Ok((org, number("register_id")?, number("periods")?)));
    let (org_id, register_id, periods) = match parsed {
        Ok(values) => values,
        Err(problems) => return refused(&ctx, &caller, &form, &problems).await,
    };
    let request: InvoiceRequest = typed(json!({
        "org_id": org_id,
        "lines": [{ "register_id": register_id, "periods": periods }],
    }))
    .or_page(&ctx)?;
    match api::create(Extension(caller.clone()), Ok(Json(request))).await {
        Ok((_, Json(invoice))) => Ok(done(
            &format!("/invoices/{}", invoice.id),
            "money.done_invoice",
        )),
        Err(error) if error.status().as_u16() == 400 => {
            refused(&ctx, &caller, &form, &Problems::from_api(&error)).await
        }
        Err(error) => Err(ctx.fail(error)),
    }
}

async fn refused(
    ctx: &Ctx,
    caller: &Caller,
    form: &Posted,
    problems: &Problems,
) -> Result<Response, Response> {
    parts::refused(money_page(ctx, caller, &HashMap::new(), form, problems).await)
}

/// `GET /invoices/{id}`: the invoice, printable.
pub async fn one(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let Json(invoice) = api::get_one(Extension(caller.clone()), Ok(Path(id)))
        .await
        .or_page(&ctx)?;
    let org = caller
        .0
        .organisation(invoice.org_id)
        .await
        .map_err(crate::account::error::ApiError::from)
        .or_page(&ctx)?;
    let operator = ctx.who.as_ref().is_some_and(|w| w.operator);
    let body = html! {
        (done_notice(&ctx, &query))
        article.printable {
            table.details {
                tr { th scope="row" { (ctx.t("money.payer")) } td { @if let Some(org) = &org { (org.name) " · " (ctx.t("field.inn")) " " (org.inn) } } }
                tr { th scope="row" { (ctx.t("field.created")) } td { (parts::date(&ctx, invoice.created_at)) } }
                tr { th scope="row" { (ctx.t("money.due")) } td { (parts::date(&ctx, invoice.due_at)) } }
                tr { th scope="row" { (ctx.t("field.status")) } td #invoice-status { (ctx.t(invoice_status_key(invoice.status.as_str()))) } }
                @if let Some(at) = invoice.paid_at { tr { th scope="row" { (ctx.t("money.paid_at")) } td { (parts::date(&ctx, at)) } } }
                @if let Some(reference) = &invoice.payment_ref { tr { th scope="row" { (ctx.t("money.payment_ref")) } td { (reference) } } }
            }
            div.scroll { table {
                thead { tr {
                    th { (ctx.t("money.line")) }
                    th { (ctx.t("app.register")) }
                    th { (ctx.t("money.periods")) }
                    th { (ctx.t("money.amount")) }
                } }
                tbody {
                    @for line in &invoice.lines {
                        tr {
                            td { (line.description) }
                            td { @if let Some(r) = line.register_id { a href={ "/registers/" (r) } { (r) } } }
                            td { (line.periods) }
                            td { (parts::money(&ctx, line.amount_minor, &invoice.currency)) }
                        }
                    }
                }
                tfoot { tr {
                    th scope="row" colspan="3" { (ctx.t("money.total")) }
                    td #invoice-total { strong { (parts::money(&ctx, invoice.amount_minor, &invoice.currency)) } }
                } }
            } }
            p.quiet { (ctx.t1("money.quote_number", &invoice.number)) }
        }
        @if operator && invoice.status == InvoiceStatus::Unpaid {
            div.actions {
                form method="post" action={ "/invoices/" (invoice.id) "/paid" } {
                    (ctx.csrf_field())
                    (input(&ctx, &Problems::none(), "payment_ref", "money.payment_ref", "text", "", false))
                    button type="submit" { (ctx.t("money.mark_paid")) }
                }
                form method="post" action={ "/invoices/" (invoice.id) "/cancel" } {
                    (ctx.csrf_field())
                    button.danger type="submit" { (ctx.t("money.cancel")) }
                }
            }
        }
        p.actions { a href="/money" { (ctx.t("money.back")) } }
    };
    Ok(ctx.page(&ctx.t1("money.invoice_title", &invoice.number), body))
}

/// `POST /invoices/{id}/paid` (operator staff) → back where the form was.
pub async fn mark_paid(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
    form: Posted,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let request = PaidRequest {
        payment_ref: form.opt("payment_ref"),
    };
    let _done = api::mark_paid(Extension(caller), Ok(Path(id)), Ok(Json(request)))
        .await
        .or_page(&ctx)?;
    Ok(done(&format!("/invoices/{id}"), "money.done_paid"))
}

/// `POST /invoices/{id}/cancel` (operator staff).
pub async fn cancel(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let _done = api::cancel(
        Extension(caller),
        Ok(Path(id)),
        Ok(Json(CancelRequest { reason: None })),
    )
    .await
    .or_page(&ctx)?;
    Ok(done(&format!("/invoices/{id}"), "money.done_cancelled"))
}
