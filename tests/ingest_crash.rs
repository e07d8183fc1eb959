//! The built `ofd serve` binary as a child process under load from test clients: killed with
//! SIGKILL mid-load and restarted, several cycles, every document whose ack a client received
//! must be in the database; stopped with SIGTERM mid-load, it must exit cleanly with every
//! in-flight document either acknowledged and stored, or neither. Both run on each backend.

mod common;
mod ingest_support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{on_each_backend, TestDb};
use ingest_support::*;
use sqlx::{Connection as _, Row as _};
use tokio::process::Child;

/// Concurrent register connections during load.
const CLIENTS: usize = 16;

/// Start `ofd serve` on `database` with ports chosen by the OS; returns the child and the
/// ingest address it logged.
async fn spawn_server(database: &str) -> (Child, SocketAddr) {
    let flags = [
        "--accept-unregistered",
        "--source-rate",
        "0",
        "--ofd-inn",
        "7704358518",
    ];
    common::spawn_serve(database, &flags, STEP * 3).await
}

/// Registers sending one document per connection until `stop` is set or the server goes away;
/// returns every (ФН, ФД) whose code-0 ack arrived.
async fn load(
    addr: SocketAddr,
    fn_number: String,
    next_fd: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
) -> Vec<(String, u32)> {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (fn_number, next_fd, stop, acked) = (
            fn_number.clone(),
            next_fd.clone(),
            stop.clone(),
            acked.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let fd = next_fd.fetch_add(1, Ordering::Relaxed);
                let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
                    break;
                };
                let frame = receipt_frame(&fn_number, fd, fd, None);
                if tokio::io::AsyncWriteExt::write_all(&mut stream, &frame)
                    .await
                    .is_err()
                {
                    break;
                }
                let mut client = Client { stream };
                match client.reply().await {
                    Some(reply) => {
                        let ack = ack_fields(&reply);
                        assert_eq!((ack.fd, ack.code), (fd, 0));
                        acked.lock().expect("lock").push((fn_number.clone(), fd));
                    }
                    None => break,
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }
    let acked = acked.lock().expect("lock").clone();
    acked
}

async fn stored(url: &str) -> HashSet<(String, u32)> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    let rows = sqlx::query("SELECT fn_number, fd_number FROM documents")
        .fetch_all(&mut conn)
        .await
        .expect("select");
    conn.close().await.ok();
    rows.iter()
        .map(|row| (row.get::<String, _>(0), row.get::<i64, _>(1) as u32))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_no_acknowledged_document() {
    on_each_backend(|db: TestDb| async move {
        let next_fd = Arc::new(AtomicU32::new(1));
        let mut all_acked = Vec::new();
        for cycle in 0..common::drill_cycles(3) {
            let (mut child, addr) = spawn_server(&db.url).await;
            let stop = Arc::new(AtomicBool::new(false));
            let load = tokio::spawn(load(addr, fn_number(100), next_fd.clone(), stop.clone()));
            tokio::time::sleep(Duration::from_millis(700)).await;
            child.start_kill().expect("SIGKILL");
            child.wait().await.expect("reaped");
            stop.store(true, Ordering::Relaxed);
            let acked = load.await.expect("load");
            assert!(!acked.is_empty(), "cycle {cycle}: load reached the server");
            all_acked.extend(acked);
            let stored = stored(&db.url).await;
            let lost: Vec<_> = all_acked.iter().filter(|k| !stored.contains(k)).collect();
            assert!(
                lost.is_empty(),
                "cycle {cycle}: acknowledged but not stored: {lost:?}"
            );
            eprintln!(
                "cycle {cycle}: {} acked so far, {} stored",
                all_acked.len(),
                stored.len()
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_load_drains_in_flight_documents_and_exits_cleanly() {
    on_each_backend(|db: TestDb| async move {
        let (mut child, addr) = spawn_server(&db.url).await;
        let stop = Arc::new(AtomicBool::new(false));
        let load = tokio::spawn(load(
            addr,
            fn_number(200),
            Arc::new(AtomicU32::new(1)),
            stop.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(700)).await;
        let pid = child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = tokio::time::timeout(STEP * 3, child.wait())
            .await
            .expect("exited in time")
            .expect("wait");
        stop.store(true, Ordering::Relaxed);
        assert!(exit.success(), "graceful exit, got {exit:?}");
        let acked: HashSet<_> = load.await.expect("load").into_iter().collect();
        assert!(!acked.is_empty());
        let stored = stored(&db.url).await;
        let lost: Vec<_> = acked.difference(&stored).collect();
        assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
        let unacked: Vec<_> = stored.difference(&acked).collect();
        assert!(
            unacked.is_empty(),
            "committed but never acknowledged on an open socket: {unacked:?}"
        );
    })
    .await;
}
