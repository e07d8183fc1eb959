//! The emulator sees conflicts (issue 11 §4), with the built `ofd emulate` against a real
//! in-process `ofd serve` on both backends: a seed names a fleet, a repeated seed makes the
//! server keep conflicts, and the emulator then exits non-zero naming them — from the server's
//! counters (`--metrics-url`) or from the acks themselves (`--soft-secret`).

mod common;
mod emulate_support;
mod ingest_support;

use std::time::Duration;

use common::{on_each_backend, TestDb};
use emulate_support::serve_options;
use ingest_support::metric;
use ofd::crypto::CryptoMode;
use ofd::emulate::fleet_of_seed;
use ofd::ingest::Server;

const SOFT_SECRET_HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

async fn server(db: &TestDb, soft: bool) -> Server {
    let mut options = serve_options(&db.url);
    options.ingest.accept_unregistered = Some(true);
    options.ingest.ofd_inn = Some("7704358518".to_owned());
    let mut config = options.resolve().expect("valid config");
    if soft {
        config.crypto.mode = CryptoMode::Soft;
        config.crypto.soft_secret_hex = Some(SOFT_SECRET_HEX.into());
    }
    Server::start(config).await.expect("server starts")
}

/// `SELECT COUNT(*) …` on the test's database.
async fn count(db: &TestDb, sql: &str) -> i64 {
    let store = db.open().await;
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .expect(sql)
}

struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

/// `ofd emulate` (the built binary): 3 registers × 4 RU documents with `seed` and `extra`.
async fn emulate(target: &str, seed: &str, extra: &[&str]) -> Run {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args([
            "emulate",
            "--target",
            target,
            "--registers",
            "3",
            "--documents-per-register",
            "4",
            "--concurrency",
            "3",
            "--give-up-after",
            "20",
            "--seed",
            seed,
        ])
        .args(extra)
        .env("RUST_LOG", "warn")
        .env_remove("OFD_CRYPTO_SOFT_SECRET")
        .output()
        .await
        .expect("run ofd emulate");
    Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_seed_fails_on_the_servers_conflict_counter() {
    on_each_backend(|db| async move {
        let server = server(&db, false).await;
        let target = server.local_addr().to_string();
        let metrics = format!("http://{}/metrics", server.metrics_addr());

        let first = emulate(&target, "5", &["--metrics-url", &metrics]).await;
        assert!(first.success, "{}\n{}", first.stdout, first.stderr);
        let fleet = fleet_of_seed(5);
        assert!(
            first.stdout.contains(&format!("seed 5, fleet {fleet}")),
            "{}",
            first.stdout
        );
        assert!(
            first
                .stdout
                .contains("server during the run: conflicts +0  quarantined +0  refused +0"),
            "{}",
            first.stdout
        );
        assert!(first.stdout.contains("PASS: 12 of 12"), "{}", first.stdout);

        // The same seed is the same fleet: same drives, same ФД numbers, but documents made a
        // second later differ, so the server keeps every one of them as a conflict and answers
        // with the first document's ack — which looks right to a register.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let second = emulate(&target, "5", &["--metrics-url", &metrics, "--json"]).await;
        assert!(
            !second.success,
            "a run with conflicts must fail: {}",
            second.stdout
        );
        let summary: serde_json::Value =
            serde_json::from_str(second.stdout.trim()).expect("--json prints one object");
        assert_eq!(summary["seed"], 5);
        assert_eq!(summary["fleet"], fleet);
        assert_eq!(summary["acked"], 12, "every ack looked right: {summary}");
        assert_eq!(summary["server_growth"]["conflicts"], 12, "{summary}");
        assert_eq!(
            summary["failures"],
            serde_json::json!(["server_conflicts 12"]),
            "{summary}"
        );
        assert!(
            second.stderr.contains("FAIL: server_conflicts 12 (seed 5"),
            "{}",
            second.stderr
        );

        // Another seed names another fleet: no collision with the first two runs.
        assert_ne!(fleet_of_seed(6), fleet);
        let third = emulate(&target, "6", &["--metrics-url", &metrics]).await;
        assert!(third.success, "{}\n{}", third.stdout, third.stderr);
        assert!(third.stdout.contains("conflicts +0"), "{}", third.stdout);
        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_soft_secret_an_ack_of_another_document_is_an_invalid_reply() {
    on_each_backend(|db| async move {
        let server = server(&db, true).await;
        let target = server.local_addr().to_string();
        let soft = ["--soft-secret", SOFT_SECRET_HEX];

        let first = emulate(&target, "77", &soft).await;
        assert!(first.success, "{}\n{}", first.stdout, first.stderr);
        assert!(first.stdout.contains("errors: none"), "{}", first.stdout);

        // Later than the emulator's allowance for clock skew between it and the server, so the
        // stored acks are provably older than the documents the second run made.
        tokio::time::sleep(Duration::from_millis(3200)).await;
        let second = emulate(&target, "77", &soft).await;
        assert!(!second.success, "{}", second.stdout);
        assert!(
            second
                .stdout
                .contains("invalid_reply.open_shift.ack_older_than_document: 3"),
            "each drive's shift opening was answered with the first run's ack: {}",
            second.stdout
        );
        assert!(
            second.stdout.contains("FAIL: invalid_replies 12"),
            "{}",
            second.stdout
        );
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM conflicts").await,
            12,
            "every document of the second run conflicted"
        );
        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_fixed_clock_a_repeated_seed_resends_every_document_byte_for_byte() {
    on_each_backend(|db| async move {
        let server = server(&db, true).await;
        let target = server.local_addr().to_string();
        let metrics = format!("http://{}/metrics", server.metrics_addr());
        // A day before the run: an old store's documents, made again by the same seed.
        let clock = (ofd::clock::unix_seconds() - 86_400).to_string();
        let args = [
            "--soft-secret",
            SOFT_SECRET_HEX,
            "--clock-start",
            &clock,
            "--metrics-url",
            &metrics,
        ];

        let first = emulate(&target, "31", &args).await;
        assert!(first.success, "{}\n{}", first.stdout, first.stderr);
        let reacked = "ofd_ingest_duplicates_reacked_total";
        let reacked_before = metric(server.metrics_addr(), reacked).await;

        // Later than the clock-skew allowance: without --clock-start the same seed would make
        // other bytes (tests above), and with it the documents are the first run's.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let second = emulate(&target, "31", &args).await;
        assert!(
            second.success,
            "every ack was a signed ack of the same document: {}\n{}",
            second.stdout, second.stderr
        );
        assert!(second.stdout.contains("conflicts +0"), "{}", second.stdout);
        assert!(
            second.stdout.contains("PASS: 12 of 12"),
            "{}",
            second.stdout
        );
        assert_eq!(
            metric(server.metrics_addr(), reacked).await - reacked_before,
            12.0
        );

        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM documents").await,
            12,
            "the second run stored nothing new"
        );
        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}
