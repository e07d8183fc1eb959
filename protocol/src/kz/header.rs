//! The 18-byte frame header (spec §2): APPCODE, VERSION, SIZE, ID, TOKEN, REQNUM, all
//! little-endian. SIZE counts the whole frame, header included.
//!
//! [`Header::decode`] checks only what every frame must satisfy (the app code and SIZE ≥ 18);
//! the size cap and the version policy are separate steps because the server still answers a
//! refused frame with a header that echoes the request's id and version.

/// The application code, sent as the bytes `A2 81`.
pub const APP_CODE: u16 = 0x81A2;
/// The first two bytes of every KZ frame; enough to tell the dialect on a shared listener.
pub const MAGIC: [u8; 2] = APP_CODE.to_le_bytes();
/// Length of the header.
pub const HEADER_LEN: usize = 18;
/// Default cap on SIZE (1 MiB); configurable by the server.
pub const DEFAULT_MAX_FRAME: u32 = 1 << 20;

/// Why a header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// Fewer than 18 bytes were available.
    #[error("truncated header: {0} of 18 bytes")]
    Truncated(usize),
    /// The first two bytes are not `A2 81`.
    #[error("not a KZ frame: app code {0:#06x}")]
    BadAppCode(u16),
    /// SIZE is smaller than the header itself.
    #[error("frame size {0} is below the 18-byte header")]
    SizeTooSmall(u32),
    /// SIZE exceeds the configured cap.
    #[error("frame size {size} exceeds the cap of {max} bytes")]
    SizeTooLarge {
        /// SIZE as sent.
        size: u32,
        /// The cap in force.
        max: u32,
    },
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Header {
    /// Protocol version as a decimal number without dots (203 = 2.0.3).
    pub version: u16,
    /// Total frame length, header included.
    pub size: u32,
    /// The register's system id.
    pub system_id: u32,
    /// Request: the token the register holds. Response: the token for its next request.
    #[serde(skip)]
    pub token: u32,
    /// Request sequence number (echoed in the response).
    pub request_number: u16,
}

impl Header {
    /// Decodes the first 18 bytes of `bytes` (more may follow).
    pub fn decode(bytes: &[u8]) -> Result<Self, HeaderError> {
        let head: &[u8; HEADER_LEN] = bytes
            .first_chunk()
            .ok_or(HeaderError::Truncated(bytes.len()))?;
        let (app_code, header) = Header::fields(head);
        if app_code != APP_CODE {
            return Err(HeaderError::BadAppCode(app_code));
        }
        if (header.size as usize) < HEADER_LEN {
            return Err(HeaderError::SizeTooSmall(header.size));
        }
        Ok(header)
    }

    /// The app code and the other fields of 18 header bytes, as sent and unchecked: what a
    /// refusal of a bad header echoes back.
    pub fn fields(head: &[u8; HEADER_LEN]) -> (u16, Header) {
        let u16_at = |i: usize| u16::from_le_bytes([head[i], head[i + 1]]);
        let u32_at =
            |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        let header = Header {
            version: u16_at(2),
            size: u32_at(4),
            system_id: u32_at(8),
            token: u32_at(12),
            request_number: u16_at(16),
        };
        (u16_at(0), header)
    }

    /// Refuses a SIZE above `max` (checked before the body is read).
    pub fn check_size(&self, max: u32) -> Result<(), HeaderError> {
        if self.size > max {
            return Err(HeaderError::SizeTooLarge {
                size: self.size,
                max,
            });
        }
        Ok(())
    }

    /// Length of the protobuf body that follows the header.
    pub fn body_len(&self) -> usize {
        self.size as usize - HEADER_LEN
    }

    /// The 18 header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..2].copy_from_slice(&MAGIC);
        out[2..4].copy_from_slice(&self.version.to_le_bytes());
        out[4..8].copy_from_slice(&self.size.to_le_bytes());
        out[8..12].copy_from_slice(&self.system_id.to_le_bytes());
        out[12..16].copy_from_slice(&self.token.to_le_bytes());
        out[16..18].copy_from_slice(&self.request_number.to_le_bytes());
        out
    }
}

/// A protocol version this server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ProtocolVersion {
    /// 2.0.2: accepted; its schema is a subset of 2.0.3 for the fields we read.
    V202,
    /// 2.0.3: primary.
    V203,
}

/// A header version the server refuses (answered with PROTOCOL_ERROR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unsupported KZ protocol version {0} (this server speaks 202 and 203)")]
pub struct UnsupportedVersion(pub u16);

impl ProtocolVersion {
    /// Applies the version policy: 203 and 202 are accepted, everything else is refused
    /// (124–201 have known field drift, see spec §4.7; newer ones are unknown).
    pub fn from_header(version: u16) -> Result<Self, UnsupportedVersion> {
        match version {
            203 => Ok(Self::V203),
            202 => Ok(Self::V202),
            other => Err(UnsupportedVersion(other)),
        }
    }

    /// The header value.
    pub fn wire(self) -> u16 {
        match self {
            Self::V202 => 202,
            Self::V203 => 203,
        }
    }
}

#[cfg(test)]
mod header_tests {
    use super::*;

    #[test]
    fn fields_reads_a_refused_header_as_sent() {
        let header = Header {
            version: 203,
            size: 5,
            system_id: 42,
            token: 0xDEAD_BEEF,
            request_number: 9,
        };
        let mut bytes = header.encode();
        assert_eq!(Header::decode(&bytes), Err(HeaderError::SizeTooSmall(5)));
        assert_eq!(Header::fields(&bytes), (APP_CODE, header));
        bytes[0] = 0x00;
        assert!(matches!(
            Header::decode(&bytes),
            Err(HeaderError::BadAppCode(_))
        ));
        assert_eq!(Header::fields(&bytes).1.system_id, 42);
    }
}
