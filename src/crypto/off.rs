//! The `off` unit: no verification at all.
//!
//! Every document gets [`Verdict::Unverified`] and every ФПО is zeros of the configured length.
//! A real ФН rejects such a confirmation; ФН emulators and test builds accept it. The server
//! logs this once at start-up (see [`super::Crypto::from_config`]) and stores the verdict with
//! each document, so nothing accepted this way can pass for verified.

use super::{InboundDocument, Verdict};

/// The pass-through unit.
#[derive(Debug, Clone)]
pub struct OffUnit {
    fpo_len: usize,
}

impl OffUnit {
    /// A unit whose ФПО is `fpo_len` zero bytes.
    pub fn new(fpo_len: usize) -> Self {
        OffUnit { fpo_len }
    }

    /// Always [`Verdict::Unverified`].
    pub fn verify(&self, _document: &InboundDocument<'_>) -> Verdict {
        Verdict::Unverified
    }

    /// Zeros of the configured length.
    pub fn operator_sign(&self) -> Vec<u8> {
        vec![0; self.fpo_len]
    }
}
