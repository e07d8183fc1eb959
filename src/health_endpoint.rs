//! The HTTP endpoint every long-running role serves beside its real work: `GET /metrics`
//! (Prometheus text), `GET /healthz` and `GET /readyz` (systemd watchdogs, Kubernetes probes,
//! load balancers).
//!
//! # Design notes
//! - **Alive and ready are different questions.** `/healthz` answers 200 as long as the process
//!   serves HTTP at all: restarting it would not help otherwise. `/readyz` answers 200 only when
//!   the role can do its job now (the database answers, the schema is the one this binary was
//!   built for, the ingest writer commits, the forwarder's sends succeed) and 503 with the reason
//!   in the body otherwise, so that traffic is steered away without a restart loop.
//! - **One endpoint, one way.** Each role brings its registry and its readiness check (a closure
//!   returning a future, so a role can ask the database); routing, content type and graceful
//!   shutdown live here once.
//! - **The check is bounded.** A probe that hangs is worse than one that fails: every check runs
//!   under [`CHECK_DEADLINE`] and a check that overruns answers 503 naming the deadline.
//! - **No secret in the body.** Reasons are served to whoever can reach the port; they come from
//!   [`crate::error_chain`] renderings of errors that carry no credentials (database URLs are
//!   never part of them).

use std::sync::Arc;
use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use futures::future::BoxFuture;
use prometheus::{Encoder as _, Registry, TextEncoder};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How long one readiness check may take before the probe answers 503.
pub const CHECK_DEADLINE: Duration = Duration::from_secs(5);

/// The verdict served on `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// The role can do its work now.
    Ready,
    /// It cannot; why, for the response body and the operator.
    NotReady(String),
}

/// A role's readiness check: called once per `/readyz` request.
pub type ReadyCheck = Arc<dyn Fn() -> BoxFuture<'static, Readiness> + Send + Sync>;

/// A check for roles that are ready whenever they serve.
pub fn always_ready() -> ReadyCheck {
    Arc::new(|| Box::pin(async { Readiness::Ready }))
}

/// Serve `/metrics` from `registry`, `/healthz` and `/readyz` (through `ready`) on `listener`
/// until `shutdown` is cancelled; in-flight scrapes finish first.
pub async fn serve(
    listener: TcpListener,
    registry: Registry,
    ready: ReadyCheck,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(registry, ready))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// The routes of [`serve`], for a role that mounts them on a listener of its own.
pub fn router(registry: Registry, ready: ReadyCheck) -> Router {
    let scrape = move || {
        let registry = registry.clone();
        async move {
            let encoder = TextEncoder::new();
            let mut body = Vec::new();
            // Encoding what the registry gathered cannot fail for well-formed families.
            let _ = encoder.encode(&registry.gather(), &mut body);
            ([(CONTENT_TYPE, encoder.format_type().to_owned())], body)
        }
    };
    let readyz = move || {
        let check = ready();
        async move { readiness_response(check).await }
    };
    Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
}

/// Run `check` under the deadline and turn the verdict into the probe's answer.
pub async fn readiness_response(check: BoxFuture<'static, Readiness>) -> axum::response::Response {
    let verdict = tokio::time::timeout(CHECK_DEADLINE, check)
        .await
        .unwrap_or_else(|_| {
            Readiness::NotReady(format!(
                "the readiness check did not finish within {} s",
                CHECK_DEADLINE.as_secs()
            ))
        });
    match verdict {
        Readiness::Ready => (StatusCode::OK, "ready\n".to_owned()).into_response(),
        Readiness::NotReady(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        )
            .into_response(),
    }
}
