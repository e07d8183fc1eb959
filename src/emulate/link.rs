//! The register's side of a GPRS-like link: connecting with back-off, added latency and jitter,
//! connections that drop in the middle of a frame or before the reply, and slow writes that
//! trickle a frame out a few bytes at a time.
//!
//! Faults are drawn per attempt from the worker's own random generator, so a run with the same
//! seed misbehaves the same way. A dropped attempt is indistinguishable, for the server, from a
//! register that lost its carrier: the server must never store a half frame, and a document
//! whose reply was lost must be answered again with the same acknowledgement when resent.

use std::io;
use std::time::Duration;

use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::model::ReplyFraming;

/// Link-realism switches of `ofd emulate`.
#[derive(clap::Args, Debug, Clone)]
pub struct LinkArgs {
    /// Added one-way latency in milliseconds: waited before each frame goes out and again after
    /// its reply has arrived.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Uniform random jitter in milliseconds added to each latency wait (0..=jitter).
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
    /// Probability (0..1) that an attempt loses its connection: half of the drops cut the frame
    /// in the middle, half close the connection after the frame but before the reply.
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,
    /// Write frames in chunks of this many bytes (0 = whole frame in one write).
    #[arg(long, default_value_t = 0)]
    pub slow_write_bytes: usize,
    /// Pause between slow-write chunks, in milliseconds.
    #[arg(long, default_value_t = 1)]
    pub slow_write_pause_ms: u64,
    /// Documents sent over one connection before the register closes it (1 = one per connection,
    /// as most registers do).
    #[arg(long, default_value_t = 1)]
    pub documents_per_connection: u32,
    /// First back-off after a failed attempt, in milliseconds; doubles up to --backoff-max-ms.
    #[arg(long, default_value_t = 20)]
    pub backoff_initial_ms: u64,
    /// Longest back-off between attempts, in milliseconds.
    #[arg(long, default_value_t = 2_000)]
    pub backoff_max_ms: u64,
    /// How long to wait for a reply before the attempt counts as timed out, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub reply_timeout_ms: u64,
}

/// How an attempt on the link failed; the name goes into the summary's error breakdown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The TCP connection could not be established.
    #[error("connect: {0}")]
    Connect(io::Error),
    /// Writing the frame failed.
    #[error("write: {0}")]
    Write(io::Error),
    /// Reading the reply failed or the server closed before a whole reply arrived.
    #[error("read: {0}")]
    Read(io::Error),
    /// No whole reply within the reply timeout.
    #[error("reply timeout")]
    Timeout,
    /// The reply header announced something unusable.
    #[error("bad reply header: {0}")]
    BadHeader(String),
    /// The emulator cut the connection in the middle of the frame on purpose.
    #[error("dropped mid-frame (simulated)")]
    DroppedMidFrame,
    /// The emulator closed the connection after the frame, before the reply, on purpose.
    #[error("dropped before reply (simulated)")]
    DroppedBeforeReply,
}

impl LinkError {
    /// Short stable name for the error breakdown.
    pub fn kind(&self) -> &'static str {
        match self {
            LinkError::Connect(_) => "link.connect",
            LinkError::Write(_) => "link.write",
            LinkError::Read(_) => "link.read",
            LinkError::Timeout => "link.reply_timeout",
            LinkError::BadHeader(_) => "link.bad_reply_header",
            LinkError::DroppedMidFrame => "simulated.drop_mid_frame",
            LinkError::DroppedBeforeReply => "simulated.drop_before_reply",
        }
    }
}

/// A register's link to the OFD: the settings plus the back-off state.
pub struct Link {
    settings: LinkArgs,
    target: String,
    backoff: Duration,
}

impl Link {
    /// A link to `target` (HOST:PORT) with the given faults.
    pub fn new(target: String, settings: LinkArgs) -> Self {
        let backoff = Duration::from_millis(settings.backoff_initial_ms);
        Link {
            settings,
            target,
            backoff,
        }
    }

    /// Documents per connection, at least one.
    pub fn documents_per_connection(&self) -> u32 {
        self.settings.documents_per_connection.max(1)
    }

    /// Open a connection (no back-off here: the caller waits via [`Link::back_off`]).
    pub async fn connect(&self) -> Result<TcpStream, LinkError> {
        let stream = TcpStream::connect(&self.target)
            .await
            .map_err(LinkError::Connect)?;
        // Frames are small and complete; do not let Nagle hold the tail of one back.
        stream.set_nodelay(true).map_err(LinkError::Connect)?;
        Ok(stream)
    }

    /// Wait the current back-off (with full jitter) and double it for next time.
    pub async fn back_off(&mut self, rng: &mut impl Rng) {
        let cap = self.backoff.as_millis().max(1) as u64;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(cap / 2..=cap))).await;
        self.backoff = (self.backoff * 2).min(Duration::from_millis(self.settings.backoff_max_ms));
    }

    /// Forget the back-off after a success.
    pub fn reset_back_off(&mut self) {
        self.backoff = Duration::from_millis(self.settings.backoff_initial_ms);
    }

    /// Wait the added one-way latency, if any.
    pub async fn delay(&self, rng: &mut impl Rng) {
        let jitter = if self.settings.jitter_ms > 0 {
            rng.gen_range(0..=self.settings.jitter_ms)
        } else {
            0
        };
        let total = self.settings.latency_ms + jitter;
        if total > 0 {
            tokio::time::sleep(Duration::from_millis(total)).await;
        }
    }

    /// Send `frame` and read one reply, applying the link's faults. On any error the caller must
    /// drop the stream.
    pub async fn exchange(
        &self,
        stream: &mut TcpStream,
        frame: &[u8],
        framing: &dyn ReplyFraming,
        rng: &mut impl Rng,
    ) -> Result<Vec<u8>, LinkError> {
        let drop_now =
            self.settings.drop_rate > 0.0 && rng.gen_bool(self.settings.drop_rate.min(1.0));
        if drop_now && rng.gen_bool(0.5) {
            let cut = rng.gen_range(1..frame.len().max(2));
            self.write(stream, &frame[..cut.min(frame.len())]).await?;
            return Err(LinkError::DroppedMidFrame);
        }
        self.write(stream, frame).await?;
        if drop_now {
            return Err(LinkError::DroppedBeforeReply);
        }
        let timeout = Duration::from_millis(self.settings.reply_timeout_ms);
        tokio::time::timeout(timeout, read_reply(stream, framing))
            .await
            .map_err(|_| LinkError::Timeout)?
    }

    async fn write(&self, stream: &mut TcpStream, bytes: &[u8]) -> Result<(), LinkError> {
        if self.settings.slow_write_bytes == 0 {
            return stream.write_all(bytes).await.map_err(LinkError::Write);
        }
        let pause = Duration::from_millis(self.settings.slow_write_pause_ms);
        for (index, chunk) in bytes.chunks(self.settings.slow_write_bytes).enumerate() {
            if index > 0 && !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            stream.write_all(chunk).await.map_err(LinkError::Write)?;
        }
        Ok(())
    }
}

/// Read exactly one reply frame.
async fn read_reply(
    stream: &mut TcpStream,
    framing: &dyn ReplyFraming,
) -> Result<Vec<u8>, LinkError> {
    let mut frame = vec![0u8; framing.header_len()];
    stream
        .read_exact(&mut frame)
        .await
        .map_err(LinkError::Read)?;
    let total = framing.frame_len(&frame).map_err(LinkError::BadHeader)?;
    if total < frame.len() {
        return Err(LinkError::BadHeader(format!(
            "length {total} shorter than its header"
        )));
    }
    let header_len = frame.len();
    frame.resize(total, 0);
    stream
        .read_exact(&mut frame[header_len..])
        .await
        .map_err(LinkError::Read)?;
    Ok(frame)
}
