//! `ofd`: one binary, one subcommand per process role or tool. Each subcommand's arguments and
//! `run` live in the module that implements it; this file only dispatches.

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: every document allocates and frees a few dozen
/// short-lived buffers on two or more threads, and glibc's malloc (arena locking, heap growth by
/// mprotect, consolidation) was about a tenth of the server's CPU at load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "ofd",
    version,
    about = "Open fiscal data operator server",
    long_about = None,
    after_help = "Operator's guide (install, ports, TLS, backup, upgrade, alerts): docs/operations.md \
                  (installed as /usr/share/doc/ofd/operations.md by the package)."
)]
struct Cli {
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true, env = "OFD_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest server: accept registers (RU and KZ) on one TCP port, store, acknowledge.
    Serve(ofd::ingest::ServeArgs),
    /// Forward stored documents to the tax authority in batches.
    Forward(ofd::forward::ForwardArgs),
    /// A stand-in tax authority that receives forwarded batches (tests, demos, labs).
    TaxSink(ofd::sink::SinkArgs),
    /// Projector: build the read tables (search, shifts, totals) from committed documents.
    Project(ofd::project::ProjectArgs),
    /// Account service: organisations, registers and API keys over HTTP (`key` manages keys).
    Account(ofd::account::AccountArgs),
    /// Every role in one process on the embedded SQLite default.
    All(ofd::all::AllArgs),
    /// Register emulator and load generator.
    Emulate(ofd::emulate::EmulateArgs),
    /// Print one frame (RU or KZ, binary or hex) as JSON.
    Decode(ofd::cli::decode::DecodeArgs),
    /// Provision registers.
    Register(ofd::cli::register::RegisterArgs),
    /// Create or upgrade the database schema.
    Migrate(ofd::cli::migrate::MigrateArgs),
    /// Frames kept instead of stored as documents: list, show, retry through the current decoder.
    Quarantine(ofd::ingest::quarantine::QuarantineArgs),
    /// Online, verified backup of the SQLite database (PostgreSQL: pg_dump).
    Backup(ofd::cli::backup::BackupArgs),
    /// Verify a backup before restoring it (`--check PATH`).
    Restore(ofd::cli::backup::RestoreArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    ofd::telemetry::init_logging(cli.log_json);
    let runtime = tokio::runtime::Runtime::new()?;
    // `ofd all` runs the roles beside ingest on a second runtime at a lower OS priority.
    let background = match cli.command {
        Command::All(_) => Some(ofd::background_runtime::build(2)?),
        _ => None,
    };
    let background_handle = background.as_ref().map(|runtime| runtime.handle().clone());
    let result = runtime.block_on(async move {
        let long_running = matches!(
            cli.command,
            Command::Serve(_)
                | Command::Forward(_)
                | Command::TaxSink(_)
                | Command::Account(_)
                | Command::Project(_)
                | Command::All(_)
        );
        if long_running {
            ofd::signal::install()?;
        }
        match cli.command {
            Command::Serve(args) => ofd::ingest::run(args).await,
            Command::Forward(args) => ofd::forward::run(args).await,
            Command::TaxSink(args) => ofd::sink::run(args).await,
            Command::Account(args) => ofd::account::run(args).await,
            Command::Project(args) => ofd::project::run(args).await,
            Command::All(args) => {
                let background = background_handle.expect("built for `ofd all`");
                ofd::all::run(args, background).await
            }
            Command::Emulate(args) => ofd::emulate::run(args).await,
            Command::Decode(args) => ofd::cli::decode::run(args).await,
            Command::Register(args) => ofd::cli::register::run(args).await,
            Command::Migrate(args) => ofd::cli::migrate::run(args).await,
            Command::Quarantine(args) => ofd::ingest::quarantine::run(args).await,
            Command::Backup(args) => ofd::cli::backup::run_backup(args).await,
            Command::Restore(args) => ofd::cli::backup::run_restore(args).await,
        }
    });
    if let Some(background) = background {
        background.shutdown_timeout(ofd::background_runtime::SHUTDOWN_GRACE);
    }
    result
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// Every subcommand's arguments are well formed (unique ids and flags across flattened
    /// option structs), which clap otherwise checks only when that subcommand is run.
    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
