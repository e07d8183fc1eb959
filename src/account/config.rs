//! Configuration of the account service (`ofd account`, and the account API inside `ofd all`):
//! the `[account]` table, `OFD_ACCOUNT_*` variables and flags, declared once each in
//! [`AccountOptions`] and resolved into an [`AccountConfig`]. Its database is the shared
//! `--database` / `[store] database`. Precedence as everywhere: flag, env var, file, default
//! ([`crate::config_file`]).

use std::net::SocketAddr;

use serde::Deserialize;

/// Where the account API listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8088";

/// Account service options, one declaration each: a flag, an env var and an `[account]` key.
#[derive(clap::Args, Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct AccountOptions {
    /// Address of the HTTP API (keep it private or behind TLS). [default: 127.0.0.1:8088]
    #[arg(long, env = "OFD_ACCOUNT_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
}

crate::layer!(AccountOptions { listen });

/// The account service's settings, resolved.
#[derive(Debug, Clone)]
pub struct AccountConfig {
    /// Address of the HTTP API.
    pub listen: SocketAddr,
}

impl AccountOptions {
    /// Fill what no layer set from the defaults.
    pub fn resolve(self) -> AccountConfig {
        AccountConfig {
            listen: self
                .listen
                .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default")),
        }
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
                .listen,
            "127.0.0.1:9100".parse().expect("addr")
        );
        let flags = AccountOptions {
            listen: Some("127.0.0.1:9101".parse().expect("addr")),
        };
        assert_eq!(
            flags.over(from_file).resolve().listen,
            "127.0.0.1:9101".parse().expect("addr")
        );
        assert_eq!(
            AccountOptions::default().resolve().listen,
            DEFAULT_LISTEN.parse().expect("addr")
        );
        assert_keys_are_fields::<AccountOptions>();
    }

    #[test]
    fn the_example_config_in_deploy_shows_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/ofd.toml");
        let file = ConfigFile::load(Some(&path)).expect("deploy/ofd.toml parses");
        let example: AccountOptions = file.table("account").expect("valid [account]");
        assert_eq!(
            example.resolve().listen,
            AccountOptions::default().resolve().listen
        );
    }
}
