//! The home page: firing alerts first, then the unsent-document warnings of the RU drives and
//! today's sales and receipts (the reports API), then the registers counted by status.

use axum::extract::Query;
use axum::response::Response;
use axum::{Extension, Json};
use maud::html;

use super::alerts::alert_table;
use super::{OrPage as _, Signed};
use crate::account::alerts::{self as api_alerts, AlertQuery};
use crate::account::auth::Permission;
use crate::account::registers::{self as api_registers, ListQuery};
use crate::account::reports::{self as api_reports, TotalsQuery};
use crate::store::RegisterStatus;

/// `GET /`: signed in → the home page; otherwise the login page.
pub async fn home(Signed(ctx, caller): Signed) -> Result<Response, Response> {
    let alerts = if caller.require(Permission::ReadAlerts).is_ok() {
        let query = AlertQuery {
            state: Some("open".to_owned()),
            before_id: None,
            limit: Some(50),
        };
        let Json(page) = api_alerts::list(Extension(caller.clone()), Ok(Query(query)))
            .await
            .or_page(&ctx)?;
        page.alerts
    } else {
        Vec::new()
    };
    let mut firing: Vec<_> = alerts.into_iter().collect();
    // Firing before acknowledged; newest first within each.
    firing.sort_by_key(|a| (a.state != "firing", -a.id));
    let mut counts = [0i64; 3];
    let mut after_id = None;
    loop {
        let query = ListQuery {
            after_id,
            limit: Some(1000),
            ..ListQuery::default()
        };
        let Json(page) = api_registers::list(Extension(caller.clone()), Ok(Query(query)))
            .await
            .or_page(&ctx)?;
        for view in &page.registers {
            let slot = match view.register.status {
                RegisterStatus::Active => 0,
                RegisterStatus::Blocked => 1,
                RegisterStatus::Deregistered => 2,
            };
            counts[slot] += 1;
        }
        match page.next_after_id {
            Some(next) => after_id = Some(next),
            None => break,
        }
    }
    // Today's figures and the drives holding unsent documents (web1: reports).
    let (today, unsent) = if caller.require(Permission::ReadReports).is_ok() {
        let date = chrono::DateTime::from_timestamp(crate::clock::unix_seconds(), 0)
            .map(|t| t.date_naive().format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        let query = TotalsQuery {
            from: Some(date.clone()),
            to: Some(date),
            group: None,
            register_id: None,
            point_of_sale_id: None,
            top: Some(0),
        };
        let Json(totals) = api_reports::totals(Extension(caller.clone()), Ok(Query(query)))
            .await
            .or_page(&ctx)?;
        let Json(unsent) = api_reports::unsent(Extension(caller.clone()))
            .await
            .or_page(&ctx)?;
        let waiting: Vec<_> = unsent
            .drives
            .into_iter()
            .filter(|d| d.row.count > 0)
            .collect();
        (Some(totals.total), waiting)
    } else {
        (None, Vec::new())
    };
    let currency = if ctx.who.as_ref().is_some_and(|w| w.org_kz) {
        super::i18n::Currency::Kzt
    } else {
        super::i18n::Currency::Rub
    };
    let statuses = [
        ("active", "status.active"),
        ("blocked", "status.blocked"),
        ("deregistered", "status.deregistered"),
    ];
    let body = html! {
        section aria-labelledby="h-alerts" {
            h2 id="h-alerts" { (ctx.t("home.alerts")) }
            @if firing.is_empty() {
                p.quiet { (ctx.t("home.no_alerts")) }
            } @else {
                (alert_table(&ctx, &firing))
            }
        }
        @if !unsent.is_empty() {
            section aria-labelledby="h-unsent" {
                h2 id="h-unsent" { (ctx.t("report.unsent")) }
                ul.unsent-warnings {
                    @for drive in &unsent {
                        li.error role="alert" {
                            a href="/reports/unsent" {
                                (ctx.t("doc.fn")) " " (drive.row.fn_number) ": "
                                (ctx.t1("report.home_unsent", ctx.lang.number(drive.row.count)))
                                @if let Some(days) = drive.days_left {
                                    " · " (ctx.t("report.days_left")) ": " (ctx.lang.number(days))
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(today) = &today {
            section aria-labelledby="h-today" {
                h2 id="h-today" { (ctx.t("report.home_today")) }
                ul.counts {
                    li { a href="/reports" { span.count #today-revenue { (ctx.lang.money(today.revenue, currency)) } " " (ctx.t("report.revenue")) } }
                    li { a href="/documents" { span.count #today-receipts { (ctx.lang.number(today.receipts)) } " " (ctx.t("report.receipts")) } }
                }
            }
        }
        section aria-labelledby="h-registers" {
            h2 id="h-registers" { (ctx.t("home.registers")) }
            ul.counts {
                @for (i, (status, key)) in statuses.iter().enumerate() {
                    li {
                        a href={ "/registers?status=" (status) } {
                            span.count { (ctx.lang.number(counts[i])) }
                            " " (ctx.t(key))
                        }
                    }
                }
            }
        }
    };
    Ok(ctx.page(ctx.t("home.title"), body))
}
