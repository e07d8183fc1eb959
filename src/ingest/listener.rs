//! The accept loop: one task that owns the listening socket, the connection semaphore and the
//! per-source rate limiter, and spawns one task per admitted connection.
//!
//! Invariants:
//! - At most `max_connections` connection tasks exist; the loop waits for a permit *before*
//!   accepting, so excess connections queue in the kernel backlog instead of in our memory.
//! - The loop knows nothing about dialects: `connection` sniffs and runs the read loop.
//! - On shutdown the loop returns at once and drops the listening socket (no new connections);
//!   draining the spawned tasks is the caller's job through the shared `TaskTracker`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use super::limits::SourceRateLimiter;
use super::Shared;
use crate::ingest::metrics::ConnectionRejection;

/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Bind the register-facing port with a listen backlog of `backlog` connections (tokio's
/// `TcpListener::bind` fixes it at 1,024: at a thousand registers connecting at once the queue
/// overflowed and dropped SYNs cost those registers a one-second retransmit each).
pub(crate) fn bind(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // A restarted server must not wait for the old connections' TIME_WAIT to bind again.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Accept until `shared.shutdown` is cancelled.
pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, tracker: TaskTracker) {
    let limits = &shared.config.limits;
    let semaphore = Arc::new(Semaphore::new(limits.max_connections));
    let mut limiter = SourceRateLimiter::new(
        limits.source_rate,
        limits.source_burst,
        std::time::Instant::now(),
    );
    loop {
        let permit = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            permit = semaphore.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    continue;
                }
            },
        };
        if !limiter.admit(peer.ip(), std::time::Instant::now()) {
            shared
                .metrics
                .connections_rejected
                .inc(ConnectionRejection::RateLimited);
            tracing::debug!(%peer, "connection rate limit exceeded; closed");
            continue;
        }
        shared.metrics.connections_total.inc();
        // One small write per acknowledgement: send it now rather than wait for more data.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%peer, %error, "TCP_NODELAY not set");
        }
        tracker.spawn(super::connection::serve(
            stream,
            peer,
            permit,
            shared.clone(),
        ));
    }
    tracing::info!("listener closed: no new connections");
}
