//! Staff and roles: the organisation's people with their role and state, the invitation form,
//! and per person a role change and removal. Owners only, as in the API.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::{Extension, Json};
use maud::html;
use serde_json::json;

use super::forms::parse_id;
use super::forms::{input, role_key, role_options, select, typed, Posted, Problems};
use super::{notice, see_other, Ctx, OrPage as _, Signed};
use crate::account::auth::Caller;
use crate::account::staff::{self as api, InviteRequest, UserPatch};
use crate::account::AppState;
use crate::store::UserStatus;

fn user_status_key(status: UserStatus) -> &'static str {
    match status {
        UserStatus::Active => "user.active",
        UserStatus::Invited => "user.invited",
        UserStatus::Unconfirmed => "user.unconfirmed",
        UserStatus::Disabled => "user.disabled",
    }
}

async fn staff_page(
    ctx: &Ctx,
    caller: &Caller,
    done: Option<&str>,
    form: &Posted,
    problems: &Problems,
) -> Result<Response, Response> {
    let Json(list) = api::list_users(Extension(caller.clone()))
        .await
        .or_page(ctx)?;
    let roles = role_options(ctx);
    let me = match caller.0.actor() {
        crate::store::Actor::User { id, .. } => Some(*id),
        _ => None,
    };
    let body = html! {
        (notice(ctx, done))
        div.scroll {
            table {
                thead { tr {
                    th { (ctx.t("field.name")) }
                    th { (ctx.t("field.email")) }
                    th { (ctx.t("field.role")) }
                    th { (ctx.t("field.status")) }
                    th { (ctx.t("staff.actions")) }
                } }
                tbody {
                    @for user in &list.users {
                        tr {
                            td { (user.name) }
                            td { (user.email) }
                            td { (ctx.t(role_key(user.role.as_str()))) }
                            td { (ctx.t(user_status_key(user.status))) }
                            td {
                                @if Some(user.id) != me && user.status != UserStatus::Disabled {
                                    form.inline method="post" action={ "/staff/" (user.id) "/role" } {
                                        (ctx.csrf_field())
                                        label.visually-hidden for={ "role-" (user.id) } { (ctx.t("field.role")) }
                                        select id={ "role-" (user.id) } name="role" {
                                            @for (value, label) in &roles {
                                                option value=(value) selected[*value == user.role.as_str()] { (label) }
                                            }
                                        }
                                        button type="submit" { (ctx.t("staff.change_role")) }
                                    }
                                    form.inline method="post" action={ "/staff/" (user.id) "/remove" } {
                                        (ctx.csrf_field())
                                        button.danger type="submit" { (ctx.t("staff.remove")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="h-invite" {
            h2 id="h-invite" { (ctx.t("staff.invite")) }
            (problems.summary(ctx))
            form method="post" action="/staff" {
                (ctx.csrf_field())
                (input(ctx, problems, "email", "field.email", "email", form.get("email"), true))
                (input(ctx, problems, "name", "field.name", "text", form.get("name"), false))
                (select(ctx, problems, "role", "field.role", &roles, form.get("role")))
                button type="submit" { (ctx.t("staff.invite_submit")) }
            }
        }
    };
    Ok(ctx.page(ctx.t("staff.title"), body))
}

/// `GET /staff`.
pub async fn list(
    Signed(ctx, caller): Signed,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    staff_page(
        &ctx,
        &caller,
        query.get("done").map(String::as_str),
        &Posted::default(),
        &Problems::none(),
    )
    .await
}

/// `POST /staff`: invite.
pub async fn invite(
    Signed(ctx, caller): Signed,
    State(state): State<AppState>,
    form: Posted,
) -> Result<Response, Response> {
    let request: Result<InviteRequest, _> = typed(json!({
        "email": form.get("email"),
        "role": form.get("role"),
        "name": form.opt("name"),
    }));
    let result = match request {
        Ok(request) => api::invite(State(state), Extension(caller.clone()), Ok(Json(request)))
            .await
            .map(|_| ()),
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => Ok(see_other("/staff", "invited")),
        Err(error) if error.status().as_u16() == 400 => {
            staff_page(&ctx, &caller, None, &form, &Problems::from_api(&error)).await
        }
        Err(error) => Err(ctx.fail(error)),
    }
}

/// `POST /staff/{id}/role`.
pub async fn change_role(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
    form: Posted,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let patch: UserPatch = typed(json!({ "role": form.get("role") })).or_page(&ctx)?;
    let _changed = api::update_user(Extension(caller), Ok(Path(id)), Ok(Json(patch)))
        .await
        .or_page(&ctx)?;
    Ok(see_other("/staff", "role_changed"))
}

/// `POST /staff/{id}/remove`.
pub async fn remove(
    Signed(ctx, caller): Signed,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let id = parse_id(&ctx, &id)?;
    let _changed = api::remove_user(Extension(caller), Ok(Path(id)))
        .await
        .or_page(&ctx)?;
    Ok(see_other("/staff", "removed"))
}
