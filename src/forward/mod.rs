//! Forwarder to the tax authority (not implemented yet; see the open issue).

/// Arguments of the subcommand.
#[derive(clap::Args, Debug)]
pub struct ForwardArgs {}

/// Run the subcommand.
pub async fn run(_args: ForwardArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
