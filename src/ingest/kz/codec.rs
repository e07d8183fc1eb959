//! The KZ frame codec: cuts a byte stream into whole KZ frames for the shared read loop.
//!
//! It reads exactly 18 header bytes, checks the app code and SIZE against the cap, then waits
//! for exactly SIZE bytes; splitting the frame off the read buffer does not copy. It never
//! reserves what SIZE declares: the read loop grows the buffer as bytes arrive, each step
//! charged to the shared read-buffer budget, so a header claiming a megabyte costs nothing until
//! the megabyte is actually sent. A header that fails (SIZE below 18 or above the cap) is answered with
//! PROTOCOL_ERROR echoing the header's own fields and the connection closed without reading the
//! body (spec §8 item 2); a wrong app code is not a KZ frame and gets no answer. A connection
//! that ends in the middle of a frame is reported as [`KzFramingError::Truncated`].

use bytes::BytesMut;
use ofd_protocol::kz::{
    encode_frame, CommandTypeEnum, Header, HeaderError, Response, ResultTypeEnum, HEADER_LEN,
};
use tokio_util::codec::Decoder;

use crate::ingest::handler::FramingFailure;
use crate::ingest::metrics::Check;

/// Why framing stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KzFramingError {
    /// The socket failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The header is invalid; `echo` holds its fields as sent, for the refusal.
    #[error("{error}")]
    Header {
        /// What was wrong.
        error: HeaderError,
        /// The header's fields as sent (SIZE aside), echoed in the PROTOCOL_ERROR reply.
        echo: Header,
    },
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed after {0} bytes of an unfinished frame")]
    Truncated(usize),
}

impl FramingFailure for KzFramingError {
    fn check(&self) -> Option<Check> {
        match self {
            KzFramingError::Io(_) => None,
            KzFramingError::Header {
                error: HeaderError::SizeTooLarge { .. },
                ..
            } => Some(Check::Oversize),
            KzFramingError::Header { .. } => Some(Check::SessionHeader),
            KzFramingError::Truncated(_) => Some(Check::Truncated),
        }
    }

    fn reply(&self) -> Option<Vec<u8>> {
        let KzFramingError::Header { error, echo } = self else {
            return None;
        };
        if matches!(error, HeaderError::BadAppCode(_)) {
            return None;
        }
        let response = Response::result_only(
            CommandTypeEnum::Reserved as i32,
            ResultTypeEnum::ProtocolError,
            error.to_string(),
        );
        // A result-only response is a few dozen bytes: its SIZE always fits.
        encode_frame(Header { size: 0, ..*echo }, &response).ok()
    }
}

/// Splits a byte stream into whole KZ frames: (header, all SIZE bytes).
#[derive(Debug, Clone, Copy)]
pub struct KzFrameCodec {
    max_frame: u32,
}

impl KzFrameCodec {
    /// A codec refusing frames whose SIZE exceeds `max_frame`.
    pub fn new(max_frame: u32) -> Self {
        KzFrameCodec { max_frame }
    }
}

impl Decoder for KzFrameCodec {
    type Item = (Header, BytesMut);
    type Error = KzFramingError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        let Some(head) = src.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let header = Header::decode(head)
            .and_then(|h| h.check_size(self.max_frame).map(|()| h))
            .map_err(|error| KzFramingError::Header {
                error,
                echo: Header::fields(head).1,
            })?;
        let size = header.size as usize;
        if src.len() < size {
            return Ok(None);
        }
        Ok(Some((header, src.split_to(size))))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            None => Err(KzFramingError::Truncated(src.len())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_waits_for_whole_frames_and_refuses_oversize_before_the_body() {
        let header = Header {
            version: 203,
            size: 20,
            system_id: 5,
            token: 6,
            request_number: 7,
        };
        let mut buf = BytesMut::from(&header.encode()[..]);
        let mut codec = KzFrameCodec::new(1024);
        assert!(codec.decode(&mut buf).expect("valid so far").is_none());
        buf.extend_from_slice(&[0x08, 0x00, 0xff]);
        let (decoded, frame) = codec.decode(&mut buf).expect("ok").expect("whole frame");
        assert_eq!(decoded.system_id, 5);
        assert_eq!(frame.len(), 20);
        assert_eq!(&buf[..], &[0xff]);

        let big = Header {
            size: 4096,
            ..header
        };
        let mut buf = BytesMut::from(&big.encode()[..]);
        match codec.decode(&mut buf) {
            Err(KzFramingError::Header { error, echo }) => {
                assert!(matches!(
                    error,
                    HeaderError::SizeTooLarge { size: 4096, .. }
                ));
                assert_eq!((echo.system_id, echo.token, echo.request_number), (5, 6, 7));
            }
            other => panic!("expected an oversize refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_large_declared_size_reserves_nothing() {
        let header = Header {
            version: 203,
            size: 1 << 20,
            system_id: 5,
            token: 6,
            request_number: 7,
        };
        let mut buf = BytesMut::from(&header.encode()[..]);
        let before = buf.capacity();
        let mut codec = KzFrameCodec::new(1 << 20);
        assert!(codec.decode(&mut buf).expect("valid header").is_none());
        assert_eq!(
            buf.capacity(),
            before,
            "nothing reserved for the declared body"
        );
    }

    #[test]
    fn end_of_stream_mid_frame_is_truncation_and_a_clean_end_is_not() {
        let header = Header {
            version: 203,
            size: 40,
            system_id: 5,
            token: 6,
            request_number: 7,
        };
        let mut codec = KzFrameCodec::new(1024);
        let mut buf = BytesMut::from(&header.encode()[..]);
        buf.extend_from_slice(&[0; 4]);
        let error = codec.decode_eof(&mut buf).expect_err("22 of 40 bytes");
        assert!(matches!(error, KzFramingError::Truncated(22)));
        assert_eq!(error.check(), Some(Check::Truncated));
        assert_eq!(error.reply(), None, "nothing to answer a half frame with");
        let mut buf = BytesMut::from(&header.encode()[..10]);
        assert!(matches!(
            codec.decode_eof(&mut buf),
            Err(KzFramingError::Truncated(10))
        ));
        assert!(codec
            .decode_eof(&mut BytesMut::new())
            .expect("clean")
            .is_none());
    }

    #[test]
    fn a_refused_header_is_answered_with_protocol_error_echoing_it_but_a_foreign_one_is_not() {
        let header = Header {
            version: 203,
            size: 4096,
            system_id: 5,
            token: 6,
            request_number: 7,
        };
        let mut codec = KzFrameCodec::new(1024);
        let error = codec
            .decode(&mut BytesMut::from(&header.encode()[..]))
            .expect_err("oversize");
        assert_eq!(error.check(), Some(Check::Oversize));
        let reply = error.reply().expect("PROTOCOL_ERROR answer");
        let echoed = Header::decode(&reply).expect("a valid header");
        assert_eq!(
            (echoed.system_id, echoed.token, echoed.request_number),
            (5, 6, 7)
        );
        assert_eq!(echoed.size as usize, reply.len());
        let response = ofd_protocol::kz::decode_response(&reply[HEADER_LEN..]).expect("body");
        assert_eq!(
            response.result_code(),
            Some(ResultTypeEnum::ProtocolError as u32)
        );

        let mut foreign = header.encode();
        foreign[1] = 0x00;
        let error = codec
            .decode(&mut BytesMut::from(&foreign[..]))
            .expect_err("bad app code");
        assert_eq!(error.check(), Some(Check::SessionHeader));
        assert_eq!(error.reply(), None);
    }
}
