//! `ofd all`: every role in one process on the embedded default (SQLite file `ofd.db`), the
//! README's one-command start: the ingest server, the forwarder, the projector (read tables for
//! the cabinet), the account API, and a bundled
//! `ofd tax-sink` standing in for the tax authority, all sharing the one store.
//!
//! Configuration: the ingest server's flags (as `ofd serve`), and one `--config` file whose
//! tables configure every role as they configure the role on its own (`[forward]`, `[account]`,
//! `[tax_sink]`, `[project]` beside ingest's). The other roles' environment variables are read too
//! (`OFD_SINK_URL`, `OFD_ACCOUNT_LISTEN`, …). Four of their options have flags here under longer
//! names, because `--listen` and `--metrics-listen` are ingest's: `--forward-metrics-listen`,
//! `--account-listen`, `--tax-sink-listen`, `--tax-sink-db`. Unless `[forward] sink_url` or
//! `OFD_SINK_URL` names a receiver, the forwarder sends to the bundled sink; pass
//! `--no-tax-sink` when forwarding to a real authority.
//!
//! Drain order on SIGTERM or ctrl-c ([`crate::signal::shutdown_signal`]): the forwarder first (a
//! send in flight gets its answer recorded; a batch waiting for a retry stays open and is
//! resumed under its id at the next start), the projector (it stops between batches; its cursor
//! commits with its rows) and the account API (requests in flight finish),
//! because the ingest server closes the shared store when it stops; then ingest (it stops
//! accepting, commits and acknowledges in-flight documents, where they wait as `pending`, and
//! drains the group-commit writer); then the bundled sink (requests in flight finish, its
//! SQLite file is closed); then the store. "ofd all drained" is logged at the end.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::account::{self, AccountOptions};
use crate::config_file::{from_env, Layer};
use crate::forward::{self, ForwardOptions};
use crate::ingest::config::ServeOptions;
use crate::ingest::Server;
use crate::project::{self, ProjectOptions};
use crate::sink::{self, SinkOptions};
use crate::store::Store;

/// Where the forwarder's metrics are served in `ofd all` unless told otherwise (`ofd forward`
/// serves none by default).
pub const DEFAULT_FORWARD_METRICS_LISTEN: &str = "127.0.0.1:9899";

/// Arguments of `ofd all`: the ingest options (same flags, env vars and file as `ofd serve`)
/// plus the other roles' options that need a flag here.
#[derive(clap::Args, Debug)]
pub struct AllArgs {
    /// Options of the ingest role, and `--config` for every role.
    #[command(flatten)]
    pub serve: ServeOptions,
    /// Do not start the bundled tax sink (forward to `[forward] sink_url` / OFD_SINK_URL).
    #[arg(long, env = "OFD_NO_TAX_SINK")]
    pub no_tax_sink: bool,
    /// Address of the bundled tax sink (`[tax_sink] listen`, OFD_SINK_LISTEN).
    /// [default: 127.0.0.1:8480]
    #[arg(long, value_name = "ADDR")]
    pub tax_sink_listen: Option<SocketAddr>,
    /// SQLite file of the bundled tax sink (`[tax_sink] db`, OFD_SINK_DB).
    /// [default: ofd-tax-sink.db]
    #[arg(long, value_name = "PATH")]
    pub tax_sink_db: Option<PathBuf>,
    /// Address of the forwarder's Prometheus `/metrics` endpoint (`[forward] metrics_listen`,
    /// OFD_FORWARD_METRICS_LISTEN). [default: 127.0.0.1:9899]
    #[arg(long, value_name = "ADDR")]
    pub forward_metrics_listen: Option<SocketAddr>,
    /// Address of the account API (`[account] listen`, OFD_ACCOUNT_LISTEN).
    /// [default: 127.0.0.1:8088]
    #[arg(long, value_name = "ADDR")]
    pub account_listen: Option<SocketAddr>,
}

/// Run every role until SIGTERM or ctrl-c.
pub async fn run(args: AllArgs) -> anyhow::Result<()> {
    let file = args.serve.file.load()?;
    let config = args.serve.resolve_with(&file)?;
    let forward_options = ForwardOptions {
        metrics_listen: args.forward_metrics_listen,
        ..ForwardOptions::default()
    }
    .over(from_env()?)
    .over(file.table("forward")?);
    let sink_url_named = forward_options.sink_url.is_some();
    let mut forward_config = forward_options.resolve()?;
    let forward_metrics_listen = forward_config.metrics_listen.unwrap_or_else(|| {
        DEFAULT_FORWARD_METRICS_LISTEN
            .parse()
            .expect("valid default")
    });
    let account_config = AccountOptions {
        listen: args.account_listen,
        ..AccountOptions::default()
    }
    .over(from_env()?)
    .over(file.table("account")?)
    .resolve()?;
    let project_config = ProjectOptions::default()
        .over(from_env()?)
        .over(file.table("project")?)
        .resolve()?;
    let sink_config = SinkOptions {
        listen: args.tax_sink_listen,
        db: args.tax_sink_db.clone(),
        ..SinkOptions::default()
    }
    .over(from_env()?)
    .over(file.table("tax_sink")?)
    .resolve()?;

    let store = Store::open_with(&config.database, config.schema_upgrade)
        .await
        .context("opening the database")?;
    let roles = CancellationToken::new();

    let bundled_sink = if args.no_tax_sink {
        None
    } else {
        let running = sink::spawn(&sink_config, roles.child_token()).await?;
        if !sink_url_named {
            forward_config.sink_url =
                format!("http://{}{}", running.addr, crate::tax_batch::BATCHES_PATH);
        }
        Some(running)
    };
    let forward_shutdown = roles.child_token();
    let registry = prometheus::Registry::new();
    let forward::Running {
        task: forwarder,
        health: forward_health,
    } = forward::spawn(&forward_config, &store, &registry, forward_shutdown.clone())?;
    let forward_metrics = forward::serve_metrics(
        forward_metrics_listen,
        registry,
        forward_health,
        store.clone(),
        forward_shutdown.clone(),
    )
    .await?;

    let project_shutdown = roles.child_token();
    let project_registry = prometheus::Registry::new();
    let projector = project::spawn(
        &project_config,
        &store,
        &project_registry,
        project_shutdown.clone(),
    )?;
    // Served only where `[project] metrics_listen` / OFD_PROJECT_METRICS_LISTEN names it.
    let project_metrics = match project_config.metrics_listen {
        Some(addr) => Some(
            project::serve_metrics(
                addr,
                project_registry,
                store.clone(),
                project_shutdown.clone(),
            )
            .await?,
        ),
        None => None,
    };

    let account_shutdown = roles.child_token();
    let account = account::spawn(store.clone(), &account_config, account_shutdown.clone()).await?;

    let server = Server::start_with_store(config, store.clone()).await?;
    tracing::info!(
        listen = %server.local_addr(),
        tls_listen = server.tls_addr().map(tracing::field::display),
        metrics = %server.metrics_addr(),
        forward_metrics = %forward_metrics_listen,
        account = %account.addr,
        cabinet = %account.cabinet,
        sink = %crate::url_redact::redact_url(&forward_config.sink_url),
        "ofd all serving"
    );
    let ingest_stopped = server.shutdown_token();
    tokio::select! {
        signal = crate::signal::shutdown_signal() => {
            signal?;
            tracing::info!("shutdown requested: draining every role");
        }
        _ = ingest_stopped.cancelled() => {}
    }
    forward_shutdown.cancel();
    forwarder.await.context("forwarder task panicked")?;
    forward_metrics
        .await
        .context("forward metrics task panicked")?;
    project_shutdown.cancel();
    projector.await.context("projector task panicked")?;
    if let Some(metrics) = project_metrics {
        metrics.await.context("project metrics task panicked")?;
    }
    account_shutdown.cancel();
    let account_result = account.task.await.context("account task panicked")?;
    let ingest_result = server.shutdown().await;
    roles.cancel();
    if let Some(running) = bundled_sink {
        running.task.await.context("tax sink task panicked")??;
    }
    store.close().await;
    let result = ingest_result.and(account_result);
    if result.is_ok() {
        tracing::info!("ofd all drained");
    }
    result
}
