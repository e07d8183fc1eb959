//! The forwarder never gives documents up for a problem of its own side (issue 11 §3): with the
//! real `ofd tax-sink` behind a wrong path (404) or a wrong port, nothing is rejected, the
//! failure is counted by status, and everything arrives exactly once when the URL is fixed.
//! `ofd forward requeue --rejected` (the built binary) puts rejected documents back after a fix,
//! recorded in the audit log. On both backends.

mod common;
mod forward_support;

use common::{on_each_backend, TestDb};
use forward_support::*;

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `ofd_forward_send_errors_total{status}`.
fn send_errors(forwarder: &TestForwarder, status: &str) -> f64 {
    forwarder
        .registry
        .gather()
        .iter()
        .filter(|family| family.name() == "ofd_forward_send_errors_total")
        .flat_map(|family| family.get_metric())
        .filter(|m| m.get_label().iter().any(|l| l.value() == status))
        .map(|m| m.get_counter().get_value())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_path_or_port_rejects_nothing_and_all_arrives_once_after_the_fix() {
    on_each_backend(|db: TestDb| async move {
        let store = db.open().await;
        let dir = tempfile::tempdir().unwrap();
        let sink = TestSink::start(&dir.path().join("sink.db"), 0).await;
        let mut expected = ingest(&store, ru_documents("9999078900004321", 1, 60)).await;

        // A wrong path: the sink answers 404 to every batch, more than the old give-up limit.
        let wrong_path = format!("{}/api/v0/nowhere", sink.base);
        let forwarder = TestForwarder::start(&fast_options(&wrong_path), &store);
        eventually("several 404s", || async {
            send_errors(&forwarder, "404") >= 8.0
        })
        .await;
        forwarder.stop().await;
        assert_eq!(forward_states(&store).await, (60, 0, 0), "nothing rejected");

        // A wrong port: transport errors, nothing rejected either.
        let wrong_port = format!(
            "http://127.0.0.1:{}{}",
            free_port(),
            ofd::tax_batch::BATCHES_PATH
        );
        let forwarder = TestForwarder::start(&fast_options(&wrong_port), &store);
        eventually("several transport errors", || async {
            send_errors(&forwarder, "transport") >= 3.0
        })
        .await;
        forwarder.stop().await;
        assert_eq!(forward_states(&store).await, (60, 0, 0), "nothing rejected");

        // Fixed: everything arrives, once.
        let forwarder = TestForwarder::start(&fast_options(&sink.batches_url()), &store);
        eventually("the backlog to drain", || async {
            forward_states(&store).await == (0, 60, 0)
        })
        .await;
        forwarder.stop().await;
        let stats = sink.stats().await;
        assert_eq!((stats.documents, stats.duplicates), (60, 0), "{stats:?}");
        let mut at_sink = sink.document_ids().await;
        at_sink.sort();
        expected.sort();
        assert_eq!(at_sink, expected);
        sink.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requeue_puts_rejected_documents_back_and_audits_it() {
    on_each_backend(|db: TestDb| async move {
        let store = db.open().await;
        let dir = tempfile::tempdir().unwrap();
        let sink = TestSink::start(&dir.path().join("sink.db"), 0).await;
        sink.faults(serde_json::json!({"reject_documents_matching": "9999078900001111/3\""}))
            .await;
        let forwarder = TestForwarder::start(&fast_options(&sink.batches_url()), &store);
        ingest(&store, ru_documents("9999078900001111", 1, 10)).await;
        eventually("every document settled", || async {
            forward_states(&store).await == (0, 9, 1)
        })
        .await;
        forwarder.stop().await;
        sink.faults(serde_json::json!({})).await;

        let output = std::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
            .args(["forward", "requeue", "--rejected", "--since", "0"])
            .args(["--actor", "test-operator", "--database", &db.url])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        assert!(String::from_utf8_lossy(&output.stdout).contains("requeued 1"));
        assert_eq!(forward_states(&store).await, (1, 9, 0));
        let (actor, action, detail): (String, String, String) =
            sqlx::query_as("SELECT actor, action, detail FROM audit_log")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(actor, "test-operator");
        assert_eq!(action, "forward.requeue_rejected");
        assert!(detail.contains("\"documents\":1"), "{detail}");

        let forwarder = TestForwarder::start(&fast_options(&sink.batches_url()), &store);
        eventually("the requeued document sent", || async {
            forward_states(&store).await == (0, 10, 0)
        })
        .await;
        forwarder.stop().await;
        let stats = sink.stats().await;
        assert_eq!((stats.documents, stats.duplicates), (10, 0), "{stats:?}");
        sink.stop().await;
    })
    .await;
}
