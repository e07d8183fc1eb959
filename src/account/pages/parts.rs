//! Small pieces shared by the points-of-sale, money, applications, wired-connection and
//! operator-console pages: their notices after a redirect, the organisation a page is about,
//! labels of stored words, money in an invoice's or a plan's currency.

use std::collections::HashMap;

use axum::response::Response;
use maud::{html, Markup, PreEscaped};

use super::i18n::Currency;
use super::{Ctx, OrPage as _};
use crate::account::auth::Caller;
use crate::account::error::ApiError;

/// The notice after a redirect carrying `?done=<key>` where the key is one of these pages'
/// own message keys (`pos.done_saved` …); anything else shows nothing.
pub fn done_notice(ctx: &Ctx, query: &HashMap<String, String>) -> Markup {
    notice_of(ctx, query.get("done").map(String::as_str))
}

/// [`done_notice`] of the `done` value itself.
pub fn notice_of(ctx: &Ctx, done: Option<&str>) -> Markup {
    let key = done.unwrap_or("");
    let ours = ["pos.", "money.", "app.", "wired.", "op.", "esign."]
        .iter()
        .any(|prefix| key.starts_with(prefix))
        && key.contains(".done_");
    match ours.then(|| ctx.lang.lookup(key)).flatten() {
        Some(text) => html! { p.notice role="status" { (text) } },
        None => PreEscaped(String::new()),
    }
}

/// A redirect after a POST with one of these pages' notices.
pub fn done(path: &str, key: &str) -> Response {
    super::see_other(path, key)
}

/// A form's page shown again with the API's refusal beside its fields: 400, not 200.
pub fn refused(page: Result<Response, Response>) -> Result<Response, Response> {
    let mut response = page?;
    *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    Ok(response)
}

/// The taxpayer number of the organisation a page is about: the caller's own, or for operator
/// staff the `org_inn` they named (`None` until they name one).
pub async fn org_inn(
    ctx: &Ctx,
    caller: &Caller,
    named: Option<&str>,
) -> Result<Option<String>, Response> {
    match caller.0.actor().org_id() {
        Some(org_id) => Ok(caller
            .0
            .organisation(org_id)
            .await
            .map_err(ApiError::from)
            .or_page(ctx)?
            .map(|org| org.inn)),
        None => Ok(named
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)),
    }
}

/// The currency of an ISO 4217 code (tenge for `KZT`, roubles otherwise).
pub fn currency(code: &str) -> Currency {
    if code.eq_ignore_ascii_case("KZT") {
        Currency::Kzt
    } else {
        Currency::Rub
    }
}

/// Money in minor units of `code`, formatted for the page's language.
pub fn money(ctx: &Ctx, minor: i64, code: &str) -> String {
    ctx.lang.money(minor, currency(code))
}

/// The message key of a register's cabinet state.
pub fn lifecycle_key(state: &str) -> &'static str {
    match state {
        "saved" => "pos.lc_saved",
        "submitted" => "pos.lc_submitted",
        "registered" => "pos.lc_registered",
        "active" => "pos.lc_active",
        "blocked" => "pos.lc_blocked",
        "reregistration" => "pos.lc_reregistration",
        "deregistered" => "pos.lc_deregistered",
        _ => "pos.lc_new",
    }
}

/// The message key of an application's status.
pub fn app_status_key(status: &str) -> &'static str {
    match status {
        "draft" => "app.st_draft",
        "signed" => "app.st_signed",
        "submitted" => "app.st_submitted",
        "accepted" => "app.st_accepted",
        _ => "app.st_refused",
    }
}

/// The message key of an application's kind.
pub fn app_kind_key(kind: &str) -> &'static str {
    match kind {
        "registration" => "app.kind_registration",
        "reregistration" => "app.kind_reregistration",
        _ => "app.kind_deregistration",
    }
}

/// The message key of an invoice's status.
pub fn invoice_status_key(status: &str) -> &'static str {
    match status {
        "paid" => "money.st_paid",
        "cancelled" => "money.st_cancelled",
        _ => "money.st_unpaid",
    }
}

/// The message key of a wired-connection request's status.
pub fn wired_status_key(status: &str) -> &'static str {
    match status {
        "new" => "wired.st_new",
        "scheduled" => "wired.st_scheduled",
        "done" => "wired.st_done",
        _ => "wired.st_cancelled",
    }
}

/// The deregistration reasons, labelled.
pub fn deregistration_reasons(ctx: &Ctx) -> Vec<(&'static str, &'static str)> {
    [
        ("sold", "pos.reason_sold"),
        ("broken", "pos.reason_broken"),
        ("drive_replaced", "pos.reason_drive_replaced"),
        ("closed_business", "pos.reason_closed_business"),
        ("other", "pos.reason_other"),
    ]
    .into_iter()
    .map(|(value, key)| (value, ctx.t(key)))
    .collect()
}

/// A date (unix ms) without the time, per language.
pub fn date(ctx: &Ctx, unix_ms: i64) -> String {
    let Some(at) = chrono::DateTime::from_timestamp_millis(unix_ms) else {
        return String::new();
    };
    match ctx.lang {
        super::Lang::En => at.format("%Y-%m-%d").to_string(),
        _ => at.format("%d.%m.%Y").to_string(),
    }
}

/// A stored `YYYY-MM-DD` date shown per language.
pub fn ymd(ctx: &Ctx, text: &str) -> String {
    match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(day) if ctx.lang != super::Lang::En => day.format("%d.%m.%Y").to_string(),
        _ => text.to_owned(),
    }
}

/// A labelled multi-line text field.
pub fn textarea(ctx: &Ctx, name: &str, label_key: &str, value: &str, rows: u32) -> Markup {
    let id = format!("f-{name}");
    html! {
        div.field {
            label for=(id) { (ctx.t(label_key)) }
            textarea id=(id) name=(name) rows=(rows) { (value) }
        }
    }
}

/// The address of a point of sale on one line.
pub fn address(pos: &crate::store::points_of_sale::PosFields) -> String {
    [
        pos.postal_code.as_deref(),
        pos.region.as_deref(),
        pos.city.as_deref(),
        pos.street.as_deref(),
        pos.house.as_deref(),
        pos.premises.as_deref(),
        pos.location.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ")
}
