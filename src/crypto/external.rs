//! The `external` unit: a certified crypto unit (HSM, "шифровальная машина") behind a small HTTP
//! JSON protocol, so any vendor's box can be fronted by a thin adapter.
//!
//! # Protocol
//!
//! Two endpoints under the configured base URL; request and reply bodies are JSON
//! (`Content-Type: application/json`), byte strings are standard base64 with padding.
//!
//! `POST {url}/verify`
//!
//! ```json
//! { "fn_number": "9999078900005488", "fd_number": 1,
//!   "container": "<whole container: 32-byte header, document, trailer>",
//!   "document":  "<document STLV>",
//!   "fpd": "<6 bytes of tag 1077>" | null,
//!   "fps": "<container trailer, ФПС first>" }
//! ```
//!
//! answered `200` with `{"verdict": "verified"}`, `{"verdict": "unverified"}` (the unit cannot
//! judge this document) or `{"verdict": "invalid", "reason": "<text>"}`. Reasons `fpd_missing`,
//! `fpd_mismatch`, `fps_missing`, `fps_mismatch`, `container_too_short` map onto the same
//! [`InvalidSign`] variants as the local units; any other text is kept as
//! [`InvalidSign::Refused`].
//!
//! `POST {url}/sign`
//!
//! ```json
//! { "fn_number": "9999078900005488", "fd_number": 1,
//!   "confirmation": "<document 7 STLV without tag 1078>" }
//! ```
//!
//! answered `200` with `{"fpo": "<ФПО bytes>"}`.
//!
//! # Failures
//!
//! A connection failure or a call exceeding the timeout is [`CryptoError::Unavailable`]; any
//! status other than 200, or a body that does not parse, is [`CryptoError::BadReply`]. Both are
//! transient for the caller: no acknowledgement, the register resends. Only an explicit
//! `"invalid"` verdict makes the server answer 11 and quarantine.
//!
//! `https` URLs trust only the CA given as `external_ca_file` (the build carries no public roots:
//! the unit sits on the operator's own network with the operator's own CA).

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::{CryptoConfig, CryptoError, InboundDocument, InvalidSign, Verdict};
use crate::error_chain;

/// HTTP client for one external unit.
#[derive(Debug, Clone)]
pub struct ExternalUnit {
    client: reqwest::Client,
    verify_url: reqwest::Url,
    sign_url: reqwest::Url,
    base_url: reqwest::Url,
}

#[derive(Serialize)]
struct VerifyRequest<'a> {
    fn_number: &'a str,
    fd_number: u32,
    container: String,
    document: String,
    fpd: Option<String>,
    fps: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum VerdictName {
    Verified,
    Unverified,
    Invalid,
}

#[derive(Deserialize)]
struct VerifyReply {
    verdict: VerdictName,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Serialize)]
struct SignRequest<'a> {
    fn_number: &'a str,
    fd_number: u32,
    confirmation: String,
}

#[derive(Deserialize)]
struct SignReply {
    fpo: String,
}

impl ExternalUnit {
    /// A client for the unit at `config.external_url` with `config.external_timeout_ms`.
    pub fn new(config: &CryptoConfig) -> Result<Self, CryptoError> {
        let raw = config.external_url.as_deref().ok_or_else(|| {
            CryptoError::Config("crypto mode \"external\" needs external_url / --crypto-url".into())
        })?;
        // A trailing slash makes `join` append instead of replacing the last path segment.
        let base_url =
            reqwest::Url::parse(&format!("{}/", raw.trim_end_matches('/'))).map_err(|e| {
                CryptoError::Config(format!(
                    "external_url {}: {e}",
                    crate::url_redact::redact_url(raw)
                ))
            })?;
        let join = |path: &str| {
            base_url.join(path).map_err(|e| {
                CryptoError::Config(format!(
                    "external_url {}: {e}",
                    crate::url_redact::redact_url(raw)
                ))
            })
        };
        let (verify_url, sign_url) = (join("verify")?, join("sign")?);
        Ok(ExternalUnit {
            client: build_client(config)?,
            verify_url,
            sign_url,
            base_url,
        })
    }

    /// The unit's base URL (for logs).
    pub fn base_url(&self) -> &reqwest::Url {
        &self.base_url
    }

    /// Ask the unit for a verdict on one document.
    pub async fn verify(&self, inbound: &InboundDocument<'_>) -> Result<Verdict, CryptoError> {
        let request = VerifyRequest {
            fn_number: inbound.fn_number,
            fd_number: inbound.fd_number,
            container: BASE64.encode(inbound.container),
            document: BASE64.encode(inbound.document),
            fpd: inbound.fpd.map(|fpd| BASE64.encode(fpd)),
            fps: BASE64.encode(inbound.fps),
        };
        let reply: VerifyReply = self.call(&self.verify_url, &request).await?;
        Ok(match reply.verdict {
            VerdictName::Verified => Verdict::Verified,
            VerdictName::Unverified => Verdict::Unverified,
            VerdictName::Invalid => {
                Verdict::Invalid(invalid_from_reason(reply.reason.unwrap_or_default()))
            }
        })
    }

    /// Ask the unit for the ФПО of a confirmation.
    pub async fn operator_sign(
        &self,
        fn_number: &str,
        fd_number: u32,
        confirmation: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let request = SignRequest {
            fn_number,
            fd_number,
            confirmation: BASE64.encode(confirmation),
        };
        let reply: SignReply = self.call(&self.sign_url, &request).await?;
        let fpo = BASE64
            .decode(reply.fpo.as_bytes())
            .map_err(|e| CryptoError::BadReply(format!("fpo is not base64: {e}")))?;
        if fpo.is_empty() {
            return Err(CryptoError::BadReply("fpo is empty".into()));
        }
        Ok(fpo)
    }

    /// POST `request` as JSON, expect 200 and a JSON `R`.
    async fn call<R: for<'de> Deserialize<'de>>(
        &self,
        url: &reqwest::Url,
        request: &impl Serialize,
    ) -> Result<R, CryptoError> {
        let shown = crate::url_redact::redacted(url);
        let body = serde_json::to_vec(request)
            .map_err(|e| CryptoError::Config(format!("encoding request: {e}")))?;
        let response = self
            .client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                CryptoError::Unavailable(format!(
                    "{shown}: {}",
                    error_chain::render(&e.without_url())
                ))
            })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| {
            CryptoError::Unavailable(format!(
                "{shown}: {}",
                error_chain::render(&e.without_url())
            ))
        })?;
        if status != reqwest::StatusCode::OK {
            return Err(CryptoError::BadReply(format!("{shown}: HTTP {status}")));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| CryptoError::BadReply(format!("{shown}: reply does not parse: {e}")))
    }
}

/// The reqwest client: one timeout for the whole call, optional private CA for https.
fn build_client(config: &CryptoConfig) -> Result<reqwest::Client, CryptoError> {
    let timeout: Duration = config.external_timeout();
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout);
    if let Some(path) = &config.external_ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| CryptoError::Config(format!("reading CA file {}: {e}", path.display())))?;
        let ca = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| CryptoError::Config(format!("CA file {}: {e}", path.display())))?;
        builder = builder.add_root_certificate(ca);
    }
    builder
        .build()
        .map_err(|e| CryptoError::Config(format!("building HTTP client: {e}")))
}

/// Map the unit's reason text onto the shared reasons, keeping unknown text verbatim.
fn invalid_from_reason(reason: String) -> InvalidSign {
    match reason.as_str() {
        "fpd_missing" => InvalidSign::FpdMissing,
        "fpd_mismatch" => InvalidSign::FpdMismatch,
        "fps_missing" => InvalidSign::FpsMissing,
        "fps_mismatch" => InvalidSign::FpsMismatch,
        "container_too_short" => InvalidSign::ContainerTooShort,
        _ => InvalidSign::Refused(reason),
    }
}
