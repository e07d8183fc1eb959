//! Schema migrations (not implemented yet; see the open issue).

/// Arguments of the subcommand.
#[derive(clap::Args, Debug)]
pub struct MigrateArgs {}

/// Run the subcommand.
pub async fn run(_args: MigrateArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
