//! No URL secret reaches a log line: the built `ofd forward` with a sink URL carrying a password
//! and a `?token=`, and the built `ofd serve` with an external crypto unit URL carrying a
//! password and a query key, both pointed at a closed port so that every failure path logs;
//! then their whole JSON logs are searched for the planted secrets (and for the host, to show
//! the URL was logged at all).

mod common;
mod forward_support;
mod ingest_support;

use std::process::Stdio;
use std::time::Duration;

use common::TestDb;
use tokio::process::Command;

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn assert_clean(log: &str, secrets: &[&str], host_shown: &str) {
    for secret in secrets {
        let hit = log.lines().find(|line| line.contains(secret));
        assert!(hit.is_none(), "secret {secret:?} in the log: {hit:?}");
    }
    assert!(
        log.contains(host_shown),
        "the URL was logged (redacted) at least once:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forwarder_logs_its_sink_url_without_password_or_token() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    forward_support::ingest(
        &store,
        forward_support::ru_documents("9999078900006666", 1, 3),
    )
    .await;
    store.close().await;
    let port = closed_port();
    let (password, token) = ("planted-sink-pw-4f1c", "planted-sink-token-9a2b");
    let url = format!("http://sinkuser:{password}@127.0.0.1:{port}/batches?token={token}");
    let child = Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args([
            "--log-json",
            "forward",
            "--database",
            &db.url,
            "--sink-url",
            &url,
        ])
        .args(["--metrics-listen", "127.0.0.1:0"])
        .args(["--backoff-base-ms", "20", "--backoff-cap-ms", "100"])
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn ofd forward");
    let log = common::log_of(child, Duration::from_secs(2), |_| async {}).await;
    assert_clean(
        &log,
        &[password, token, "sinkuser"],
        &format!("127.0.0.1:{port}"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ingest_server_logs_its_crypto_unit_url_without_password_or_query() {
    let db = TestDb::sqlite();
    let port = closed_port();
    let (password, key) = ("planted-unit-pw-77e0", "planted-unit-key-31d5");
    let url = format!("http://unituser:{password}@127.0.0.1:{port}/unit?key={key}");
    let child = Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args(["--log-json", "serve", "--listen", "127.0.0.1:0"])
        .args(["--metrics-listen", "127.0.0.1:0", "--database", &db.url])
        .args(["--crypto", "external", "--crypto-url", &url])
        .args(["--accept-unregistered", "--crypto-timeout-ms", "300"])
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn ofd serve");
    // A document makes the server call the unit, which fails and is logged.
    let log = common::log_of(child, Duration::from_secs(2), |fields| async move {
        let addr = fields["listen"]
            .as_str()
            .expect("listen")
            .parse()
            .expect("addr");
        let frame = ingest_support::receipt_frame(&ingest_support::fn_number(77), 1, 100, None);
        let reply = ingest_support::send_one(addr, &frame).await;
        assert!(
            reply.is_none(),
            "no ack while the crypto unit cannot be asked"
        );
    })
    .await;
    assert_clean(
        &log,
        &[password, key, "unituser"],
        &format!("127.0.0.1:{port}"),
    );
}
