//! `/healthz` and `/readyz` of the roles, over real HTTP against real databases: the ingest
//! server's readiness follows the database, the schema and the group-commit writer, and comes
//! back without a restart; the account service's follows the database and the schema.

mod account_support;
mod common;
mod ingest_support;

use std::net::SocketAddr;
use std::time::Duration;

use common::{on_each_backend, TestDb};
use ofd::ingest::Server;
use ofd::store::Backend;
use sqlx::{Connection as _, Executor as _};

/// `GET path` and the status code with the body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .expect("probe answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// Poll `/readyz` until it answers `want` (the pool may need a moment to notice a change).
async fn readyz_becomes(addr: SocketAddr, want: u16) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(addr, "/readyz").await;
        if status == want {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz stayed {status} ({body}), wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Record a migration this binary does not know, as a newer binary's `migrate` would.
async fn migration_from_the_future(db: &TestDb) {
    match db.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url)
                .await
                .expect("sqlite");
            conn.execute(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                 VALUES (9999, 'from a newer release', TRUE, X'00', 0)",
            )
            .await
            .expect("insert");
            conn.close().await.ok();
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("pg");
            conn.execute(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                 VALUES (9999, 'from a newer release', TRUE, '\\x00'::bytea, 0)",
            )
            .await
            .expect("insert");
            conn.close().await.ok();
        }
    }
}

async fn forget_the_future(db: &TestDb) {
    let sql = "DELETE FROM _sqlx_migrations WHERE version = 9999";
    match db.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url)
                .await
                .expect("sqlite");
            conn.execute(sql).await.expect("delete");
            conn.close().await.ok();
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("pg");
            conn.execute(sql).await.expect("delete");
            conn.close().await.ok();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_readiness_follows_the_database_and_the_schema_and_recovers_without_restart() {
    on_each_backend(|db| async move {
        let server = Server::start(ingest_support::config(&db.url))
            .await
            .expect("start");
        let probes = server.metrics_addr();
        assert_eq!(get(probes, "/healthz").await, (200, "ok\n".to_owned()));
        assert_eq!(readyz_becomes(probes, 200).await, "ready\n");
        let (status, metrics) = get(probes, "/metrics").await;
        assert_eq!(status, 200);
        assert!(metrics.contains("ofd_ingest_frames_total"), "{metrics}");

        migration_from_the_future(&db).await;
        let body = readyz_becomes(probes, 503).await;
        assert!(body.contains("schema is at migration 9999"), "{body}");
        // Alive all the while: a restart would not help.
        assert_eq!(get(probes, "/healthz").await.0, 200);
        forget_the_future(&db).await;
        readyz_becomes(probes, 200).await;

        if db.backend == Backend::Postgres {
            db.storage_down().await;
            let body = readyz_becomes(probes, 503).await;
            assert!(!body.contains("postgres://"), "no URL in the body: {body}");
            db.storage_up().await;
            readyz_becomes(probes, 200).await;
        }
        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_is_unready_while_its_writer_cannot_commit() {
    let db = TestDb::sqlite();
    let server = Server::start(ingest_support::config(&db.url))
        .await
        .expect("start");
    let probes = server.metrics_addr();
    readyz_becomes(probes, 200).await;
    // Another process holds the write lock: the database still answers reads, but the writer's
    // commits wait (busy timeout 10 s), so registers would wait for acknowledgements.
    let mut holder = sqlx::SqliteConnection::connect(&db.url)
        .await
        .expect("sqlite");
    holder.execute("BEGIN EXCLUSIVE").await.expect("lock");
    let (status, body) = get(probes, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("did not finish within"), "{body}");
    holder.execute("COMMIT").await.expect("unlock");
    holder.close().await.ok();
    readyz_becomes(probes, 200).await;
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_readiness_follows_the_schema() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let account = account_support::Account::start(&store).await;
        let addr: SocketAddr = account.url["http://".len()..].parse().expect("addr");
        assert_eq!(get(addr, "/healthz").await.0, 200);
        assert_eq!(readyz_becomes(addr, 200).await, "ready\n");
        migration_from_the_future(&db).await;
        let body = readyz_becomes(addr, 503).await;
        assert!(body.contains("schema is at migration 9999"), "{body}");
        forget_the_future(&db).await;
        readyz_becomes(addr, 200).await;
        account.stop().await;
        store.close().await;
    })
    .await;
}
