//! Upgrades: a newer binary migrates an older database on start (or refuses, when told to), and
//! an older binary on a newer database refuses to start with a message saying why. Run as the
//! built binary on both backends.

mod account_support;
mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::{count_rows, on_each_backend, TestDb};
use ofd::store::{Backend, SchemaUpgrade, Store};
use sqlx::Connection as _;

/// The migration versions of `backend`'s files, ascending (numbers may have gaps while
/// branches that each own a number are merged).
fn migration_versions(backend: Backend) -> Vec<i64> {
    let mut versions: Vec<i64> = std::fs::read_dir(migration_dir(backend))
        .expect("migrations")
        .map(|e| {
            e.expect("entry").file_name().to_string_lossy()[..4]
                .parse::<i64>()
                .expect("NNNN_")
        })
        .collect();
    versions.sort_unstable();
    versions
}

/// The schema version this binary was built with: the highest migration file.
fn latest_migration(backend: Backend) -> i64 {
    *migration_versions(backend).last().expect("some migration")
}

/// The schema version of the release before this one: the second highest migration file.
fn previous_migration(backend: Backend) -> i64 {
    let versions = migration_versions(backend);
    versions[versions.len() - 2]
}

fn migration_dir(backend: Backend) -> std::path::PathBuf {
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(name)
}

/// Bring `db` to schema version `version` with the project's own migration files, as the
/// release that had only those would have left it.
async fn migrate_to(db: &TestDb, version: i64) {
    let older = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(migration_dir(db.backend)).expect("migrations") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name[..4].parse::<i64>().expect("NNNN_") <= version {
            std::fs::copy(entry.path(), older.path().join(&name)).expect("copy");
        }
    }
    let migrator = sqlx::migrate::Migrator::new(older.path())
        .await
        .expect("older migrations");
    sqlx::any::install_default_drivers();
    let url = match db.backend {
        Backend::Sqlite => format!("{}?mode=rwc", db.url),
        Backend::Postgres => db.url.clone(),
    };
    let mut conn = sqlx::AnyConnection::connect(&url).await.expect("connect");
    migrator.run(&mut conn).await.expect("older schema");
    conn.close().await.ok();
}

/// `ofd serve` on `db` with `extra` flags; it must exit within 30 s (it refuses to start).
async fn serve_refusing(db: &TestDb, extra: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_ofd"));
    for (name, _) in std::env::vars() {
        if name.starts_with("OFD_") {
            command.env_remove(name);
        }
    }
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .args(["--database", &db.url])
        .args(extra)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("ofd serve exited instead of serving")
        .expect("run ofd");
    assert!(!output.status.success(), "ofd serve started");
    output
}

#[tokio::test]
async fn an_older_database_is_migrated_on_start_unless_refused() {
    on_each_backend(|db| async move {
        let latest = latest_migration(db.backend);
        let previous = previous_migration(db.backend);
        migrate_to(&db, previous).await;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&db.url)
            .await
            .expect("connect");
        sqlx::query(
            "INSERT INTO registers (dialect, fn_number, status, created_at, updated_at) \
             VALUES ('ru', '9999000000000001', 'active', 1, 1)",
        )
        .execute(&mut conn)
        .await
        .expect("a register from the older release");
        conn.close().await.ok();

        let refused = serve_refusing(&db, &["--schema-upgrade", "refuse"]).await;
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains(&format!(
                "the database is at schema version {previous} and this ofd needs {latest}"
            )) && stderr.contains("ofd migrate"),
            "{stderr}"
        );
        assert!(
            Store::open_with(&db.url, SchemaUpgrade::Refuse)
                .await
                .is_err(),
            "refused in-process too"
        );

        // The default: migrate on start, keeping what the older release stored.
        let store = Store::open(&db.url).await.expect("migrates");
        assert_eq!(store.schema_version().await.expect("version"), latest);
        store.close().await;
        assert_eq!(count_rows(&db.url, "registers").await, 1);
        let store = Store::open_with(&db.url, SchemaUpgrade::Refuse)
            .await
            .expect("an up-to-date schema is accepted under refuse");
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn an_older_binary_refuses_a_newer_database() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let latest = store.binary_schema_version();
        let checksum = match db.backend {
            Backend::Sqlite => "x'00'",
            Backend::Postgres => "'\\x00'::bytea",
        };
        sqlx::query(&format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (9999, 'from a newer release', TRUE, {checksum}, 0)"
        ))
        .execute(store.pool())
        .await
        .expect("a migration this binary does not have");
        store.close().await;

        let refused = serve_refusing(&db, &[]).await;
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains(&format!(
                "the database is at schema version 9999, newer than this ofd {} knows (up to \
                 {latest})",
                env!("CARGO_PKG_VERSION")
            )),
            "{stderr}"
        );
        // `ofd migrate` refuses too: there is no downgrade.
        let migrate = std::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
            .args(["migrate", "--database", &db.url])
            .env_remove("OFD_DATABASE")
            .env_remove("OFD_CONFIG")
            .output()
            .expect("run ofd migrate");
        assert!(!migrate.status.success());
        assert!(String::from_utf8_lossy(&migrate.stderr).contains("newer than this ofd"));
    })
    .await;
}

/// A database made before the identity layer (schema 0005), with an API key as the CLI of that
/// release made it (name, SHA-256 of the secret, no kind, organisation or role), then upgraded by
/// this binary's store: the key is an operator key, acting on every organisation over the API.
#[tokio::test]
async fn an_api_key_from_before_identity_becomes_an_operator_key() {
    on_each_backend(|db| async move {
        migrate_to(&db, 5).await;
        let secret = "ofd_before_identity_0123456789abcdef";
        {
            let url = match db.backend {
                Backend::Sqlite => format!("{}?mode=rwc", db.url),
                Backend::Postgres => db.url.clone(),
            };
            let mut conn = sqlx::AnyConnection::connect(&url).await.expect("connect");
            sqlx::query("INSERT INTO api_keys (name, key_hash, created_at) VALUES ($1, $2, $3)")
                .bind("ops")
                .bind(ofd::store::api_keys::key_hash(secret))
                .bind(1_700_000_000_000_i64)
                .execute(&mut conn)
                .await
                .expect("old key");
            conn.close().await.ok();
        }
        let store = db.open().await;
        assert!(store.schema_version().await.expect("version") > 5);
        match store.check_api_key(secret).await.expect("check") {
            ofd::store::KeyCheck::Valid(key) => {
                assert_eq!(key.org_id, None);
                assert_eq!(key.role, None);
            }
            other => panic!("the old key is not valid: {other:?}"),
        }
        let account = account_support::Account::start(&store).await;
        let operator = account_support::Client::with_key(&account.url, secret);
        let (status, me) = operator.get("/api/v1/me").await;
        assert_eq!((status, &me["kind"]), (200, &serde_json::json!("operator")));
        let (status, created) = operator
            .post(
                "/api/v1/organisations",
                serde_json::json!({ "inn": "7707083893", "name": "ООО Ромашка" }),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let (status, list) = operator.get("/api/v1/organisations").await;
        assert_eq!(status, 200);
        assert_eq!(list["organisations"].as_array().map(Vec::len), Some(1));
        account.stop().await;
    })
    .await;
}

/// A database of the release before documents were partitioned (schema 0012) with documents of
/// two months, confirmed and pending: upgraded by this binary's store, every document keeps its
/// id, state and ack; a resend gets the stored ack, a different document under a key is a
/// conflict, and new documents get new ids after the old ones. On PostgreSQL `documents` is then
/// partitioned by month, each old row in its month.
#[tokio::test]
async fn documents_from_before_partitioning_keep_their_ids_acks_and_keys() {
    on_each_backend(|db| async move {
        migrate_to(&db, 12).await;
        {
            let url = match db.backend {
                Backend::Sqlite => format!("{}?mode=rwc", db.url),
                Backend::Postgres => db.url.clone(),
            };
            let mut conn = sqlx::AnyConnection::connect(&url).await.expect("connect");
            // 2020-09-13 and 2023-11-14, ids 1 and 2 (ids 3.. were never used).
            for (fd, at, state) in [
                (1, 1_600_000_000_000_i64, "sent"),
                (2, 1_700_000_000_000, "pending"),
            ] {
                sqlx::query(
                    "INSERT INTO documents (dialect, doc_key, fn_number, fd_number, form_code, \
                     received_at, raw, json, ack, forward_state) \
                     VALUES ('ru', $1, '9999078900000031', $2, 3, $3, $4, '{}', $5, $6)",
                )
                .bind(format!("9999078900000031/{fd}"))
                .bind(fd)
                .bind(at)
                .bind(format!("raw {fd}").into_bytes())
                .bind(format!("ack {fd}").into_bytes())
                .bind(state)
                .execute(&mut conn)
                .await
                .expect("a document of the older release");
            }
            conn.close().await.ok();
        }
        let store = db.open().await;
        assert!(store.schema_version().await.expect("version") >= 13);
        let rows: Vec<(i64, i64, String, Vec<u8>)> = sqlx::query_as(
            "SELECT d.id, d.fd_number, o.state, d.ack FROM documents d \
                 JOIN outbox o ON o.document_id = d.id ORDER BY d.id",
        )
        .fetch_all(store.pool())
        .await
        .expect("documents");
        assert_eq!(
            rows,
            [
                (1, 1, "sent".to_owned(), b"ack 1".to_vec()),
                (2, 2, "pending".to_owned(), b"ack 2".to_vec())
            ]
        );
        if db.backend == Backend::Postgres {
            let months = ofd::store::partitions::month_partitions(&store)
                .await
                .expect("partitions");
            assert_eq!(
                months
                    .iter()
                    .map(|m| m.partition_name())
                    .collect::<Vec<_>>(),
                ["documents_p202009", "documents_p202311"]
            );
        }
        let resend = |fd: i64, raw: &str| ofd::store::NewDocument {
            dialect: ofd::store::Dialect::Ru,
            doc_key: format!("9999078900000031/{fd}"),
            fn_number: Some("9999078900000031".to_owned()),
            fd_number: Some(fd),
            system_id: None,
            form_code: 3,
            ffd_version: None,
            doc_time: None,
            received_at: 1_800_000_000_000,
            raw: raw.as_bytes().to_vec(),
            json: "{}".to_owned(),
            ack: format!("new ack {fd}").into_bytes(),
            flk_errors: None,
            sign_verdict: "unverified".to_owned(),
            unregistered: false,
            peer: None,
        };
        use ofd::store::{insert_document, InsertOutcome};
        let mut conn = store.pool().acquire().await.expect("conn");
        assert_eq!(
            insert_document(&mut conn, &resend(1, "raw 1"))
                .await
                .expect("resend"),
            InsertOutcome::Duplicate {
                ack: b"ack 1".to_vec()
            }
        );
        assert_eq!(
            insert_document(&mut conn, &resend(2, "other"))
                .await
                .expect("conflict"),
            InsertOutcome::Conflict {
                ack: b"ack 2".to_vec()
            }
        );
        assert_eq!(
            insert_document(&mut conn, &resend(3, "raw 3"))
                .await
                .expect("new"),
            InsertOutcome::Stored
        );
        drop(conn);
        let new_id: i64 = sqlx::query_scalar("SELECT id FROM documents WHERE fd_number = 3")
            .fetch_one(store.pool())
            .await
            .expect("new document");
        assert!(new_id > 2, "new ids continue after the old ones: {new_id}");
        assert_eq!(count_rows(&db.url, "documents").await, 3);
        store.close().await;
    })
    .await;
}

/// Migration 0018: a KZ state row from before it, whose last exchange is also its last
/// successful one, keeps that response once; the state read back is the one stored, and a row
/// whose two exchanges differ keeps both.
#[tokio::test]
async fn kz_state_from_before_0018_stores_its_last_response_once() {
    on_each_backend(|db| async move {
        migrate_to(&db, 15).await;
        let url = match db.backend {
            Backend::Sqlite => format!("{}?mode=rwc", db.url),
            Backend::Postgres => db.url.clone(),
        };
        let counters = serde_json::to_string(&ofd::ingest::kz::ledger::ShiftCounters::default())
            .expect("json");
        let lifetime =
            serde_json::to_string(&ofd::ingest::kz::ledger::Lifetime::default()).expect("json");
        {
            let mut conn = sqlx::AnyConnection::connect(&url).await.expect("connect");
            // System 1: last = ok (a rotating exchange). System 2: a later non-rotating one.
            for (system_id, last_reqnum, last_token, last_response) in [
                (1_i64, 5_i64, 50_i64, b"reply five".to_vec()),
                (2, 6, 51, b"reply six".to_vec()),
            ] {
                sqlx::query(
                    "INSERT INTO kz_state (system_id, version, last_reqnum, last_token, \
                     last_command, last_response, ok_reqnum, ok_token, ok_command, ok_response, \
                     shift_counters, lifetime, updated_at) \
                     VALUES ($1, 3, $2, $3, 1, $4, 5, 50, 1, $5, $6, $7, 0)",
                )
                .bind(system_id)
                .bind(last_reqnum)
                .bind(last_token)
                .bind(last_response)
                .bind(b"reply five".to_vec())
                .bind(counters.as_str())
                .bind(lifetime.as_str())
                .execute(&mut conn)
                .await
                .expect("a kz_state row of the older release");
            }
            conn.close().await.ok();
        }
        let store = db.open().await;
        assert!(store.schema_version().await.expect("version") >= 18);
        let kept: Vec<(i64, Option<Vec<u8>>)> =
            sqlx::query_as("SELECT system_id, ok_response FROM kz_state ORDER BY system_id")
                .fetch_all(store.pool())
                .await
                .expect("rows");
        assert_eq!(
            kept,
            [(1, None), (2, Some(b"reply five".to_vec()))],
            "the duplicate only is dropped"
        );
        let mut conn = store.pool().acquire().await.expect("conn");
        for (system_id, last) in [(1, &b"reply five"[..]), (2, &b"reply six"[..])] {
            let state = ofd::ingest::kz::commit::load_state(&mut conn, system_id)
                .await
                .expect("state");
            assert_eq!(state.version, 3);
            assert_eq!(
                state.last.as_ref().map(|e| e.response.as_slice()),
                Some(last)
            );
            let ok = state.last_ok.expect("a last successful exchange");
            assert_eq!((ok.reqnum, ok.token, ok.command), (5, 50, 1));
            assert_eq!(ok.response, b"reply five", "system {system_id}");
        }
        drop(conn);
        store.close().await;
    })
    .await;
}
