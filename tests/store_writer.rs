//! The group-commit writer: commit before resolve, batching, failure isolation, drain on drop,
//! and idempotent migrations.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{count_rows, on_each_backend, ru_document};
use futures::future::BoxFuture;
use futures::FutureExt as _;
use ofd::store::{
    insert_document, InsertOutcome, NewDocument, Store, TxWork, WriteError, Writer, WriterConfig,
};
use sqlx::AnyConnection;

const FN: &str = "9999078900054321";

/// Work that always fails inside the transaction (a statement the database rejects).
struct Broken;

impl TxWork for Broken {
    type Output = ();

    fn apply<'c>(&'c self, conn: &'c mut AnyConnection) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        async move {
            sqlx::query("INSERT INTO no_such_table (x) VALUES (1)")
                .execute(conn)
                .await?;
            Ok(())
        }
        .boxed()
    }
}

/// Stores a document after holding the transaction open for a while, so that later submissions
/// pile up in the queue behind it.
struct SlowInsert(NewDocument, Duration);

impl TxWork for SlowInsert {
    type Output = InsertOutcome;

    fn apply<'c>(
        &'c self,
        conn: &'c mut AnyConnection,
    ) -> BoxFuture<'c, Result<InsertOutcome, sqlx::Error>> {
        async move {
            tokio::time::sleep(self.1).await;
            insert_document(conn, &self.0).await
        }
        .boxed()
    }
}

/// Counts committed batches and the items in them.
fn counting_observer() -> (WriterConfig, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let batches = Arc::new(AtomicUsize::new(0));
    let items = Arc::new(AtomicUsize::new(0));
    let (b, i) = (batches.clone(), items.clone());
    let cfg = WriterConfig {
        max_batch: 64,
        max_delay: Duration::from_millis(50),
        queue: 1024,
        observer: Some(Arc::new(move |batch| {
            b.fetch_add(1, Ordering::SeqCst);
            i.fetch_add(batch.items, Ordering::SeqCst);
        })),
    };
    (cfg, batches, items)
}

#[tokio::test]
async fn migrations_run_twice_without_change() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        store
            .migrate()
            .await
            .expect("second migrate on the same store");
        store.close().await;
        let reopened = Store::open(&db.url)
            .await
            .expect("reopen runs migrations again");
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(reopened.pool())
            .await
            .unwrap();
        assert!(applied >= 1);
        assert_eq!(count_rows(&db.url, "documents").await, 0);
    })
    .await;
}

#[tokio::test]
async fn sqlite_is_durable_wal() {
    let db = common::TestDb::sqlite();
    let store = db.open().await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
    // synchronous: 2 = FULL, on every pooled connection.
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(sync, 2);
}

#[tokio::test]
async fn submit_resolves_after_commit() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
        for fd in 1..=20 {
            let outcome = writer
                .store(ru_document(FN, fd, &fd.to_be_bytes()))
                .await
                .unwrap();
            assert_eq!(outcome, InsertOutcome::Stored);
            // Another connection sees the row the instant submit returns: it has committed.
            assert_eq!(count_rows(&db.url, "documents").await, fd);
        }
        drop(writer);
        task.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn concurrent_submits_share_transactions() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let (cfg, batches, items) = counting_observer();
        let (writer, task) = Writer::spawn(store.clone(), cfg);
        let submits = (1..=300).map(|fd| {
            let writer = writer.clone();
            tokio::spawn(async move { writer.store(ru_document(FN, fd, &fd.to_be_bytes())).await })
        });
        for outcome in futures::future::join_all(submits).await {
            assert_eq!(outcome.unwrap().unwrap(), InsertOutcome::Stored);
        }
        drop(writer);
        task.await.unwrap();
        assert_eq!(items.load(Ordering::SeqCst), 300);
        let batches = batches.load(Ordering::SeqCst);
        assert!(
            batches < 300,
            "300 items in {batches} batches: nothing was grouped"
        );
        assert_eq!(count_rows(&db.url, "documents").await, 300);
    })
    .await;
}

#[tokio::test]
async fn failing_item_does_not_fail_its_neighbours() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let (cfg, _batches, _items) = counting_observer();
        let (writer, task) = Writer::spawn(store.clone(), cfg);
        let good = (1..=10).map(|fd| {
            let writer = writer.clone();
            tokio::spawn(async move { writer.store(ru_document(FN, fd, &fd.to_be_bytes())).await })
        });
        let good: Vec<_> = good.collect();
        let bad = {
            let writer = writer.clone();
            tokio::spawn(async move { writer.submit(Broken).await })
        };
        for outcome in futures::future::join_all(good).await {
            assert_eq!(outcome.unwrap().unwrap(), InsertOutcome::Stored);
        }
        assert!(matches!(bad.await.unwrap(), Err(WriteError::Database(_))));
        assert_eq!(count_rows(&db.url, "documents").await, 10);
        // The writer keeps working after the failure.
        let later = writer.store(ru_document(FN, 99, b"later")).await.unwrap();
        assert_eq!(later, InsertOutcome::Stored);
        drop(writer);
        task.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn dropping_every_handle_drains_the_queue() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let cfg = WriterConfig {
            max_batch: 1,
            ..WriterConfig::default()
        };
        let (writer, task) = Writer::spawn(store.clone(), cfg);
        // The first item holds the writer busy while the rest queue up behind it.
        let slow = {
            let writer = writer.clone();
            let doc = ru_document(FN, 1, b"slow");
            tokio::spawn(async move {
                writer
                    .submit(SlowInsert(doc, Duration::from_millis(300)))
                    .await
            })
        };
        let queued: Vec<_> = (2..=40)
            .map(|fd| {
                let writer = writer.clone();
                tokio::spawn(
                    async move { writer.store(ru_document(FN, fd, &fd.to_be_bytes())).await },
                )
            })
            .collect();
        while writer.queue_depth() < 39 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Every submitter goes away (as on shutdown, connections closing) and so does the last
        // handle: what was queued must still be committed before the task exits.
        for submit in &queued {
            submit.abort();
        }
        slow.abort();
        drop(writer);
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("writer task exits after draining")
            .unwrap();
        assert_eq!(count_rows(&db.url, "documents").await, 40);
    })
    .await;
}

#[tokio::test]
async fn begin_write_commits_beside_the_writer() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
        writer.store(ru_document(FN, 1, b"one")).await.unwrap();
        // An off-hot-path writer (like the forwarder) reads, then writes, then commits.
        let mut tx = store.begin_write().await.unwrap();
        let pending: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        assert_eq!(pending, 1);
        sqlx::query("UPDATE outbox SET state = 'sent'")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        writer.store(ru_document(FN, 2, b"two")).await.unwrap();
        let sent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'sent'")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(sent, 1);
        assert_eq!(count_rows(&db.url, "documents").await, 2);
        drop(writer);
        task.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn writer_reconnects_after_losing_its_connection() {
    // Only PostgreSQL can have a connection killed from the outside.
    let Some(db) = common::TestDb::postgres().await else {
        return;
    };
    let store = db.open().await;
    let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
    writer.store(ru_document(FN, 1, b"before")).await.unwrap();
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert!(!killed.is_empty(), "the writer's connection was found");
    // BEGIN fails on the dead connection before anything was done, so the writer replaces it
    // and runs the same batch at once: the first document after the outage is not lost.
    let first_try = writer
        .store(ru_document(FN, 2, b"after"))
        .await
        .expect("stored on a fresh connection");
    assert_eq!(first_try, InsertOutcome::Stored);
    assert_eq!(count_rows(&db.url, "documents").await, 2);
    drop(writer);
    task.await.unwrap();
}

/// One batch holding a new key twice (same bytes, then different bytes), a key stored by an
/// earlier batch, and more than one multi-row statement's worth of new keys: the bulk path must
/// store each key once and still tell resends from conflicts.
#[tokio::test]
async fn one_batch_with_repeated_and_existing_keys() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let (cfg, batches, _items) = counting_observer();
        let cfg = WriterConfig {
            max_batch: 512,
            ..cfg
        };
        let (writer, task) = Writer::spawn(store.clone(), cfg);
        let earlier = ru_document(FN, 1, b"earlier");
        assert_eq!(
            writer.store(earlier.clone()).await.unwrap(),
            InsertOutcome::Stored
        );
        let batches_before = batches.load(Ordering::SeqCst);

        // join! polls in order, so the queue order (and so the batch order) is this order.
        let first = ru_document(FN, 2, b"first");
        let (a, b, c, d, e, news) = futures::join!(
            writer.store(first.clone()),
            writer.store(first.clone()),
            writer.store(ru_document(FN, 2, b"other")),
            writer.store(earlier.clone()),
            writer.store(ru_document(FN, 1, b"changed")),
            futures::future::join_all((100..250).map(|fd| writer.store(ru_document(
                FN,
                fd,
                &fd.to_be_bytes()
            )))),
        );
        assert_eq!(a.unwrap(), InsertOutcome::Stored);
        assert_eq!(
            b.unwrap(),
            InsertOutcome::Duplicate {
                ack: first.ack.clone()
            }
        );
        assert_eq!(
            c.unwrap(),
            InsertOutcome::Conflict {
                ack: first.ack.clone()
            }
        );
        assert_eq!(
            d.unwrap(),
            InsertOutcome::Duplicate {
                ack: earlier.ack.clone()
            }
        );
        assert_eq!(
            e.unwrap(),
            InsertOutcome::Conflict {
                ack: earlier.ack.clone()
            }
        );
        assert!(news
            .into_iter()
            .all(|o| o.unwrap() == InsertOutcome::Stored));
        assert_eq!(
            batches.load(Ordering::SeqCst),
            batches_before + 1,
            "one batch"
        );
        assert_eq!(count_rows(&db.url, "documents").await, 2 + 150);
        assert_eq!(count_rows(&db.url, "conflicts").await, 2);
        drop(writer);
        task.await.unwrap();
    })
    .await;
}

/// On SQLite the WAL is copied into the database file by the background checkpointer while the
/// writer runs: 1.5 MiB of documents (under the writer's own checkpoint threshold of 32 MiB)
/// reach the main file without the writer checkpointing itself.
#[tokio::test]
async fn sqlite_wal_is_checkpointed_in_the_background() {
    let db = common::TestDb::sqlite();
    let store = db.open().await;
    let path = db.url.trim_start_matches("sqlite://").to_owned();
    let size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
    let before = size();
    let stored = futures::future::join_all(
        // Each row holds 4 KiB of raw bytes and, in the test ack, 8 KiB of their hex.
        (1..=128).map(|fd| writer.store(ru_document(FN, fd, &[fd as u8; 4096]))),
    )
    .await;
    assert!(stored
        .into_iter()
        .all(|o| o.unwrap() == InsertOutcome::Stored));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while size() < before + 1024 * 1024 {
        assert!(
            std::time::Instant::now() < deadline,
            "database file still {} bytes: the WAL was not checkpointed",
            size()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(writer);
    task.await.unwrap();
}

/// On SQLite the WAL is rewound, not grown: after three times the writer's checkpoint threshold
/// (8,000 pages, 32 MiB) has gone through it, the `-wal` file is still about one threshold
/// long. A WAL that only the background's PASSIVE checkpoints looked after would never be
/// rewound while the writer kept appending, and every commit would append to a longer file.
#[tokio::test]
async fn sqlite_wal_is_rewound_after_the_writers_threshold() {
    let db = common::TestDb::sqlite();
    let store = db.open().await;
    let wal = format!("{}-wal", db.url.trim_start_matches("sqlite://"));
    let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
    let threshold = u64::from(ofd::store::checkpoint::WRITER_AUTOCHECKPOINT_PAGES) * 4096;
    let mut written = 0u64;
    let mut fd = 0i64;
    while written < 3 * threshold {
        // Each row holds 4 KiB of raw bytes and, in the test ack, 8 KiB of their hex.
        let stored = futures::future::join_all(
            (fd + 1..=fd + 256).map(|fd| writer.store(ru_document(FN, fd, &[fd as u8; 4096]))),
        )
        .await;
        fd += 256;
        assert!(stored
            .into_iter()
            .all(|o| o.unwrap() == InsertOutcome::Stored));
        written += 256 * 12 * 1024;
    }
    let wal_size = std::fs::metadata(&wal)
        .expect("the -wal file beside the database")
        .len();
    assert!(
        wal_size < threshold + threshold / 2,
        "the WAL is {wal_size} bytes after {written} bytes of documents: it was not rewound \
         at the writer's threshold of {threshold} bytes"
    );
    drop(writer);
    task.await.unwrap();
}
