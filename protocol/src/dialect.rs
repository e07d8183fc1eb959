//! The two dialects that share the operator's port, and how the first bytes of a connection
//! tell them apart.
//!
//! RU frames open with the session signature `2A 08 41 0A` ([`ru::session::SIGNATURE`]), KZ
//! frames with the little-endian app code `A2 81` ([`kz::MAGIC`]). The first byte already differs,
//! but [`sniff`] confirms the whole signature before it names a dialect, so that stray bytes are
//! reported as unknown instead of being handed to a decoder that would misread them.
//!
//! This is the one `Dialect` type of the project: the server's listener, its metrics labels, the
//! store's `dialect` columns, the command-line tools and the emulator all use it.

use crate::{kz, ru};

/// A protocol family of cash registers.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Russian ККТ with a fiscal drive (ФН): session frame, container, ФФД TLV documents.
    Ru,
    /// Kazakh ККМ, protocol 2.0.3: 18-byte header and protobuf messages.
    Kz,
}

impl Dialect {
    /// Every dialect, in a fixed order.
    pub const ALL: [Dialect; 2] = [Dialect::Ru, Dialect::Kz];

    /// The lowercase name used in storage, metrics labels and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Ru => "ru",
            Dialect::Kz => "kz",
        }
    }

    /// The bytes every frame of this dialect starts with.
    pub fn signature(self) -> &'static [u8] {
        match self {
            Dialect::Ru => &ru::session::SIGNATURE,
            Dialect::Kz => &kz::MAGIC,
        }
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a dialect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dialect {0:?} (expected \"ru\" or \"kz\")")]
pub struct UnknownDialect(pub String);

impl std::str::FromStr for Dialect {
    type Err = UnknownDialect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dialect::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| UnknownDialect(s.to_owned()))
    }
}

/// What the bytes read so far say about the dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniff {
    /// Too few bytes to tell; read more.
    NeedMore,
    /// The whole signature of this dialect is present.
    Known(Dialect),
    /// The bytes match no dialect's signature.
    Unknown,
}

/// Classify a connection by its first bytes (any number of them).
pub fn sniff(prefix: &[u8]) -> Sniff {
    if prefix.is_empty() {
        return Sniff::NeedMore;
    }
    for dialect in Dialect::ALL {
        let signature = dialect.signature();
        let n = prefix.len().min(signature.len());
        if prefix[..n] == signature[..n] {
            return if n == signature.len() {
                Sniff::Known(dialect)
            } else {
                Sniff::NeedMore
            };
        }
    }
    Sniff::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_confirmed_in_full() {
        assert_eq!(sniff(&[]), Sniff::NeedMore);
        assert_eq!(sniff(&[0x2A, 0x08]), Sniff::NeedMore);
        assert_eq!(sniff(&[0x2A, 0x08, 0x41, 0x0A]), Sniff::Known(Dialect::Ru));
        assert_eq!(
            sniff(&[0x2A, 0x08, 0x41, 0x0A, 0x81, 0xA2]),
            Sniff::Known(Dialect::Ru)
        );
        assert_eq!(sniff(&[0x2A, 0x09]), Sniff::Unknown);
        assert_eq!(sniff(&[0xA2]), Sniff::NeedMore);
        assert_eq!(sniff(&[0xA2, 0x81, 0x00]), Sniff::Known(Dialect::Kz));
        assert_eq!(sniff(&[0xA2, 0x82]), Sniff::Unknown);
        assert_eq!(sniff(b"GET / HTTP/1.1"), Sniff::Unknown);
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for dialect in Dialect::ALL {
            assert_eq!(dialect.as_str().parse::<Dialect>(), Ok(dialect));
            assert_eq!(dialect.to_string(), dialect.as_str());
        }
        assert_eq!(
            "RU".parse::<Dialect>(),
            Err(UnknownDialect("RU".to_owned()))
        );
        assert_eq!(
            serde_json::to_string(&Dialect::Kz).expect("serialises"),
            "\"kz\""
        );
    }
}
