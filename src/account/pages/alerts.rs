//! Alerts: the organisation's client alerts (open ones, or all) with acknowledgement, and the
//! settings page — thresholds, the webhook (its signing secret shown once, on the page answering
//! the POST that issued it) and the signed-in user's e-mail choice per kind.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::{Extension, Json};
use maud::{html, Markup};
use serde_json::json;

use super::forms::parse_id;
use super::forms::{input, typed, Posted, Problems};
use super::{notice, see_other, Ctx, OrPage as _, Signed};
use crate::account::alert_rules::{AlertKind, Severity, Thresholds};
use crate::account::alerts::{self as api, AlertQuery, OrgQuery, SettingsChange};
use crate::account::auth::{Caller, Permission};
use crate::account::error::ApiError;
use crate::account::AppState;
use crate::store::alerts::{AlertRecord, Subscription};

/// The title of an alert kind in the page's language.
fn kind_title(ctx: &Ctx, kind: &str) -> String {
    ctx.lang
        .lookup(&format!("alert.kind.{kind}"))
        .map(str::to_owned)
        .unwrap_or_else(|| kind.to_owned())
}

fn severity_key(severity: &str) -> &'static str {
    match severity {
        "critical" => "severity.critical",
        "warning" => "severity.warning",
        _ => "severity.info",
    }
}

fn state_key(state: &str) -> &'static str {
    match state {
        "firing" => "alert.firing",
        "acknowledged" => "alert.acknowledged",
        _ => "alert.resolved",
    }
}

/// The alerts as a table, with an acknowledge button on firing ones (also used by home).
pub fn alert_table(ctx: &Ctx, alerts: &[AlertRecord]) -> Markup {
    let may_ack = ctx
        .who
        .as_ref()
        .is_some_and(|w| w.may(Permission::AcknowledgeAlerts));
    html! {
        div.scroll {
            table.alerts {
                thead { tr {
                    th { (ctx.t("alert.severity")) }
                    th { (ctx.t("alert.what")) }
                    th { (ctx.t("alert.register")) }
                    th { (ctx.t("alert.since")) }
                    th { (ctx.t("field.status")) }
                } }
                tbody {
                    @for alert in alerts {
                        tr class={ "alert " (alert.state) } data-alert=(alert.id) {
                            td { span class={ "severity " (alert.severity) } { (ctx.t(severity_key(&alert.severity))) } }
                            td { (kind_title(ctx, &alert.kind)) }
                            td {
                                @if let Some(register) = alert.register_id {
                                    a href={ "/registers/" (register) } { (register) }
                                }
                            }
                            td { (ctx.when(alert.first_seen)) }
                            td {
                                (ctx.t(state_key(&alert.state)))
                                @if alert.state == "firing" && may_ack {
                                    form.inline method="post" action={ "/alerts/" (alert.id) "/acknowledge" } {
                                        (ctx.csrf_field())
                                        button type="submit" { (ctx.t("alert.acknowledge")) }
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

/// `GET /alerts?state=open|all&before_id=`.
pub async fn list(
    Signed(ctx, caller): Signed,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let all = query.get("state").is_some_and(|s| s == "all");
    let request = AlertQuery {
        state: Some(if all { "all" } else { "open" }.to_owned()),
        before_id: query.get("before_id").and_then(|v| v.parse().ok()),
        limit: Some(100),
    };
    let Json(page) = api::list(Extension(caller.clone()), Ok(Query(request)))
        .await
        .or_page(&ctx)?;
    let body = html! {
        (notice(&ctx, query.get("done").map(String::as_str)))
        p {
            @if all {
                a href="/alerts" { (ctx.t("alerts.show_open")) }
            } @else {
                a href="/alerts?state=all" { (ctx.t("alerts.show_all")) }
            }
            " · "
            a href="/alerts/settings" { (ctx.t("alerts.settings")) }
        }
        @if page.alerts.is_empty() {
            p.quiet { (ctx.t("home.no_alerts")) }
        } @else {
            (alert_table(&ctx, &page.alerts))
        }
        @if let Some(next) = page.next_before_id {
            p { a rel="next" href={ "/alerts?state=" (if all { "all" } else { "open" }) "&before_id=" (next) } { (ctx.t("paging.next")) } }
        }
    };
    Ok(ctx.page(ctx.t("alerts.title"), body))
}

/// `POST /alerts/{id}/acknowledge`.
pub async fn acknowledge(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let _changed = api::acknowledge(Extension(caller), Ok(Path(id)))
        .await
        .or_page(&ctx)?;
    Ok(see_other("/alerts", "acknowledged"))
}

const THRESHOLDS: [(&str, &str); 7] = [
    ("silent_hours", "threshold.silent_hours"),
    ("drive_key_days", "threshold.drive_key_days"),
    ("unsent_days", "threshold.unsent_days"),
    ("kz_offline_hours", "threshold.kz_offline_hours"),
    ("shift_open_hours", "threshold.shift_open_hours"),
    ("tariff_days", "threshold.tariff_days"),
    ("event_window_hours", "threshold.event_window_hours"),
];

async fn settings_page(
    ctx: &Ctx,
    caller: &Caller,
    done: Option<&str>,
    secret: Option<&str>,
    posted: Option<&Posted>,
    problems: &Problems,
    org_id: Option<i64>,
) -> Result<Response, Response> {
    if org_id.is_none() && caller.0.actor().org_id().is_none() {
        // Operator staff: name the organisation whose settings to see (`?org_id=`).
        let body = html! {
            form.filters method="get" action="/alerts/settings" {
                (input(ctx, &Problems::none(), "org_id", "money.org", "number", "", true))
                button type="submit" { (ctx.t("filter.apply")) }
            }
        };
        return Ok(ctx.page(ctx.t("alerts.settings"), body));
    }
    let Json(settings) = api::settings(Extension(caller.clone()), Ok(Query(OrgQuery { org_id })))
        .await
        .or_page(ctx)?;
    let thresholds: Thresholds =
        serde_json::from_value(settings.thresholds.clone()).unwrap_or_default();
    let current = serde_json::to_value(&thresholds).unwrap_or_default();
    let value = |name: &str| -> String {
        match posted {
            Some(form) => form.get(name).to_owned(),
            None => current[name]
                .as_i64()
                .map(|v| v.to_string())
                .unwrap_or_default(),
        }
    };
    let webhook = match posted {
        Some(form) => form.get("webhook_url").to_owned(),
        None => settings.webhook_url.clone().unwrap_or_default(),
    };
    let may_manage = caller.require(Permission::ManageAlertSettings).is_ok();
    let user_choices = match caller.0.actor() {
        crate::store::Actor::User { .. } => {
            let Json(choices) = api::subscriptions(Extension(caller.clone()))
                .await
                .or_page(ctx)?;
            Some(choices)
        }
        _ => None,
    };
    let role_default = |kind: &AlertKind| {
        kind.severity() != Severity::Info
            && ctx.who.as_ref().and_then(|w| w.role) != Some(crate::store::Role::Cashier)
    };
    let body = html! {
        (notice(ctx, done))
        @if let Some(secret) = secret {
            div.secret role="status" {
                p { strong { (ctx.t("webhook.secret_shown_once")) } }
                p { code #webhook-secret { (secret) } }
            }
        }
        @if may_manage {
            section aria-labelledby="h-thresholds" {
                h2 id="h-thresholds" { (ctx.t("alerts.thresholds")) }
                (problems.summary(ctx))
                form method="post" action="/alerts/settings" {
                    (ctx.csrf_field())
                    @if let Some(org_id) = org_id {
                        input type="hidden" name="org_id" value=(org_id);
                    }
                    @for (name, key) in THRESHOLDS {
                        (input(ctx, problems, name, key, "number", &value(name), true))
                    }
                    (input(ctx, problems, "webhook_url", "field.webhook_url", "url", &webhook, false))
                    @if settings.webhook_secret_set {
                        div.field.check {
                            input id="f-rotate" type="checkbox" name="rotate_secret" value="yes";
                            label for="f-rotate" { (ctx.t("webhook.rotate")) }
                        }
                    }
                    button type="submit" { (ctx.t("form.save")) }
                }
            }
        }
        @if let Some(choices) = &user_choices {
            section aria-labelledby="h-mail" {
                h2 id="h-mail" { (ctx.t("alerts.mail")) }
                form method="post" action="/alerts/subscriptions" {
                    (ctx.csrf_field())
                    @for kind in AlertKind::ALL {
                        @let chosen = choices.iter().find(|c| c.kind == kind.as_str()).map(|c| c.email).unwrap_or_else(|| role_default(kind));
                        div.field.check {
                            input id={ "mail-" (kind.as_str()) } type="checkbox" name="email" value=(kind.as_str()) checked[chosen];
                            label for={ "mail-" (kind.as_str()) } { (kind_title(ctx, kind.as_str())) }
                        }
                    }
                    button type="submit" { (ctx.t("form.save")) }
                }
            }
        }
    };
    Ok(ctx.page(ctx.t("alerts.settings"), body))
}

/// `GET /alerts/settings`.
pub async fn settings(
    Signed(ctx, caller): Signed,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let org_id = query.get("org_id").and_then(|id| id.parse::<i64>().ok());
    settings_page(
        &ctx,
        &caller,
        query.get("done").map(String::as_str),
        None,
        None,
        &Problems::none(),
        org_id,
    )
    .await
}

/// `POST /alerts/settings` → the settings page, with the webhook secret if one was issued.
pub async fn save_settings(
    Signed(ctx, caller): Signed,
    State(state): State<AppState>,
    form: Posted,
) -> Result<Response, Response> {
    let org_id = form.get("org_id").parse::<i64>().ok();
    let mut thresholds = serde_json::Map::new();
    let mut problem = None;
    for (name, _) in THRESHOLDS {
        match form.get(name).parse::<i64>() {
            Ok(value) => {
                thresholds.insert(name.to_owned(), json!(value));
            }
            Err(_) => problem = Some(Problems::field(name, ctx.t("form.not_a_number"))),
        }
    }
    if let Some(problems) = problem {
        return settings_page(&ctx, &caller, None, None, Some(&form), &problems, org_id).await;
    }
    let change: Result<SettingsChange, ApiError> = typed(json!({
        "org_id": org_id,
        "thresholds": thresholds,
        "webhook_url": form.opt("webhook_url"),
        "rotate_secret": form.ticked("rotate_secret"),
    }));
    let result = match change {
        Ok(change) => {
            api::set_settings(State(state), Extension(caller.clone()), Ok(Json(change))).await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(Json(answer)) => {
            settings_page(
                &ctx,
                &caller,
                Some("saved"),
                answer.webhook_secret.as_deref(),
                None,
                &Problems::none(),
                org_id,
            )
            .await
        }
        Err(error) if error.status().as_u16() == 400 => {
            settings_page(
                &ctx,
                &caller,
                None,
                None,
                Some(&form),
                &Problems::from_api(&error),
                org_id,
            )
            .await
        }
        Err(error) => Err(ctx.fail(error)),
    }
}

/// `POST /alerts/subscriptions`: the ticked kinds are mailed, the others not.
pub async fn save_subscriptions(
    Signed(ctx, caller): Signed,
    form: Posted,
) -> Result<Response, Response> {
    let ticked = form.all("email");
    let choices: Vec<Subscription> = AlertKind::ALL
        .iter()
        .map(|kind| Subscription {
            kind: kind.as_str().to_owned(),
            email: ticked.iter().any(|t| t == kind.as_str()),
        })
        .collect();
    let _changed = api::set_subscriptions(Extension(caller), Ok(Json(choices)))
        .await
        .or_page(&ctx)?;
    Ok(see_other("/alerts/settings", "saved"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::pages::Lang;

    #[test]
    fn every_alert_kind_has_a_title_in_every_language() {
        for lang in Lang::ALL {
            for kind in AlertKind::ALL {
                assert!(
                    lang.lookup(&format!("alert.kind.{}", kind.as_str()))
                        .is_some(),
                    "{}: alert.kind.{}",
                    lang.code(),
                    kind.as_str()
                );
            }
        }
    }
}
