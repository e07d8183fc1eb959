//! Fiscal signs on emulated documents: the ФПД (tag 1077) and the ФПС (container trailer).
//!
//! With the soft crypto unit's master secret the emulator signs exactly as the unit verifies, so
//! a server running that unit checks real signs end to end. Without it the signs are random
//! filler of the right size (the ФПС keeps the `81 06` prefix every real dump shows): enough for
//! a server whose crypto unit is off, and recognisably not a real sign.

use std::sync::Arc;

use anyhow::Context;
use rand::Rng;

use crate::crypto::soft::SoftUnit;

/// Size of the ФПД value.
pub const FPD_LEN: usize = 6;
/// Size of the ФПС at the start of the trailer.
pub const FPS_LEN: usize = 8;

/// Who signs the emulated documents.
#[derive(Clone)]
pub enum Signer {
    /// Random filler signs.
    Filler,
    /// Signs of the soft crypto unit with the given master secret.
    Soft(Arc<SoftUnit>),
}

impl Signer {
    /// The bytes to put into the ФПД slot while the document is built.
    pub fn fpd_placeholder(&self, rng: &mut impl Rng) -> [u8; FPD_LEN] {
        match self {
            Signer::Filler => rng.gen(),
            // The unit fills the slot; it must hold six bytes, whatever they are.
            Signer::Soft(_) => [0; FPD_LEN],
        }
    }

    /// Sign the built document in place (its ФПД slot).
    pub fn sign_document(&self, fn_number: &str, document: &mut [u8]) -> anyhow::Result<()> {
        match self {
            Signer::Filler => Ok(()),
            Signer::Soft(unit) => {
                unit.sign_document(fn_number, document)
                    .context("signing the ФПД")?;
                Ok(())
            }
        }
    }

    /// The ФПС for the container `header` (32 bytes, as sent) and the signed `document`.
    pub fn message_sign(
        &self,
        fn_number: &str,
        header: &[u8],
        document: &[u8],
        rng: &mut impl Rng,
    ) -> anyhow::Result<[u8; FPS_LEN]> {
        match self {
            Signer::Filler => {
                let mut fps: [u8; FPS_LEN] = rng.gen();
                fps[..2].copy_from_slice(&[0x81, 0x06]);
                Ok(fps)
            }
            Signer::Soft(unit) => unit
                .message_sign(fn_number, header, document)
                .context("the container header for the ФПС is not 32 bytes"),
        }
    }
}
