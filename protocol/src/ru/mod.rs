//! RU dialect: ККТ with a fiscal drive (ФН) talking to the operator (ОФД).
//!
//! A frame is a 30-byte [`session`] header followed by a [`container`] that the ФН built: a
//! 32-byte header, one ФФД document as an STLV ([`tlv`]), and an opaque trailer (the message
//! fiscal sign). The operator answers each document with a confirmation built by [`ack`].
//!
//! Layering, cheapest first, so a server can stop at the first failure and still know what to
//! answer: [`frame_len`] (how many bytes to read, oversize rejected before allocation) →
//! [`Frame::decode`] (headers, lengths, CRC, document bounds) → [`check::cross_check`] → the
//! typed document decode. Every step borrows from the input buffer.

pub mod ack;
pub mod check;
pub mod container;
pub mod crc;
pub mod document;
pub mod flk;
pub mod fn_number;
pub mod json;
pub mod json_text;
pub mod session;
pub mod tags;
pub mod tlv;
pub mod value;

pub use container::{Container, ContainerError, ContainerHeader};
pub use document::{Document, DocumentError};
pub use fn_number::FnNumber;
pub use session::{frame_len, SessionError, SessionHeader, MAX_BODY_LEN, SESSION_HEADER_LEN};

/// The ФФД (fiscal document format) version, from tag 1209 (or 1189/1190).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FfdVersion {
    /// 1.0 (tag value 1).
    V1_0,
    /// 1.05 (tag value 2).
    V1_05,
    /// 1.1 (tag value 3).
    V1_1,
    /// 1.2 (tag value 4).
    V1_2,
}

impl FfdVersion {
    /// From the value of tag 1209/1189/1190.
    pub fn from_tag_value(value: u8) -> Option<Self> {
        match value {
            1 => Some(Self::V1_0),
            2 => Some(Self::V1_05),
            3 => Some(Self::V1_1),
            4 => Some(Self::V1_2),
            _ => None,
        }
    }

    /// The value of tag 1209 for this version.
    pub fn tag_value(self) -> u8 {
        match self {
            Self::V1_0 => 1,
            Self::V1_05 => 2,
            Self::V1_1 => 3,
            Self::V1_2 => 4,
        }
    }
}

/// Why a frame was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The session header is bad.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The container is bad.
    #[error(transparent)]
    Container(#[from] ContainerError),
    /// The bytes given differ from the length the session header announces.
    #[error("session header announces {declared} body bytes, {actual} present")]
    BodyLength {
        /// Session LEN field.
        declared: usize,
        /// Bytes after the session header.
        actual: usize,
    },
    /// The flags say the body is not a container; nothing else is defined.
    #[error("session flags say the body holds no container")]
    NoContainer,
}

/// A frame [`Frame::decode_or_headers`] refused, with what could still be read of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecodable {
    /// Why the frame was refused.
    pub error: FrameError,
    /// The session and container headers, when both decoded (the failure is further in: length,
    /// CRC or document bounds).
    pub headers: Option<(SessionHeader, ContainerHeader)>,
}

impl Undecodable {
    fn bare(error: FrameError) -> Self {
        Undecodable {
            error,
            headers: None,
        }
    }
}

/// A whole frame, borrowing from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The session header.
    pub session: SessionHeader,
    /// The container (CRC checked).
    pub container: Container<'a>,
    /// Whether the optional session CRC matched (true when none was sent). A mismatch is to be
    /// counted, not to reject the frame: the algorithm is inferred, not confirmed.
    pub session_crc_ok: bool,
}

impl<'a> Frame<'a> {
    /// Decode exactly one frame: `bytes` must be the session header plus exactly its body.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, FrameError> {
        Self::decode_or_headers(bytes).map_err(|undecodable| undecodable.error)
    }

    /// [`Frame::decode`], keeping on failure the two headers when they decoded: a frame whose
    /// container header names its ФН and ФД can still be answered (and kept) though the rest
    /// failed. Each header is decoded once.
    pub fn decode_or_headers(bytes: &'a [u8]) -> Result<Self, Undecodable> {
        let session = SessionHeader::decode(bytes).map_err(|e| Undecodable::bare(e.into()))?;
        let body = &bytes[SESSION_HEADER_LEN..];
        if body.len() != usize::from(session.body_len) {
            return Err(Undecodable::bare(FrameError::BodyLength {
                declared: session.body_len.into(),
                actual: body.len(),
            }));
        }
        if !session.flags.has_container() {
            return Err(Undecodable::bare(FrameError::NoContainer));
        }
        let header = ContainerHeader::decode(body).map_err(|e| Undecodable::bare(e.into()))?;
        match Container::decode_with_header(header, body) {
            Ok(container) => Ok(Self {
                session,
                container,
                session_crc_ok: session.crc_matches(body),
            }),
            Err(error) => Err(Undecodable {
                error: error.into(),
                headers: Some((session, header)),
            }),
        }
    }

    /// Re-encode; reproduces the decoded bytes exactly.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ContainerError> {
        let container = self.container.to_bytes()?;
        let mut out = Vec::with_capacity(SESSION_HEADER_LEN + container.len());
        out.extend_from_slice(&self.session.encode());
        out.extend_from_slice(&container);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: &str =
        include_str!("../../../fixtures/ru/fiscal_report_correction_1_05.frame.hex");

    #[test]
    fn decodes_cross_checks_and_reencodes_the_real_dump() {
        let bytes = hex::decode(FRAME.trim()).unwrap();
        assert_eq!(bytes.len(), 466);
        assert_eq!(frame_len(&bytes), Ok(Some(466)));
        let frame = Frame::decode(&bytes).unwrap();
        assert!(frame.session_crc_ok);
        assert_eq!(frame.container.header.crc, 0x7825);
        assert_eq!(frame.container.header.doc_type, 11);
        check::cross_check(&frame).unwrap();
        assert_eq!(frame.to_bytes().unwrap(), bytes);
    }

    #[test]
    fn every_error_variant() {
        let bytes = hex::decode(FRAME.trim()).unwrap();
        assert_eq!(
            Frame::decode(&bytes[..465]),
            Err(FrameError::BodyLength {
                declared: 436,
                actual: 435
            })
        );
        assert!(matches!(
            Frame::decode(&bytes[..10]),
            Err(FrameError::Session(SessionError::Truncated(10)))
        ));
        let mut b = bytes.clone();
        b[26] = 0x10;
        assert_eq!(Frame::decode(&b), Err(FrameError::NoContainer));
        let mut b = bytes.clone();
        b[200] ^= 0xFF;
        assert!(matches!(
            Frame::decode(&b),
            Err(FrameError::Container(ContainerError::CrcMismatch { .. }))
        ));
    }

    #[test]
    fn a_refused_frame_keeps_its_headers_only_when_they_decoded() {
        let bytes = hex::decode(FRAME.trim()).unwrap();
        let mut b = bytes.clone();
        b[200] ^= 0xFF;
        let refused = Frame::decode_or_headers(&b).unwrap_err();
        assert!(matches!(
            refused.error,
            FrameError::Container(ContainerError::CrcMismatch { .. })
        ));
        let (session, header) = refused.headers.expect("both headers decoded");
        assert_eq!(session.fn_number, header.fn_number);
        assert_eq!(header.doc_type, 11);

        let truncated = Frame::decode_or_headers(&bytes[..465]).unwrap_err();
        assert!(matches!(truncated.error, FrameError::BodyLength { .. }));
        assert_eq!(truncated.headers, None);
        let mut b = bytes.clone();
        b[SESSION_HEADER_LEN + 4] = 0x00; // container type
        let refused = Frame::decode_or_headers(&b).unwrap_err();
        assert!(matches!(refused.error, FrameError::Container(_)));
        assert_eq!(
            refused.headers, None,
            "a container header that fails is not kept"
        );
    }
}
