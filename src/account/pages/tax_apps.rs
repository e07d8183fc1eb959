//! Applications to the tax authority: the list of every application in scope (by status), and
//! one application's page, which is also its printable form (the stylesheet's print rules drop
//! the header and the forms) with what may be done to it next: sign (only when the deployment
//! has an e-signature verifier; the signing tool's base64 signature over the shown payload is
//! pasted in), submit, and enter the tax authority's answer (operator staff and owners).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::{Extension, Json};
use maud::{html, Markup};
use serde_json::json;

use super::forms::parse_id;
use super::forms::{input, select, typed, Posted, Problems};
use super::parts::{self, app_kind_key, app_status_key, done, done_notice};
use super::{Ctx, OrPage as _, Signed};
use crate::account::applications::{self as api, ApplicationQuery, SignRequest};
use crate::account::auth::Permission;
use crate::account::AppState;
use crate::store::tax_applications::{ApplicationAnswer, ApplicationStatus, TaxApplication};

/// The table of `applications` (the register page and the lists use it).
pub fn table(ctx: &Ctx, applications: &[TaxApplication]) -> Markup {
    html! {
        div.scroll { table {
            thead { tr {
                th { (ctx.t("field.id")) }
                th { (ctx.t("app.register")) }
                th { (ctx.t("app.kind")) }
                th { (ctx.t("field.status")) }
                th { (ctx.t("field.inn")) }
                th { (ctx.t("field.updated")) }
            } }
            tbody {
                @for a in applications {
                    tr {
                        td { a href={ "/applications/" (a.id) } { (a.id) } }
                        td { a href={ "/registers/" (a.register_id) } { (a.register_id) } }
                        td { (ctx.t(app_kind_key(a.kind.as_str()))) }
                        td { span class={ "app " (a.status.as_str()) } { (ctx.t(app_status_key(a.status.as_str()))) } }
                        td { (a.fields.org_inn) }
                        td { (ctx.when(a.updated_at)) }
                    }
                }
            }
        } }
    }
}

/// `GET /applications?status=`.
pub async fn list(
    Signed(ctx, caller): Signed,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let status = query.get("status").filter(|s| !s.is_empty()).cloned();
    let request: ApplicationQuery = typed(json!({ "status": status })).or_page(&ctx)?;
    let Json(list) = api::list_all(Extension(caller), Ok(Query(request)))
        .await
        .or_page(&ctx)?;
    let statuses = [
        ("", ctx.t("filter.any")),
        ("draft", ctx.t("app.st_draft")),
        ("signed", ctx.t("app.st_signed")),
        ("submitted", ctx.t("app.st_submitted")),
        ("accepted", ctx.t("app.st_accepted")),
        ("refused", ctx.t("app.st_refused")),
    ];
    let body = html! {
        form.filters method="get" action="/applications" {
            (select(&ctx, &Problems::none(), "status", "field.status", &statuses, status.as_deref().unwrap_or("")))
            button type="submit" { (ctx.t("filter.apply")) }
        }
        @if list.applications.is_empty() {
            p.quiet { (ctx.t("app.none")) }
        } @else {
            (table(&ctx, &list.applications))
        }
    };
    Ok(ctx.page(ctx.t("app.title"), body))
}

fn page(
    ctx: &Ctx,
    export: &api::ApplicationExport,
    esign: bool,
    may_change: bool,
    may_answer: bool,
    query: &HashMap<String, String>,
    problems: &Problems,
) -> Response {
    let a = &export.application;
    let f = &a.fields;
    let row = |key: &str, value: Option<String>| -> Markup {
        html! { @if let Some(value) = value.filter(|v| !v.is_empty()) { tr { th scope="row" { (ctx.t(key)) } td { (value) } } } }
    };
    let reasons = f
        .reregistration_reasons
        .iter()
        .map(|r| {
            let word = serde_json::to_value(r)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            ctx.t(match word.as_str() {
                "new_address" => "app.reason_new_address",
                "new_drive" => "app.reason_new_drive",
                "new_ofd" => "app.reason_new_ofd",
                _ => "app.reason_other",
            })
        })
        .collect::<Vec<_>>()
        .join(", ");
    let none = Problems::none();
    let title = format!("{} № {}", ctx.t(app_kind_key(a.kind.as_str())), a.id);
    let body = html! {
        (done_notice(ctx, query))
        (problems.summary(ctx))
        article.printable {
            table.details {
                (row("field.inn", Some(f.org_inn.clone())))
                (row("app.org", Some(f.org_name.clone())))
                (row("field.model", f.model.clone()))
                (row("field.serial", f.serial.clone()))
                (row("field.fn_number", f.fn_number.clone()))
                (row("app.fn_model", f.fn_model.clone()))
                (row("field.system_id", f.system_id.map(|v| v.to_string())))
                (row("field.reg_number", f.reg_number.clone()))
                (row("app.place", f.point_of_sale.as_ref().map(|p| p.name.clone())))
                (row("pos.address", f.point_of_sale.as_ref().map(super::parts::address)))
                (row("app.reasons", Some(reasons)))
                (row("pos.batch_reason", f.deregistration_reason.map(|r| r.as_str().to_owned())))
                (row("pos.batch_reason_text", f.deregistration_text.clone()))
                tr { th scope="row" { (ctx.t("field.status")) } td #app-status { (ctx.t(app_status_key(a.status.as_str()))) } }
                (row("app.signer", a.signer.clone()))
                (row("app.refusal_reason", a.refusal_reason.clone()))
                (row("app.answer_reg_number", f.answer_reg_number.clone()))
                (row("app.answer_date", f.answer_registered_at.map(|at| parts::date(ctx, at))))
                (row("field.created", Some(ctx.when(a.created_at))))
            }
            p.print-only { (ctx.t("app.print_signature")) " ____________________" }
        }
        div.actions {
            p { a href={ "/api/v1/applications/" (a.id) "/print" } { (ctx.t("app.print_api")) } }
            @if may_change && a.status == ApplicationStatus::Draft && esign {
                form method="post" action={ "/applications/" (a.id) "/sign" } {
                    (ctx.csrf_field())
                    p.quiet { (ctx.t("app.sign_hint")) }
                    p { code.payload #signed-payload { (export.signed_payload) } }
                    (parts::textarea(ctx, "signature", "app.signature", "", 4))
                    button type="submit" { (ctx.t("app.sign")) }
                }
            }
            @if may_change && matches!(a.status, ApplicationStatus::Draft | ApplicationStatus::Signed) {
                form method="post" action={ "/applications/" (a.id) "/submit" } {
                    (ctx.csrf_field())
                    button type="submit" { (ctx.t("app.submit")) }
                }
            }
            @if may_answer && a.status == ApplicationStatus::Submitted {
                form method="post" action={ "/applications/" (a.id) "/answer" } {
                    (ctx.csrf_field())
                    fieldset {
                        legend { (ctx.t("app.answer")) }
                        (select(ctx, &none, "accepted", "app.answer_result", &[("yes", ctx.t("app.st_accepted")), ("no", ctx.t("app.st_refused"))], "yes"))
                        (input(ctx, problems, "reg_number", "app.answer_reg_number", "text", "", false))
                        (input(ctx, problems, "refusal_reason", "app.refusal_reason", "text", "", false))
                        button type="submit" { (ctx.t("app.answer_submit")) }
                    }
                }
            }
            p { a href={ "/registers/" (a.register_id) } { (ctx.t1("registers.one_title", a.register_id)) } }
        }
    };
    ctx.page(&title, body)
}

async fn show(
    state: &AppState,
    ctx: &Ctx,
    caller: &crate::account::auth::Caller,
    id: i64,
    query: &HashMap<String, String>,
    problems: &Problems,
) -> Result<Response, Response> {
    let Json(export) = api::get_one(Extension(caller.clone()), Ok(Path(id)))
        .await
        .or_page(ctx)?;
    let may_change = caller.require(Permission::ChangeRegisters).is_ok();
    let may_answer = caller.require(Permission::AnswerApplications).is_ok();
    let mut response = page(
        ctx,
        &export,
        state.esign.configured(),
        may_change,
        may_answer,
        query,
        problems,
    );
    if !problems.summary(ctx).into_string().is_empty() {
        *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

/// `GET /applications/{id}`: the application, printable.
pub async fn one(
    State(state): State<AppState>,
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    show(&state, &ctx, &caller, id, &query, &Problems::none()).await
}

/// `POST /applications/{id}/submit`.
pub async fn submit(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let _done = api::submit(Extension(caller), Ok(Path(id)))
        .await
        .or_page(&ctx)?;
    Ok(done(&format!("/applications/{id}"), "app.done_submitted"))
}

/// `POST /applications/{id}/sign` with the pasted signature.
pub async fn sign(
    State(state): State<AppState>,
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
    form: Posted,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let request = SignRequest {
        signature: form.get("signature").split_whitespace().collect(),
    };
    match api::sign(
        State(state.clone()),
        Extension(caller.clone()),
        Ok(Path(id)),
        Ok(Json(request)),
    )
    .await
    {
        Ok(_) => Ok(done(&format!("/applications/{id}"), "app.done_signed")),
        Err(error) if error.status().as_u16() == 400 => {
            let problems = Problems::general(error.message());
            show(&state, &ctx, &caller, id, &HashMap::new(), &problems).await
        }
        Err(error) => Err(ctx.fail(error)),
    }
}

/// `POST /applications/{id}/answer`: the tax authority's acceptance (with the registration
/// number) or refusal (with its reason).
pub async fn answer(
    State(state): State<AppState>,
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
    form: Posted,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let accepted = form.get("accepted") == "yes";
    let answer: ApplicationAnswer = typed(json!({
        "accepted": accepted,
        "reg_number": if accepted { form.opt("reg_number") } else { None },
        "refusal_reason": if accepted { None } else { form.opt("refusal_reason") },
    }))
    .or_page(&ctx)?;
    match api::answer(Extension(caller.clone()), Ok(Path(id)), Ok(Json(answer))).await {
        Ok(_) => Ok(done(&format!("/applications/{id}"), "app.done_answered")),
        Err(error) if error.status().as_u16() == 400 => {
            let problems = Problems::from_api(&error);
            show(&state, &ctx, &caller, id, &HashMap::new(), &problems).await
        }
        Err(error) => Err(ctx.fail(error)),
    }
}
