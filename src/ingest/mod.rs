//! The ingest server (`ofd serve`): registers of both dialects connect to one TCP port; each
//! document is checked, committed durably by the group-commit writer, and only then acknowledged.
//!
//! Shape (after tokio-rs/mini-redis):
//! - [`listener`]: the accept loop, the connection limit (semaphore), the per-source rate limit
//!   ([`limits`]), and nothing dialect-specific;
//! - `connection`: per connection, the dialect sniff ([`ofd_protocol::sniff`]) and the one read
//!   loop (deadlines, shutdown, counting, replies) shared by both dialects;
//! - `handler`: what a dialect gives that loop: its frame codec and a per-frame handler;
//! - [`ru`]: the RU dialect: frame codec, checks in spec order, crypto unit, writer, ack;
//! - [`kz`]: the KZ dialect: frame codec, the exchange (identity, token, REQNUM, commands, one
//!   commit per exchange) and its pure rules;
//! - [`config`] and [`metrics`]: the server's options and its Prometheus metrics;
//! - [`quarantine`]: `ofd quarantine list|show|retry`, the operator's tool over kept frames.
//!
//! Invariants:
//! 1. No acknowledgement is written before [`crate::store::Writer::submit`] has returned the
//!    committed outcome of its document; storage or crypto-unit failures send nothing (the
//!    register resends), never an error code.
//! 2. Every frame ends in exactly one `ofd_ingest_frames_total{result}` increment: an ack with an
//!    explicit 1022 code, or a logged, counted close.
//! 3. The optional TLS port (`[ingest] tls_listen`) serves the same connections after a
//!    handshake (same limits, one connection semaphore for both ports); its certificate is
//!    reloaded on SIGHUP ([`crate::tls`]) without touching open connections.
//! 4. Shutdown ([`Server::shutdown`], SIGTERM, ctrl-c): stop accepting; connections finish the
//!    frame they are processing (commit and ack) and close instead of reading another; wait up
//!    to `shutdown_grace` for them; then the writer drains its queue and commits; then exit.
//!
//! The per-frame path takes no lock other than the writer's channel and the register cache's
//! map (held for a lookup, never across an await): metrics are pre-resolved
//! atomics, the rate limiter belongs to the accept loops (behind a mutex, for the PROXY headers
//! read in connection tasks), the crypto unit is shared read-only.

pub mod config;
mod connection;
mod handler;
pub mod kz;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod proxy_header;
pub mod quarantine;
pub mod ru;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::crypto::Crypto;
use crate::ingest::config::{ServeConfig, ServeOptions};
use crate::ingest::metrics::Metrics;
use crate::store::{CommittedBatch, Store, Writer, WriterConfig};

/// Arguments of `ofd serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Every option of the ingest server.
    #[command(flatten)]
    pub options: ServeOptions,
}

/// Run the ingest server until SIGTERM or ctrl-c, then shut down gracefully.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.options.resolve()?;
    let server = Server::start(config).await?;
    tracing::info!(
        listen = %server.local_addr(),
        tls_listen = server.tls_addr().map(tracing::field::display),
        metrics = %server.metrics_addr(),
        "ofd ingest serving"
    );
    let shutdown = server.shutdown_token();
    tokio::select! {
        signal = crate::signal::shutdown_signal() => {
            signal?;
            tracing::info!("shutdown requested: draining in-flight documents");
        }
        _ = shutdown.cancelled() => {}
    }
    server.shutdown().await
}

/// What every connection task shares (read-only, or internally synchronised).
pub(crate) struct Shared {
    pub config: ServeConfig,
    pub metrics: Arc<Metrics>,
    /// The store, closed last at shutdown.
    pub store: Store,
    /// The RU dialect's per-frame path.
    pub ru: ru::RuHandler,
    /// The KZ dialect's exchange (tokens, shifts, per-register serialisation).
    pub kz: kz::exchange::KzService,
    /// Cancelled when the server stops accepting; connections close between frames.
    pub shutdown: CancellationToken,
}

/// A running ingest server. Tests start one in-process on port 0 and talk to it over TCP.
pub struct Server {
    local_addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    metrics_addr: SocketAddr,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Server {
    /// Open the store (running migrations), start the writer, bind both ports and start serving.
    pub async fn start(config: ServeConfig) -> anyhow::Result<Server> {
        let store = Store::open_with(&config.database, config.schema_upgrade)
            .await
            .context("opening the database")?;
        Self::start_with_store(config, store).await
    }

    /// As [`Server::start`] on an already opened store (`ofd all` shares one with other roles).
    pub async fn start_with_store(config: ServeConfig, store: Store) -> anyhow::Result<Server> {
        let crypto = Crypto::from_config(&config.crypto).context("setting up the crypto unit")?;
        let listener = listener::bind(config.listen, config.limits.listen_backlog)
            .with_context(|| format!("binding the ingest port {}", config.listen))?;
        let metrics_listener = TcpListener::bind(config.metrics_listen)
            .await
            .with_context(|| format!("binding the metrics port {}", config.metrics_listen))?;
        let tls = match &config.tls {
            None => None,
            Some(tls) => {
                let server_tls = crate::tls::ServerTls::new(&tls.files, &[])
                    .context("setting up TLS on the register port")?;
                let tls_listener = listener::bind(tls.listen, config.limits.listen_backlog)
                    .with_context(|| format!("binding the ingest TLS port {}", tls.listen))?;
                Some((tls_listener, server_tls))
            }
        };
        let local_addr = listener.local_addr()?;
        let tls_addr = match &tls {
            Some((tls_listener, _)) => Some(tls_listener.local_addr()?),
            None => None,
        };
        let metrics_addr = metrics_listener.local_addr()?;
        let metrics = Metrics::new();
        register_scrape_time_metrics(&metrics, &store, tls.as_ref().map(|(_, t)| &t.cert)).await?;
        match crate::store::wal_reserve::check(&store).await {
            Ok(Some(advice)) => tracing::info!("{advice}"),
            Ok(None) => {}
            Err(error) => tracing::debug!(%error, "PostgreSQL's WAL settings not read"),
        }

        let observer_metrics = metrics.clone();
        let writer_config = WriterConfig {
            max_batch: config.batch.max_docs,
            max_delay: config.batch.max_wait,
            queue: config.batch.queue_capacity,
            observer: Some(Arc::new(move |batch: &CommittedBatch| {
                observer_metrics
                    .commit_batch_size
                    .observe(batch.items as f64);
                observer_metrics
                    .commit_duration
                    .observe(batch.took.as_secs_f64());
                observer_metrics
                    .commit_turn_wait
                    .observe(batch.turn_wait.as_secs_f64());
            })),
        };
        let (writer, writer_task) = Writer::spawn(store.clone(), writer_config);
        let shutdown = CancellationToken::new();
        let metrics_shutdown = CancellationToken::new();
        let metrics_task = tokio::spawn(crate::health_endpoint::serve(
            metrics_listener,
            metrics.registry(),
            readiness(store.clone(), writer.watch(), shutdown.clone()),
            metrics_shutdown.clone(),
        ));
        // Month partitions of `documents` (PostgreSQL): made before the first document and
        // kept ahead hourly; the task ends with the metrics endpoint, after the writer drained.
        crate::store::partitions::ensure_and_log(
            &store,
            crate::clock::unix_millis(),
            &metrics.partition_failures,
        )
        .await;
        tokio::spawn(crate::store::partitions::run(
            store.clone(),
            metrics.partition_failures.clone(),
            metrics_shutdown.clone(),
        ));
        let grace = config.limits.shutdown_grace;
        crate::log_limit::set_period(config.limits.log_repeat);
        tokio::spawn(crate::log_limit::flush_periodically(
            metrics_shutdown.clone(),
        ));
        let kz = kz::exchange::KzService::new(
            store.clone(),
            writer.clone(),
            config.kz.clone(),
            config.register_cache_ttl,
            metrics.clone(),
        );
        let ru = ru::RuHandler {
            max_container: config.limits.max_frame_bytes as usize,
            ofd_inn: config.ofd_inn.clone(),
            accept_unregistered: config.accept_unregistered,
            flk: config.flk,
            store: store.clone(),
            writer,
            crypto,
            registers: ru::register_cache::RegisterCache::new(config.register_cache_ttl),
            metrics: metrics.clone(),
        };
        let shared = Arc::new(Shared {
            config,
            metrics: metrics.clone(),
            store,
            ru,
            kz,
            shutdown: shutdown.clone(),
        });

        let reload = crate::tls::reload_on_sighup(
            tls.as_ref().map(|(_, server_tls)| server_tls.cert.clone()),
            "ingest",
            shutdown.clone(),
        )?;
        let task = tokio::spawn(async move {
            let tracker = TaskTracker::new();
            let semaphore = Arc::new(Semaphore::new(shared.config.limits.max_connections));
            let open = limits::OpenConnections::new(
                shared.config.limits.max_open_per_source,
                shared.config.limits.max_open_per_network,
            );
            let plain = listener::accept_loop(
                listener,
                None,
                semaphore.clone(),
                open.clone(),
                shared.clone(),
                tracker.clone(),
            );
            match tls {
                None => plain.await,
                Some((tls_listener, server_tls)) => {
                    let secure = listener::accept_loop(
                        tls_listener,
                        Some(server_tls.acceptor()),
                        semaphore,
                        open,
                        shared.clone(),
                        tracker.clone(),
                    );
                    tokio::join!(plain, secure);
                }
            }
            let _ = reload.await;
            tracker.close();
            if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
                tracing::warn!(
                    still_open = tracker.len(),
                    "shutdown grace period over; closing the remaining connections unanswered"
                );
            }
            // Dropping the dialects drops the last writer handles, which lets the writer drain
            // its queue and stop.
            let Shared { store, .. } = match Arc::try_unwrap(shared) {
                Ok(shared) => shared,
                Err(_) => anyhow::bail!("connection tasks outlived the shutdown grace period"),
            };
            let writer_result = writer_task.await;
            metrics_shutdown.cancel();
            let _ = metrics_task.await;
            store.close().await;
            writer_result.context("group-commit writer task failed")?;
            tracing::info!("ingest stopped");
            Ok(())
        });
        Ok(Server {
            local_addr,
            tls_addr,
            metrics_addr,
            metrics,
            shutdown,
            task,
        })
    }

    /// Address registers connect to (the bound port when configured with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Address of the TLS register port, when configured.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// Address of `GET /metrics`.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    /// The server's metrics, for in-process callers.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// A token that stops the server when cancelled (what SIGTERM does).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stop accepting, drain in-flight documents, stop the writer, and wait for all of it.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.task.await.context("ingest task panicked")?
    }
}

/// `/readyz` of the ingest server: not while it drains; then the database answers with the
/// schema this binary needs, and the group-commit writer commits (a heartbeat through its queue,
/// so a stalled writer shows even while every connection is merely waiting on it).
fn readiness(
    store: Store,
    writer: crate::store::writer::WriterWatch,
    shutdown: CancellationToken,
) -> crate::health_endpoint::ReadyCheck {
    use crate::health_endpoint::Readiness;
    Arc::new(move || {
        let (store, writer, shutdown) = (store.clone(), writer.clone(), shutdown.clone());
        Box::pin(async move {
            if shutdown.is_cancelled() {
                return Readiness::NotReady("shutting down: draining connections".to_owned());
            }
            if let Err(reason) = store.check_ready().await {
                return Readiness::NotReady(reason);
            }
            match writer.heartbeat().await {
                Ok(()) => Readiness::Ready,
                Err(e) => Readiness::NotReady(format!("the group-commit writer fails: {e}")),
            }
        })
    })
}

/// Metrics read when Prometheus scrapes: free space beside the SQLite file and the time the
/// write turn was held (SQLite only), and the expiry of the register port's TLS certificate
/// when TLS is on.
async fn register_scrape_time_metrics(
    metrics: &Metrics,
    store: &Store,
    tls_cert: Option<&Arc<crate::tls::ReloadableCert>>,
) -> anyhow::Result<()> {
    let registry = metrics.registry();
    if let Some(dir) = crate::store::disk_space::sqlite_directory(store).await {
        registry.register(Box::new(crate::store::disk_space::DiskSpace::new(dir)?))?;
        registry.register(Box::new(
            crate::store::turn_metrics::TurnsHeldCollector::new(store.turns_held())?,
        ))?;
    }
    if let Some(cert) = tls_cert {
        let expiry = crate::tls::CertificateExpiry::new(cert.clone(), "ingest")?;
        registry.register(Box::new(expiry))?;
    }
    Ok(())
}
