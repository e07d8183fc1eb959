//! Registers: the list with the API's filters (dialect, status; operator staff also the
//! organisation's tax id) and cursor paging, the form adding one, and one register's page
//! (details, status change, KZ token reset). A KZ token is shown once, on the page answering
//! the POST that issued it (adding the register or resetting its token), never on a GET.

use std::collections::HashMap;

use axum::extract::{Path, Query};
use axum::response::Response;
use axum::{Extension, Json};
use maud::html;
use serde_json::json;

use super::forms::{
    input, input_with_id, parse_id, select, select_with_id, typed, Posted, Problems,
};
use super::{notice, see_other, Ctx, OrPage as _, Signed};
use crate::account::auth::{Caller, Permission};
use crate::account::registers::{self as api, ListQuery, ProvisionRequest, StatusChange};
use crate::store::Register;

/// Rows per page.
const PAGE: i64 = 50;

fn identity_of(register: &Register) -> String {
    match (&register.fn_number, register.system_id) {
        (Some(fn_number), _) => fn_number.clone(),
        (None, Some(system_id)) => system_id.to_string(),
        (None, None) => String::new(),
    }
}

/// `GET /registers?dialect=&status=&org_inn=&after_id=`.
pub async fn list(
    Signed(ctx, caller): Signed,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    list_page(&ctx, &caller, &query, &Posted::default(), &Problems::none()).await
}

async fn list_page(
    ctx: &Ctx,
    caller: &Caller,
    query: &HashMap<String, String>,
    form: &Posted,
    problems: &Problems,
) -> Result<Response, Response> {
    let filter = |name: &str| query.get(name).filter(|v| !v.is_empty()).cloned();
    let after_id = filter("after_id").and_then(|v| v.parse::<i64>().ok());
    let list: Result<ListQuery, _> = typed(json!({
        "dialect": filter("dialect"),
        "status": filter("status"),
        "org_inn": filter("org_inn"),
        "after_id": after_id,
        "limit": PAGE,
    }));
    let query_problem = list.as_ref().err().map(Problems::from_api);
    let page = match list {
        Ok(list) => {
            let Json(page) = api::list(Extension(caller.clone()), Ok(Query(list)))
                .await
                .or_page(ctx)?;
            Some(page)
        }
        Err(_) => None,
    };
    let operator = ctx.who.as_ref().is_some_and(|w| w.operator);
    let may_add = caller.require(Permission::ChangeRegisters).is_ok();
    let dialects = [
        ("", ctx.t("filter.any")),
        ("ru", ctx.t("dialect.ru")),
        ("kz", ctx.t("dialect.kz")),
    ];
    let statuses = [
        ("", ctx.t("filter.any")),
        ("active", ctx.t("status.active")),
        ("blocked", ctx.t("status.blocked")),
        ("deregistered", ctx.t("status.deregistered")),
    ];
    let none = Problems::none();
    let here = |after: i64| {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        for name in ["dialect", "status", "org_inn"] {
            if let Some(value) = filter(name) {
                pairs.append_pair(name, &value);
            }
        }
        pairs.append_pair("after_id", &after.to_string());
        format!("/registers?{}", pairs.finish())
    };
    let body = html! {
        (notice(ctx, query.get("done").map(String::as_str)))
        form.filters method="get" action="/registers" {
            (select_with_id(ctx, &none, "q-dialect", "dialect", "field.dialect", &dialects, filter("dialect").as_deref().unwrap_or("")))
            (select_with_id(ctx, &none, "q-status", "status", "field.status", &statuses, filter("status").as_deref().unwrap_or("")))
            @if operator {
                (input_with_id(ctx, &none, "q-org_inn", "org_inn", "field.inn", "text", filter("org_inn").as_deref().unwrap_or(""), false))
            }
            button type="submit" { (ctx.t("filter.apply")) }
        }
        @if let Some(problem) = &query_problem {
            (problem.summary(ctx))
        }
        @if let Some(page) = &page {
            @if page.registers.is_empty() {
                p.quiet { (ctx.t("registers.none")) }
            } @else {
                div.scroll {
                    table {
                        thead { tr {
                            th { (ctx.t("field.id")) }
                            th { (ctx.t("field.dialect")) }
                            th { (ctx.t("registers.number")) }
                            th { (ctx.t("field.model")) }
                            th { (ctx.t("field.status")) }
                            @if operator { th { (ctx.t("field.inn")) } }
                            th { (ctx.t("field.created")) }
                        } }
                        tbody {
                            @for view in &page.registers {
                                tr {
                                    td { a href={ "/registers/" (view.register.id) } { (view.register.id) } }
                                    td { (view.register.dialect.to_string().to_uppercase()) }
                                    td { (identity_of(&view.register)) }
                                    td { (view.register.model.as_deref().unwrap_or("")) }
                                    td { span class={ "status " (view.register.status.as_str()) } { (ctx.t(super::register_more::status_key(view.register.status))) } }
                                    @if operator { td { (view.register.org_inn.as_deref().unwrap_or("")) } }
                                    td { (ctx.when(view.register.created_at)) }
                                }
                            }
                        }
                    }
                }
                @if let Some(next) = page.next_after_id {
                    p { a rel="next" href=(here(next)) { (ctx.t("paging.next")) } }
                }
            }
        }
        @if may_add {
            section aria-labelledby="h-add" {
                h2 id="h-add" { (ctx.t("registers.add")) }
                (problems.summary(ctx))
                form method="post" action="/registers" {
                    (ctx.csrf_field())
                    (select(ctx, problems, "dialect", "field.dialect", &dialects[1..], form.get("dialect")))
                    (input(ctx, problems, "fn_number", "field.fn_number", "text", form.get("fn_number"), false))
                    (input(ctx, problems, "serial", "field.serial", "text", form.get("serial"), false))
                    (input(ctx, problems, "model", "field.model", "text", form.get("model"), false))
                    (input(ctx, problems, "reg_number", "field.reg_number", "text", form.get("reg_number"), false))
                    @if operator {
                        (input(ctx, problems, "org_inn", "field.inn", "text", form.get("org_inn"), true))
                    }
                    button type="submit" { (ctx.t("registers.add_submit")) }
                }
            }
        }
    };
    Ok(ctx.page(ctx.t("registers.title"), body))
}

/// `POST /registers`: provision one in the caller's organisation → its page with the KZ token.
pub async fn add(Signed(ctx, caller): Signed, form: Posted) -> Result<Response, Response> {
    let org_inn = match caller.0.actor().org_id() {
        Some(org_id) => caller
            .0
            .organisation(org_id)
            .await
            .map_err(crate::account::error::ApiError::from)
            .or_page(&ctx)?
            .map(|org| org.inn)
            .unwrap_or_default(),
        None => form.get("org_inn").to_owned(),
    };
    let request: Result<ProvisionRequest, _> = typed(json!({
        "dialect": form.get("dialect"),
        "fn_number": form.opt("fn_number"),
        "serial": form.opt("serial"),
        "model": form.opt("model"),
        "reg_number": form.opt("reg_number"),
        "org_inn": org_inn,
    }));
    let result = match request {
        Ok(request) => api::provision(Extension(caller.clone()), Ok(Json(request))).await,
        Err(error) => Err(error),
    };
    match result {
        Ok((_, Json(view))) => {
            let more =
                super::register_more::sections(&ctx, &caller, &view, None, &Problems::none())
                    .await?;
            Ok(super::register_more::register_page(
                &ctx, &caller, &view, None, more,
            ))
        }
        Err(error) if error.status().is_client_error() && error.status().as_u16() != 403 => {
            let problems = Problems::from_api(&error);
            list_page(&ctx, &caller, &HashMap::new(), &form, &problems).await
        }
        Err(error) => Err(ctx.fail(error)),
    }
}

/// `GET /registers/{id}` (404 page for another organisation's).
pub async fn one(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let Json(view) = api::get_one(Extension(caller.clone()), Ok(Path(id)))
        .await
        .or_page(&ctx)?;
    let more =
        super::register_more::sections(&ctx, &caller, &view, None, &Problems::none()).await?;
    let done = query.get("done").map(String::as_str);
    Ok(super::register_more::register_page(
        &ctx, &caller, &view, done, more,
    ))
}

/// `POST /registers/{id}/status`.
pub async fn set_status(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
    form: Posted,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let change: StatusChange = typed(json!({ "status": form.get("status") })).or_page(&ctx)?;
    let _changed = api::set_status(Extension(caller), Ok(Path(id)), Ok(Json(change)))
        .await
        .or_page(&ctx)?;
    Ok(see_other(&format!("/registers/{id}"), "status"))
}

/// `POST /registers/{id}/token` → the page with the new token, shown this once.
pub async fn reset_token(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let Json(view) = api::reset_token(Extension(caller.clone()), Ok(Path(id)))
        .await
        .or_page(&ctx)?;
    let more =
        super::register_more::sections(&ctx, &caller, &view, None, &Problems::none()).await?;
    Ok(super::register_more::register_page(
        &ctx, &caller, &view, None, more,
    ))
}
