//! Wired-connection requests: the client's list with each request's status and visit date, the
//! form filing one (address, contact, phone, preferred date and time window), and withdrawing
//! one; operator staff see every organisation's here and schedule the visit or close it.

use std::collections::HashMap;

use axum::extract::{Path, Query};
use axum::response::Response;
use axum::{Extension, Json};
use maud::html;
use serde_json::json;

use super::forms::parse_id;
use super::forms::{input, typed, Posted, Problems};
use super::parts::{self, done, done_notice, wired_status_key};
use super::{Ctx, OrPage as _, Signed};
use crate::account::auth::{Caller, Permission};
use crate::account::wired_requests::{self as api, WiredRequestBody, WiredStatusChange};
use crate::store::wired_requests::WiredStatus;

/// `GET /wired-requests?register_id=`.
pub async fn list(
    Signed(ctx, caller): Signed,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let mut form = Posted::default();
    if let Some(register) = query.get("register_id") {
        form.0
            .insert("register_id".to_owned(), vec![register.clone()]);
    }
    list_page(&ctx, &caller, &query, &form, &Problems::none()).await
}

async fn list_page(
    ctx: &Ctx,
    caller: &Caller,
    query: &HashMap<String, String>,
    form: &Posted,
    problems: &Problems,
) -> Result<Response, Response> {
    let Json(list) = api::list(Extension(caller.clone())).await.or_page(ctx)?;
    let operator = caller.require(Permission::ScheduleWired).is_ok();
    let body = html! {
        (done_notice(ctx, query))
        @if list.requests.is_empty() {
            p.quiet { (ctx.t("wired.none")) }
        } @else {
            div.scroll { table {
                thead { tr {
                    th { (ctx.t("field.id")) }
                    @if operator { th { (ctx.t("money.org")) } }
                    th { (ctx.t("app.register")) }
                    th { (ctx.t("wired.f_address")) }
                    th { (ctx.t("wired.f_contact")) }
                    th { (ctx.t("wired.f_date")) }
                    th { (ctx.t("field.status")) }
                    th { (ctx.t("wired.scheduled")) }
                    th { (ctx.t("money.actions")) }
                } }
                tbody {
                    @for r in &list.requests {
                        tr {
                            td { (r.id) }
                            @if operator { td { (r.org_id) } }
                            td { @if let Some(id) = r.register_id { a href={ "/registers/" (id) } { (id) } } }
                            td { (r.address) }
                            td { (r.contact_person) ", " (r.phone) }
                            td { (parts::ymd(ctx, &r.preferred_date)) " " (r.window_from) "–" (r.window_to) }
                            td { span class={ "wired " (r.status.as_str()) } { (ctx.t(wired_status_key(r.status.as_str()))) } }
                            td { @if let Some(day) = &r.scheduled_date { (parts::ymd(ctx, day)) } }
                            td {
                                @if operator && matches!(r.status, WiredStatus::New | WiredStatus::Scheduled) {
                                    form.inline method="post" action={ "/wired-requests/" (r.id) "/status" } {
                                        (ctx.csrf_field())
                                        input type="hidden" name="status" value="scheduled";
                                        label for={ "day-" (r.id) } { (ctx.t("wired.scheduled")) }
                                        input id={ "day-" (r.id) } name="scheduled_date" type="date" required value=(r.scheduled_date.clone().unwrap_or_default());
                                        button type="submit" { (ctx.t("wired.schedule")) }
                                    }
                                }
                                @if operator && r.status == WiredStatus::Scheduled {
                                    form.inline method="post" action={ "/wired-requests/" (r.id) "/status" } {
                                        (ctx.csrf_field())
                                        input type="hidden" name="status" value="done";
                                        button type="submit" { (ctx.t("wired.mark_done")) }
                                    }
                                }
                                @if matches!(r.status, WiredStatus::New | WiredStatus::Scheduled) {
                                    form.inline method="post" action={ "/wired-requests/" (r.id) "/status" } {
                                        (ctx.csrf_field())
                                        input type="hidden" name="status" value="cancelled";
                                        button.danger type="submit" { (ctx.t("wired.cancel")) }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
        }
        section aria-labelledby="h-wired-new" {
            h2 id="h-wired-new" { (ctx.t("wired.create")) }
            (problems.summary(ctx))
            form method="post" action="/wired-requests" {
                (ctx.csrf_field())
                @if operator {
                    (input(ctx, problems, "org_id", "money.org", "number", form.get("org_id"), true))
                }
                (input(ctx, problems, "register_id", "app.register", "number", form.get("register_id"), false))
                (input(ctx, problems, "address", "wired.f_address", "text", form.get("address"), true))
                (input(ctx, problems, "contact_person", "wired.f_contact", "text", form.get("contact_person"), true))
                (input(ctx, problems, "phone", "field.phone", "tel", form.get("phone"), true))
                (input(ctx, problems, "preferred_date", "wired.f_date", "date", form.get("preferred_date"), true))
                (input(ctx, problems, "window_from", "wired.f_from", "time", form.get("window_from"), true))
                (input(ctx, problems, "window_to", "wired.f_to", "time", form.get("window_to"), true))
                button type="submit" { (ctx.t("wired.create_submit")) }
            }
        }
    };
    Ok(ctx.page(ctx.t("wired.title"), body))
}

/// `POST /wired-requests` → the list with a notice, or the form with field errors.
pub async fn create(Signed(ctx, caller): Signed, form: Posted) -> Result<Response, Response> {
    let number = |name: &str| form.opt(name).and_then(|v| v.parse::<i64>().ok());
    for name in ["org_id", "register_id"] {
        if form.opt(name).is_some() && number(name).is_none() {
            let problems = Problems::field(name, ctx.t("form.not_a_number"));
            return refused(&ctx, &caller, &form, &problems).await;
        }
    }
    let body: WiredRequestBody = typed(json!({
        "org_id": number("org_id"),
        "register_id": number("register_id"),
        "address": form.get("address"),
        "contact_person": form.get("contact_person"),
        "phone": form.get("phone"),
        "preferred_date": form.get("preferred_date"),
        "window_from": form.get("window_from"),
        "window_to": form.get("window_to"),
    }))
    .or_page(&ctx)?;
    match api::create(Extension(caller.clone()), Ok(Json(body))).await {
        Ok(_) => Ok(done("/wired-requests", "wired.done_created")),
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
    parts::refused(list_page(ctx, caller, &HashMap::new(), form, problems).await)
}

/// `POST /wired-requests/{id}/status`: schedule, close or withdraw.
pub async fn change_status(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
    form: Posted,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let change: WiredStatusChange = typed(json!({
        "status": form.get("status"),
        "scheduled_date": form.opt("scheduled_date"),
        "note": form.opt("note"),
    }))
    .or_page(&ctx)?;
    let _done = api::change_status(Extension(caller), Ok(Path(id)), Ok(Json(change)))
        .await
        .or_page(&ctx)?;
    Ok(done("/wired-requests", "wired.done_changed"))
}
