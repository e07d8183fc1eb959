//! One register connection from accept to close: sniff the dialect from the first bytes, then
//! run the one read loop with that dialect's [`FrameHandler`].
//!
//! The read loop (after tokio-rs/mini-redis's `Connection`): wait for the next whole frame
//! within the idle timeout and the connection's total deadline, or stop at shutdown; hand the
//! frame to the dialect; write its reply with the same deadlines. What ends a connection before
//! a frame is whole (EOF mid-frame, a framing failure, silence in the middle of a frame) is
//! counted here, once, as the check it failed and a frame that ended `dropped` or, when the
//! dialect has an answer for it, `refused`. Bytes in are counted once per frame and once for
//! whatever is left unread; ack latency once per reply written, from the moment its frame was
//! whole to the moment the reply was written.
//!
//! The stream is anything that reads and writes: a `TcpStream` on the plain port, a rustls
//! stream on the TLS port. There, with client certificates, `client` is the certificate's
//! subject CN, and a whole frame naming another register ([`NamesRegister`]) is counted as
//! `client_certificate`, dropped unanswered, and ends the connection.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use ofd_protocol::{sniff, Dialect, Sniff};
use prometheus::IntGauge;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_util::codec::Decoder;

use super::handler::{first_bytes, FrameHandler, FramingFailure as _, NamesRegister, Reply};
use super::metrics::{Check, FrameResult, Label as _};
use super::Shared;

/// First read size: one allocation holds a typical whole document; the frame codec reserves
/// exactly what a larger frame needs once its header is in.
const INITIAL_READ: usize = 2048;

/// An accepted connection whose dialect is known, with whatever bytes were read to learn it.
struct Connection<S> {
    stream: S,
    peer: SocketAddr,
    /// The client certificate's subject CN (TLS port with client certificates).
    client: Option<String>,
    /// Bytes already read (the start of the first frame).
    read_buf: BytesMut,
    /// When the connection is closed however busy it is.
    deadline: Instant,
}

/// Serve one accepted connection; `_permit` holds its slot in the connection limit.
pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(
    mut stream: S,
    peer: SocketAddr,
    client: Option<String>,
    _permit: OwnedSemaphorePermit,
    shared: Arc<Shared>,
) {
    let metrics = &shared.metrics;
    let _open = OpenGauge::new(&metrics.connections_open);
    let deadline = Instant::now() + shared.config.limits.connection_timeout;
    let mut read_buf = BytesMut::with_capacity(INITIAL_READ);
    let Some(sniffed) = read_opening(&mut stream, &mut read_buf, peer, deadline, &shared).await
    else {
        metrics.bytes_in.inc_by(read_buf.len() as u64);
        return;
    };
    let connection = Connection {
        stream,
        peer,
        client,
        read_buf,
        deadline,
    };
    match sniffed {
        Sniff::Known(dialect) => {
            metrics.connections_by_dialect.inc(Some(dialect));
            match dialect {
                Dialect::Ru => read_frames(&shared.ru, connection, &shared).await,
                Dialect::Kz => read_frames(&shared.kz, connection, &shared).await,
            }
        }
        Sniff::Unknown | Sniff::NeedMore => {
            metrics.bytes_in.inc_by(connection.read_buf.len() as u64);
            metrics.connections_by_dialect.inc(None);
            metrics.unknown_dialect.inc(Check::SessionHeader);
            tracing::warn!(%peer, first_bytes = %first_bytes(&connection.read_buf), "bytes of no known dialect; closed");
        }
    }
}

/// Read until the first bytes tell the dialect. `None`: the connection ended first (EOF, error,
/// timeout or shutdown), already logged and counted where it matters.
async fn read_opening<S: AsyncRead + Unpin>(
    stream: &mut S,
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

/// The read loop: frames in, one reply (or none) out per frame, until EOF, a failure, a
/// timeout or shutdown.
async fn read_frames<H: FrameHandler, S: AsyncRead + AsyncWrite + Unpin + Send>(
    handler: &H,
    connection: Connection<S>,
    shared: &Shared,
) {
    let Connection {
        mut stream,
        peer,
        client,
        read_buf: mut buffer,
        deadline,
    } = connection;
    let dialect = H::DIALECT.as_str();
    let metrics = &shared.metrics;
    let counters = metrics.dialect(H::DIALECT);
    let idle = shared.config.limits.idle_timeout;
    let mut codec = handler.codec();
    loop {
        let read_deadline = deadline.min(Instant::now() + idle);
        let next = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            next = tokio::time::timeout_at(
                read_deadline,
                next_frame(&mut stream, &mut buffer, &mut codec),
            ) => next,
        };
        let frame = match next {
            Ok(Ok(Some(frame))) => frame,
            Ok(Ok(None)) => break,
            Ok(Err(failure)) => {
                metrics.bytes_in.inc_by(buffer.len() as u64);
                let Some(check) = failure.check() else {
                    tracing::debug!(%peer, dialect, error = %failure, "read failed");
                    break;
                };
                counters.check_failures.inc(check);
                let reply = failure.reply();
                let result = if reply.is_some() {
                    FrameResult::Refused
                } else {
                    FrameResult::Dropped
                };
                counters.frames.inc(result);
                tracing::warn!(%peer, dialect, check = check.as_str(), error = %failure, first_bytes = %first_bytes(&buffer), answered = reply.is_some(), "frame refused before its end; closing");
                if let Some(bytes) = reply {
                    let _ = write_reply(&mut stream, &bytes, deadline, shared).await;
                }
                break;
            }
            Err(_elapsed) => {
                if !buffer.is_empty() {
                    // Idle between frames is normal; silence in the middle of one is not.
                    metrics.bytes_in.inc_by(buffer.len() as u64);
                    counters.check_failures.inc(Check::Timeout);
                    counters.frames.inc(FrameResult::Dropped);
                    tracing::warn!(%peer, dialect, first_bytes = %first_bytes(&buffer), "frame not completed in time; closing");
                } else {
                    tracing::debug!(%peer, dialect, "idle past the timeout; closed");
                }
                break;
            }
        };
        let complete = std::time::Instant::now();
        metrics.bytes_in.inc_by(H::frame_len(&frame) as u64);
        if let Some(certified) = &client {
            let named = frame.register_name();
            if named.as_deref() != Some(certified.as_str()) {
                counters.check_failures.inc(Check::ClientCertificate);
                counters.frames.inc(FrameResult::Dropped);
                tracing::warn!(%peer, dialect, certificate = %certified, frame_register = ?named, "frame names another register than the client certificate; closing");
                break;
            }
        }
        match handler.handle(frame, peer).await {
            Reply::Send(bytes) => {
                if let Err(error) = write_reply(&mut stream, &bytes, deadline, shared).await {
                    tracing::info!(%peer, dialect, %error, "reply not delivered: connection lost");
                    break;
                }
                metrics
                    .ack_latency
                    .observe(complete.elapsed().as_secs_f64());
            }
            Reply::Silent => {}
            Reply::Close => break,
        }
    }
}

/// The next whole frame: decode what is buffered, read more while the codec needs it. `None`
/// at a clean end of stream; the codec's end-of-stream rule turns a partial frame into its
/// truncation error. Cancel-safe: bytes read stay in `buffer`.
async fn next_frame<C: Decoder, S: AsyncRead + Unpin>(
    stream: &mut S,
    buffer: &mut BytesMut,
    codec: &mut C,
) -> Result<Option<C::Item>, C::Error> {
    loop {
        if let Some(frame) = codec.decode(buffer)? {
            return Ok(Some(frame));
        }
        if stream.read_buf(buffer).await? == 0 {
            return codec.decode_eof(buffer);
        }
    }
}

/// Write one reply within the idle timeout and the connection's deadline.
async fn write_reply<S: AsyncWrite + Unpin>(
    stream: &mut S,
    bytes: &[u8],
    deadline: Instant,
    shared: &Shared,
) -> std::io::Result<()> {
    let write_deadline = deadline.min(Instant::now() + shared.config.limits.idle_timeout);
    tokio::time::timeout_at(write_deadline, stream.write_all(bytes))
        .await
        .map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "reply write timed out")
        })??;
    shared.metrics.bytes_out.inc_by(bytes.len() as u64);
    Ok(())
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
