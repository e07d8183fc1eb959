//! One register connection from accept to close: sniff the dialect from the first bytes, then
//! hand the socket, with the bytes already read, to that dialect's handler.
//!
//! Adding a dialect is one arm in [`serve`]. Every way a connection ends before a handler takes
//! it (silence, EOF, unknown bytes, a dialect not served yet) is logged and counted here.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use super::sniff::{sniff, Sniff};
use super::Shared;
use crate::ingest::metrics::{Check, Dialect};
use prometheus::IntGauge;

/// First read size: one allocation holds a typical whole document; the frame codec reserves
/// exactly what a larger frame needs once its header is in.
const INITIAL_READ: usize = 2048;

/// An accepted connection whose dialect is known, with whatever bytes were read to learn it.
pub(crate) struct Connection {
    /// The socket.
    pub stream: TcpStream,
    /// The register's address, for logs.
    pub peer: SocketAddr,
    /// Bytes already read (the start of the first frame).
    pub read_buf: BytesMut,
    /// When the connection must be closed however busy it is.
    pub deadline: Instant,
}

/// Serve one accepted connection; `_permit` holds its slot in the connection limit.
pub(crate) async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    _permit: OwnedSemaphorePermit,
    shared: Arc<Shared>,
) {
    let metrics = &shared.metrics;
    let _open = OpenGauge::new(&metrics.connections_open);
    let deadline = Instant::now() + shared.config.limits.connection_timeout;
    let mut read_buf = BytesMut::with_capacity(INITIAL_READ);
    let Some(dialect) = read_opening(&mut stream, &mut read_buf, peer, deadline, &shared).await
    else {
        metrics.bytes_in.inc_by(read_buf.len() as u64);
        return;
    };
    if dialect != Sniff::Ru {
        metrics.bytes_in.inc_by(read_buf.len() as u64);
    }
    match dialect {
        Sniff::Ru => {
            metrics.connections_by_dialect.inc(Dialect::Ru);
            let connection = Connection {
                stream,
                peer,
                read_buf,
                deadline,
            };
            super::ru::serve(connection, &shared).await;
        }
        Sniff::Kz => {
            metrics.connections_by_dialect.inc(Dialect::Kz);
            let connection = Connection {
                stream,
                peer,
                read_buf,
                deadline,
            };
            super::kz::codec::serve(connection, &shared).await;
        }
        Sniff::Unknown | Sniff::NeedMore => {
            metrics.connections_by_dialect.inc(Dialect::Unknown);
            metrics.unknown_dialect.inc(Check::SessionHeader);
            tracing::warn!(%peer, first_bytes = %first_bytes(&read_buf), "bytes of no known dialect; closed");
        }
    }
}

/// Read until the first bytes tell the dialect. `None`: the connection ended first (EOF, error,
/// timeout or shutdown), already logged and counted where it matters.
async fn read_opening(
    stream: &mut TcpStream,
    read_buf: &mut BytesMut,
    peer: SocketAddr,
    deadline: Instant,
    shared: &Shared,
) -> Option<Sniff> {
    let metrics = &shared.metrics;
    loop {
        let sniffed = sniff(read_buf);
        if sniffed != Sniff::NeedMore {
            return Some(sniffed);
        }
        let read_deadline = deadline.min(Instant::now() + shared.config.limits.idle_timeout);
        let read = tokio::select! {
            _ = shared.shutdown.cancelled() => return None,
            read = tokio::time::timeout_at(read_deadline, stream.read_buf(read_buf)) => read,
        };
        match read {
            Ok(Ok(0)) if read_buf.is_empty() => return None,
            Ok(Ok(0)) => {
                metrics.unknown_dialect.inc(Check::Truncated);
                tracing::info!(%peer, first_bytes = %first_bytes(read_buf), "closed before its first bytes told the dialect");
                return None;
            }
            // Counted by `serve` once the buffer has an owner (the RU handler counts its frames).
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "read failed before the first frame");
                return None;
            }
            Err(_elapsed) => {
                metrics.unknown_dialect.inc(Check::Timeout);
                tracing::info!(%peer, "no bytes within the idle timeout; closed");
                return None;
            }
        }
    }
}

/// Keeps `ofd_ingest_connections_open` right on every exit path.
struct OpenGauge<'a>(&'a IntGauge);

impl<'a> OpenGauge<'a> {
    fn new(gauge: &'a IntGauge) -> Self {
        gauge.inc();
        OpenGauge(gauge)
    }
}

impl Drop for OpenGauge<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Hex of at most the first 64 bytes, for the log line of a refused frame (spec §10).
pub(crate) fn first_bytes(bytes: &[u8]) -> String {
    hex::encode(&bytes[..bytes.len().min(64)])
}
