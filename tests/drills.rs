//! The reliability drills as tests anyone can rerun (docs/reliability.md has the commands and
//! the last figures). Each drill runs at two scales: a fast one in every `cargo test`, and the
//! full one under `cargo test --release --test drills -- --ignored --nocapture`. Every drill is
//! bounded in time. The kill -9 drills are `tests/ingest_crash.rs` and `tests/kz_crash.rs` with
//! `OFD_DRILL_CYCLES` set; they are not repeated here.
//!
//! The drills of one `cargo test` run side by side, except the hostile load: it compares two
//! latency runs, so it takes the machine alone (`MACHINE`, written by it, read by the others);
//! beside a disk-full or a storage-outage drill its quiet and attacked runs would measure the
//! neighbour, not the attack.
//!
//! - hostile load: a paced register measures its ack latency quietly, then again while one
//!   address opens twice its open-connection cap of silent connections, thousands of
//!   random-byte connections arrive, clients pipeline and never read, and connections declare
//!   1 MiB KZ frames; its p99 must stay within 2× of the quiet run (with a floor for timer
//!   noise on a busy machine) and the server's RSS within the read-buffer budget plus a margin;
//! - storage outage: storage refuses (PostgreSQL: `ALLOW_CONNECTIONS false` and its sessions
//!   terminated on the test's own database; SQLite: inserts aborted) while a register keeps
//!   sending; no ack during it, then every document is stored once without a restart;
//! - token guessing: many addresses guess one register's token at once; the guard evaluates
//!   exactly `token_attempts` guesses and nothing more.

mod common;
mod forward_support;
mod ingest_support;
mod kz_support;

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{on_each_backend, spawn_serve, TestDb};
use ingest_support::*;
use ofd::ingest::Server;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::RwLock;

/// Held for writing by the hostile-load drill and for reading by every other drill.
static MACHINE: RwLock<()> = RwLock::const_new(());

/// How big one run of the hostile-load drill is.
struct Hostile {
    /// Documents the paced register sends (one connection each).
    paced: u32,
    /// Pause between its documents.
    pace: Duration,
    /// Open-connection cap per source; the slow-loris source opens twice as many.
    per_source: u32,
    /// Random-byte connections.
    garbage: usize,
    /// Clients that pipeline resends and never read.
    never_reading: usize,
    /// Connections declaring a 1 MiB KZ frame and sending 64 KiB of it.
    large_kz: usize,
    /// The read-buffer budget given to the server.
    budget: u64,
}

const FAST: Hostile = Hostile {
    paced: 150,
    pace: Duration::from_millis(10),
    per_source: 32,
    garbage: 2_000,
    never_reading: 8,
    large_kz: 100,
    budget: 16 << 20,
};

const FULL: Hostile = Hostile {
    paced: 1_500,
    pace: Duration::from_millis(10),
    per_source: 64,
    garbage: 50_000,
    never_reading: 64,
    large_kz: 1_000,
    budget: 32 << 20,
};

/// VmRSS of process `pid`, bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

/// The paced register: `count` receipts of ФН `fn_n` from `first_fd`, one connection each,
/// `pace` apart; the latency of each ack (connect to ack).
async fn paced(
    addr: SocketAddr,
    fn_n: u64,
    first_fd: u32,
    count: u32,
    pace: Duration,
) -> Vec<Duration> {
    let mut latencies = Vec::new();
    for fd in first_fd..first_fd + count {
        let frame = receipt_frame(&fn_number(fn_n), fd, 100, None);
        let started = Instant::now();
        let ack = send_one(addr, &frame)
            .await
            .expect("the paced register is served");
        assert_eq!(ack_fields(&ack).code, 0);
        latencies.push(started.elapsed());
        tokio::time::sleep(pace).await;
    }
    latencies
}

/// `paced` on a thread and runtime of its own, so that what it measures is the server's answer
/// and not its turn on the worker threads the attacking clients keep busy.
async fn paced_apart(
    addr: SocketAddr,
    fn_n: u64,
    first_fd: u32,
    count: u32,
    pace: Duration,
) -> Vec<Duration> {
    tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the paced register")
            .block_on(paced(addr, fn_n, first_fd, count, pace))
    })
    .await
    .expect("the paced register's thread")
}

fn p99(mut latencies: Vec<Duration>) -> Duration {
    latencies.sort();
    latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)]
}

/// Start the hostile clients; they run until `stop` is set; `garbage_sent` counts the
/// random-byte connections made.
fn hostile_clients(
    addr: SocketAddr,
    scale: &Hostile,
    stop: Arc<AtomicBool>,
    garbage_sent: Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    // Slow-loris: twice the cap from one address, ten bytes each, then silence.
    let loris = scale.per_source * 2;
    let stop_loris = stop.clone();
    tasks.push(tokio::spawn(async move {
        let frame = receipt_frame(&fn_number(901), 1, 1, None);
        let mut held = Vec::new();
        for _ in 0..loris {
            let mut stream = connect_from(Ipv4Addr::new(127, 0, 1, 2), addr).await;
            let _ = stream.write_all(&frame[..10]).await;
            held.push(stream);
        }
        while !stop_loris.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }));
    // Random bytes, from 32 workers over 200 addresses.
    let per_worker = scale.garbage.div_ceil(32);
    for worker in 0..32u8 {
        let stop = stop.clone();
        let garbage_sent = garbage_sent.clone();
        tasks.push(tokio::spawn(async move {
            let mut seed = u64::from(worker).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            for n in 0..per_worker {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let from = Ipv4Addr::new(127, 0, 2 + (n % 2) as u8, 10 + ((n / 2) % 100) as u8);
                let Ok(mut stream) =
                    tokio::time::timeout(Duration::from_secs(2), connect_from(from, addr)).await
                else {
                    continue;
                };
                let bytes: Vec<u8> = (0..64)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        seed as u8
                    })
                    .collect();
                let _ = stream.write_all(&bytes).await;
                garbage_sent.fetch_add(1, Ordering::Relaxed);
                let mut sink = [0u8; 256];
                let _ =
                    tokio::time::timeout(Duration::from_millis(500), stream.read(&mut sink)).await;
            }
        }));
    }
    // Clients that pipeline resends and never read.
    for n in 0..scale.never_reading {
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let frame = receipt_frame(&fn_number(902), 1, 1, None);
            let burst: Vec<u8> = frame
                .iter()
                .copied()
                .cycle()
                .take(frame.len() * 32)
                .collect();
            while !stop.load(Ordering::Relaxed) {
                let from = Ipv4Addr::new(127, 0, 4, 10 + (n % 200) as u8);
                let mut stream = connect_from(from, addr).await;
                while !stop.load(Ordering::Relaxed) {
                    let written =
                        tokio::time::timeout(Duration::from_secs(1), stream.write_all(&burst))
                            .await;
                    if matches!(written, Ok(Err(_))) {
                        break;
                    }
                }
            }
        }));
    }
    // Large KZ headers: 1 MiB declared, 64 KiB sent, then silence.
    let large = scale.large_kz;
    let stop_large = stop;
    tasks.push(tokio::spawn(async move {
        let header = ofd_protocol::kz::Header {
            version: 203,
            size: 1 << 20,
            system_id: 1,
            token: 2,
            request_number: 3,
        };
        let mut bytes = header.encode().to_vec();
        bytes.resize(ofd_protocol::kz::HEADER_LEN + (64 << 10), 0x08);
        let mut held = Vec::new();
        for n in 0..large {
            let from = Ipv4Addr::new(127, 0, 5 + (n / 200) as u8, 10 + (n % 200) as u8);
            let mut stream = connect_from(from, addr).await;
            let _ =
                tokio::time::timeout(Duration::from_millis(100), stream.write_all(&bytes)).await;
            held.push(stream);
        }
        while !stop_large.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }));
    tasks
}

async fn hostile_load(scale: Hostile) {
    let _alone = MACHINE.write().await;
    let db = TestDb::sqlite();
    let per_source = scale.per_source.to_string();
    let budget = scale.budget.to_string();
    let flags = [
        "--accept-unregistered",
        "--source-rate",
        "0",
        "--ofd-inn",
        "7704358518",
        "--max-open-per-source",
        &per_source,
        "--idle-timeout-secs",
        "30",
        "--connection-timeout-secs",
        "20",
        "--read-buffer-budget-bytes",
        &budget,
    ];
    let (child, addr) = spawn_serve(&db.url, &flags, STEP * 3).await;
    let pid = child.id().expect("running");
    // Warm up, then the quiet run.
    paced_apart(addr, 900, 1, 20, scale.pace).await;
    let rss_quiet = rss(pid);
    let quiet = p99(paced_apart(addr, 900, 21, scale.paced, scale.pace).await);

    let stop = Arc::new(AtomicBool::new(false));
    let garbage_sent = Arc::new(AtomicUsize::new(0));
    let attackers = hostile_clients(addr, &scale, stop.clone(), garbage_sent.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let under_attack = p99(paced_apart(addr, 900, 21 + scale.paced, scale.paced, scale.pace).await);
    let rss_attacked = rss(pid);
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for task in attackers {
        let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    }
    let grown = rss_attacked.saturating_sub(rss_quiet);
    eprintln!(
        "hostile load: paced p99 quiet {quiet:?}, under attack {under_attack:?} ({} docs in {took:?}, \
         {} random-byte connections meanwhile); RSS {} MiB quiet, +{} MiB under attack (budget {} MiB)",
        scale.paced,
        garbage_sent.load(Ordering::Relaxed),
        rss_quiet >> 20,
        grown >> 20,
        scale.budget >> 20
    );
    let allowed = (quiet * 2).max(quiet + Duration::from_millis(50));
    assert!(
        under_attack <= allowed,
        "p99 {under_attack:?} under attack vs {quiet:?} quiet"
    );
    assert!(
        grown < scale.budget + (32 << 20),
        "RSS grew {} MiB",
        grown >> 20
    );
    drop(child);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_load_fast() {
    hostile_load(FAST).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long drill: cargo test --release --test drills -- --ignored"]
async fn hostile_load_full() {
    hostile_load(FULL).await;
}

/// A register that resends each document until it is acknowledged, `pace` apart; returns the
/// ФД numbers acknowledged and when.
async fn resending_register(
    addr: SocketAddr,
    fn_n: u64,
    count: u32,
    pace: Duration,
) -> Vec<(u32, Instant)> {
    let mut acked = Vec::new();
    for fd in 1..=count {
        let frame = receipt_frame(&fn_number(fn_n), fd, 100, None);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            assert!(Instant::now() < deadline, "ФД {fd} never acknowledged");
            let reply = tokio::time::timeout(Duration::from_secs(3), async {
                let mut client = Client::connect(addr).await;
                client.send(&frame).await;
                client.reply().await
            })
            .await;
            if let Ok(Some(ack)) = reply {
                assert_eq!(ack_fields(&ack).code, 0);
                acked.push((fd, Instant::now()));
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::time::sleep(pace).await;
    }
    acked
}

async fn storage_outage(outage: Duration) {
    let _beside_others = MACHINE.read().await;
    on_each_backend(|db| async move {
        let mut options = options(&db.url);
        options.ingest.idle_timeout_secs = Some(2);
        let server = Server::start(options.resolve().expect("config"))
            .await
            .expect("server");
        let addr = server.local_addr();
        const DOCS: u32 = 60;
        let register = tokio::spawn(resending_register(addr, 950, DOCS, Duration::from_millis(50)));
        tokio::time::sleep(Duration::from_millis(500)).await;
        db.storage_down().await;
        let down = Instant::now();
        tokio::time::sleep(outage).await;
        db.storage_up().await;
        let up = Instant::now();
        let acked = tokio::time::timeout(Duration::from_secs(180), register)
            .await
            .expect("the register finished")
            .expect("register task");
        // Acks written while storage was refusing: none (a commit already under way when it
        // went down may finish within the first moment).
        let during: Vec<_> = acked
            .iter()
            .filter(|(_, at)| *at > down + Duration::from_millis(500) && *at < up)
            .collect();
        assert!(during.is_empty(), "acks during the outage: {during:?}");
        let fds: HashSet<u32> = acked.iter().map(|(fd, _)| *fd).collect();
        assert_eq!(fds.len(), DOCS as usize);
        let stored = common::count_rows(&db.url, "documents").await;
        assert_eq!(stored, i64::from(DOCS), "every document stored once, none lost");
        let first_after = acked.iter().find(|(_, at)| *at >= up).map(|(_, at)| *at - up);
        eprintln!(
            "storage outage of {outage:?} on {:?}: {} documents stored once, first ack {first_after:?} after recovery, no restart",
            db.backend, stored
        );
        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_outage_fast() {
    storage_outage(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long drill: cargo test --release --test drills -- --ignored"]
async fn storage_outage_20s() {
    storage_outage(Duration::from_secs(20)).await;
}

async fn token_guessing(addresses: u8, guesses_each: u32) {
    let _beside_others = MACHINE.read().await;
    on_each_backend(|db| async move {
        let (system_id, token) = kz_support::register_kz(&db.url, "KZ-DRILL-GUESS");
        let serve = config(&db.url);
        let attempts = serve.kz.token_attempts;
        let server = Server::start(serve).await.expect("server");
        let (addr, m) = (server.local_addr(), server.metrics_addr());
        let started = Instant::now();
        let mut guessers = Vec::new();
        for a in 0..addresses {
            guessers.push(tokio::spawn(async move {
                let from = Ipv4Addr::new(127, 0, 9, 10 + a);
                let mut answered = 0u32;
                for g in 0..guesses_each {
                    let guess = token ^ (1 + (u32::from(a) << 16) + g);
                    let frame = kz_support::frame(system_id, guess, 1 + g as u16, &kz_support::system(false));
                    let mut stream = connect_from(from, addr).await;
                    if stream.write_all(&frame).await.is_ok()
                        && kz_support::read_reply(&mut stream).await.is_some()
                    {
                        answered += 1;
                    }
                }
                answered
            }));
        }
        let mut answered = 0;
        for guesser in guessers {
            answered += guesser.await.expect("guesser");
        }
        let evaluated = metric(m, "ofd_ingest_kz_wrong_tokens_total").await;
        eprintln!(
            "token guessing on {:?}: {} guesses from {addresses} addresses in {:?}: {evaluated} evaluated, {answered} answered",
            db.backend,
            u32::from(addresses) * guesses_each,
            started.elapsed()
        );
        assert_eq!(evaluated, f64::from(attempts), "exactly the attempts are evaluated");
        assert!(answered < attempts);
        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_guessing_fast() {
    token_guessing(10, 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long drill: cargo test --release --test drills -- --ignored"]
async fn token_guessing_full() {
    token_guessing(100, 200).await;
}

/// The forwarder killed with SIGKILL `cycles` times while it sends `docs` documents to the tax
/// sink in small batches, then run to the end: the sink holds every document exactly once (a
/// batch cut off mid-send is resent under its own id, which the sink answers as a replay).
async fn forwarder_kill9(cycles: u32, docs: i64) {
    let _beside_others = MACHINE.read().await;
    on_each_backend(|db| async move {
        let store = db.open().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let sink = forward_support::TestSink::start(&dir.path().join("sink.db"), 0).await;
        forward_support::ingest(
            &store,
            forward_support::ru_documents("9999078900009999", 1, docs),
        )
        .await;
        let run = || {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
                .args(["forward", "--database", &db.url, "--sink-url"])
                .arg(sink.batches_url())
                .args(["--batch-max-documents", "20", "--batch-max-age-ms", "20"])
                .args(["--poll-ms", "20", "--lease-ms", "1000"])
                .args(["--backoff-base-ms", "20", "--backoff-cap-ms", "200"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("spawn ofd forward")
        };
        let mut killed_with_work_left = 0;
        for cycle in 0..cycles {
            let mut child = run();
            // Let it claim and send for a while, a different while each cycle.
            tokio::time::sleep(Duration::from_millis(150 + 37 * u64::from(cycle % 7))).await;
            child.start_kill().expect("SIGKILL");
            let _ = child.wait().await;
            if forward_support::forward_states(&store).await.0 > 0 {
                killed_with_work_left += 1;
            }
        }
        let mut last = run();
        forward_support::eventually("every document marked sent", || async {
            forward_support::forward_states(&store).await == (0, docs, 0)
        })
        .await;
        last.start_kill().expect("stop");
        let _ = last.wait().await;
        let stats = sink.stats().await;
        assert_eq!(
            (stats.documents, stats.duplicates),
            (docs, 0),
            "every document once at the sink: {stats:?}"
        );
        eprintln!(
            "forwarder kill -9 ×{cycles} on {:?} ({killed_with_work_left} with work left): \
             {} documents at the sink, 0 duplicates, {} batches replayed",
            db.backend, stats.documents, stats.replayed_batches
        );
        sink.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarder_kill9_fast() {
    forwarder_kill9(3, 300).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long drill: cargo test --release --test drills -- --ignored"]
async fn forwarder_kill9_full() {
    forwarder_kill9(10, 5_000).await;
}

/// A tmpfs of `bytes` mounted at a fresh directory, unmounted on drop; `None` when mounting is
/// not permitted (not root, no CAP_SYS_ADMIN).
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(bytes: u64) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .ok()?
            .success();
        mounted.then_some(SmallDisk { dir })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// SQLite's disk fills up under a register that keeps sending: no ack while nothing can be
/// written, and once space is freed every document is stored once, without a restart. (A
/// read-only remount is refused by the kernel while the database is open for writing; a full
/// disk is how an embedded database's storage fails in practice.)
async fn sqlite_disk_full(outage: Duration) {
    let _beside_others = MACHINE.read().await;
    let Some(disk) = SmallDisk::mount(64 << 20) else {
        eprintln!("SKIPPED: mounting a tmpfs is not permitted here (needs root)");
        return;
    };
    let url = format!("sqlite://{}", disk.dir.path().join("ofd.db").display());
    let mut options = options(&url);
    options.ingest.idle_timeout_secs = Some(2);
    let server = Server::start(options.resolve().expect("config"))
        .await
        .expect("server");
    let addr = server.local_addr();
    const DOCS: u32 = 60;
    let register = tokio::spawn(resending_register(
        addr,
        951,
        DOCS,
        Duration::from_millis(50),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Fill every byte left on the disk.
    let filler = disk.dir.path().join("filler");
    let fill = std::process::Command::new("dd")
        .args(["if=/dev/zero", "bs=1M"])
        .arg(format!("of={}", filler.display()))
        .stderr(std::process::Stdio::null())
        .status()
        .expect("dd");
    assert!(!fill.success(), "dd stops when the disk is full");
    let down = Instant::now();
    tokio::time::sleep(outage).await;
    std::fs::remove_file(&filler).expect("free the disk");
    let up = Instant::now();
    let acked = tokio::time::timeout(Duration::from_secs(180), register)
        .await
        .expect("the register finished")
        .expect("register task");
    let during: Vec<_> = acked
        .iter()
        .filter(|(_, at)| *at > down + Duration::from_millis(500) && *at < up)
        .collect();
    let fds: HashSet<u32> = acked.iter().map(|(fd, _)| *fd).collect();
    assert_eq!(fds.len(), DOCS as usize);
    let stored = common::count_rows(&url, "documents").await;
    assert_eq!(
        stored,
        i64::from(DOCS),
        "every document stored once, none lost"
    );
    eprintln!(
        "SQLite disk full for {outage:?}: {} acks while full (WAL pages already reserved), {stored} stored once, first ack {:?} after space was freed",
        during.len(),
        acked.iter().find(|(_, at)| *at >= up).map(|(_, at)| *at - up)
    );
    server.shutdown().await.expect("clean shutdown");
    drop(disk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_disk_full_fast() {
    sqlite_disk_full(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long drill: cargo test --release --test drills -- --ignored"]
async fn sqlite_disk_full_20s() {
    sqlite_disk_full(Duration::from_secs(20)).await;
}
