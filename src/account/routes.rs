//! The account service's routes. Sign-up, confirmation, login, logout, password recovery and
//! accepting an invitation are public; everything else under `/api/v1` needs a caller (an API
//! key or a session, [`super::auth`]). `/healthz` and the OpenAPI document at
//! `/api/openapi.json` need nothing.

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post, put};
use axum::{middleware, Json, Router};
use utoipa::OpenApi as _;

use super::error::ApiError;
use super::openapi::ApiDoc;
use super::{
    auth, documents, exports, identity, organisations, registers, reports, staff, AppState,
};

/// Largest request body: the API takes small JSON objects only.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Every route of the account service over `state`.
pub fn router(state: AppState) -> Router {
    let private = Router::new()
        .route("/me", get(identity::me))
        .route("/password/change", post(identity::change_password))
        .route("/users", get(staff::list_users).post(staff::invite))
        .route(
            "/users/{id}",
            patch(staff::update_user).delete(staff::remove_user),
        )
        .route(
            "/users/{id}/registers",
            get(staff::cashier_registers).put(staff::assign_registers),
        )
        .route("/users/{id}/kz-cashier", put(staff::set_kz_cashier))
        .route("/api-keys", get(staff::list_keys).post(staff::create_key))
        .route("/api-keys/{id}", delete(staff::revoke_key))
        .route("/audit", get(staff::audit))
        .route(
            "/organisations",
            post(organisations::create).get(organisations::list),
        )
        .route(
            "/organisations/{inn}",
            get(organisations::get_one).patch(organisations::update),
        )
        .route(
            "/registers",
            post(registers::provision).get(registers::list),
        )
        .route("/registers/{id}", get(registers::get_one))
        .route("/registers/{id}/status", put(registers::set_status))
        .route("/registers/{id}/token", post(registers::reset_token))
        .route("/registers/{id}/shifts", get(reports::shifts))
        .route("/documents", get(documents::search))
        .route("/documents/export", get(exports::export))
        .route("/documents/{id}", get(documents::get_one))
        .route("/reports/totals", get(reports::totals))
        .route("/reports/unsent", get(reports::unsent))
        .route("/reports/delivery", get(reports::delivery))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_caller,
        ));
    let public = Router::new()
        .route("/signup", post(identity::signup))
        .route(
            "/signup/confirm",
            post(identity::confirm_post).get(identity::confirm_get),
        )
        .route("/login", post(identity::login))
        .route("/login/esign", post(identity::esign_login))
        .route("/logout", post(identity::logout))
        .route("/password/forgot", post(identity::forgot))
        .route("/password/reset", post(identity::reset))
        .route("/invitations/accept", post(identity::accept_invitation));
    let api = public
        .merge(private)
        .method_not_allowed_fallback(wrong_method);
    Router::new()
        .nest("/api/v1", api)
        .route(
            "/api/openapi.json",
            get(|| async { Json(ApiDoc::openapi()) }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Unknown paths answer in the API's error shape too, not with an empty 404.
async fn unknown_route() -> ApiError {
    ApiError::not_found("no such route")
}

/// A known path with a method it does not take.
async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}
