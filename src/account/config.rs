//! Configuration of the account service (`ofd account`, and the account API inside `ofd all`):
//! the `[account]` table, `OFD_ACCOUNT_*` variables and flags, declared once each in
//! [`AccountOptions`] and resolved into an [`AccountConfig`]. Its database is the shared
//! `--database` / `[store] database`. Precedence as everywhere: flag, env var, file, default
//! ([`crate::config_file`]).
//!
//! HTTPS takes the same three options as the ingest TLS port and the tax sink (`tls_cert`,
//! `tls_key`, `tls_client_ca`; the pair is re-read on SIGHUP). Plain HTTP is for loopback only,
//! as the forwarder's sink URL is: a non-loopback `listen` without a certificate is refused.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::config_file::ConfigError;
use crate::secret::Secret;
use crate::tls::TlsFiles;

/// Where the account API listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8088";
/// How long a cabinet session lives after login unless told otherwise.
pub const DEFAULT_SESSION_HOURS: u64 = 12;
/// Failed logins of one account within the lock window that lock it.
pub const DEFAULT_MAX_FAILURES_PER_ACCOUNT: u32 = 5;
/// Failed logins from one source address within the lock window that lock the address.
pub const DEFAULT_MAX_FAILURES_PER_ADDRESS: u32 = 20;
/// The lock window: failures older than this no longer count, so a lock lifts after it.
pub const DEFAULT_LOCK_SECONDS: u64 = 900;
/// Period of the client-alert evaluator unless told otherwise.
pub const DEFAULT_ALERT_INTERVAL_SECS: u64 = 60;
/// Days a register may stay unpaid after its tariff ends before it is blocked.
pub const DEFAULT_TARIFF_GRACE_DAYS: u64 = 3;
/// Seconds between two rounds of the tariff check.
pub const DEFAULT_TARIFF_CHECK_SECONDS: u64 = 300;
/// Sender of outgoing mail unless told otherwise.
pub const DEFAULT_MAIL_FROM: &str = "OFD <no-reply@localhost>";

/// Account service options, one declaration each: a flag, an env var and an `[account]` key.
#[derive(clap::Args, Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct AccountOptions {
    /// Address of the API and its pages: HTTPS with tls_cert and tls_key, plain HTTP only on a
    /// loopback address. [default: 127.0.0.1:8088]
    #[arg(long, env = "OFD_ACCOUNT_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// PEM certificate chain for HTTPS, re-read on SIGHUP (needs tls_key). [default: none]
    #[arg(
        id = "account.tls_cert",
        long = "account-tls-cert",
        env = "OFD_ACCOUNT_TLS_CERT",
        value_name = "PATH"
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of tls_cert, re-read on SIGHUP. [default: none]
    #[arg(
        id = "account.tls_key",
        long = "account-tls-key",
        env = "OFD_ACCOUNT_TLS_KEY",
        value_name = "PATH"
    )]
    pub tls_key: Option<PathBuf>,
    /// PEM CA bundle: clients must present a certificate it signed (mutual TLS).
    /// [default: none]
    #[arg(
        id = "account.tls_client_ca",
        long = "account-tls-client-ca",
        env = "OFD_ACCOUNT_TLS_CLIENT_CA",
        value_name = "PATH"
    )]
    pub tls_client_ca: Option<PathBuf>,
    /// Base URL of the cabinet as users reach it; links in mail start with it, and the session
    /// cookie is `Secure` when it is https. [default: http://<listen>]
    #[arg(long, env = "OFD_ACCOUNT_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// SMTP server for outgoing mail (smtp://host:port plain, smtps:// TLS, or
    /// smtp://…?tls=required for STARTTLS; user:password@ in the URL). Without it mail stays in
    /// the outbox table.
    #[arg(long, env = "OFD_ACCOUNT_SMTP_URL", value_name = "URL")]
    pub smtp_url: Option<Secret>,
    /// Sender address of outgoing mail. [default: OFD <no-reply@localhost>]
    #[arg(long, env = "OFD_ACCOUNT_MAIL_FROM", value_name = "ADDR")]
    pub mail_from: Option<String>,
    /// Lifetime of a cabinet session after login, in hours. [default: 12]
    #[arg(long, env = "OFD_ACCOUNT_SESSION_HOURS", value_name = "HOURS")]
    pub session_hours: Option<u64>,
    /// Failed logins of one account within the lock window that lock it. [default: 5]
    #[arg(long, env = "OFD_ACCOUNT_MAX_FAILURES_PER_ACCOUNT", value_name = "N")]
    pub max_failures_per_account: Option<u32>,
    /// Failed logins from one address within the lock window that lock it. [default: 20]
    #[arg(long, env = "OFD_ACCOUNT_MAX_FAILURES_PER_ADDRESS", value_name = "N")]
    pub max_failures_per_address: Option<u32>,
    /// The lock window in seconds: a lock lifts this long after the last failure. [default: 900]
    #[arg(long, env = "OFD_ACCOUNT_LOCK_SECONDS", value_name = "SECONDS")]
    pub lock_seconds: Option<u64>,
    /// Prometheus `/metrics`, `/healthz` and `/readyz` of the account service (firing client
    /// alerts, webhook deliveries). [default: none]
    #[arg(
        id = "account.metrics_listen",
        long = "account-metrics-listen",
        env = "OFD_ACCOUNT_METRICS_LISTEN",
        value_name = "ADDR"
    )]
    pub metrics_listen: Option<SocketAddr>,
    /// How often the client-alert evaluator runs, in seconds. [default: 60]
    #[arg(long, env = "OFD_ACCOUNT_ALERT_INTERVAL_SECS", value_name = "SECONDS")]
    pub alert_interval_secs: Option<u64>,
    /// Allow plain-http webhook URLs (labs and tests); otherwise webhooks must be https.
    /// [default: false]
    #[arg(long, env = "OFD_ACCOUNT_WEBHOOK_ALLOW_HTTP", value_name = "BOOL", num_args = 0..=1,
          default_missing_value = "true")]
    pub webhook_allow_http: Option<bool>,
    /// Days a register's tariff may stay unpaid after it ends before the register is blocked
    /// (0: blocked as soon as it ends). [default: 3]
    #[arg(long, env = "OFD_ACCOUNT_TARIFF_GRACE_DAYS", value_name = "DAYS")]
    pub tariff_grace_days: Option<u64>,
    /// Seconds between two rounds of the tariff check (1 to 86400). [default: 300]
    #[arg(long, env = "OFD_ACCOUNT_TARIFF_CHECK_SECONDS", value_name = "SECONDS")]
    pub tariff_check_seconds: Option<u64>,
    /// Most rows one document export may hold (a request may ask for fewer). [default: 1000000]
    #[arg(long, env = "OFD_ACCOUNT_EXPORT_MAX_ROWS", value_name = "N")]
    pub export_max_rows: Option<u64>,
}

crate::layer!(AccountOptions {
    listen,
    tls_cert,
    tls_key,
    tls_client_ca,
    public_url,
    smtp_url,
    mail_from,
    session_hours,
    max_failures_per_account,
    max_failures_per_address,
    lock_seconds,
    metrics_listen,
    alert_interval_secs,
    webhook_allow_http,
    tariff_grace_days,
    tariff_check_seconds,
    export_max_rows,
});

/// Rows an export may hold unless the operator says otherwise.
pub const DEFAULT_EXPORT_MAX_ROWS: u64 = 1_000_000;

/// The account service's settings, resolved.
#[derive(Debug, Clone)]
pub struct AccountConfig {
    /// Address of the HTTP API.
    pub listen: SocketAddr,
    /// HTTPS certificate, key and optional client CA; `None`: plain HTTP on loopback.
    pub tls: Option<TlsFiles>,
    /// Base URL of the cabinet (no trailing slash).
    pub public_url: String,
    /// SMTP server for outgoing mail.
    pub smtp_url: Option<Secret>,
    /// Sender of outgoing mail.
    pub mail_from: String,
    /// Session lifetime.
    pub session_ttl: Duration,
    /// Failures that lock an account.
    pub max_failures_per_account: u32,
    /// Failures that lock a source address.
    pub max_failures_per_address: u32,
    /// The lock window.
    pub lock_window: Duration,
    /// Where `/metrics`, `/healthz` and `/readyz` are served, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    /// Period of the client-alert evaluator.
    pub alert_interval: Duration,
    /// Whether webhook URLs may be plain http.
    pub webhook_allow_http: bool,
    /// How long a register may stay unpaid after its tariff ends before it is blocked.
    pub tariff_grace: Duration,
    /// Time between two rounds of the tariff check.
    pub tariff_check_every: Duration,
    /// Most rows of one export.
    pub export_max_rows: u64,
}

impl AccountConfig {
    /// Whether the session cookie is marked `Secure` (the cabinet is reached over TLS).
    pub fn secure_cookie(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// The public address when `public_url` is not set: the listening address, with this machine's
/// loopback for an unspecified one (`0.0.0.0:8088` is not an address a browser can open).
pub(crate) fn default_public_url(scheme: &str, listen: SocketAddr) -> String {
    let mut reachable = listen;
    if listen.ip().is_unspecified() {
        reachable.set_ip(match listen {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("{scheme}://{reachable}")
}

impl AccountOptions {
    /// Fill what no layer set from the defaults.
    pub fn resolve(self) -> Result<AccountConfig, ConfigError> {
        let listen = self
            .listen
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default"));
        let tls = TlsFiles::from_options(self.tls_cert, self.tls_key, self.tls_client_ca).map_err(
            |missing| {
                ConfigError::invalid(
                    if missing == "tls_key" {
                        "account.tls_key"
                    } else {
                        "account.tls_cert"
                    },
                    "tls_cert and tls_key go together (and tls_client_ca needs them)",
                )
            },
        )?;
        if tls.is_none() && !listen.ip().is_loopback() {
            return Err(ConfigError::invalid(
                "account.listen",
                format!(
                    "{listen} is not a loopback address: serve HTTPS there (tls_cert, tls_key) \
                     or listen on 127.0.0.1 behind a TLS proxy"
                ),
            ));
        }
        let scheme = if tls.is_some() { "https" } else { "http" };
        let grace_days = self.tariff_grace_days.unwrap_or(DEFAULT_TARIFF_GRACE_DAYS);
        if grace_days > 3_660 {
            return Err(ConfigError::invalid(
                "account.tariff_grace_days",
                format!("{grace_days} days: at most 3660"),
            ));
        }
        let check_seconds = self
            .tariff_check_seconds
            .unwrap_or(DEFAULT_TARIFF_CHECK_SECONDS);
        if !(1..=86_400).contains(&check_seconds) {
            return Err(ConfigError::invalid(
                "account.tariff_check_seconds",
                format!("{check_seconds}: between 1 and 86400"),
            ));
        }
        Ok(AccountConfig {
            listen,
            tls,
            public_url: self
                .public_url
                .map(|url| url.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| default_public_url(scheme, listen)),
            smtp_url: self.smtp_url,
            mail_from: self
                .mail_from
                .unwrap_or_else(|| DEFAULT_MAIL_FROM.to_owned()),
            session_ttl: Duration::from_secs(
                self.session_hours.unwrap_or(DEFAULT_SESSION_HOURS) * 3600,
            ),
            max_failures_per_account: self
                .max_failures_per_account
                .unwrap_or(DEFAULT_MAX_FAILURES_PER_ACCOUNT),
            max_failures_per_address: self
                .max_failures_per_address
                .unwrap_or(DEFAULT_MAX_FAILURES_PER_ADDRESS),
            lock_window: Duration::from_secs(self.lock_seconds.unwrap_or(DEFAULT_LOCK_SECONDS)),
            metrics_listen: self.metrics_listen,
            alert_interval: Duration::from_secs(
                match self
                    .alert_interval_secs
                    .unwrap_or(DEFAULT_ALERT_INTERVAL_SECS)
                {
                    0 => {
                        return Err(ConfigError::invalid(
                            "account.alert_interval_secs",
                            "must be at least 1 second",
                        ))
                    }
                    secs => secs,
                },
            ),
            webhook_allow_http: self.webhook_allow_http.unwrap_or(false),
            tariff_grace: Duration::from_secs(grace_days * 86_400),
            tariff_check_every: Duration::from_secs(check_seconds),
            export_max_rows: self
                .export_max_rows
                .unwrap_or(DEFAULT_EXPORT_MAX_ROWS)
                .max(1),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config_file::{assert_keys_are_fields, ConfigFile, Layer};

    #[test]
    fn flags_over_the_account_table_over_defaults() {
        let file = ConfigFile::parse(
            Path::new("t.toml"),
            "[account]\nlisten = \"127.0.0.1:9100\"\n",
        )
        .expect("parses");
        let from_file: AccountOptions = file.table("account").expect("valid");
        assert_eq!(
            AccountOptions::default()
                .over(from_file.clone())
                .resolve()
                .expect("valid")
                .listen,
            "127.0.0.1:9100".parse().expect("addr")
        );
        let flags = AccountOptions {
            listen: Some("127.0.0.1:9101".parse().expect("addr")),
            ..AccountOptions::default()
        };
        assert_eq!(
            flags.over(from_file).resolve().expect("valid").listen,
            "127.0.0.1:9101".parse().expect("addr")
        );
        assert_eq!(
            AccountOptions::default().resolve().expect("valid").listen,
            DEFAULT_LISTEN.parse().expect("addr")
        );
        assert_keys_are_fields::<AccountOptions>();
    }

    #[test]
    fn the_default_public_url_is_an_address_a_browser_can_open() {
        let url = |listen: &str| default_public_url("http", listen.parse().expect("addr"));
        assert_eq!(url("127.0.0.1:8088"), "http://127.0.0.1:8088");
        assert_eq!(url("0.0.0.0:8088"), "http://127.0.0.1:8088");
        assert_eq!(url("[::]:8088"), "http://[::1]:8088");
        assert_eq!(url("10.1.2.3:80"), "http://10.1.2.3:80");
    }

    #[test]
    fn the_tariff_grace_period_comes_from_the_account_table() {
        let file = ConfigFile::parse(
            Path::new("t.toml"),
            "[account]\ntariff_grace_days = 7\ntariff_check_seconds = 60\n",
        )
        .expect("parses");
        let options: AccountOptions = file.table("account").expect("valid");
        let config = options.resolve().expect("valid");
        assert_eq!(config.tariff_grace, Duration::from_secs(7 * 86_400));
        assert_eq!(config.tariff_check_every, Duration::from_secs(60));
        let defaults = AccountOptions::default().resolve().expect("valid");
        assert_eq!(
            defaults.tariff_grace,
            Duration::from_secs(DEFAULT_TARIFF_GRACE_DAYS * 86_400)
        );
        let error = AccountOptions {
            tariff_check_seconds: Some(0),
            ..AccountOptions::default()
        }
        .resolve()
        .expect_err("no round every 0 s");
        assert!(
            matches!(
                error,
                ConfigError::Invalid {
                    field: "account.tariff_check_seconds",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn the_example_config_in_deploy_shows_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/ofd.toml");
        let file = ConfigFile::load(Some(&path)).expect("deploy/ofd.toml parses");
        let example: AccountOptions = file.table("account").expect("valid [account]");
        assert_eq!(
            example.resolve().expect("valid").listen,
            AccountOptions::default().resolve().expect("valid").listen
        );
    }

    #[test]
    fn plain_http_only_on_loopback_and_tls_files_go_together() {
        let public = AccountOptions {
            listen: Some("0.0.0.0:8443".parse().expect("addr")),
            ..AccountOptions::default()
        };
        let error = public.clone().resolve().expect_err("plain HTTP in public");
        assert!(
            matches!(
                error,
                ConfigError::Invalid {
                    field: "account.listen",
                    ..
                }
            ),
            "{error}"
        );
        let https = AccountOptions {
            tls_cert: Some("c.pem".into()),
            tls_key: Some("c.key".into()),
            ..public.clone()
        }
        .resolve()
        .expect("HTTPS anywhere");
        assert_eq!(https.tls.expect("tls").cert, PathBuf::from("c.pem"));
        let error = AccountOptions {
            tls_cert: Some("c.pem".into()),
            ..public
        }
        .resolve()
        .expect_err("no key");
        assert!(
            matches!(
                error,
                ConfigError::Invalid {
                    field: "account.tls_key",
                    ..
                }
            ),
            "{error}"
        );
    }
}
