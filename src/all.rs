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
//! Ingest runs on the process's main runtime; the other roles run on a second one whose threads
//! have a lower OS priority, with their own database pool ([`crate::background_runtime`]), and
//! the forwarder and the projector write in batches of [`BACKGROUND_BATCH_DOCUMENTS`]: on
//! SQLite every write transaction waits for the one ahead of it, ingest's included.
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

/// The forwarder's and the projector's batch size in `ofd all` unless `[forward]
/// batch_max_documents` / `[project] batch` (or their env vars) say otherwise; their own roles
/// default to 500 (the forwarder) and 5000 (the projector). Each batch is one write transaction, and on SQLite every transaction, ingest's
/// included, waits for the one ahead of it: with 500, KZ exchanges paced at 2,000/s had a p99 of
/// 124-169 ms on 2 cores, with 100 it was 60-67 ms (benches/README.md, issue 20). The projector
/// keeps up at 100; the forwarder, whose threads yield to ingest's, falls behind while ingest
/// keeps both cores busy and empties its backlog within seconds after.
pub const BACKGROUND_BATCH_DOCUMENTS: i64 = 100;

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

/// Run every role until SIGTERM or ctrl-c: ingest on the caller's runtime, the others on
/// `background` ([`crate::background_runtime`]).
pub async fn run(args: AllArgs, background: tokio::runtime::Handle) -> anyhow::Result<()> {
    let file = args.serve.file.load()?;
    let config = args.serve.resolve_with(&file)?;
    let forward_options = with_background_batch(
        ForwardOptions {
            metrics_listen: args.forward_metrics_listen,
            ..ForwardOptions::default()
        }
        .over(from_env()?)
        .over(file.table("forward")?),
    );
    let sink_url_named = forward_options.sink_url.is_some();
    let forward_config = forward_options.resolve()?;
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
    let project_config = with_background_batch(
        ProjectOptions::default()
            .over(from_env()?)
            .over(file.table("project")?),
    )
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
    let background_roles = BackgroundRoles {
        database: config.database.clone(),
        no_tax_sink: args.no_tax_sink,
        sink_url_named,
        sink: sink_config,
        forward: forward_config,
        forward_metrics_listen,
        project: project_config,
        account: account_config,
    };
    // Opened and spawned from the background runtime, so that what they start runs there.
    let started = background.spawn(background_roles.start(store.clone(), roles.clone()));
    let running = started
        .await
        .context("starting the background roles panicked")??;

    let server = Server::start_with_store(config, store.clone()).await?;
    tracing::info!(
        listen = %server.local_addr(),
        tls_listen = server.tls_addr().map(tracing::field::display),
        metrics = %server.metrics_addr(),
        forward_metrics = %forward_metrics_listen,
        account = %running.account.addr,
        cabinet = %running.account.cabinet,
        sink = %crate::url_redact::redact_url(&running.sink_url),
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
    running.forward_shutdown.cancel();
    running.forwarder.await.context("forwarder task panicked")?;
    running
        .forward_metrics
        .await
        .context("forward metrics task panicked")?;
    running.project_shutdown.cancel();
    running.projector.await.context("projector task panicked")?;
    if let Some(metrics) = running.project_metrics {
        metrics.await.context("project metrics task panicked")?;
    }
    running.account_shutdown.cancel();
    let account_result = running
        .account
        .task
        .await
        .context("account task panicked")?;
    let ingest_result = server.shutdown().await;
    roles.cancel();
    if let Some(sink) = running.bundled_sink {
        sink.task.await.context("tax sink task panicked")??;
    }
    let background_store = running.store;
    background
        .spawn(async move { background_store.close().await })
        .await
        .context("closing the background roles' store panicked")?;
    store.close().await;
    let result = ingest_result.and(account_result);
    if result.is_ok() {
        tracing::info!("ofd all drained");
    }
    result
}

/// Options of a role that writes in batches, as `ofd all` runs it.
trait BatchSize {
    /// The batch size set by a flag, env var or file, if any.
    fn batch(&mut self) -> &mut Option<i64>;
}

impl BatchSize for ForwardOptions {
    fn batch(&mut self) -> &mut Option<i64> {
        &mut self.batch_max_documents
    }
}

impl BatchSize for ProjectOptions {
    fn batch(&mut self) -> &mut Option<i64> {
        &mut self.batch
    }
}

/// `options` with [`BACKGROUND_BATCH_DOCUMENTS`] where no batch size was set.
fn with_background_batch<T: BatchSize>(mut options: T) -> T {
    options.batch().get_or_insert(BACKGROUND_BATCH_DOCUMENTS);
    options
}

/// What the roles beside ingest need to start, moved onto the background runtime.
struct BackgroundRoles {
    database: String,
    no_tax_sink: bool,
    sink_url_named: bool,
    sink: sink::SinkConfig,
    forward: forward::ForwardConfig,
    forward_metrics_listen: SocketAddr,
    project: project::ProjectConfig,
    account: account::AccountConfig,
}

/// The roles beside ingest, running, and how to stop each.
struct Background {
    /// Their own pool on the database, queueing for writes with ingest's.
    store: Store,
    bundled_sink: Option<sink::RunningSink>,
    /// Where the forwarder sends (the bundled sink unless one was named).
    sink_url: String,
    forwarder: tokio::task::JoinHandle<()>,
    forward_metrics: tokio::task::JoinHandle<()>,
    forward_shutdown: CancellationToken,
    projector: tokio::task::JoinHandle<()>,
    project_metrics: Option<tokio::task::JoinHandle<()>>,
    project_shutdown: CancellationToken,
    account: account::RunningAccount,
    account_shutdown: CancellationToken,
}

impl BackgroundRoles {
    /// Open their store (already migrated by ingest's) and start the sink, the forwarder, the
    /// projector and the account API; `roles` is the parent of their shutdown tokens.
    async fn start(
        self,
        ingest_store: Store,
        roles: CancellationToken,
    ) -> anyhow::Result<Background> {
        let store = Store::open(&self.database)
            .await
            .context("opening the database for the background roles")?
            .with_write_turns_of(&ingest_store);
        let mut forward_config = self.forward;
        let bundled_sink = if self.no_tax_sink {
            None
        } else {
            let running = sink::spawn(&self.sink, roles.child_token()).await?;
            if !self.sink_url_named {
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
            self.forward_metrics_listen,
            registry,
            forward_health,
            store.clone(),
            forward_shutdown.clone(),
        )
        .await?;

        let project_shutdown = roles.child_token();
        let project_registry = prometheus::Registry::new();
        let projector = project::spawn(
            &self.project,
            &store,
            &project_registry,
            project_shutdown.clone(),
        )?;
        // Served only where `[project] metrics_listen` / OFD_PROJECT_METRICS_LISTEN names it.
        let project_metrics = match self.project.metrics_listen {
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
        let account =
            account::spawn(store.clone(), &self.account, account_shutdown.clone()).await?;
        Ok(Background {
            store,
            bundled_sink,
            sink_url: forward_config.sink_url,
            forwarder,
            forward_metrics,
            forward_shutdown,
            projector,
            project_metrics,
            project_shutdown,
            account,
            account_shutdown,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config_file::ConfigFile;

    fn file(text: &str) -> ConfigFile {
        ConfigFile::parse(Path::new("ofd.toml"), text).expect("parses")
    }

    #[test]
    fn background_roles_batch_less_under_all_unless_configured() {
        let empty = file("");
        let forward: ForwardOptions = empty.table("forward").expect("table");
        let project: ProjectOptions = empty.table("project").expect("table");
        // On their own the roles keep their defaults; under `ofd all` the smaller batch.
        assert_eq!(forward.clone().resolve().unwrap().batch_max_documents, 500);
        assert_eq!(project.clone().resolve().unwrap().batch, 5_000);
        assert_eq!(
            with_background_batch(forward)
                .resolve()
                .unwrap()
                .batch_max_documents,
            BACKGROUND_BATCH_DOCUMENTS
        );
        assert_eq!(
            with_background_batch(project).resolve().unwrap().batch,
            BACKGROUND_BATCH_DOCUMENTS
        );

        let set = file("[forward]\nbatch_max_documents = 700\n[project]\nbatch = 7\n");
        let forward: ForwardOptions = set.table("forward").expect("table");
        let project: ProjectOptions = set.table("project").expect("table");
        assert_eq!(
            with_background_batch(forward)
                .resolve()
                .unwrap()
                .batch_max_documents,
            700
        );
        assert_eq!(with_background_batch(project).resolve().unwrap().batch, 7);
    }
}
