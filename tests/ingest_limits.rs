//! Connection limits over real TCP: idle timeout, per-source rate limit, connection semaphore,
//! listen backlog.

mod common;
mod ingest_support;

use std::time::Duration;

use common::TestDb;
use ingest_support::*;
use ofd::ingest::Server;

#[tokio::test]
async fn a_silent_or_stalled_connection_is_closed_after_the_idle_timeout() {
    let db = TestDb::sqlite();
    let mut options = options(&db.url);
    options.ingest.idle_timeout_secs = Some(1);
    let server = Server::start(options.resolve().expect("config"))
        .await
        .expect("server");
    let (addr, m) = (server.local_addr(), server.metrics_addr());

    let mut silent = Client::connect(addr).await;
    let frame = receipt_frame(&fn_number(10), 1, 100, None);
    let mut stalled = Client::connect(addr).await;
    stalled.send(&frame[..50]).await;
    let started = std::time::Instant::now();
    assert_eq!(silent.reply().await, None);
    assert_eq!(stalled.reply().await, None);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed by the 1 s timeout"
    );

    assert_eq!(
        metric(
            m,
            r#"ofd_ingest_check_failures_total{check="timeout",dialect="unknown"}"#
        )
        .await,
        1.0
    );
    assert_eq!(
        metric(
            m,
            r#"ofd_ingest_check_failures_total{check="timeout",dialect="ru"}"#
        )
        .await,
        1.0
    );
    // Other registers are served meanwhile and afterwards.
    assert_eq!(
        ack_fields(&send_one(addr, &frame).await.expect("ack")).code,
        0
    );
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_source_over_its_connection_rate_is_turned_away_and_counted() {
    let db = TestDb::sqlite();
    let mut options = options(&db.url);
    options.ingest.source_rate = Some(1);
    options.ingest.source_burst = Some(2);
    let server = Server::start(options.resolve().expect("config"))
        .await
        .expect("server");
    let (addr, m) = (server.local_addr(), server.metrics_addr());
    let fn_a = fn_number(11);
    assert!(send_one(addr, &receipt_frame(&fn_a, 1, 1, None))
        .await
        .is_some());
    assert!(send_one(addr, &receipt_frame(&fn_a, 2, 1, None))
        .await
        .is_some());
    let mut refused = Client::connect(addr).await;
    assert_eq!(
        refused.reply().await,
        None,
        "burst of 2 used up: closed at once"
    );
    assert_eq!(
        metric(
            m,
            r#"ofd_ingest_connections_rejected_total{reason="rate_limited"}"#
        )
        .await,
        1.0
    );
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn connections_above_the_limit_wait_for_a_free_slot() {
    let db = TestDb::sqlite();
    let mut options = options(&db.url);
    options.ingest.max_connections = Some(1);
    let server = Server::start(options.resolve().expect("config"))
        .await
        .expect("server");
    let addr = server.local_addr();
    let fn_a = fn_number(12);

    let mut first = Client::connect(addr).await;
    assert!(first
        .exchange(&receipt_frame(&fn_a, 1, 1, None))
        .await
        .is_some());
    // The second connects (kernel backlog) but is not served while the first holds the slot.
    let mut second = Client::connect(addr).await;
    second.send(&receipt_frame(&fn_a, 2, 1, None)).await;
    let waiting = tokio::time::timeout(Duration::from_millis(300), second.reply()).await;
    assert!(waiting.is_err(), "second connection must wait for the slot");
    drop(first);
    let ack = ack_fields(&second.reply().await.expect("served once the slot is free"));
    assert_eq!((ack.fd, ack.code), (2, 0));
    server.shutdown().await.expect("clean shutdown");
}

/// While every connection slot is taken, new connections wait in the kernel's listen backlog:
/// a burst of 1,500 (more than tokio's default backlog of 1,024) must all complete their
/// handshake instead of having SYNs dropped.
#[tokio::test]
async fn a_burst_larger_than_the_default_backlog_is_queued_by_the_kernel() {
    const BURST: usize = 1500;
    let db = TestDb::sqlite();
    let mut options = options(&db.url);
    options.ingest.max_connections = Some(1);
    options.ingest.listen_backlog = Some(2048);
    let server = Server::start(options.resolve().expect("config"))
        .await
        .expect("server");
    let addr = server.local_addr();
    // Takes the only slot, so the accept loop stops accepting.
    let holder = Client::connect(addr).await;
    tokio::time::sleep(Duration::from_millis(50)).await;

    let attempts = (0..BURST).map(|_| {
        tokio::time::timeout(
            Duration::from_millis(800),
            tokio::net::TcpStream::connect(addr),
        )
    });
    let results = futures::future::join_all(attempts).await;
    let connected: Vec<_> = results.into_iter().filter_map(|r| r.ok()?.ok()).collect();
    assert_eq!(
        connected.len(),
        BURST,
        "dropped SYNs: the backlog is too short"
    );
    drop(connected);
    drop(holder);
    server.shutdown().await.expect("clean shutdown");
}
