//! `ofd account`: the account service — the cabinet's identity (sign-up, login, sessions,
//! staff with roles, password recovery, invitations), organisations, registers and their
//! lifecycle, API keys, the audit log — as a JSON HTTP API over the shared store.
//!
//! Design notes:
//! - It is a role like `serve` and `forward`: it shares nothing with them but the database, so it
//!   can run beside them in `ofd all` or as its own process against the same database. Register
//!   rules (FN number shape, KZ system id and token allocation, the status lifecycle) live in
//!   `store::registers` and are the same here as in `ofd register`.
//! - Callers: operator staff with operator keys (`ofd account key create --operator`, every
//!   organisation, every request audited), people with a session cookie after `POST /login`,
//!   programs with an organisation's key made by its owner (`POST /api-keys`). All secrets are
//!   stored as hashes, passwords as argon2id (`password.rs`).
//! - Tenancy: handlers reach the database through the caller's [`crate::store::Tenant`], which
//!   scopes every query by organisation in one place; another organisation's object is 404.
//!   Role rights are one table (`auth.rs`, `allows`).
//! - Mail (confirmation, recovery, invitations) goes into the `mail_outbox` table in the same
//!   transaction as its cause and is sent by SMTP when `--smtp-url` is set (`mailer.rs`).
//! - Login by electronic signature goes through an [`esign::EsignVerifier`]; the default one is
//!   not configured.
//! - Errors are one JSON shape with a stable code (`error.rs`); KZ tokens are shown only by the
//!   calls that issue them.
//! - Documents and reports (`documents.rs`, `exports.rs`, `reports.rs`) read the tables the
//!   projector (`ofd project`, `src/project/`) builds from committed documents; they never
//!   read or decode the documents table on the hot path of ingest. Alerts are further route
//!   modules beside these.
//! - Configuration: [`config`], the `[account]` table, flags and env vars. HTTPS with
//!   `tls_cert`/`tls_key` (and `tls_client_ca` for client certificates) through [`crate::tls`],
//!   the pair re-read on SIGHUP; plain HTTP only on loopback.
//!
//! Drain order on SIGTERM or ctrl-c ([`crate::signal::shutdown_signal`]):
//! 1. the listener stops accepting connections;
//! 2. requests in flight are answered (each change is one transaction, committed before its
//!    answer);
//! 3. the mail sender finishes the message it is sending (the rest stay in the outbox);
//! 4. the store's pool is closed, and "account API drained" is logged.

mod auth;
pub mod config;
mod documents;
mod error;
pub mod esign;
mod exports;
mod identity;
mod keys;
mod mailer;
pub mod openapi;
mod organisations;
pub mod password;
mod registers;
mod reports;
mod routes;
mod staff;

use std::net::SocketAddr;
use std::sync::Arc;

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

/// What every handler can reach: the store, the settings and the e-signature verifier.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The shared store (handlers go through a caller's tenant for organisation data).
    pub store: Store,
    /// Settings.
    pub config: Arc<AccountConfig>,
    /// Login by electronic signature.
    pub esign: Arc<dyn esign::EsignVerifier>,
}

/// A running account service: its address and the task serving it.
pub struct RunningAccount {
    /// The bound address (useful when listening on port 0).
    pub addr: SocketAddr,
    /// Completes when the server has stopped after `shutdown` was cancelled.
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Bind `config.listen` and serve the API over `store` in a background task — over HTTPS when
/// `config.tls` is set, its certificate re-read on SIGHUP — until `shutdown` is cancelled;
/// requests in flight are finished first, then the mail sender stops. Used by `ofd account`,
/// `ofd all` and tests.
pub async fn spawn(
    store: Store,
    config: &AccountConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<RunningAccount> {
    let tls = match &config.tls {
        Some(files) => Some(
            crate::tls::ServerTls::new(files, &[b"http/1.1"])
                .context("setting up HTTPS for the account API")?,
        ),
        None => None,
    };
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut config = config.clone();
    if config.listen.port() == 0 && config.public_url.ends_with(":0") {
        // Listening on a port the system chose: links name the real one.
        config.public_url = format!("{scheme}://{addr}");
    }
    let mail_stop = CancellationToken::new();
    let mailer = mailer::spawn(
        store.clone(),
        config.smtp_url.as_ref(),
        &config.mail_from,
        mail_stop.clone(),
    )?;
    let state = AppState {
        store,
        config: Arc::new(config),
        esign: Arc::new(esign::NotConfigured),
    };
    let app = router(state).into_make_service_with_connect_info::<auth::PeerAddr>();
    let reload = crate::tls::reload_on_sighup(
        tls.as_ref().map(|tls| tls.cert.clone()),
        "account",
        shutdown.clone(),
    )?;
    let task = tokio::spawn(async move {
        let served = match tls {
            None => axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await
                .context("serving the account API"),
            Some(tls) => {
                let listener = crate::tls::TlsListener::new(listener, tls.acceptor())?;
                axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown.cancelled_owned())
                    .await
                    .context("serving the account API")
            }
        };
        let _ = reload.await;
        mail_stop.cancel();
        if let Some(mailer) = mailer {
            mailer.await.context("mail sender panicked")?;
        }
        served
    });
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
    let mut running = spawn(store.clone(), config, shutdown.clone()).await?;
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
