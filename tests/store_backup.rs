//! `ofd backup` takes a consistent copy of the SQLite store while the ingest server is storing
//! documents, and `ofd restore --check` verifies it (schema version, counts, a checksum per
//! table) and catches a copy that was altered afterwards. PostgreSQL: `ofd backup` points to
//! pg_dump, and `ofd restore --check` verifies a database by URL.

mod common;
mod ingest_support;

use std::path::Path;
use std::process::Output;

use common::TestDb;
use ingest_support::*;
use ofd::ingest::Server;
use sqlx::Connection as _;

fn ofd(args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ofd"));
    for (name, _) in std::env::vars() {
        if name.starts_with("OFD_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run ofd")
}

fn json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

#[tokio::test]
async fn a_backup_taken_while_documents_arrive_is_consistent_and_checked() {
    let db = TestDb::sqlite();
    let server = Server::start(config(&db.url)).await.expect("start");
    let addr = server.local_addr();
    // Registers keep sending while the backup runs.
    let senders: Vec<_> = (0..4u64)
        .map(|r| {
            tokio::spawn(async move {
                let mut client = Client::connect(addr).await;
                for fd in 1..=40u32 {
                    let ack = client
                        .exchange(&receipt_frame(&fn_number(r), fd, 100, None))
                        .await
                        .expect("ack");
                    assert_eq!(ack_fields(&ack).code, 0);
                }
            })
        })
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let to = dir.path().join("ofd-backup.db");
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let url = db.url.clone();
    let to_text = to.display().to_string();
    let backup =
        tokio::task::spawn_blocking(move || ofd(&["backup", "--database", &url, "--to", &to_text]))
            .await
            .expect("join");
    let manifest = json(&backup);
    for sender in senders {
        sender.await.expect("sender");
    }
    server.shutdown().await.expect("shutdown");

    let backed_up = manifest["tables"]["documents"]["rows"]
        .as_u64()
        .expect("documents counted");
    assert!(backed_up <= 160, "{manifest}");
    assert_eq!(
        manifest["schema_version"],
        store_version(&db.url).await,
        "{manifest}"
    );
    assert!(Path::new(&format!("{}.manifest.json", to.display())).is_file());

    // The check recomputes everything on the copy and agrees with the manifest.
    let report = json(&ofd(&["restore", "--check", &to.display().to_string()]));
    assert_eq!(report["compared_with_manifest"], true);
    assert_eq!(report["manifest"], manifest);
    // Each document in the copy is whole: as many rows as acknowledged documents of its prefix.
    assert_eq!(
        common::count_rows(&format!("sqlite://{}", to.display()), "documents").await,
        backed_up as i64
    );

    // A backup never overwrites a file.
    let again = ofd(&[
        "backup",
        "--database",
        &db.url,
        "--to",
        &to.display().to_string(),
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // Alter one stored document in the copy: the check names the table.
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", to.display()))
        .await
        .expect("open copy");
    sqlx::query("UPDATE documents SET json = '{}' WHERE id = (SELECT MIN(id) FROM documents)")
        .execute(&mut conn)
        .await
        .expect("tamper");
    conn.close().await.ok();
    let tampered = ofd(&["restore", "--check", &to.display().to_string()]);
    assert!(!tampered.status.success());
    let stderr = String::from_utf8_lossy(&tampered.stderr);
    assert!(
        stderr.contains("table documents: checksum differs"),
        "{stderr}"
    );
}

async fn store_version(url: &str) -> serde_json::Value {
    let store = ofd::store::Store::open(url).await.expect("open");
    let version = store.schema_version().await.expect("version");
    store.close().await;
    version.into()
}

#[tokio::test]
async fn postgres_is_backed_up_with_pg_dump_and_checked_by_url() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("OFD_TEST_PG not set: PostgreSQL part skipped");
        return;
    };
    let store = db.open().await;
    let mut conn = store.pool().acquire().await.expect("connection");
    for fd in 1..=3 {
        ofd::store::insert_document(&mut conn, &common::ru_document(&fn_number(1), fd, b"raw"))
            .await
            .expect("insert");
    }
    drop(conn);
    let version = store.schema_version().await.expect("version");
    store.close().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let refused = ofd(&[
        "backup",
        "--database",
        &db.url,
        "--to",
        &dir.path().join("x.db").display().to_string(),
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("pg_dump"));

    let report = json(&ofd(&["restore", "--check", &db.url]));
    assert_eq!(report["compared_with_manifest"], false);
    assert_eq!(report["manifest"]["schema_version"], version);
    assert_eq!(report["manifest"]["tables"]["documents"]["rows"], 3);
    assert_eq!(report["manifest"]["tables"]["conflicts"]["rows"], 0);
    // The same database checked twice gives the same checksums.
    let again = json(&ofd(&["restore", "--check", &db.url]));
    assert_eq!(again["manifest"], report["manifest"]);
}
