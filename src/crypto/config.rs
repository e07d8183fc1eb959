//! Crypto-unit settings: a `[crypto]` TOML table ([`CryptoConfig`]) overlaid by environment
//! variables and flags ([`CryptoArgs`]), so `ofd serve --help` lists every option.
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

impl CryptoMode {
    /// Stable lowercase name, as in the configuration and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            CryptoMode::Off => "off",
            CryptoMode::Soft => "soft",
            CryptoMode::External => "external",
        }
    }
}

/// Default ФПО length. The spec leaves 16 vs 18 open (§6.3, §11 #3); 16 is the HMAC truncation we
/// use, and a real deployment takes whatever its certified unit returns.
pub const DEFAULT_FPO_LEN: usize = 16;
/// Default time budget for one call to an external unit.
pub const DEFAULT_EXTERNAL_TIMEOUT_MS: u64 = 2_000;

/// The `[crypto]` table of the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
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

/// Command-line / environment overrides for [`CryptoConfig`]; flatten into a subcommand's args.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CryptoArgs {
    /// Crypto unit: off (no verification, ФПО zeros), soft (HMAC lab unit), external (HSM over HTTP).
    #[arg(long = "crypto", env = "OFD_CRYPTO", value_enum)]
    pub mode: Option<CryptoMode>,
    /// Length in bytes of the ФПО (tag 1078) the off and soft units produce [default: 16].
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
    /// External unit: time budget per call in milliseconds [default: 2000].
    #[arg(long = "crypto-timeout-ms", env = "OFD_CRYPTO_TIMEOUT_MS")]
    pub external_timeout_ms: Option<u64>,
    /// External unit: PEM CA certificate to trust for an https URL.
    #[arg(long = "crypto-ca-file", env = "OFD_CRYPTO_CA_FILE")]
    pub external_ca_file: Option<PathBuf>,
}

impl CryptoArgs {
    /// Overlay the flags and environment variables that were given onto the file's settings.
    pub fn apply(self, config: &mut CryptoConfig) {
        if let Some(mode) = self.mode {
            config.mode = mode;
        }
        if let Some(len) = self.fpo_len {
            config.fpo_len = len;
        }
        if let Some(path) = self.soft_secret_file {
            config.soft_secret_file = Some(path);
        }
        if let Some(text) = self.soft_secret_hex {
            config.soft_secret_hex = Some(text);
        }
        if let Some(url) = self.external_url {
            config.external_url = Some(url);
        }
        if let Some(ms) = self.external_timeout_ms {
            config.external_timeout_ms = ms;
        }
        if let Some(path) = self.external_ca_file {
            config.external_ca_file = Some(path);
        }
    }
}
