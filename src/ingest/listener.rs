//! The accept loop: one task that owns the listening socket, the connection semaphore and the
//! per-source rate limiter, and spawns one task per admitted connection.
//!
//! Invariants:
//! - At most `max_connections` connection tasks exist. The loop accepts one connection, judges
//!   its source (rate, then open connections per address and per network: [`super::limits`]),
//!   and only an admitted one waits for a permit: a refused connection never takes or waits for
//!   a slot, and while every slot is taken the loop waits with one admitted connection in hand
//!   and the rest queue in the kernel backlog instead of in our memory.
//! - The loop knows nothing about dialects: `connection` sniffs and runs the read loop.
//! - The TLS port runs a second loop over the same semaphore (`max_connections` counts both
//!   ports) with a rate limiter of its own; each handshake runs in the connection's task, under
//!   its permit and within the handshake timeout, so a slow client holds up no one else. The
//!   acceptor's certificate resolver is shared with the SIGHUP reload, so a handshake always
//!   picks the current certificate and open connections keep theirs.
//! - On shutdown the loop returns at once and drops the listening socket (no new connections);
//!   draining the spawned tasks is the caller's job through the shared `TaskTracker`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;

use super::limits::{OpenConnections, OpenRefusal, SourceRateLimiter};
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

/// Accept until `shared.shutdown` is cancelled; with `tls`, handshake before serving. The
/// semaphore is shared by every port of the server.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    semaphore: Arc<Semaphore>,
    open: OpenConnections,
    shared: Arc<Shared>,
    tracker: TaskTracker,
) {
    let limits = &shared.config.limits;
    let mut limiter = SourceRateLimiter::new(
        limits.source_rate,
        limits.source_burst,
        std::time::Instant::now(),
    );
    loop {
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
        let source = match open.open(peer.ip()) {
            Ok(source) => source,
            Err(refusal) => {
                let reason = match refusal {
                    OpenRefusal::Address => ConnectionRejection::OpenPerSource,
                    OpenRefusal::Network => ConnectionRejection::OpenPerNetwork,
                };
                shared.metrics.connections_rejected.inc(reason);
                crate::log_limit::limited("open_connection_cap", peer.ip(), |suppressed| {
                    tracing::info!(%peer, ?refusal, suppressed, "too many open connections from this source; closed");
                });
                continue;
            }
        };
        let permit = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            permit = semaphore.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        shared.metrics.connections_total.inc();
        // One small write per acknowledgement: send it now rather than wait for more data.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%peer, %error, "TCP_NODELAY not set");
        }
        match &tls {
            None => {
                tracker.spawn(super::connection::serve(
                    stream,
                    peer,
                    None,
                    permit,
                    source,
                    shared.clone(),
                ));
            }
            Some(acceptor) => {
                tracker.spawn(handshake_then_serve(
                    acceptor.clone(),
                    stream,
                    peer,
                    permit,
                    source,
                    shared.clone(),
                ));
            }
        }
    }
    tracing::info!(tls = tls.is_some(), "listener closed: no new connections");
}

/// The TLS port's connection task: the handshake (bounded by the handshake timeout and
/// shutdown), then the same connection path as plain TCP, with the client certificate's name.
async fn handshake_then_serve(
    acceptor: TlsAcceptor,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    source: super::limits::OpenSlot,
    shared: Arc<Shared>,
) {
    let handshake = tokio::time::timeout(crate::tls::HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    let stream = tokio::select! {
        _ = shared.shutdown.cancelled() => return,
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                shared.metrics.connections_rejected.inc(ConnectionRejection::TlsHandshake);
                tracing::info!(%peer, %error, "TLS handshake failed; closed");
                return;
            }
            Err(_elapsed) => {
                shared.metrics.connections_rejected.inc(ConnectionRejection::TlsHandshake);
                tracing::info!(%peer, "TLS handshake timed out; closed");
                return;
            }
        },
    };
    let client = crate::tls::client_name(&stream);
    super::connection::serve(stream, peer, client, permit, source, shared).await;
}
