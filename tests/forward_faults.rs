//! The forwarder against a misbehaving `ofd tax-sink`: down for a while, answers lost after the
//! batch was stored, documents refused, whole batches refused. In every case each document is
//! stored at the sink at most once, and every document ends `sent` or `rejected`.

mod common;
mod forward_support;

use common::{on_each_backend, TestDb};
use forward_support::*;

/// A loopback port with nothing listening on it (yet).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_down_backlog_grows_then_drains_without_duplicates() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let dir = tempfile::tempdir().unwrap();
    let sink_db = dir.path().join("sink.db");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}{}", ofd::tax_batch::BATCHES_PATH);
    let forwarder = TestForwarder::start(&fast_options(&url), &store);

    let mut expected = ingest(&store, ru_documents("9999078900001234", 1, 40)).await;
    eventually("failed sends while the sink is down", || async {
        forwarder.metric("ofd_forward_batches_total") >= 3.0
    })
    .await;
    expected.extend(ingest(&store, ru_documents("9999078900001234", 41, 60)).await);
    eventually("the backlog gauge to show the outage", || async {
        forwarder.metric("ofd_forward_backlog_documents") == 100.0
    })
    .await;
    assert_eq!(forward_states(&store).await, (100, 0, 0));

    let sink = TestSink::start(&sink_db, port).await;
    eventually("the backlog to drain", || async {
        forward_states(&store).await == (0, 100, 0)
    })
    .await;
    eventually("the backlog gauge to drop to 0", || async {
        forwarder.metric("ofd_forward_backlog_documents") == 0.0
    })
    .await;
    let stats = sink.stats().await;
    assert_eq!((stats.documents, stats.duplicates), (100, 0), "{stats:?}");
    let mut at_sink = sink.document_ids().await;
    at_sink.sort();
    expected.sort();
    assert_eq!(at_sink, expected);
    // Attempts were counted on the documents that waited through the outage.
    let max_attempts: i64 = sqlx::query_scalar("SELECT MAX(attempts) FROM outbox")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(max_attempts >= 2, "attempts {max_attempts}");
    forwarder.stop().await;
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_are_resent_under_the_same_batch_id() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let dir = tempfile::tempdir().unwrap();
    let sink = TestSink::start(&dir.path().join("sink.db"), 0).await;
    sink.faults(serde_json::json!({"drop_response_after_store_next_n": 3, "fail_next_n": 2}))
        .await;
    let forwarder = TestForwarder::start(&fast_options(&sink.batches_url()), &store);
    ingest(&store, ru_documents("9999078900001234", 1, 150)).await;
    eventually("every document marked sent", || async {
        forward_states(&store).await == (0, 150, 0)
    })
    .await;
    let stats = sink.stats().await;
    assert_eq!(stats.documents, 150);
    assert_eq!(stats.duplicates, 0, "{stats:?}");
    // Each of the three lost answers was followed by a resend of the same batch id.
    assert!(stats.replayed_batches >= 3, "{stats:?}");
    forwarder.stop().await;
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_document_does_not_hold_back_the_others() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let dir = tempfile::tempdir().unwrap();
    let sink = TestSink::start(&dir.path().join("sink.db"), 0).await;
    sink.faults(serde_json::json!({"reject_documents_matching": "9999078900001234/7\""}))
        .await;
    let forwarder = TestForwarder::start(&fast_options(&sink.batches_url()), &store);
    ingest(&store, ru_documents("9999078900001234", 1, 30)).await;
    eventually("every document settled", || async {
        forward_states(&store).await == (0, 29, 1)
    })
    .await;
    let reason: String = sqlx::query_scalar(
        "SELECT o.reject_reason FROM outbox o JOIN documents d ON d.id = o.document_id \
         WHERE o.state = 'rejected' AND d.doc_key = $1",
    )
    .bind("9999078900001234/7")
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert!(reason.contains("fault injection"), "{reason}");
    let stats = sink.stats().await;
    assert_eq!(
        (stats.documents, stats.rejected, stats.duplicates),
        (29, 1, 0)
    );
    assert_eq!(
        forwarder.metric("ofd_forward_documents_total"),
        30.0,
        "29 sent + 1 rejected"
    );
    forwarder.stop().await;
    sink.stop().await;

    // The operator sees it through the CLI.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args(["forward", "status", "--json", "--database", &db.url])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["sent"], 29);
    assert_eq!(report["rejected"], 1);
    assert_eq!(
        report["recent_rejections"][0]["id"],
        "ru:9999078900001234/7"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_stored_json_is_rejected_locally() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let dir = tempfile::tempdir().unwrap();
    let sink = TestSink::start(&dir.path().join("sink.db"), 0).await;
    let mut documents = ru_documents("9999078900001234", 1, 5);
    documents[2].json = "{not json".to_owned();
    ingest(&store, documents).await;
    let forwarder = TestForwarder::start(&fast_options(&sink.batches_url()), &store);
    eventually("every document settled", || async {
        forward_states(&store).await == (0, 4, 1)
    })
    .await;
    assert_eq!(sink.stats().await.documents, 4);
    forwarder.stop().await;
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_forwarder_resumes_an_unanswered_batch_under_its_id() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let dir = tempfile::tempdir().unwrap();
        let sink = TestSink::start(&dir.path().join("sink.db"), 0).await;
        // Every answer is lost: the sink stores the batch, the forwarder never learns it.
        sink.faults(serde_json::json!({"drop_response_after_store_next_n": 1_000_000}))
            .await;
        let mut options = fast_options(&sink.batches_url());
        options.lease_ms = 1_000;
        options.workers = 1;
        // All 20 committed before the forwarder starts, so its first claim takes them all as
        // one batch. Started first, it could claim the documents of the writer's first commit
        // alone (the oldest is older than batch_max_age_ms as soon as a loaded machine delays
        // the next commit), and with every answer lost its one worker resends that partial
        // batch forever: the rest are never claimed and the sink never holds 20.
        ingest(&store, ru_documents("9999078900001234", 1, 20)).await;
        let first = TestForwarder::start(&options, &store);
        eventually("the batch stored at the sink", || async {
            sink.stats().await.documents == 20
        })
        .await;
        // The forwarder goes away with its batch unanswered (as in a crash after the send).
        first.stop().await;
        assert_eq!(forward_states(&store).await, (20, 0, 0));
        let open: Vec<String> =
            sqlx::query_scalar("SELECT batch_id FROM forward_batches WHERE state = 'open'")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(open.len(), 1);

        sink.faults(serde_json::json!({})).await;
        let second = TestForwarder::start(&options, &store);
        eventually("every document marked sent", || async {
            forward_states(&store).await == (0, 20, 0)
        })
        .await;
        let stats = sink.stats().await;
        assert_eq!((stats.documents, stats.duplicates), (20, 0), "{stats:?}");
        assert!(stats.replayed_batches >= 1, "{stats:?}");
        let batch_of_all: Vec<String> = sqlx::query_scalar("SELECT DISTINCT batch_id FROM outbox")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(batch_of_all, open, "resent under the same id");
        second.stop().await;
        sink.stop().await;
    })
    .await;
}
