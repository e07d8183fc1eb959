//! Configuration of the ingest server (`ofd serve`, and the ingest half of `ofd all`).
//!
//! Precedence, highest first: command-line flag, `OFD_*` environment variable (clap reads both),
//! the TOML file named by `--config`, the built-in default (see [`crate::config_file`]). Each
//! option is declared once, in the options struct of its table: [`IngestOptions`] (`[ingest]`),
//! [`MetricsOptions`] (`[metrics]`), [`KzOptions`] (`[kz]`), and the shared
//! [`StoreOptions`] (`[store]`) and [`CryptoOptions`] (`[crypto]`). `ofd serve --help` documents
//! them as flags and env vars; the commented example in `deploy/ofd.toml` lists them as keys.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::config_file::{ensure, ConfigArg, ConfigError, ConfigFile, Layer};
use crate::crypto::{CryptoConfig, CryptoOptions};
use crate::store::config::StoreOptions;
use crate::tls::TlsFiles;

/// How format-logical control (ФЛК) failures are answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FlkMode {
    /// Store, answer code 0, flag the document (the start-up default while rules are new).
    Report,
    /// Store, answer code 14 (and 1206 bit 2 for ФФД 1.1+).
    Enforce,
}

/// Options of `ofd serve` (and `ofd all`): the file, then one options struct per table.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct ServeOptions {
    /// `--config`.
    #[command(flatten)]
    pub file: ConfigArg,
    /// `[store]`: database and group commit.
    #[command(flatten)]
    pub store: StoreOptions,
    /// `[ingest]`: the register-facing listener.
    #[command(flatten)]
    pub ingest: IngestOptions,
    /// `[metrics]`: the ingest server's Prometheus endpoint.
    #[command(flatten)]
    pub metrics: MetricsOptions,
    /// `[crypto]`: the crypto unit that verifies fiscal signs and signs acknowledgements.
    #[command(flatten)]
    pub crypto: CryptoOptions,
    /// `[kz]`: the KZ dialect.
    #[command(flatten)]
    pub kz: KzOptions,
}

/// `[ingest]`: the register-facing listener. Every field is optional so that the file and the
/// defaults can fill what the command line and environment leave out.
#[derive(clap::Args, Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct IngestOptions {
    /// Address registers connect to (both dialects share it). [default: 0.0.0.0:7777]
    #[arg(long, env = "OFD_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// ИНН of this operator, sent in every acknowledgement (tag 1017; 10 or 12 digits).
    /// [default: 0000000000, a placeholder a real operator must replace]
    #[arg(long, env = "OFD_INN", value_name = "DIGITS")]
    pub ofd_inn: Option<String>,
    /// Accept documents from ФН numbers that are not provisioned, flagged as unregistered
    /// (labs, tests). Without it they are refused with code 11. [default: false]
    #[arg(long, env = "OFD_ACCEPT_UNREGISTERED", value_name = "BOOL", num_args = 0..=1,
          default_missing_value = "true")]
    pub accept_unregistered: Option<bool>,
    /// Milliseconds a register's status (active, blocked, unknown …) read from the database is
    /// reused for later documents of the same ФН or KZ system id: a status change reaches ingest
    /// within this time (a KZ token reset takes effect at once). 0 reads the database for every
    /// document. [default: 2000]
    #[arg(long, env = "OFD_REGISTER_CACHE_MS", value_name = "MS")]
    pub register_cache_ms: Option<u64>,
    /// ФЛК mode: `report` stores, answers 0 and flags; `enforce` stores and answers 14.
    /// [default: report]
    #[arg(long, env = "OFD_FLK", value_name = "MODE")]
    pub flk: Option<FlkMode>,
    /// Connections served at once; further ones wait in the listen backlog. [default: 4096]
    #[arg(long, env = "OFD_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Connections the kernel may hold completed but not yet accepted. When it overflows, a
    /// register's connection attempt is dropped and retried by its TCP stack a second or more
    /// later, so it must cover a burst of registers reconnecting at once (after a cell outage).
    /// The kernel caps it at net.core.somaxconn. [default: 4096]
    #[arg(long, env = "OFD_LISTEN_BACKLOG", value_name = "N")]
    pub listen_backlog: Option<u32>,
    /// Largest accepted container in bytes; a frame declaring more is refused before any
    /// allocation. The protocol maximum is 32768. [default: 32768]
    #[arg(long, env = "OFD_MAX_FRAME_BYTES", value_name = "BYTES")]
    pub max_frame_bytes: Option<u32>,
    /// Seconds a connection may take to deliver its next complete frame (GPRS is slow).
    /// [default: 60]
    #[arg(long, env = "OFD_IDLE_TIMEOUT_SECS", value_name = "SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// Seconds a connection may stay open in total. [default: 300]
    #[arg(long, env = "OFD_CONNECTION_TIMEOUT_SECS", value_name = "SECS")]
    pub connection_timeout_secs: Option<u64>,
    /// New connections per second allowed from one source IP; 0 turns the limit off. Registers
    /// behind one carrier NAT share an address, and a load test from one host needs 0.
    /// [default: 200]
    #[arg(long, env = "OFD_SOURCE_RATE", value_name = "PER_SEC")]
    pub source_rate: Option<u32>,
    /// Connections one source IP may open in a burst above its rate. [default: 2000]
    #[arg(long, env = "OFD_SOURCE_BURST", value_name = "N")]
    pub source_burst: Option<u32>,
    /// Connections one source IP may hold open at once; further ones are closed at accept, so
    /// slow connections from one address cannot take every slot. 0 turns the cap off.
    /// [default: 256]
    #[arg(long, env = "OFD_MAX_OPEN_PER_SOURCE", value_name = "N")]
    pub max_open_per_source: Option<u32>,
    /// Connections one source network (/24 for IPv4, /56 for IPv6) may hold open at once; 0
    /// turns the cap off. [default: 1024]
    #[arg(long, env = "OFD_MAX_OPEN_PER_NETWORK", value_name = "N")]
    pub max_open_per_network: Option<u32>,
    /// Bytes per second a frame must arrive at, on average, once its first byte is in (checked
    /// after a few seconds); a frame that trickles in slower closes its connection. 0 turns the
    /// check off. [default: 64]
    #[arg(long, env = "OFD_MIN_FRAME_BYTES_PER_SEC", value_name = "BYTES")]
    pub min_frame_bytes_per_sec: Option<u32>,
    /// Bytes all connections together may hold in their read buffers (frames not yet whole);
    /// a connection whose next read would go beyond it is closed. [default: 268435456]
    #[arg(long, env = "OFD_READ_BUFFER_BUDGET_BYTES", value_name = "BYTES")]
    pub read_buffer_budget_bytes: Option<u64>,
    /// Seconds over which a repetitive log line (same reason and source) is written once; the
    /// lines held back are counted and reported in one "suppressed" line. 0 logs every line.
    /// [default: 10]
    #[arg(long, env = "OFD_LOG_REPEAT_SECS", value_name = "SECS")]
    pub log_repeat_secs: Option<u64>,
    /// Seconds to finish in-flight documents after SIGTERM/ctrl-c before exiting anyway.
    /// [default: 30]
    #[arg(long, env = "OFD_SHUTDOWN_GRACE_SECS", value_name = "SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// A second register port that speaks TLS (software registers, links that terminate TLS);
    /// both dialects, the same limits as `listen`, which stays plain TCP for hardware
    /// registers. Needs tls_cert and tls_key. [default: none]
    #[arg(long, env = "OFD_TLS_LISTEN", value_name = "ADDR")]
    pub tls_listen: Option<SocketAddr>,
    /// PEM certificate chain of the TLS port, re-read on SIGHUP. [default: none]
    #[arg(long, env = "OFD_TLS_CERT", value_name = "PATH")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of tls_cert, re-read on SIGHUP. [default: none]
    #[arg(long, env = "OFD_TLS_KEY", value_name = "PATH")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA bundle: registers on the TLS port must present a certificate it signed, whose
    /// subject CN names the register (RU: the ФН number; KZ: the system id); a frame from any
    /// other register closes the connection. [default: none, no client certificates]
    #[arg(long, env = "OFD_TLS_CLIENT_CA", value_name = "PATH")]
    pub tls_client_ca: Option<PathBuf>,
    /// Every connection, on both register ports, starts with a PROXY protocol v2 header from a
    /// TCP load balancer; its source address is the register's for the per-source limits, the
    /// KZ token guard and the logs. A connection without a valid header within a few seconds is
    /// closed and counted (`proxy_header`). Turn on only behind a load balancer that always
    /// sends it. [default: false]
    #[arg(long, env = "OFD_PROXY_PROTOCOL", value_name = "BOOL", num_args = 0..=1,
          default_missing_value = "true")]
    pub proxy_protocol: Option<bool>,
}

crate::layer!(IngestOptions {
    listen,
    ofd_inn,
    accept_unregistered,
    register_cache_ms,
    flk,
    max_connections,
    listen_backlog,
    max_frame_bytes,
    idle_timeout_secs,
    connection_timeout_secs,
    source_rate,
    source_burst,
    max_open_per_source,
    max_open_per_network,
    min_frame_bytes_per_sec,
    read_buffer_budget_bytes,
    log_repeat_secs,
    shutdown_grace_secs,
    tls_listen,
    tls_cert,
    tls_key,
    tls_client_ca,
    proxy_protocol,
});

/// `[metrics]`: the ingest server's Prometheus endpoint (the forwarder has its own,
/// `[forward] metrics_listen`). Its id is `metrics.listen`, as `[ingest]` has a `listen` too.
#[derive(clap::Args, Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct MetricsOptions {
    /// Address of the Prometheus `/metrics` endpoint. [default: 127.0.0.1:9898]
    #[arg(
        id = "metrics.listen",
        long = "metrics-listen",
        env = "OFD_METRICS_LISTEN",
        value_name = "ADDR"
    )]
    pub listen: Option<SocketAddr>,
}

crate::layer!(MetricsOptions { listen });

/// `[kz]`: the KZ dialect (flags `--kz-…`; ids `kz.<key>`, as ingest has a `max_frame_bytes` too).
#[derive(clap::Args, Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct KzOptions {
    /// KZ: base of the receipt check URL sent in `qr_code` (`<base>?i=…&f=…&s=…&t=…`).
    /// [default: http://localhost:8080/check]
    #[arg(
        id = "kz.qr_base",
        long = "kz-qr-base",
        env = "OFD_KZ_QR_BASE",
        value_name = "URL"
    )]
    pub qr_base: Option<String>,
    /// KZ: largest accepted frame (SIZE) in bytes. [default: 1048576]
    #[arg(
        id = "kz.max_frame_bytes",
        long = "kz-max-frame-bytes",
        env = "OFD_KZ_MAX_FRAME_BYTES",
        value_name = "BYTES"
    )]
    pub max_frame_bytes: Option<u32>,
    /// KZ: hours a shift may stay open before OPEN_SHIFT_TIMEOUT_EXPIRED. [default: 24]
    #[arg(
        id = "kz.max_shift_hours",
        long = "kz-max-shift-hours",
        env = "OFD_KZ_MAX_SHIFT_HOURS",
        value_name = "HOURS"
    )]
    pub max_shift_hours: Option<u32>,
    /// KZ: oldest offline receipt accepted, in hours, by its own time. [default: 72]
    #[arg(
        id = "kz.max_offline_hours",
        long = "kz-max-offline-hours",
        env = "OFD_KZ_MAX_OFFLINE_HOURS",
        value_name = "HOURS"
    )]
    pub max_offline_hours: Option<u32>,
    /// KZ: wrong tokens a register, or a source address, may send before nothing more from it
    /// is looked at until a cool-down ends. [default: 10]
    #[arg(
        id = "kz.token_attempts",
        long = "kz-token-attempts",
        env = "OFD_KZ_TOKEN_ATTEMPTS",
        value_name = "N"
    )]
    pub token_attempts: Option<u32>,
    /// KZ: seconds of the first cool-down after too many wrong tokens; each further one in a
    /// row doubles, up to a day. [default: 60]
    #[arg(
        id = "kz.token_lockout_secs",
        long = "kz-token-lockout-secs",
        env = "OFD_KZ_TOKEN_LOCKOUT_SECS",
        value_name = "SECS"
    )]
    pub token_lockout_secs: Option<u64>,
    /// KZ: seconds after an answer during which a retry of it from another connection is
    /// answered from the cache for free; later such retries count as wrong tokens.
    /// [default: 120]
    #[arg(
        id = "kz.retry_window_secs",
        long = "kz-retry-window-secs",
        env = "OFD_KZ_RETRY_WINDOW_SECS",
        value_name = "SECS"
    )]
    pub retry_window_secs: Option<u64>,
}

crate::layer!(KzOptions {
    qr_base,
    max_frame_bytes,
    max_shift_hours,
    max_offline_hours,
    token_attempts,
    token_lockout_secs,
    retry_window_secs,
});

/// The RU protocol's container maximum (spec §3), also the ceiling of `max_frame_bytes`.
pub const PROTOCOL_MAX_CONTAINER: u32 = 32 * 1024;

/// Everything `ofd serve` needs, resolved and validated.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Register-facing address.
    pub listen: SocketAddr,
    /// `/metrics` address.
    pub metrics_listen: SocketAddr,
    /// Database URL.
    pub database: String,
    /// What to do with an older schema.
    pub schema_upgrade: crate::store::SchemaUpgrade,
    /// Operator ИНН for acknowledgements.
    pub ofd_inn: String,
    /// Accept (and flag) unprovisioned ФН numbers.
    pub accept_unregistered: bool,
    /// How long a register status read from storage is reused.
    pub register_cache_ttl: Duration,
    /// ФЛК answer mode.
    pub flk: FlkMode,
    /// Connection and frame limits.
    pub limits: Limits,
    /// Group-commit tuning.
    pub batch: BatchConfig,
    /// The crypto unit.
    pub crypto: CryptoConfig,
    /// The KZ dialect.
    pub kz: crate::ingest::kz::KzConfig,
    /// The TLS register port, when configured.
    pub tls: Option<IngestTls>,
    /// Connections start with a PROXY protocol v2 header (`ingest::proxy_header`).
    pub proxy_protocol: bool,
}

/// The second, TLS register port.
#[derive(Clone, Debug)]
pub struct IngestTls {
    /// Its address.
    pub listen: SocketAddr,
    /// Certificate, key and the optional client CA bundle.
    pub files: TlsFiles,
}

/// Limits that keep slow or hostile clients from starving others.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Kernel queue of connections not yet accepted.
    pub listen_backlog: u32,
    /// Largest container accepted.
    pub max_frame_bytes: u32,
    /// Time allowed for the next complete frame.
    pub idle_timeout: Duration,
    /// Lifetime of one connection.
    pub connection_timeout: Duration,
    /// New connections per second per source IP (0 = unlimited).
    pub source_rate: u32,
    /// Burst allowance above `source_rate`.
    pub source_burst: u32,
    /// Connections open at once per source IP (0 = unlimited).
    pub max_open_per_source: u32,
    /// Connections open at once per source /24 or /56 (0 = unlimited).
    pub max_open_per_network: u32,
    /// Slowest average arrival of a started frame, bytes per second (0 = no check).
    pub min_frame_bytes_per_sec: u32,
    /// Bytes all read buffers together may hold.
    pub read_buffer_budget: u64,
    /// Period of the repetitive-log-line limiter (zero = log everything).
    pub log_repeat: Duration,
    /// Drain time on shutdown.
    pub shutdown_grace: Duration,
}

/// Group-commit tuning handed to the store's writer.
#[derive(Clone, Debug)]
pub struct BatchConfig {
    /// Most documents per transaction.
    pub max_docs: usize,
    /// Longest wait for a batch to fill.
    pub max_wait: Duration,
    /// Bound of the writer's queue.
    pub queue_capacity: usize,
}

impl ServeOptions {
    /// Read the file (if any), lay flags and env vars over it, fill the defaults and validate.
    pub fn resolve(&self) -> Result<ServeConfig, ConfigError> {
        self.resolve_with(&self.file.load()?)
    }

    /// As [`ServeOptions::resolve`] over an already loaded file (`ofd all` reads it once for
    /// every role).
    pub fn resolve_with(&self, file: &ConfigFile) -> Result<ServeConfig, ConfigError> {
        let file_store: StoreOptions = file.table("store")?;
        let schema_upgrade = self.store.database.schema_upgrade(&file_store.database);
        let database = self.store.database.clone().resolve(file_store.database);
        let writer = self.store.writer.clone().over(file_store.writer);
        let i = self.ingest.clone().over(file.table("ingest")?);
        let metrics = self.metrics.clone().over(file.table("metrics")?);
        let crypto = self.crypto.clone().over(file.table("crypto")?);
        let k = self.kz.clone().over(file.table("kz")?);
        let tls_files =
            TlsFiles::from_options(i.tls_cert, i.tls_key, i.tls_client_ca).map_err(|missing| {
                ConfigError::invalid(
                    if missing == "tls_key" {
                        "ingest.tls_key"
                    } else {
                        "ingest.tls_cert"
                    },
                    "tls_cert and tls_key go together (and tls_client_ca needs them)",
                )
            })?;
        let tls = match (i.tls_listen, tls_files) {
            (Some(listen), Some(files)) => Some(IngestTls { listen, files }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::invalid(
                    "ingest.tls_cert",
                    "tls_listen needs tls_cert and tls_key",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::invalid(
                    "ingest.tls_listen",
                    "tls_cert is set but no tls_listen port to serve it on",
                ))
            }
        };
        let kz_defaults = crate::ingest::kz::KzConfig::default();
        let hours = |h: u32| i64::from(h) * 3600;
        let kz = crate::ingest::kz::KzConfig {
            qr_base: k.qr_base.unwrap_or_else(|| kz_defaults.qr_base.clone()),
            max_frame: k.max_frame_bytes.unwrap_or(kz_defaults.max_frame),
            max_shift_secs: hours(k.max_shift_hours.unwrap_or(24)),
            max_offline_age_secs: hours(k.max_offline_hours.unwrap_or(72)),
            token_attempts: k.token_attempts.unwrap_or(kz_defaults.token_attempts),
            token_lockout: k.token_lockout_secs.map_or(kz_defaults.token_lockout, secs),
            retry_window: k.retry_window_secs.map_or(kz_defaults.retry_window, secs),
            ..kz_defaults
        };
        let config = ServeConfig {
            listen: i.listen.unwrap_or(([0, 0, 0, 0], 7777).into()),
            metrics_listen: metrics.listen.unwrap_or(([127, 0, 0, 1], 9898).into()),
            database,
            schema_upgrade,
            ofd_inn: i.ofd_inn.unwrap_or_else(|| "0000000000".to_owned()),
            accept_unregistered: i.accept_unregistered.unwrap_or(false),
            proxy_protocol: i.proxy_protocol.unwrap_or(false),
            register_cache_ttl: Duration::from_millis(i.register_cache_ms.unwrap_or(2000)),
            flk: i.flk.unwrap_or(FlkMode::Report),
            limits: Limits {
                max_connections: i.max_connections.unwrap_or(4096),
                listen_backlog: i.listen_backlog.unwrap_or(4096),
                max_frame_bytes: i.max_frame_bytes.unwrap_or(PROTOCOL_MAX_CONTAINER),
                idle_timeout: secs(i.idle_timeout_secs.unwrap_or(60)),
                connection_timeout: secs(i.connection_timeout_secs.unwrap_or(300)),
                source_rate: i.source_rate.unwrap_or(200),
                source_burst: i.source_burst.unwrap_or(2000),
                max_open_per_source: i.max_open_per_source.unwrap_or(256),
                max_open_per_network: i.max_open_per_network.unwrap_or(1024),
                min_frame_bytes_per_sec: i.min_frame_bytes_per_sec.unwrap_or(64),
                read_buffer_budget: i.read_buffer_budget_bytes.unwrap_or(256 << 20),
                log_repeat: secs(i.log_repeat_secs.unwrap_or(10)),
                shutdown_grace: secs(i.shutdown_grace_secs.unwrap_or(30)),
            },
            batch: BatchConfig {
                max_docs: writer.batch_max_docs.unwrap_or(512),
                max_wait: Duration::from_micros(writer.batch_max_wait_us.unwrap_or(2000)),
                queue_capacity: writer.queue_capacity.unwrap_or(8192),
            },
            crypto: crypto.resolve(),
            kz,
            tls,
        };
        config.validate()?;
        Ok(config)
    }
}

impl ServeConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let inn = self.ofd_inn.as_str();
        ensure(
            matches!(inn.len(), 10 | 12) && inn.bytes().all(|b| b.is_ascii_digit()),
            "ingest.ofd_inn",
            || format!("must be 10 or 12 digits, got {inn:?}"),
        )?;
        let l = &self.limits;
        ensure(l.max_connections > 0, "ingest.max_connections", || {
            "must be at least 1".into()
        })?;
        ensure(l.listen_backlog > 0, "ingest.listen_backlog", || {
            "must be at least 1".into()
        })?;
        ensure(
            (32..=PROTOCOL_MAX_CONTAINER).contains(&l.max_frame_bytes),
            "ingest.max_frame_bytes",
            || format!("must be between 32 and {PROTOCOL_MAX_CONTAINER}"),
        )?;
        ensure(
            !l.idle_timeout.is_zero(),
            "ingest.idle_timeout_secs",
            || "must be positive".into(),
        )?;
        ensure(
            !l.connection_timeout.is_zero(),
            "ingest.connection_timeout_secs",
            || "must be positive".into(),
        )?;
        ensure(
            (64..=64 << 20).contains(&self.kz.max_frame),
            "kz.max_frame_bytes",
            || "must be between 64 and 67108864".into(),
        )?;
        ensure(
            l.read_buffer_budget >= 64 * 1024,
            "ingest.read_buffer_budget_bytes",
            || "must be at least 65536".into(),
        )?;
        ensure(self.kz.token_attempts > 0, "kz.token_attempts", || {
            "must be at least 1".into()
        })?;
        ensure(
            !self.kz.token_lockout.is_zero(),
            "kz.token_lockout_secs",
            || "must be positive".into(),
        )?;
        ensure(self.kz.max_shift_secs > 0, "kz.max_shift_hours", || {
            "must be positive".into()
        })?;
        let b = &self.batch;
        ensure(b.max_docs > 0, "store.batch_max_docs", || {
            "must be at least 1".into()
        })?;
        ensure(b.queue_capacity > 0, "store.queue_capacity", || {
            "must be at least 1".into()
        })?;
        Ok(())
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::config_file::assert_keys_are_fields;

    fn options_with_file(text: &str) -> (tempfile::TempDir, ServeOptions) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ofd.toml");
        std::fs::write(&path, text).expect("write");
        let mut options = ServeOptions::default();
        options.file.config = Some(path);
        (dir, options)
    }

    #[test]
    fn flags_override_file_which_overrides_defaults() {
        let (_dir, mut options) = options_with_file(
            "[ingest]\nlisten = \"127.0.0.1:1000\"\nmax_connections = 7\n\
             [store]\ndatabase = \"sqlite://x.db\"\nbatch_max_docs = 5\n\
             [metrics]\nlisten = \"127.0.0.1:1001\"\n\
             [kz]\nmax_shift_hours = 2\n[crypto]\nfpo_len = 18\n",
        );
        options.ingest.max_connections = Some(9);
        options.kz.max_shift_hours = Some(3);
        let config = options.resolve().expect("valid");
        assert_eq!(config.listen, "127.0.0.1:1000".parse().expect("addr"));
        assert_eq!(config.limits.max_connections, 9);
        assert_eq!(config.database, "sqlite://x.db");
        assert_eq!(config.batch.max_docs, 5);
        assert_eq!(config.batch.queue_capacity, 8192);
        assert_eq!(
            config.metrics_listen,
            "127.0.0.1:1001".parse().expect("addr")
        );
        assert_eq!(config.kz.max_shift_secs, 3 * 3600);
        assert_eq!(config.crypto.fpo_len, 18);
        assert_eq!(config.flk, FlkMode::Report);
    }

    #[test]
    fn unknown_file_keys_and_bad_values_are_errors_naming_them() {
        let (_dir, options) = options_with_file("[ingest]\nlisten_addr = \"127.0.0.1:1\"\n");
        let error = options.resolve().expect_err("unknown key");
        assert!(
            matches!(&error, ConfigError::UnknownKey { table, key, .. }
                if table == "ingest" && key == "listen_addr"),
            "{error}"
        );
        let mut options = ServeOptions::default();
        options.ingest.max_frame_bytes = Some(40_000);
        let error = options.resolve().expect_err("too large");
        assert!(
            matches!(
                error,
                ConfigError::Invalid {
                    field: "ingest.max_frame_bytes",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn the_tls_port_needs_its_certificate_and_key() {
        let (_dir, options) = options_with_file(
            "[ingest]\ntls_listen = \"127.0.0.1:7778\"\ntls_cert = \"/etc/ofd/c.pem\"\n",
        );
        let error = options.resolve().expect_err("no key");
        assert!(
            matches!(
                error,
                ConfigError::Invalid {
                    field: "ingest.tls_key",
                    ..
                }
            ),
            "{error}"
        );
        let (_dir, options) = options_with_file(
            "[ingest]\ntls_cert = \"/etc/ofd/c.pem\"\ntls_key = \"/etc/ofd/c.key\"\n",
        );
        let error = options.resolve().expect_err("no port");
        assert!(
            matches!(
                error,
                ConfigError::Invalid {
                    field: "ingest.tls_listen",
                    ..
                }
            ),
            "{error}"
        );
        let (_dir, options) = options_with_file(
            "[ingest]\ntls_listen = \"127.0.0.1:7778\"\ntls_cert = \"c.pem\"\n\
             tls_key = \"c.key\"\ntls_client_ca = \"ca.pem\"\n",
        );
        let tls = options.resolve().expect("valid").tls.expect("TLS port");
        assert_eq!(tls.listen, "127.0.0.1:7778".parse().expect("addr"));
        assert_eq!(tls.files.client_ca, Some(PathBuf::from("ca.pem")));
    }

    #[test]
    fn every_option_is_a_file_key() {
        assert_keys_are_fields::<IngestOptions>();
        assert_keys_are_fields::<MetricsOptions>();
        assert_keys_are_fields::<KzOptions>();
        assert_keys_are_fields::<StoreOptions>();
        assert_keys_are_fields::<CryptoOptions>();
    }

    #[test]
    fn the_example_config_in_deploy_shows_the_defaults() {
        let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/ofd.toml");
        let mut options = ServeOptions::default();
        options.file.config = Some(path);
        let example = options.resolve().expect("deploy/ofd.toml is valid");
        let defaults = ServeOptions::default().resolve().expect("valid defaults");
        assert_eq!(format!("{example:?}"), format!("{defaults:?}"));
    }
}
