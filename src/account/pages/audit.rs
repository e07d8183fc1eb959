//! The audit log: who did what, when and from where, oldest first with cursor paging, as the
//! API's `GET /audit` gives it.

use std::collections::HashMap;

use axum::extract::Query;
use axum::response::Response;
use axum::{Extension, Json};
use maud::html;

use super::{OrPage as _, Signed};
use crate::account::staff::{self as api, AuditQuery};

/// `GET /audit?after_id=`.
pub async fn list(
    Signed(ctx, caller): Signed,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let after_id = query.get("after_id").and_then(|v| v.parse::<i64>().ok());
    let request = AuditQuery {
        after_id,
        limit: Some(100),
    };
    let Json(page) = api::audit(Extension(caller), Ok(Query(request)))
        .await
        .or_page(&ctx)?;
    let body = html! {
        @if page.entries.is_empty() {
            p.quiet { (ctx.t("audit.none")) }
        } @else {
            div.scroll {
                table {
                    thead { tr {
                        th { (ctx.t("audit.when")) }
                        th { (ctx.t("audit.actor")) }
                        th { (ctx.t("audit.action")) }
                        th { (ctx.t("audit.object")) }
                        th { (ctx.t("audit.detail")) }
                        th { (ctx.t("audit.source")) }
                    } }
                    tbody {
                        @for entry in &page.entries {
                            tr {
                                td { (ctx.when(entry.at)) }
                                td { (entry.actor) }
                                td { code { (entry.action) } }
                                td { (entry.object.as_deref().unwrap_or("")) }
                                td { (entry.detail.as_deref().unwrap_or("")) }
                                td { (entry.source.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(next) = page.next_after_id {
            p { a rel="next" href={ "/audit?after_id=" (next) } { (ctx.t("paging.next")) } }
        }
    };
    Ok(ctx.page(ctx.t("audit.title"), body))
}
