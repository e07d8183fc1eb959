//! The public pages: sign-up (organisation and owner, with consent), the e-mail confirmation
//! landing, login and logout, password recovery and reset, accepting an invitation. Each calls
//! the API's handler in `identity.rs` with the posted form turned into its request type.
//!
//! The confirmation landing asks for one click (a POST) rather than confirming on GET, so that
//! mail scanners which open links do not use the token up.

use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use maud::html;
use serde_json::json;

use super::forms::{input, select, typed, Posted, Problems};
use super::{Ctx, Visitor, OPERATOR_COOKIE};
use crate::account::auth::Source;
use crate::account::identity::{self, LoginRequest, NewPasswordRequest, TokenBody};
use crate::account::AppState;

/// `?token=` of a mailed link.
#[derive(Debug, serde::Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

fn signup_page(ctx: &Ctx, form: &Posted, problems: &Problems, status: StatusCode) -> Response {
    let countries = [("ru", ctx.t("country.ru")), ("kz", ctx.t("country.kz"))];
    let body = html! {
        (problems.summary(ctx))
        form method="post" action="/signup" {
            (ctx.csrf_field())
            fieldset {
                legend { (ctx.t("signup.organisation")) }
                (input(ctx, problems, "org_name", "field.org_name", "text", form.get("org_name"), true))
                (input(ctx, problems, "inn", "field.inn", "text", form.get("inn"), true))
                (select(ctx, problems, "country", "field.country", &countries, form.get("country")))
            }
            fieldset {
                legend { (ctx.t("signup.owner")) }
                (input(ctx, problems, "name", "field.name", "text", form.get("name"), false))
                (input(ctx, problems, "email", "field.email", "email", form.get("email"), true))
                (input(ctx, problems, "phone", "field.phone", "tel", form.get("phone"), false))
                (input(ctx, problems, "password", "field.password", "password", "", true))
                (input(ctx, problems, "password_repeat", "field.password_repeat", "password", "", true))
            }
            div.field.check {
                input id="f-consent" type="checkbox" name="consent" value="yes" checked[form.ticked("consent")];
                label for="f-consent" { (ctx.t("field.consent")) }
                @if let Some(problem) = problems.of("consent") {
                    span.field-error data-field="consent" { (problem) }
                }
            }
            button type="submit" { (ctx.t("signup.submit")) }
        }
        p { (ctx.t("signup.have_account")) " " a href="/login" { (ctx.t("login.title")) } }
    };
    ctx.page_with(status, ctx.t("signup.title"), body)
}

/// `GET /signup`.
pub async fn signup_form(Visitor(ctx): Visitor) -> Response {
    signup_page(&ctx, &Posted::default(), &Problems::none(), StatusCode::OK)
}

/// `POST /signup` → the "check your mail" page, or the form with its problems.
pub async fn signup(
    Visitor(ctx): Visitor,
    State(state): State<AppState>,
    source: Source,
    form: Posted,
) -> Response {
    let request = json!({
        "organisation": {
            "inn": form.get("inn"),
            "name": form.get("org_name"),
            "country": form.opt("country"),
        },
        "email": form.get("email"),
        "phone": form.opt("phone"),
        "name": form.opt("name"),
        "password": form.get("password"),
        "password_repeat": form.get("password_repeat"),
        "consent": form.ticked("consent"),
    });
    let result = match typed(request) {
        Ok(request) => identity::signup(State(state), source, Ok(Json(request))).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(_) => ctx.page(
            ctx.t("signup.sent_title"),
            html! { p role="status" { (ctx.t("signup.sent")) } },
        ),
        Err(error) => {
            let mut problems = Problems::from_api(&error);
            if form.get("org_name").is_empty() && problems.of("name").is_some() {
                problems =
                    Problems::field("org_name", error.message().split(": ").nth(1).unwrap_or(""));
            }
            signup_page(&ctx, &form, &problems, error.status())
        }
    }
}

/// `GET /signup/confirm?token=` — the landing of the confirmation mail.
pub async fn confirm_form(Visitor(ctx): Visitor, Query(query): Query<TokenQuery>) -> Response {
    let body = html! {
        p { (ctx.t("confirm.intro")) }
        form method="post" action="/signup/confirm" {
            (ctx.csrf_field())
            input type="hidden" name="token" value=(query.token);
            button type="submit" { (ctx.t("confirm.submit")) }
        }
    };
    ctx.page(ctx.t("confirm.title"), body)
}

/// `POST /signup/confirm`.
pub async fn confirm(
    Visitor(ctx): Visitor,
    State(state): State<AppState>,
    source: Source,
    form: Posted,
) -> Response {
    let body = TokenBody {
        token: form.get("token").to_owned(),
    };
    match identity::confirm_post(State(state), source, Ok(Json(body))).await {
        Ok(_) => ctx.page(
            ctx.t("confirm.done_title"),
            html! {
                p role="status" { (ctx.t("confirm.done")) }
                p { a href="/login" { (ctx.t("login.title")) } }
            },
        ),
        Err(error) => ctx.page_with(
            error.status(),
            ctx.t("confirm.title"),
            html! { p.error role="alert" { (ctx.t("token.invalid")) } },
        ),
    }
}

fn login_page(ctx: &Ctx, login: &str, problems: &Problems, status: StatusCode) -> Response {
    let body = html! {
        (problems.summary(ctx))
        form method="post" action="/login" {
            (ctx.csrf_field())
            (input(ctx, problems, "login", "field.login", "text", login, true))
            (input(ctx, problems, "password", "field.password", "password", "", true))
            button type="submit" { (ctx.t("login.submit")) }
        }
        p {
            a href="/password/forgot" { (ctx.t("forgot.title")) }
            " · "
            a href="/signup" { (ctx.t("signup.title")) }
        }
        @if ctx.esign {
            p { a #esign-login href="/login/esign" { (ctx.t("esign.link")) } }
        }
    };
    ctx.page_with(status, ctx.t("login.title"), body)
}

/// `GET /login`.
pub async fn login_form(Visitor(ctx): Visitor) -> Response {
    login_page(&ctx, "", &Problems::none(), StatusCode::OK)
}

/// `POST /login` → home with the session cookie, or the form again.
pub async fn login(
    Visitor(ctx): Visitor,
    State(state): State<AppState>,
    source: Source,
    headers: HeaderMap,
    form: Posted,
) -> Response {
    let request = LoginRequest {
        login: form.get("login").to_owned(),
        password: form.get("password").to_owned(),
    };
    match identity::login(State(state), source, headers, Ok(Json(request))).await {
        Ok(answer) => with_cookies_of(&answer, Redirect::to("/").into_response()),
        Err(error) => {
            let problems = if error.status() == StatusCode::UNAUTHORIZED {
                Problems::general(ctx.t("login.wrong"))
            } else if error.code() == "email_not_confirmed" {
                Problems::field("login", ctx.t("login.unconfirmed"))
            } else {
                Problems::from_api(&error)
            };
            login_page(&ctx, form.get("login"), &problems, error.status())
        }
    }
}

/// `response` carrying the `Set-Cookie` headers of the API's `answer` (a login's session, a
/// logout's cleared cookie).
pub(super) fn with_cookies_of(answer: &Response, mut response: Response) -> Response {
    for cookie in answer.headers().get_all(SET_COOKIE) {
        response.headers_mut().append(SET_COOKIE, cookie.clone());
    }
    response
}

/// `POST /logout` → the session ends (and an operator's cookie is dropped); to `/login`.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let mut response = Redirect::to("/login").into_response();
    if let Ok(answer) = identity::logout(State(state.clone()), headers).await {
        response = with_cookies_of(&answer, response);
    }
    let secure = if state.config.secure_cookie() {
        "; Secure"
    } else {
        ""
    };
    let clear = format!("{OPERATOR_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}");
    response
        .headers_mut()
        .append(SET_COOKIE, HeaderValue::from_str(&clear).expect("ASCII"));
    response
}

fn forgot_page(ctx: &Ctx, email: &str, problems: &Problems, status: StatusCode) -> Response {
    let body = html! {
        (problems.summary(ctx))
        p { (ctx.t("forgot.intro")) }
        form method="post" action="/password/forgot" {
            (ctx.csrf_field())
            (input(ctx, problems, "email", "field.email", "email", email, true))
            button type="submit" { (ctx.t("forgot.submit")) }
        }
    };
    ctx.page_with(status, ctx.t("forgot.title"), body)
}

/// `GET /password/forgot`.
pub async fn forgot_form(Visitor(ctx): Visitor) -> Response {
    forgot_page(&ctx, "", &Problems::none(), StatusCode::OK)
}

/// `POST /password/forgot` → the same answer whether or not the address is known.
pub async fn forgot(
    Visitor(ctx): Visitor,
    State(state): State<AppState>,
    source: Source,
    form: Posted,
) -> Response {
    let request = identity::ForgotRequest {
        email: form.get("email").to_owned(),
    };
    match identity::forgot(State(state), source, Ok(Json(request))).await {
        Ok(_) => ctx.page(
            ctx.t("forgot.title"),
            html! { p role="status" { (ctx.t("forgot.sent")) } },
        ),
        Err(error) => forgot_page(
            &ctx,
            form.get("email"),
            &Problems::from_api(&error),
            error.status(),
        ),
    }
}

fn new_password_page(
    ctx: &Ctx,
    action: &str,
    title_key: &str,
    token: &str,
    problems: &Problems,
    status: StatusCode,
) -> Response {
    let body = html! {
        (problems.summary(ctx))
        form method="post" action=(action) {
            (ctx.csrf_field())
            input type="hidden" name="token" value=(token);
            (input(ctx, problems, "password", "field.new_password", "password", "", true))
            (input(ctx, problems, "password_repeat", "field.password_repeat", "password", "", true))
            button type="submit" { (ctx.t("password.submit")) }
        }
    };
    ctx.page_with(status, ctx.t(title_key), body)
}

async fn set_password(
    ctx: &Ctx,
    state: AppState,
    source: Source,
    form: &Posted,
    invitation: bool,
) -> Response {
    let request = NewPasswordRequest {
        token: form.get("token").to_owned(),
        password: form.get("password").to_owned(),
        password_repeat: form.get("password_repeat").to_owned(),
    };
    let result = if invitation {
        identity::accept_invitation(State(state), source, Ok(Json(request))).await
    } else {
        identity::reset(State(state), source, Ok(Json(request))).await
    };
    let (action, title) = if invitation {
        ("/invitation", "invitation.title")
    } else {
        ("/password/reset", "reset.title")
    };
    match result {
        Ok(_) => ctx.page(
            ctx.t(title),
            html! {
                p role="status" { (ctx.t("password.done")) }
                p { a href="/login" { (ctx.t("login.title")) } }
            },
        ),
        Err(error) => {
            let problems = if error.code() == "invalid_token" {
                Problems::general(ctx.t("token.invalid"))
            } else {
                Problems::from_api(&error)
            };
            new_password_page(
                ctx,
                action,
                title,
                form.get("token"),
                &problems,
                error.status(),
            )
        }
    }
}

/// `GET /password/reset?token=` — the recovery mail's link.
pub async fn reset_form(Visitor(ctx): Visitor, Query(query): Query<TokenQuery>) -> Response {
    new_password_page(
        &ctx,
        "/password/reset",
        "reset.title",
        &query.token,
        &Problems::none(),
        StatusCode::OK,
    )
}

/// `POST /password/reset`.
pub async fn reset(
    Visitor(ctx): Visitor,
    State(state): State<AppState>,
    source: Source,
    form: Posted,
) -> Response {
    set_password(&ctx, state, source, &form, false).await
}

/// `GET /invitation?token=` — the invitation mail's link.
pub async fn invitation_form(Visitor(ctx): Visitor, Query(query): Query<TokenQuery>) -> Response {
    new_password_page(
        &ctx,
        "/invitation",
        "invitation.title",
        &query.token,
        &Problems::none(),
        StatusCode::OK,
    )
}

/// `POST /invitation`.
pub async fn accept_invitation(
    Visitor(ctx): Visitor,
    State(state): State<AppState>,
    source: Source,
    form: Posted,
) -> Response {
    set_password(&ctx, state, source, &form, true).await
}
