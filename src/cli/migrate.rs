//! `ofd migrate`: create or upgrade the schema, then report what is applied. Every role also
//! migrates on start; this is for operators who upgrade the schema ahead of a rollout.

use sqlx::Row as _;

use crate::cli::database::DatabaseArgs;
use crate::store::{redact, Store};

/// Arguments of `ofd migrate`.
#[derive(clap::Args, Debug)]
pub struct MigrateArgs {
    #[command(flatten)]
    database: DatabaseArgs,
}

/// Apply every pending migration and print the applied versions.
pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let store = Store::open(&args.database.url).await?;
    let applied = sqlx::query("SELECT version, description FROM _sqlx_migrations ORDER BY version")
        .fetch_all(store.pool())
        .await?;
    println!(
        "{} is at schema version {}",
        redact(&args.database.url),
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
