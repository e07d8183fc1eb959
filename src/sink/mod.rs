//! `ofd tax-sink`: a stand-in tax authority for tests, demos and labs.
//!
//! Design notes:
//! - It speaks the receiving side of [`crate::tax_batch`]: POST a gzip JSON-lines batch with a
//!   batch id, get a per-batch reply listing refused lines. Everything else about the real
//!   authority (signing, its own acknowledgement codes) is out of scope.
//! - It is the judge of "exactly once": it records every batch id and every document id in its own
//!   SQLite file ([`storage`]), answers a resent batch id with the stored reply, and counts a
//!   document that arrives again under a *different* batch id as a duplicate. `GET /stats` exposes
//!   the counts, and they survive a restart, so a test can stop the sink and start it again.
//! - Faults are injected over HTTP ([`faults`]) so that black-box tests can make it slow, fail
//!   with 5xx, store a batch and then drop the connection, or refuse matching documents.
//! - Configuration: [`config`], the `[tax_sink]` table, flags and env vars.
//!
//! Drain order on SIGTERM or ctrl-c ([`crate::signal::shutdown_signal`]):
//! 1. the listener stops accepting connections;
//! 2. requests in flight are answered: a batch being recorded commits (its transaction holds
//!    the batch id, its documents and the reply together) before its answer is sent;
//! 3. the SQLite pool is closed, which checkpoints the WAL into the file, and "tax sink
//!    drained" is logged.

pub mod config;
pub mod faults;
mod server;
pub mod storage;
mod validate;

use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config_file::{ConfigArg, Layer};
pub use config::{SinkConfig, SinkOptions};
pub use server::{router, SinkState};
pub use storage::Stats;

/// Arguments of the subcommand.
#[derive(clap::Args, Debug, Clone)]
pub struct SinkArgs {
    /// `--config` (its `[tax_sink]` table).
    #[command(flatten)]
    pub file: ConfigArg,
    /// The sink's options.
    #[command(flatten)]
    pub options: SinkOptions,
}

/// A running sink: its address and the handle that stops it.
pub struct RunningSink {
    /// The bound address (useful when listening on port 0).
    pub addr: SocketAddr,
    /// Cancel to shut the server down gracefully.
    pub shutdown: CancellationToken,
    /// Completes when the server has stopped.
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Bind, open the store and serve in a background task until `shutdown` is cancelled. Used by
/// `ofd tax-sink`, `ofd all` and the tests.
pub async fn spawn(args: &SinkConfig, shutdown: CancellationToken) -> anyhow::Result<RunningSink> {
    let storage = storage::SinkStorage::open(&args.db)
        .await
        .with_context(|| format!("opening sink database {}", args.db.display()))?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    let state = SinkState::new(storage.clone(), args.max_batch_bytes)
        .with_token(args.token.as_ref().map(|t| t.expose()));
    let app = router(state, args.max_batch_bytes);
    let stop = shutdown.clone();
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::ServerTls::new(
            &crate::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: args.tls_client_ca.clone(),
            },
            &[b"http/1.1"],
        )?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let task = match tls {
        Some(tls) => {
            let reload =
                crate::tls::reload_on_sighup(Some(tls.cert.clone()), "tax_sink", shutdown.clone())?;
            let listener = crate::tls::TlsListener::new(listener, tls.acceptor())?;
            tokio::spawn(async move {
                let served = axum::serve(listener, app)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await;
                storage.close().await;
                let _ = reload.await;
                served.context("serving the tax sink")
            })
        }
        None => tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            storage.close().await;
            served.context("serving the tax sink")
        }),
    };
    tracing::info!(%addr, scheme, db = %args.db.display(), "tax sink listening");
    Ok(RunningSink {
        addr,
        shutdown,
        task,
    })
}

/// Run the subcommand until SIGTERM or ctrl-c.
pub async fn run(args: SinkArgs) -> anyhow::Result<()> {
    let file = args.file.load()?;
    let config = args.options.over(file.table("tax_sink")?).resolve()?;
    let shutdown = CancellationToken::new();
    let mut task = spawn(&config, shutdown.clone()).await?.task;
    tokio::select! {
        signal = crate::signal::shutdown_signal() => {
            signal.context("waiting for SIGTERM or ctrl-c")?;
            tracing::info!("shutdown requested: draining the tax sink");
            shutdown.cancel();
            task.await.context("tax sink task panicked")??;
            tracing::info!("tax sink drained");
            Ok(())
        }
        result = &mut task => result.context("tax sink task panicked")?,
    }
}
