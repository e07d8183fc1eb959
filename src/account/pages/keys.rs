//! API keys: the organisation's keys (never their secrets), the form issuing one — whose secret
//! is shown once, on the page answering that POST — and revocation.

use std::collections::HashMap;

use axum::extract::{Path, Query};
use axum::response::Response;
use axum::{Extension, Json};
use maud::html;
use serde_json::json;

use super::forms::parse_id;
use super::forms::{input, role_key, role_options, select, typed, Posted, Problems};
use super::{notice, see_other, Ctx, OrPage as _, Signed};
use crate::account::auth::Caller;
use crate::account::staff::{self as api, NewKeyRequest};

async fn keys_page(
    ctx: &Ctx,
    caller: &Caller,
    done: Option<&str>,
    secret: Option<&str>,
    form: &Posted,
    problems: &Problems,
) -> Result<Response, Response> {
    let Json(list) = api::list_keys(Extension(caller.clone()))
        .await
        .or_page(ctx)?;
    let roles = role_options(ctx);
    let body = html! {
        (notice(ctx, done))
        @if let Some(secret) = secret {
            div.secret role="status" {
                p { strong { (ctx.t("keys.shown_once")) } }
                p { code #api-key { (secret) } }
            }
        }
        @if list.keys.is_empty() {
            p.quiet { (ctx.t("keys.none")) }
        } @else {
            div.scroll {
                table {
                    thead { tr {
                        th { (ctx.t("field.name")) }
                        th { (ctx.t("field.role")) }
                        th { (ctx.t("field.created")) }
                        th { (ctx.t("keys.last_used")) }
                        th { (ctx.t("field.status")) }
                    } }
                    tbody {
                        @for key in &list.keys {
                            tr {
                                td { (key.name) }
                                td { (key.role.map(|r| ctx.t(role_key(r.as_str()))).unwrap_or("")) }
                                td { (ctx.when(key.created_at)) }
                                td { (key.last_used_at.map(|at| ctx.when(at)).unwrap_or_default()) }
                                td {
                                    @if let Some(revoked) = key.revoked_at {
                                        (ctx.t1("keys.revoked_at", ctx.when(revoked)))
                                    } @else {
                                        form.inline method="post" action={ "/keys/" (key.id) "/revoke" } {
                                            (ctx.csrf_field())
                                            button.danger type="submit" { (ctx.t("keys.revoke")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="h-new-key" {
            h2 id="h-new-key" { (ctx.t("keys.create")) }
            (problems.summary(ctx))
            form method="post" action="/keys" {
                (ctx.csrf_field())
                (input(ctx, problems, "name", "field.name", "text", form.get("name"), true))
                (select(ctx, problems, "role", "field.role", &roles, form.get("role")))
                button type="submit" { (ctx.t("keys.create_submit")) }
            }
        }
    };
    Ok(ctx.page(ctx.t("keys.title"), body))
}

/// `GET /keys`.
pub async fn list(
    Signed(ctx, caller): Signed,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    keys_page(
        &ctx,
        &caller,
        query.get("done").map(String::as_str),
        None,
        &Posted::default(),
        &Problems::none(),
    )
    .await
}

/// `POST /keys` → the list with the new key's secret, shown this once.
pub async fn create(Signed(ctx, caller): Signed, form: Posted) -> Result<Response, Response> {
    let request: Result<NewKeyRequest, _> = typed(json!({
        "name": form.get("name"),
        "role": form.get("role"),
    }));
    let result = match request {
        Ok(request) => api::create_key(Extension(caller.clone()), Ok(Json(request))).await,
        Err(error) => Err(error),
    };
    match result {
        Ok((_, Json(issued))) => {
            keys_page(
                &ctx,
                &caller,
                None,
                Some(&issued.secret),
                &Posted::default(),
                &Problems::none(),
            )
            .await
        }
        Err(error) if matches!(error.status().as_u16(), 400 | 409) => {
            keys_page(
                &ctx,
                &caller,
                None,
                None,
                &form,
                &Problems::from_api(&error),
            )
            .await
        }
        Err(error) => Err(ctx.fail(error)),
    }
}

/// `POST /keys/{id}/revoke`.
pub async fn revoke(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let _changed = api::revoke_key(Extension(caller), Ok(Path(id)))
        .await
        .or_page(&ctx)?;
    Ok(see_other("/keys", "revoked"))
}
