//! Crash test for the KZ dialect: the built `ofd serve` binary under load from several ККМ is
//! killed with SIGKILL and restarted. Every ticket whose answer a register received must be
//! stored; after the restart each register resends its unanswered request (same REQNUM and
//! token, as ККМ clients do), then carries on with the last token it was given. On each backend.

mod common;
mod kz_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{on_each_backend, TestDb};
use kz_support::*;
use ofd_protocol::kz::{OperationTypeEnum, ResultTypeEnum};
use sqlx::Connection as _;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::process::Child;

const KKMS: usize = 4;
/// Kill cycles in a normal run (`OFD_DRILL_CYCLES` overrides it for the long drill).
const CYCLES: usize = 2;

async fn spawn_server(database: &str) -> (Child, SocketAddr) {
    let flags = ["--source-rate", "0", "--ofd-inn", "7704358518"];
    common::spawn_serve(database, &flags, STEP * 3).await
}

/// One exchange that may fail because the server is gone.
async fn try_exchange(addr: SocketAddr, frame: &[u8]) -> Option<Reply> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    stream.write_all(frame).await.ok()?;
    read_reply(&mut stream).await
}

/// What a register knows after the load: its state, the tickets it was answered for, and the
/// request still unanswered when the server died.
struct Outcome {
    kkm: Kkm,
    acked: Vec<String>,
    pending: Option<Vec<u8>>,
}

async fn load(mut kkm: Kkm, stop: Arc<AtomicBool>) -> Outcome {
    let mut acked = Vec::new();
    let mut tenge = 1;
    while !stop.load(Ordering::Relaxed) {
        let frame = kkm.next_frame(&ticket(OperationTypeEnum::Sell, tenge));
        kkm.reqnum = kkm.reqnum.wrapping_add(1);
        let Some(reply) = try_exchange(kkm.addr, &frame).await else {
            return Outcome {
                kkm,
                acked,
                pending: Some(frame),
            };
        };
        assert_eq!(
            reply.code(),
            ResultTypeEnum::Ok.code(),
            "{:?}",
            reply.response
        );
        kkm.token = reply.header.token;
        acked.push(
            reply
                .response
                .ticket
                .and_then(|t| t.ticket_number)
                .expect("ticket number"),
        );
        tenge += 1;
    }
    Outcome {
        kkm,
        acked,
        pending: None,
    }
}

async fn stored_ticket_numbers(url: &str) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    let rows: Vec<String> = sqlx::query_scalar("SELECT ticket_number FROM kz_tickets")
        .fetch_all(&mut conn)
        .await
        .expect("select");
    conn.close().await.ok();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_answered_ticket_and_tokens_carry_on() {
    on_each_backend(|db: TestDb| async move {
        let mut kkms: Vec<Kkm> = (0..KKMS)
            .map(|i| {
                let (id, token) = register_kz(&db.url, &format!("CRASH-{i}"));
                Kkm::new("127.0.0.1:1".parse().expect("addr"), id, token)
            })
            .collect();
        let mut all_acked = Vec::new();
        for cycle in 0..common::drill_cycles(CYCLES) {
            let (mut child, addr) = spawn_server(&db.url).await;
            // Resend whatever was unanswered, then one fresh ticket each: the token chain holds.
            for kkm in &mut kkms {
                kkm.addr = addr;
            }
            let stop = Arc::new(AtomicBool::new(false));
            let tasks: Vec<_> = kkms
                .drain(..)
                .map(|kkm| tokio::spawn(load(kkm, stop.clone())))
                .collect();
            tokio::time::sleep(Duration::from_millis(1500)).await;
            child.start_kill().expect("SIGKILL");
            child.wait().await.expect("reaped");
            stop.store(true, Ordering::Relaxed);
            let mut outcomes = Vec::new();
            for task in tasks {
                outcomes.push(task.await.expect("load task"));
            }
            let acked_now: usize = outcomes.iter().map(|o| o.acked.len()).sum();
            assert!(
                acked_now > 0,
                "cycle {cycle}: some tickets were answered before the kill"
            );

            let stored = stored_ticket_numbers(&db.url).await;
            for outcome in &outcomes {
                for number in &outcome.acked {
                    assert!(stored.contains(number), "answered ticket {number} lost");
                }
            }

            let (mut child, addr) = spawn_server(&db.url).await;
            for mut outcome in outcomes {
                outcome.kkm.addr = addr;
                if let Some(pending) = outcome.pending.take() {
                    let reply = try_exchange(addr, &pending)
                        .await
                        .expect("answer after restart");
                    assert_eq!(
                        reply.code(),
                        ResultTypeEnum::Ok.code(),
                        "{:?}",
                        reply.response
                    );
                    outcome.kkm.token = reply.header.token;
                    if let Some(number) = reply.response.ticket.and_then(|t| t.ticket_number) {
                        outcome.acked.push(number);
                    }
                }
                let reply = outcome.kkm.send(&ticket(OperationTypeEnum::Sell, 7)).await;
                assert_eq!(
                    reply.code(),
                    ResultTypeEnum::Ok.code(),
                    "the next request with the last returned token works: {:?}",
                    reply.response
                );
                all_acked.extend(outcome.acked);
                kkms.push(outcome.kkm);
            }
            child.start_kill().expect("stop");
            child.wait().await.expect("reaped");
        }
        let stored = stored_ticket_numbers(&db.url).await;
        for number in &all_acked {
            assert!(stored.contains(number), "answered ticket {number} lost");
        }
        let unique: std::collections::HashSet<_> = stored.iter().collect();
        assert_eq!(unique.len(), stored.len());
    })
    .await;
}
