//! Every role in one process (not implemented yet; see the open issue).

/// Arguments of the subcommand.
#[derive(clap::Args, Debug)]
pub struct AllArgs {}

/// Run the subcommand.
pub async fn run(_args: AllArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
