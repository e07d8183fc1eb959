//! The forwarder never gives documents up for a problem of its own side (issue 11 §3): with the
//! real `ofd tax-sink` behind a wrong path (404), a wrong port, a TLS mismatch or a missing or
//! wrong bearer token (401), nothing is rejected, the failure is counted by status, `/readyz`
//! turns unready, and everything arrives exactly once when the configuration is fixed.
//! `ofd forward requeue --rejected` (the built binary) puts rejected documents back after a fix,
//! recorded in the audit log. On both backends.

mod common;
mod forward_support;

use std::path::{Path, PathBuf};

use common::{on_each_backend, TestDb};
use forward_support::*;
use ofd::forward::readiness::Readiness;
use ofd::sink::SinkConfig;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

const TOKEN: &str = "sink-token-7f3a9c2e51";

/// A CA and a server certificate for localhost it signs, as PEM files `<prefix>ca.pem`,
/// `<prefix>server.pem`, `<prefix>server.key` under `dir`.
fn make_pki(dir: &Path, prefix: &str) {
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(format!("{prefix}{name}")), text).unwrap()
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    write("ca.pem", ca.pem());
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    write("server.pem", cert.pem());
    write("server.key", key.serialize_pem());
}

/// Drain with `options`, then check that every expected document is at the sink exactly once.
async fn fixed_all_arrive_once(
    options: &ofd::forward::ForwardConfig,
    store: &ofd::store::Store,
    sink: &TestSink,
    expected: &mut [String],
) {
    let forwarder = TestForwarder::start(options, store);
    let total = expected.len() as i64;
    eventually("the backlog to drain", || async {
        forward_states(store).await == (0, total, 0)
    })
    .await;
    assert_eq!(
        forwarder.health.check(std::time::Instant::now()),
        Readiness::Ready
    );
    forwarder.stop().await;
    let stats = sink.stats().await;
    assert_eq!((stats.documents, stats.duplicates), (total, 0), "{stats:?}");
    let mut at_sink = sink.document_ids().await;
    at_sink.sort();
    expected.sort();
    assert_eq!(at_sink, expected);
}

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

/// Fast options that also turn unready quickly.
fn options_for(url: &str) -> ofd::forward::ForwardConfig {
    let mut options = fast_options(url);
    options.unready_after_failing_ms = 300;
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_wrong_token_rejects_nothing_and_all_arrives_once_after_the_fix() {
    on_each_backend(|db: TestDb| async move {
        let store = db.open().await;
        let dir = tempfile::tempdir().unwrap();
        let mut config = SinkConfig::new(([127, 0, 0, 1], 0).into(), dir.path().join("sink.db"));
        config.token = Some(TOKEN.into());
        let sink = TestSink::start_config(&config, None).await;
        let mut expected = ingest(&store, ru_documents("9999078900005555", 1, 40)).await;

        for token in [None, Some("not-the-token")] {
            let mut options = options_for(&sink.batches_url());
            options.sink_token = token.map(Into::into);
            let forwarder = TestForwarder::start(&options, &store);
            eventually("several 401s", || async {
                send_errors(&forwarder, "401") >= 5.0
            })
            .await;
            eventually("unready", || async {
                matches!(
                    forwarder.health.check(std::time::Instant::now()),
                    Readiness::NotReady(reason) if reason.contains("401")
                )
            })
            .await;
            forwarder.stop().await;
            assert_eq!(forward_states(&store).await, (40, 0, 0), "nothing rejected");
            assert_eq!(sink.stats().await.documents, 0);
        }

        let mut options = options_for(&sink.batches_url());
        options.sink_token = Some(TOKEN.into());
        assert!(
            !format!("{options:?}").contains(TOKEN),
            "the token is redacted"
        );
        fixed_all_arrive_once(&options, &store, &sink, &mut expected).await;
        sink.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_mismatch_rejects_nothing_and_all_arrives_once_after_the_fix() {
    on_each_backend(|db: TestDb| async move {
        let store = db.open().await;
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| -> PathBuf { dir.path().join(name) };
        make_pki(dir.path(), "");
        make_pki(dir.path(), "other-");
        let mut config = SinkConfig::new(([127, 0, 0, 1], 0).into(), path("sink.db"));
        config.tls_cert = Some(path("server.pem"));
        config.tls_key = Some(path("server.key"));
        let sink = TestSink::start_config(&config, Some(&path("ca.pem"))).await;
        let url = format!("{}{}", sink.base, ofd::tax_batch::BATCHES_PATH);
        let mut expected = ingest(&store, ru_documents("9999078900006666", 1, 30)).await;

        // The forwarder trusts another CA: every handshake fails.
        let mut options = options_for(&url);
        options.sink_ca = Some(path("other-ca.pem"));
        let forwarder = TestForwarder::start(&options, &store);
        eventually("several transport errors", || async {
            send_errors(&forwarder, "transport") >= 3.0
        })
        .await;
        eventually("unready", || async {
            forwarder.health.check(std::time::Instant::now()) != Readiness::Ready
        })
        .await;
        forwarder.stop().await;
        assert_eq!(forward_states(&store).await, (30, 0, 0), "nothing rejected");

        // Plain HTTP to an HTTPS sink: transport errors too.
        let forwarder = TestForwarder::start(
            &options_for(&url.replacen("https://localhost", "http://127.0.0.1", 1)),
            &store,
        );
        eventually("transport errors over plain HTTP", || async {
            send_errors(&forwarder, "transport") >= 3.0
        })
        .await;
        forwarder.stop().await;
        assert_eq!(forward_states(&store).await, (30, 0, 0), "nothing rejected");

        options.sink_ca = Some(path("ca.pem"));
        fixed_all_arrive_once(&options, &store, &sink, &mut expected).await;
        sink.stop().await;
    })
    .await;
}

/// The built `ofd forward` with a wrong token: `/readyz` answers 503 naming the 401, `/healthz`
/// 200, the status is logged, and neither token reaches the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forward_process_turns_unready_and_never_logs_the_token() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = SinkConfig::new(([127, 0, 0, 1], 0).into(), dir.path().join("sink.db"));
    config.token = Some(TOKEN.into());
    let sink = TestSink::start_config(&config, None).await;
    ingest(&store, ru_documents("9999078900007777", 1, 5)).await;
    store.close().await;
    let metrics = format!("127.0.0.1:{}", free_port());
    let wrong = "wrong-token-d41d8cd98f";
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args([
            "forward",
            "--database",
            &db.url,
            "--sink-url",
            &sink.batches_url(),
        ])
        .args([
            "--metrics-listen",
            &metrics,
            "--unready-after-failing-ms",
            "300",
        ])
        .args(["--backoff-base-ms", "20", "--backoff-cap-ms", "100"])
        .env("OFD_SINK_TOKEN", wrong)
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read the log as it comes: a debug log larger than the pipe's buffer would otherwise stop
    // the child at its next line, with its HTTP endpoints unanswered.
    let mut stderr = child.stderr.take().expect("stderr");
    let log_reader = std::thread::spawn(move || {
        let mut log = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut log).expect("read the log");
        log
    });
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let request = client.get(format!("http://{metrics}{path}"));
        async move {
            let response = request.send().await.ok()?;
            let status = response.status().as_u16();
            Some((status, response.text().await.ok()?))
        }
    };
    eventually("/readyz 503", || async {
        matches!(get("/readyz").await, Some((503, body)) if body.contains("401"))
    })
    .await;
    assert_eq!(get("/healthz").await.map(|r| r.0), Some(200));
    let metrics_text = get("/metrics").await.unwrap().1;
    assert!(
        metrics_text.contains("ofd_forward_send_errors_total{status=\"401\"}"),
        "{metrics_text}"
    );
    // SIGTERM to our own child, by its id: the forwarder drains and exits 0.
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    let log = log_reader.join().expect("log reader");
    let log = String::from_utf8_lossy(&log);
    assert!(status.success(), "{status:?}: {log}");
    assert!(log.contains("401"), "the status is logged: {log}");
    assert!(
        !log.contains(wrong) && !log.contains(TOKEN),
        "no token in the log: {log}"
    );
    sink.stop().await;
}
