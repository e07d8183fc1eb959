//! The `soft` unit: HMAC-SHA256 fiscal signs for test benches, labs and the emulator.
//!
//! **This is not the certified unit.** A real ФН signs with ГОСТ MACs (28147-89 or Р 34.12-2015)
//! under keys that never leave the ФН and the operator's certified crypto unit; a real ФН will
//! reject every ФПО this module makes, and no real document verifies here. What it gives a lab is
//! the same *behaviour*: per-ФН keys, a ФПД bound to the document, a ФПС bound to the container,
//! a ФПО bound to the confirmation, so a flipped byte anywhere is caught and quarantined.
//!
//! Exact definition (all MACs are HMAC-SHA256, truncated to the leftmost bytes):
//!
//! - **ФН key**: `K = HMAC(master_secret, FN)`, where `FN` is the ФН number as ASCII with trailing
//!   spaces removed (`"999907891234567 "` and `"999907891234567"` share a key).
//! - **ФПД** (tag 1077, 6 bytes): `HMAC(K, 0x01 ‖ D₀)[0..6]`, where `D₀` is the whole document
//!   STLV (form-code tag, length, nested TLVs) with the value bytes of every top-level tag 1077
//!   set to zero. Lengths and every other byte stay as sent.
//! - **ФПС** (first 8 bytes of the container trailer):
//!   `HMAC(K, 0x02 ‖ C[0..2] ‖ C[4..32] ‖ D)[0..8]`, where `C` is the 32-byte container header and
//!   `D` the document STLV as sent (ФПД filled in). The CRC field `C[2..4]` is left out because
//!   the CRC covers the trailer, which holds the ФПС.
//! - **ФПО** (tag 1078, `fpo_len` ≤ 32 bytes):
//!   `HMAC(K, 0x03 ‖ FD as u32 big-endian ‖ A)[0..fpo_len]`, where `A` is the confirmation
//!   (document 7) STLV built without tag 1078.
//!
//! The leading byte separates the three uses so that no input can serve as another's.
//!
//! Signing order for a register or the emulator: build the document with a 6-byte zero 1077,
//! [`SoftUnit::sign_document`] fills it in; build the 32-byte header (length already counting
//! the trailer), [`SoftUnit::message_sign`] gives the ФПС; append the trailer; compute the CRC.

use std::ops::Range;

use hmac::{Hmac, Mac};
use ofd_protocol::ru::tlv::Tlv;
use sha2::Sha256;

use super::{CryptoError, InboundDocument, InvalidSign, Verdict};

type HmacSha256 = Hmac<Sha256>;

/// Tag of the ФПД in a document.
const TAG_FPD: u16 = 1077;
/// Size of the ФПД value.
const FPD_LEN: usize = 6;
/// Size of the ФПС at the start of the trailer.
pub const FPS_LEN: usize = 8;
/// Size of the container header.
const HEADER_LEN: usize = 32;
/// Shortest master secret accepted: 128 bits.
const MIN_SECRET_LEN: usize = 16;

/// Domain-separation bytes, one per sign.
const DOMAIN_FPD: u8 = 0x01;
const DOMAIN_FPS: u8 = 0x02;
const DOMAIN_FPO: u8 = 0x03;

/// The software unit; holds the master secret, derives per-ФН keys on demand.
#[derive(Clone)]
pub struct SoftUnit {
    /// HMAC already keyed with the master secret; cloned for each key derivation.
    master: HmacSha256,
    fpo_len: usize,
}

impl std::fmt::Debug for SoftUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftUnit")
            .field("master", &"<redacted>")
            .field("fpo_len", &self.fpo_len)
            .finish()
    }
}

/// The document cannot be signed by [`SoftUnit::sign_document`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SoftSignError {
    /// No top-level tag 1077 with a 6-byte value to fill in.
    #[error("document has no top-level tag 1077 with a 6-byte value to fill in")]
    NoFpdSlot,
}

impl SoftUnit {
    /// A unit with this master secret (at least 16 bytes) producing `fpo_len`-byte ФПО (≤ 32).
    pub fn new(master_secret: Vec<u8>, fpo_len: usize) -> Result<Self, CryptoError> {
        if master_secret.len() < MIN_SECRET_LEN {
            return Err(CryptoError::Config(format!(
                "soft master secret must be at least {MIN_SECRET_LEN} bytes"
            )));
        }
        if fpo_len == 0 || fpo_len > 32 {
            return Err(CryptoError::Config(format!(
                "soft unit ФПО length must be 1..=32 bytes, got {fpo_len}"
            )));
        }
        let master = HmacSha256::new_from_slice(&master_secret)
            .map_err(|_| CryptoError::Config("soft master secret rejected by HMAC".into()))?;
        Ok(SoftUnit { master, fpo_len })
    }

    /// Check the ФПД and ФПС as defined in the module header.
    pub fn verify(&self, inbound: &InboundDocument<'_>) -> Verdict {
        let Some(header) = inbound.container.get(..HEADER_LEN) else {
            return Verdict::Invalid(InvalidSign::ContainerTooShort);
        };
        let Some(fpd) = inbound.fpd else {
            return Verdict::Invalid(InvalidSign::FpdMissing);
        };
        let key = self.fn_key(inbound.fn_number);
        if self
            .fpd_mac(&key, inbound.document)
            .verify_truncated_left(&fpd)
            .is_err()
        {
            return Verdict::Invalid(InvalidSign::FpdMismatch);
        }
        let Some(fps) = inbound.fps.get(..FPS_LEN) else {
            return Verdict::Invalid(InvalidSign::FpsMissing);
        };
        if fps_mac(&key, header, inbound.document)
            .verify_truncated_left(fps)
            .is_err()
        {
            return Verdict::Invalid(InvalidSign::FpsMismatch);
        }
        Verdict::Verified
    }

    /// The ФПО for a confirmation (document 7 STLV without tag 1078).
    pub fn operator_sign(&self, fn_number: &str, fd_number: u32, confirmation: &[u8]) -> Vec<u8> {
        let mut mac = keyed(&self.fn_key(fn_number));
        mac.update(&[DOMAIN_FPO]);
        mac.update(&fd_number.to_be_bytes());
        mac.update(confirmation);
        let mut fpo = mac.finalize().into_bytes().to_vec();
        fpo.truncate(self.fpo_len);
        fpo
    }

    /// Register side: compute the ФПД of `document` and write it into its top-level tag 1077
    /// (which must already hold 6 bytes, e.g. zeros). Returns the ФПД written.
    pub fn sign_document(
        &self,
        fn_number: &str,
        document: &mut [u8],
    ) -> Result<[u8; FPD_LEN], SoftSignError> {
        let slots = fpd_value_ranges(document);
        let slot = slots
            .iter()
            .find(|range| range.len() == FPD_LEN)
            .cloned()
            .ok_or(SoftSignError::NoFpdSlot)?;
        let key = self.fn_key(fn_number);
        let digest = self.fpd_mac(&key, document).finalize().into_bytes();
        let mut fpd = [0u8; FPD_LEN];
        fpd.copy_from_slice(&digest[..FPD_LEN]);
        for range in slots {
            document[range].fill(0);
        }
        document[slot].copy_from_slice(&fpd);
        Ok(fpd)
    }

    /// Register side: the 8-byte ФПС for a container `header` (32 bytes; the CRC field is
    /// ignored) and the signed `document`. Returns `None` if `header` is not 32 bytes.
    pub fn message_sign(
        &self,
        fn_number: &str,
        header: &[u8],
        document: &[u8],
    ) -> Option<[u8; FPS_LEN]> {
        if header.len() != HEADER_LEN {
            return None;
        }
        let key = self.fn_key(fn_number);
        let digest = fps_mac(&key, header, document).finalize().into_bytes();
        let mut fps = [0u8; FPS_LEN];
        fps.copy_from_slice(&digest[..FPS_LEN]);
        Some(fps)
    }

    /// `K = HMAC(master, FN without trailing spaces)`.
    fn fn_key(&self, fn_number: &str) -> [u8; 32] {
        let mut mac = self.master.clone();
        mac.update(fn_number.trim_end_matches(' ').as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// MAC state over `0x01 ‖ document with every top-level 1077 value zeroed`.
    fn fpd_mac(&self, key: &[u8; 32], document: &[u8]) -> HmacSha256 {
        let mut mac = keyed(key);
        mac.update(&[DOMAIN_FPD]);
        let mut at = 0;
        for range in fpd_value_ranges(document) {
            mac.update(&document[at..range.start]);
            let zeros = [0u8; 64];
            let mut left = range.len();
            while left > 0 {
                let n = left.min(zeros.len());
                mac.update(&zeros[..n]);
                left -= n;
            }
            at = range.end;
        }
        mac.update(&document[at..]);
        mac
    }
}

/// MAC state over `0x02 ‖ header without its CRC field ‖ document`.
fn fps_mac(key: &[u8; 32], header: &[u8], document: &[u8]) -> HmacSha256 {
    let mut mac = keyed(key);
    mac.update(&[DOMAIN_FPS]);
    mac.update(&header[..2]);
    mac.update(&header[4..]);
    mac.update(document);
    mac
}

/// HMAC keyed with a 32-byte ФН key. HMAC pads keys shorter than the 64-byte SHA-256 block with
/// zeros, so the padded block *is* the key; building it directly avoids a fallible constructor.
fn keyed(key: &[u8; 32]) -> HmacSha256 {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    <HmacSha256 as hmac::digest::KeyInit>::new(&block.into())
}

/// Byte ranges (within `document`) of the values of every top-level tag 1077. Stops quietly at
/// the first malformed item: the ingest checks reject malformed TLV before the crypto unit runs,
/// and a MAC over bytes that were not zeroed simply fails to match.
fn fpd_value_ranges(document: &[u8]) -> Vec<Range<usize>> {
    let Ok(stlv) = Tlv::read_exact(document) else {
        return Vec::new();
    };
    stlv.children()
        .map_while(Result::ok)
        .filter(|item| item.tag == TAG_FPD)
        .map(|item| {
            // The reader borrows from `document`, so the value's address gives its offset.
            let start = item.value.as_ptr() as usize - document.as_ptr() as usize;
            start..start + item.value.len()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document-3 STLV: 1040 = 7, 1077 = zeros, 1020 = 100 kopecks.
    fn sample_document() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&[0x10, 0x04, 0x04, 0x00, 7, 0, 0, 0]);
        body.extend_from_slice(&[0x35, 0x04, 0x06, 0x00, 0, 0, 0, 0, 0, 0]);
        body.extend_from_slice(&[0xfc, 0x03, 0x01, 0x00, 100]);
        let mut document = vec![3, 0];
        document.extend_from_slice(&(body.len() as u16).to_le_bytes());
        document.extend_from_slice(&body);
        document
    }

    #[test]
    fn finds_the_fpd_slot_at_top_level_only() {
        let document = sample_document();
        assert_eq!(fpd_value_ranges(&document), vec![16..22]);
        assert!(fpd_value_ranges(&document[..3]).is_empty());
    }

    #[test]
    fn signing_fills_the_slot_and_depends_on_the_fn() {
        let unit = SoftUnit::new(vec![7; 32], 16).expect("valid unit");
        let mut a = sample_document();
        let mut b = sample_document();
        let fpd_a = unit
            .sign_document("9999078900005488", &mut a)
            .expect("slot");
        let fpd_b = unit
            .sign_document("9999078900005489", &mut b)
            .expect("slot");
        assert_eq!(&a[16..22], &fpd_a);
        assert_ne!(fpd_a, fpd_b);
        // Re-signing a signed document gives the same ФПД: the slot is zeroed for the MAC.
        let again = unit
            .sign_document("9999078900005488", &mut a)
            .expect("slot");
        assert_eq!(again, fpd_a);
    }

    #[test]
    fn trailing_spaces_in_the_fn_number_do_not_change_the_key() {
        let unit = SoftUnit::new(vec![7; 32], 16).expect("valid unit");
        assert_eq!(
            unit.fn_key("999907891234567 "),
            unit.fn_key("999907891234567")
        );
    }

    #[test]
    fn rejects_short_secrets_and_bad_fpo_lengths() {
        assert!(SoftUnit::new(vec![1; 15], 16).is_err());
        assert!(SoftUnit::new(vec![1; 16], 0).is_err());
        assert!(SoftUnit::new(vec![1; 16], 33).is_err());
        assert_eq!(
            SoftUnit::new(vec![1; 16], 18)
                .expect("valid")
                .operator_sign("1", 1, b"x")
                .len(),
            18
        );
    }
}
