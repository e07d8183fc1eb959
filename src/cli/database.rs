//! The `--database` option shared by every tool that opens the store.

/// Where the database is: flag, then `OFD_DATABASE_URL`, then the embedded default.
#[derive(clap::Args, Debug, Clone)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://path` (created if missing) or `postgres://user@host/db`.
    #[arg(
        long = "database",
        env = "OFD_DATABASE_URL",
        default_value = "sqlite://ofd.db",
        global = true
    )]
    pub url: String,
}
