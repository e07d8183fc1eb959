//! The signed-in user's profile: who they are, and the electronic signatures that log in as
//! them — the list with an unlink button each, and the form linking another (sign the challenge
//! the service issued, paste the signature). The section is there only when the deployment has
//! a verifier. Everything goes through the API's handlers (`GET`/`POST /api/v1/me/esign`,
//! `DELETE /api/v1/me/esign/{id}`), so the caller may touch only their own links and every
//! change is audited there.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use maud::html;

use super::esign_login::{refusal, signed, signing_form};
use super::forms::{parse_id, Posted, Problems};
use super::{notice, see_other, Ctx, OrPage as _, Signed};
use crate::account::auth::Caller;
use crate::account::esign_login as api;
use crate::account::AppState;

async fn profile_page(
    state: &AppState,
    ctx: &Ctx,
    caller: &Caller,
    done: Option<&str>,
    problems: &Problems,
    status: StatusCode,
) -> Result<Response, Response> {
    let who = ctx.who.as_ref().map(|w| w.label.as_str()).unwrap_or("");
    if !ctx.esign {
        return Ok(ctx.page_with(status, ctx.t("profile.title"), html! { p { (who) } }));
    }
    let Json(list) = api::list(Extension(caller.clone())).await.or_page(ctx)?;
    let challenge = api::issue_challenge(state).await.or_page(ctx)?;
    let body = html! {
        (notice(ctx, done))
        p { (who) }
        section aria-labelledby="h-esign" {
            h2 id="h-esign" { (ctx.t("profile.esign")) }
            @if list.links.is_empty() {
                p.quiet { (ctx.t("profile.esign_none")) }
            } @else {
                div.scroll {
                    table #esign-links {
                        thead { tr {
                            th { (ctx.t("profile.esign_tax_id")) }
                            th { (ctx.t("profile.esign_name")) }
                            th { (ctx.t("field.created")) }
                            th { }
                        } }
                        tbody {
                            @for link in &list.links {
                                tr {
                                    td { (link.tax_id) }
                                    td { (link.name) }
                                    td { (ctx.when(link.created_at)) }
                                    td {
                                        form.inline method="post" action={ "/profile/esign/" (link.id) "/unlink" } {
                                            (ctx.csrf_field())
                                            button.danger type="submit" { (ctx.t("profile.esign_unlink")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (problems.summary(ctx))
            p { (ctx.t("profile.esign_intro")) }
            (signing_form(ctx, "/profile/esign", &challenge, ctx.t("profile.esign_submit")))
        }
    };
    Ok(ctx.page_with(status, ctx.t("profile.title"), body))
}

/// `GET /profile`.
pub async fn page(
    State(state): State<AppState>,
    Signed(ctx, caller): Signed,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let done = query.get("done").map(String::as_str);
    profile_page(
        &state,
        &ctx,
        &caller,
        done,
        &Problems::none(),
        StatusCode::OK,
    )
    .await
}

/// `POST /profile/esign` → the profile with the new link, or with the refusal beside the form.
pub async fn link(
    State(state): State<AppState>,
    Signed(ctx, caller): Signed,
    form: Posted,
) -> Result<Response, Response> {
    let answer = api::link(
        State(state.clone()),
        Extension(caller.clone()),
        Ok(Json(signed(&form))),
    )
    .await;
    match answer {
        Ok(_) => Ok(see_other("/profile", "esign_linked")),
        Err(error) if matches!(error.status().as_u16(), 400 | 401 | 409) => {
            let problems = refusal(&ctx, &error);
            profile_page(&state, &ctx, &caller, None, &problems, error.status()).await
        }
        Err(error) => Err(ctx.fail(error)),
    }
}

/// `POST /profile/esign/{id}/unlink`.
pub async fn unlink(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let _removed = api::unlink(Extension(caller), Ok(Path(id)))
        .await
        .or_page(&ctx)?;
    Ok(see_other("/profile", "esign_unlinked"))
}
