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
