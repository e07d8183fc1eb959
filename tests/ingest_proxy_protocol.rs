//! Behind a TCP load balancer (`--proxy-protocol`): the test plays the balancer over loopback and
//! writes each connection's PROXY v2 header itself. The per-source cap applies to the address
//! the header names, not to the balancer's (every connection comes from 127.0.0.1 here); that
//! address is the one stored with the document; a connection without a header is refused and
//! counted. On SQLite and (with OFD_TEST_PG) PostgreSQL.

mod common;
mod ingest_support;

use std::net::SocketAddr;
use std::time::Duration;

use common::on_each_backend;
use ingest_support::*;
use ofd::ingest::Server;
use ppp::v2::{Builder, Command, Protocol, Version};
use sqlx::Connection as _;

/// The PROXY v2 header a balancer at `to` writes for a register at `from`.
fn proxy_header(from: SocketAddr, to: SocketAddr) -> Vec<u8> {
    Builder::with_addresses(Version::Two | Command::Proxy, Protocol::Stream, (from, to))
        .build()
        .expect("header")
}

/// A connection through the "balancer": the header, then whatever the register sends.
async fn through_balancer(server: SocketAddr, register: SocketAddr) -> Client {
    let mut client = Client::connect(server).await;
    client.send(&proxy_header(register, server)).await;
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_source_cap_applies_to_the_address_in_the_proxy_header() {
    on_each_backend(|db| async move {
        let mut options = options(&db.url);
        options.ingest.proxy_protocol = Some(true);
        options.ingest.max_open_per_source = Some(2);
        let server = Server::start(options.resolve().expect("config"))
            .await
            .expect("server");
        let (addr, m) = (server.local_addr(), server.metrics_addr());
        let busy: SocketAddr = "203.0.113.7:40001".parse().unwrap();
        let other: SocketAddr = "203.0.113.8:40002".parse().unwrap();

        // Two connections of one register address, idle after their headers, use its cap.
        let _held = [
            through_balancer(addr, busy).await,
            through_balancer(addr, busy).await,
        ];
        // Let the server read both headers before the third arrives.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut third = through_balancer(addr, busy).await;
        assert!(
            closed_within(&mut third.stream, STEP).await,
            "a third connection from the same register address is closed"
        );
        let rejected = r#"ofd_ingest_connections_rejected_total{reason="open_per_source"}"#;
        assert_eq!(metric(m, rejected).await, 1.0);

        // Another register behind the same balancer is served, and stored under its address.
        let fn_a = fn_number(4242);
        let mut client = through_balancer(addr, other).await;
        let ack = client
            .exchange(&receipt_frame(&fn_a, 1, 100, None))
            .await
            .expect("ack");
        assert_eq!(ack_fields(&ack).code, 0);
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&db.url).await.expect("db");
        let peer: String = sqlx::query_scalar("SELECT peer FROM documents")
            .fetch_one(&mut conn)
            .await
            .expect("stored");
        conn.close().await.ok();
        assert_eq!(peer, other.to_string());

        // A register (or anything) reaching the port without a header is refused and counted.
        let mut bare = Client::connect(addr).await;
        bare.send(&receipt_frame(&fn_a, 2, 100, None)).await;
        assert_eq!(bare.reply().await, None, "no header: closed unanswered");
        let refused = r#"ofd_ingest_connections_rejected_total{reason="proxy_header"}"#;
        assert_eq!(metric(m, refused).await, 1.0);
        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}
