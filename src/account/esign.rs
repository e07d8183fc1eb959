//! Login by electronic signature (ЭЦП / КЭП, the seeds' "Вход по ЭЦП"): the service hands out
//! a challenge, the user's signing tool signs it, and an [`EsignVerifier`] checks the signature
//! and the certificate chain and says whose certificate it is. Which verifier applies is a
//! deployment choice (a certified crypto provider in RU, НУЦ РК in KZ); the default,
//! [`NotConfigured`], refuses every attempt, and sign-up and login by password never need one.

use std::fmt::Debug;

/// The person or organisation a verified certificate names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerIdentity {
    /// Taxpayer number in the certificate (ИНН, БИН/ИИН).
    pub tax_id: String,
    /// Name in the certificate.
    pub name: String,
}

/// Why a signed challenge was not accepted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EsignError {
    /// This service has no verifier.
    #[error("login by electronic signature is not configured on this service")]
    NotConfigured,
    /// The signature, the certificate or its chain did not verify.
    #[error("the signature did not verify: {0}")]
    Invalid(String),
}

/// Checks a signed login challenge.
pub trait EsignVerifier: Send + Sync + Debug {
    /// Verify `signature` (the signing tool's container, e.g. CMS) over `challenge`; the identity
    /// the certificate names.
    fn verify(&self, challenge: &[u8], signature: &[u8]) -> Result<SignerIdentity, EsignError>;

    /// Whether this verifier can accept anything at all (the login page offers the
    /// e-signature login only then).
    fn configured(&self) -> bool {
        true
    }
}

/// The default verifier: electronic-signature login is not available.
#[derive(Debug, Default, Clone, Copy)]
pub struct NotConfigured;

impl EsignVerifier for NotConfigured {
    fn verify(&self, _challenge: &[u8], _signature: &[u8]) -> Result<SignerIdentity, EsignError> {
        Err(EsignError::NotConfigured)
    }

    fn configured(&self) -> bool {
        false
    }
}
