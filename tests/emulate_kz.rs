//! `ofd emulate --dialect kz` against a real in-process `ofd serve` (SQLite in a tempdir): a
//! provisioned KKM fleet over a faulty link keeps its token chain, and every state-changing
//! document (ticket, money placement, shift close) is stored exactly once.
//!
//! "Exactly once" is shown by running the same seeded fleet twice, over a clean link and over a
//! link that drops connections and writes slowly: the faulty run forces resends (answered from
//! the server's response cache), yet it must leave exactly the documents of the clean run.

mod emulate_support;

use emulate_support::{emulate_args, server};
use ofd::emulate::{execute, Summary};
use ofd::store::Store;

/// Registers, documents each.
const REGISTERS: u64 = 4;
const DOCUMENTS: u64 = 15;

/// Run the seeded fleet against a fresh server; `faults` are extra link switches.
async fn run(faults: &[&str]) -> (Summary, Vec<(i64, i64)>, i64, i64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = format!("sqlite://{}", dir.path().join("ofd.db").display());
    let server = server(&database).await;
    let target = server.local_addr().to_string();
    let registers = REGISTERS.to_string();
    let documents = DOCUMENTS.to_string();
    let mut words = vec![
        "--target",
        &target,
        "--dialect",
        "kz",
        "--registers",
        &registers,
        "--documents-per-register",
        &documents,
        "--concurrency",
        "4",
        "--seed",
        "11",
        "--fleet",
        "3",
        "--provision",
        &database,
        "--kz-offline-rate",
        "0.1",
        "--backoff-initial-ms",
        "5",
        "--backoff-max-ms",
        "50",
        "--give-up-after",
        "30",
    ];
    words.extend_from_slice(faults);
    let summary = execute(emulate_args(&words)).await.expect("emulation runs");

    let store = Store::open(&database).await.expect("store");
    let per_form: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT form_code, COUNT(*) FROM documents WHERE dialect = 'kz' \
         GROUP BY form_code ORDER BY form_code",
    )
    .fetch_all(store.pool())
    .await
    .expect("per-form counts");
    let distinct_keys: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT doc_key) FROM documents")
        .fetch_one(store.pool())
        .await
        .expect("distinct keys");
    let tickets: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM kz_tickets")
        .fetch_one(store.pool())
        .await
        .expect("tickets");
    server.shutdown().await.expect("clean shutdown");
    (summary, per_form, distinct_keys, tickets)
}

fn assert_all_acked(summary: &Summary) {
    let expected = REGISTERS * DOCUMENTS;
    assert_eq!(summary.documents, expected, "{summary:#?}");
    assert_eq!(summary.acked, expected, "{summary:#?}");
    assert_eq!(
        summary.rejected + summary.invalid + summary.undelivered,
        0,
        "{summary:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kz_fleet_over_a_dropping_slow_link_stores_each_document_once() {
    let (clean, clean_forms, clean_keys, clean_tickets) = run(&[]).await;
    assert_all_acked(&clean);
    let stored: i64 = clean_forms.iter().map(|(_, n)| n).sum();
    assert_eq!(stored, clean_keys, "one row per key: {clean_forms:?}");
    let ticket_rows = clean_forms
        .iter()
        .find(|(form, _)| *form == 1)
        .map_or(0, |(_, n)| *n);
    assert!(ticket_rows > 0, "tickets were stored: {clean_forms:?}");
    assert_eq!(clean_tickets, ticket_rows, "one fiscal sign per ticket");

    let (faulty, faulty_forms, faulty_keys, faulty_tickets) = run(&[
        "--drop-rate",
        "0.3",
        "--slow-write-bytes",
        "16",
        "--slow-write-pause-ms",
        "1",
    ])
    .await;
    assert_all_acked(&faulty);
    assert!(faulty.resends > 0, "the drops forced resends: {faulty:#?}");
    assert_eq!(
        faulty_forms, clean_forms,
        "resends stored nothing twice and lost nothing"
    );
    assert_eq!(faulty_keys, clean_keys);
    assert_eq!(faulty_tickets, clean_tickets);
}
