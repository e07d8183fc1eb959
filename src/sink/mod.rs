//! Stand-in tax authority (not implemented yet; see the open issue).

/// Arguments of the subcommand.
#[derive(clap::Args, Debug)]
pub struct SinkArgs {}

/// Run the subcommand.
pub async fn run(_args: SinkArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
