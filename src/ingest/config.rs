//! Configuration of the server roles: a TOML file, then environment variables, then flags.
//!
//! Precedence, highest first: command-line flag, `OFD_*` environment variable (clap reads both),
//! the TOML file named by `--config`, the built-in default. Every option therefore exists once as
//! a flag (documented by `ofd serve --help`), once as an env var and once as a file key; the
//! commented example in `deploy/ofd.toml` lists them all. Unknown file keys are errors, so a typo
//! cannot silently fall back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use crate::crypto::{CryptoArgs, CryptoConfig};

/// How format-logical control (ФЛК) failures are answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FlkMode {
    /// Store, answer code 0, flag the document (the start-up default while rules are new).
    Report,
    /// Store, answer code 14 (and 1206 bit 2 for ФФД 1.1+).
    Enforce,
}

/// Options of `ofd serve` (and `ofd all`). Every field is optional so that the file and the
/// defaults can fill what the command line and environment leave out.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct ServeOptions {
    /// TOML configuration file (see deploy/ofd.toml). Flags and env vars override it.
    #[arg(long, env = "OFD_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Address registers connect to (both dialects share it). [default: 0.0.0.0:7777]
    #[arg(long, env = "OFD_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Address of the Prometheus `/metrics` endpoint. [default: 127.0.0.1:9898]
    #[arg(long, env = "OFD_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Database URL: sqlite://PATH (embedded, WAL, synchronous=FULL) or postgres://…
    /// [default: sqlite://ofd.db]
    #[arg(long, env = "OFD_DATABASE", value_name = "URL")]
    pub database: Option<String>,
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
    /// reused for later documents of the same ФН: a status change reaches ingest within this
    /// time. 0 reads the database for every document. [default: 2000]
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
    /// Seconds to finish in-flight documents after SIGTERM/ctrl-c before exiting anyway.
    /// [default: 30]
    #[arg(long, env = "OFD_SHUTDOWN_GRACE_SECS", value_name = "SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// Group commit: most documents in one transaction. [default: 512]
    #[arg(long, env = "OFD_BATCH_MAX_DOCS", value_name = "N")]
    pub batch_max_docs: Option<usize>,
    /// Group commit: longest wait in microseconds for a batch to fill once it has one document.
    /// [default: 2000]
    #[arg(long, env = "OFD_BATCH_MAX_WAIT_US", value_name = "MICROS")]
    pub batch_max_wait_us: Option<u64>,
    /// Documents that may wait for the writer; when full, connections wait (backpressure).
    /// [default: 8192]
    #[arg(long, env = "OFD_QUEUE_CAPACITY", value_name = "N")]
    pub queue_capacity: Option<usize>,
    /// The crypto unit that verifies fiscal signs and signs acknowledgements.
    #[command(flatten)]
    pub crypto: CryptoArgs,
    /// KZ: base of the receipt check URL sent in `qr_code` (`<base>?i=…&f=…&s=…&t=…`).
    /// [default: http://localhost:8080/check]
    #[arg(long, env = "OFD_KZ_QR_BASE", value_name = "URL")]
    pub kz_qr_base: Option<String>,
    /// KZ: largest accepted frame (SIZE) in bytes. [default: 1048576]
    #[arg(long, env = "OFD_KZ_MAX_FRAME_BYTES", value_name = "BYTES")]
    pub kz_max_frame_bytes: Option<u32>,
    /// KZ: hours a shift may stay open before OPEN_SHIFT_TIMEOUT_EXPIRED. [default: 24]
    #[arg(long, env = "OFD_KZ_MAX_SHIFT_HOURS", value_name = "HOURS")]
    pub kz_max_shift_hours: Option<u32>,
    /// KZ: oldest offline receipt accepted, in hours, by its own time. [default: 72]
    #[arg(long, env = "OFD_KZ_MAX_OFFLINE_HOURS", value_name = "HOURS")]
    pub kz_max_offline_hours: Option<u32>,
}

/// The TOML file: one table per area.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `[store]`: database and group commit.
    #[serde(default)]
    pub store: StoreFile,
    /// `[metrics]`: the Prometheus endpoint.
    #[serde(default)]
    pub metrics: MetricsFile,
    /// `[ingest]`: the register-facing listener.
    #[serde(default)]
    pub ingest: IngestFile,
    /// `[crypto]`: the crypto unit.
    #[serde(default)]
    pub crypto: CryptoConfig,
    /// `[kz]`: the KZ dialect.
    #[serde(default)]
    pub kz: KzFile,
}

/// `[kz]` keys.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct KzFile {
    /// See `--kz-qr-base`.
    pub qr_base: Option<String>,
    /// See `--kz-max-frame-bytes`.
    pub max_frame_bytes: Option<u32>,
    /// See `--kz-max-shift-hours`.
    pub max_shift_hours: Option<u32>,
    /// See `--kz-max-offline-hours`.
    pub max_offline_hours: Option<u32>,
}

/// `[store]` keys.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct StoreFile {
    /// See `--database`.
    pub database: Option<String>,
    /// See `--batch-max-docs`.
    pub batch_max_docs: Option<usize>,
    /// See `--batch-max-wait-us`.
    pub batch_max_wait_us: Option<u64>,
    /// See `--queue-capacity`.
    pub queue_capacity: Option<usize>,
}

/// `[metrics]` keys.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct MetricsFile {
    /// See `--metrics-listen`.
    pub listen: Option<SocketAddr>,
}

/// `[ingest]` keys.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct IngestFile {
    /// See `--listen`.
    pub listen: Option<SocketAddr>,
    /// See `--ofd-inn`.
    pub ofd_inn: Option<String>,
    /// See `--accept-unregistered`.
    pub accept_unregistered: Option<bool>,
    /// See `--register-cache-ms`.
    pub register_cache_ms: Option<u64>,
    /// See `--flk`.
    pub flk: Option<FlkMode>,
    /// See `--max-connections`.
    pub max_connections: Option<usize>,
    /// See `--listen-backlog`.
    pub listen_backlog: Option<u32>,
    /// See `--max-frame-bytes`.
    pub max_frame_bytes: Option<u32>,
    /// See `--idle-timeout-secs`.
    pub idle_timeout_secs: Option<u64>,
    /// See `--connection-timeout-secs`.
    pub connection_timeout_secs: Option<u64>,
    /// See `--source-rate`.
    pub source_rate: Option<u32>,
    /// See `--source-burst`.
    pub source_burst: Option<u32>,
    /// See `--shutdown-grace-secs`.
    pub shutdown_grace_secs: Option<u64>,
}

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
    /// Read the file (if any), apply the precedence rules and validate the result.
    pub fn resolve(&self) -> anyhow::Result<ServeConfig> {
        let mut file = match &self.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        self.crypto.clone().apply(&mut file.crypto);
        let (i, s, k) = (&file.ingest, &file.store, &file.kz);
        let kz_defaults = crate::ingest::kz::KzConfig::default();
        let hours = |h: u32| i64::from(h) * 3600;
        let kz = crate::ingest::kz::KzConfig {
            qr_base: pick(
                self.kz_qr_base.clone(),
                k.qr_base.clone(),
                kz_defaults.qr_base.clone(),
            ),
            max_frame: pick(
                self.kz_max_frame_bytes,
                k.max_frame_bytes,
                kz_defaults.max_frame,
            ),
            max_shift_secs: hours(pick(self.kz_max_shift_hours, k.max_shift_hours, 24)),
            max_offline_age_secs: hours(pick(self.kz_max_offline_hours, k.max_offline_hours, 72)),
            ..kz_defaults
        };
        let config = ServeConfig {
            listen: pick(self.listen, i.listen, ([0, 0, 0, 0], 7777).into()),
            metrics_listen: pick(
                self.metrics_listen,
                file.metrics.listen,
                ([127, 0, 0, 1], 9898).into(),
            ),
            database: pick(
                self.database.clone(),
                s.database.clone(),
                "sqlite://ofd.db".to_owned(),
            ),
            ofd_inn: pick(
                self.ofd_inn.clone(),
                i.ofd_inn.clone(),
                "0000000000".to_owned(),
            ),
            accept_unregistered: pick(self.accept_unregistered, i.accept_unregistered, false),
            register_cache_ttl: Duration::from_millis(pick(
                self.register_cache_ms,
                i.register_cache_ms,
                2000,
            )),
            flk: pick(self.flk, i.flk, FlkMode::Report),
            limits: Limits {
                max_connections: pick(self.max_connections, i.max_connections, 4096),
                listen_backlog: pick(self.listen_backlog, i.listen_backlog, 4096),
                max_frame_bytes: pick(
                    self.max_frame_bytes,
                    i.max_frame_bytes,
                    PROTOCOL_MAX_CONTAINER,
                ),
                idle_timeout: secs(pick(self.idle_timeout_secs, i.idle_timeout_secs, 60)),
                connection_timeout: secs(pick(
                    self.connection_timeout_secs,
                    i.connection_timeout_secs,
                    300,
                )),
                source_rate: pick(self.source_rate, i.source_rate, 200),
                source_burst: pick(self.source_burst, i.source_burst, 2000),
                shutdown_grace: secs(pick(self.shutdown_grace_secs, i.shutdown_grace_secs, 30)),
            },
            batch: BatchConfig {
                max_docs: pick(self.batch_max_docs, s.batch_max_docs, 512),
                max_wait: Duration::from_micros(pick(
                    self.batch_max_wait_us,
                    s.batch_max_wait_us,
                    2000,
                )),
                queue_capacity: pick(self.queue_capacity, s.queue_capacity, 8192),
            },
            crypto: file.crypto,
            kz,
        };
        config.validate()?;
        Ok(config)
    }
}

impl FileConfig {
    /// Parse a TOML file; unknown keys are errors.
    pub fn load(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
    }
}

impl ServeConfig {
    fn validate(&self) -> anyhow::Result<()> {
        let inn = self.ofd_inn.as_str();
        anyhow::ensure!(
            matches!(inn.len(), 10 | 12) && inn.bytes().all(|b| b.is_ascii_digit()),
            "ofd_inn must be 10 or 12 digits, got {inn:?}"
        );
        let l = &self.limits;
        anyhow::ensure!(l.max_connections > 0, "max_connections must be at least 1");
        anyhow::ensure!(l.listen_backlog > 0, "listen_backlog must be at least 1");
        anyhow::ensure!(
            (32..=PROTOCOL_MAX_CONTAINER).contains(&l.max_frame_bytes),
            "max_frame_bytes must be between 32 and {PROTOCOL_MAX_CONTAINER}"
        );
        anyhow::ensure!(
            !l.idle_timeout.is_zero(),
            "idle_timeout_secs must be positive"
        );
        anyhow::ensure!(
            !l.connection_timeout.is_zero(),
            "connection_timeout_secs must be positive"
        );
        anyhow::ensure!(
            (64..=64 << 20).contains(&self.kz.max_frame),
            "kz max_frame_bytes must be between 64 and 67108864"
        );
        anyhow::ensure!(
            self.kz.max_shift_secs > 0,
            "kz max_shift_hours must be positive"
        );
        let b = &self.batch;
        anyhow::ensure!(b.max_docs > 0, "batch_max_docs must be at least 1");
        anyhow::ensure!(b.queue_capacity > 0, "queue_capacity must be at least 1");
        Ok(())
    }
}

/// Flag or env var first, then the file, then the default.
fn pick<T>(cli: Option<T>, file: Option<T>, default: T) -> T {
    cli.or(file).unwrap_or(default)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ofd.toml");
        std::fs::write(
            &path,
            "[ingest]\nlisten = \"127.0.0.1:1000\"\nmax_connections = 7\n\
             [store]\ndatabase = \"sqlite://x.db\"\n",
        )
        .expect("write");
        let options = ServeOptions {
            config: Some(path),
            max_connections: Some(9),
            ..Default::default()
        };
        let config = options.resolve().expect("valid");
        assert_eq!(config.listen, "127.0.0.1:1000".parse().expect("addr"));
        assert_eq!(config.limits.max_connections, 9);
        assert_eq!(config.database, "sqlite://x.db");
        assert_eq!(
            config.metrics_listen,
            "127.0.0.1:9898".parse().expect("addr")
        );
        assert_eq!(config.flk, FlkMode::Report);
    }

    #[test]
    fn unknown_file_keys_and_bad_values_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ofd.toml");
        std::fs::write(&path, "[ingest]\nlisten_addr = \"127.0.0.1:1\"\n").expect("write");
        let options = ServeOptions {
            config: Some(path),
            ..Default::default()
        };
        assert!(options.resolve().is_err());
        let options = ServeOptions {
            max_frame_bytes: Some(40_000),
            ..Default::default()
        };
        assert!(options.resolve().is_err());
    }

    #[test]
    fn the_example_config_in_deploy_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/ofd.toml");
        let options = ServeOptions {
            config: Some(path),
            ..Default::default()
        };
        options.resolve().expect("deploy/ofd.toml is valid");
    }
}
