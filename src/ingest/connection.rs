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
//! Hostile clients: a frame that has started must keep arriving at `min_frame_bytes_per_sec` on
//! average (checked from [`PACE_GRACE`] on, every [`PACE_CHECK`]), or the connection is closed
//! (`too_slow`); every read buffer beyond its first [`INITIAL_READ`] bytes is charged to one
//! budget shared by all connections ([`ReadCharge`] over the `ofd_ingest_read_buffer_bytes`
//! gauge) and grows only as bytes arrive, never by what a header declares, and a connection
//! whose next read would go beyond the budget is closed (`read_buffer_budget`). The first
//! buffer is free of the budget: it is bounded by the connection limit (`max_connections` ×
//! 2 KiB), and charging it would let clients that spend the budget on large frames shut out
//! every register whose document fits one small buffer (the hostile-load drill found that); a reply write and the handling of a frame are both bounded
//! by the connection's total deadline, so a client that never reads its replies is closed by it.
//! Repetitive warnings go through [`crate::log_limit`]; their counters are exact.
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
use super::limits::OpenSlot;
use super::metrics::{Check, FrameResult, Label as _};
use super::Shared;

/// First read size: one allocation holds a typical whole document; a larger frame's buffer grows
/// as its bytes arrive (doubling, each step charged to the read-buffer budget first).
const INITIAL_READ: usize = 2048;

/// A started frame's pace is judged only after this long (a GPRS link's first bytes are slow).
pub const PACE_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// How often a started frame's pace is judged while no bytes arrive.
const PACE_CHECK: std::time::Duration = std::time::Duration::from_millis(500);

/// Why the read loop stopped before a whole frame.
enum Stop<E> {
    /// The dialect's codec refused the bytes (or the socket failed).
    Framing(E),
    /// The started frame arrived slower than the minimum rate.
    TooSlow,
    /// Growing the buffer would go beyond the shared read-buffer budget.
    OverBudget,
}

impl<E: From<std::io::Error>> From<std::io::Error> for Stop<E> {
    fn from(error: std::io::Error) -> Self {
        Stop::Framing(E::from(error))
    }
}

/// One connection's share of the read-buffer budget: the capacity of its read buffer, added to
/// the shared gauge; given back on drop.
struct ReadCharge<'a> {
    total: &'a IntGauge,
    budget: u64,
    charged: usize,
}

impl<'a> ReadCharge<'a> {
    fn new(total: &'a IntGauge, budget: u64) -> Self {
        ReadCharge {
            total,
            budget,
            charged: 0,
        }
    }

    /// Charge a buffer of `capacity` bytes (all but its first [`INITIAL_READ`], see the module
    /// header) instead of what was charged; false (and nothing changed) when that would go
    /// beyond the budget.
    fn set(&mut self, capacity: usize) -> bool {
        let capacity = capacity.saturating_sub(INITIAL_READ);
        let delta = capacity as i64 - self.charged as i64;
        if delta > 0 {
            let now = self.total.get() + delta;
            if now as u64 > self.budget {
                return false;
            }
        }
        self.total.add(delta);
        self.charged = capacity;
        true
    }
}

impl Drop for ReadCharge<'_> {
    fn drop(&mut self) {
        self.total.sub(self.charged as i64);
    }
}

/// Read more bytes into `buffer`, growing it first (charged to the budget) when it is full.
async fn read_more<S: AsyncRead + Unpin>(
    stream: &mut S,
    buffer: &mut BytesMut,
    charge: &mut ReadCharge<'_>,
) -> std::io::Result<Option<usize>> {
    if buffer.capacity() == buffer.len() {
        let grow = buffer.len().clamp(INITIAL_READ, 1 << 20);
        if !charge.set(buffer.len() + grow) {
            return Ok(None);
        }
        buffer.reserve(grow);
    }
    if !charge.set(buffer.capacity()) {
        return Ok(None);
    }
    stream.read_buf(buffer).await.map(Some)
}

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
    _source: OpenSlot,
    shared: Arc<Shared>,
) {
    let metrics = &shared.metrics;
    let _open = OpenGauge::new(&metrics.connections_open);
    let deadline = Instant::now() + shared.config.limits.connection_timeout;
    let mut charge = ReadCharge::new(
        &metrics.read_buffer_bytes,
        shared.config.limits.read_buffer_budget,
    );
    let mut read_buf = BytesMut::new();
    let opening = if charge.set(INITIAL_READ) {
        read_buf.reserve(INITIAL_READ);
        read_opening(
            &mut stream,
            &mut read_buf,
            &mut charge,
            peer,
            deadline,
            &shared,
        )
        .await
    } else {
        None
    };
    let Some(sniffed) = opening else {
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
                Dialect::Ru => read_frames(&shared.ru, connection, &mut charge, &shared).await,
                Dialect::Kz => read_frames(&shared.kz, connection, &mut charge, &shared).await,
            }
        }
        Sniff::Unknown | Sniff::NeedMore => {
            metrics.bytes_in.inc_by(connection.read_buf.len() as u64);
            metrics.connections_by_dialect.inc(None);
            metrics.unknown_dialect.inc(Check::SessionHeader);
            crate::log_limit::limited("unknown_dialect", peer.ip(), |suppressed| {
                tracing::warn!(%peer, first_bytes = %first_bytes(&connection.read_buf), suppressed, "bytes of no known dialect; closed");
            });
        }
    }
}

/// Read until the first bytes tell the dialect. `None`: the connection ended first (EOF, error,
/// timeout or shutdown), already logged and counted where it matters.
async fn read_opening<S: AsyncRead + Unpin>(
    stream: &mut S,
    read_buf: &mut BytesMut,
    charge: &mut ReadCharge<'_>,
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
            read = tokio::time::timeout_at(read_deadline, read_more(stream, read_buf, charge)) => read,
        };
        match read {
            Ok(Ok(None)) => {
                metrics.unknown_dialect.inc(Check::ReadBufferBudget);
                crate::log_limit::limited("read_buffer_budget", peer.ip(), |suppressed| {
                    tracing::warn!(%peer, suppressed, "read-buffer budget spent; closed");
                });
                return None;
            }
            Ok(Ok(Some(0))) if read_buf.is_empty() => return None,
            Ok(Ok(Some(0))) => {
                metrics.unknown_dialect.inc(Check::Truncated);
                tracing::info!(%peer, first_bytes = %first_bytes(read_buf), "closed before its first bytes told the dialect");
                return None;
            }
            Ok(Ok(Some(_))) => {}
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
    charge: &mut ReadCharge<'_>,
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
    let min_rate = shared.config.limits.min_frame_bytes_per_sec;
    let mut codec = handler.codec();
    loop {
        let read_deadline = deadline.min(Instant::now() + idle);
        let next = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            next = tokio::time::timeout_at(
                read_deadline,
                next_frame(&mut stream, &mut buffer, &mut codec, charge, min_rate),
            ) => next,
        };
        let frame = match next {
            Ok(Ok(Some(frame))) => frame,
            Ok(Ok(None)) => break,
            Ok(Err(Stop::TooSlow)) => {
                metrics.bytes_in.inc_by(buffer.len() as u64);
                counters.check_failures.inc(Check::TooSlow);
                counters.frames.inc(FrameResult::Dropped);
                crate::log_limit::limited("too_slow", peer.ip(), |suppressed| {
                    tracing::warn!(%peer, dialect, received = buffer.len(), min_rate, suppressed, "frame arriving slower than the minimum rate; closing");
                });
                break;
            }
            Ok(Err(Stop::OverBudget)) => {
                metrics.bytes_in.inc_by(buffer.len() as u64);
                counters.check_failures.inc(Check::ReadBufferBudget);
                counters.frames.inc(FrameResult::Dropped);
                crate::log_limit::limited("read_buffer_budget", peer.ip(), |suppressed| {
                    tracing::warn!(%peer, dialect, received = buffer.len(), suppressed, "read-buffer budget spent; closing");
                });
                break;
            }
            Ok(Err(Stop::Framing(failure))) => {
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
                crate::log_limit::limited("frame_refused", peer.ip(), |suppressed| {
                    tracing::warn!(%peer, dialect, check = check.as_str(), error = %failure, first_bytes = %first_bytes(&buffer), answered = reply.is_some(), suppressed, "frame refused before its end; closing");
                });
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
                    crate::log_limit::limited("frame_timeout", peer.ip(), |suppressed| {
                        tracing::warn!(%peer, dialect, first_bytes = %first_bytes(&buffer), suppressed, "frame not completed in time; closing");
                    });
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
        // The total deadline holds while the frame is handled too (a register's lock held by
        // another connection, a slow store): cancelling leaves no ack, and the register resends.
        let handled = tokio::time::timeout_at(deadline, handler.handle(frame, peer)).await;
        let Ok(reply) = handled else {
            counters.check_failures.inc(Check::Timeout);
            counters.frames.inc(FrameResult::Dropped);
            tracing::info!(%peer, dialect, "connection deadline reached while its frame was handled; closing unanswered");
            break;
        };
        match reply {
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
/// truncation error. Once a frame has started, it must arrive at `min_rate` bytes per second on
/// average (0: no check). Cancel-safe: bytes read stay in `buffer`.
async fn next_frame<C: Decoder, S: AsyncRead + Unpin>(
    stream: &mut S,
    buffer: &mut BytesMut,
    codec: &mut C,
    charge: &mut ReadCharge<'_>,
    min_rate: u32,
) -> Result<Option<C::Item>, Stop<C::Error>>
where
    C::Error: From<std::io::Error>,
{
    // When the frame's first byte was seen, and how many bytes were buffered then.
    let mut started: Option<(Instant, usize)> = None;
    loop {
        if let Some(frame) = codec.decode(buffer).map_err(Stop::Framing)? {
            charge.set(buffer.capacity());
            return Ok(Some(frame));
        }
        if min_rate > 0 && !buffer.is_empty() && started.is_none() {
            started = Some((Instant::now(), 0));
        }
        let read = match started {
            None => read_more(stream, buffer, charge).await?,
            Some((since, received)) => {
                let elapsed = since.elapsed();
                if elapsed >= PACE_GRACE
                    && (received as f64) < f64::from(min_rate) * elapsed.as_secs_f64()
                {
                    return Err(Stop::TooSlow);
                }
                match tokio::time::timeout(PACE_CHECK, read_more(stream, buffer, charge)).await {
                    Err(_elapsed) => continue,
                    Ok(read) => {
                        let read = read?;
                        started = Some((since, received + read.unwrap_or(0)));
                        read
                    }
                }
            }
        };
        match read {
            None => return Err(Stop::OverBudget),
            Some(0) => return codec.decode_eof(buffer).map_err(Stop::Framing),
            Some(_) => {}
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
