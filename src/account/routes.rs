//! The account service's routes. Everything under `/api/v1` needs an API key; `/healthz` does
//! not, so that load balancers and tests can probe it.

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{middleware, Router};

use super::error::ApiError;
use super::{auth, organisations, registers};
use crate::store::Store;

/// Largest request body: the API takes small JSON objects only.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Every route of the account service over `store`.
pub fn router(store: Store) -> Router {
    let api = Router::new()
        .route(
            "/organisations",
            post(organisations::create).get(organisations::list),
        )
        .route("/organisations/{inn}", get(organisations::get_one))
        .route(
            "/registers",
            post(registers::provision).get(registers::list),
        )
        .route("/registers/{id}", get(registers::get_one))
        .route("/registers/{id}/status", put(registers::set_status))
        .route("/registers/{id}/token", post(registers::reset_token))
        .route_layer(middleware::from_fn_with_state(
            store.clone(),
            auth::require_key,
        ))
        .method_not_allowed_fallback(wrong_method);
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(|| async { "ok" }))
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(store)
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
