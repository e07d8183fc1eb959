//! The account service's routes. Sign-up, confirmation, login, logout, password recovery and
//! accepting an invitation are public; everything else under `/api/v1` needs a caller (an API
//! key or a session, [`super::auth`]). The web cabinet's pages ([`super::pages`]) are served at `/`
//! beside the API; other paths outside `/api` get the cabinet's 404 page. `/healthz`, `/readyz` and the OpenAPI document at
//! `/api/openapi.json` need nothing.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post, put};
use axum::{middleware, Json, Router};
use utoipa::OpenApi as _;

use super::error::ApiError;
use super::openapi::ApiDoc;
use super::{
    alerts, applications, auth, catalogue, documents, esign_login, exports, identity, invoices,
    organisations, pages, points_of_sale, register_batch, registers, reports, staff, tariffs,
    wired_requests, AppState,
};

/// Largest request body: the API takes small JSON objects only…
const MAX_BODY_BYTES: usize = 64 * 1024;
/// …except the CSV imports (a bank statement, a catalogue of up to 10 000 items).
const MAX_IMPORT_BYTES: usize = 4 * 1024 * 1024;

/// Every route of the account service over `state`.
pub fn router(state: AppState) -> Router {
    let private = Router::new()
        .route("/me", get(identity::me))
        .route("/me/esign", get(esign_login::list).post(esign_login::link))
        .route("/me/esign/{id}", delete(esign_login::unlink))
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
        .route("/alerts", get(alerts::list))
        .route("/alerts/kinds", get(alerts::kinds))
        .route(
            "/alerts/subscriptions",
            get(alerts::subscriptions).put(alerts::set_subscriptions),
        )
        .route(
            "/alerts/settings",
            get(alerts::settings).put(alerts::set_settings),
        )
        .route("/alerts/webhook-deliveries", get(alerts::deliveries))
        .route("/alerts/{id}", get(alerts::get_one))
        .route("/alerts/{id}/acknowledge", post(alerts::acknowledge))
        .route(
            "/organisations/{inn}/points-of-sale",
            post(points_of_sale::create).get(points_of_sale::list),
        )
        .route(
            "/organisations/{inn}/registers-by-point-of-sale",
            get(points_of_sale::registers_by_point_of_sale),
        )
        .route(
            "/points-of-sale/{id}",
            get(points_of_sale::get_one)
                .put(points_of_sale::update)
                .delete(points_of_sale::delete),
        )
        .route("/registers/batch", post(register_batch::batch))
        .route("/registers/import", post(register_batch::import))
        .route(
            "/registers/{id}",
            get(registers::get_one).patch(registers::edit),
        )
        .route("/registers/{id}/status", put(registers::set_status))
        .route("/registers/{id}/confirm", post(registers::confirm))
        .route("/registers/{id}/versions", get(registers::versions))
        .route("/registers/{id}/history", get(registers::history))
        .route(
            "/registers/{id}/drives",
            get(registers::drives).post(registers::replace_drive),
        )
        .route(
            "/registers/{id}/applications",
            post(applications::create).get(applications::list),
        )
        .route("/applications", get(applications::list_all))
        .route("/applications/{id}", get(applications::get_one))
        .route("/applications/{id}/print", get(applications::print))
        .route("/applications/{id}/sign", post(applications::sign))
        .route("/applications/{id}/submit", post(applications::submit))
        .route("/applications/{id}/answer", post(applications::answer))
        .route("/registers/{id}/token", post(registers::reset_token))
        .route(
            "/registers/{id}/tariff",
            get(tariffs::get_one).put(tariffs::activate),
        )
        .route(
            "/tariff-plans",
            get(tariffs::list_plans).post(tariffs::create_plan),
        )
        .route("/tariff-plans/{id}", patch(tariffs::update_plan))
        .route("/tariffs", get(tariffs::list))
        .route("/invoices", post(invoices::create).get(invoices::list))
        .route(
            "/invoices/payments-import",
            post(invoices::import_payments).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route("/invoices/{id}", get(invoices::get_one))
        .route("/invoices/{id}/paid", post(invoices::mark_paid))
        .route("/invoices/{id}/cancel", post(invoices::cancel))
        .route(
            "/wired-requests",
            post(wired_requests::create).get(wired_requests::list),
        )
        .route("/wired-requests/{id}", get(wired_requests::get_one))
        .route(
            "/wired-requests/{id}/status",
            put(wired_requests::change_status),
        )
        .route("/catalogue", get(catalogue::get))
        .route("/catalogue/items", post(catalogue::add))
        .route(
            "/catalogue/items/{id}",
            put(catalogue::update).delete(catalogue::remove),
        )
        .route(
            "/catalogue/import",
            post(catalogue::import).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
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
        .route("/login/esign", post(esign_login::login))
        .route("/login/esign/challenge", post(esign_login::challenge))
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
        .route("/readyz", get(readyz))
        .merge(pages::router(state.clone()))
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(pages::security_headers))
        .with_state(state)
}

/// `/readyz` ([`crate::health_endpoint`]): the database answers with the schema this binary
/// needs; a cabinet that cannot read its store is taken out of the load balancer, not restarted.
async fn readyz(State(state): State<AppState>) -> axum::response::Response {
    use crate::health_endpoint::{readiness_response, Readiness};
    readiness_response(Box::pin(async move {
        match state.store.check_ready().await {
            Ok(()) => Readiness::Ready,
            Err(reason) => Readiness::NotReady(reason),
        }
    }))
    .await
}

/// Unknown paths under `/api` answer in the API's error shape, not with an empty 404.
async fn unknown_route(
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    if uri.path().starts_with("/api/") {
        ApiError::not_found("no such route").into_response()
    } else {
        // Outside the API a person is reading: the cabinet's 404 page.
        pages::not_found_page(&headers)
    }
}

/// A known path with a method it does not take.
async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}
