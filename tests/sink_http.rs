//! `ofd tax-sink` over real HTTP on 127.0.0.1: batch ids deduplicate, documents seen twice are
//! counted, faults behave as documented, and counts survive a restart.

use ofd::{
    sink::{self, faults::Faults, SinkConfig, Stats},
    tax_batch::{self, BatchLine, BatchReply, BatchStatus, BATCHES_PATH, BATCH_ID_HEADER},
};
use tokio_util::sync::CancellationToken;

fn line(id: &str, dialect: &str) -> Vec<u8> {
    let document = match dialect {
        "ru" => serde_json::json!({"receipt": {"code": 3, "fiscalDocumentNumber": 1}}),
        _ => {
            serde_json::json!({"systemId": 7, "taxNumber": "123456789012", "fiscalSign": "1234567890", "message": {}})
        }
    };
    tax_batch::encode_line(&BatchLine {
        id: id.into(),
        dialect: dialect.into(),
        received_at: 1,
        document,
    })
}

fn body(ids: &[&str]) -> Vec<u8> {
    let lines: Vec<Vec<u8>> = ids.iter().map(|id| line(id, &id[..2])).collect();
    tax_batch::compress_lines(lines.iter().map(Vec::as_slice)).unwrap()
}

struct Harness {
    base: String,
    client: reqwest::Client,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start(db: &std::path::Path, port: u16) -> Harness {
    let args = SinkConfig::new(([127, 0, 0, 1], port).into(), db.to_owned());
    let shutdown = CancellationToken::new();
    let running = sink::spawn(&args, shutdown.clone()).await.unwrap();
    Harness {
        base: format!("http://{}", running.addr),
        client: reqwest::Client::new(),
        shutdown,
        task: running.task,
    }
}

impl Harness {
    async fn post(&self, batch_id: &str, body: Vec<u8>) -> reqwest::Result<reqwest::Response> {
        self.client
            .post(format!("{}{BATCHES_PATH}", self.base))
            .header(BATCH_ID_HEADER, batch_id)
            .header("content-encoding", "gzip")
            .body(body)
            .send()
            .await
    }

    async fn send(&self, batch_id: &str, ids: &[&str]) -> BatchReply {
        let response = self.post(batch_id, body(ids)).await.unwrap();
        assert_eq!(response.status(), 200);
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
    }

    async fn stats(&self) -> Stats {
        let response = self.client.get(format!("{}/stats", self.base)).send().await;
        serde_json::from_slice(&response.unwrap().bytes().await.unwrap()).unwrap()
    }

    async fn faults(&self, faults: serde_json::Value) {
        let response = self
            .client
            .post(format!("{}/faults", self.base))
            .header("content-type", "application/json")
            .body(faults.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let plan: Faults = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(serde_json::to_value(plan).unwrap(), faults);
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn batch_id_is_idempotent_and_cross_batch_copies_count_as_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let sink = start(&dir.path().join("sink.db"), 0).await;

    let first = sink.send("b1", &["ru:1/1", "kz:7/1"]).await;
    assert_eq!(first.status, BatchStatus::Accepted);
    assert_eq!(first.accepted, 2);
    let again = sink.send("b1", &["ru:1/1", "kz:7/1"]).await;
    assert_eq!(again.status, BatchStatus::Duplicate);
    assert_eq!(again.accepted, 2);
    assert_eq!(
        sink.stats().await,
        Stats {
            batches: 1,
            documents: 2,
            duplicates: 0,
            rejected: 0,
            replayed_batches: 1
        }
    );

    // The same document under a new batch id is exactly what a forwarder must never do.
    sink.send("b2", &["ru:1/1", "ru:1/2"]).await;
    let stats = sink.stats().await;
    assert_eq!(
        (stats.batches, stats.documents, stats.duplicates),
        (2, 3, 1)
    );

    // A batch longer than one multi-row insert, one id twice in it: stored once, one duplicate.
    let ids: Vec<String> = (1..=250).map(|n| format!("ru:2/{n}")).collect();
    let mut lines: Vec<&str> = ids.iter().map(String::as_str).collect();
    lines.push("ru:2/7");
    let third = sink.send("b3", &lines).await;
    assert_eq!((third.status, third.accepted), (BatchStatus::Accepted, 251));
    let stats = sink.stats().await;
    assert_eq!(
        (stats.batches, stats.documents, stats.duplicates),
        (3, 253, 2)
    );
    sink.stop().await;
}

#[tokio::test]
async fn refuses_bad_batches_and_invalid_lines() {
    let dir = tempfile::tempdir().unwrap();
    let sink = start(&dir.path().join("sink.db"), 0).await;

    let not_gzip = sink.post("b1", b"{}".to_vec()).await.unwrap();
    assert_eq!(not_gzip.status(), 400);
    let no_id = sink
        .client
        .post(format!("{}{BATCHES_PATH}", sink.base))
        .body(body(&["ru:1/1"]))
        .send()
        .await
        .unwrap();
    assert_eq!(no_id.status(), 400);

    let bad_line = br#"{"id":"ru:1/9","dialect":"ru","receivedAt":1,"document":[1]}"#;
    let mixed = tax_batch::compress_lines([line("ru:1/1", "ru").as_slice(), bad_line]).unwrap();
    let response = sink.post("b2", mixed).await.unwrap();
    let reply: BatchReply = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(reply.accepted, 1);
    assert_eq!(reply.rejected.len(), 1);
    assert_eq!(reply.rejected[0].id, "ru:1/9");
    let stats = sink.stats().await;
    assert_eq!((stats.batches, stats.documents, stats.rejected), (1, 1, 1));
    sink.stop().await;
}

#[tokio::test]
async fn injected_faults_fail_drop_and_reject() {
    let dir = tempfile::tempdir().unwrap();
    let sink = start(&dir.path().join("sink.db"), 0).await;

    sink.faults(serde_json::json!({
        "delay_ms": 0, "fail_next_n": 1, "drop_response_after_store_next_n": 1,
        "reject_documents_matching": "kz:"
    }))
    .await;
    let failed = sink.post("b1", body(&["ru:1/1"])).await.unwrap();
    assert_eq!(failed.status(), 503);
    assert_eq!(sink.stats().await.batches, 0, "a 503 stores nothing");

    // Stored, but the answer never arrives in full.
    let dropped = match sink.post("b1", body(&["ru:1/1", "kz:7/1"])).await {
        Ok(response) => response.bytes().await.is_err(),
        Err(_) => true,
    };
    assert!(dropped, "the response must be lost");
    assert_eq!(sink.stats().await.documents, 1);

    // The retry with the same id gets the stored answer, including the refused KZ line.
    let retried = sink.send("b1", &["ru:1/1", "kz:7/1"]).await;
    assert_eq!(retried.status, BatchStatus::Duplicate);
    assert_eq!(retried.rejected.len(), 1);
    assert_eq!(
        sink.stats().await,
        Stats {
            batches: 1,
            documents: 1,
            duplicates: 0,
            rejected: 1,
            replayed_batches: 1
        }
    );
    sink.stop().await;
}

#[tokio::test]
async fn counts_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sink.db");
    let sink = start(&db, 0).await;
    sink.send("b1", &["ru:1/1"]).await;
    sink.stop().await;

    let sink = start(&db, 0).await;
    let again = sink.send("b1", &["ru:1/1"]).await;
    assert_eq!(again.status, BatchStatus::Duplicate);
    let stats = sink.stats().await;
    assert_eq!(
        (stats.batches, stats.documents, stats.replayed_batches),
        (1, 1, 1)
    );
    sink.stop().await;
}
