//! Dialect detection from the first bytes of a connection.
//!
//! RU frames start with `2A 08 41 0A`, KZ frames with `A2 81` (RU spec §1); the first byte alone
//! separates them, but the whole signature is confirmed before a connection is committed to a
//! dialect, so stray bytes are rejected as unknown rather than misparsed.

use ofd_protocol::ru::session::SIGNATURE as RU_SIGNATURE;

/// The first two bytes of every KZ (ККМ 2.0.3) frame header.
pub const KZ_SIGNATURE: [u8; 2] = [0xA2, 0x81];

/// What the bytes read so far say about the dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniff {
    /// Too few bytes to tell; read more.
    NeedMore,
    /// A Russian register (ККТ/ФН).
    Ru,
    /// A Kazakh register (ККМ).
    Kz,
    /// Matches no dialect.
    Unknown,
}

/// Classify a connection by its first bytes.
pub fn sniff(prefix: &[u8]) -> Sniff {
    let matches = |signature: &[u8]| {
        let n = prefix.len().min(signature.len());
        prefix[..n] == signature[..n]
    };
    let verdict = |signature: &[u8], dialect| {
        if prefix.len() >= signature.len() {
            dialect
        } else {
            Sniff::NeedMore
        }
    };
    if prefix.is_empty() {
        Sniff::NeedMore
    } else if matches(&RU_SIGNATURE) {
        verdict(&RU_SIGNATURE, Sniff::Ru)
    } else if matches(&KZ_SIGNATURE) {
        verdict(&KZ_SIGNATURE, Sniff::Kz)
    } else {
        Sniff::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_confirmed_in_full() {
        assert_eq!(sniff(&[]), Sniff::NeedMore);
        assert_eq!(sniff(&[0x2A, 0x08]), Sniff::NeedMore);
        assert_eq!(sniff(&[0x2A, 0x08, 0x41, 0x0A]), Sniff::Ru);
        assert_eq!(sniff(&[0x2A, 0x08, 0x41, 0x0A, 0x81, 0xA2]), Sniff::Ru);
        assert_eq!(sniff(&[0x2A, 0x09]), Sniff::Unknown);
        assert_eq!(sniff(&[0xA2]), Sniff::NeedMore);
        assert_eq!(sniff(&[0xA2, 0x81, 0x00]), Sniff::Kz);
        assert_eq!(sniff(&[0xA2, 0x82]), Sniff::Unknown);
        assert_eq!(sniff(b"GET / HTTP/1.1"), Sniff::Unknown);
    }
}
