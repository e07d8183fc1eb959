//! The rest of one register's page: its cabinet state with the owner's confirmation of an edit,
//! links to its documents and shifts, its tariff (activate a plan, ask for an invoice), its
//! applications to the tax authority (draft a new one), its status history, and the edit form
//! with field-level errors. Each section is shown only to roles whose API call would succeed;
//! the forms post to the routes here, which call the same API handlers.

use std::collections::HashMap;

use axum::extract::{Path, Query};
use axum::response::Response;
use axum::{Extension, Json};
use maud::{html, Markup};
use serde_json::json;

use super::forms::parse_id;
use super::forms::{input, select, typed, Posted, Problems};
use super::parts::{self, done, lifecycle_key};
use super::{notice, Ctx, OrPage as _, Signed};
use crate::account::applications as api_apps;
use crate::account::auth::{Caller, Permission};
use crate::account::points_of_sale as api_pos;
use crate::account::registers::{self as api, RegisterView};
use crate::account::tariffs::{self, ActivateRequest};
use crate::store::register_cabinet::RegisterEdit;
use crate::store::tax_applications::NewApplication;
use crate::store::{Lifecycle, RegisterStatus};

/// The edit form's values from the register as it is.
fn form_of(view: &RegisterView) -> Posted {
    let r = &view.register;
    let mut fields: HashMap<String, Vec<String>> = HashMap::new();
    let mut put = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            fields.insert(name.to_owned(), vec![value]);
        }
    };
    put("serial", r.serial.clone());
    put("model", r.model.clone());
    put("reg_number", r.reg_number.clone());
    put("pos_id", r.pos_id.map(|p| p.to_string()));
    put(
        "device_type",
        r.device_type
            .and_then(|d| serde_json::to_value(d).ok())
            .and_then(|v| v.as_str().map(str::to_owned)),
    );
    put(
        "connection_type",
        r.connection_type
            .and_then(|c| serde_json::to_value(c).ok())
            .and_then(|v| v.as_str().map(str::to_owned)),
    );
    put("iccid", r.iccid.clone());
    put("msisdn", r.msisdn.clone());
    put(
        "utc_offset_minutes",
        r.utc_offset_minutes.map(|m| m.to_string()),
    );
    Posted(fields)
}

/// The sections below a register's details. `form` and `problems` refill the edit form after a
/// refused edit.
pub async fn sections(
    ctx: &Ctx,
    caller: &Caller,
    view: &RegisterView,
    form: Option<&Posted>,
    problems: &Problems,
) -> Result<Markup, Response> {
    let r = &view.register;
    let id = r.id;
    let may_change = caller.require(Permission::ChangeRegisters).is_ok();
    let may_confirm = caller.require(Permission::ConfirmRegisters).is_ok();
    let may_read_billing = caller.require(Permission::ReadBilling).is_ok();
    let may_bill = caller.require(Permission::ManageBilling).is_ok();
    let operator = ctx.who.as_ref().is_some_and(|w| w.operator);

    let Json(history) = api::history(Extension(caller.clone()), Ok(Path(id)))
        .await
        .or_page(ctx)?;
    let Json(applications) = api_apps::list(Extension(caller.clone()), Ok(Path(id)))
        .await
        .or_page(ctx)?;
    let (tariff, plans) = if may_read_billing {
        let tariff = match tariffs::get_one(Extension(caller.clone()), Ok(Path(id))).await {
            Ok(Json(tariff)) => Some(tariff),
            Err(error) if error.status().as_u16() == 404 => None,
            Err(error) => return Err(ctx.fail(error)),
        };
        let Json(plans) = tariffs::list_plans(
            Extension(caller.clone()),
            Ok(Query(tariffs::PlanQuery {
                archived: Some(true),
            })),
        )
        .await
        .or_page(ctx)?;
        (tariff, plans.plans)
    } else {
        (None, Vec::new())
    };
    let points = match (&r.org_inn, may_change) {
        (Some(inn), true) => {
            let Json(list) = api_pos::list(Extension(caller.clone()), Ok(Path(inn.clone())))
                .await
                .or_page(ctx)?;
            list.points_of_sale
        }
        _ => Vec::new(),
    };

    let plan_name = |plan_id: i64| {
        plans
            .iter()
            .find(|p| p.id == plan_id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| plan_id.to_string())
    };
    let offered: Vec<(String, String)> = plans
        .iter()
        .filter(|p| !p.archived)
        .map(|p| {
            (
                p.id.to_string(),
                format!(
                    "{} · {} / {}",
                    p.name,
                    parts::money(ctx, p.price_minor, &p.currency),
                    ctx.t1("money.days", p.period_days)
                ),
            )
        })
        .collect();
    let offered: Vec<(&str, &str)> = offered
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let pos_options: Vec<(String, String)> = std::iter::once((String::new(), "—".to_owned()))
        .chain(
            points
                .iter()
                .map(|p| (p.id.to_string(), p.fields.name.clone())),
        )
        .collect();
    let pos_options: Vec<(&str, &str)> = pos_options
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let devices = [
        ("", "—"),
        ("hardware", ctx.t("pos.device_hardware")),
        ("software", ctx.t("pos.device_software")),
    ];
    let connections = [
        ("", "—"),
        ("sim", ctx.t("pos.connection_sim")),
        ("wired", ctx.t("pos.connection_wired")),
    ];
    let kinds = [
        ("registration", ctx.t("app.kind_registration")),
        ("reregistration", ctx.t("app.kind_reregistration")),
        ("deregistration", ctx.t("app.kind_deregistration")),
    ];
    let reasons = [
        ("new_address", "app.reason_new_address"),
        ("new_drive", "app.reason_new_drive"),
        ("new_ofd", "app.reason_new_ofd"),
        ("other", "app.reason_other"),
    ];
    let current = form_of(view);
    let form = form.unwrap_or(&current);
    let none = Problems::none();
    let deregistered = r.lifecycle == Lifecycle::Deregistered;
    Ok(html! {
        p.links {
            a href={ "/documents?register=" (id) } { (ctx.t("pos.link_documents")) }
            " · "
            a href={ "/reports/shifts?register=" (id) } { (ctx.t("pos.link_shifts")) }
            @if caller.require(Permission::RequestWired).is_ok() {
                " · "
                a href={ "/wired-requests?register_id=" (id) } { (ctx.t("wired.title")) }
            }
            @if operator {
                " · "
                a href={ "/operator/registers/" (id) } { (ctx.t("op.support_title")) }
            }
        }
        section aria-labelledby="h-lifecycle" {
            h2 id="h-lifecycle" { (ctx.t("pos.lifecycle")) }
            p { strong #lifecycle { (ctx.t(lifecycle_key(r.lifecycle.as_str()))) }
                @if let Some(at) = r.registered_at { " · " (ctx.t("pos.registered_at")) " " (parts::date(ctx, at)) } }
            @if r.lifecycle == Lifecycle::Saved && r.saved_from.is_some() && may_confirm {
                form method="post" action={ "/registers/" (id) "/confirm" } {
                    (ctx.csrf_field())
                    p.quiet { (ctx.t("pos.confirm_hint")) }
                    button type="submit" { (ctx.t("pos.confirm")) }
                }
            }
        }
        @if may_read_billing {
            section aria-labelledby="h-tariff" {
                h2 id="h-tariff" { (ctx.t("money.tariff")) }
                @if let Some(t) = &tariff {
                    table.details {
                        tr { th scope="row" { (ctx.t("money.plan")) } td #tariff-plan { (plan_name(t.tariff.plan_id)) } }
                        tr { th scope="row" { (ctx.t("money.paid_until")) } td #paid-until { (parts::date(ctx, t.tariff.paid_until)) } }
                        tr { th scope="row" { (ctx.t("money.payment")) } td {
                            @match t.payment_status {
                                tariffs::PaymentStatus::Paid => span.status.active { (ctx.t("money.st_paid")) },
                                tariffs::PaymentStatus::Unpaid => span.status.blocked { (ctx.t("money.st_unpaid")) },
                            }
                        } }
                    }
                } @else {
                    p.quiet { (ctx.t("money.no_tariff")) }
                }
                @if may_bill && !offered.is_empty() && !deregistered {
                    form method="post" action={ "/registers/" (id) "/tariff" } {
                        (ctx.csrf_field())
                        (select(ctx, &none, "plan_id", "money.plan", &offered, &tariff.as_ref().map(|t| t.tariff.plan_id.to_string()).unwrap_or_default()))
                        button type="submit" { (ctx.t("money.activate")) }
                    }
                }
                @if may_bill && tariff.is_some() {
                    form method="post" action="/invoices" {
                        (ctx.csrf_field())
                        input type="hidden" name="register_id" value=(id);
                        (input(ctx, &none, "periods", "money.periods", "number", "1", true))
                        button type="submit" { (ctx.t("money.invoice_create")) }
                    }
                }
            }
        }
        section aria-labelledby="h-apps" {
            h2 id="h-apps" { (ctx.t("app.title")) }
            @if applications.applications.is_empty() {
                p.quiet { (ctx.t("app.none")) }
            } @else {
                (super::tax_apps::table(ctx, &applications.applications))
            }
            @if may_change && !deregistered {
                form method="post" action={ "/registers/" (id) "/applications" } {
                    (ctx.csrf_field())
                    (select(ctx, &none, "kind", "app.kind", &kinds, ""))
                    fieldset {
                        legend { (ctx.t("app.reasons")) }
                        @for (value, key) in reasons {
                            div.field.check {
                                input type="checkbox" name="reasons" value=(value) id={ "reason-" (value) };
                                label for={ "reason-" (value) } { (ctx.t(key)) }
                            }
                        }
                    }
                    (select(ctx, &none, "deregistration_reason", "pos.batch_reason", &parts::deregistration_reasons(ctx), "other"))
                    (input(ctx, &none, "deregistration_text", "pos.batch_reason_text", "text", "", false))
                    button type="submit" { (ctx.t("app.create")) }
                }
            }
        }
        section aria-labelledby="h-history" {
            h2 id="h-history" { (ctx.t("pos.history")) }
            div.scroll { table {
                thead { tr {
                    th { (ctx.t("pos.when")) }
                    th { (ctx.t("pos.from")) }
                    th { (ctx.t("pos.to")) }
                    th { (ctx.t("pos.who")) }
                    th { (ctx.t("pos.batch_reason")) }
                } }
                tbody {
                    @for step in &history {
                        tr {
                            td { (ctx.when(step.at)) }
                            td { (ctx.t(lifecycle_key(&step.from))) }
                            td { (ctx.t(lifecycle_key(&step.to))) }
                            td { (step.actor) }
                            td { (step.reason.as_deref().unwrap_or("")) " " (step.reason_text.as_deref().unwrap_or("")) }
                        }
                    }
                }
            } }
        }
        @if may_change && !deregistered {
            section aria-labelledby="h-edit" {
                h2 id="h-edit" { (ctx.t("pos.edit")) }
                p.quiet { (ctx.t("pos.edit_hint")) }
                (problems.summary(ctx))
                form method="post" action={ "/registers/" (id) "/edit" } {
                    (ctx.csrf_field())
                    (input(ctx, problems, "serial", "field.serial", "text", form.get("serial"), false))
                    (input(ctx, problems, "model", "field.model", "text", form.get("model"), false))
                    (input(ctx, problems, "reg_number", "field.reg_number", "text", form.get("reg_number"), false))
                    (select(ctx, problems, "pos_id", "pos.f_pos", &pos_options, form.get("pos_id")))
                    (select(ctx, problems, "device_type", "pos.f_device_type", &devices, form.get("device_type")))
                    (select(ctx, problems, "connection_type", "pos.f_connection_type", &connections, form.get("connection_type")))
                    (input(ctx, problems, "iccid", "pos.f_iccid", "text", form.get("iccid"), false))
                    (input(ctx, problems, "msisdn", "pos.f_msisdn", "tel", form.get("msisdn"), false))
                    (input(ctx, problems, "utc_offset_minutes", "pos.f_utc_offset", "text", form.get("utc_offset_minutes"), false))
                    button type="submit" { (ctx.t("form.save")) }
                }
            }
        }
    })
}

/// `POST /registers/{id}/edit` → the register page with a notice, or with the edit form's
/// field errors.
pub async fn edit(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
    form: Posted,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let offset = match form.opt("utc_offset_minutes") {
        None => None,
        Some(text) => match text.parse::<i64>() {
            Ok(minutes) => Some(minutes),
            Err(_) => {
                let problems = Problems::field("utc_offset_minutes", ctx.t("form.not_a_number"));
                return refused(&ctx, &caller, id, &form, &problems).await;
            }
        },
    };
    let edit: Result<RegisterEdit, _> = typed(json!({
        "serial": form.opt("serial"),
        "model": form.opt("model"),
        "reg_number": form.opt("reg_number"),
        "pos_id": form.opt("pos_id").and_then(|p| p.parse::<i64>().ok()),
        "device_type": form.opt("device_type"),
        "connection_type": form.opt("connection_type"),
        "iccid": form.opt("iccid"),
        "msisdn": form.opt("msisdn"),
        "utc_offset_minutes": offset,
    }));
    let result = match edit {
        Ok(edit) => api::edit(Extension(caller.clone()), Ok(Path(id)), Ok(Json(edit))).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(_) => Ok(done(&format!("/registers/{id}"), "pos.done_edited")),
        Err(error) if error.status().as_u16() == 400 => {
            refused(&ctx, &caller, id, &form, &Problems::from_api(&error)).await
        }
        Err(error) => Err(ctx.fail(error)),
    }
}

async fn refused(
    ctx: &Ctx,
    caller: &Caller,
    id: i64,
    form: &Posted,
    problems: &Problems,
) -> Result<Response, Response> {
    let Json(view) = api::get_one(Extension(caller.clone()), Ok(Path(id)))
        .await
        .or_page(ctx)?;
    let more = sections(ctx, caller, &view, Some(form), problems).await?;
    parts::refused(Ok(register_page(ctx, caller, &view, None, more)))
}

/// `POST /registers/{id}/confirm` (the owner, operator staff).
pub async fn confirm(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let _done = api::confirm(Extension(caller), Ok(Path(id)))
        .await
        .or_page(&ctx)?;
    Ok(done(&format!("/registers/{id}"), "pos.done_confirmed"))
}

/// `POST /registers/{id}/tariff`: put the register on the chosen plan.
pub async fn activate(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
    form: Posted,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let request: ActivateRequest = typed(json!({
        "plan_id": form.get("plan_id").parse::<i64>().unwrap_or(0),
    }))
    .or_page(&ctx)?;
    let _done = tariffs::activate(Extension(caller), Ok(Path(id)), Ok(Json(request)))
        .await
        .or_page(&ctx)?;
    Ok(done(&format!("/registers/{id}"), "money.done_activated"))
}

/// `POST /registers/{id}/applications` → the new draft's page.
pub async fn create_application(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
    form: Posted,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let kind = form.get("kind");
    let new: NewApplication = typed(json!({
        "kind": kind,
        "reasons": if kind == "reregistration" { form.all("reasons") } else { Vec::new() },
        "deregistration_reason": (kind == "deregistration").then(|| form.get("deregistration_reason")),
        "deregistration_text": if kind == "deregistration" { form.opt("deregistration_text") } else { None },
    }))
    .or_page(&ctx)?;
    let (_, Json(application)) = api_apps::create(Extension(caller), Ok(Path(id)), Ok(Json(new)))
        .await
        .or_page(&ctx)?;
    Ok(done(
        &format!("/applications/{}", application.id),
        "app.done_created",
    ))
}

/// The word a register status is shown as.
pub(super) fn status_key(status: RegisterStatus) -> &'static str {
    match status {
        RegisterStatus::Active => "status.active",
        RegisterStatus::Blocked => "status.blocked",
        RegisterStatus::Deregistered => "status.deregistered",
    }
}

/// One register's page: its details, status and token forms, then `more` (the sections of
/// [`sections`]).
pub(super) fn register_page(
    ctx: &Ctx,
    caller: &Caller,
    view: &RegisterView,
    done: Option<&str>,
    more: Markup,
) -> Response {
    let register = &view.register;
    let may_change = caller.require(Permission::ChangeRegisters).is_ok();
    let statuses = [
        ("active", ctx.t("status.active")),
        ("blocked", ctx.t("status.blocked")),
        ("deregistered", ctx.t("status.deregistered")),
    ];
    let kz = register.dialect.to_string() == "kz";
    let row = |key: &str, value: String| -> Markup {
        html! { tr { th scope="row" { (ctx.t(key)) } td { (value) } } }
    };
    let body = html! {
        (notice(ctx, done))
        (super::parts::notice_of(ctx, done))
        @if let Some(token) = view.token {
            div.secret role="status" {
                p { strong { (ctx.t("token.shown_once")) } }
                p { code #kz-token { (token) } }
            }
        }
        table.details {
            (row("field.dialect", register.dialect.to_string().to_uppercase()))
            @if let Some(fn_number) = &register.fn_number { (row("field.fn_number", fn_number.clone())) }
            @if let Some(system_id) = register.system_id { (row("field.system_id", system_id.to_string())) }
            (row("field.serial", register.serial.clone().unwrap_or_default()))
            (row("field.model", register.model.clone().unwrap_or_default()))
            (row("field.reg_number", register.reg_number.clone().unwrap_or_default()))
            (row("field.inn", register.org_inn.clone().unwrap_or_default()))
            tr { th scope="row" { (ctx.t("field.status")) } td { span class={ "status " (register.status.as_str()) } { (ctx.t(status_key(register.status))) } } }
            (row("field.created", ctx.when(register.created_at)))
            (row("field.updated", ctx.when(register.updated_at)))
        }
        @if may_change && register.status != RegisterStatus::Deregistered {
            form method="post" action={ "/registers/" (register.id) "/status" } {
                (ctx.csrf_field())
                (select(ctx, &Problems::none(), "status", "field.status", &statuses, register.status.as_str()))
                button type="submit" { (ctx.t("registers.change_status")) }
            }
            @if kz {
                form method="post" action={ "/registers/" (register.id) "/token" } {
                    (ctx.csrf_field())
                    p.quiet { (ctx.t("token.reset_hint")) }
                    button type="submit" { (ctx.t("token.reset")) }
                }
            }
        }
        (more)
        p { a href="/registers" { (ctx.t("registers.back")) } }
    };
    ctx.page(&ctx.t1("registers.one_title", register.id), body)
}
