//! Hostile clients over real loopback TCP: one source holding many connections, a frame that
//! trickles in, a client that pipelines and never reads its replies, and many connections
//! declaring large KZ frames (memory measured on the real binary's RSS).

mod common;
mod ingest_support;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::{spawn_serve, TestDb};
use ingest_support::*;
use ofd::ingest::Server;
use tokio::io::AsyncWriteExt;

const LOCAL: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_open_connections() {
    let db = TestDb::sqlite();
    let mut options = options(&db.url);
    options.ingest.max_open_per_source = Some(3);
    options.ingest.max_open_per_network = Some(0);
    let server = Server::start(options.resolve().expect("config"))
        .await
        .expect("server");
    let (addr, m) = (server.local_addr(), server.metrics_addr());

    // Three silent connections (slow-loris) hold the address's share.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from(LOCAL, addr).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut fourth = connect_from(LOCAL, addr).await;
    assert!(
        closed_within(&mut fourth, Duration::from_secs(2)).await,
        "a fourth open connection from the same address is closed at once"
    );
    let refused = r#"ofd_ingest_connections_rejected_total{reason="open_per_source"}"#;
    assert_eq!(metric(m, refused).await, 1.0);

    // Another address is served meanwhile.
    let frame = receipt_frame(&fn_number(40), 1, 100, None);
    let mut other = Client {
        stream: connect_from(Ipv4Addr::new(127, 0, 0, 2), addr).await,
    };
    assert_eq!(
        ack_fields(&other.exchange(&frame).await.expect("ack")).code,
        0
    );

    // A closed connection gives its place back.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = Client {
        stream: connect_from(LOCAL, addr).await,
    };
    let frame = receipt_frame(&fn_number(40), 2, 100, None);
    assert_eq!(
        ack_fields(&again.exchange(&frame).await.expect("ack")).code,
        0
    );
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn one_network_cannot_hold_more_than_its_open_connections() {
    let db = TestDb::sqlite();
    let mut options = options(&db.url);
    options.ingest.max_open_per_source = Some(0);
    options.ingest.max_open_per_network = Some(2);
    let server = Server::start(options.resolve().expect("config"))
        .await
        .expect("server");
    let (addr, m) = (server.local_addr(), server.metrics_addr());
    let _a = connect_from(Ipv4Addr::new(127, 0, 0, 5), addr).await;
    let _b = connect_from(Ipv4Addr::new(127, 0, 0, 6), addr).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut c = connect_from(Ipv4Addr::new(127, 0, 0, 7), addr).await;
    assert!(
        closed_within(&mut c, Duration::from_secs(2)).await,
        "the /24 holds two already"
    );
    let refused = r#"ofd_ingest_connections_rejected_total{reason="open_per_network"}"#;
    assert_eq!(metric(m, refused).await, 1.0);
    let mut elsewhere = Client {
        stream: connect_from(Ipv4Addr::new(127, 0, 1, 5), addr).await,
    };
    let frame = receipt_frame(&fn_number(41), 1, 100, None);
    assert_eq!(
        ack_fields(
            &elsewhere
                .exchange(&frame)
                .await
                .expect("another /24 is served")
        )
        .code,
        0
    );
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_frame_trickling_below_the_minimum_rate_closes_its_connection() {
    let db = TestDb::sqlite();
    let mut options = options(&db.url);
    options.ingest.min_frame_bytes_per_sec = Some(100);
    let server = Server::start(options.resolve().expect("config"))
        .await
        .expect("server");
    let (addr, m) = (server.local_addr(), server.metrics_addr());
    let frame = receipt_frame(&fn_number(42), 1, 100, None);
    let stream = connect_from(LOCAL, addr).await;
    let (mut read, mut write) = stream.into_split();
    write.write_all(&frame[..40]).await.expect("first bytes");
    let started = Instant::now();
    let trickle = tokio::spawn(async move {
        for byte in &frame[40..] {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if write.write_all(&[*byte]).await.is_err() {
                return;
            }
        }
    });
    let mut sink = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        use tokio::io::AsyncReadExt as _;
        loop {
            match read.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "a 2 byte/s frame is closed long before the 60 s idle timeout"
    );
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
    trickle.abort();
    let series = r#"ofd_ingest_check_failures_total{check="too_slow",dialect="ru"}"#;
    assert_eq!(metric(m, series).await, 1.0);
    server.shutdown().await.expect("clean shutdown");
}

/// A client that pipelines frames and never reads its acknowledgements: the server's writes
/// stall on a full socket, and the connection still ends at `connection_timeout_secs`.
#[tokio::test]
async fn a_client_that_never_reads_is_closed_at_the_connection_timeout() {
    let db = TestDb::sqlite();
    let mut options = options(&db.url);
    options.ingest.connection_timeout_secs = Some(2);
    let server = Server::start(options.resolve().expect("config"))
        .await
        .expect("server");
    let (addr, m) = (server.local_addr(), server.metrics_addr());
    let frame = receipt_frame(&fn_number(43), 1, 100, None);
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("small receive buffer");
    let mut stream = socket.connect(addr).await.expect("connect");
    let started = Instant::now();
    // Resends of one document: each is answered with the stored acknowledgement.
    let pipelined = tokio::time::timeout(Duration::from_secs(20), async {
        let burst: Vec<u8> = frame
            .iter()
            .copied()
            .cycle()
            .take(frame.len() * 64)
            .collect();
        loop {
            if stream.write_all(&burst).await.is_err() {
                return;
            }
        }
    })
    .await;
    assert!(pipelined.is_ok(), "the server closed the connection");
    let held = started.elapsed();
    assert!(
        held < Duration::from_secs(6),
        "held {held:?} with a 2 s connection timeout"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(metric(m, "ofd_ingest_connections_open").await, 0.0);
    server.shutdown().await.expect("clean shutdown");
}

/// VmRSS of process `pid`, bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// Many connections declaring 1 MiB KZ frames and sending 128 KiB of each: the server holds no
/// more than the read-buffer budget for them, whatever the headers declare.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_kz_headers_cost_no_more_than_the_read_buffer_budget() {
    const CONNECTIONS: usize = 300;
    const SENT: usize = 128 * 1024;
    const BUDGET: u64 = 8 << 20;
    let db = TestDb::sqlite();
    let budget = BUDGET.to_string();
    let (child, addr) = spawn_serve(
        &db.url,
        &[
            "--read-buffer-budget-bytes",
            &budget,
            "--max-open-per-source",
            "0",
            "--max-open-per-network",
            "0",
            "--source-rate",
            "0",
        ],
        Duration::from_secs(20),
    )
    .await;
    let pid = child.id().expect("running");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss(pid);
    let header = ofd_protocol::kz::Header {
        version: 203,
        size: 1 << 20,
        system_id: 1,
        token: 2,
        request_number: 3,
    };
    let mut bytes = header.encode().to_vec();
    bytes.resize(ofd_protocol::kz::HEADER_LEN + SENT, 0x08);
    let mut streams = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let _ = tokio::time::timeout(Duration::from_millis(200), stream.write_all(&bytes)).await;
        streams.push(stream);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let grown = rss(pid).saturating_sub(before);
    // Besides the buffers, each connection costs its task, socket and allocator pages: 9-12 MiB
    // for 300 alone, 17 MiB seen while the rest of the suite ran. Holding every byte sent would
    // be 37.5 MiB of buffers on top, so a limit of budget + 20 MiB still tells the two apart.
    assert!(
        grown < BUDGET + (20 << 20),
        "RSS grew by {} MiB for {CONNECTIONS} connections of {} KiB each (budget {} MiB)",
        grown >> 20,
        SENT >> 10,
        BUDGET >> 20
    );
    eprintln!(
        "RSS {} MiB -> +{} MiB with {CONNECTIONS} large KZ headers",
        before >> 20,
        grown >> 20
    );
    drop(streams);
    drop(child);
}
