//! Register emulator (not implemented yet; see the open issue).

/// Arguments of the subcommand.
#[derive(clap::Args, Debug)]
pub struct EmulateArgs {}

/// Run the subcommand.
pub async fn run(_args: EmulateArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
