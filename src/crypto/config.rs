//! Crypto-unit settings: [`CryptoOptions`] declares each once as a `[crypto]` key, a flag and an
//! env var (so `ofd serve --help` lists them all); [`CryptoConfig`] is what they resolve to.
//!
//! The soft unit's master secret is hex, read from a file or from `OFD_CRYPTO_SOFT_SECRET`; it is
//! never printed (help hides the env value, [`Secret`] redacts it in `Debug`, errors never quote
//! it).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::CryptoError;
use crate::secret::Secret;

/// Which crypto unit signs and verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CryptoMode {
    /// No verification (verdict "unverified"), ФПО zeros.
    #[default]
    Off,
    /// Software HMAC-SHA256 unit for test benches and labs (not the certified ГОСТ unit).
    Soft,
    /// A certified unit reached over HTTP (see `crypto::external`).
    External,
}

/// Default ФПО length. The spec leaves 16 vs 18 open (§6.3, §11 #3); 16 is the HMAC truncation we
/// use, and a real deployment takes whatever its certified unit returns.
pub const DEFAULT_FPO_LEN: usize = 16;
/// Default time budget for one call to an external unit.
pub const DEFAULT_EXTERNAL_TIMEOUT_MS: u64 = 2_000;

/// The crypto unit's settings, resolved from [`CryptoOptions`] (or built directly by tests).
#[derive(Debug, Clone)]
pub struct CryptoConfig {
    /// `off` | `soft` | `external`.
    pub mode: CryptoMode,
    /// Length of the ФПО the `off` and `soft` units produce.
    pub fpo_len: usize,
    /// Soft unit: file holding the master secret as hex.
    pub soft_secret_file: Option<PathBuf>,
    /// Soft unit: the master secret as hex (normally from `OFD_CRYPTO_SOFT_SECRET`); wins over
    /// the file.
    pub soft_secret_hex: Option<Secret>,
    /// External unit: base URL, e.g. `http://127.0.0.1:8200`.
    pub external_url: Option<String>,
    /// External unit: time budget per call, milliseconds.
    pub external_timeout_ms: u64,
    /// External unit: PEM file with the CA that signed the unit's certificate (https URLs).
    pub external_ca_file: Option<PathBuf>,
}

impl Default for CryptoConfig {
    fn default() -> Self {
        CryptoConfig {
            mode: CryptoMode::Off,
            fpo_len: DEFAULT_FPO_LEN,
            soft_secret_file: None,
            soft_secret_hex: None,
            external_url: None,
            external_timeout_ms: DEFAULT_EXTERNAL_TIMEOUT_MS,
            external_ca_file: None,
        }
    }
}

impl CryptoConfig {
    /// The soft unit's master secret: the hex value if set, else the hex file's content.
    pub fn soft_secret(&self) -> Result<Vec<u8>, CryptoError> {
        let (hex_text, origin) = match (&self.soft_secret_hex, &self.soft_secret_file) {
            (Some(secret), _) => (
                secret.expose().to_owned(),
                "OFD_CRYPTO_SOFT_SECRET / soft_secret_hex".to_owned(),
            ),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    CryptoError::Config(format!("reading soft secret file {}: {e}", path.display()))
                })?;
                (text, format!("soft secret file {}", path.display()))
            }
            (None, None) => {
                return Err(CryptoError::Config(
                    "crypto mode \"soft\" needs a master secret: set soft_secret_file, \
                     OFD_CRYPTO_SOFT_SECRET or --crypto-soft-secret-file"
                        .into(),
                ))
            }
        };
        hex::decode(hex_text.trim())
            .map_err(|_| CryptoError::Config(format!("{origin} is not valid hex")))
    }

    /// Time budget per external call.
    pub fn external_timeout(&self) -> Duration {
        Duration::from_millis(self.external_timeout_ms)
    }
}

/// The `[crypto]` table and its flags and env vars, one declaration each; flatten into a role's
/// options and [`resolve`](CryptoOptions::resolve) after layering.
#[derive(clap::Args, Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct CryptoOptions {
    /// Crypto unit: off (no verification, ФПО zeros), soft (HMAC lab unit), external (HSM over
    /// HTTP). [default: off]
    #[arg(long = "crypto", env = "OFD_CRYPTO", value_enum)]
    pub mode: Option<CryptoMode>,
    /// Length in bytes of the ФПО (tag 1078) the off and soft units produce. [default: 16]
    #[arg(long = "crypto-fpo-len", env = "OFD_CRYPTO_FPO_LEN")]
    pub fpo_len: Option<usize>,
    /// Soft unit: file holding the master secret as hex.
    #[arg(long = "crypto-soft-secret-file", env = "OFD_CRYPTO_SOFT_SECRET_FILE")]
    pub soft_secret_file: Option<PathBuf>,
    /// Soft unit: master secret as hex (prefer the file; the value is never shown).
    #[arg(
        long = "crypto-soft-secret",
        env = "OFD_CRYPTO_SOFT_SECRET",
        hide_env_values = true
    )]
    pub soft_secret_hex: Option<Secret>,
    /// External unit: base URL; the server POSTs to {url}/verify and {url}/sign.
    #[arg(long = "crypto-url", env = "OFD_CRYPTO_URL")]
    pub external_url: Option<String>,
    /// External unit: time budget per call in milliseconds. [default: 2000]
    #[arg(long = "crypto-timeout-ms", env = "OFD_CRYPTO_TIMEOUT_MS")]
    pub external_timeout_ms: Option<u64>,
    /// External unit: PEM CA certificate to trust for an https URL.
    #[arg(long = "crypto-ca-file", env = "OFD_CRYPTO_CA_FILE")]
    pub external_ca_file: Option<PathBuf>,
}

crate::layer!(CryptoOptions {
    mode,
    fpo_len,
    soft_secret_file,
    soft_secret_hex,
    external_url,
    external_timeout_ms,
    external_ca_file,
});

impl CryptoOptions {
    /// Fill what no layer set from the defaults.
    pub fn resolve(self) -> CryptoConfig {
        let defaults = CryptoConfig::default();
        CryptoConfig {
            mode: self.mode.unwrap_or(defaults.mode),
            fpo_len: self.fpo_len.unwrap_or(defaults.fpo_len),
            soft_secret_file: self.soft_secret_file,
            soft_secret_hex: self.soft_secret_hex,
            external_url: self.external_url,
            external_timeout_ms: self
                .external_timeout_ms
                .unwrap_or(defaults.external_timeout_ms),
            external_ca_file: self.external_ca_file,
        }
    }
}
