//! `ofd project`: the projector, which builds the read tables the cabinet searches and reports
//! from (`doc_index`, `doc_items`, `project_shifts`, `project_daily` with its hours,
//! `project_daily_products`, `project_monthly_products`; migrations `0011_read_models.sql`,
//! `0027_period_figures_by_day_and_month.sql`).
//!
//! Design notes:
//! - **Off the ack path.** Ingest writes nothing for the projector: it follows committed
//!   documents by id from a durable cursor (`project_cursor`), as the forwarder follows the
//!   outbox, decodes them (RU from the container bytes, KZ from the request frame and the stored
//!   response; [`model`]) and writes their rows in its own transactions ([`apply`] holds the
//!   invariants: each document applied exactly once, restart-safe, late PostgreSQL commits
//!   swept up).
//! - **One model for both dialects.** RU forms and KZ commands map to one `kind`, one
//!   `operation` (sale, refund, expense, expense refund), totals by payment form, lines, shifts
//!   with the close report's counters beside the computed ones, and daily figures per register.
//! - **Several projectors** on one database share the work without doing any document twice
//!   ([`apply`]): the document ids are split into [`apply::SHARDS`] shards, each with its own
//!   cursor row; on PostgreSQL a step locks one shard's cursor row (`FOR UPDATE SKIP LOCKED`)
//!   for its transaction, so two projectors work on different shards at once; on SQLite (one
//!   writer at a time anyway) one projector holds the writer lease and the others stand by,
//!   taking over when it stops renewing it.
//! - **Rebuild.** `ofd project --rebuild` empties the read tables and the cursor in one
//!   transaction, then projects every document again and exits; run it with the projector
//!   stopped (a running one would only re-add what the rebuild adds, never twice).
//! - **Lag** is a metric: `ofd_project_lag_documents` and `ofd_project_lag_seconds`.
//! - **Ingest first.** While documents arrive fast the projector steps aside, up to a bounded
//!   lag ([`yield_policy`]; `ofd_project_yielding`), so on shared cores a register's ack does
//!   not wait for read tables.
//! - **Configuration.** [`config`]: the `[project]` table, flags and env vars.
//!
//! Drain order on SIGTERM or ctrl-c ([`crate::signal::shutdown_signal`]):
//! 1. the loop stops between batches (a batch in progress commits or rolls back whole; the
//!    cursor is in the same database, so nothing is lost either way);
//! 2. the `/metrics` endpoint stops;
//! 3. the store's pool is closed, and "projector drained" is logged.

pub mod apply;
pub mod config;
pub mod metrics;
pub mod model;
pub mod yield_policy;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use prometheus::Registry;
use tokio_util::sync::CancellationToken;

use crate::config_file::{ConfigArg, Layer};
use crate::store::config::{DatabaseArgs, StoreOptions};
use crate::store::{Backend, Store};
pub use apply::{Projector, Step};
pub use config::{ProjectConfig, ProjectOptions};
use metrics::ProjectMetrics;

/// Arguments of `ofd project`.
#[derive(clap::Args, Debug)]
pub struct ProjectArgs {
    /// Empty the read tables, project every document again, and exit.
    #[arg(long)]
    pub rebuild: bool,
    /// `--config` (its `[project]` and `[store]` tables).
    #[command(flatten)]
    pub file: ConfigArg,
    /// `--database`.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Projector settings.
    #[command(flatten)]
    pub options: ProjectOptions,
}

/// Project until every committed document is in the read tables, with up to `workers` steps at
/// once on PostgreSQL (each locks its own shard; SQLite runs one); returns what was done.
///
/// A worker stops when its step finds nothing to do: every shard is done or held by another
/// worker, which goes on until it finds the same; so the last one stops only when all are done.
pub async fn catch_up(projector: &Projector, batch: i64, workers: usize) -> anyhow::Result<Step> {
    let workers = match projector.backend() {
        Backend::Postgres => workers.max(1),
        Backend::Sqlite => 1,
    };
    let steps = futures::future::try_join_all((0..workers).map(|_| async {
        let mut total = Step::default();
        loop {
            let step = projector
                .step(batch, crate::clock::unix_millis())
                .await
                .context("projecting documents")?;
            if step.read == 0 {
                return anyhow::Ok(total);
            }
            total += step;
        }
    }))
    .await?;
    Ok(steps.into_iter().fold(Step::default(), |mut total, step| {
        total += step;
        total
    }))
}

/// Empty the read tables and project every document again (`workers` as in [`catch_up`]).
pub async fn rebuild(store: &Store, batch: i64, workers: usize) -> anyhow::Result<Step> {
    let projector = Projector::new(store);
    projector
        .reset()
        .await
        .context("emptying the read tables")?;
    catch_up(&projector, batch, workers).await
}

/// Start the projector on `store` in the background until `shutdown` is cancelled; metrics go
/// into `registry`. This is what `ofd project` and `ofd all` call.
pub fn spawn(
    config: &ProjectConfig,
    store: &Store,
    registry: &Registry,
    shutdown: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let metrics = ProjectMetrics::new(registry).context("registering project metrics")?;
    let projector = Projector::new(store);
    let config = config.clone();
    // Steps at once, each on a shard it locks (PostgreSQL); SQLite has one writer.
    let workers = match store.backend() {
        Backend::Postgres => config.workers,
        Backend::Sqlite => 1,
    };
    tracing::info!(batch = config.batch, workers, "projector started");
    Ok(tokio::spawn(async move {
        // Set by the housekeeper (worker 0), read by every worker before its step.
        let yielding = Arc::new(AtomicBool::new(false));
        let loops = (0..workers).map(|worker| {
            run_loop(
                projector.clone(),
                config.clone(),
                metrics.clone(),
                shutdown.clone(),
                worker == 0,
                yielding.clone(),
            )
        });
        futures::future::join_all(loops).await;
        if let Err(error) = projector.release_writer_lease().await {
            tracing::warn!(error = %error, "releasing the projector's writer lease failed");
        }
        tracing::info!("projector stopped");
    }))
}

/// Unprojected documents above which the lag is measured only once a second.
const LARGE_BACKLOG: i64 = 50_000;

/// One worker's loop: step, and pause when there was nothing to do, the step failed, or the
/// projector steps aside for ingest. The `housekeeper` (one per process) also sweeps for late
/// PostgreSQL commits, measures the lag, and decides from those measures whether every worker
/// steps aside (`yielding`, shared by the process's workers; [`yield_policy`]).
async fn run_loop(
    projector: Projector,
    config: ProjectConfig,
    metrics: ProjectMetrics,
    shutdown: CancellationToken,
    housekeeper: bool,
    yielding: Arc<AtomicBool>,
) {
    let poll = Duration::from_millis(config.poll_ms);
    // While stepping aside the lag is measured this often, to see when ingest slows.
    let aside = Duration::from_millis(yield_policy::WINDOW_MS.unsigned_abs());
    let sweep_every = Duration::from_millis(config.sweep_ms);
    let mut last_sweep = Instant::now();
    // The lag is a COUNT over the documents not yet projected: measured every quarter of a
    // second (the yield policy's window) while it is small, and at most once a second while
    // catching up on a large backlog, where each is a long scan.
    let mut last_lag: Option<Instant> = None;
    let mut lag_every = Duration::from_secs(1);
    let mut last_sample: Option<yield_policy::Sample> = None;
    let mut failures = 0u32;
    while !shutdown.is_cancelled() {
        let now = crate::clock::unix_millis();
        let pause = if yielding.load(Ordering::Relaxed) {
            aside
        } else {
            match projector.step(config.batch, now).await {
                Ok(step) => {
                    failures = 0;
                    count(&metrics, step);
                    if step.read == 0 {
                        poll
                    } else {
                        Duration::ZERO
                    }
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %error, failures, "projecting failed; retrying");
                    poll * failures.min(50)
                }
            }
        };
        if housekeeper {
            if projector.backend() == Backend::Postgres && last_sweep.elapsed() >= sweep_every {
                last_sweep = Instant::now();
                match projector.sweep(config.sweep_window).await {
                    Ok(step) => count(&metrics, step),
                    Err(error) => tracing::warn!(error = %error, "sweep failed"),
                }
            }
            if last_lag.is_none_or(|at| at.elapsed() >= lag_every) || !pause.is_zero() {
                last_lag = Some(Instant::now());
                let now = crate::clock::unix_millis();
                if let Ok(lag) = projector.lag().await {
                    metrics.lag_documents.set(lag.documents);
                    lag_every = if lag.documents > LARGE_BACKLOG {
                        Duration::from_secs(1)
                    } else {
                        Duration::from_millis(yield_policy::WINDOW_MS.unsigned_abs())
                    };
                    metrics.lag_seconds.set(
                        lag.oldest_received_at
                            .map_or(0, |oldest| (now - oldest).max(0) / 1000),
                    );
                    let sample = yield_policy::Sample {
                        at_ms: now,
                        unprojected: lag.documents,
                        applied: metrics.documents.with_label_values(&["applied"]).get(),
                        oldest_ms: lag.oldest_received_at,
                    };
                    match last_sample
                        .map(|before| yield_policy::decide(config.yield_policy, before, sample))
                    {
                        // Too soon after the last sample for a rate: keep both.
                        Some(None) => {}
                        decision => {
                            let aside = decision.flatten().unwrap_or(false);
                            if aside != yielding.swap(aside, Ordering::Relaxed) {
                                tracing::debug!(
                                    aside,
                                    unprojected = lag.documents,
                                    "projector steps aside for ingest"
                                );
                            }
                            metrics.yielding.set(i64::from(aside));
                            last_sample = Some(sample);
                        }
                    }
                }
                if let Ok(cursor) = projector.cursor().await {
                    metrics.cursor.set(cursor);
                }
            }
        }
        if !pause.is_zero() {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}

fn count(metrics: &ProjectMetrics, step: Step) {
    metrics
        .documents
        .with_label_values(&["applied"])
        .inc_by(step.applied);
    metrics
        .documents
        .with_label_values(&["undecodable"])
        .inc_by(step.undecodable);
}

/// Run `ofd project` until SIGTERM or ctrl-c, or `ofd project --rebuild`.
pub async fn run(args: ProjectArgs) -> anyhow::Result<()> {
    let file = args.file.load()?;
    let store_file: StoreOptions = file.table("store")?;
    let schema_upgrade = args.database.schema_upgrade(&store_file.database);
    let database = args.database.resolve(store_file.database);
    let config = args.options.over(file.table("project")?).resolve()?;
    let store = Store::open_with(&database, schema_upgrade)
        .await
        .context("opening the database")?;
    if args.rebuild {
        let started = Instant::now();
        let result = rebuild(&store, config.batch, config.workers).await;
        store.close().await;
        let step = result?;
        let seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            documents = step.read,
            undecodable = step.undecodable,
            seconds,
            "read tables rebuilt"
        );
        println!(
            "rebuilt the read tables from {} documents ({} undecodable) in {seconds:.1} s, \
             {:.0} documents/s",
            step.read,
            step.undecodable,
            step.read as f64 / seconds.max(0.001)
        );
        return Ok(());
    }
    let shutdown = CancellationToken::new();
    let registry = Registry::new();
    let projector = spawn(&config, &store, &registry, shutdown.clone())?;
    let metrics = match config.metrics_listen {
        Some(addr) => Some(serve_metrics(addr, registry, store.clone(), shutdown.clone()).await?),
        None => None,
    };
    crate::signal::shutdown_signal()
        .await
        .context("waiting for SIGTERM or ctrl-c")?;
    tracing::info!("shutdown requested: draining the projector");
    shutdown.cancel();
    projector.await.context("projector task panicked")?;
    if let Some(metrics) = metrics {
        metrics.await.context("metrics task panicked")?;
    }
    store.close().await;
    tracing::info!("projector drained");
    Ok(())
}

/// Serve `registry` on `addr` until `shutdown` ([`crate::health_endpoint`]): `/readyz` is 503
/// while the database does not answer with the schema this binary needs.
pub async fn serve_metrics(
    addr: std::net::SocketAddr,
    registry: Registry,
    store: Store,
    shutdown: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use crate::health_endpoint::Readiness;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the metrics endpoint {addr}"))?;
    let ready: crate::health_endpoint::ReadyCheck = std::sync::Arc::new(move || {
        let store = store.clone();
        Box::pin(async move {
            match store.check_ready().await {
                Ok(()) => Readiness::Ready,
                Err(reason) => Readiness::NotReady(reason),
            }
        })
    });
    tracing::info!(%addr, "project metrics listening");
    Ok(tokio::spawn(async move {
        if let Err(e) = crate::health_endpoint::serve(listener, registry, ready, shutdown).await {
            tracing::warn!(error = %e, "metrics endpoint failed");
        }
    }))
}
