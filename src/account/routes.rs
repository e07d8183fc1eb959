//! The account service's routes. Everything under `/api/v1` needs an API key; `/healthz` does
//! not, so that load balancers and tests can probe it.

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::{middleware, Router};

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
        ));
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(store)
}
