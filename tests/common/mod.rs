//! Shared test helpers: a fresh, real database per test on either backend.
//!
//! SQLite: a file in a temporary directory. PostgreSQL (only when `OFD_TEST_PG` names a server,
//! e.g. `postgres://postgres@127.0.0.1:5432/test`): a uniquely named database created through that
//! URL and dropped when the [`TestDb`] is dropped. [`on_each_backend`] runs one test body on every
//! backend available.
#![allow(dead_code)] // each test file uses a different subset

pub mod netns;

use std::future::Future;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use ofd::store::{Backend, Store};
use sqlx::{Connection as _, Executor as _};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A fresh database that exists for the lifetime of this value.
pub struct TestDb {
    /// URL to pass to `Store::open` or to the `ofd` binary.
    pub url: String,
    /// Which engine.
    pub backend: Backend,
    /// Keeps the SQLite directory alive.
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL: (server URL, database name) to drop afterwards.
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A new SQLite file (not yet created: `Store::open` creates it).
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("ofd.db").display());
        TestDb {
            url,
            backend: Backend::Sqlite,
            _dir: Some(dir),
            pg: None,
        }
    }

    /// A new, empty PostgreSQL database, or `None` when `OFD_TEST_PG` is not set.
    pub async fn postgres() -> Option<TestDb> {
        let server = std::env::var("OFD_TEST_PG")
            .ok()
            .filter(|s| !s.is_empty())?;
        let name = format!("ofd_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&server)
            .await
            .expect("connect to OFD_TEST_PG");
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        admin.close().await.ok();
        let mut url = url::Url::parse(&server).expect("OFD_TEST_PG is a URL");
        url.set_path(&name);
        Some(TestDb {
            url: url.to_string(),
            backend: Backend::Postgres,
            _dir: None,
            pg: Some((server, name)),
        })
    }

    /// Open (and migrate) the database.
    pub async fn open(&self) -> Store {
        Store::open(&self.url).await.expect("open test store")
    }

    /// Make the real database refuse the server's writes, without touching the server: on
    /// SQLite a trigger aborts every insert into `documents`; on PostgreSQL the database stops
    /// accepting connections and every session on it (the writer's, the pool's) is terminated.
    pub async fn storage_down(&self) {
        match &self.pg {
            None => {
                let sql = "CREATE TRIGGER storage_down BEFORE INSERT ON documents \
                           BEGIN SELECT RAISE(ABORT, 'storage down'); END";
                self.execute_sqlite(sql).await;
            }
            Some((server, name)) => {
                let mut admin = sqlx::PgConnection::connect(server)
                    .await
                    .expect("connect to OFD_TEST_PG");
                let refuse = format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false");
                admin.execute(refuse.as_str()).await.expect("refuse");
                let kill = format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                );
                admin.execute(kill.as_str()).await.expect("terminate");
                admin.close().await.ok();
            }
        }
    }

    /// Undo [`TestDb::storage_down`].
    pub async fn storage_up(&self) {
        match &self.pg {
            None => self.execute_sqlite("DROP TRIGGER storage_down").await,
            Some((server, name)) => {
                let mut admin = sqlx::PgConnection::connect(server)
                    .await
                    .expect("connect to OFD_TEST_PG");
                let allow = format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true");
                admin.execute(allow.as_str()).await.expect("allow");
                admin.close().await.ok();
            }
        }
    }

    /// Run one statement on the SQLite file through a connection of its own.
    async fn execute_sqlite(&self, sql: &str) {
        let mut conn = sqlx::SqliteConnection::connect(&self.url)
            .await
            .expect("second connection");
        conn.execute(sql).await.expect(sql);
        conn.close().await.ok();
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.pg.take() else {
            return;
        };
        // Drop may run inside a runtime; do the async clean-up on a thread of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&server).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = admin.execute(sql.as_str()).await;
                    let _ = admin.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Every backend a test can run on here: SQLite always, PostgreSQL when `OFD_TEST_PG` is set.
pub async fn databases() -> Vec<TestDb> {
    let mut dbs = vec![TestDb::sqlite()];
    if let Some(pg) = TestDb::postgres().await {
        dbs.push(pg);
    }
    dbs
}

/// Run `body` once per available backend, each time on a fresh database.
pub async fn on_each_backend<F, Fut>(body: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in databases().await {
        eprintln!("-- backend {:?}", db.backend);
        body(db).await;
    }
}

/// A RU document for storage tests: key from `fn_number`/`fd`, the given raw bytes, an ack that
/// names both so a test can tell which copy's ack came back.
pub fn ru_document(fn_number: &str, fd: i64, raw: &[u8]) -> ofd::store::NewDocument {
    ofd::store::NewDocument {
        dialect: ofd::store::Dialect::Ru,
        doc_key: ofd::store::ru_doc_key(fn_number, fd),
        fn_number: Some(fn_number.to_owned()),
        fd_number: Some(fd),
        system_id: None,
        form_code: 3,
        ffd_version: Some(4),
        doc_time: Some(1_700_000_000),
        received_at: 1_700_000_000_123,
        raw: raw.to_vec(),
        json: format!(r#"{{"fiscalDriveNumber":"{fn_number}","fiscalDocumentNumber":{fd}}}"#),
        ack: format!("ack {fn_number}/{fd} {}", hex::encode(raw)).into_bytes(),
        flk_errors: None,
        sign_verdict: "unverified".to_owned(),
        unregistered: false,
        peer: Some("127.0.0.1:40000".to_owned()),
    }
}

/// Count rows of `table` through a connection of its own (not the writer's).
pub async fn count_rows(url: &str, table: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .expect("second connection");
    let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&mut conn)
        .await
        .expect("count");
    conn.close().await.ok();
    n
}

/// Start the built `ofd serve` on `database` with OS-chosen ports and `extra` flags; returns the
/// child (killed on drop) and the ingest address it logged within `startup`. The log keeps being
/// drained so that the child never blocks on a full pipe.
pub async fn spawn_serve(database: &str, extra: &[&str], startup: Duration) -> (Child, SocketAddr) {
    let command = Command::new(env!("CARGO_BIN_EXE_ofd"));
    let loopback = std::net::Ipv4Addr::LOCALHOST.into();
    spawn_serve_with(command, loopback, database, extra, startup).await
}

/// [`spawn_serve`] through `command`, which runs the `ofd` binary (directly, or e.g. inside a
/// network namespace: [`netns::Host::command`]), listening on `ip` with OS-chosen ports.
pub async fn spawn_serve_with(
    mut command: Command,
    ip: std::net::IpAddr,
    database: &str,
    extra: &[&str],
    startup: Duration,
) -> (Child, SocketAddr) {
    let any_port = SocketAddr::new(ip, 0).to_string();
    let mut child = command
        .args(["--log-json", "serve", "--listen", &any_port])
        .args(["--metrics-listen", &any_port, "--database", database])
        .args(extra)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn ofd");
    let stderr = child.stderr.take().expect("stderr piped");
    let mut lines = BufReader::new(stderr).lines();
    let addr = tokio::time::timeout(startup, async {
        while let Some(line) = lines.next_line().await.expect("read log") {
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if let Some(listen) = json["fields"]["listen"].as_str() {
                return listen.parse::<SocketAddr>().expect("logged address");
            }
        }
        panic!("ofd exited before serving");
    })
    .await
    .expect("ofd started in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
}

/// Collect the JSON log of `child` (spawned with `--log-json` and stderr piped); when a line
/// names the ingest address (`fields.listen`), call `during` with that line's fields; after
/// `run`, stop it with SIGTERM (our own child, by its id) and return the whole log.
pub async fn log_of<F, Fut>(mut child: Child, run: Duration, during: F) -> String
where
    F: FnOnce(serde_json::Value) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let stderr = child.stderr.take().expect("stderr piped");
    let (listen_tx, listen_rx) = tokio::sync::oneshot::channel();
    let collect = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        let mut all = String::new();
        let mut listen_tx = Some(listen_tx);
        while let Ok(Some(line)) = lines.next_line().await {
            let json: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if json["fields"]["listen"].is_string() {
                if let Some(tx) = listen_tx.take() {
                    let _ = tx.send(json["fields"].clone());
                }
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    if let Ok(Ok(fields)) = tokio::time::timeout(run, listen_rx).await {
        during(fields).await;
    }
    tokio::time::sleep(run).await;
    let pid = child.id().expect("running").to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    let _ = child.kill().await;
    collect.await.expect("log collected")
}

/// Cycles of a crash drill: `default` in a normal test run, `OFD_DRILL_CYCLES` when set (the
/// long drills of docs/reliability.md run 20 on SQLite and 10 on PostgreSQL).
pub fn drill_cycles(default: usize) -> usize {
    std::env::var("OFD_DRILL_CYCLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// One row of a read table as text, `table|cell|cell…`, each cell an integer or a text (or
/// `None`), for comparing whole tables between two runs.
pub fn row_text(table: &str, row: &sqlx::any::AnyRow) -> String {
    use sqlx::Row as _;
    let mut cells = vec![table.to_owned()];
    for i in 0..row.len() {
        let cell = row
            .try_get::<Option<i64>, _>(i)
            .map(|v| format!("{v:?}"))
            .or_else(|_| {
                row.try_get::<Option<String>, _>(i)
                    .map(|v| format!("{v:?}"))
            })
            .expect("integer or text");
        cells.push(cell);
    }
    cells.join("|")
}
