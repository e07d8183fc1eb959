//! Configuration of the stand-in tax authority (`ofd tax-sink`, and the bundled sink of
//! `ofd all`): the `[tax_sink]` table, `OFD_SINK_*` variables and flags, declared once each in
//! [`SinkOptions`] and resolved into a [`SinkConfig`]. Precedence as everywhere: flag, env var,
//! file, default ([`crate::config_file`]).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use crate::config_file::{ensure, ConfigError};
use crate::secret::Secret;

/// Where the sink listens unless told otherwise (the forwarder's default URL points here).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8480";
/// The sink's SQLite file unless told otherwise.
pub const DEFAULT_DB: &str = "ofd-tax-sink.db";
/// Largest accepted batch after decompression unless told otherwise.
pub const DEFAULT_MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// Sink options, one declaration each: a flag, an env var and a `[tax_sink]` key.
#[derive(clap::Args, Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct SinkOptions {
    /// Address to listen on. [default: 127.0.0.1:8480]
    #[arg(long, env = "OFD_SINK_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// SQLite file where received batches and documents are kept (created if missing).
    /// [default: ofd-tax-sink.db]
    #[arg(long, env = "OFD_SINK_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Largest accepted batch after decompression, in bytes. [default: 67108864]
    #[arg(long, env = "OFD_SINK_MAX_BATCH_BYTES", value_name = "BYTES")]
    pub max_batch_bytes: Option<usize>,
    /// Serve HTTPS with this PEM certificate chain (needs tls_key).
    #[arg(long, env = "OFD_SINK_TLS_CERT", value_name = "PATH")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of tls_cert.
    #[arg(long, env = "OFD_SINK_TLS_KEY", value_name = "PATH")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by this PEM CA bundle (mutual TLS; needs tls_cert).
    #[arg(long, env = "OFD_SINK_TLS_CLIENT_CA", value_name = "PATH")]
    pub tls_client_ca: Option<PathBuf>,
    /// Require `Authorization: Bearer <token>` on batches (401 without it); never logged.
    #[arg(
        long,
        env = "OFD_SINK_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<Secret>,
}

crate::layer!(SinkOptions {
    listen,
    db,
    max_batch_bytes,
    tls_cert,
    tls_key,
    tls_client_ca,
    token,
});

/// The sink's settings, resolved and validated.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The sink's SQLite file.
    pub db: PathBuf,
    /// Largest accepted batch after decompression.
    pub max_batch_bytes: usize,
    /// HTTPS certificate chain.
    pub tls_cert: Option<PathBuf>,
    /// Its private key.
    pub tls_key: Option<PathBuf>,
    /// CA bundle client certificates must chain to.
    pub tls_client_ca: Option<PathBuf>,
    /// Bearer token batches must carry, if any (redacted in `Debug`).
    pub token: Option<Secret>,
}

impl SinkConfig {
    /// Plain HTTP on `listen` with its database at `db` (tests, `ofd all`).
    pub fn new(listen: SocketAddr, db: PathBuf) -> Self {
        Self {
            listen,
            db,
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            token: None,
        }
    }
}

impl SinkOptions {
    /// Fill what no layer set from the defaults and validate.
    pub fn resolve(self) -> Result<SinkConfig, ConfigError> {
        let config = SinkConfig {
            listen: self
                .listen
                .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default")),
            db: self.db.unwrap_or_else(|| DEFAULT_DB.into()),
            max_batch_bytes: self.max_batch_bytes.unwrap_or(DEFAULT_MAX_BATCH_BYTES),
            tls_cert: self.tls_cert,
            tls_key: self.tls_key,
            tls_client_ca: self.tls_client_ca,
            token: self.token,
        };
        ensure(
            config.token.as_ref().is_none_or(|t| !t.expose().is_empty()),
            "tax_sink.token",
            || "must not be empty".into(),
        )?;
        ensure(
            config.max_batch_bytes >= 1,
            "tax_sink.max_batch_bytes",
            || "must be at least 1".into(),
        )?;
        ensure(
            config.tls_cert.is_some() == config.tls_key.is_some(),
            "tax_sink.tls_key",
            || "tls_cert and tls_key go together".into(),
        )?;
        ensure(
            config.tls_client_ca.is_none() || config.tls_cert.is_some(),
            "tax_sink.tls_client_ca",
            || "needs tls_cert and tls_key (client certificates are an HTTPS feature)".into(),
        )?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config_file::{assert_keys_are_fields, ConfigFile, Layer};

    #[test]
    fn flags_over_the_tax_sink_table_over_defaults() {
        let file = ConfigFile::parse(
            Path::new("t.toml"),
            "[tax_sink]\nlisten = \"127.0.0.1:9000\"\ndb = \"/var/sink.db\"\n",
        )
        .expect("parses");
        let flags = SinkOptions {
            listen: Some("127.0.0.1:9001".parse().expect("addr")),
            ..SinkOptions::default()
        };
        let config = flags
            .over(file.table("tax_sink").expect("valid"))
            .resolve()
            .expect("valid");
        assert_eq!(config.listen, "127.0.0.1:9001".parse().expect("addr"));
        assert_eq!(config.db, Path::new("/var/sink.db"));
        assert_eq!(config.max_batch_bytes, DEFAULT_MAX_BATCH_BYTES);
        assert_keys_are_fields::<SinkOptions>();
    }

    #[test]
    fn tls_halves_are_refused_by_name() {
        let half = SinkOptions {
            tls_cert: Some("server.pem".into()),
            ..SinkOptions::default()
        };
        assert!(matches!(
            half.resolve(),
            Err(ConfigError::Invalid {
                field: "tax_sink.tls_key",
                ..
            })
        ));
        let ca_alone = SinkOptions {
            tls_client_ca: Some("ca.pem".into()),
            ..SinkOptions::default()
        };
        assert!(matches!(
            ca_alone.resolve(),
            Err(ConfigError::Invalid {
                field: "tax_sink.tls_client_ca",
                ..
            })
        ));
    }

    #[test]
    fn the_example_config_in_deploy_shows_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/ofd.toml");
        let file = ConfigFile::load(Some(&path)).expect("deploy/ofd.toml parses");
        let example = file
            .table::<SinkOptions>("tax_sink")
            .expect("valid [tax_sink]")
            .resolve()
            .expect("valid values");
        let defaults = SinkOptions::default().resolve().expect("valid defaults");
        assert_eq!(format!("{example:?}"), format!("{defaults:?}"));
    }
}
