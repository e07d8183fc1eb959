//! API key check in front of every `/api/v1` route: `Authorization: Bearer <key>`, looked up by
//! hash in `api_keys`. A missing, unknown or revoked key gets 401 before any handler runs; a
//! valid one leaves a [`Caller`] in the request for the handlers' audit log lines.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;
use crate::store::{KeyCheck, Store};

/// Who made the request: the name of the API key it carried.
#[derive(Clone, Debug)]
pub struct Caller(pub String);

/// Middleware: let the request through only with a live API key.
pub async fn require_key(
    State(store): State<Store>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let secret = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "missing_api_key",
                "send the API key as `Authorization: Bearer <key>`",
            )
        })?;
    match store.check_api_key(secret).await? {
        KeyCheck::Valid(key) => {
            request.extensions_mut().insert(Caller(key.name));
            Ok(next.run(request).await)
        }
        KeyCheck::Revoked(key) => {
            tracing::warn!(key = key.name, "request with a revoked API key");
            Err(ApiError::unauthorized(
                "revoked_api_key",
                "this API key has been revoked",
            ))
        }
        KeyCheck::Unknown => Err(ApiError::unauthorized(
            "invalid_api_key",
            "this API key is not known",
        )),
    }
}

/// The credentials of a `Bearer` authorization value (the scheme name is case-insensitive).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
