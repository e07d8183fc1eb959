//! Test-side helper of the cabinet's documents and reports tests: real documents of one KZ
//! register — `ofd emulate` (parsed as its command line) with the register's system id and
//! token, as the cabinet showed them, against an in-process `ofd serve` on the same database,
//! then the projector until the read tables hold every document.
#![allow(dead_code)] // each test file uses a different subset

use crate::emulate_support::{emulate_args, server};
use ofd::emulate::execute;
use ofd::project::{catch_up, Projector};
use ofd::store::Store;

/// Send `documents` documents of the KZ register (`system_id`, `token`) to a fresh ingest server
/// on `database_url` and project them; every one must be acknowledged. The last one closes the
/// shift (the emulator's KZ register always closes its shift at the end of a run).
pub async fn send_kz_documents(
    database_url: &str,
    store: &Store,
    system_id: i64,
    token: i64,
    documents: u64,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let credentials = dir.path().join("kz.jsonl");
    std::fs::write(
        &credentials,
        serde_json::json!({ "system_id": system_id, "token": token }).to_string(),
    )
    .expect("credentials file");
    let server = server(database_url).await;
    let target = server.local_addr().to_string();
    let documents_text = documents.to_string();
    let credentials_text = credentials.display().to_string();
    let words = [
        "--target",
        &target,
        "--dialect",
        "kz",
        "--registers",
        "1",
        "--documents-per-register",
        &documents_text,
        "--concurrency",
        "1",
        "--seed",
        "7",
        "--kz-credentials",
        &credentials_text,
        "--give-up-after",
        "30",
    ];
    let summary = execute(emulate_args(&words)).await.expect("emulation runs");
    assert_eq!(summary.acked, documents, "{summary:#?}");
    server.shutdown().await.expect("clean shutdown");
    let projector = Projector::new(store);
    let step = catch_up(&projector, 17, 2).await.expect("projects");
    assert!(step.read >= documents, "{step:?}");
}
