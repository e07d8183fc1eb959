//! Register provisioning (not implemented yet; see the open issue).

/// Arguments of the subcommand.
#[derive(clap::Args, Debug)]
pub struct RegisterArgs {}

/// Run the subcommand.
pub async fn run(_args: RegisterArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
