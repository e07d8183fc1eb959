//! The 30-byte session header that the register (ККТ) puts in front of every container.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//!  0..4 signature 2A 08 41 0A | 4..6 S-version | 6..8 A-version | 8..24 ФН number (ASCII)
//!  24..26 body length | 26..28 flags | 28..30 CRC (0 unless the flags ask for one)
//! ```
//!
//! Invariants kept here: the signature is exact, the S-version and A-version are known ones, the
//! ФН number is digits padded with spaces, the flags use no forbidden combination, and the body
//! length never exceeds [`MAX_BODY_LEN`], so a caller may size a buffer from it. The A-version
//! does not tell the ФФД version reliably (real ФФД 1.05 dumps carry `00 01`); use tag 1209.

use super::crc::crc16_parts;
use super::fn_number::{FnNumber, FN_NUMBER_LEN};

/// Length of the session header.
pub const SESSION_HEADER_LEN: usize = 30;
/// The four bytes every RU frame starts with.
pub const SIGNATURE: [u8; 4] = [0x2A, 0x08, 0x41, 0x0A];
/// Largest body (container) accepted: the container maximum of the spec, 32 KiB.
pub const MAX_BODY_LEN: usize = 32 * 1024;

/// Why a session header was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// Fewer bytes than a session header.
    #[error("session header truncated: {0} of 30 bytes")]
    Truncated(usize),
    /// The first bytes are not `2A 08 41 0A`.
    #[error("bad session signature")]
    BadSignature,
    /// The S-protocol version is not `81 A2` or `82 FB`.
    #[error("unknown session S-version {0:02X?}")]
    UnknownSVersion([u8; 2]),
    /// The A-protocol version is not a known ФФД code.
    #[error("unknown session A-version {0:02X?}")]
    UnknownAVersion([u8; 2]),
    /// The ФН number is not 16 digits padded with spaces.
    #[error("session ФН number is not digits padded with spaces")]
    BadFnNumber,
    /// The body length is above the 32 KiB container maximum.
    #[error("session body length {0} exceeds the 32768-byte maximum")]
    Oversize(usize),
    /// The flags use the forbidden CRC mode `11`.
    #[error("session flags {0:#06x} use the forbidden CRC mode 11")]
    ForbiddenCrcMode(u16),
    /// The flags use a forbidden reply mode (`10` or `11`).
    #[error("session flags {0:#06x} use a forbidden reply mode")]
    ForbiddenReplyMode(u16),
}

/// S-protocol version (session layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SVersion(pub [u8; 2]);

impl SVersion {
    /// `81 A2`: normal traffic, the only value seen from real registers.
    pub const NORMAL: SVersion = SVersion([0x81, 0xA2]);
    /// `82 FB`: test messages (one source).
    pub const TEST: SVersion = SVersion([0x82, 0xFB]);
}

/// A-protocol version (application layer), as sent. Echo it in replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AVersion(pub [u8; 2]);

impl AVersion {
    /// `00 01`: ФФД 1.0 (also what real ФФД 1.05 registers send).
    pub const V1_0: AVersion = AVersion([0x00, 0x01]);
    /// `01 05`: ФФД 1.05.
    pub const V1_05: AVersion = AVersion([0x01, 0x05]);
    /// `01 10`: ФФД 1.1.
    pub const V1_1: AVersion = AVersion([0x01, 0x10]);
    /// `01 20`: ФФД 1.2 (one source; yandex/ofd predates it).
    pub const V1_2: AVersion = AVersion([0x01, 0x20]);

    /// Whether this is one of the codes the spec lists.
    pub fn is_known(self) -> bool {
        matches!(
            self.0,
            [0x00, 0x01] | [0x00, 0x02] | [0x01, 0x00] | [0x01, 0x05] | [0x01, 0x10] | [0x01, 0x20]
        )
    }
}

/// Where the optional session CRC is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrcMode {
    /// No CRC; the CRC field is 0.
    None,
    /// CRC over header bytes 0..28.
    Header,
    /// CRC over header bytes 0..28 followed by the body.
    HeaderAndBody,
}

/// The session flags word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flags(pub u16);

impl Flags {
    /// The usual value: a container, a reply expected, no CRC.
    pub const CONTAINER_EXPECTS_REPLY: Flags = Flags(0x0014);

    /// Bits 1–0; `None` for the forbidden `11`.
    pub fn crc_mode(self) -> Option<CrcMode> {
        match self.0 & 0b11 {
            0b00 => Some(CrcMode::None),
            0b01 => Some(CrcMode::Header),
            0b10 => Some(CrcMode::HeaderAndBody),
            _ => None,
        }
    }

    /// Bit 2: the body holds a container.
    pub fn has_container(self) -> bool {
        self.0 & 0b100 != 0
    }

    /// Bits 5–4 = `01`: the sender waits for a reply.
    pub fn expects_reply(self) -> bool {
        (self.0 >> 4) & 0b11 == 0b01
    }

    /// Bits 7–6: priority, 0 = normal.
    pub fn priority(self) -> u8 {
        ((self.0 >> 6) & 0b11) as u8
    }
}

/// A decoded session header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionHeader {
    /// S-protocol version.
    pub s_version: SVersion,
    /// A-protocol version (not the ФФД version; see the module notes).
    pub a_version: AVersion,
    /// ФН number from the ASCII field.
    pub fn_number: FnNumber,
    /// Length of the body that follows (the container).
    pub body_len: u16,
    /// Flags word.
    pub flags: Flags,
    /// CRC field as sent (0 when the flags say none).
    pub crc: u16,
}

impl SessionHeader {
    /// Decode the first 30 bytes of `bytes`; anything after them is ignored.
    pub fn decode(bytes: &[u8]) -> Result<Self, SessionError> {
        let Some(header) = bytes.first_chunk::<SESSION_HEADER_LEN>() else {
            check_signature_prefix(bytes)?;
            return Err(SessionError::Truncated(bytes.len()));
        };
        check_signature_prefix(header)?;
        let s_version = SVersion([header[4], header[5]]);
        if s_version != SVersion::NORMAL && s_version != SVersion::TEST {
            return Err(SessionError::UnknownSVersion(s_version.0));
        }
        let a_version = AVersion([header[6], header[7]]);
        if !a_version.is_known() {
            return Err(SessionError::UnknownAVersion(a_version.0));
        }
        let mut fn_ascii = [0u8; FN_NUMBER_LEN];
        fn_ascii.copy_from_slice(&header[8..24]);
        let fn_number = FnNumber::from_ascii(fn_ascii).map_err(|_| SessionError::BadFnNumber)?;
        let body_len = u16::from_le_bytes([header[24], header[25]]);
        if usize::from(body_len) > MAX_BODY_LEN {
            return Err(SessionError::Oversize(body_len.into()));
        }
        let flags = Flags(u16::from_le_bytes([header[26], header[27]]));
        if flags.crc_mode().is_none() {
            return Err(SessionError::ForbiddenCrcMode(flags.0));
        }
        if (flags.0 >> 4) & 0b10 != 0 {
            return Err(SessionError::ForbiddenReplyMode(flags.0));
        }
        let crc = u16::from_le_bytes([header[28], header[29]]);
        Ok(Self {
            s_version,
            a_version,
            fn_number,
            body_len,
            flags,
            crc,
        })
    }

    /// The 30 wire bytes, CRC field as stored in `self.crc`.
    pub fn encode(&self) -> [u8; SESSION_HEADER_LEN] {
        let mut out = [0u8; SESSION_HEADER_LEN];
        out[..4].copy_from_slice(&SIGNATURE);
        out[4..6].copy_from_slice(&self.s_version.0);
        out[6..8].copy_from_slice(&self.a_version.0);
        out[8..24].copy_from_slice(self.fn_number.as_bytes());
        out[24..26].copy_from_slice(&self.body_len.to_le_bytes());
        out[26..28].copy_from_slice(&self.flags.0.to_le_bytes());
        out[28..30].copy_from_slice(&self.crc.to_le_bytes());
        out
    }

    /// The CRC the flags ask for over this header and `body`; 0 when the flags ask for none.
    ///
    /// That the session CRC is CRC-16/CCITT-FALSE is inferred (no test vector exists).
    pub fn compute_crc(&self, body: &[u8]) -> u16 {
        let bytes = self.encode();
        match self.flags.crc_mode() {
            Some(CrcMode::Header) => crc16_parts(&[&bytes[..28]]),
            Some(CrcMode::HeaderAndBody) => crc16_parts(&[&bytes[..28], body]),
            Some(CrcMode::None) | None => 0,
        }
    }

    /// Whether the stored CRC matches (always true when the flags ask for none).
    ///
    /// A mismatch is to be counted, not to drop the frame: the algorithm is not confirmed.
    pub fn crc_matches(&self, body: &[u8]) -> bool {
        self.flags.crc_mode() == Some(CrcMode::None) || self.compute_crc(body) == self.crc
    }

    /// Total frame length this header announces (header plus body).
    pub fn frame_len(&self) -> usize {
        SESSION_HEADER_LEN + usize::from(self.body_len)
    }
}

/// A whole frame around `container`: the session header that announces it (normal session
/// version, "container, reply expected", no CRC) followed by the container bytes. The
/// operator's acknowledgement and a register's document are both framed this way.
pub fn frame_around(
    a_version: AVersion,
    fn_number: FnNumber,
    container: &[u8],
) -> Result<Vec<u8>, SessionError> {
    let body_len = u16::try_from(container.len())
        .ok()
        .filter(|len| usize::from(*len) <= MAX_BODY_LEN)
        .ok_or(SessionError::Oversize(container.len()))?;
    let session = SessionHeader {
        s_version: SVersion::NORMAL,
        a_version,
        fn_number,
        body_len,
        flags: Flags::CONTAINER_EXPECTS_REPLY,
        crc: 0,
    };
    let mut frame = Vec::with_capacity(session.frame_len());
    frame.extend_from_slice(&session.encode());
    frame.extend_from_slice(container);
    Ok(frame)
}

/// Reject as soon as the bytes available contradict the signature.
fn check_signature_prefix(bytes: &[u8]) -> Result<(), SessionError> {
    let n = bytes.len().min(SIGNATURE.len());
    if bytes[..n] == SIGNATURE[..n] {
        Ok(())
    } else {
        Err(SessionError::BadSignature)
    }
}

/// How many bytes the frame starting with `prefix` needs in total, once the header is in.
///
/// `Ok(None)`: not enough bytes yet to tell (fewer than 30), and nothing wrong so far. Meant for
/// a streaming decoder, which must not allocate for a frame before this says how long it is; an
/// oversize or malformed header is rejected here, before any body byte is read.
pub fn frame_len(prefix: &[u8]) -> Result<Option<usize>, SessionError> {
    if prefix.len() < SESSION_HEADER_LEN {
        check_signature_prefix(prefix)?;
        return Ok(None);
    }
    SessionHeader::decode(prefix).map(|h| Some(h.frame_len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_around_announces_its_container_and_refuses_oversize() {
        let fn_number = FnNumber::from_ascii(*b"9999078950      ").unwrap();
        let frame = frame_around(AVersion::V1_05, fn_number, &[7u8; 40]).unwrap();
        assert_eq!(frame.len(), SESSION_HEADER_LEN + 40);
        let header = SessionHeader::decode(&frame).unwrap();
        assert_eq!(header.body_len, 40);
        assert_eq!(header.fn_number, fn_number);
        assert!(header.flags.expects_reply() && header.flags.has_container());
        assert_eq!(frame_len(&frame), Ok(Some(frame.len())));
        assert_eq!(
            frame_around(AVersion::V1_05, fn_number, &vec![0; MAX_BODY_LEN + 1]),
            Err(SessionError::Oversize(MAX_BODY_LEN + 1))
        );
    }

    fn example() -> Vec<u8> {
        hex::decode("2a08410a81a2000139393939303738393530202020202020310114000000").unwrap()
    }

    #[test]
    fn decodes_and_encodes_the_example() {
        let bytes = example();
        let h = SessionHeader::decode(&bytes).unwrap();
        assert_eq!(h.s_version, SVersion::NORMAL);
        assert_eq!(h.a_version, AVersion::V1_0);
        assert_eq!(h.fn_number.as_str(), "9999078950      ");
        assert_eq!(h.body_len, 305);
        assert_eq!(h.flags, Flags(0x0014));
        assert!(h.flags.has_container() && h.flags.expects_reply());
        assert_eq!(h.flags.crc_mode(), Some(CrcMode::None));
        assert!(h.crc_matches(&[]));
        assert_eq!(h.encode().as_slice(), bytes.as_slice());
        assert_eq!(frame_len(&bytes), Ok(Some(335)));
        assert_eq!(frame_len(&bytes[..7]), Ok(None));
    }

    #[test]
    fn every_error_variant() {
        let good = example();
        let with = |i: usize, v: u8| {
            let mut b = good.clone();
            b[i] = v;
            SessionHeader::decode(&b)
        };
        assert_eq!(
            SessionHeader::decode(&good[..29]),
            Err(SessionError::Truncated(29))
        );
        assert_eq!(with(0, 0xA2), Err(SessionError::BadSignature));
        assert_eq!(frame_len(&[0x2A, 0x09]), Err(SessionError::BadSignature));
        assert_eq!(
            with(4, 0x80),
            Err(SessionError::UnknownSVersion([0x80, 0xA2]))
        );
        assert_eq!(
            with(7, 0x07),
            Err(SessionError::UnknownAVersion([0x00, 0x07]))
        );
        assert_eq!(with(8, b'x'), Err(SessionError::BadFnNumber));
        assert_eq!(with(25, 0x81), Err(SessionError::Oversize(0x8131)));
        assert_eq!(with(26, 0x17), Err(SessionError::ForbiddenCrcMode(0x17)));
        assert_eq!(with(26, 0x24), Err(SessionError::ForbiddenReplyMode(0x24)));
        // The 1.2 A-version is accepted.
        let mut v12 = good.clone();
        v12[6..8].copy_from_slice(&[0x01, 0x20]);
        assert_eq!(
            SessionHeader::decode(&v12).unwrap().a_version,
            AVersion::V1_2
        );
    }

    #[test]
    fn session_crc_modes() {
        let mut h = SessionHeader::decode(&example()).unwrap();
        h.flags = Flags(0x0016);
        h.crc = h.compute_crc(b"body");
        assert_ne!(h.crc, 0);
        assert!(h.crc_matches(b"body"));
        assert!(!h.crc_matches(b"bodY"));
        h.flags = Flags(0x0015);
        h.crc = h.compute_crc(b"ignored");
        assert!(h.crc_matches(b"other body"));
    }
}
