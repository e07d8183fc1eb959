//! Points of sale and the registers grouped by them: the list with the add form, one point of
//! sale's edit form (field-level errors from the API), the organisation's registers under their
//! points of sale with checkboxes for a batch action (one form, no JavaScript: tick, choose the
//! action, submit), and the CSV import of registers (pasted into a text field, so the form stays
//! an ordinary urlencoded one that the CSRF guard reads). Operator staff name the organisation by
//! its taxpayer number (`?org_inn=`).

use std::collections::HashMap;

use axum::extract::{Path, Query};
use axum::response::Response;
use axum::{Extension, Json};
use maud::{html, Markup};
use serde_json::json;

use super::forms::parse_id;
use super::forms::{input, select, typed, Posted, Problems};
use super::parts::address;
use super::parts::{self, done, done_notice, lifecycle_key};
use super::{Ctx, OrPage as _, Signed};
use crate::account::auth::{Caller, Permission};
use crate::account::points_of_sale as api;
use crate::account::register_batch::{self, BatchRequest, ImportQuery};
use crate::account::tariffs;
use crate::store::points_of_sale::{PointOfSale, PosFields};

/// The address fields of the form, in order: name, message key.
const ADDRESS: [(&str, &str); 9] = [
    ("name", "pos.f_name"),
    ("region", "pos.f_region"),
    ("city", "pos.f_city"),
    ("street", "pos.f_street"),
    ("house", "pos.f_house"),
    ("premises", "pos.f_premises"),
    ("postal_code", "pos.f_postal_code"),
    ("location", "pos.f_location"),
    ("fias_code", "pos.f_fias_code"),
];

fn fields_of(form: &Posted) -> PosFields {
    PosFields {
        name: form.get("name").to_owned(),
        region: form.opt("region"),
        city: form.opt("city"),
        street: form.opt("street"),
        house: form.opt("house"),
        premises: form.opt("premises"),
        postal_code: form.opt("postal_code"),
        location: form.opt("location"),
        fias_code: form.opt("fias_code"),
        kato_code: form.opt("kato_code"),
    }
}

fn form_of(pos: &PosFields) -> Posted {
    let mut fields = HashMap::new();
    let mut put = |name: &str, value: Option<&String>| {
        if let Some(value) = value {
            fields.insert(name.to_owned(), vec![value.clone()]);
        }
    };
    put("name", Some(&pos.name));
    put("region", pos.region.as_ref());
    put("city", pos.city.as_ref());
    put("street", pos.street.as_ref());
    put("house", pos.house.as_ref());
    put("premises", pos.premises.as_ref());
    put("postal_code", pos.postal_code.as_ref());
    put("location", pos.location.as_ref());
    put("fias_code", pos.fias_code.as_ref());
    put("kato_code", pos.kato_code.as_ref());
    Posted(fields)
}

fn address_fields(ctx: &Ctx, problems: &Problems, form: &Posted) -> Markup {
    let kz = ctx.who.as_ref().is_some_and(|w| w.org_kz);
    let operator = ctx.who.as_ref().is_some_and(|w| w.operator);
    html! {
        @for (name, key) in ADDRESS {
            @if name != "fias_code" || !kz || operator {
                (input(ctx, problems, name, key, "text", form.get(name), name == "name"))
            }
        }
        @if kz || operator {
            (input(ctx, problems, "kato_code", "pos.f_kato_code", "text", form.get("kato_code"), false))
        }
    }
}

/// `GET /points-of-sale?org_inn=`.
pub async fn list(
    Signed(ctx, caller): Signed,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let inn = parts::org_inn(&ctx, &caller, query.get("org_inn").map(String::as_str)).await?;
    list_page(
        &ctx,
        &caller,
        inn,
        &query,
        &Posted::default(),
        &Problems::none(),
    )
    .await
}

async fn list_page(
    ctx: &Ctx,
    caller: &Caller,
    inn: Option<String>,
    query: &HashMap<String, String>,
    form: &Posted,
    problems: &Problems,
) -> Result<Response, Response> {
    let Some(inn) = inn else {
        // Operator staff: name the organisation first.
        let body = html! {
            form.filters method="get" action="/points-of-sale" {
                (input(ctx, &Problems::none(), "org_inn", "field.inn", "text", "", true))
                button type="submit" { (ctx.t("filter.apply")) }
            }
        };
        return Ok(ctx.page(ctx.t("pos.title"), body));
    };
    let Json(grouped) =
        api::registers_by_point_of_sale(Extension(caller.clone()), Ok(Path(inn.clone())))
            .await
            .or_page(ctx)?;
    let may_change = caller.require(Permission::ChangeRegisters).is_ok();
    let may_bill = caller.require(Permission::ManageBilling).is_ok();
    let plans = if may_bill {
        let Json(plans) = tariffs::list_plans(
            Extension(caller.clone()),
            Ok(Query(tariffs::PlanQuery { archived: None })),
        )
        .await
        .or_page(ctx)?;
        plans.plans
    } else {
        Vec::new()
    };
    let points: Vec<&PointOfSale> = grouped
        .groups
        .iter()
        .filter_map(|g| g.point_of_sale.as_ref())
        .collect();
    let operator = ctx.who.as_ref().is_some_and(|w| w.operator);
    let inn_query = if operator {
        format!(
            "?org_inn={}",
            url::form_urlencoded::byte_serialize(inn.as_bytes()).collect::<String>()
        )
    } else {
        String::new()
    };
    let mut actions = Vec::new();
    if may_change {
        actions.push(("block", ctx.t("pos.batch_block")));
        actions.push(("deregister", ctx.t("pos.batch_deregister")));
        if !points.is_empty() {
            actions.push(("change_pos", ctx.t("pos.batch_change_pos")));
        }
    }
    if may_bill && !plans.is_empty() {
        actions.push(("activate_tariff", ctx.t("pos.batch_activate_tariff")));
    }
    let pos_options: Vec<(String, String)> = points
        .iter()
        .map(|p| (p.id.to_string(), p.fields.name.clone()))
        .collect();
    let pos_options: Vec<(&str, &str)> = pos_options
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let plan_options: Vec<(String, String)> = plans
        .iter()
        .map(|p| {
            (
                p.id.to_string(),
                format!(
                    "{} · {}",
                    p.name,
                    parts::money(ctx, p.price_minor, &p.currency)
                ),
            )
        })
        .collect();
    let plan_options: Vec<(&str, &str)> = plan_options
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let none = Problems::none();
    let any_registers = grouped.groups.iter().any(|g| !g.registers.is_empty());
    let body = html! {
        (done_notice(ctx, query))
        @if operator { p.quiet { (ctx.t("field.inn")) ": " (inn) } }
        section aria-labelledby="h-pos" {
            h2 id="h-pos" { (ctx.t("pos.list")) }
            @if points.is_empty() {
                p.quiet { (ctx.t("pos.none")) }
            } @else {
                div.scroll { table {
                    thead { tr {
                        th { (ctx.t("pos.f_name")) }
                        th { (ctx.t("pos.address")) }
                        th { (ctx.t("pos.registers_count")) }
                    } }
                    tbody {
                        @for group in &grouped.groups {
                            @if let Some(pos) = &group.point_of_sale {
                                tr {
                                    td { a href={ "/points-of-sale/" (pos.id) } { (pos.fields.name) } }
                                    td { (address(&pos.fields)) }
                                    td { (group.registers.len()) }
                                }
                            }
                        }
                    }
                } }
            }
        }
        @if may_change {
            section aria-labelledby="h-pos-add" {
                h2 id="h-pos-add" { (ctx.t("pos.add")) }
                (problems.summary(ctx))
                form method="post" action={ "/points-of-sale" (inn_query) } {
                    (ctx.csrf_field())
                    (address_fields(ctx, problems, form))
                    button type="submit" { (ctx.t("pos.add_submit")) }
                }
            }
        }
        section aria-labelledby="h-grouped" {
            h2 id="h-grouped" { (ctx.t("pos.grouped")) }
            @if !any_registers {
                p.quiet { (ctx.t("registers.none")) }
            } @else {
                form method="post" action={ "/registers/batch" (inn_query) } {
                    (ctx.csrf_field())
                    @for group in &grouped.groups {
                        @if !group.registers.is_empty() {
                            h3 { @match &group.point_of_sale {
                                Some(pos) => { (pos.fields.name) },
                                None => { (ctx.t("pos.without")) },
                            } }
                            div.scroll { table {
                                thead { tr {
                                    th { span.visually-hidden { (ctx.t("pos.select")) } }
                                    th { (ctx.t("field.id")) }
                                    th { (ctx.t("registers.number")) }
                                    th { (ctx.t("field.model")) }
                                    th { (ctx.t("pos.lifecycle")) }
                                } }
                                tbody {
                                    @for view in &group.registers {
                                        @let r = &view.register;
                                        tr {
                                            td {
                                                input type="checkbox" name="ids" value=(r.id) id={ "sel-" (r.id) };
                                                label.visually-hidden for={ "sel-" (r.id) } { (ctx.t1("pos.select_one", r.id)) }
                                            }
                                            td { a href={ "/registers/" (r.id) } { (r.id) } }
                                            td { (r.fn_number.clone().or(r.system_id.map(|s| s.to_string())).unwrap_or_default()) }
                                            td { (r.model.as_deref().unwrap_or("")) }
                                            td { (ctx.t(lifecycle_key(r.lifecycle.as_str()))) }
                                        }
                                    }
                                }
                            } }
                        }
                    }
                    @if !actions.is_empty() {
                        fieldset {
                            legend { (ctx.t("pos.batch")) }
                            (select(ctx, &none, "action", "pos.batch_action", &actions, ""))
                            (select(ctx, &none, "reason", "pos.batch_reason", &parts::deregistration_reasons(ctx), "other"))
                            (input(ctx, &none, "reason_text", "pos.batch_reason_text", "text", "", false))
                            @if !pos_options.is_empty() {
                                (select(ctx, &none, "pos_id", "pos.batch_pos", &pos_options, ""))
                            }
                            @if !plan_options.is_empty() {
                                (select(ctx, &none, "plan_id", "pos.batch_plan", &plan_options, ""))
                            }
                            button type="submit" { (ctx.t("pos.batch_submit")) }
                        }
                    }
                }
            }
        }
        @if may_change {
            section aria-labelledby="h-import" {
                h2 id="h-import" { (ctx.t("pos.import")) }
                p.quiet { (ctx.t("pos.import_hint")) }
                form method="post" action={ "/registers/import?org_inn=" (inn) } {
                    (ctx.csrf_field())
                    (parts::textarea(ctx, "csv", "pos.import_csv", "", 6))
                    button type="submit" { (ctx.t("pos.import_submit")) }
                }
            }
        }
    };
    Ok(ctx.page(ctx.t("pos.title"), body))
}

/// `POST /points-of-sale?org_inn=` → the list again (with field errors) or with a notice.
pub async fn add(
    Signed(ctx, caller): Signed,
    Query(query): Query<HashMap<String, String>>,
    form: Posted,
) -> Result<Response, Response> {
    let named = query.get("org_inn").map(String::as_str);
    let Some(inn) = parts::org_inn(&ctx, &caller, named).await? else {
        return Err(ctx.fail(crate::account::error::ApiError::bad_request(
            "invalid_request",
            "org_inn: name the organisation",
        )));
    };
    let result = api::create(
        Extension(caller.clone()),
        Ok(Path(inn.clone())),
        Ok(Json(fields_of(&form))),
    )
    .await;
    match result {
        Ok(_) => {
            let back = match named {
                Some(named) if caller.0.actor().org_id().is_none() => format!(
                    "/points-of-sale?org_inn={}",
                    url::form_urlencoded::byte_serialize(named.as_bytes()).collect::<String>()
                ),
                _ => "/points-of-sale".to_owned(),
            };
            Ok(done(&back, "pos.done_saved"))
        }
        Err(error) if error.status().as_u16() == 400 => {
            let problems = Problems::from_api(&error);
            list_page(&ctx, &caller, Some(inn), &HashMap::new(), &form, &problems).await
        }
        Err(error) => Err(ctx.fail(error)),
    }
}

fn edit_page(ctx: &Ctx, caller: &Caller, id: i64, form: &Posted, problems: &Problems) -> Response {
    let may_change = caller.require(Permission::ChangeRegisters).is_ok();
    let body = html! {
        @if may_change {
            (problems.summary(ctx))
            form method="post" action={ "/points-of-sale/" (id) } {
                (ctx.csrf_field())
                (address_fields(ctx, problems, form))
                button type="submit" { (ctx.t("form.save")) }
            }
        } @else {
            p { (form.get("name")) }
        }
        p { a href="/points-of-sale" { (ctx.t("pos.back")) } }
    };
    ctx.page(&ctx.t1("pos.one_title", form.get("name")), body)
}

/// `GET /points-of-sale/{id}`: the edit form (404 page for another organisation's).
pub async fn one(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let Json(pos) = api::get_one(Extension(caller.clone()), Ok(Path(id)))
        .await
        .or_page(&ctx)?;
    Ok(edit_page(
        &ctx,
        &caller,
        id,
        &form_of(&pos.fields),
        &Problems::none(),
    ))
}

/// `POST /points-of-sale/{id}` → the list with a notice, or the form with field errors.
pub async fn update(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
    form: Posted,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    match api::update(
        Extension(caller.clone()),
        Ok(Path(id)),
        Ok(Json(fields_of(&form))),
    )
    .await
    {
        Ok(_) => Ok(done(&format!("/points-of-sale/{id}"), "pos.done_saved")),
        Err(error) if error.status().as_u16() == 400 => {
            let problems = Problems::from_api(&error);
            Ok(edit_page(&ctx, &caller, id, &form, &problems))
        }
        Err(error) => Err(ctx.fail(error)),
    }
}

fn results_page(ctx: &Ctx, result: &register_batch::BatchResult, import: bool) -> Response {
    let body = html! {
        p role="status" { (ctx.t1("pos.batch_done", result.done)) " · " (ctx.t1("pos.batch_failed", result.failed)) }
        div.scroll { table {
            thead { tr {
                @if import { th { (ctx.t("pos.row")) } }
                th { (ctx.t("field.id")) }
                th { (ctx.t("pos.result")) }
                th { (ctx.t("pos.lifecycle")) }
            } }
            tbody {
                @for item in &result.results {
                    tr {
                        @if import { td { (item.row.unwrap_or(0)) } }
                        td { @if let Some(id) = item.id { a href={ "/registers/" (id) } { (id) } } }
                        td {
                            @if item.ok { span.notice { (ctx.t("pos.ok")) } }
                            @else { span.error { (item.message.as_deref().unwrap_or("")) } }
                        }
                        td { @if let Some(l) = &item.lifecycle { (ctx.t(lifecycle_key(l))) } }
                    }
                }
            }
        } }
        p { a href="/points-of-sale" { (ctx.t("pos.back")) } }
    };
    ctx.page(ctx.t("pos.batch_title"), body)
}

/// `POST /registers/batch`: the ticked registers (`ids`) and the chosen action → one line per
/// register.
pub async fn batch(Signed(ctx, caller): Signed, form: Posted) -> Result<Response, Response> {
    let ids: Vec<i64> = form
        .all("ids")
        .iter()
        .filter_map(|id| id.parse().ok())
        .collect();
    let action = match form.get("action") {
        "deregister" => json!({
            "type": "deregister",
            "reason": form.get("reason"),
            "reason_text": form.opt("reason_text"),
        }),
        "change_pos" => {
            json!({ "type": "change_pos", "pos_id": form.get("pos_id").parse::<i64>().unwrap_or(0) })
        }
        "activate_tariff" => json!({
            "type": "activate_tariff",
            "plan_id": form.get("plan_id").parse::<i64>().unwrap_or(0),
        }),
        other => json!({ "type": other }),
    };
    let request: BatchRequest = typed(json!({ "ids": ids, "action": action })).or_page(&ctx)?;
    let Json(result) = register_batch::batch(Extension(caller), Ok(Json(request)))
        .await
        .or_page(&ctx)?;
    Ok(results_page(&ctx, &result, false))
}

/// `POST /registers/import?org_inn=`: the pasted CSV → one line per row.
pub async fn import(
    Signed(ctx, caller): Signed,
    Query(query): Query<HashMap<String, String>>,
    form: Posted,
) -> Result<Response, Response> {
    let named = query.get("org_inn").map(String::as_str);
    let inn = parts::org_inn(&ctx, &caller, named)
        .await?
        .unwrap_or_default();
    let csv = form
        .0
        .get("csv")
        .and_then(|v| v.first())
        .cloned()
        .unwrap_or_default();
    let (_, Json(result)) = register_batch::import(
        Extension(caller),
        Ok(Query(ImportQuery { org_inn: inn })),
        csv,
    )
    .await
    .or_page(&ctx)?;
    Ok(results_page(&ctx, &result, true))
}
