//! `ofd all`: every role in one process on the embedded default (SQLite file `ofd.db`), the
//! README's one-command start: the ingest server, the forwarder, the account API, and a bundled
//! `ofd tax-sink` standing in for the tax authority, all sharing the one store.
//!
//! The forwarder takes its settings from the same environment variables as `ofd forward`
//! (`OFD_SINK_URL`, `OFD_SINK_CA`, …); without `OFD_SINK_URL` it sends to the bundled sink.
//! Pass `--no-tax-sink` when forwarding to a real authority.
//!
//! Shutdown order: the forwarder first (a batch in flight stays open and is resumed under its id
//! at the next start) and the account API (requests in flight finish), because the ingest server
//! closes the shared store when it stops; then
//! ingest (it drains in-flight documents into the store, where they wait as `pending`); then the
//! sink.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::account;
use crate::forward::{self, ForwardOptions};
use crate::ingest::config::ServeOptions;
use crate::ingest::Server;
use crate::sink::{self, SinkArgs};
use crate::store::Store;

/// Arguments of `ofd all`: the ingest options (same flags, env vars and file as `ofd serve`)
/// plus where the forwarder's metrics and the bundled tax sink live.
#[derive(clap::Args, Debug)]
pub struct AllArgs {
    /// Options of the ingest role.
    #[command(flatten)]
    pub serve: ServeOptions,
    /// Do not start the bundled tax sink (forward to OFD_SINK_URL instead).
    #[arg(long, env = "OFD_NO_TAX_SINK")]
    pub no_tax_sink: bool,
    /// Address of the bundled tax sink.
    #[arg(long, env = "OFD_SINK_LISTEN", default_value = "127.0.0.1:8480")]
    pub tax_sink_listen: SocketAddr,
    /// SQLite file of the bundled tax sink.
    #[arg(long, env = "OFD_SINK_DB", default_value = "ofd-tax-sink.db")]
    pub tax_sink_db: PathBuf,
    /// Address of the forwarder's Prometheus `/metrics` endpoint.
    #[arg(
        long,
        env = "OFD_FORWARD_METRICS_LISTEN",
        default_value = "127.0.0.1:9899"
    )]
    pub forward_metrics_listen: SocketAddr,
    /// Address of the account API (as `ofd account --listen`).
    #[arg(long, env = "OFD_ACCOUNT_LISTEN", default_value = account::DEFAULT_LISTEN)]
    pub account_listen: SocketAddr,
}

/// Run every role until SIGTERM or ctrl-c.
pub async fn run(args: AllArgs) -> anyhow::Result<()> {
    let config = args.serve.resolve()?;
    let store = Store::open(&config.database)
        .await
        .context("opening the database")?;
    let roles = CancellationToken::new();

    let mut options = ForwardOptions::default();
    let bundled_sink = if args.no_tax_sink {
        None
    } else {
        let sink_args = SinkArgs::new(args.tax_sink_listen, args.tax_sink_db.clone());
        let running = sink::spawn(&sink_args, roles.child_token()).await?;
        if std::env::var_os("OFD_SINK_URL").is_none() {
            options.sink_url = format!("http://{}{}", running.addr, crate::tax_batch::BATCHES_PATH);
        }
        Some(running)
    };
    let forward_shutdown = roles.child_token();
    let registry = prometheus::Registry::new();
    let forwarder = forward::spawn(&options, &store, &registry, forward_shutdown.clone())?;
    forward::serve_metrics(
        args.forward_metrics_listen,
        registry,
        forward_shutdown.clone(),
    )
    .await?;

    let account_shutdown = roles.child_token();
    let account =
        account::spawn(store.clone(), args.account_listen, account_shutdown.clone()).await?;

    let server = Server::start_with_store(config, store.clone()).await?;
    tracing::info!(
        listen = %server.local_addr(),
        metrics = %server.metrics_addr(),
        forward_metrics = %args.forward_metrics_listen,
        account = %account.addr,
        sink = %options.sink_url,
        "ofd all serving"
    );
    let ingest_stopped = server.shutdown_token();
    tokio::select! {
        signal = crate::signal::shutdown_signal() => {
            signal?;
            tracing::info!("shutdown requested");
        }
        _ = ingest_stopped.cancelled() => {}
    }
    forward_shutdown.cancel();
    forwarder.await.context("forwarder task panicked")?;
    account_shutdown.cancel();
    let account_result = account.task.await.context("account task panicked")?;
    let ingest_result = server.shutdown().await;
    roles.cancel();
    if let Some(running) = bundled_sink {
        running.task.await.context("tax sink task panicked")??;
    }
    store.close().await;
    ingest_result.and(account_result)
}
