//! Every long-running role stops on SIGTERM as on ctrl-c, drains in its documented order and
//! exits successfully: `ofd forward`, `ofd project`, `ofd tax-sink` and `ofd all`, run as the
//! built binary
//! (`ofd account` is covered in account_cli.rs).

mod common;
mod forward_support;
mod roles_support;

use std::time::Duration;

use common::{count_rows, TestDb};
use forward_support::{eventually, forward_states, ingest, ru_documents};
use ofd::tax_batch::{self, BatchLine, BatchReply};
use roles_support::{logged, Role};

/// Well within systemd's stop timeout; an idle role needs far less.
const STOP_WITHIN: Duration = Duration::from_secs(10);

/// Batch files the file destination wrote under `dir` (one directory per day).
fn batch_files(dir: &std::path::Path) -> usize {
    let Ok(days) = std::fs::read_dir(dir) else {
        return 0;
    };
    days.flatten()
        .flat_map(|day| {
            std::fs::read_dir(day.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .filter(|file| file.file_name().to_string_lossy().ends_with(".jsonl.gz"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_drains_on_sigterm() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    ingest(&store, ru_documents("9999078900004321", 1, 12)).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut forward = Role::spawn(
        &[
            "forward",
            "--database",
            &db.url,
            "--sink-dir",
            out.to_str().unwrap(),
            "--poll-ms",
            "20",
            "--batch-max-age-ms",
            "0",
        ],
        &[],
    );
    forward
        .wait_for("forwarder started", Duration::from_secs(30))
        .await;
    eventually("every document written to a batch file", || async {
        forward_states(&store).await == (0, 12, 0)
    })
    .await;
    assert!(batch_files(&out) >= 1);

    let (status, logs) = forward.terminate(STOP_WITHIN).await;
    assert!(status.success(), "{status:?}: {logs:#?}");
    assert!(
        logged(&logs, "shutdown requested: draining the forwarder"),
        "{logs:#?}"
    );
    assert!(
        logged(
            &logs,
            "forwarder stopped: workers done, writer lease released"
        ),
        "{logs:#?}"
    );
    assert!(logged(&logs, "forwarder drained"), "{logs:#?}");
    assert_eq!(
        count_rows(&db.url, "forward_leases").await,
        0,
        "the writer lease is given up, not left to expire"
    );
    store.close().await;
}

/// Documents in the read models' index (on SQLite a file of their own, `store::read_file`).
async fn indexed(store: &ofd::store::Store) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM doc_index")
        .fetch_one(store.read_pool())
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_drains_on_sigterm_and_rebuilds() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    ingest(&store, ru_documents("9999078900004322", 1, 12)).await;
    let mut project = Role::spawn(&["project", "--database", &db.url, "--poll-ms", "20"], &[]);
    project
        .wait_for("projector started", Duration::from_secs(30))
        .await;
    eventually("every document indexed", || async {
        indexed(&store).await == 12
    })
    .await;
    let (status, logs) = project.terminate(STOP_WITHIN).await;
    assert!(status.success(), "{status:?}: {logs:#?}");
    for step in [
        "shutdown requested: draining the projector",
        "projector stopped",
        "projector drained",
    ] {
        assert!(logged(&logs, step), "no {step:?}: {logs:#?}");
    }

    ingest(&store, ru_documents("9999078900004322", 13, 3)).await;
    let rebuild = Role::spawn(&["project", "--database", &db.url, "--rebuild"], &[]);
    let (status, logs) = rebuild.finish(Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}: {logs:#?}");
    assert!(logged(&logs, "read tables rebuilt"), "{logs:#?}");
    assert_eq!(indexed(&store).await, 15);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tax_sink_drains_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let sink_db = dir.path().join("sink.db");
    let mut sink = Role::spawn(
        &[
            "tax-sink",
            "--listen",
            "127.0.0.1:0",
            "--db",
            sink_db.to_str().unwrap(),
        ],
        &[],
    );
    let addr = sink.logged_addr("tax sink listening", "addr").await;

    let line = BatchLine {
        id: "ru:9999078900004321/1".into(),
        dialect: "ru".into(),
        received_at: 1_700_000_000_000,
        document: serde_json::json!({"receipt": {"fiscalDocumentNumber": 1}}),
    };
    let encoded = tax_batch::encode_line(&line);
    let body = tax_batch::compress_lines([encoded.as_slice()]).unwrap();
    let response = reqwest::Client::new()
        .post(format!("http://{addr}{}", tax_batch::BATCHES_PATH))
        .header(tax_batch::BATCH_ID_HEADER, "batch-before-sigterm")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let reply: BatchReply = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(reply.accepted, 1);

    let (status, logs) = sink.terminate(STOP_WITHIN).await;
    assert!(status.success(), "{status:?}: {logs:#?}");
    assert!(
        logged(&logs, "shutdown requested: draining the tax sink"),
        "{logs:#?}"
    );
    assert!(logged(&logs, "tax sink drained"), "{logs:#?}");
    // Closed cleanly: the WAL was checkpointed into the file, and the batch is in it.
    let wal = dir.path().join("sink.db-wal");
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "WAL left behind"
    );
    let url = format!("sqlite://{}", sink_db.display());
    assert_eq!(count_rows(&url, "sink_documents").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_drains_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("ofd.db").display());
    let sink_db = dir.path().join("sink.db");
    let mut all = Role::spawn(
        &[
            "all",
            "--database",
            &database,
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--tax-sink-listen",
            "127.0.0.1:0",
            "--tax-sink-db",
            sink_db.to_str().unwrap(),
            "--forward-metrics-listen",
            "127.0.0.1:0",
            "--account-listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    let ingest_addr = all.logged_addr("ofd all serving", "listen").await;
    assert!(tokio::net::TcpStream::connect(ingest_addr).await.is_ok());

    let (status, logs) = all.terminate(STOP_WITHIN).await;
    assert!(status.success(), "{status:?}: {logs:#?}");
    for step in [
        "shutdown requested: draining every role",
        "forwarder stopped: workers done, writer lease released",
        "projector stopped",
        "ingest stopped",
        "ofd all drained",
    ] {
        assert!(logged(&logs, step), "no {step:?}: {logs:#?}");
    }
    assert!(
        tokio::net::TcpStream::connect(ingest_addr).await.is_err(),
        "the ingest port is closed"
    );
}
