//! Whole frames: header plus protobuf body, in both directions.
//!
//! Decoding is layered so the server can answer each failure with the right header: split the
//! frame (header, exact body length, no trailing bytes), then decode the body (protobuf, then
//! required fields). Encoding computes SIZE from the body, so a caller cannot send a frame whose
//! SIZE lies.

use prost::Message;

use super::envelope::{Request, Response};
use super::header::{Header, HeaderError, HEADER_LEN};
use super::required::{MissingField, Validate};

/// Why a frame or body was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The header is invalid.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// The buffer ends before SIZE bytes.
    #[error("truncated frame: SIZE says {expected} bytes, got {got}")]
    Truncated {
        /// SIZE from the header.
        expected: usize,
        /// Bytes available.
        got: usize,
    },
    /// Bytes follow the SIZE bytes of the frame.
    #[error("{0} trailing bytes after the frame")]
    TrailingBytes(usize),
    /// The body is not valid protobuf for the message.
    #[error("protobuf decode failed: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// A required field is absent.
    #[error(transparent)]
    MissingField(#[from] MissingField),
    /// The frame is too large to describe in a u32 SIZE.
    #[error("body of {0} bytes does not fit a frame")]
    BodyTooLarge(usize),
}

/// Splits one complete frame into its header and body; the buffer must hold exactly SIZE bytes.
pub fn split_frame(bytes: &[u8], max_frame: u32) -> Result<(Header, &[u8]), FrameError> {
    let header = Header::decode(bytes)?;
    header.check_size(max_frame)?;
    let size = header.size as usize;
    if bytes.len() < size {
        return Err(FrameError::Truncated {
            expected: size,
            got: bytes.len(),
        });
    }
    if bytes.len() > size {
        return Err(FrameError::TrailingBytes(bytes.len() - size));
    }
    Ok((header, &bytes[HEADER_LEN..]))
}

/// Decodes and validates a request body.
pub fn decode_request(body: &[u8]) -> Result<Request, FrameError> {
    let request = Request::decode(body)?;
    request.validate()?;
    Ok(request)
}

/// Decodes and validates a response body.
pub fn decode_response(body: &[u8]) -> Result<Response, FrameError> {
    let response = Response::decode(body)?;
    response.validate()?;
    Ok(response)
}

/// The command of a body that failed to decode as a whole, if field 1 can still be read; the
/// server echoes it in its PROTOCOL_ERROR reply (COMMAND_RESERVED otherwise).
pub fn peek_command(body: &[u8]) -> Option<i32> {
    #[derive(Clone, PartialEq, prost::Message)]
    struct CommandOnly {
        #[prost(int32, optional, tag = "1")]
        command: Option<i32>,
    }
    CommandOnly::decode(body).ok().and_then(|c| c.command)
}

/// Encodes a frame: `header` with SIZE replaced by the real length, then `body`.
pub fn encode_frame(header: Header, body: &impl Message) -> Result<Vec<u8>, FrameError> {
    let body_len = body.encoded_len();
    let size =
        u32::try_from(HEADER_LEN + body_len).map_err(|_| FrameError::BodyTooLarge(body_len))?;
    let header = Header { size, ..header };
    let mut out = Vec::with_capacity(HEADER_LEN + body_len);
    out.extend_from_slice(&header.encode());
    body.encode(&mut out)
        .map_err(|_| FrameError::BodyTooLarge(body_len))?;
    Ok(out)
}
