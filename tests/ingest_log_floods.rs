//! Log floods: a burst of garbage connections and of wrong KZ tokens from one source writes a
//! line per period and one "suppressed" count, not a line each, while the metrics count every
//! one; written lines plus reported counts equal the events exactly. Real binary, JSON logs.

mod common;
mod ingest_support;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use common::TestDb;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

const GARBAGE: usize = 300;

/// Lines with `message` and the events they stand for (1 + their `suppressed`), plus the
/// events reported by "log lines suppressed" lines of `reason`.
fn events(log: &str, message: &str, reason: &str) -> (usize, u64) {
    let mut lines = 0;
    let mut total = 0;
    for line in log.lines() {
        let json: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        let fields = &json["fields"];
        if fields["message"] == message {
            lines += 1;
            total += 1 + fields["suppressed"].as_u64().unwrap_or(0);
        } else if fields["message"] == "log lines suppressed" && fields["reason"] == reason {
            total += fields["suppressed"].as_u64().expect("count");
        }
    }
    (lines, total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_connections_log_a_line_per_period_with_exact_counts() {
    let db = TestDb::sqlite();
    let child = Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args(["--log-json", "serve", "--listen", "127.0.0.1:0"])
        .args(["--metrics-listen", "127.0.0.1:0", "--database", &db.url])
        .args(["--log-repeat-secs", "1", "--source-rate", "0"])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn ofd serve");
    let metric = std::sync::Arc::new(std::sync::Mutex::new(0.0));
    let seen = metric.clone();
    let log = common::log_of(child, Duration::from_secs(3), |fields| async move {
        let addr: SocketAddr = fields["listen"]
            .as_str()
            .expect("listen")
            .parse()
            .expect("addr");
        let metrics: SocketAddr = fields["metrics"]
            .as_str()
            .expect("metrics")
            .parse()
            .expect("addr");
        for _ in 0..GARBAGE {
            let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .expect("send");
            let mut sink = [0u8; 16];
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                use tokio::io::AsyncReadExt as _;
                while let Ok(n) = stream.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
        }
        let series = r#"ofd_ingest_check_failures_total{check="session_header",dialect="unknown"}"#;
        *seen.lock().expect("lock") = ingest_support::metric(metrics, series).await;
    })
    .await;
    assert_eq!(
        *metric.lock().expect("lock"),
        GARBAGE as f64,
        "every connection counted"
    );
    let (lines, total) = events(&log, "bytes of no known dialect; closed", "unknown_dialect");
    assert!(
        lines <= 10,
        "{lines} lines for {GARBAGE} garbage connections"
    );
    assert_eq!(
        total, GARBAGE as u64,
        "lines plus suppressed counts are exact"
    );
}
