//! End-to-end delivery over loopback: documents stored the way ingest stores them reach a real
//! `ofd tax-sink` exactly once, on SQLite and (with OFD_TEST_PG) PostgreSQL, also with two
//! forwarders on one database, and through the file destination.

mod common;
mod forward_support;

use std::collections::BTreeSet;

use common::on_each_backend;
use forward_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_documents_arrive_exactly_once() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let dir = tempfile::tempdir().unwrap();
        let sink = TestSink::start(&dir.path().join("sink.db"), 0).await;
        let forwarder = TestForwarder::start(&fast_options(&sink.batches_url()), &store);

        // Some documents wait before the forwarder looks, more arrive while it runs.
        let mut expected = ingest(&store, ru_documents("9999078900001234", 1, 120)).await;
        let register = store
            .add_register(
                ofd::store::Dialect::Kz,
                ofd::store::NewRegister {
                    fn_number: None,
                    serial: None,
                    model: None,
                    reg_number: Some("010100012345".into()),
                    org_inn: Some("123456789012".into()),
                },
            )
            .await
            .unwrap();
        let system_id = register.system_id.unwrap();
        let kz = (1..=40).map(|n| kz_document(system_id, n)).collect();
        expected.extend(ingest(&store, kz).await);
        expected.extend(ingest(&store, ru_documents("9999078900005678", 1, 90)).await);

        eventually("every document at the sink", || async {
            sink.stats().await.documents == expected.len() as i64
        })
        .await;
        eventually("every document marked sent", || async {
            forward_states(&store).await == (0, expected.len() as i64, 0)
        })
        .await;
        let stats = sink.stats().await;
        assert_eq!(stats.duplicates, 0);
        assert_eq!(stats.rejected, 0);
        let at_sink: BTreeSet<String> = sink.document_ids().await.into_iter().collect();
        assert_eq!(at_sink, expected.iter().cloned().collect());
        // Small batches: the 250 documents cannot have gone in fewer than 5.
        assert!(stats.batches >= 5, "{stats:?}");
        assert_eq!(forwarder.metric("ofd_forward_documents_total"), 250.0);

        // A KZ line carries the register's numbers, the assigned fiscal sign and both times.
        let kz_line = sink
            .line(&format!("kz:{system_id}/7"), &dir.path().join("sink.db"))
            .await;
        let document = &kz_line["document"];
        assert_eq!(document["systemId"], system_id);
        assert_eq!(document["taxNumber"], "123456789012");
        assert_eq!(document["registrationNumber"], "010100012345");
        assert_eq!(document["fiscalSign"], "7");
        assert_eq!(document["documentTime"], 1_700_000_000);
        assert!(document["receivedAt"].is_i64());
        assert_eq!(document["message"]["ticket"]["total"], 500);
        forwarder.stop().await;
        sink.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_forwarders_on_one_database_send_each_document_once() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let dir = tempfile::tempdir().unwrap();
        let sink = TestSink::start(&dir.path().join("sink.db"), 0).await;
        let mut options = fast_options(&sink.batches_url());
        options.batch_max_documents = 7;
        options.workers = 3;
        // Two processes' worth of forwarders: separate instances, separate pools.
        let other_store = ofd::store::Store::open(&db.url).await.unwrap();
        let first = TestForwarder::start(&options, &store);
        let second = TestForwarder::start(&options, &other_store);

        let mut expected = Vec::new();
        for round in 0..5 {
            let fn_number = format!("99990789000{round:05}");
            expected.extend(ingest(&store, ru_documents(&fn_number, 1, 60)).await);
        }
        eventually("every document marked sent", || async {
            forward_states(&store).await == (0, expected.len() as i64, 0)
        })
        .await;
        let stats = sink.stats().await;
        assert_eq!(stats.documents, expected.len() as i64);
        assert_eq!(stats.duplicates, 0, "{stats:?}");
        let sent_by_first = first.metric("ofd_forward_documents_total");
        let sent_by_second = second.metric("ofd_forward_documents_total");
        assert_eq!(sent_by_first + sent_by_second, expected.len() as f64);
        eprintln!("first sent {sent_by_first}, second sent {sent_by_second}");
        first.stop().await;
        second.stop().await;
        sink.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_destination_writes_each_batch_once() {
    let db = common::TestDb::sqlite();
    let store = db.open().await;
    let out = tempfile::tempdir().unwrap();
    let mut options = fast_options("http://127.0.0.1:1/unused");
    options.sink_dir = Some(out.path().to_owned());
    let forwarder = TestForwarder::start(&options, &store);
    let expected = ingest(&store, ru_documents("9999078900001234", 1, 130)).await;
    eventually("every document marked sent", || async {
        forward_states(&store).await == (0, 130, 0)
    })
    .await;
    forwarder.stop().await;

    let mut ids = Vec::new();
    for day in std::fs::read_dir(out.path()).unwrap() {
        for file in std::fs::read_dir(day.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            assert!(path.to_string_lossy().ends_with(".jsonl.gz"), "{path:?}");
            let text = ofd::tax_batch::decompress(&std::fs::read(&path).unwrap(), 1 << 24).unwrap();
            for line in text.lines() {
                let line: ofd::tax_batch::BatchLine = serde_json::from_str(line).unwrap();
                ids.push(line.id);
            }
        }
    }
    ids.sort();
    let mut expected = expected;
    expected.sort();
    assert_eq!(ids, expected);
}
