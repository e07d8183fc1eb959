//! Configuration of the forwarder (`ofd forward`, and the forwarder inside `ofd all`): the
//! `[forward]` table, `OFD_SINK_*` / `OFD_FORWARD_*` variables and flags, declared once each in
//! [`ForwardOptions`] and resolved into a [`ForwardConfig`]. Precedence as everywhere: flag, env
//! var, file, default ([`crate::config_file`]).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use crate::config_file::{ensure, ConfigError};
use crate::secret::Secret;

/// The sink the forwarder sends to when nothing names one: a local `ofd tax-sink`.
pub const DEFAULT_SINK_URL: &str = "http://127.0.0.1:8480/v1/batches";

/// Forwarder options, one declaration each: a flag, an env var and a `[forward]` key.
#[derive(clap::Args, Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct ForwardOptions {
    /// Endpoint batches are POSTed to (https://…; http:// only to loopback).
    /// [default: http://127.0.0.1:8480/v1/batches]
    #[arg(long, env = "OFD_SINK_URL", value_name = "URL")]
    pub sink_url: Option<String>,
    /// Write batches as files under this directory instead of POSTing them (air-gapped sites).
    #[arg(long, env = "OFD_SINK_DIR", value_name = "DIR")]
    pub sink_dir: Option<PathBuf>,
    /// PEM bundle of the CA certificates that sign the sink's certificate.
    #[arg(long, env = "OFD_SINK_CA", value_name = "PATH")]
    pub sink_ca: Option<PathBuf>,
    /// PEM client certificate chain for mutual TLS.
    #[arg(long, env = "OFD_SINK_CLIENT_CERT", value_name = "PATH")]
    pub sink_client_cert: Option<PathBuf>,
    /// PEM private key of the client certificate.
    #[arg(long, env = "OFD_SINK_CLIENT_KEY", value_name = "PATH")]
    pub sink_client_key: Option<PathBuf>,
    /// Bearer token sent to the sink (`Authorization: Bearer …`); never printed or logged.
    #[arg(
        long,
        env = "OFD_SINK_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub sink_token: Option<Secret>,
    /// Most documents in one batch. [default: 500]
    #[arg(long, env = "OFD_FORWARD_BATCH_MAX_DOCUMENTS", value_name = "N")]
    pub batch_max_documents: Option<i64>,
    /// Most uncompressed bytes in one batch (one larger document still goes alone).
    /// [default: 4194304]
    #[arg(long, env = "OFD_FORWARD_BATCH_MAX_BYTES", value_name = "BYTES")]
    pub batch_max_bytes: Option<usize>,
    /// Send a partial batch once its oldest document has waited this long. [default: 500]
    #[arg(long, env = "OFD_FORWARD_BATCH_MAX_AGE_MS", value_name = "MS")]
    pub batch_max_age_ms: Option<i64>,
    /// Batches in flight at once from this process. [default: 2]
    #[arg(long, env = "OFD_FORWARD_WORKERS", value_name = "N")]
    pub workers: Option<usize>,
    /// Pause between looks at an empty outbox. [default: 200]
    #[arg(long, env = "OFD_FORWARD_POLL_MS", value_name = "MS")]
    pub poll_ms: Option<u64>,
    /// How long a claim on a batch (and the SQLite writer lease) holds without renewal.
    /// [default: 30000]
    #[arg(long, env = "OFD_FORWARD_LEASE_MS", value_name = "MS")]
    pub lease_ms: Option<i64>,
    /// Time limit of one send, answer included. [default: 30000]
    #[arg(long, env = "OFD_FORWARD_REQUEST_TIMEOUT_MS", value_name = "MS")]
    pub request_timeout_ms: Option<u64>,
    /// Scale of the first retry delay. [default: 200]
    #[arg(long, env = "OFD_FORWARD_BACKOFF_BASE_MS", value_name = "MS")]
    pub backoff_base_ms: Option<u64>,
    /// Largest retry delay. [default: 30000]
    #[arg(long, env = "OFD_FORWARD_BACKOFF_CAP_MS", value_name = "MS")]
    pub backoff_cap_ms: Option<u64>,
    /// Consecutive failed sends that open the circuit breaker. [default: 5]
    #[arg(long, env = "OFD_FORWARD_BREAKER_THRESHOLD", value_name = "N")]
    pub breaker_threshold: Option<u32>,
    /// How long an open breaker holds sends back before one probe. [default: 5000]
    #[arg(long, env = "OFD_FORWARD_BREAKER_COOLDOWN_MS", value_name = "MS")]
    pub breaker_cooldown_ms: Option<u64>,
    /// `/readyz` answers 503 once every send has failed for this long in a row. [default: 300000]
    #[arg(long, env = "OFD_FORWARD_UNREADY_AFTER_FAILING_MS", value_name = "MS")]
    pub unready_after_failing_ms: Option<u64>,
    /// Days a document is kept after it arrived; older documents are deleted once the tax
    /// authority has confirmed them (never before), in batches, logged and counted
    /// (`ofd_forward_retention_deleted_total`). RU law asks for 5 years. 0 keeps every document.
    /// [default: 1827]
    #[arg(long, env = "OFD_RETENTION_DAYS", value_name = "DAYS")]
    pub retention_days: Option<u32>,
    /// Documents deleted per statement by retention. [default: 1000]
    #[arg(long, env = "OFD_RETENTION_BATCH", value_name = "N")]
    pub retention_batch: Option<u64>,
    /// Address of this role's Prometheus `/metrics` endpoint (none when absent; `ofd all`
    /// defaults it to 127.0.0.1:9899).
    #[arg(long, env = "OFD_FORWARD_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
}

crate::layer!(ForwardOptions {
    sink_url,
    sink_dir,
    sink_ca,
    sink_client_cert,
    sink_client_key,
    sink_token,
    batch_max_documents,
    batch_max_bytes,
    batch_max_age_ms,
    workers,
    poll_ms,
    lease_ms,
    request_timeout_ms,
    backoff_base_ms,
    backoff_cap_ms,
    breaker_threshold,
    breaker_cooldown_ms,
    unready_after_failing_ms,
    retention_days,
    retention_batch,
    metrics_listen,
});

/// The forwarder's settings, resolved and validated (tests build it directly from
/// [`ForwardConfig::default`]).
#[derive(Debug, Clone)]
pub struct ForwardConfig {
    /// Endpoint batches are POSTed to.
    pub sink_url: String,
    /// Write files here instead of POSTing.
    pub sink_dir: Option<PathBuf>,
    /// CA bundle for the sink's certificate.
    pub sink_ca: Option<PathBuf>,
    /// Client certificate chain for mutual TLS.
    pub sink_client_cert: Option<PathBuf>,
    /// Client certificate's key.
    pub sink_client_key: Option<PathBuf>,
    /// Bearer token for the sink (redacted in `Debug`).
    pub sink_token: Option<Secret>,
    /// Most documents in one batch.
    pub batch_max_documents: i64,
    /// Most uncompressed bytes in one batch.
    pub batch_max_bytes: usize,
    /// Age of the oldest document that sends a partial batch (ms).
    pub batch_max_age_ms: i64,
    /// Batches in flight at once.
    pub workers: usize,
    /// Pause between looks at an empty outbox (ms).
    pub poll_ms: u64,
    /// Claim and writer-lease length (ms).
    pub lease_ms: i64,
    /// Time limit of one send (ms).
    pub request_timeout_ms: u64,
    /// First retry delay scale (ms).
    pub backoff_base_ms: u64,
    /// Largest retry delay (ms).
    pub backoff_cap_ms: u64,
    /// Failed sends that open the breaker.
    pub breaker_threshold: u32,
    /// Open-breaker hold time (ms).
    pub breaker_cooldown_ms: u64,
    /// Continuous failure after which `/readyz` answers 503 (ms).
    pub unready_after_failing_ms: u64,
    /// Days documents are kept (0: for ever); see [`super::retention`].
    pub retention_days: u32,
    /// Documents deleted per statement by retention.
    pub retention_batch: u64,
    /// Prometheus endpoint, if any.
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for ForwardConfig {
    fn default() -> Self {
        ForwardOptions::default()
            .resolve()
            .expect("the defaults are valid")
    }
}

impl ForwardOptions {
    /// Fill what no layer set from the defaults and validate.
    pub fn resolve(self) -> Result<ForwardConfig, ConfigError> {
        let config = ForwardConfig {
            sink_url: self.sink_url.unwrap_or_else(|| DEFAULT_SINK_URL.to_owned()),
            sink_dir: self.sink_dir,
            sink_ca: self.sink_ca,
            sink_client_cert: self.sink_client_cert,
            sink_client_key: self.sink_client_key,
            sink_token: self.sink_token,
            batch_max_documents: self.batch_max_documents.unwrap_or(500),
            batch_max_bytes: self.batch_max_bytes.unwrap_or(4 * 1024 * 1024),
            batch_max_age_ms: self.batch_max_age_ms.unwrap_or(500),
            workers: self.workers.unwrap_or(2),
            poll_ms: self.poll_ms.unwrap_or(200),
            lease_ms: self.lease_ms.unwrap_or(30_000),
            request_timeout_ms: self.request_timeout_ms.unwrap_or(30_000),
            backoff_base_ms: self.backoff_base_ms.unwrap_or(200),
            backoff_cap_ms: self.backoff_cap_ms.unwrap_or(30_000),
            breaker_threshold: self.breaker_threshold.unwrap_or(5),
            breaker_cooldown_ms: self.breaker_cooldown_ms.unwrap_or(5_000),
            unready_after_failing_ms: self.unready_after_failing_ms.unwrap_or(300_000),
            // Five years with both leap days they can hold.
            retention_days: self.retention_days.unwrap_or(5 * 365 + 2),
            retention_batch: self.retention_batch.unwrap_or(1000),
            metrics_listen: self.metrics_listen,
        };
        config.validate()?;
        Ok(config)
    }
}

impl ForwardConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let at_least_one = || "must be at least 1".to_owned();
        ensure(
            self.batch_max_documents >= 1,
            "forward.batch_max_documents",
            at_least_one,
        )?;
        ensure(
            self.batch_max_bytes >= 1,
            "forward.batch_max_bytes",
            at_least_one,
        )?;
        ensure(
            self.batch_max_age_ms >= 0,
            "forward.batch_max_age_ms",
            || "must not be negative".into(),
        )?;
        ensure(self.workers >= 1, "forward.workers", at_least_one)?;
        ensure(self.lease_ms >= 1_000, "forward.lease_ms", || {
            "must be at least 1000".into()
        })?;
        ensure(
            self.request_timeout_ms >= 1,
            "forward.request_timeout_ms",
            at_least_one,
        )?;
        ensure(
            self.backoff_base_ms >= 1 && self.backoff_base_ms <= self.backoff_cap_ms,
            "forward.backoff_base_ms",
            || "must be at least 1 and at most backoff_cap_ms".into(),
        )?;
        ensure(
            self.breaker_threshold >= 1,
            "forward.breaker_threshold",
            at_least_one,
        )?;
        ensure(
            self.retention_batch >= 1,
            "forward.retention_batch",
            at_least_one,
        )?;
        ensure(
            self.unready_after_failing_ms >= 1,
            "forward.unready_after_failing_ms",
            at_least_one,
        )?;
        ensure(
            self.sink_token
                .as_ref()
                .is_none_or(|t| !t.expose().is_empty() && !t.expose().contains(['\r', '\n'])),
            "forward.sink_token",
            || "must not be empty or contain a line break".into(),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config_file::{assert_keys_are_fields, ConfigFile, Layer};

    #[test]
    fn flags_over_the_forward_table_over_defaults() {
        let file = ConfigFile::parse(
            Path::new("t.toml"),
            "[forward]\nbatch_max_documents = 7\nworkers = 3\nsink_dir = \"/var/out\"\n",
        )
        .expect("parses");
        let flags = ForwardOptions {
            workers: Some(4),
            ..ForwardOptions::default()
        };
        let config = flags
            .over(file.table("forward").expect("valid table"))
            .resolve()
            .expect("valid");
        assert_eq!(config.batch_max_documents, 7);
        assert_eq!(config.workers, 4);
        assert_eq!(config.sink_dir.as_deref(), Some(Path::new("/var/out")));
        assert_eq!(config.poll_ms, 200);
        assert_eq!(config.sink_url, DEFAULT_SINK_URL);
        assert_keys_are_fields::<ForwardOptions>();
    }

    #[test]
    fn bad_values_name_their_option() {
        let zero = ForwardOptions {
            workers: Some(0),
            ..ForwardOptions::default()
        };
        assert!(matches!(
            zero.resolve(),
            Err(ConfigError::Invalid {
                field: "forward.workers",
                ..
            })
        ));
        let inverted = ForwardOptions {
            backoff_base_ms: Some(500),
            backoff_cap_ms: Some(100),
            ..ForwardOptions::default()
        };
        let error = inverted.resolve().expect_err("base above cap");
        assert!(
            error.to_string().starts_with("forward.backoff_base_ms"),
            "{error}"
        );
    }

    #[test]
    fn the_example_config_in_deploy_shows_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/ofd.toml");
        let file = ConfigFile::load(Some(&path)).expect("deploy/ofd.toml parses");
        let example = file
            .table::<ForwardOptions>("forward")
            .expect("valid [forward]")
            .resolve()
            .expect("valid values");
        assert_eq!(
            format!("{example:?}"),
            format!("{:?}", ForwardConfig::default())
        );
    }
}
