//! The `[store]` table: where the database is ([`DatabaseArgs`], the `--database` option every
//! role and tool shares) and how the group-commit writer batches ([`WriterOptions`], read by the
//! ingest server only). Every role that reads the file checks the whole table, so a typo in it
//! is reported by whichever process starts first.

use std::sync::Once;

use serde::Deserialize;

use super::schema::SchemaUpgrade;

/// The database of every role when nothing names one: an SQLite file in the working directory.
pub const DEFAULT_DATABASE: &str = "sqlite://ofd.db";

/// The environment variable `ofd migrate` and `ofd register` used to read. It is still honoured
/// when `OFD_DATABASE` and `--database` are absent, with a warning, so that existing scripts do
/// not silently switch to `./ofd.db`.
pub const DEPRECATED_DATABASE_ENV: &str = "OFD_DATABASE_URL";

/// `--database` / `OFD_DATABASE` / `[store] database`: declared once, flattened into every role
/// and tool that opens the store.
#[derive(clap::Args, Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct DatabaseArgs {
    /// Database URL: sqlite://PATH (embedded, created if missing; WAL, synchronous=FULL) or
    /// postgres://user@host/db. OFD_DATABASE_URL is read as a deprecated alias.
    /// [default: sqlite://ofd.db]
    #[arg(
        id = "database",
        long = "database",
        env = "OFD_DATABASE",
        value_name = "URL",
        global = true
    )]
    #[serde(rename = "database")]
    pub url: Option<String>,
    /// When the database's schema is older than this ofd's: `auto` migrates on start, `refuse`
    /// stops with a message (upgrade with `ofd migrate`). A newer schema is always refused.
    /// [default: auto]
    #[arg(
        id = "schema_upgrade",
        long = "schema-upgrade",
        env = "OFD_SCHEMA_UPGRADE",
        value_name = "POLICY",
        global = true
    )]
    pub schema_upgrade: Option<SchemaUpgrade>,
}

crate::layer!(DatabaseArgs {
    url,
    schema_upgrade
});

impl DatabaseArgs {
    /// The schema policy: flag, `OFD_SCHEMA_UPGRADE`, the file's `[store] schema_upgrade`,
    /// `auto`.
    pub fn schema_upgrade(&self, file: &DatabaseArgs) -> SchemaUpgrade {
        self.schema_upgrade
            .or(file.schema_upgrade)
            .unwrap_or_default()
    }

    /// The URL to open: flag, `OFD_DATABASE`, the deprecated `OFD_DATABASE_URL`, the file's
    /// `[store] database`, the default, in that order.
    pub fn resolve(self, file: DatabaseArgs) -> String {
        let alias = || {
            let value = std::env::var(DEPRECATED_DATABASE_ENV)
                .ok()
                .filter(|v| !v.is_empty())?;
            static WARNED: Once = Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "{DEPRECATED_DATABASE_ENV} is deprecated and will be removed; \
                     set OFD_DATABASE (or --database) instead"
                );
            });
            Some(value)
        };
        self.url
            .or_else(alias)
            .or(file.url)
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned())
    }
}

/// Group-commit tuning of the ingest server's writer (`[store]` keys; flags of `ofd serve`).
#[derive(clap::Args, Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct WriterOptions {
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
}

crate::layer!(WriterOptions {
    batch_max_docs,
    batch_max_wait_us,
    queue_capacity
});

/// The whole `[store]` table. Roles other than ingest read it for `database` and take only
/// [`DatabaseArgs`] as flags.
#[derive(clap::Args, Deserialize, Debug, Default, Clone)]
pub struct StoreOptions {
    /// Where the database is.
    #[command(flatten)]
    #[serde(flatten)]
    pub database: DatabaseArgs,
    /// Group commit.
    #[command(flatten)]
    #[serde(flatten)]
    pub writer: WriterOptions,
}

crate::layer!(StoreOptions { database, writer });

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config_file::ConfigFile;

    #[test]
    fn the_store_table_splits_into_database_and_writer() {
        let file = ConfigFile::parse(
            Path::new("t.toml"),
            "[store]\ndatabase = \"sqlite://file.db\"\nbatch_max_docs = 7\n",
        )
        .expect("parses");
        let store: StoreOptions = file.table("store").expect("valid");
        assert_eq!(store.database.url.as_deref(), Some("sqlite://file.db"));
        assert_eq!(store.writer.batch_max_docs, Some(7));
        let flag = DatabaseArgs {
            url: Some("sqlite://flag.db".into()),
            ..DatabaseArgs::default()
        };
        assert_eq!(flag.resolve(store.database.clone()), "sqlite://flag.db");
        assert!(file
            .table::<StoreOptions>("store")
            .is_ok_and(|s| s.writer.queue_capacity.is_none()));
        let error = ConfigFile::parse(Path::new("t.toml"), "[store]\ndatabse = \"x\"\n")
            .expect("parses")
            .table::<StoreOptions>("store")
            .expect_err("typo");
        assert!(error.to_string().contains("`databse`"), "{error}");
    }
}
