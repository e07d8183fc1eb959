//! Framing of RU traffic for tokio-util: a [`Decoder`] that yields one whole session frame
//! (30-byte header plus container) at a time. Replies are written whole by the read loop.
//!
//! Invariant: no buffer grows for a frame before its header has been checked. The decoder asks
//! the protocol crate how long the frame is (which rejects a bad signature, bad versions or a
//! length above the protocol maximum), applies the configured limit, and only then reserves
//! exactly the missing bytes. Splitting the frame off the read buffer does not copy.

use bytes::BytesMut;
use ofd_protocol::ru::{frame_len, SessionError, SESSION_HEADER_LEN};
use tokio_util::codec::Decoder;

use crate::ingest::handler::FramingFailure;
use crate::ingest::metrics::Check;

/// Why the byte stream could not be cut into frames. None of these can be answered: the frame
/// boundary is lost, so the connection is closed after logging and counting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    /// The session header is malformed (signature, versions, ФН number, flags).
    #[error("bad session header: {0}")]
    Session(SessionError),
    /// The declared container length exceeds the configured limit.
    #[error("container length {declared} exceeds the limit of {limit} bytes")]
    Oversize {
        /// Container length the header declares.
        declared: usize,
        /// The configured `max_frame_bytes`.
        limit: usize,
    },
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed after {0} bytes of an unfinished frame")]
    Truncated(usize),
    /// Reading or writing the socket failed.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
}

/// Cuts RU session frames out of a byte stream.
#[derive(Debug, Clone, Copy)]
pub struct RuFrameCodec {
    max_container: usize,
}

impl RuFrameCodec {
    /// A codec refusing containers longer than `max_container` bytes.
    pub fn new(max_container: usize) -> Self {
        RuFrameCodec { max_container }
    }
}

impl Decoder for RuFrameCodec {
    type Item = BytesMut;
    type Error = FramingError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FramingError> {
        let total = match frame_len(src) {
            Ok(Some(total)) => total,
            Ok(None) => return Ok(None),
            Err(SessionError::Oversize(declared)) => {
                return Err(FramingError::Oversize {
                    declared,
                    limit: self.max_container,
                })
            }
            Err(error) => return Err(FramingError::Session(error)),
        };
        let declared = total - SESSION_HEADER_LEN;
        if declared > self.max_container {
            return Err(FramingError::Oversize {
                declared,
                limit: self.max_container,
            });
        }
        if src.len() < total {
            src.reserve(total - src.len());
            return Ok(None);
        }
        Ok(Some(src.split_to(total)))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FramingError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            None => Err(FramingError::Truncated(src.len())),
        }
    }
}

/// None of these can be answered: without a whole frame there is no container header to
/// answer to.
impl FramingFailure for FramingError {
    fn check(&self) -> Option<Check> {
        match self {
            FramingError::Oversize { .. } => Some(Check::Oversize),
            FramingError::Truncated(_) => Some(Check::Truncated),
            FramingError::Session(_) => Some(Check::SessionHeader),
            FramingError::Io(_) => None,
        }
    }

    fn reply(&self) -> Option<Vec<u8>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: &str =
        include_str!("../../../fixtures/ru/fiscal_report_correction_1_05.frame.hex");

    fn frame() -> Vec<u8> {
        hex::decode(FRAME.trim()).expect("fixture is hex")
    }

    #[test]
    fn yields_whole_frames_from_pieces_and_back_to_back() {
        let bytes = frame();
        let mut codec = RuFrameCodec::new(32 * 1024);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&bytes[..10]);
        assert!(codec.decode(&mut buf).expect("no error yet").is_none());
        buf.extend_from_slice(&bytes[10..40]);
        assert!(codec.decode(&mut buf).expect("header fine").is_none());
        assert!(
            buf.capacity() >= bytes.len(),
            "reserved the whole frame once known"
        );
        buf.extend_from_slice(&bytes[40..]);
        buf.extend_from_slice(&bytes);
        let first = codec.decode(&mut buf).expect("ok").expect("frame");
        assert_eq!(&first[..], &bytes[..]);
        let second = codec.decode_eof(&mut buf).expect("ok").expect("frame");
        assert_eq!(&second[..], &bytes[..]);
        assert!(codec.decode_eof(&mut buf).expect("clean eof").is_none());
    }

    #[test]
    fn refuses_oversize_bad_signature_and_truncation() {
        let bytes = frame();
        let mut codec = RuFrameCodec::new(400);
        let mut buf = BytesMut::from(&bytes[..30]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FramingError::Oversize {
                declared: 436,
                limit: 400
            })
        ));
        assert!(buf.capacity() < 400, "nothing reserved for a refused frame");

        let mut codec = RuFrameCodec::new(32 * 1024);
        let mut buf = BytesMut::from(&b"\x2A\x08\x41\x0B"[..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FramingError::Session(_))
        ));

        let mut buf = BytesMut::from(&bytes[..100]);
        assert!(matches!(
            codec.decode_eof(&mut buf),
            Err(FramingError::Truncated(100))
        ));
    }
}
