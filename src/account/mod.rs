//! `ofd account`: the account service — organisations, registers and their lifecycle, API keys —
//! as a JSON HTTP API over the shared store.
//!
//! Design notes:
//! - It is a role like `serve` and `forward`: it shares nothing with them but the database, so it
//!   can run beside them in `ofd all` or as its own process against the same database. Register
//!   rules (FN number shape, KZ system id and token allocation, the status lifecycle) live in
//!   `store::registers` and are the same here as in `ofd register`.
//! - Every `/api/v1` request carries `Authorization: Bearer <key>`; keys are made with
//!   `ofd account key create` and stored as hashes ([`crate::store::api_keys`]).
//! - Errors are one JSON shape with a stable code (`error.rs`); KZ tokens are shown only by the
//!   calls that issue them.
//! - This first slice holds what provisioning needs; reports, search, exports, staff and alerts
//!   are further route modules beside `organisations.rs` and `registers.rs`.
//! - Configuration: [`config`], the `[account]` table, flags and env vars. HTTPS with
//!   `tls_cert`/`tls_key` (and `tls_client_ca` for client certificates) through [`crate::tls`],
//!   the pair re-read on SIGHUP; plain HTTP only on loopback.
//!
//! Drain order on SIGTERM or ctrl-c ([`crate::signal::shutdown_signal`]):
//! 1. the listener stops accepting connections;
//! 2. requests in flight are answered (each change is one transaction, committed before its
//!    answer);
//! 3. the store's pool is closed, and "account API drained" is logged.

mod auth;
pub mod config;
mod error;
mod keys;
mod organisations;
mod registers;
mod routes;

use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config_file::{ConfigArg, Layer};
use crate::store::config::{DatabaseArgs, StoreOptions};
use crate::store::Store;
pub use config::{AccountConfig, AccountOptions};
pub use routes::router;

/// Arguments of `ofd account`: serve the API, or manage its keys with `key`.
#[derive(clap::Args, Debug)]
pub struct AccountArgs {
    #[command(subcommand)]
    command: Option<AccountCommand>,
    /// `--config` (its `[account]` and `[store]` tables).
    #[command(flatten)]
    pub file: ConfigArg,
    /// `--database`, the same option as every other role's.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The API's options.
    #[command(flatten)]
    pub options: AccountOptions,
}

#[derive(clap::Subcommand, Debug)]
enum AccountCommand {
    /// Issue, revoke or list API keys (works on the database directly).
    Key(keys::KeyArgs),
}

/// A running account service: its address and the task serving it.
pub struct RunningAccount {
    /// The bound address (useful when listening on port 0).
    pub addr: SocketAddr,
    /// Completes when the server has stopped after `shutdown` was cancelled.
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Bind `listen` and serve the API over `store` in plain HTTP in a background task until
/// `shutdown` is cancelled; requests in flight are finished first. Used by tests.
pub async fn spawn(
    store: Store,
    listen: SocketAddr,
    shutdown: CancellationToken,
) -> anyhow::Result<RunningAccount> {
    spawn_with(store, &AccountConfig { listen, tls: None }, shutdown).await
}

/// As [`spawn`] on `config.listen`, over HTTPS when `config.tls` is set. Used by
/// `ofd account`, `ofd all` and tests.
pub async fn spawn_with(
    store: Store,
    config: &AccountConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<RunningAccount> {
    let listen = config.listen;
    let tls = match &config.tls {
        Some(files) => Some(
            crate::tls::ServerTls::new(files, &[b"http/1.1"])
                .context("setting up HTTPS for the account API")?,
        ),
        None => None,
    };
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    let app = router(store);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let reload = crate::tls::reload_on_sighup(
        tls.as_ref().map(|tls| tls.cert.clone()),
        "account",
        shutdown.clone(),
    )?;
    let task = match tls {
        None => tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await
                .context("serving the account API");
            let _ = reload.await;
            served
        }),
        Some(tls) => {
            let listener = crate::tls::TlsListener::new(listener, tls.acceptor())?;
            tokio::spawn(async move {
                let served = axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown.cancelled_owned())
                    .await
                    .context("serving the account API");
                let _ = reload.await;
                served
            })
        }
    };
    tracing::info!(account = %addr, scheme, "account API listening");
    Ok(RunningAccount { addr, task })
}

/// Run `ofd account` (until SIGTERM or ctrl-c) or `ofd account key …`.
pub async fn run(args: AccountArgs) -> anyhow::Result<()> {
    let file = args.file.load()?;
    let store_file: StoreOptions = file.table("store")?;
    let schema_upgrade = args.database.schema_upgrade(&store_file.database);
    let database = args.database.resolve(store_file.database);
    let config = args.options.over(file.table("account")?).resolve()?;
    let store = Store::open_with(&database, schema_upgrade)
        .await
        .context("opening the database")?;
    match args.command {
        Some(AccountCommand::Key(key)) => {
            let result = keys::run(&store, key).await;
            store.close().await;
            result
        }
        None => {
            let result = serve(&store, &config).await;
            store.close().await;
            if result.is_ok() {
                tracing::info!("account API drained");
            }
            result
        }
    }
}

async fn serve(store: &Store, config: &AccountConfig) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let mut running = spawn_with(store.clone(), config, shutdown.clone()).await?;
    tokio::select! {
        signal = crate::signal::shutdown_signal() => {
            signal?;
            tracing::info!("shutdown requested: draining the account API");
            shutdown.cancel();
            running.task.await.context("account task panicked")?
        }
        result = &mut running.task => result.context("account task panicked")?,
    }
}
