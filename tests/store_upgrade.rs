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

/// The schema version this binary was built with: the highest migration file.
fn latest_migration(backend: Backend) -> i64 {
    let dir = migration_dir(backend);
    std::fs::read_dir(dir)
        .expect("migrations")
        .map(|e| {
            e.expect("entry").file_name().to_string_lossy()[..4]
                .parse::<i64>()
                .expect("NNNN_")
        })
        .max()
        .expect("some migration")
}

/// The migration before the latest one (numbers may have gaps while branches are apart).
fn previous_migration(backend: Backend) -> i64 {
    let latest = latest_migration(backend);
    std::fs::read_dir(migration_dir(backend))
        .expect("migrations")
        .map(|e| {
            e.expect("entry").file_name().to_string_lossy()[..4]
                .parse::<i64>()
                .expect("NNNN_")
        })
        .filter(|version| *version < latest)
        .max()
        .expect("an older migration")
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
