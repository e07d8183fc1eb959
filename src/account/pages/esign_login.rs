//! Login by electronic signature: offered on the login page only when the deployment has an
//! e-signature verifier ([`crate::account::esign::EsignVerifier::configured`]); without one the
//! page is the 404 page. The page shows a fresh challenge; the user's signing tool signs it and
//! the base64 signature is pasted back (no JavaScript). The answer is the API's
//! (`POST /api/v1/login/esign`): a session on success, its refusal otherwise.

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Redirect, Response};
use axum::Json;
use base64::Engine as _;
use maud::html;

use super::forms::{Posted, Problems};
use super::parts;
use super::{error_page, Ctx, Visitor};
use crate::account::identity::{self, EsignLoginRequest};
use crate::account::AppState;

fn form_page(ctx: &Ctx, problems: &Problems, status: StatusCode) -> Response {
    let challenge = base64::engine::general_purpose::STANDARD
        .encode(crate::account::password::new_token().as_bytes());
    let body = html! {
        (problems.summary(ctx))
        p { (ctx.t("esign.intro")) }
        form method="post" action="/login/esign" {
            (ctx.csrf_field())
            input type="hidden" name="challenge" value=(challenge);
            div.field {
                span { (ctx.t("esign.challenge")) }
                code #esign-challenge { (challenge) }
            }
            (parts::textarea(ctx, "signature", "esign.signature", "", 4))
            button type="submit" { (ctx.t("esign.submit")) }
        }
        p { a href="/login" { (ctx.t("login.title")) } }
    };
    ctx.page_with(status, ctx.t("esign.title"), body)
}

/// `GET /login/esign`.
pub async fn form(State(state): State<AppState>, Visitor(ctx): Visitor) -> Response {
    if !state.esign.configured() {
        return error_page(ctx.lang, StatusCode::NOT_FOUND, "error.not_found");
    }
    form_page(&ctx, &Problems::none(), StatusCode::OK)
}

/// `POST /login/esign` → home with the session the API set, or the form with its refusal.
pub async fn login(State(state): State<AppState>, Visitor(ctx): Visitor, form: Posted) -> Response {
    if !state.esign.configured() {
        return error_page(ctx.lang, StatusCode::NOT_FOUND, "error.not_found");
    }
    let request = EsignLoginRequest {
        challenge: form.get("challenge").to_owned(),
        signature: form.get("signature").split_whitespace().collect(),
    };
    match identity::esign_login(State(state), Ok(Json(request))).await {
        Ok(answer) => {
            let mut response = Redirect::to("/").into_response();
            for cookie in answer.headers().get_all(SET_COOKIE) {
                response.headers_mut().append(SET_COOKIE, cookie.clone());
            }
            response
        }
        Err(error) => {
            let problems = if error.status() == StatusCode::UNAUTHORIZED {
                Problems::general(ctx.t("esign.refused"))
            } else {
                Problems::general(error.message())
            };
            form_page(&ctx, &problems, error.status())
        }
    }
}
