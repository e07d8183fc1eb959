//! KZ token guessing over loopback TCP, on both backends: every wrong token counts against the
//! register and the source, whatever its REQNUM; at `kz.token_attempts` the key is locked and
//! nothing for it is looked at until the cool-down ends (a right token gets the same silence as
//! a wrong one); a cached reply is replayed for free only to the same connection or within the
//! retry window; each lockout reaches the audit log.

mod common;
mod ingest_support;
mod kz_support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::{on_each_backend, TestDb};
use ingest_support::{closed_within, config, connect_from, metric};
use kz_support::*;
use ofd::ingest::Server;
use ofd_protocol::kz::ResultTypeEnum;
use tokio::io::AsyncWriteExt;

const ATTEMPTS: u32 = 3;
const WRONG: &str = "ofd_ingest_kz_wrong_tokens_total";
const REGISTER_LOCKOUTS: &str = r#"ofd_ingest_kz_token_lockouts_total{scope="register"}"#;
const LOCKED_FRAMES: &str = "ofd_ingest_kz_locked_out_frames_total";

async fn start(db: &TestDb, retry_window: Duration) -> Server {
    let mut serve = config(&db.url);
    serve.kz.token_attempts = ATTEMPTS;
    serve.kz.token_lockout = Duration::from_secs(60);
    serve.kz.retry_window = retry_window;
    Server::start(serve).await.expect("server")
}

/// Send `frame` from `from` on a fresh connection: the reply, or `None` when closed unanswered.
async fn send_from(from: Ipv4Addr, addr: SocketAddr, frame: &[u8]) -> Option<Reply> {
    let mut stream = connect_from(from, addr).await;
    stream.write_all(frame).await.ok()?;
    read_reply(&mut stream).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_limit_even_the_right_token_is_not_looked_at() {
    on_each_backend(|db| async move {
        let (system_id, token) = register_kz(&db.url, "KZ-GUESS-1");
        let server = start(&db, Duration::from_secs(120)).await;
        let (addr, m) = (server.local_addr(), server.metrics_addr());
        let wrong = token.wrapping_add(1);
        for reqnum in 1..ATTEMPTS as u16 {
            let reply = send_frame(addr, &frame(system_id, wrong, reqnum, &system(false)))
                .await
                .expect("INVALID_TOKEN within the limit");
            assert_eq!(reply.code(), ResultTypeEnum::InvalidToken.code());
            assert_eq!(reply.header.token, wrong, "the sent token is echoed");
        }
        let locking = frame(system_id, wrong, ATTEMPTS as u16, &system(false));
        assert!(
            send_frame(addr, &locking).await.is_none(),
            "the last attempt locks"
        );
        assert_eq!(metric(m, REGISTER_LOCKOUTS).await, 1.0);
        // The right token now gets exactly what a wrong one gets: nothing.
        let right = frame(system_id, token, 10, &system(false));
        assert!(
            send_frame(addr, &right).await.is_none(),
            "locked: not evaluated"
        );
        let other = frame(system_id, wrong, 11, &system(false));
        assert!(send_frame(addr, &other).await.is_none());
        assert_eq!(
            metric(m, WRONG).await,
            f64::from(ATTEMPTS),
            "locked frames are not counted as guesses"
        );
        assert_eq!(metric(m, LOCKED_FRAMES).await, 2.0);
        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_counts_whatever_the_request_number_even_pipelined() {
    on_each_backend(|db| async move {
        let (system_id, token) = register_kz(&db.url, "KZ-GUESS-2");
        let server = start(&db, Duration::from_secs(120)).await;
        let (addr, m) = (server.local_addr(), server.metrics_addr());
        let mut kkm = Kkm::new(addr, system_id, token);
        assert_eq!(
            kkm.send(&system(false)).await.code(),
            ResultTypeEnum::Ok.code()
        );
        // Guesses that repeat the register's last REQNUM, pipelined on one connection.
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut answers = Vec::new();
        for guess in 0..10u32 {
            let bytes = frame(system_id, 0x5eed_0000 + guess, kkm.reqnum, &system(false));
            if stream.write_all(&bytes).await.is_err() {
                break;
            }
        }
        while let Some(reply) = read_reply(&mut stream).await {
            answers.push(reply.code());
        }
        assert_eq!(
            answers,
            vec![ResultTypeEnum::InvalidToken.code(); ATTEMPTS as usize - 1],
            "INVALID_TOKEN, not INVALID_REQUEST_NUMBER, then closed at the limit"
        );
        assert_eq!(metric(m, WRONG).await, f64::from(ATTEMPTS));
        assert_eq!(metric(m, REGISTER_LOCKOUTS).await, 1.0);
        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_retry_from_another_connection_counts_and_a_prompt_one_does_not() {
    on_each_backend(|db| async move {
        let (system_id, token) = register_kz(&db.url, "KZ-GUESS-3");
        let server = start(&db, Duration::from_millis(500)).await;
        let (addr, m) = (server.local_addr(), server.metrics_addr());
        let request = frame(system_id, token, 1, &system(false));
        let first = send_frame(addr, &request).await.expect("answered");
        assert_eq!(first.code(), ResultTypeEnum::Ok.code());
        let prompt = send_frame(addr, &request).await.expect("replayed");
        assert_eq!(
            prompt.bytes, first.bytes,
            "a prompt retry gets the same bytes"
        );
        assert_eq!(metric(m, WRONG).await, 0.0, "and costs nothing");
        tokio::time::sleep(Duration::from_millis(700)).await;
        for n in 1..ATTEMPTS {
            let late = send_frame(addr, &request)
                .await
                .expect("still replayed under the limit");
            assert_eq!(late.bytes, first.bytes);
            assert_eq!(metric(m, WRONG).await, f64::from(n), "a late retry counts");
        }
        assert!(
            send_frame(addr, &request).await.is_none(),
            "late retries are guesses too: the limit closes them"
        );
        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_addresses_share_the_register_limit_and_the_owner_sees_the_lockout() {
    on_each_backend(|db| async move {
        let (system_id, token) = register_kz(&db.url, "KZ-GUESS-4");
        let server = start(&db, Duration::from_secs(120)).await;
        let (addr, m) = (server.local_addr(), server.metrics_addr());
        let mut answered = 0;
        for n in 0..20u8 {
            let from = Ipv4Addr::new(127, 0, 3, 10 + n);
            let guess = frame(
                system_id,
                token ^ (0x100 + u32::from(n)),
                1 + u16::from(n),
                &system(false),
            );
            if send_from(from, addr, &guess).await.is_some() {
                answered += 1;
            }
        }
        assert_eq!(
            answered,
            ATTEMPTS - 1,
            "20 addresses got {answered} answers"
        );
        let right = frame(system_id, token, 100, &system(false));
        let mut stream = connect_from(Ipv4Addr::new(127, 0, 4, 1), addr).await;
        stream.write_all(&right).await.expect("send");
        assert!(closed_within(&mut stream, STEP).await);
        assert_eq!(metric(m, WRONG).await, f64::from(ATTEMPTS));
        // The lockout is in the audit log, for the register, from the source that tripped it.
        let mut lines = 0;
        for _ in 0..50 {
            lines = common::count_rows(
                &db.url,
                "audit_log WHERE action = 'kz.token_lockout' AND object IS NOT NULL",
            )
            .await;
            if lines > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(lines, 1, "one audit line per lockout");
        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}
