//! `ofd all`: every role in one process on the embedded default (SQLite file `ofd.db`), the
//! README's one-command start. Today that is the ingest server; the forwarder and the other roles
//! join here as they land, sharing the one store.

use crate::config::ServeOptions;
use crate::ingest::{self, ServeArgs};

/// Arguments of `ofd all`: the ingest options (same flags, env vars and file as `ofd serve`).
#[derive(clap::Args, Debug)]
pub struct AllArgs {
    /// Options of the ingest role.
    #[command(flatten)]
    pub serve: ServeOptions,
}

/// Run every role until SIGTERM or ctrl-c.
pub async fn run(args: AllArgs) -> anyhow::Result<()> {
    ingest::run(ServeArgs {
        options: args.serve,
    })
    .await
}
