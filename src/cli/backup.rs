//! `ofd backup --to PATH` and `ofd restore --check PATH`: an online, verified copy of the SQLite
//! store, and the check of a copy before it is trusted (see [`crate::store::backup`]). Restoring
//! a SQLite backup is copying the checked file into place with every role stopped; PostgreSQL is
//! backed up with `pg_dump` and a restored copy checked here by URL.

use std::path::PathBuf;

use crate::config_file::ConfigArg;
use crate::store::backup;
use crate::store::config::{DatabaseArgs, StoreOptions};

/// Arguments of `ofd backup`.
#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    /// The new backup file (never overwritten); its manifest is written beside it as
    /// PATH.manifest.json.
    #[arg(long, value_name = "PATH")]
    to: PathBuf,
    /// `--config` (its `[store] database`).
    #[command(flatten)]
    file: ConfigArg,
    /// `--database`: the live database.
    #[command(flatten)]
    database: DatabaseArgs,
}

/// Arguments of `ofd restore`.
#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    /// Verify this backup (a SQLite file, or the postgres://… URL of a database restored from a
    /// dump): integrity, schema version, row counts and checksums per table, compared with the
    /// manifest written at backup time when it is there. Prints the findings as JSON.
    #[arg(long, value_name = "PATH_OR_URL", required = true)]
    check: String,
}

/// Take the backup and print its manifest.
pub async fn run_backup(args: BackupArgs) -> anyhow::Result<()> {
    let store_file: StoreOptions = args.file.load()?.table("store")?;
    let url = args.database.resolve(store_file.database);
    let manifest = backup::backup(&url, &args.to).await?;
    tracing::info!(
        to = %args.to.display(),
        schema_version = manifest.schema_version,
        "backup written and verified"
    );
    println!("{}", serde_json::to_string_pretty(&manifest)?);
    Ok(())
}

/// Check a backup and print what was found.
pub async fn run_restore(args: RestoreArgs) -> anyhow::Result<()> {
    let report = backup::check(&args.check).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
