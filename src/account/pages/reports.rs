//! Reports: totals and analytics for a period (`/reports`: by day, ISO week or month, for every
//! register in scope, one register or one point of sale: revenue, refunds, receipts, average
//! receipt, receipts per hour, top products, cash vs card, with server-drawn SVG charts
//! ([`super::charts`]) beside the same figures as tables), a register's shifts with the close
//! report's (Z) counters beside the figures computed from the documents and the mismatch flag,
//! and under a KZ shift its X reports with the counters each stated (`/reports/shifts`), the unsent documents per RU drive with the days left before the 30-day
//! block (`/reports/unsent`), and the delivery status per register and day, "сверка"
//! (`/reports/delivery`).
//!
//! Every figure comes from the API's report handlers in-process ([`api`]); the page only
//! chooses defaults (the last 30 days) and lays the answers out. The money of a page is the
//! organisation's currency (tenge for a Kazakh organisation, else roubles).

use std::collections::HashMap;

use axum::extract::Query;
use axum::response::Response;
use axum::{Extension, Json};
use chrono::Days;
use maud::{html, Markup};

use super::charts::{self, Series};
use super::forms::{input_with_id, select_with_id, Problems};
use super::i18n::Currency;
use super::{Ctx, OrPage as _, Signed};
use crate::account::auth::Permission;
use crate::account::error::ApiError;
use crate::account::registers::{self as api_registers, ListQuery};
use crate::account::reports::{self as api, DeliveryQuery, Grouping, ShiftsQuery, TotalsQuery};

/// Days a period covers when the form names none.
const DEFAULT_DAYS: u64 = 30;

fn text(query: &HashMap<String, String>, name: &str) -> Option<String> {
    query
        .get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn int(query: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    text(query, name)
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                ApiError::bad_request("invalid_query", format!("{name}: not a whole number"))
            })
        })
        .transpose()
}

/// The period of the form, or the default one: the last [`DEFAULT_DAYS`] days up to tomorrow
/// (UTC), so that a register whose wall clock is ahead of UTC has its today inside it.
fn period(query: &HashMap<String, String>) -> (String, String) {
    let today = chrono::DateTime::from_timestamp(crate::clock::unix_seconds(), 0)
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let from = text(query, "from").unwrap_or_else(|| {
        (today - Days::new(DEFAULT_DAYS))
            .format("%Y-%m-%d")
            .to_string()
    });
    let to =
        text(query, "to").unwrap_or_else(|| (today + Days::new(1)).format("%Y-%m-%d").to_string());
    (from, to)
}

fn currency(ctx: &Ctx) -> Currency {
    if ctx.who.as_ref().is_some_and(|w| w.org_kz) {
        Currency::Kzt
    } else {
        Currency::Rub
    }
}

/// The links between the report pages.
fn report_nav(ctx: &Ctx) -> Markup {
    let links = [
        ("/reports", "report.totals"),
        ("/reports/shifts", "report.shifts"),
        ("/reports/unsent", "report.unsent"),
        ("/reports/delivery", "report.delivery"),
    ];
    html! {
        nav.sub aria-label=(ctx.t("report.nav")) {
            @for (path, key) in links {
                a href=(path) aria-current=[(ctx.path == path).then_some("page")] { (ctx.t(key)) }
            }
        }
    }
}

/// `GET /reports?from=&to=&group=&register_id=&point_of_sale_id=`: totals and analytics.
pub async fn totals(
    Signed(ctx, caller): Signed,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let (from, to) = period(&query);
    let group = text(&query, "group").unwrap_or_else(|| "day".to_owned());
    let request = (|| -> Result<TotalsQuery, ApiError> {
        let grouping: Grouping = serde_json::from_value(serde_json::Value::String(group.clone()))
            .map_err(|_| {
            ApiError::bad_request("invalid_query", "group: one of day, week, month")
        })?;
        Ok(TotalsQuery {
            from: Some(from.clone()),
            to: Some(to.clone()),
            group: Some(grouping),
            register_id: int(&query, "register_id")?,
            point_of_sale_id: int(&query, "point_of_sale_id")?,
            top: Some(10),
        })
    })();
    let mut problems = Problems::none();
    let mut totals = None;
    match request {
        Ok(request) => match api::totals(Extension(caller.clone()), Ok(Query(request))).await {
            Ok(Json(found)) => totals = Some(found),
            Err(error) if error.status().as_u16() == 400 => problems = Problems::from_api(&error),
            Err(error) => return Err(ctx.fail(error)),
        },
        Err(error) => problems = Problems::from_api(&error),
    }
    // One register's totals are in its own currency; otherwise the organisation's.
    let currency = match int(&query, "register_id").ok().flatten() {
        Some(id) if totals.is_some() => {
            match api_registers::get_one(Extension(caller.clone()), Ok(axum::extract::Path(id)))
                .await
            {
                Ok(Json(view)) if view.register.dialect.to_string() == "kz" => Currency::Kzt,
                Ok(_) => Currency::Rub,
                Err(_) => currency(&ctx),
            }
        }
        _ => currency(&ctx),
    };
    let money = |minor: i64| ctx.lang.money(minor, currency);
    let major = |minor: i64| minor as f64 / 100.0;
    let axis_money = |v: f64| ctx.lang.money((v * 100.0).round() as i64, currency);
    let axis_count = |v: f64| ctx.lang.number(v.round() as i64);
    let value = |name: &str| text(&query, name).unwrap_or_default();
    let groups = [
        ("day", ctx.t("report.by_day")),
        ("week", ctx.t("report.by_week")),
        ("month", ctx.t("report.by_month")),
    ];
    let body = html! {
        (report_nav(&ctx))
        form.filters method="get" action="/reports" {
            (input_with_id(&ctx, &problems, "r-from", "from", "report.from", "date", &from, true))
            (input_with_id(&ctx, &problems, "r-to", "to", "report.to", "date", &to, true))
            (select_with_id(&ctx, &problems, "r-group", "group", "report.group", &groups, &group))
            (input_with_id(&ctx, &problems, "r-register_id", "register_id", "doc.f.register", "number", &value("register_id"), false))
            (input_with_id(&ctx, &problems, "r-point_of_sale_id", "point_of_sale_id", "doc.f.point_of_sale", "number", &value("point_of_sale_id"), false))
            button type="submit" { (ctx.t("filter.apply")) }
        }
        (problems.summary(&ctx))
        @if let Some(t) = &totals {
            ul.counts.figures {
                li { span.count #fig-revenue { (money(t.total.revenue)) } " " (ctx.t("report.revenue")) }
                li { span.count { (money(t.total.refunds)) } " " (ctx.t("report.refunds")) }
                li { span.count { (money(t.total.net)) } " " (ctx.t("report.net")) }
                li { span.count #fig-receipts { (ctx.lang.number(t.total.receipts)) } " " (ctx.t("report.receipts")) }
                li { span.count { (money(t.total.average_receipt)) } " " (ctx.t("report.average")) }
                li { span.count { (money(t.total.cash)) } " " (ctx.t("doc.pay.cash")) }
                li { span.count { (money(t.total.card)) } " " (ctx.t("doc.pay.card")) }
            }
            @if t.buckets.is_empty() {
                p.quiet { (ctx.t("report.no_receipts")) }
            } @else {
                @let labels: Vec<String> = t.buckets.iter().map(|b| ctx.lang.short_date(&b.start)).collect();
                @let revenue_chart = charts::bars(&labels, &[
                    Series { name: ctx.t("report.revenue"), values: t.buckets.iter().map(|b| major(b.revenue)).collect() },
                    Series { name: ctx.t("report.refunds"), values: t.buckets.iter().map(|b| major(b.refunds)).collect() },
                ], &axis_money);
                @let pay_chart = charts::bars(&labels, &[
                    Series { name: ctx.t("doc.pay.cash"), values: t.buckets.iter().map(|b| major(b.cash)).collect() },
                    Series { name: ctx.t("doc.pay.card"), values: t.buckets.iter().map(|b| major(b.card)).collect() },
                ], &axis_money);
                @let hours: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
                @let hour_chart = charts::bars(&hours, &[
                    Series { name: ctx.t("report.receipts"), values: t.receipts_per_hour.iter().map(|n| *n as f64).collect() },
                ], &axis_count);
                section aria-labelledby="h-revenue" {
                    h2 id="h-revenue" { (ctx.t("report.revenue_chart")) }
                    img.chart #chart-revenue src=(charts::data_url(&revenue_chart)) alt=(ctx.t("report.revenue_chart")) width="720" height="300";
                    div.scroll {
                        table.buckets {
                            thead { tr {
                                th { (ctx.t("report.start")) }
                                th.num { (ctx.t("report.receipts")) }
                                th.num { (ctx.t("report.revenue")) }
                                th.num { (ctx.t("report.refunds")) }
                                th.num { (ctx.t("report.net")) }
                                th.num { (ctx.t("report.average")) }
                                th.num { (ctx.t("doc.pay.cash")) }
                                th.num { (ctx.t("doc.pay.card")) }
                            } }
                            tbody {
                                @for b in &t.buckets {
                                    tr {
                                        td { (ctx.lang.local_time(&b.start)) }
                                        td.num { (ctx.lang.number(b.receipts)) }
                                        td.num { (money(b.revenue)) }
                                        td.num { (money(b.refunds)) }
                                        td.num { (money(b.net)) }
                                        td.num { (money(b.average_receipt)) }
                                        td.num { (money(b.cash)) }
                                        td.num { (money(b.card)) }
                                    }
                                }
                            }
                        }
                    }
                }
                section aria-labelledby="h-pay" {
                    h2 id="h-pay" { (ctx.t("report.cash_card")) }
                    img.chart #chart-payments src=(charts::data_url(&pay_chart)) alt=(ctx.t("report.cash_card")) width="720" height="300";
                }
                section aria-labelledby="h-hours" {
                    h2 id="h-hours" { (ctx.t("report.per_hour")) }
                    img.chart #chart-hours src=(charts::data_url(&hour_chart)) alt=(ctx.t("report.per_hour")) width="720" height="300";
                }
                section aria-labelledby="h-top" {
                    h2 id="h-top" { (ctx.t("report.top")) }
                    div.scroll {
                        table.top {
                            thead { tr {
                                th { (ctx.t("doc.l.name")) }
                                th.num { (ctx.t("report.lines")) }
                                th.num { (ctx.t("report.revenue")) }
                            } }
                            tbody {
                                @for p in &t.top_products {
                                    tr {
                                        td { a href={ "/documents?" (url::form_urlencoded::Serializer::new(String::new()).append_pair("product", &p.name).finish()) } { (p.name) } }
                                        td.num { (ctx.lang.number(p.lines)) }
                                        td.num { (money(p.revenue)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(ctx.page(ctx.t("report.title"), body))
}

/// `GET /reports/shifts?register_id=&from=&to=`: a register's shifts; without a register, the
/// registers to choose from.
pub async fn shifts(
    Signed(ctx, caller): Signed,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let register_id = match int(&query, "register_id") {
        Ok(id) => id,
        Err(error) => return Err(ctx.fail(error)),
    };
    let Some(id) = register_id else {
        return choose_register(&ctx, &caller).await;
    };
    let request = ShiftsQuery {
        from: text(&query, "from"),
        to: text(&query, "to"),
        limit: Some(100),
    };
    let Json(list) = api::shifts(
        Extension(caller.clone()),
        Ok(axum::extract::Path(id)),
        Ok(Query(request)),
    )
    .await
    .or_page(&ctx)?;
    // The register's dialect names its close report's kind (for the links to the documents).
    let kz = match api_registers::get_one(Extension(caller.clone()), Ok(axum::extract::Path(id)))
        .await
    {
        Ok(Json(view)) => view.register.dialect.to_string() == "kz",
        Err(_) => false,
    };
    let currency = if kz { Currency::Kzt } else { Currency::Rub };
    let money = |minor: i64| ctx.lang.money(minor, currency);
    let z_kind = if kz { "kz_close_shift" } else { "close_shift" };
    let docs = |shift: i64, kind: Option<&str>| {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        pairs.append_pair("register_id", &id.to_string());
        pairs.append_pair("shift", &shift.to_string());
        if let Some(kind) = kind {
            pairs.append_pair("kind", kind);
        }
        format!("/documents?{}", pairs.finish())
    };
    let body = html! {
        (report_nav(&ctx))
        @if list.shifts.is_empty() {
            p.quiet { (ctx.t("report.no_shifts")) }
        } @else {
            div.scroll {
                table.shifts {
                    thead {
                        tr {
                            th rowspan="2" { (ctx.t("doc.c.shift")) }
                            th rowspan="2" { (ctx.t("report.opened")) }
                            th rowspan="2" { (ctx.t("report.closed")) }
                            th colspan="3" { (ctx.t("report.computed")) }
                            th colspan="3" { (ctx.t("report.z")) }
                            th rowspan="2" { (ctx.t("report.check")) }
                        }
                        tr {
                            th.num { (ctx.t("report.receipts")) }
                            th.num { (ctx.t("report.sales")) }
                            th.num { (ctx.t("report.refunds")) }
                            th.num { (ctx.t("report.receipts")) }
                            th.num { (ctx.t("report.sales")) }
                            th.num { (ctx.t("report.refunds")) }
                        }
                    }
                    tbody {
                        @for s in &list.shifts {
                            tr.shift.mismatch[s.mismatch] data-shift=(s.shift_number) {
                                td { a href=(docs(s.shift_number, None)) { (s.shift_number) } }
                                td { @if let Some(t) = &s.opened { (ctx.lang.local_time(t)) } }
                                td { @if let Some(t) = &s.closed { (ctx.lang.local_time(t)) } @else { span.quiet { (ctx.t("report.open")) } } }
                                td.num { (ctx.lang.number(s.receipts)) }
                                td.num {
                                    (money(s.sales))
                                    br; small.quiet { (ctx.t("doc.pay.cash")) " " (money(s.sales_cash)) " · " (ctx.t("doc.pay.card")) " " (money(s.sales_card)) }
                                }
                                td.num { (money(s.refunds)) }
                                td.num.z { @if let Some(n) = s.z_receipts { (ctx.lang.number(n)) } }
                                td.num.z { @if let Some(n) = s.z_sales { (money(n)) } }
                                td.num.z { @if let Some(n) = s.z_refunds { (money(n)) } }
                                td {
                                    @if s.mismatch {
                                        strong.status.blocked { (ctx.t("report.mismatch")) }
                                    } @else if s.closed.is_some() {
                                        span.status.active { (ctx.t("report.match")) }
                                    }
                                    br;
                                    a href=(docs(s.shift_number, Some(z_kind))) { (ctx.t("report.z_doc")) }
                                    @if kz {
                                        " · " a href=(docs(s.shift_number, Some("kz_x_report"))) { (ctx.t("report.x_docs")) }
                                    }
                                }
                            }
                            @if !s.x_reports.is_empty() {
                                tr.x-reports data-shift=(s.shift_number) {
                                    td colspan="10" {
                                        table.x-reports {
                                            caption { (ctx.t1("report.x_of_shift", s.shift_number)) }
                                            thead { tr {
                                                th { (ctx.t("report.x_time")) }
                                                th.num { (ctx.t("report.receipts")) }
                                                th.num { (ctx.t("report.sales")) }
                                                th.num { (ctx.t("report.refunds")) }
                                            } }
                                            tbody {
                                                @for x in &s.x_reports {
                                                    tr.x-report {
                                                        td { a href={ "/documents/" (x.document_id) } { (ctx.lang.local_time(&x.time)) } }
                                                        td.num { @if let Some(n) = x.receipts { (ctx.lang.number(n)) } }
                                                        td.num { @if let Some(n) = x.sales { (money(n)) } }
                                                        td.num { @if let Some(n) = x.refunds { (money(n)) } }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(ctx.page(&ctx.t1("report.shifts_title", id), body))
}

async fn choose_register(
    ctx: &Ctx,
    caller: &crate::account::auth::Caller,
) -> Result<Response, Response> {
    let registers = if caller.require(Permission::ReadRegisters).is_ok() {
        let query = ListQuery {
            limit: Some(500),
            ..ListQuery::default()
        };
        let Json(page) = api_registers::list(Extension(caller.clone()), Ok(Query(query)))
            .await
            .or_page(ctx)?;
        page.registers
    } else {
        Vec::new()
    };
    let body = html! {
        (report_nav(ctx))
        form.filters method="get" action="/reports/shifts" {
            (input_with_id(ctx, &Problems::none(), "s-register_id", "register_id", "doc.f.register", "number", "", true))
            button type="submit" { (ctx.t("filter.apply")) }
        }
        @if !registers.is_empty() {
            ul.registers {
                @for view in &registers {
                    @let r = &view.register;
                    li { a href={ "/reports/shifts?register_id=" (r.id) } {
                        (ctx.t1("report.register", r.id)) " · " (r.dialect.to_string().to_uppercase())
                        @if let Some(model) = &r.model { " · " (model) }
                    } }
                }
            }
        }
    };
    Ok(ctx.page(ctx.t("report.shifts"), body))
}

/// `GET /reports/unsent`: per RU drive, its unsent documents and the days left before the block.
pub async fn unsent(Signed(ctx, caller): Signed) -> Result<Response, Response> {
    let Json(list) = api::unsent(Extension(caller.clone())).await.or_page(&ctx)?;
    let body = html! {
        (report_nav(&ctx))
        p.quiet { (ctx.t1("report.unsent_hint", api::UNSENT_BLOCK_DAYS)) }
        @if list.drives.is_empty() {
            p.quiet { (ctx.t("report.no_drives")) }
        } @else {
            div.scroll {
                table.unsent {
                    thead { tr {
                        th { (ctx.t("doc.c.register")) }
                        th { (ctx.t("doc.fn")) }
                        th.num { (ctx.t("report.unsent_count")) }
                        th { (ctx.t("report.oldest")) }
                        th.num { (ctx.t("report.first_number")) }
                        th { (ctx.t("report.reported")) }
                        th.num { (ctx.t("report.days_left")) }
                    } }
                    tbody {
                        @for drive in &list.drives {
                            @let urgent = drive.days_left.is_some_and(|d| d <= 5);
                            tr.drive.urgent[urgent] {
                                td { a href={ "/reports/shifts?register_id=" (drive.row.register_id) } { (drive.row.register_id) } }
                                td { (drive.row.fn_number) }
                                td.num { (ctx.lang.number(drive.row.count)) }
                                td { @if let Some(t) = &drive.row.oldest { (ctx.lang.local_time(t)) } }
                                td.num { @if let Some(n) = drive.row.first_number { (n) } }
                                td { (ctx.lang.local_time(&drive.row.reported)) }
                                td.num {
                                    @match drive.days_left {
                                        Some(days) if days <= 0 => { strong.status.blocked { (ctx.t("report.blocked_now")) } }
                                        Some(days) if urgent => { strong.status.blocked { (ctx.lang.number(days)) } }
                                        Some(days) => { (ctx.lang.number(days)) }
                                        None => {}
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(ctx.page(ctx.t("report.unsent"), body))
}

/// `GET /reports/delivery?from=&to=&register_id=`: received, batched, accepted and rejected
/// documents per register per day, the days that do not match first.
pub async fn delivery(
    Signed(ctx, caller): Signed,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let (from, to) = period(&query);
    let mut problems = Problems::none();
    let mut report = None;
    match int(&query, "register_id") {
        Ok(register_id) => {
            let request = DeliveryQuery {
                from: Some(from.clone()),
                to: Some(to.clone()),
                register_id,
            };
            match api::delivery(Extension(caller.clone()), Ok(Query(request))).await {
                Ok(Json(found)) => report = Some(found),
                Err(error) if error.status().as_u16() == 400 => {
                    problems = Problems::from_api(&error)
                }
                Err(error) => return Err(ctx.fail(error)),
            }
        }
        Err(error) => problems = Problems::from_api(&error),
    }
    let register_value = text(&query, "register_id").unwrap_or_default();
    let body = html! {
        (report_nav(&ctx))
        form.filters method="get" action="/reports/delivery" {
            (input_with_id(&ctx, &problems, "d-from", "from", "report.from", "date", &from, true))
            (input_with_id(&ctx, &problems, "d-to", "to", "report.to", "date", &to, true))
            (input_with_id(&ctx, &problems, "d-register_id", "register_id", "doc.f.register", "number", &register_value, false))
            button type="submit" { (ctx.t("filter.apply")) }
        }
        (problems.summary(&ctx))
        @if let Some(report) = &report {
            @if report.mismatches.is_empty() {
                p.notice #delivery-state { (ctx.t("report.all_accepted")) }
            } @else {
                p.error #delivery-state role="status" { (ctx.t1("report.days_open", report.mismatches.len())) }
            }
            @if report.days.is_empty() {
                p.quiet { (ctx.t("report.no_days")) }
            } @else {
                div.scroll {
                    table.delivery {
                        thead { tr {
                            th { (ctx.t("report.day")) }
                            th { (ctx.t("doc.c.register")) }
                            th.num { (ctx.t("report.received")) }
                            th.num { (ctx.t("report.batched")) }
                            th.num { (ctx.t("report.accepted")) }
                            th.num { (ctx.t("report.rejected")) }
                        } }
                        tbody {
                            @for day in &report.days {
                                tr.day.mismatch[day.accepted != day.received] {
                                    td { (ctx.lang.local_time(&day.date)) }
                                    td { @if let Some(r) = day.register_id { (r) } }
                                    td.num { (ctx.lang.number(day.received)) }
                                    td.num { (ctx.lang.number(day.batched)) }
                                    td.num { (ctx.lang.number(day.accepted)) }
                                    td.num { (ctx.lang.number(day.rejected)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(ctx.page(ctx.t("report.delivery"), body))
}
