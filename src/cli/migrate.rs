//! `ofd migrate`: create or upgrade the schema, then report what is applied. Every role also
//! migrates on start; this is for operators who upgrade the schema ahead of a rollout.

use sqlx::Row as _;

use crate::config_file::ConfigArg;
use crate::store::config::{DatabaseArgs, StoreOptions};
use crate::store::{redact, Store};

/// Arguments of `ofd migrate`: the database, named as every role names it.
#[derive(clap::Args, Debug)]
pub struct MigrateArgs {
    /// `--config` (its `[store] database`).
    #[command(flatten)]
    file: ConfigArg,
    /// `--database`.
    #[command(flatten)]
    database: DatabaseArgs,
}

/// Apply every pending migration and print the applied versions.
pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let store_file: StoreOptions = args.file.load()?.table("store")?;
    let url = args.database.resolve(store_file.database);
    let store = Store::open(&url).await?;
    let applied = sqlx::query("SELECT version, description FROM _sqlx_migrations ORDER BY version")
        .fetch_all(store.pool())
        .await?;
    println!(
        "{} is at schema version {}",
        redact(&url),
        applied
            .last()
            .map(|row| row.try_get::<i64, _>("version"))
            .transpose()?
            .unwrap_or(0)
    );
    for row in &applied {
        let version: i64 = row.try_get("version")?;
        let description: String = row.try_get("description")?;
        println!("  {version:04} {description}");
    }
    store.close().await;
    Ok(())
}
