//! The container the fiscal drive builds: a 32-byte header, the document STLV, a trailer.
//!
//! ```text
//!  0..2 length u16 LE (whole container) | 2..4 CRC u16 LE | 4 type A5/5A | 5 document type
//!  6 header version (1) | 7..9 service data 1 | 9..17 ФН number, packed BCD
//!  17..20 ФД number, u24 BIG-endian | 20..32 service data 2 | 32.. document STLV | trailer
//! ```
//!
//! The CRC (CRC-16/CCITT-FALSE) covers every byte but its own field, trailer included. The
//! document is delimited by its own STLV length; whatever follows is the trailer (in the dumps,
//! the 8-byte ФПС and two zero bytes), kept opaque at any length because its layout is not
//! confirmed. Service data are opaque and echoed. Decoding borrows: nothing is copied.

use super::crc::crc16_parts;
use super::fn_number::FnNumber;
use super::session::MAX_BODY_LEN;

/// Length of the container header.
pub const CONTAINER_HEADER_LEN: usize = 32;
/// Container type in every sample; the spec quote also names `5A` (direction unverified).
pub const CONTAINER_TYPE: u8 = 0xA5;
/// The other container type the spec quote names.
pub const CONTAINER_TYPE_ALT: u8 = 0x5A;
/// Header format version of the 32-byte header.
pub const HEADER_VERSION: u8 = 0x01;
/// Largest ФД number the u24 field holds.
pub const MAX_FD_NUMBER: u32 = 0x00FF_FFFF;

/// Why a container was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContainerError {
    /// Fewer bytes than the 32-byte header.
    #[error("container header truncated: {0} of 32 bytes")]
    Truncated(usize),
    /// The length field disagrees with the bytes given.
    #[error("container length field {declared} but {actual} bytes present")]
    LengthMismatch {
        /// Length field of the header.
        declared: usize,
        /// Bytes actually present.
        actual: usize,
    },
    /// The container is above the 32 KiB maximum.
    #[error("container of {0} bytes exceeds the 32768-byte maximum")]
    Oversize(usize),
    /// The stored CRC differs from the computed one.
    #[error("container CRC mismatch: stored {stored:#06x}, computed {computed:#06x}")]
    CrcMismatch {
        /// CRC in the header.
        stored: u16,
        /// CRC over the bytes.
        computed: u16,
    },
    /// The container type byte is neither `A5` nor `5A`.
    #[error("unknown container type {0:#04x}")]
    UnknownType(u8),
    /// The header version is not 1.
    #[error("unknown container header version {0}")]
    UnknownHeaderVersion(u8),
    /// The ФН number is not packed BCD digits.
    #[error("container ФН number is not BCD digits")]
    FnNotBcd,
    /// Fewer than 4 bytes after the header: no document STLV header.
    #[error("container holds no document")]
    MissingDocument,
    /// The document STLV length runs past the end of the container.
    #[error("document length {len} runs past the container ({available} bytes left)")]
    DocumentOverrun {
        /// STLV length field.
        len: usize,
        /// Bytes after the STLV header.
        available: usize,
    },
    /// A ФД number to encode does not fit in 24 bits.
    #[error("ФД number {0} does not fit in 24 bits")]
    FdNumberTooLarge(u32),
}

/// A decoded container header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerHeader {
    /// Whole-container length, header included.
    pub len: u16,
    /// CRC field as sent.
    pub crc: u16,
    /// Container type (`A5` or `5A`).
    pub container_type: u8,
    /// Document form code; must equal the document STLV tag (see `check`).
    pub doc_type: u8,
    /// Header format version (1).
    pub version: u8,
    /// Service data 1: opaque, echoed in the reply.
    pub service1: [u8; 2],
    /// ФН number (from BCD).
    pub fn_number: FnNumber,
    /// ФД number (u24 big-endian on the wire).
    pub fd_number: u32,
    /// Service data 2: opaque ФН crypto data.
    pub service2: [u8; 12],
}

impl ContainerHeader {
    /// Decode the first 32 bytes without checking length or CRC.
    ///
    /// This is how a damaged container still yields the ФН and ФД numbers needed for a
    /// "malformed" (code 11) reply.
    pub fn decode(bytes: &[u8]) -> Result<Self, ContainerError> {
        let Some(h) = bytes.first_chunk::<CONTAINER_HEADER_LEN>() else {
            return Err(ContainerError::Truncated(bytes.len()));
        };
        let container_type = h[4];
        if container_type != CONTAINER_TYPE && container_type != CONTAINER_TYPE_ALT {
            return Err(ContainerError::UnknownType(container_type));
        }
        if h[6] != HEADER_VERSION {
            return Err(ContainerError::UnknownHeaderVersion(h[6]));
        }
        let mut bcd = [0u8; 8];
        bcd.copy_from_slice(&h[9..17]);
        let fn_number = FnNumber::from_bcd(bcd).map_err(|_| ContainerError::FnNotBcd)?;
        let mut service2 = [0u8; 12];
        service2.copy_from_slice(&h[20..32]);
        Ok(Self {
            len: u16::from_le_bytes([h[0], h[1]]),
            crc: u16::from_le_bytes([h[2], h[3]]),
            container_type,
            doc_type: h[5],
            version: h[6],
            service1: [h[7], h[8]],
            fn_number,
            fd_number: u32::from_be_bytes([0, h[17], h[18], h[19]]),
            service2,
        })
    }

    /// The 32 wire bytes, length and CRC fields as stored in `self`.
    pub fn encode(&self) -> Result<[u8; CONTAINER_HEADER_LEN], ContainerError> {
        if self.fd_number > MAX_FD_NUMBER {
            return Err(ContainerError::FdNumberTooLarge(self.fd_number));
        }
        let mut out = [0u8; CONTAINER_HEADER_LEN];
        out[0..2].copy_from_slice(&self.len.to_le_bytes());
        out[2..4].copy_from_slice(&self.crc.to_le_bytes());
        out[4] = self.container_type;
        out[5] = self.doc_type;
        out[6] = self.version;
        out[7..9].copy_from_slice(&self.service1);
        out[9..17].copy_from_slice(&self.fn_number.to_bcd());
        out[17..20].copy_from_slice(&self.fd_number.to_be_bytes()[1..]);
        out[20..32].copy_from_slice(&self.service2);
        Ok(out)
    }
}

/// A decoded container borrowing its document and trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Container<'a> {
    /// The header.
    pub header: ContainerHeader,
    /// The document STLV, its 4-byte tag and length included.
    pub document: &'a [u8],
    /// What follows the document: ФПС and any further bytes, opaque.
    pub trailer: &'a [u8],
}

impl<'a> Container<'a> {
    /// Decode a whole container: header, exact length, CRC, document bounds.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, ContainerError> {
        Self::decode_with_header(ContainerHeader::decode(bytes)?, bytes)
    }

    /// [`Container::decode`] for a caller that already decoded the header from these `bytes`
    /// (to keep it when the rest fails); the header is not read a second time.
    pub fn decode_with_header(
        header: ContainerHeader,
        bytes: &'a [u8],
    ) -> Result<Self, ContainerError> {
        if bytes.len() > MAX_BODY_LEN {
            return Err(ContainerError::Oversize(bytes.len()));
        }
        if usize::from(header.len) != bytes.len() {
            return Err(ContainerError::LengthMismatch {
                declared: header.len.into(),
                actual: bytes.len(),
            });
        }
        let computed = container_crc(bytes);
        if computed != header.crc {
            return Err(ContainerError::CrcMismatch {
                stored: header.crc,
                computed,
            });
        }
        let data = &bytes[CONTAINER_HEADER_LEN..];
        let Some(stlv_header) = data.first_chunk::<4>() else {
            return Err(ContainerError::MissingDocument);
        };
        let len = usize::from(u16::from_le_bytes([stlv_header[2], stlv_header[3]]));
        let available = data.len() - 4;
        if len > available {
            return Err(ContainerError::DocumentOverrun { len, available });
        }
        let (document, trailer) = data.split_at(4 + len);
        Ok(Self {
            header,
            document,
            trailer,
        })
    }

    /// Build a container around `document` and `trailer`, filling in the length and CRC.
    ///
    /// `header.len` and `header.crc` are ignored and recomputed.
    pub fn encode(
        header: &ContainerHeader,
        document: &[u8],
        trailer: &[u8],
    ) -> Result<Vec<u8>, ContainerError> {
        let total = CONTAINER_HEADER_LEN + document.len() + trailer.len();
        if total > MAX_BODY_LEN {
            return Err(ContainerError::Oversize(total));
        }
        let mut header = *header;
        header.len = total as u16; // ≤ 32768 checked above
        header.crc = 0;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&header.encode()?);
        out.extend_from_slice(document);
        out.extend_from_slice(trailer);
        let crc = container_crc(&out);
        out[2..4].copy_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    /// Re-encode this container; reproduces the input bytes of [`Container::decode`] exactly.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ContainerError> {
        Self::encode(&self.header, self.document, self.trailer)
    }
}

/// The container CRC: CRC-16/CCITT-FALSE over everything but bytes 2..4.
///
/// `bytes` must hold at least the length and CRC fields; shorter input yields the CRC of what
/// there is.
pub fn container_crc(bytes: &[u8]) -> u16 {
    let head = &bytes[..bytes.len().min(2)];
    let tail = bytes.get(4..).unwrap_or_default();
    crc16_parts(&[head, tail])
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRC_EXAMPLE: &str = include_str!("../../../fixtures/ru/crc_example.container.hex");

    #[test]
    fn decodes_and_reencodes_the_crc_example() {
        let bytes = hex::decode(CRC_EXAMPLE.trim()).unwrap();
        let c = Container::decode(&bytes).unwrap();
        assert_eq!(c.header.len, 305);
        assert_eq!(c.header.crc, 0xEC03);
        assert_eq!(c.header.doc_type, 1);
        assert_eq!(c.header.fn_number.as_str(), "999907891234567 ");
        assert_eq!(c.header.fd_number, 1);
        assert_eq!(c.header.service1, [0x10, 0x09]);
        assert_eq!(c.document.len(), 4 + 259);
        assert_eq!(c.trailer, hex::decode("810673fca34b28720000").unwrap());
        assert_eq!(c.to_bytes().unwrap(), bytes);
    }

    #[test]
    fn every_error_variant() {
        let good = hex::decode(CRC_EXAMPLE.trim()).unwrap();
        assert_eq!(
            Container::decode(&good[..31]),
            Err(ContainerError::Truncated(31))
        );
        let mut b = good.clone();
        b[4] = 0x00;
        assert_eq!(Container::decode(&b), Err(ContainerError::UnknownType(0)));
        let mut b = good.clone();
        b[6] = 2;
        assert_eq!(
            Container::decode(&b),
            Err(ContainerError::UnknownHeaderVersion(2))
        );
        let mut b = good.clone();
        b[9] = 0xAB;
        assert_eq!(Container::decode(&b), Err(ContainerError::FnNotBcd));
        assert_eq!(
            Container::decode(&good[..300]),
            Err(ContainerError::LengthMismatch {
                declared: 305,
                actual: 300
            })
        );
        let mut b = good.clone();
        b[100] ^= 1;
        assert!(matches!(
            Container::decode(&b),
            Err(ContainerError::CrcMismatch { stored: 0xEC03, .. })
        ));
        let header = ContainerHeader::decode(&good).unwrap();
        let big = vec![0u8; MAX_BODY_LEN];
        assert_eq!(
            Container::encode(&header, &big, &[]),
            Err(ContainerError::Oversize(MAX_BODY_LEN + 32))
        );
        let mut oversize = vec![0u8; MAX_BODY_LEN + 1];
        oversize[..32].copy_from_slice(&good[..32]);
        assert_eq!(
            Container::decode(&oversize),
            Err(ContainerError::Oversize(MAX_BODY_LEN + 1))
        );
        let empty = Container::encode(&header, &[], &[]).unwrap();
        assert_eq!(
            Container::decode(&empty),
            Err(ContainerError::MissingDocument)
        );
        let overrun = Container::encode(&header, &[1, 0, 9, 0, 1], &[]).unwrap();
        assert_eq!(
            Container::decode(&overrun),
            Err(ContainerError::DocumentOverrun {
                len: 9,
                available: 1
            })
        );
        let mut too_big = header;
        too_big.fd_number = 1 << 24;
        assert_eq!(
            too_big.encode(),
            Err(ContainerError::FdNumberTooLarge(1 << 24))
        );
    }
}
