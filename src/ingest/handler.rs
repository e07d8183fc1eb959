//! What a dialect gives the shared read loop in [`super::connection`]: a frame codec, and a
//! per-frame handler that decides the reply.
//!
//! The loop owns everything that is the same for every dialect — deadlines, the shutdown
//! select, reading, counting bytes and ends of frames, writing replies and timing them — so that
//! the two dialects cannot drift apart in those. A dialect owns what differs: how bytes are cut
//! into frames ([`FrameHandler::Codec`]), what a framing failure is answered with
//! ([`FramingFailure`]) and what each whole frame is answered with ([`FrameHandler::handle`]).
//!
//! Counting contract: for a framing failure the loop counts the check and the frame's end; for
//! a whole frame the handler counts both (it alone knows the outcome). Either way, every frame
//! ends in exactly one `ofd_ingest_frames_total` increment.

use std::future::Future;
use std::net::SocketAddr;

use ofd_protocol::Dialect;
use tokio_util::codec::Decoder;

use super::metrics::Check;

/// What the connection does after a whole frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Write these bytes, then read the next frame.
    Send(Vec<u8>),
    /// Nothing to write (the register asked for no reply); read the next frame.
    Silent,
    /// Close without writing (already logged and counted by the handler).
    Close,
}

/// Why a dialect's codec stopped cutting frames.
pub trait FramingFailure: std::error::Error + From<std::io::Error> + Send {
    /// The check the bytes failed; `None` for a socket error, which is no fault of the frame.
    fn check(&self) -> Option<Check>;
    /// What to answer before closing, when the protocol has an answer for this failure.
    fn reply(&self) -> Option<Vec<u8>>;
}

/// One dialect's side of a connection.
pub trait FrameHandler: Sync {
    /// The dialect, for metrics labels and logs.
    const DIALECT: Dialect;
    /// One whole frame as the codec yields it.
    type Frame: Send + NamesRegister;
    /// How framing fails.
    type Failure: FramingFailure;
    /// Cuts frames out of the byte stream.
    type Codec: Decoder<Item = Self::Frame, Error = Self::Failure> + Send;

    /// A codec for a new connection.
    fn codec(&self) -> Self::Codec;
    /// Bytes of `frame` as received (for `ofd_ingest_received_bytes_total`).
    fn frame_len(frame: &Self::Frame) -> usize;
    /// Check, store and answer one whole frame; counts its end.
    fn handle(&self, frame: Self::Frame, peer: SocketAddr) -> impl Future<Output = Reply> + Send;
}

/// Which register a whole frame says it comes from, in the form a client certificate's subject
/// CN names it (TLS port with client certificates): RU the ФН number from the session header,
/// KZ the system id from the header. `None` when the frame does not say.
pub trait NamesRegister {
    /// The register's name, or `None`.
    fn register_name(&self) -> Option<String>;
}

/// An RU frame: session header first.
impl NamesRegister for bytes::BytesMut {
    fn register_name(&self) -> Option<String> {
        let header = ofd_protocol::ru::SessionHeader::decode(self).ok()?;
        Some(header.fn_number.digits().to_owned())
    }
}

/// A KZ frame: its decoded header and the bytes.
impl NamesRegister for (ofd_protocol::kz::Header, bytes::BytesMut) {
    fn register_name(&self) -> Option<String> {
        Some(self.0.system_id.to_string())
    }
}

/// Hex of at most the first 64 bytes, for the log line of a refused frame (RU spec §10).
pub fn first_bytes(bytes: &[u8]) -> String {
    hex::encode(&bytes[..bytes.len().min(64)])
}
