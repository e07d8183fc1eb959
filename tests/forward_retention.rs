//! Retention with a chosen clock, on SQLite and (with OFD_TEST_PG) PostgreSQL: documents older
//! than the retention period are deleted in batches only once the tax authority confirmed them
//! (delivered by the real forwarder to a real `ofd tax-sink`); younger ones and unconfirmed old
//! ones stay; every deletion is counted.

mod common;
mod forward_support;

use common::on_each_backend;
use forward_support::*;
use ofd::forward::retention::Retention;
use tokio_util::sync::CancellationToken;

const DAY_MS: i64 = 86_400_000;
/// When the old documents arrived (2020-09-13).
const T0: i64 = 1_600_000_000_000;

fn received(fn_number: &str, first: i64, count: i64, at: i64) -> Vec<ofd::store::NewDocument> {
    let mut documents = ru_documents(fn_number, first, count);
    for document in &mut documents {
        document.received_at = at;
    }
    documents
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_confirmed_documents_older_than_the_period_are_deleted_in_batches() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let dir = tempfile::tempdir().unwrap();
        let sink = TestSink::start(&dir.path().join("sink.db"), 0).await;
        // 30 old and 5 young documents, all confirmed by the sink.
        let mut sent = received("9999078900000001", 1, 30, T0);
        sent.extend(received("9999078900000002", 1, 5, T0 + 10 * DAY_MS));
        ingest(&store, sent).await;
        let mut options = fast_options(&sink.batches_url());
        options.retention_days = 0; // this test runs retention itself, at a time it chooses
        let forwarder = TestForwarder::start(&options, &store);
        eventually("35 documents confirmed", || async {
            forward_states(&store).await == (0, 35, 0)
        })
        .await;
        forwarder.stop().await;
        // 10 old documents the tax authority has not confirmed.
        ingest(&store, received("9999078900000003", 1, 10, T0)).await;

        let counter = prometheus::IntCounter::new("deleted", "test").unwrap();
        let retention = Retention::new(store.clone(), 5, 7, counter.clone()).expect("on");
        let never = CancellationToken::new();
        // Now is T0 + 6 days: the cutoff, T0 + 1 day, is after the old and before the young.
        let deleted = retention.run_once(T0 + 6 * DAY_MS, &never).await.unwrap();
        assert_eq!(
            deleted, 30,
            "every old confirmed document, over several batches of 7"
        );
        assert_eq!(counter.get(), 30);
        assert_eq!(forward_states(&store).await, (10, 5, 0));
        let left: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT fn_number FROM documents ORDER BY fn_number")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(left, ["9999078900000002", "9999078900000003"]);

        // Nothing more to do at the same time; a later time reaches the young ones too, and
        // still never the unconfirmed ones.
        assert_eq!(
            retention.run_once(T0 + 6 * DAY_MS, &never).await.unwrap(),
            0
        );
        assert_eq!(
            retention.run_once(T0 + 100 * DAY_MS, &never).await.unwrap(),
            5
        );
        assert_eq!(counter.get(), 35);
        assert_eq!(forward_states(&store).await, (10, 0, 0));
        // Retention 0 means keep everything: no task at all.
        assert!(Retention::new(store.clone(), 0, 7, counter).is_none());
        sink.stop().await;
    })
    .await;
}

/// The month partitions of `documents` left (PostgreSQL; none on SQLite).
async fn partitions_left(store: &ofd::store::Store) -> Vec<String> {
    ofd::store::partitions::month_partitions(store)
        .await
        .unwrap()
        .iter()
        .map(|m| m.partition_name())
        .collect()
}

/// PostgreSQL drops a month whose documents were all confirmed as a whole partition (and its
/// idempotency keys), keeps a month holding an unconfirmed document for the batch delete, which
/// also reaches the default partition; SQLite deletes the same documents in batches. Same
/// documents deleted, same counter, on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_confirmed_months_are_dropped_and_months_with_unconfirmed_documents_are_kept() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let postgres = store.backend() == ofd::store::Backend::Postgres;
        // The server would have made 2020-09 .. 2020-11 ahead at T0 (2020-09-13).
        let made = ofd::store::partitions::ensure_ahead(&store, T0)
            .await
            .unwrap();
        let expected_months = [
            "documents_p202009",
            "documents_p202010",
            "documents_p202011",
        ];
        if postgres {
            let documents_made: Vec<&str> = made
                .created
                .iter()
                .map(String::as_str)
                .filter(|name| name.starts_with("documents_"))
                .collect();
            assert_eq!(documents_made, expected_months);
            assert_eq!(partitions_left(&store).await, expected_months);
        } else {
            assert!(made.created.is_empty() && made.failed.is_empty());
        }
        let dir = tempfile::tempdir().unwrap();
        let sink = TestSink::start(&dir.path().join("sink.db"), 0).await;
        // September (20), October (10), November (5, younger than the cutoff), and 4 from
        // January 2019, which no month partition covers (the default partition on PostgreSQL).
        let mut sent = received("9999078900000011", 1, 20, T0);
        sent.extend(received("9999078900000012", 1, 10, T0 + 20 * DAY_MS));
        sent.extend(received("9999078900000013", 1, 5, T0 + 60 * DAY_MS));
        sent.extend(received("9999078900000014", 1, 4, 1_546_300_800_000));
        ingest(&store, sent).await;
        let mut options = fast_options(&sink.batches_url());
        options.retention_days = 0;
        let forwarder = TestForwarder::start(&options, &store);
        eventually("39 documents confirmed", || async {
            forward_states(&store).await == (0, 39, 0)
        })
        .await;
        forwarder.stop().await;
        // Three October documents the tax authority has not confirmed.
        ingest(&store, received("9999078900000015", 1, 3, T0 + 21 * DAY_MS)).await;

        let deleted = prometheus::IntCounter::new("deleted", "test").unwrap();
        let dropped = prometheus::IntCounter::new("dropped", "test").unwrap();
        let retention = Retention::new(store.clone(), 5, 7, deleted.clone())
            .expect("on")
            .counting_partitions(dropped.clone());
        let never = CancellationToken::new();
        // Now is 2020-11-10: the cutoff (2020-11-05) is after September and October ended.
        let now = T0 + 58 * DAY_MS;
        let total = retention.run_once(now, &never).await.unwrap();
        assert_eq!(total, 20 + 10 + 4, "September, October's confirmed, 2019");
        assert_eq!(deleted.get(), 34);
        assert_eq!(forward_states(&store).await, (3, 5, 0));
        let left: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT fn_number FROM documents ORDER BY fn_number")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(left, ["9999078900000013", "9999078900000015"]);
        if postgres {
            assert_eq!(dropped.get(), 1, "September dropped whole");
            assert_eq!(
                partitions_left(&store).await,
                ["documents_p202010", "documents_p202011"],
                "October kept: it holds unconfirmed documents"
            );
            let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM document_keys")
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(keys, 8, "the keys of every deleted document went with it");
        } else {
            assert_eq!(dropped.get(), 0);
        }
        // A resend of a dropped September document is a new document again (its key went
        // with it), stored once.
        ingest(&store, received("9999078900000011", 1, 1, now)).await;
        assert_eq!(forward_states(&store).await, (4, 5, 0));
        // Nothing more at the same time.
        assert_eq!(retention.run_once(now, &never).await.unwrap(), 0);
        sink.stop().await;
    })
    .await;
}
