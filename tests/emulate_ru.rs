//! `ofd emulate` against a real in-process `ofd serve` (SQLite in a tempdir): RU fleets over a
//! faulty link, every document acknowledged, verified and stored exactly once.

mod emulate_support;

use emulate_support::{emulate_args, serve_options};
use ofd::crypto::CryptoMode;
use ofd::emulate::{execute, Summary};
use ofd::ingest::Server;
use ofd::store::Store;

/// Master secret shared by the server's soft unit and the emulated fiscal drives.
const SOFT_SECRET_HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

async fn server(database: &str, soft: bool, accept_unregistered: bool) -> Server {
    let mut options = serve_options(database);
    options.ingest.accept_unregistered = Some(accept_unregistered);
    options.ingest.ofd_inn = Some("7704358518".to_owned());
    let mut config = options.resolve().expect("valid config");
    if soft {
        config.crypto.mode = CryptoMode::Soft;
        config.crypto.soft_secret_hex = Some(SOFT_SECRET_HEX.into());
    }
    Server::start(config).await.expect("server starts")
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(store.pool())
        .await
        .expect(sql)
}

fn assert_all_acked(summary: &Summary, expected: u64) {
    assert_eq!(summary.documents, expected, "{summary:#?}");
    assert_eq!(summary.acked, expected, "{summary:#?}");
    assert_eq!(
        summary.rejected + summary.invalid + summary.undelivered,
        0,
        "{summary:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_fleet_over_a_dropping_slow_link_is_stored_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = format!("sqlite://{}", dir.path().join("ofd.db").display());
    let server = server(&database, true, true).await;
    let target = server.local_addr().to_string();

    let summary = execute(emulate_args(&[
        "--target",
        &target,
        "--dialect",
        "ru",
        "--registers",
        "6",
        "--documents-per-register",
        "12",
        "--concurrency",
        "6",
        "--seed",
        "42",
        "--fleet",
        "1",
        "--soft-secret",
        SOFT_SECRET_HEX,
        "--drop-rate",
        "0.3",
        "--slow-write-bytes",
        "48",
        "--slow-write-pause-ms",
        "1",
        "--documents-per-connection",
        "2",
        "--backoff-initial-ms",
        "5",
        "--backoff-max-ms",
        "50",
        "--resend-check",
        "--give-up-after",
        "30",
    ]))
    .await
    .expect("emulation runs");

    assert_all_acked(&summary, 72);
    assert!(
        summary.resends > 0,
        "the drops forced resends: {summary:#?}"
    );
    assert!(
        summary.errors.contains_key("simulated.drop_before_reply"),
        "{summary:#?}"
    );
    assert!(
        summary.errors.contains_key("simulated.drop_mid_frame"),
        "{summary:#?}"
    );
    assert_eq!(
        summary.resend_checks.identical, 72,
        "every resend got the same ack back"
    );
    assert_eq!(summary.resend_checks.different, 0);

    let store = Store::open(&database).await.expect("store");
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM documents WHERE dialect = 'ru'"
        )
        .await,
        72
    );
    assert_eq!(
        count(&store, "SELECT COUNT(DISTINCT doc_key) FROM documents").await,
        72
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM documents WHERE sign_verdict = 'verified'"
        )
        .await,
        72
    );
    let flk: Vec<(i64, String)> = sqlx::query_as(
        "SELECT form_code, COALESCE(flk_errors, '') FROM documents WHERE flk_failed <> 0",
    )
    .fetch_all(store.pool())
    .await
    .expect("flk errors");
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM documents WHERE flk_failed <> 0"
        )
        .await,
        0,
        "ФЛК verdicts: {flk:?}"
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM conflicts").await, 0);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM quarantine").await, 0);
    // Each drive's documents are 1..=12 with no gap and no repeat.
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM (SELECT fn_number FROM documents GROUP BY fn_number \
                        HAVING MIN(fd_number) = 1 AND MAX(fd_number) = 12 AND COUNT(*) = 12) AS full")
            .await,
        6
    );
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioned_ffd_105_fleet_is_accepted_as_registered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = format!("sqlite://{}", dir.path().join("ofd.db").display());
    let server = server(&database, false, false).await;
    let target = server.local_addr().to_string();

    let summary = execute(emulate_args(&[
        "--target",
        &target,
        "--registers",
        "4",
        "--documents-per-register",
        "5",
        "--concurrency",
        "4",
        "--ffd",
        "1.05",
        "--seed",
        "7",
        "--fleet",
        "2",
        "--provision",
        &database,
        "--latency-ms",
        "2",
        "--jitter-ms",
        "3",
    ]))
    .await
    .expect("emulation runs");

    assert_all_acked(&summary, 20);
    let store = Store::open(&database).await.expect("store");
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM registers WHERE dialect = 'ru'"
        )
        .await,
        4
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM documents WHERE unregistered = 0"
        )
        .await,
        20
    );
    // Tag 1209 value 2 = ФФД 1.05.
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM documents WHERE ffd_version = 2"
        )
        .await,
        20
    );
    server.shutdown().await.expect("clean shutdown");
}

/// `--rate` paces the fleet (open loop): 30 documents at 100/s cannot finish before the last
/// one is due, 0.29 s after the start, and every one is still acknowledged and stored once; the
/// summary tells the generator's late starts and the handshakes apart from the delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_fleet_sends_on_schedule_and_is_stored_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = format!("sqlite://{}", dir.path().join("ofd.db").display());
    let server = server(&database, false, true).await;
    let target = server.local_addr().to_string();

    let summary = execute(emulate_args(&[
        "--target",
        &target,
        "--registers",
        "3",
        "--documents-per-register",
        "10",
        "--concurrency",
        "3",
        "--rate",
        "100",
        "--seed",
        "11",
    ]))
    .await
    .expect("emulation runs");

    assert_all_acked(&summary, 30);
    assert_eq!(summary.offered_rate, Some(100.0));
    assert!(summary.elapsed_s >= 0.29, "{summary:#?}");
    // The load generator's own lateness is reported per document, each handshake per
    // connection: what a slow client adds is told apart from what the server costs.
    assert_eq!(summary.start_latency_ms.count, 30, "{summary:#?}");
    assert_eq!(
        summary.connect_latency_ms.count, summary.connections,
        "{summary:#?}"
    );
    assert!(
        summary.start_latency_ms.max <= summary.delivery_latency_ms.max,
        "{summary:#?}"
    );
    let store = Store::open(&database).await.expect("store");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM documents").await, 30);
    server.shutdown().await.expect("clean shutdown");
}
