//! Frame decoder (not implemented yet; see the open issue).

/// Arguments of the subcommand.
#[derive(clap::Args, Debug)]
pub struct DecodeArgs {}

/// Run the subcommand.
pub async fn run(_args: DecodeArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
