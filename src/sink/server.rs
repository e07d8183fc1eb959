//! HTTP routes of the stand-in authority.
//!
//! - `POST /v1/batches` (header `x-batch-id`, gzip JSON lines) → 200
//!   [`BatchReply`](tax_batch::BatchReply), 400 for an unreadable batch, 503 when a fault says so,
//!   401 without `Authorization: Bearer <token>` when a token is configured.
//! - `GET /stats` → [`Stats`]; `GET /documents` → stored document ids; `GET /healthz` and `GET /readyz` → 200
//!   (the sink keeps no state that could be unready).
//! - `GET /faults`, `POST /faults` (replace the plan), `DELETE /faults` (clear it).

use std::{sync::Arc, time::Duration};

use axum::{
    body::{Body, Bytes},
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};

use super::{
    faults::{Decision, FaultPlan, Faults},
    storage::{SinkStorage, Stats},
    validate::check_line,
};
use crate::tax_batch::{self, BATCHES_PATH, BATCH_ID_HEADER};

/// Shared state of the handlers.
#[derive(Clone)]
pub struct SinkState {
    storage: SinkStorage,
    faults: Arc<FaultPlan>,
    max_batch_bytes: usize,
    token: Option<Arc<str>>,
}

impl SinkState {
    /// State over an opened store.
    pub fn new(storage: SinkStorage, max_batch_bytes: usize) -> Self {
        Self {
            storage,
            faults: Arc::default(),
            max_batch_bytes,
            token: None,
        }
    }

    /// Require this bearer token on batches.
    pub fn with_token(mut self, token: Option<&str>) -> Self {
        self.token = token.map(Arc::from);
        self
    }

    /// Whether `headers` carry the configured token (always, when none is configured). The
    /// comparison takes the same time wherever the first difference is.
    fn authorised(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.token else {
            return true;
        };
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        given.len() == expected.len()
            && given
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }
}

/// The sink's routes. `max_body` bounds the compressed request body.
pub fn router(state: SinkState, max_body: usize) -> Router {
    Router::new()
        .route(BATCHES_PATH, post(receive_batch))
        .route("/stats", get(stats))
        .route("/documents", get(document_ids))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ready" }))
        .route(
            "/faults",
            get(get_faults).post(set_faults).delete(clear_faults),
        )
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

async fn receive_batch(
    State(state): State<SinkState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.authorised(&headers) {
        tracing::warn!("batch without the configured bearer token refused with 401");
        return (
            StatusCode::UNAUTHORIZED,
            [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
            "missing or wrong bearer token",
        )
            .into_response();
    }
    let Some(batch_id) = headers
        .get(BATCH_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .map(str::to_owned)
    else {
        return (StatusCode::BAD_REQUEST, "missing or invalid x-batch-id").into_response();
    };
    let (decision, delay_ms, reject_matching) = state.faults.next();
    if delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
    if decision == Decision::Fail {
        return (StatusCode::SERVICE_UNAVAILABLE, "injected failure").into_response();
    }
    let text = match tax_batch::decompress(&body, state.max_batch_bytes) {
        Ok(text) => text,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let mut lines = Vec::new();
    for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
        match check_line(line, reject_matching.as_deref()) {
            Ok(checked) => lines.push(checked),
            Err(e) => {
                let message = format!("line {}: {e}", number + 1);
                return (StatusCode::BAD_REQUEST, message).into_response();
            }
        }
    }
    let now_ms = crate::clock::unix_millis();
    let reply = match state.storage.record(&batch_id, lines, now_ms).await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!(error = %e, batch_id, "storing a batch failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "storage error").into_response();
        }
    };
    tracing::debug!(
        batch_id,
        accepted = reply.accepted,
        rejected = reply.rejected.len(),
        "batch"
    );
    if decision == Decision::StoreAndDrop {
        tracing::info!(batch_id, "stored; dropping the response (injected fault)");
        return lost_response();
    }
    Json(reply).into_response()
}

/// A response whose body fails at once: hyper aborts the connection, so the client sees the
/// exchange fail after the batch was stored — the "lost response" case.
fn lost_response() -> Response {
    let failing = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("response dropped by fault injection"))
    });
    Response::new(Body::from_stream(failing))
}

async fn stats(State(state): State<SinkState>) -> Result<Json<Stats>, StatusCode> {
    state.storage.stats().await.map(Json).map_err(|e| {
        tracing::error!(error = %e, "reading stats failed");
        StatusCode::INTERNAL_SERVER_ERROR
    })
}

async fn document_ids(State(state): State<SinkState>) -> Result<Json<Vec<String>>, StatusCode> {
    state.storage.document_ids().await.map(Json).map_err(|e| {
        tracing::error!(error = %e, "listing documents failed");
        StatusCode::INTERNAL_SERVER_ERROR
    })
}

async fn get_faults(State(state): State<SinkState>) -> Json<Faults> {
    Json(state.faults.get())
}

async fn set_faults(State(state): State<SinkState>, Json(faults): Json<Faults>) -> Json<Faults> {
    tracing::info!(?faults, "fault plan set");
    state.faults.set(faults);
    Json(state.faults.get())
}

async fn clear_faults(State(state): State<SinkState>) -> Json<Faults> {
    state.faults.set(Faults::default());
    Json(state.faults.get())
}
