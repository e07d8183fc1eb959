//! Login by electronic signature: offered on the login page only when the deployment has an
//! e-signature verifier ([`crate::account::esign::EsignVerifier::configured`]); without one the
//! page is the 404 page. The page shows a challenge the service issued and stored
//! ([`crate::account::esign_login::issue_challenge`], the API's own); the user's signing tool
//! signs it and the base64 signature is pasted back (no JavaScript). The answer is the API's
//! (`POST /api/v1/login/esign`): a session on success, its refusal in the page's language
//! otherwise, with a new challenge (each is good once). [`signing_form`] is also the profile's
//! form for linking a certificate.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse as _, Redirect, Response};
use axum::Json;
use maud::{html, Markup};

use super::auth_pages::with_cookies_of;
use super::forms::{Posted, Problems};
use super::parts;
use super::{error_page, Ctx, Visitor};
use crate::account::auth::Source;
use crate::account::error::ApiError;
use crate::account::esign_login::{self as api, Challenge, SignedChallenge};
use crate::account::AppState;

/// The form signing `challenge`: the text to sign, the signature field, posting to `action`.
pub(super) fn signing_form(ctx: &Ctx, action: &str, challenge: &Challenge, submit: &str) -> Markup {
    html! {
        form method="post" action=(action) {
            (ctx.csrf_field())
            input type="hidden" name="challenge" value=(challenge.challenge);
            div.field {
                span { (ctx.t("esign.challenge")) }
                code #esign-challenge { (challenge.challenge) }
            }
            (parts::textarea(ctx, "signature", "esign.signature", "", 4))
            button type="submit" { (submit) }
        }
    }
}

/// The posted challenge and signature as the API takes them.
pub(super) fn signed(form: &Posted) -> SignedChallenge {
    SignedChallenge {
        challenge: form.get("challenge").to_owned(),
        signature: form.get("signature").to_owned(),
    }
}

/// What the page says for a refusal of a signed challenge (login or linking).
pub(super) fn refusal(ctx: &Ctx, error: &ApiError) -> Problems {
    let key = match error.code() {
        "invalid_challenge" => "esign.challenge_expired",
        "invalid_signature" => "esign.refused",
        "esign_not_linked" => "esign.not_linked",
        "invalid_credentials" => "esign.locked",
        "esign_not_configured" => "esign.not_configured",
        "conflict" => "profile.esign_taken",
        _ => return Problems::from_api(error),
    };
    Problems::general(ctx.t(key))
}

async fn form_page(
    state: &AppState,
    ctx: &Ctx,
    problems: &Problems,
    status: StatusCode,
) -> Response {
    let challenge = match api::issue_challenge(state).await {
        Ok(challenge) => challenge,
        Err(error) => return ctx.fail(error),
    };
    let body = html! {
        (problems.summary(ctx))
        p { (ctx.t("esign.intro")) }
        (signing_form(ctx, "/login/esign", &challenge, ctx.t("esign.submit")))
        p { a href="/login" { (ctx.t("login.title")) } }
    };
    ctx.page_with(status, ctx.t("esign.title"), body)
}

/// `GET /login/esign`.
pub async fn form(State(state): State<AppState>, Visitor(ctx): Visitor) -> Response {
    if !state.esign.configured() {
        return error_page(ctx.lang, StatusCode::NOT_FOUND, "error.not_found");
    }
    form_page(&state, &ctx, &Problems::none(), StatusCode::OK).await
}

/// `POST /login/esign` → home with the session the API set, or the form with its refusal.
pub async fn login(
    State(state): State<AppState>,
    Visitor(ctx): Visitor,
    source: Source,
    headers: HeaderMap,
    form: Posted,
) -> Response {
    if !state.esign.configured() {
        return error_page(ctx.lang, StatusCode::NOT_FOUND, "error.not_found");
    }
    match api::login(
        State(state.clone()),
        source,
        headers,
        Ok(Json(signed(&form))),
    )
    .await
    {
        Ok(answer) => with_cookies_of(&answer, Redirect::to("/").into_response()),
        Err(error) => form_page(&state, &ctx, &refusal(&ctx, &error), error.status()).await,
    }
}
