//! The crypto unit: checks the fiscal signs a fiscal drive (ФН) put on a document and produces
//! the operator's sign (ФПО, tag 1078) for the acknowledgement.
//!
//! Why an interface: the real algorithms are ГОСТ MACs whose keys live only in the ФН and in the
//! operator's certified crypto unit (spec §8). The server cannot do that work itself, so it asks
//! a unit, and the unit is chosen by configuration:
//!
//! - [`off`]: checks nothing and answers [`Verdict::Unverified`]; ФПО is zeros. The default, and
//!   loudly logged as such, because only ФН emulators and test builds accept it.
//! - [`soft`]: an HMAC-SHA256 stand-in for test benches and labs, with the signing side for the
//!   emulator. Not the certified unit.
//! - [`external`]: a certified unit (an HSM) behind a small HTTP JSON protocol.
//!
//! Invariants the callers rely on:
//!
//! - `Ok(Verdict::Invalid(_))` means the unit looked and the signs are wrong: answer 1022 = 11 and
//!   quarantine the document.
//! - `Err(CryptoError)` means the unit could not answer (down, timed out, garbled reply). That is a
//!   transient server fault: send no confirmation and let the register resend (spec §11 #10:
//!   never answer 11 or 14 for our own faults).
//!
//! The units are an enum rather than a trait object: there are exactly three, the async methods
//! stay plain `async fn`, and the ingest path holds one [`Crypto`] per server (cheap to clone).

pub mod config;
pub mod external;
pub mod off;
pub mod soft;

pub use config::{CryptoConfig, CryptoMode, CryptoOptions};

use self::external::ExternalUnit;
use self::off::OffUnit;
use self::soft::SoftUnit;

/// One inbound document as the crypto unit sees it: raw bytes, already framed and cross-checked.
#[derive(Debug, Clone, Copy)]
pub struct InboundDocument<'a> {
    /// ФН number as sent (16 ASCII characters, possibly space-padded).
    pub fn_number: &'a str,
    /// ФД number (container header, equal to tag 1040).
    pub fd_number: u32,
    /// The whole container: 32-byte header, document STLV, trailer.
    pub container: &'a [u8],
    /// The document STLV (form-code tag, length, nested TLVs) inside `container`.
    pub document: &'a [u8],
    /// The ФПД, tag 1077 of the document, when present with its 6 bytes.
    pub fpd: Option<[u8; 6]>,
    /// The container trailer after the document; its first 8 bytes are the ФПС.
    pub fps: &'a [u8],
}

/// What the unit concluded about a document's fiscal signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The ФПД and ФПС both check out.
    Verified,
    /// Nothing was checked (unit off, or the unit cannot check this kind of document).
    Unverified,
    /// The unit checked and the signs are wrong: answer 11 and quarantine.
    Invalid(InvalidSign),
}

impl Verdict {
    /// Stable label for the `sign_verdict` column and metric labels.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Verified => "verified",
            Verdict::Unverified => "unverified",
            Verdict::Invalid(_) => "invalid",
        }
    }
}

/// Why a document's signs were judged invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidSign {
    /// The document carries no 6-byte tag 1077 (ФПД).
    #[error("document has no ФПД (tag 1077)")]
    FpdMissing,
    /// The ФПД does not match the document.
    #[error("ФПД (tag 1077) does not match the document")]
    FpdMismatch,
    /// The trailer is shorter than the 8-byte ФПС.
    #[error("container trailer is shorter than the 8-byte ФПС")]
    FpsMissing,
    /// The ФПС does not match the container header and document.
    #[error("ФПС does not match the container")]
    FpsMismatch,
    /// The container is shorter than its 32-byte header.
    #[error("container is shorter than its 32-byte header")]
    ContainerTooShort,
    /// An external unit refused the signs, with its own reason.
    #[error("crypto unit refused the signs: {0}")]
    Refused(String),
}

impl InvalidSign {
    /// Stable label for the quarantine reason and metric labels.
    pub fn label(&self) -> &'static str {
        match self {
            InvalidSign::FpdMissing => "fpd_missing",
            InvalidSign::FpdMismatch => "fpd_mismatch",
            InvalidSign::FpsMissing => "fps_missing",
            InvalidSign::FpsMismatch => "fps_mismatch",
            InvalidSign::ContainerTooShort => "container_too_short",
            InvalidSign::Refused(_) => "refused",
        }
    }
}

/// The unit could not do its job: a transient fault (no ack; the register resends) or bad set-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The configuration cannot build a unit (missing secret, bad URL, bad length …).
    #[error("crypto unit configuration: {0}")]
    Config(String),
    /// The external unit could not be reached or did not answer in time.
    #[error("crypto unit unavailable: {0}")]
    Unavailable(String),
    /// The external unit answered with an error status or a reply that does not parse.
    #[error("crypto unit gave a bad reply: {0}")]
    BadReply(String),
}

/// The configured crypto unit; the ingest server holds one and clones it freely.
#[derive(Debug, Clone)]
pub enum Crypto {
    /// No verification; ФПО zeros.
    Off(OffUnit),
    /// HMAC-SHA256 software unit for labs and tests.
    Soft(SoftUnit),
    /// A certified unit over HTTP.
    External(ExternalUnit),
}

impl Crypto {
    /// Build the unit the configuration selects. Logs a warning when verification is off.
    pub fn from_config(config: &CryptoConfig) -> Result<Self, CryptoError> {
        let unit = match config.mode {
            CryptoMode::Off => Crypto::Off(OffUnit::new(config.fpo_len)),
            CryptoMode::Soft => Crypto::Soft(SoftUnit::new(config.soft_secret()?, config.fpo_len)?),
            CryptoMode::External => Crypto::External(ExternalUnit::new(config)?),
        };
        match &unit {
            Crypto::Off(_) => tracing::warn!(
                crypto = "off",
                "crypto unit is off: fiscal signs are UNVERIFIED and ФПО is zeros; \
                 only ФН emulators and test builds accept such acknowledgements"
            ),
            Crypto::Soft(_) => tracing::warn!(
                crypto = "soft",
                "software crypto unit (HMAC-SHA256): for test benches and labs only, \
                 not the certified ГОСТ unit"
            ),
            Crypto::External(unit) => {
                tracing::info!(crypto = "external", url = %crate::url_redact::redacted(unit.base_url()), "external crypto unit")
            }
        }
        Ok(unit)
    }

    /// Which kind of unit this is.
    pub fn mode(&self) -> CryptoMode {
        match self {
            Crypto::Off(_) => CryptoMode::Off,
            Crypto::Soft(_) => CryptoMode::Soft,
            Crypto::External(_) => CryptoMode::External,
        }
    }

    /// Check the ФПД and ФПС of one document. `Err` is transient: do not acknowledge.
    pub async fn verify(&self, document: &InboundDocument<'_>) -> Result<Verdict, CryptoError> {
        match self {
            Crypto::Off(unit) => Ok(unit.verify(document)),
            Crypto::Soft(unit) => Ok(unit.verify(document)),
            Crypto::External(unit) => unit.verify(document).await,
        }
    }

    /// Produce the ФПО (tag 1078) for a confirmation. `confirmation` is the document-7 STLV as
    /// built **without** tag 1078; the caller then appends 1078 with the returned bytes.
    pub async fn operator_sign(
        &self,
        fn_number: &str,
        fd_number: u32,
        confirmation: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        match self {
            Crypto::Off(unit) => Ok(unit.operator_sign()),
            Crypto::Soft(unit) => Ok(unit.operator_sign(fn_number, fd_number, confirmation)),
            Crypto::External(unit) => unit.operator_sign(fn_number, fd_number, confirmation).await,
        }
    }
}
