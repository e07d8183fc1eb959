//! The operator console: the start page for operator staff — every organisation with a link to
//! its registers — and the sign-in by operator key (kept in an HttpOnly SameSite=Strict cookie
//! and checked on every request like a bearer key; operator logins with passwords come with
//! `ofd account operator create`). The tax authority's answers, wired connections, invoices
//! and the support view join this page with their issues.

use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::html;

use super::forms::{input, Posted, Problems};
use super::{Ctx, OrPage as _, Signed, Visitor, OPERATOR_COOKIE};
use crate::account::auth::Permission;
use crate::account::organisations;
use crate::account::AppState;
use crate::store::KeyCheck;

/// `GET /operator`: operator staff only (others get the 403 page).
pub async fn console(Signed(ctx, caller): Signed) -> Result<Response, Response> {
    caller
        .require(Permission::ProvisionOrganisations)
        .or_page(&ctx)?;
    let queues = super::operator_more::queues(&ctx, &caller).await?;
    let axum::Json(list) = organisations::list(Extension(caller)).await.or_page(&ctx)?;
    let body = html! {
        (queues)
        h2 { (ctx.t("op.organisations")) }
        div.scroll {
            table {
                thead { tr {
                    th { (ctx.t("field.id")) }
                    th { (ctx.t("field.inn")) }
                    th { (ctx.t("pos.title")) }
                    th { (ctx.t("field.org_name")) }
                    th { (ctx.t("field.country")) }
                    th { (ctx.t("field.created")) }
                } }
                tbody {
                    @for org in &list.organisations {
                        tr {
                            td { (org.id) }
                            td { a href={ "/registers?org_inn=" (org.inn) } { (org.inn) } }
                            td {
                                a href={ "/points-of-sale?org_inn=" (org.inn) } { (ctx.t("pos.title")) }
                                " · "
                                a href={ "/alerts/settings?org_id=" (org.id) } { (ctx.t("alerts.settings")) }
                            }
                            td { (org.name) }
                            td { (org.country.as_str().to_uppercase()) }
                            td { (ctx.when(org.created_at)) }
                        }
                    }
                }
            }
        }
    };
    Ok(ctx.page(ctx.t("operator.title"), body))
}

fn login_page(ctx: &Ctx, problems: &Problems, status: StatusCode) -> Response {
    let body = html! {
        (problems.summary(ctx))
        form method="post" action="/operator/login" {
            (ctx.csrf_field())
            (input(ctx, problems, "key", "field.operator_key", "password", "", true))
            button type="submit" { (ctx.t("login.submit")) }
        }
    };
    ctx.page_with(status, ctx.t("operator.login"), body)
}

/// `GET /operator/login`.
pub async fn login_form(Visitor(ctx): Visitor) -> Response {
    login_page(&ctx, &Problems::none(), StatusCode::OK)
}

/// `POST /operator/login`: a live operator key → the console; anything else is refused alike.
pub async fn login(
    Visitor(ctx): Visitor,
    axum::extract::State(state): axum::extract::State<AppState>,
    form: Posted,
) -> Result<Response, Response> {
    let key = form.get("key");
    let operator = match state.store.check_api_key(key).await {
        Ok(KeyCheck::Valid(found)) => found.org_id.is_none(),
        Ok(_) => false,
        Err(error) => return Err(ctx.fail(error.into())),
    };
    if !operator || !key.bytes().all(|b| b.is_ascii_graphic() && b != b';') {
        return Ok(login_page(
            &ctx,
            &Problems::general(ctx.t("operator.wrong_key")),
            StatusCode::UNAUTHORIZED,
        ));
    }
    let secure = if state.config.secure_cookie() {
        "; Secure"
    } else {
        ""
    };
    let max_age = state.config.session_ttl.as_secs();
    let cookie = format!(
        "{OPERATOR_COOKIE}={key}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    );
    let mut response = Redirect::to("/operator").into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|_| {
            ctx.fail(crate::account::error::ApiError::bad_request(
                "invalid_request",
                "key: not a key",
            ))
        })?,
    );
    Ok(response)
}
