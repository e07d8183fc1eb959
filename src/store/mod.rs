//! Storage: one schema, two backends (SQLite embedded default, PostgreSQL for scale), reached
//! through the sqlx `Any` driver so that every role runs the same SQL on both.
//!
//! # Design note
//!
//! **Tables** (`migrations/<backend>/0001_core.sql`; same meaning on both backends):
//! - `registers`: provisioned cash registers. RU rows are keyed by the fiscal drive (ФН) number,
//!   KZ rows by the OFD-issued system id and carry the token the register must send next.
//!   `status` is the ingest gate; the cabinet's state (`lifecycle`) and fields came with
//!   `0009_registers_cabinet.sql`, together with `points_of_sale`, `register_versions`,
//!   `register_transitions`, `register_drives` (RU drive history) and `tax_applications`
//!   (`register_cabinet.rs`, `register_lifecycle.rs`, `points_of_sale.rs`,
//!   `tax_applications.rs`).
//! - `documents`: one row per accepted document, unique on `(dialect, doc_key)` — the idempotency
//!   key (RU `"<fn>/<fd>"`). The row holds the raw container bytes, the FNS JSON, the exact ack
//!   bytes that were sent. Inserting it also makes its `outbox` row (state `'pending'`; a
//!   trigger, `migrations/*/0021_outbox.sql`, per statement on PostgreSQL since `0023`), so
//!   storing a document and queueing it for the tax authority is one statement; the forwarder
//!   then writes only that narrow row. On PostgreSQL
//!   the table is partitioned by month of `received_at` ([`partitions`]) and the unique key is
//!   kept in `document_keys`, filled by the table's insert trigger (`migrations/postgres/0013`).
//! - `conflicts`: a *different* document that arrived under an existing key. Kept, never merged.
//! - `quarantine`: every frame a drive or register signed that was not taken as a document (a
//!   fiscal sign that does not verify, a document the decoder refuses, a register refused), with
//!   its raw bytes, the failed check and the error; committed before any reply, resolved by
//!   `ofd quarantine retry` (`quarantine.rs`).
//! - `api_keys`, `organisations` (`0004_account.sql`): the account service's keys (hashes only)
//!   and the taxpayers that own registers.
//! - `users`, `sessions`, `one_time_tokens`, `login_failures`, `audit_log`, `mail_outbox`
//!   (`0006_identity.sql`): the cabinet's people, their sessions and tokens (hashes only), the
//!   audit log and outgoing mail. Reads and changes on a caller's behalf are scoped by
//!   organisation in one place, [`tenancy`].
//! - `tariff_plans`, `register_tariffs`, `invoices`, `invoice_lines`, `wired_requests`,
//!   `catalogues`, `catalogue_items` (`0010_money.sql`): tariffs and their payment
//!   ([`tariffs`], [`invoices`]), wired-connection requests ([`wired_requests`]) and the KZ
//!   product catalogue ([`catalogue`]).
//!
//! **Invariants**
//! 1. An ack leaves the server only after the transaction holding its document has committed:
//!    [`writer::Writer::submit`] resolves after COMMIT, never before.
//! 2. One key, one document. A resend of identical bytes returns the stored ack; a different
//!    document under the same key never overwrites the first (it goes to `conflicts`).
//! 3. A document row and its outbox state are written in the same transaction.
//!
//! **When rows may be deleted**: a `documents` row never, by the ingest or the forwarder; only an
//! operator's retention job may remove rows whose outbox `state` is `'sent'` and whose retention
//! period (set by law, years) has passed. `conflicts` and `quarantine` rows are evidence for the
//! operator and are deleted only by the operator. `registers` rows are never deleted: a register
//! leaves service by status `deregistered`, so its documents keep their owner.
//!
//! **Durability**: SQLite runs in WAL mode with `synchronous=FULL` (a commit is on disk when it
//! returns; the bundled SQLite is built to sync with `fdatasync()`, which SQLite's own notes call
//! always adequate, instead of `fsync()`, which also writes the file's times:
//! `.cargo/config.toml`); PostgreSQL is used with its default `synchronous_commit=on`. SQLite allows one writer
//! at a time, so the hot path writes through one dedicated connection owned by the group-commit
//! writer, and readers use the pool. In-memory SQLite is not supported: each pooled connection
//! would see its own empty database.
//!
//! **The read models** (`doc_index`, `doc_items`, `project_*`, `drive_reports`), which only the
//! projector writes, are a file of their own on SQLite ([`read_file`], [`Store::read_pool`]), so
//! their writes never hold the documents' file; on PostgreSQL they are tables of the same
//! database.
//!
//! **Turns to write on SQLite**: when the ingest writer and the forwarder run in
//! one process (`ofd all`), they write the same file, and SQLite lets one wait for another only
//! through its busy handler, which sleeps in steps that grow to 100 ms whatever the holder does —
//! under `ofd all` a KZ exchange paced at 2,000/s waited up to 100 ms for a lock freed within a
//! few (benches/README.md, issue 20). So they take turns on an in-process queue first
//! ([`Store::sqlite_write_turn`], FIFO): the one that waits is woken the moment the one before
//! it commits. The background writers (the forwarder; the projector renewing its lease) first
//! queue among themselves, so
//! at most one of them is ever ahead of ingest: an ingest commit waits for no more than one
//! background transaction, and a background writer for no more than one of ingest's and the
//! other background writers'. Writers in other processes, and the cabinet's occasional writes,
//! still meet on SQLite's lock and its busy timeout. How long each side holds the turn is
//! counted ([`turn_metrics`]): the sum over all holders is the share of time the file is being
//! written, and near one second per second the writers queue behind one another.

pub mod alert_facts;
pub mod alerts;
pub mod api_keys;
pub mod backup;
mod cashiers;
pub mod catalogue;
pub mod checkpoint;
pub mod config;
pub mod disk_space;
pub mod documents;
pub mod esign_links;
pub mod identity;
pub mod invoices;
pub mod kz_register_view;
pub mod organisations;
pub mod partitions;
pub mod period_pieces;
pub mod placeholders;
pub mod points_of_sale;
pub mod quarantine;
pub mod read_file;
mod register_audit;
pub mod register_cabinet;
pub mod register_lifecycle;
pub mod register_numbers;
pub mod registers;
pub mod reports;
pub mod retention;
pub mod schema;
pub mod tariffs;
pub mod tax_applications;
pub mod tax_id;
pub mod tenancy;
pub mod turn_metrics;
pub mod tx_work;
pub mod upward_run;
pub mod wal_reserve;
pub mod webhook_deliveries;
pub mod wired_requests;
pub mod writer;

use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool, Connection as _};

pub use api_keys::{ApiKey, IssuedKey, KeyCheck};
pub use documents::{
    insert_document, insert_new_documents, insert_quarantine, ru_doc_key, InsertOutcome,
    NewDocument, Quarantine,
};
pub use identity::{
    AuditEntry, AuditRecord, LoginRecord, NewMail, NewSignup, NewToken, QueuedMail, Role,
    TokenPurpose, User, UserStatus,
};
pub use organisations::{NewOrganisation, Organisation, OrganisationPatch};
pub use placeholders::{bucket, Placeholders, StatementTexts};
pub use quarantine::{QuarantineFilter, QuarantineRow, Resolved};
pub use register_lifecycle::{Change, DeregistrationReason, Lifecycle};
pub use registers::{
    fetch_register_by_fn, fetch_register_by_system_id, next_kz_token, update_kz_token,
    ConnectionType, DeviceType, NewRegister, Register, RegisterDetails, RegisterFilter,
    RegisterStatus, UsageMode,
};
pub use schema::{SchemaError, SchemaUpgrade};
pub use tax_id::Country;
pub use tenancy::{Actor, Tenant, UserChange};
pub use tx_work::TxWork;
pub use writer::{BatchObserver, CommittedBatch, WriteError, Writer, WriterConfig};

/// The SQLite schema, embedded at compile time.
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
/// The PostgreSQL schema, embedded at compile time.
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");
/// The schema of SQLite's read-model file ([`read_file`]), embedded at compile time.
static SQLITE_READ_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite-read");

/// Per-connection SQLite settings: durable commits, enforced foreign keys, and a 10 s wait for
/// another writer's lock before failing with SQLITE_BUSY. Statement journals (a multi-row
/// INSERT must be undoable on its own inside the batch's transaction) stay in memory instead of
/// spilling to temporary files, and each connection may cache 16 MiB of pages, so a batch of a
/// few hundred documents is built without touching the disk before its commit.
const SQLITE_CONNECTION_PRAGMAS: [&str; 5] = [
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 10000",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -16384",
];

/// Per-connection PostgreSQL settings. JIT compilation off: every statement here is short
/// (a batch of keys, one page, one organisation's month), but on tables of millions of rows
/// the planner's cost estimates pass `jit_above_cost` and PostgreSQL spent ≈ 950 ms compiling
/// the projector's batch read of 1,000 documents that then ran in ≈ 135 ms — at ten million
/// documents the projector fell to ≈ 1,100 documents/s (benches/README.md, issue 14).
const POSTGRES_CONNECTION_SETTINGS: [&str; 1] = ["SET jit = off"];

/// Which database engine a [`Store`] talks to; the one place where SQL may differ per engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file (embedded default).
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// Which protocol family a register or document belongs to (stored as `ru` / `kz`).
pub use ofd_protocol::Dialect;

/// Errors of store operations outside the group-commit writer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database refused or failed the statement.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The request is not valid for the register's dialect or state.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The request clashes with what is stored (a key already taken, a final state).
    #[error("conflict: {0}")]
    Conflict(String),
    /// No row matched the given identity.
    #[error("not found: {0}")]
    NotFound(String),
    /// A stored value does not decode (a row written by something other than this code).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// A `dialect` column holding neither `ru` nor `kz` was written by something else.
impl From<ofd_protocol::UnknownDialect> for StoreError {
    fn from(error: ofd_protocol::UnknownDialect) -> Self {
        StoreError::Corrupt(error.to_string())
    }
}

/// Who asks for a turn to write ([`Store::sqlite_write_turn`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TurnTaker {
    /// The ingest server's group-commit writer: the ack path.
    Ingest,
    /// A role that follows or settles committed documents (projector, forwarder).
    Background,
}

/// A turn to write to SQLite, held until dropped (after the commit or the rollback).
#[derive(Debug)]
pub struct WriteTurn {
    // Declared first, dropped first: the turn goes to whoever waits for it before the next
    // background writer may queue for it.
    _turn: tokio::sync::OwnedMutexGuard<()>,
    _background: Option<tokio::sync::OwnedMutexGuard<()>>,
    taker: TurnTaker,
    since: std::time::Instant,
    held: Arc<turn_metrics::TurnsHeld>,
}

impl Drop for WriteTurn {
    fn drop(&mut self) {
        // Runs before the guards are released: the time counted is the time the turn was held.
        self.held.add(self.taker, self.since.elapsed());
    }
}

/// A handle to the database; cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    /// The pool for the read models ([`read_file`]): on SQLite, connections to their own file
    /// with the documents' file attached; on PostgreSQL the same pool as `pool`.
    read_pool: AnyPool,
    backend: Backend,
    /// The in-process queue of SQLite write transactions (see "Turns to write" above).
    write_turns: Arc<tokio::sync::Mutex<()>>,
    /// The background writers' queue in front of `write_turns`.
    background_turns: Arc<tokio::sync::Mutex<()>>,
    /// How long each side has held the turn, shared with `write_turns`.
    turns_held: Arc<turn_metrics::TurnsHeld>,
}

impl Store {
    /// Open `sqlite://path` (the file is created if missing; WAL, `synchronous=FULL`, a busy
    /// timeout and foreign keys on every connection) or `postgres://…`, and bring the schema up
    /// to date with the embedded migrations of that backend.
    pub async fn open(url: &str) -> anyhow::Result<Store> {
        Self::open_with(url, SchemaUpgrade::Auto).await
    }

    /// As [`Store::open`], with the role's policy for an older schema ([`schema`]). A schema
    /// newer than this binary's is refused either way.
    pub async fn open_with(url: &str, upgrade: SchemaUpgrade) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let url = match backend {
            Backend::Sqlite => sqlite_url_creating_file(url),
            Backend::Postgres => url.to_owned(),
        };
        let (pool, read_pool) = match backend {
            Backend::Sqlite => {
                let pool = open_sqlite_pool(&url, &SQLITE_CONNECTION_PRAGMAS, None).await?;
                let read_pool = read_file::open_pool(&url).await?;
                (pool, read_pool)
            }
            Backend::Postgres => {
                let options = AnyConnectOptions::from_str(&url)
                    .with_context(|| format!("invalid database URL {}", redact(&url)))?;
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            for setting in POSTGRES_CONNECTION_SETTINGS {
                                sqlx::query(setting).execute(&mut *conn).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await
                    .with_context(|| format!("connecting to {}", redact(&url)))?;
                (pool.clone(), pool)
            }
        };
        let store = Store {
            pool,
            read_pool,
            backend,
            write_turns: Arc::default(),
            background_turns: Arc::default(),
            turns_held: Arc::default(),
        };
        let binary = schema::latest(store.migrator());
        let (database, missing) = {
            let mut conn = store.pool.acquire().await?;
            let database = schema::database_version(&mut conn, backend).await?;
            let missing = schema::missing_below(&mut conn, store.migrator(), database).await?;
            (database, missing)
        };
        let decided = schema::decide(database, binary, upgrade);
        if !missing.is_empty() && decided.is_ok() {
            tracing::info!(
                ?missing,
                "applying migrations numbered below the schema version"
            );
        }
        let must_migrate = match decided.map(|must| must || !missing.is_empty()) {
            Ok(must) => must,
            Err(error) => {
                store.close().await;
                return Err(error.into());
            }
        };
        if must_migrate {
            store.migrate().await?;
            if database > 0 {
                tracing::info!(from = database, to = binary, "database schema upgraded");
            }
        }
        if backend == Backend::Sqlite {
            read_file::prepare(&store).await?;
        }
        Ok(store)
    }

    fn migrator(&self) -> &'static Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// The schema version of this database (the highest applied migration).
    pub async fn schema_version(&self) -> anyhow::Result<i64> {
        let mut conn = self.pool.acquire().await?;
        Ok(schema::database_version(&mut conn, self.backend).await?)
    }

    /// Whether this store can serve now, for readiness probes: the database answers and holds the
    /// schema this binary was built for. The reason names no URL or credential.
    pub async fn check_ready(&self) -> Result<(), String> {
        let version = self.schema_version().await.map_err(|e| {
            format!(
                "the database does not answer: {}",
                crate::error_chain::render(e.as_ref())
            )
        })?;
        let binary = self.binary_schema_version();
        if version != binary {
            return Err(format!(
                "the database schema is at migration {version}, this binary needs {binary}"
            ));
        }
        Ok(())
    }

    /// The highest schema version this binary knows for this store's backend.
    pub fn binary_schema_version(&self) -> i64 {
        schema::latest(self.migrator())
    }

    /// Apply every embedded migration not yet applied (idempotent).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        self.migrator()
            .run(&self.pool)
            .await
            .context("applying database migrations")
    }

    /// The shared connection pool (readers, and writers off the hot path).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool that reads and writes the read models (`doc_index`, `doc_items`,
    /// `project_*`, `drive_reports`) and sees every other table too: on SQLite its connections
    /// open the read-model file and attach the documents' file ([`read_file`]); on PostgreSQL
    /// it is [`Store::pool`]. Write only the read models through it, in
    /// [`Store::begin_read_models_write`].
    pub fn read_pool(&self) -> &AnyPool {
        &self.read_pool
    }

    /// Begin a transaction that writes the read models. On SQLite it is deferred, so it
    /// takes the read-model file's write lock at its first write and never the documents'
    /// (`BEGIN IMMEDIATE` would lock every attached file); its first statement must therefore
    /// be a write (a deferred transaction that reads and then writes fails at once when
    /// another connection wrote in between). Ingest never waits for it.
    ///
    /// On PostgreSQL its commit does not wait for the WAL to reach disk
    /// (`synchronous_commit = off` for the transaction), as the SQLite read file is not synced
    /// on commit ([`read_file`]): nothing in the read models is evidence, a crash loses at most
    /// the last few transactions whole, cursor moves with them, and those documents are
    /// projected again. Order still holds: a later synchronous commit (ingest's, retention's
    /// deletion of documents after their index rows) flushes the WAL up to and past it. The
    /// projector's commits then stop queueing for the disk beside ingest's.
    pub async fn begin_read_models_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.read_pool.begin().await,
            Backend::Postgres => {
                self.read_pool
                    .begin_with("BEGIN; SET LOCAL synchronous_commit = off")
                    .await
            }
        }
    }

    /// Which engine this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begin a read-write transaction on a pooled connection, for writers off the hot path
    /// (forwarder, operator tools). On SQLite it takes the write lock up front (`BEGIN
    /// IMMEDIATE`, waiting up to the busy timeout): a deferred transaction that reads and then
    /// writes fails at once with SQLITE_BUSY when another connection committed in between.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Wait for this process's turn to write to SQLite, and hold it (the guard) until the
    /// transaction has committed or rolled back; `None` on PostgreSQL, whose writers never wait
    /// for one another as a whole. `taker` says whose turn it is: ingest's writer queues alone,
    /// the projector and the forwarder queue among themselves first.
    pub async fn sqlite_write_turn(&self, taker: TurnTaker) -> Option<WriteTurn> {
        if self.backend != Backend::Sqlite {
            return None;
        }
        let background = match taker {
            TurnTaker::Ingest => None,
            TurnTaker::Background => Some(Arc::clone(&self.background_turns).lock_owned().await),
        };
        let turn = Arc::clone(&self.write_turns).lock_owned().await;
        Some(WriteTurn {
            _turn: turn,
            _background: background,
            taker,
            since: std::time::Instant::now(),
            held: Arc::clone(&self.turns_held),
        })
    }

    /// This store (its own pool) taking its turns to write in the queue of `other`, a store on
    /// the same database in this process: `ofd all` opens one store for ingest and one for the
    /// roles on its background runtime ([`crate::background_runtime`]), which must queue as one.
    pub fn with_write_turns_of(mut self, other: &Store) -> Store {
        self.write_turns = Arc::clone(&other.write_turns);
        self.background_turns = Arc::clone(&other.background_turns);
        self.turns_held = Arc::clone(&other.turns_held);
        self
    }

    /// How long each side has held this process's turn to write to SQLite so far.
    pub fn turns_held(&self) -> Arc<turn_metrics::TurnsHeld> {
        Arc::clone(&self.turns_held)
    }

    /// Close every pooled connection (waits for connections in use to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
        self.read_pool.close().await;
    }
}

/// Pick the backend from the URL scheme.
fn backend_of(url: &str) -> anyhow::Result<Backend> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Backend::Postgres)
    } else {
        anyhow::bail!(
            "unsupported database URL {} (expected sqlite://… or postgres://…)",
            redact(url)
        )
    }
}

/// sqlx opens SQLite files read-write but does not create them unless the URL says `mode=rwc`.
fn sqlite_url_creating_file(url: &str) -> String {
    if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// A pool on the SQLite file at `url`: WAL mode set once on a first connection
/// (`journal_mode` needs an exclusive lock and persists in the file), then every pooled
/// connection runs `pragmas` and, when given, attaches the file `(path, schema name)`.
async fn open_sqlite_pool(
    url: &str,
    pragmas: &'static [&'static str],
    attach: Option<(String, &'static str)>,
) -> anyhow::Result<AnyPool> {
    let options = AnyConnectOptions::from_str(url)
        .with_context(|| format!("invalid database URL {}", redact(url)))?;
    let mut first = AnyConnection::connect_with(&options)
        .await
        .with_context(|| format!("opening {}", redact(url)))?;
    // `query`, not `raw_sql`: the latter's future cannot be proven `Send`, and `ofd all` opens a
    // store from a spawned task.
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&mut first)
        .await?;
    first.close().await?;
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .after_connect(move |conn, _meta| {
            let attach = attach.clone();
            Box::pin(async move {
                for pragma in pragmas {
                    sqlx::query(pragma).execute(&mut *conn).await?;
                }
                if let Some((path, schema)) = attach {
                    sqlx::query(&format!("ATTACH DATABASE $1 AS {schema}"))
                        .bind(path)
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .with_context(|| format!("opening {}", redact(url)))?;
    Ok(pool)
}

/// The URL without its secrets, for error messages and logs ([`crate::url_redact`]).
pub fn redact(url: &str) -> String {
    crate::url_redact::redact_url(url)
}
