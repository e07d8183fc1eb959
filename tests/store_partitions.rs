//! Documents by month (PostgreSQL partitions, `migrations/postgres/0013`): the server's months
//! ahead, and the idempotency rule unchanged whatever month a document and its resend arrive in
//! — a resend gets the stored ack and is stored once, a different document under the key is a
//! conflict — on both backends (SQLite has one table; the same outcomes are asserted there).

mod common;
mod forward_support;

use common::on_each_backend;
use forward_support::ru_document;
use ofd::store::partitions::{ensure_ahead, month_partitions};
use ofd::store::{Backend, InsertOutcome, NewDocument, Writer, WriterConfig};

const DAY_MS: i64 = 86_400_000;
/// 2020-09-13.
const T0: i64 = 1_600_000_000_000;

fn document(fd: i64, received_at: i64) -> NewDocument {
    let mut document = ru_document("9999078900000021", fd);
    document.received_at = received_at;
    document.ack = format!("ack {fd}").into_bytes();
    document
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_in_another_month_gets_the_stored_ack_and_conflicts_are_found_across_months() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let postgres = store.backend() == Backend::Postgres;
        let made = ensure_ahead(&store, T0).await.unwrap();
        if postgres {
            let documents_made: Vec<&str> = made
                .created
                .iter()
                .map(String::as_str)
                .filter(|name| name.starts_with("documents_"))
                .collect();
            assert_eq!(
                documents_made,
                [
                    "documents_p202009",
                    "documents_p202010",
                    "documents_p202011"
                ]
            );
            // The same three months of each read table (tests/store_read_partitions.rs).
            assert_eq!(made.created.len(), 3 * 6, "{made:?}");
            // A second run, a day later, has nothing to make.
            let again = ensure_ahead(&store, T0 + DAY_MS).await.unwrap();
            assert!(
                again.created.is_empty() && again.failed.is_empty(),
                "{again:?}"
            );
            assert_eq!(month_partitions(&store).await.unwrap().len(), 3);
        } else {
            assert!(made.created.is_empty() && made.failed.is_empty());
        }

        let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
        // September, October, and 2019 (no month partition: the default one).
        let arrivals = [(1, T0), (2, T0 + 20 * DAY_MS), (3, 1_546_300_800_000)];
        for (fd, at) in arrivals {
            assert_eq!(
                writer.store(document(fd, at)).await.unwrap(),
                InsertOutcome::Stored
            );
        }
        // Each resent in a later month (another partition): the stored ack, nothing stored.
        for (fd, _) in arrivals {
            let resend = document(fd, T0 + 50 * DAY_MS);
            assert_eq!(
                writer.store(resend).await.unwrap(),
                InsertOutcome::Duplicate {
                    ack: format!("ack {fd}").into_bytes()
                },
                "fd {fd}"
            );
        }
        // Different bytes under September's key, arriving in November: a conflict, answered
        // with September's ack, kept in `conflicts`, the stored document untouched.
        let mut other = document(1, T0 + 60 * DAY_MS);
        other.raw = b"different bytes".to_vec();
        assert_eq!(
            writer.store(other).await.unwrap(),
            InsertOutcome::Conflict {
                ack: b"ack 1".to_vec()
            }
        );
        drop(writer);
        task.await.unwrap();

        let count = |sql: &'static str| {
            let pool = store.pool().clone();
            async move {
                sqlx::query_scalar::<_, i64>(sql)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(count("SELECT COUNT(*) FROM documents").await, 3);
        assert_eq!(count("SELECT COUNT(*) FROM conflicts").await, 1);
        let raw: Vec<u8> =
            sqlx::query_scalar("SELECT raw FROM documents WHERE doc_key = '9999078900000021/1'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(raw, b"raw 9999078900000021/1");
        if postgres {
            assert_eq!(count("SELECT COUNT(*) FROM document_keys").await, 3);
            let placed: Vec<(i64, String)> = sqlx::query_as(
                "SELECT fd_number, CAST(CAST(tableoid AS regclass) AS TEXT) FROM documents \
                 ORDER BY fd_number",
            )
            .fetch_all(store.pool())
            .await
            .unwrap();
            assert_eq!(
                placed,
                [
                    (1, "documents_p202009".to_owned()),
                    (2, "documents_p202010".to_owned()),
                    (3, "documents_default".to_owned())
                ]
            );
        }
    })
    .await;
}

/// The WAL-reserve advice ingest logs at start (`store::wal_reserve`) reads the server's own
/// settings: on PostgreSQL it is exactly the advice for `min_wal_size` and `wal_init_zero` as
/// the server reports them; on SQLite there is none.
#[tokio::test]
async fn the_wal_reserve_advice_follows_the_servers_settings() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let advice = ofd::store::wal_reserve::check(&store).await.unwrap();
        if store.backend() != Backend::Postgres {
            assert_eq!(advice, None);
            return;
        }
        let min_wal: String = sqlx::query_scalar("SHOW min_wal_size")
            .fetch_one(store.pool())
            .await
            .unwrap();
        let init_zero: String = sqlx::query_scalar("SHOW wal_init_zero")
            .fetch_one(store.pool())
            .await
            .unwrap();
        // SHOW prints the size with its unit: "80MB", "2GB".
        let mb = match min_wal.strip_suffix("GB") {
            Some(gb) => gb.parse::<i64>().unwrap() * 1024,
            None => min_wal.trim_end_matches("MB").parse::<i64>().unwrap(),
        };
        assert_eq!(
            advice,
            ofd::store::wal_reserve::advice(mb, init_zero == "on"),
            "min_wal_size {min_wal}, wal_init_zero {init_zero}"
        );
    })
    .await;
}
