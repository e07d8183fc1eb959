//! `ofd forward`: pass every stored document on to the tax authority, exactly once.
//!
//! Design notes:
//! - **Outbox.** Storing a document makes its `outbox` row, state `pending`, in the same
//!   statement (a trigger), so nothing acknowledged can be missed. This role only reads that
//!   state and moves it to `sent` or `rejected`, writing the narrow outbox row and never the
//!   stored document ([`outbox`] holds the invariants).
//! - **Batches.** A worker claims up to `--batch-max-documents` / `--batch-max-bytes` of the
//!   oldest pending documents once the oldest has waited `--batch-max-age-ms` or a full batch is
//!   waiting, sends them as one gzip JSON-lines body ([`crate::tax_batch`]) and keeps resending the
//!   same batch id until the sink answers.
//! - **Exactly once at the sink.** The batch id is the idempotency key; documents are marked
//!   `sent` only after the positive answer, in one transaction. A lost answer means a resend under
//!   the same id, which the sink recognises.
//! - **Failures.** Exponential backoff with full jitter per batch, one circuit breaker per process
//!   ([`retry`]); per-document attempt counts; a document the sink refuses goes to `rejected` with
//!   its reason and the rest of its batch is marked sent.
//! - **Several forwarders.** PostgreSQL: claims skip rows locked by other claims. SQLite: a lease
//!   row picks one writer process; others stand by until it lapses.
//! - **Configuration.** [`config`]: the `[forward]` table, flags and env vars.
//!
//! Drain order on SIGTERM or ctrl-c ([`crate::signal::shutdown_signal`]):
//! 1. workers stop claiming: each checks the shutdown token between batches and while it waits
//!    (empty outbox, backoff, open breaker);
//! 2. a send already in flight runs to its answer (bounded by `request_timeout_ms`) and that
//!    answer is recorded, so no acknowledged batch is left unmarked; a batch waiting to be
//!    retried stays open and is resumed under the same id at the next start;
//! 3. the backlog watcher and the `/metrics` endpoint stop;
//! 4. the SQLite writer lease is released, so a standby forwarder takes over at once;
//! 5. the store's pool is closed, and "forwarder drained" is logged.

pub mod config;
pub mod destination;
pub mod file_sink;
pub mod http_sink;
pub mod metrics;
pub mod outbox;
pub mod readiness;
pub mod retention;
pub mod retry;
pub mod send_error;
pub mod status;
pub mod worker;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use prometheus::Registry;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config_file::{ConfigArg, Layer};
use crate::store::config::{DatabaseArgs, StoreOptions};
use crate::store::Store;
pub use config::{ForwardConfig, ForwardOptions};
use destination::{Destination, TlsFiles};
use outbox::{ClaimLimits, Outbox};
use readiness::Health;
use retry::{Backoff, Breaker};
use worker::{Forwarder, Tuning};

/// Arguments of the subcommand: run the forwarder, or a tool such as `status`.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ForwardArgs {
    /// A tool instead of running the forwarder.
    #[command(subcommand)]
    pub command: Option<ForwardCommand>,
    /// `--config`.
    #[command(flatten)]
    pub file: ConfigArg,
    /// `--database`.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Forwarder settings (boxed: they are most of the CLI's size).
    #[command(flatten)]
    pub options: Box<ForwardOptions>,
}

/// Tools under `ofd forward`.
#[derive(clap::Subcommand, Debug)]
pub enum ForwardCommand {
    /// Print outbox counts, open batches and rejected documents.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Longest list of open batches and rejections to print.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// How many of the most recently sent documents the delivery figures cover.
        #[arg(long, default_value_t = 10_000)]
        window: i64,
    },
    /// Put documents back in the outbox after the cause of their rejection was fixed (recorded
    /// in the audit log).
    Requeue {
        /// Requeue rejected documents (the only kind there is to requeue).
        #[arg(long, required = true)]
        rejected: bool,
        /// Only documents received at or after this time (unix milliseconds).
        #[arg(long, value_name = "UNIX_MS")]
        since: Option<i64>,
        /// Who is doing it, for the audit log. [default: $USER]
        #[arg(long)]
        actor: Option<String>,
    },
}

impl ForwardConfig {
    fn destination(&self) -> anyhow::Result<Destination> {
        if let Some(dir) = &self.sink_dir {
            return Ok(Destination::File(file_sink::FileSink::new(dir.clone())));
        }
        let tls = TlsFiles {
            ca: self.sink_ca.clone(),
            client_cert: self.sink_client_cert.clone(),
            client_key: self.sink_client_key.clone(),
        };
        let timeout = Duration::from_millis(self.request_timeout_ms);
        Ok(Destination::Http(http_sink::HttpSink::new(
            &self.sink_url,
            &tls,
            timeout,
            self.sink_token.clone(),
        )?))
    }

    fn tuning(&self) -> Tuning {
        Tuning {
            limits: ClaimLimits {
                max_documents: self.batch_max_documents.max(1),
                max_bytes: self.batch_max_bytes.max(1),
                lease_ms: self.lease_ms.max(1_000),
            },
            max_age_ms: self.batch_max_age_ms.max(0),
            poll: Duration::from_millis(self.poll_ms.max(10)),
            backoff: Backoff {
                base: Duration::from_millis(self.backoff_base_ms.max(1)),
                cap: Duration::from_millis(self.backoff_cap_ms.max(1)),
            },
        }
    }
}

/// A forwarder started by [`spawn`].
pub struct Running {
    /// Ends when the workers have drained and the writer lease is released.
    pub task: tokio::task::JoinHandle<()>,
    /// What `/readyz` reports ([`serve_metrics`]).
    pub health: Health,
}

/// Start the forwarder's workers on `store` in the background; they stop when `shutdown` is
/// cancelled (a send under way gets its answer recorded first; a batch waiting for a retry is
/// left open, to be resumed under the same id). Metrics go into `registry`. This is what
/// `ofd forward` and `ofd all` call.
pub fn spawn(
    options: &ForwardConfig,
    store: &Store,
    registry: &Registry,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let destination = options.destination()?;
    let tuning = options.tuning();
    let breaker = Arc::new(Breaker::new(
        options.breaker_threshold,
        Duration::from_millis(options.breaker_cooldown_ms),
    ));
    let health = Health::new(
        breaker.clone(),
        Duration::from_millis(options.unready_after_failing_ms),
    );
    let forwarder = Arc::new(Forwarder {
        outbox: Outbox::new(store),
        destination,
        breaker,
        metrics: metrics::ForwardMetrics::new(registry).context("registering forward metrics")?,
        tuning,
    });
    tracing::info!(
        sink = %forwarder.destination.describe(),
        owner = forwarder.outbox.owner(),
        workers = options.workers,
        "forwarder started"
    );
    let workers = options.workers.max(1);
    let retention = retention::Retention::new(
        store.clone(),
        options.retention_days,
        options.retention_batch,
        forwarder.metrics.retention_deleted.clone(),
    )
    .map(|retention| {
        retention.counting_partitions(forwarder.metrics.retention_partitions_dropped.clone())
    });
    let task = tokio::spawn(async move {
        let mut tasks = JoinSet::new();
        for _ in 0..workers {
            tasks.spawn(forwarder.clone().run_worker(shutdown.clone()));
        }
        tasks.spawn(
            forwarder
                .clone()
                .watch_backlog(Duration::from_secs(1), shutdown.clone()),
        );
        if let Some(retention) = retention {
            tasks.spawn(retention.run(shutdown.clone()));
        }
        while tasks.join_next().await.is_some() {}
        if let Err(e) = forwarder.outbox.release_writer_lease().await {
            tracing::warn!(error = %e, "releasing the writer lease failed");
        }
        tracing::info!("forwarder stopped: workers done, writer lease released");
    });
    Ok(Running { task, health })
}

/// Serve `registry` on `addr` until `shutdown` ([`crate::health_endpoint`]): `/readyz` is 503
/// once sends have failed continuously for the configured time (see [`readiness`]) or while the
/// database does not answer with the schema this binary needs.
pub async fn serve_metrics(
    addr: SocketAddr,
    registry: Registry,
    health: Health,
    store: Store,
    shutdown: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use crate::health_endpoint::Readiness;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the metrics endpoint {addr}"))?;
    let ready: crate::health_endpoint::ReadyCheck = Arc::new(move || {
        let (health, store) = (health.clone(), store.clone());
        Box::pin(async move {
            if let Readiness::NotReady(reason) = health.check(std::time::Instant::now()) {
                return Readiness::NotReady(reason);
            }
            match store.check_ready().await {
                Ok(()) => Readiness::Ready,
                Err(reason) => Readiness::NotReady(reason),
            }
        })
    });
    tracing::info!(%addr, "forward metrics listening");
    Ok(tokio::spawn(async move {
        if let Err(e) = crate::health_endpoint::serve(listener, registry, ready, shutdown).await {
            tracing::warn!(error = %e, "metrics endpoint failed");
        }
    }))
}

/// Run the subcommand: the forwarder until SIGTERM or ctrl-c, or a tool.
pub async fn run(args: ForwardArgs) -> anyhow::Result<()> {
    let file = args.file.load()?;
    let store_file: StoreOptions = file.table("store")?;
    let schema_upgrade = args.database.schema_upgrade(&store_file.database);
    let database = args.database.resolve(store_file.database);
    let options = (*args.options).over(file.table("forward")?).resolve()?;
    let store = Store::open_with(&database, schema_upgrade).await?;
    if let Some(ForwardCommand::Status {
        json,
        limit,
        window,
    }) = args.command
    {
        let now = crate::clock::unix_millis();
        let report = status::read(store.pool(), now, limit, window).await;
        store.close().await;
        let report = report?;
        if json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print!("{}", status::render(&report));
        }
        return Ok(());
    }
    if let Some(ForwardCommand::Requeue {
        rejected: _,
        since,
        actor,
    }) = args.command
    {
        let actor = actor
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "unknown".to_owned());
        let outbox = outbox::Outbox::new(&store);
        let requeued = outbox
            .requeue_rejected(since, &actor, crate::clock::unix_millis())
            .await;
        store.close().await;
        let requeued = requeued?;
        tracing::info!(requeued, ?since, %actor, "rejected documents put back in the outbox");
        println!("requeued {requeued} rejected documents");
        return Ok(());
    }
    let shutdown = CancellationToken::new();
    let registry = Registry::new();
    let Running {
        task: forwarder,
        health,
    } = spawn(&options, &store, &registry, shutdown.clone())?;
    let metrics = match options.metrics_listen {
        Some(addr) => {
            Some(serve_metrics(addr, registry, health, store.clone(), shutdown.clone()).await?)
        }
        None => None,
    };
    crate::signal::shutdown_signal()
        .await
        .context("waiting for SIGTERM or ctrl-c")?;
    tracing::info!("shutdown requested: draining the forwarder");
    shutdown.cancel();
    forwarder.await.context("forwarder task panicked")?;
    if let Some(metrics) = metrics {
        metrics.await.context("metrics task panicked")?;
    }
    store.close().await;
    tracing::info!("forwarder drained");
    Ok(())
}
