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
//! - With `proxy_protocol` (a TCP load balancer in front, [`super::proxy_header`]) the peer is
//!   the balancer, so the loop cannot judge the source: it takes a slot at once, and the
//!   connection's task reads the PROXY header (bounded in time and size) and then judges the
//!   address the header names, exactly as the loop judges a peer without one. The rate limiter
//!   is therefore shared (a mutex held for one map update, never across an await). A missing or
//!   invalid header closes the connection, counted as `proxy_header`, before any other byte is
//!   read; the address the header names is the connection's peer from then on (limits, KZ
//!   token guard, logs).
//! - On shutdown the loop returns at once and drops the listening socket (no new connections);
//!   draining the spawned tasks is the caller's job through the shared `TaskTracker`.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;

use super::limits::{OpenConnections, OpenRefusal, OpenSlot, SourceRateLimiter};
use super::{proxy_header, Shared};
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
    let limiter = Arc::new(Mutex::new(SourceRateLimiter::new(
        limits.source_rate,
        limits.source_burst,
        std::time::Instant::now(),
    )));
    let proxied = shared.config.proxy_protocol;
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
        // Behind a load balancer the peer is the balancer: the source is judged once its
        // PROXY header has named the register, in the connection's task.
        let source = if proxied {
            None
        } else {
            match admit(peer.ip(), &limiter, &open, &shared) {
                Some(source) => Some(source),
                None => continue,
            }
        };
        let permit = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            permit = semaphore.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        // One small write per acknowledgement: send it now rather than wait for more data.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%peer, %error, "TCP_NODELAY not set");
        }
        let admitted = Admitted {
            stream,
            peer,
            permit,
            source,
        };
        tracker.spawn(serve_admitted(
            admitted,
            tls.clone(),
            limiter.clone(),
            open.clone(),
            shared.clone(),
        ));
    }
    tracing::info!(tls = tls.is_some(), "listener closed: no new connections");
}

/// An accepted connection holding its slot; `source` is its place among the open connections,
/// `None` until a PROXY header has named the source.
struct Admitted {
    stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    source: Option<OpenSlot>,
}

/// Judge `ip` (rate, then open connections per address and per network), counting and logging
/// a refusal; its place among the open connections when admitted.
fn admit(
    ip: IpAddr,
    limiter: &Mutex<SourceRateLimiter>,
    open: &OpenConnections,
    shared: &Shared,
) -> Option<OpenSlot> {
    let rate_ok = limiter
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .admit(ip, std::time::Instant::now());
    if !rate_ok {
        shared
            .metrics
            .connections_rejected
            .inc(ConnectionRejection::RateLimited);
        tracing::debug!(source = %ip, "connection rate limit exceeded; closed");
        return None;
    }
    match open.open(ip) {
        Ok(source) => Some(source),
        Err(refusal) => {
            let reason = match refusal {
                OpenRefusal::Address => ConnectionRejection::OpenPerSource,
                OpenRefusal::Network => ConnectionRejection::OpenPerNetwork,
            };
            shared.metrics.connections_rejected.inc(reason);
            crate::log_limit::limited("open_connection_cap", ip, |suppressed| {
                tracing::info!(source = %ip, ?refusal, suppressed, "too many open connections from this source; closed");
            });
            None
        }
    }
}

/// A connection's task: with `proxy_protocol`, the PROXY header and then the source's
/// judgement; then the TLS handshake when on the TLS port; then the connection itself.
async fn serve_admitted(
    mut admitted: Admitted,
    tls: Option<TlsAcceptor>,
    limiter: Arc<Mutex<SourceRateLimiter>>,
    open: OpenConnections,
    shared: Arc<Shared>,
) {
    let source = match admitted.source.take() {
        Some(source) => source,
        None => {
            let balancer = admitted.peer;
            let header = tokio::select! {
                _ = shared.shutdown.cancelled() => return,
                header = proxy_header::read_source(&mut admitted.stream, balancer) => header,
            };
            match header {
                Ok(register) => admitted.peer = register,
                Err(error) => {
                    shared
                        .metrics
                        .connections_rejected
                        .inc(ConnectionRejection::ProxyHeader);
                    crate::log_limit::limited("proxy_header", balancer.ip(), |suppressed| {
                        tracing::warn!(%balancer, %error, suppressed, "connection without a valid PROXY header; closed");
                    });
                    return;
                }
            }
            match admit(admitted.peer.ip(), &limiter, &open, &shared) {
                Some(source) => source,
                None => return,
            }
        }
    };
    shared.metrics.connections_total.inc();
    let Admitted {
        stream,
        peer,
        permit,
        ..
    } = admitted;
    match tls {
        None => super::connection::serve(stream, peer, None, permit, source, shared).await,
        Some(acceptor) => {
            handshake_then_serve(acceptor, stream, peer, permit, source, shared).await
        }
    }
}

/// The TLS port's connection task: the handshake (bounded by the handshake timeout and
/// shutdown), then the same connection path as plain TCP, with the client certificate's name.
async fn handshake_then_serve(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    source: OpenSlot,
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
