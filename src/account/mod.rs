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
//!   not configured. Challenges, linking a certificate to a user and the login itself are
//!   `esign_login.rs`.
//! - Errors are one JSON shape with a stable code (`error.rs`); KZ tokens are shown only by the
//!   calls that issue them.
//! - Route modules: `organisations.rs`, `registers.rs` (register reads, edits, status, drives),
//!   `points_of_sale.rs`, `applications.rs` (tax-authority applications), `register_batch.rs`
//!   (batch actions and CSV import), `staff.rs`, `identity.rs`; reports and
//!   exports are further modules beside them; `alerts.rs` and the evaluator hold client alerts.

//! - The web cabinet's pages (`pages/`) are served at `/` by the same service and call the
//!   handlers here in-process, with the same caller and scoping.
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
//! 3. the mail sender finishes the message it is sending (the rest stay in the outbox), and the
//!    tariff check finishes its round (`tariff_check.rs`; each block is its own transaction);
//! 4. the store's pool is closed, and "account API drained" is logged.
//!
//! Money and services: tariff plans and their activation per register (`tariffs.rs`), invoices
//! and bank-statement imports (`invoices.rs`), the periodic tariff check that blocks unpaid
//! registers after the operator's grace period (`tariff_check.rs`), wired-connection requests
//! (`wired_requests.rs`) and the KZ product catalogue (`catalogue.rs`).

pub mod alert_evaluator;
pub mod alert_rules;
mod alerts;
mod applications;
mod auth;
mod catalogue;
pub mod config;
mod csv_import;
mod documents;
mod error;
pub mod esign;
mod esign_login;
mod exports;
mod identity;
mod invoices;
mod keys;
mod mailer;
pub mod metrics;
pub mod openapi;
mod organisations;
pub mod pages;
pub mod password;
mod points_of_sale;
mod register_batch;
mod registers;
mod reports;
mod routes;
mod staff;
pub mod tariff_check;
mod tariffs;
mod webhooks;
mod wired_requests;

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
    /// Create the operator console's logins (works on the database directly).
    Operator(keys::OperatorArgs),
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
    /// The service's metrics (the cabinet's page times among them).
    pub metrics: metrics::AccountMetrics,
}

/// A running account service: its address and the task serving it.
pub struct RunningAccount {
    /// The bound address (useful when listening on port 0).
    pub addr: SocketAddr,
    /// The cabinet's address for people: `public_url`, else the listening address.
    pub cabinet: String,
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
    spawn_with_esign(store, config, Arc::new(esign::NotConfigured), shutdown).await
}

/// [`spawn`] with the deployment's electronic-signature verifier (login by signature, signing
/// tax-authority applications).
pub async fn spawn_with_esign(
    store: Store,
    config: &AccountConfig,
    esign: Arc<dyn esign::EsignVerifier>,
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
        config.public_url = config::default_public_url(scheme, addr);
    }
    let background_stop = CancellationToken::new();
    let mailer = mailer::spawn(
        store.clone(),
        config.smtp_url.as_ref(),
        &config.mail_from,
        background_stop.clone(),
    )?;
    // Background work beside the API: client alerts and their webhook deliveries, and the
    // account metrics endpoint; all stop with the mail sender, after the API has drained.
    let metrics = metrics::AccountMetrics::new();
    let evaluator = alert_evaluator::spawn(
        store.clone(),
        config.public_url.clone(),
        config.alert_interval,
        metrics.clone(),
        background_stop.clone(),
    );
    let webhooks = webhooks::spawn(store.clone(), metrics.clone(), background_stop.clone())?;
    let probes = match config.metrics_listen {
        None => None,
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the account metrics port {addr}"))?;
            tracing::info!(metrics = %listener.local_addr()?, "account metrics listening");
            let ready_store = store.clone();
            let ready: crate::health_endpoint::ReadyCheck = Arc::new(move || {
                let store = ready_store.clone();
                Box::pin(async move {
                    match store.check_ready().await {
                        Ok(()) => crate::health_endpoint::Readiness::Ready,
                        Err(reason) => crate::health_endpoint::Readiness::NotReady(reason),
                    }
                })
            });
            Some(tokio::spawn(crate::health_endpoint::serve(
                listener,
                metrics.registry(),
                ready,
                background_stop.clone(),
            )))
        }
    };
    let tariff_check = tariff_check::spawn(
        store.clone(),
        config.tariff_grace,
        config.tariff_check_every,
        background_stop.clone(),
    );
    let cabinet = format!("{}/", config.public_url);
    let state = AppState {
        store,
        config: Arc::new(config),
        esign,
        metrics,
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
        background_stop.cancel();
        if let Some(mailer) = mailer {
            mailer.await.context("mail sender panicked")?;
        }
        evaluator.await.context("alert evaluator panicked")?;
        webhooks.await.context("webhook sender panicked")?;
        if let Some(probes) = probes {
            let _ = probes.await;
        }
        tariff_check.await.context("tariff check panicked")?;
        served
    });
    tracing::info!(account = %addr, scheme, %cabinet, "account API listening");
    Ok(RunningAccount {
        addr,
        cabinet,
        task,
    })
}

/// Run `ofd account` (until SIGTERM or ctrl-c), `ofd account key …` or `ofd account operator …`.
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
        Some(AccountCommand::Operator(operator)) => {
            let result = keys::run_operator(&store, operator, &config.public_url).await;
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
