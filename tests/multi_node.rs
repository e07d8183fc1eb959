//! Several ingest nodes as separate hosts on one PostgreSQL database: each `ofd serve` runs in a
//! network namespace of its own with its own address (tests/common/netns.rs), the way a load
//! balancer's pool of nodes looks to the registers. Checked here: a RU resend that reaches
//! another node gets the identical stored ack and the document is stored once; a KZ register
//! whose consecutive requests (and a retry) land on different nodes keeps its token and REQNUM
//! rules; a register block reaches every node within the register cache TTL; a node killed with
//! SIGKILL mid-load loses no acknowledged document while its registers resend to the others;
//! two forwarders, each on a host of its own, deliver every document once to `ofd tax-sink`.
//!
//! Skips (with a message on stderr) when `ip netns` is not permitted or `OFD_TEST_PG` is unset:
//! several nodes need a database server, and SQLite is one machine's backend.

mod common;
mod ingest_support;
mod kz_support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::netns::{self, Host};
use common::{count_rows, spawn_serve_with, TestDb};
use ingest_support::{
    ack_fields, doc_time_after_now, fn_number, receipt_frame, receipt_frame_at, send_one,
};
use kz_support::*;
use ofd_protocol::kz::*;
use sqlx::Connection as _;
use tokio::process::Child;

const STARTUP: Duration = Duration::from_secs(30);

/// Register cache TTL of every node.
const CACHE_TTL: Duration = Duration::from_millis(500);

/// A node: its host, its process and its register-facing address.
struct Node {
    /// Kept for its lifetime: the namespace goes when the node does.
    _host: Host,
    child: Child,
    addr: SocketAddr,
}

/// Nodes on one fresh PostgreSQL database.
struct Cluster {
    db: TestDb,
    nodes: Vec<Node>,
}

/// Why this environment cannot run the test, if it cannot.
fn skip_reason() -> Option<&'static str> {
    if std::env::var("OFD_TEST_PG").map_or(true, |v| v.is_empty()) {
        return Some("OFD_TEST_PG is not set (several nodes share one PostgreSQL)");
    }
    if !netns::available() {
        return Some("`ip netns add` is not permitted here (needs root or CAP_NET_ADMIN)");
    }
    None
}

macro_rules! require_hosts {
    ($test:literal) => {
        if let Some(reason) = skip_reason() {
            eprintln!("SKIP multi_node::{}: {reason}", $test);
            return;
        }
    };
}

/// The database URL as seen from `host`: through a relay on its side of the link.
async fn database_from(host: &Host, db: &TestDb) -> String {
    let mut url = url::Url::parse(&db.url).expect("database URL");
    let server: SocketAddr = format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port().unwrap_or(5432)
    )
    .parse()
    .expect("OFD_TEST_PG names an IP address");
    let relay = netns::relay(host.gateway, server).await;
    url.set_host(Some(&relay.ip().to_string())).expect("host");
    url.set_port(Some(relay.port())).expect("port");
    url.to_string()
}

async fn start_node(db: &TestDb, extra: &[&str]) -> Node {
    let host = Host::create();
    let database = database_from(&host, db).await;
    let ttl = CACHE_TTL.as_millis().to_string();
    let mut args = vec![
        "--source-rate",
        "0",
        "--ofd-inn",
        "7704358518",
        "--register-cache-ms",
        &ttl,
    ];
    args.extend_from_slice(extra);
    let command = host.command(env!("CARGO_BIN_EXE_ofd"));
    let (child, addr) =
        spawn_serve_with(command, host.addr.into(), &database, &args, STARTUP).await;
    Node {
        _host: host,
        child,
        addr,
    }
}

/// `n` nodes on a fresh, migrated database.
async fn cluster(n: usize, extra: &[&str]) -> Cluster {
    let db = TestDb::postgres().await.expect("OFD_TEST_PG");
    // Migrate once before the nodes start, so they do not race each other at it.
    db.open().await.close().await;
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(start_node(&db, extra).await);
    }
    Cluster { db, nodes }
}

impl Cluster {
    fn addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.addr).collect()
    }
}

/// Every (ФН, ФД) stored.
async fn stored_ru(url: &str) -> Vec<(String, i64)> {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT fn_number, fd_number FROM documents WHERE fn_number IS NOT NULL ORDER BY 1, 2",
    )
    .fetch_all(&mut conn)
    .await
    .expect("documents");
    conn.close().await.ok();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_to_another_node_gets_the_stored_ack_and_is_stored_once() {
    require_hosts!("a_resend_to_another_node_gets_the_stored_ack_and_is_stored_once");
    let cluster = cluster(3, &["--accept-unregistered"]).await;
    let addrs = cluster.addrs();
    let distinct: BTreeSet<_> = addrs.iter().map(|a| a.ip()).collect();
    assert_eq!(distinct.len(), 3, "each node has an address of its own");
    let fn_a = fn_number(1801);
    for fd in 1..=12u32 {
        let frame = receipt_frame(&fn_a, fd, 100 + fd, None);
        let first = send_one(addrs[fd as usize % 3], &frame).await.expect("ack");
        assert_eq!(ack_fields(&first).code, 0);
        let again = send_one(addrs[(fd as usize + 1) % 3], &frame)
            .await
            .expect("ack of the resend");
        assert_eq!(
            again, first,
            "the other node answers the stored ack, byte for byte"
        );
    }
    // The same document reaching all three nodes at once: one row, one ack.
    let fn_b = fn_number(1802);
    for fd in 1..=8u32 {
        let frame = receipt_frame(&fn_b, fd, 7, None);
        let replies =
            futures::future::join_all(addrs.iter().map(|addr| send_one(*addr, &frame))).await;
        let replies: Vec<Vec<u8>> = replies.into_iter().map(|r| r.expect("ack")).collect();
        assert!(replies.iter().all(|r| *r == replies[0]), "fd {fd}: one ack");
        assert_eq!(ack_fields(&replies[0]).code, 0);
    }
    assert_eq!(count_rows(&cluster.db.url, "documents").await, 20);
    let stored = stored_ru(&cluster.db.url).await;
    let unique: BTreeSet<_> = stored.iter().collect();
    assert_eq!(unique.len(), stored.len());
}

fn ok(reply: &Reply) {
    assert_eq!(
        reply.code(),
        ResultTypeEnum::Ok.code(),
        "{:?}",
        reply.response.result
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kz_register_moving_between_nodes_keeps_its_token_and_reqnum_rules() {
    require_hosts!("a_kz_register_moving_between_nodes_keeps_its_token_and_reqnum_rules");
    let cluster = cluster(3, &[]).await;
    let addrs = cluster.addrs();
    let (system_id, token) = register_kz(&cluster.db.url, "KZ-MULTI-NODE");
    let mut kkm = Kkm::new(addrs[0], system_id, token);
    ok(&kkm.send(&system(false)).await);
    let mut sells = 0;
    for i in 0..9usize {
        kkm.addr = addrs[i % 3];
        ok(&kkm
            .send(&ticket(OperationTypeEnum::Sell, 100 + i as u64))
            .await);
        sells += 1;
    }

    // A retry of a request node 0 answered, sent to node 1 and node 2: the very bytes.
    let request = ticket(OperationTypeEnum::Sell, 555);
    let bytes = kkm.next_frame(&request);
    let old_token = kkm.token;
    kkm.reqnum += 1;
    let answered = send_frame(addrs[0], &bytes).await.expect("answer");
    ok(&answered);
    sells += 1;
    kkm.token = answered.header.token;
    assert_ne!(kkm.token, old_token, "a ticket rotates the token");
    for addr in &addrs[1..] {
        let again = send_frame(*addr, &bytes).await.expect("answer");
        assert_eq!(
            again.bytes, answered.bytes,
            "a retry on another node is replayed"
        );
    }
    // The same REQNUM with the new token is REQNUM misuse on any node; with the old token but
    // another command it is an invalid retry. Neither is stored.
    let misuse = frame(system_id, kkm.token, kkm.reqnum, &request);
    let reply = send_frame(addrs[1], &misuse).await.expect("answer");
    assert_eq!(reply.code(), ResultTypeEnum::InvalidRequestNumber.code());
    let other = frame(system_id, old_token, kkm.reqnum, &info());
    let reply = send_frame(addrs[2], &other).await.expect("answer");
    assert_eq!(reply.code(), ResultTypeEnum::InvalidRetryRequest.code());

    // One new request reaching all three nodes at once (a register retrying on every path):
    // one ticket, and every answer the same bytes.
    let bytes = kkm.next_frame(&ticket(OperationTypeEnum::Sell, 777));
    kkm.reqnum += 1;
    let replies =
        futures::future::join_all(addrs.iter().map(|addr| send_frame(*addr, &bytes))).await;
    let replies: Vec<Reply> = replies.into_iter().map(|r| r.expect("answer")).collect();
    ok(&replies[0]);
    sells += 1;
    for reply in &replies[1..] {
        assert_eq!(reply.bytes, replies[0].bytes, "one answer for one request");
    }
    kkm.token = replies[0].header.token;

    assert_eq!(count_rows(&cluster.db.url, "kz_tickets").await, sells);
    // The register's ledger, read through yet another node order, counts every ticket.
    kkm.addr = addrs[2];
    let report = kkm.send(&info()).await;
    ok(&report);
    let zx = report
        .response
        .report
        .as_ref()
        .and_then(|r| r.zx_report.clone())
        .expect("report");
    let counted = zx
        .ticket_operations
        .iter()
        .find(|o| o.operation == Some(OperationTypeEnum::Sell as i32))
        .and_then(|o| o.tickets_count)
        .expect("sells");
    assert_eq!(
        i64::from(counted),
        sells,
        "every node's tickets in one ledger"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_register_block_reaches_every_node_within_the_cache_ttl() {
    require_hosts!("a_register_block_reaches_every_node_within_the_cache_ttl");
    let cluster = cluster(3, &["--accept-unregistered", "false"]).await;
    let addrs = cluster.addrs();
    let fn_ru = fn_number(1803);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args(["register", "add", "--dialect", "ru", "--fn", &fn_ru])
        .args(["--database", &cluster.db.url])
        .output()
        .expect("ofd register add");
    assert!(output.status.success(), "{output:?}");
    let mut fd = 0u32;
    let mut code_at = |addr: SocketAddr| {
        fd += 1;
        // Made now: after the block (a blocked register's backlog, made before it, is
        // accepted by design).
        let frame = receipt_frame_at(&fn_ru, fd, 10, doc_time_after_now(2));
        async move { ack_fields(&send_one(addr, &frame).await.expect("reply")).code }
    };
    // Every node has the register cached as active.
    for addr in &addrs {
        assert_eq!(code_at(*addr).await, 0);
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args(["register", "block", "--fn", &fn_ru])
        .args(["--database", &cluster.db.url])
        .output()
        .expect("ofd register block");
    assert!(output.status.success(), "{output:?}");
    tokio::time::sleep(CACHE_TTL + Duration::from_millis(100)).await;
    for addr in &addrs {
        assert_eq!(
            code_at(*addr).await,
            11,
            "{addr} refuses the blocked register"
        );
    }
}

/// One register's client: documents 1..=`count` in order, one connection each, to `preferred`
/// first and to the next node whenever a node does not answer; returns what was acked and how
/// many times it moved.
async fn register_client(
    fn_number: String,
    count: u32,
    addrs: Vec<SocketAddr>,
    preferred: usize,
) -> (Vec<u32>, u32) {
    let mut at = preferred;
    let mut moved = 0;
    let mut acked = Vec::new();
    for fd in 1..=count {
        let frame = receipt_frame(&fn_number, fd, fd, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < deadline, "{fn_number}/{fd} never acked");
            let attempt = tokio::time::timeout(Duration::from_secs(5), async {
                let mut stream = tokio::net::TcpStream::connect(addrs[at]).await.ok()?;
                tokio::io::AsyncWriteExt::write_all(&mut stream, &frame)
                    .await
                    .ok()?;
                let mut client = ingest_support::Client { stream };
                client.reply().await
            })
            .await;
            match attempt {
                Ok(Some(reply)) if ack_fields(&reply).code == 0 => {
                    acked.push(fd);
                    break;
                }
                _ => {
                    at = (at + 1) % addrs.len();
                    moved += 1;
                }
            }
        }
    }
    (acked, moved)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_load_loses_no_acknowledged_document() {
    require_hosts!("a_node_killed_mid_load_loses_no_acknowledged_document");
    let mut cluster = cluster(3, &["--accept-unregistered"]).await;
    let addrs = cluster.addrs();
    let registers = 9u64;
    let per_register = 60u32;
    let clients: Vec<_> = (0..registers)
        .map(|r| {
            tokio::spawn(register_client(
                fn_number(1900 + r),
                per_register,
                addrs.clone(),
                r as usize % 3,
            ))
        })
        .collect();
    // Kill node 0 once a third of the load is stored.
    let target = i64::from(per_register) * registers as i64 / 3;
    let deadline = Instant::now() + Duration::from_secs(60);
    while count_rows(&cluster.db.url, "documents").await < target {
        assert!(Instant::now() < deadline, "load did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.nodes[0].child.start_kill().expect("SIGKILL node 0");
    cluster.nodes[0].child.wait().await.expect("node 0 gone");
    let killed_at = count_rows(&cluster.db.url, "documents").await;
    assert!(
        killed_at < i64::from(per_register) * registers as i64,
        "killed mid-load"
    );
    let mut moved = 0;
    let mut acked = BTreeSet::new();
    for (r, client) in clients.into_iter().enumerate() {
        let (fds, m) = client.await.expect("client");
        moved += m;
        for fd in fds {
            acked.insert((fn_number(1900 + r as u64), i64::from(fd)));
        }
    }
    assert!(moved > 0, "some register had to move to another node");
    let stored = stored_ru(&cluster.db.url).await;
    let stored_set: BTreeSet<_> = stored.iter().cloned().collect();
    assert_eq!(stored.len(), stored_set.len(), "no document stored twice");
    let lost: Vec<_> = acked.difference(&stored_set).collect();
    assert!(lost.is_empty(), "acked but not stored: {lost:?}");
    assert_eq!(acked.len() as u64, registers * u64::from(per_register));
}

/// A running `ofd tax-sink` in the test's own namespace, on loopback.
async fn start_tax_sink(dir: &std::path::Path) -> (Child, SocketAddr) {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args(["--log-json", "tax-sink", "--listen", "127.0.0.1:0"])
        .args(["--db", &dir.join("sink.db").display().to_string()])
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn tax-sink");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
    let addr = tokio::time::timeout(STARTUP, async {
        while let Some(line) = lines.next_line().await.expect("log") {
            let json: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(addr) = json["fields"]["addr"].as_str() {
                return addr.parse::<SocketAddr>().expect("address");
            }
        }
        panic!("tax-sink exited before listening");
    })
    .await
    .expect("tax-sink started in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_forwarders_on_separate_hosts_deliver_each_document_once() {
    require_hosts!("two_forwarders_on_separate_hosts_deliver_each_document_once");
    let cluster = cluster(2, &["--accept-unregistered"]).await;
    let addrs = cluster.addrs();
    let dir = tempfile::tempdir().expect("dir");
    let (_sink, sink_addr) = start_tax_sink(dir.path()).await;
    let mut forwarders = Vec::new();
    for _ in 0..2 {
        let host = Host::create();
        let database = database_from(&host, &cluster.db).await;
        // The forwarder speaks plain HTTP to loopback only: the sink appears on its host's.
        let sink = host.loopback_relay(sink_addr);
        let url = format!("http://127.0.0.1:{sink}{}", ofd::tax_batch::BATCHES_PATH);
        let child = host
            .command(env!("CARGO_BIN_EXE_ofd"))
            .args(["forward", "--database", &database, "--sink-url", &url])
            .args(["--batch-max-documents", "20", "--poll-ms", "20"])
            .args(["--batch-max-age-ms", "20"])
            // Every host has ports of its own: the same metrics port on each.
            .args([
                "--metrics-listen",
                &format!("{}:{FORWARD_METRICS_PORT}", host.addr),
            ])
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn forwarder");
        forwarders.push((host, child));
    }
    // Documents arrive on both nodes while both forwarders run.
    let senders: Vec<_> = (0..4u64)
        .map(|r| {
            tokio::spawn(register_client(
                fn_number(2000 + r),
                50,
                addrs.clone(),
                r as usize % 2,
            ))
        })
        .collect();
    for sender in senders {
        sender.await.expect("client");
    }
    let expected = count_rows(&cluster.db.url, "documents").await;
    assert_eq!(expected, 200);
    let stats_url = format!("http://{sink_addr}/stats");
    let deadline = Instant::now() + Duration::from_secs(60);
    let stats = loop {
        let body = reqwest::get(&stats_url)
            .await
            .expect("stats")
            .bytes()
            .await
            .expect("body");
        let stats: ofd::sink::Stats = serde_json::from_slice(&body).expect("stats JSON");
        if stats.documents >= expected || Instant::now() > deadline {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(stats.documents, expected, "{stats:?}");
    assert_eq!(stats.duplicates, 0, "{stats:?}");
    let mut conn = sqlx::PgConnection::connect(&cluster.db.url)
        .await
        .expect("connect");
    let sent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'sent'")
        .fetch_one(&mut conn)
        .await
        .expect("sent");
    conn.close().await.ok();
    assert_eq!(sent, expected);
    // Both forwarders took part, and their counts add up to each document once.
    let mut counts = Vec::new();
    for (host, _) in &forwarders {
        let url = format!("http://{}:{FORWARD_METRICS_PORT}/metrics", host.addr);
        let text = reqwest::get(&url)
            .await
            .expect("scrape")
            .text()
            .await
            .expect("text");
        counts.push(
            ingest_support::sample(&text, r#"ofd_forward_documents_total{outcome="sent"}"#) as i64,
        );
    }
    eprintln!("documents sent by each forwarder: {counts:?}");
    assert!(counts.iter().all(|&n| n > 0), "{counts:?}");
    assert_eq!(counts.iter().sum::<i64>(), expected, "{counts:?}");
}

/// The forwarders' metrics port, the same inside each namespace.
const FORWARD_METRICS_PORT: u16 = 9899;
