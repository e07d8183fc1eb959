//! The home page: firing alerts first, then the registers counted by status. (Today's sales,
//! receipts and unsent-document warnings join it with the documents and reports pages.)

use axum::extract::Query;
use axum::response::Response;
use axum::{Extension, Json};
use maud::html;

use super::alerts::alert_table;
use super::{OrPage as _, Signed};
use crate::account::alerts::{self as api_alerts, AlertQuery};
use crate::account::auth::Permission;
use crate::account::registers::{self as api_registers, ListQuery};
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
