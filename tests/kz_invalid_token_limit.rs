//! The KZ INVALID_TOKEN limit over loopback TCP: a wrong token is answered INVALID_TOKEN up to
//! `invalid_token_per_minute` times per register and per source address in a minute; beyond
//! that the connection is closed without an answer (counted as dropped), so token guessing gets
//! no oracle. A request with the right token is still served.

mod common;
mod ingest_support;
mod kz_support;

use std::time::Duration;

use common::TestDb;
use ingest_support::{config, metric};
use kz_support::*;
use ofd::ingest::Server;
use ofd_protocol::kz::OperationTypeEnum::Sell;
use ofd_protocol::kz::ResultTypeEnum;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PER_MINUTE: u32 = 3;

/// Every byte the server sends for `frame` before it closes the connection.
async fn bytes_until_close(addr: std::net::SocketAddr, frame: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(frame).await.expect("send");
    let mut received = Vec::new();
    tokio::time::timeout(STEP, stream.read_to_end(&mut received))
        .await
        .expect("closed in time")
        .expect("orderly close");
    received
}

/// The limiter counts in fixed one-minute windows: start well inside one so that the window
/// cannot roll over between the refusals and the check that follows them.
async fn wait_for_fresh_minute_window() {
    // The same clock the server's limiter reads.
    let into_minute = ofd::clock::unix_millis().rem_euclid(60_000);
    if into_minute > 55_000 {
        tokio::time::sleep(Duration::from_millis((60_100 - into_minute) as u64)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tokens_beyond_the_limit_get_no_answer_but_the_right_token_still_works() {
    let db = TestDb::sqlite();
    let (system_id, token) = register_kz(&db.url, "KZ-TOKEN-LIMIT-1");
    let (other_id, other_token) = register_kz(&db.url, "KZ-TOKEN-LIMIT-2");
    let mut serve = config(&db.url);
    serve.kz.invalid_token_per_minute = PER_MINUTE;
    let server = Server::start(serve).await.expect("server");
    let (addr, m) = (server.local_addr(), server.metrics_addr());
    let wrong = token.wrapping_add(1);

    wait_for_fresh_minute_window().await;
    for reqnum in 1..=PER_MINUTE as u16 {
        let reply = send_frame(addr, &frame(system_id, wrong, reqnum, &system(false)))
            .await
            .expect("INVALID_TOKEN answer within the limit");
        assert_eq!(reply.code(), ResultTypeEnum::InvalidToken.code());
        assert_eq!(reply.header.token, wrong, "the sent token is echoed");
    }
    let over = frame(system_id, wrong, PER_MINUTE as u16 + 1, &system(false));
    assert!(
        bytes_until_close(addr, &over).await.is_empty(),
        "beyond the limit: closed without an answer"
    );
    let dropped = r#"ofd_ingest_frames_total{dialect="kz",result="dropped"}"#;
    assert_eq!(metric(m, dropped).await, 1.0);
    let refused = r#"ofd_ingest_frames_total{dialect="kz",result="refused"}"#;
    assert_eq!(metric(m, refused).await, f64::from(PER_MINUTE));

    // The limit is per source address too: another register's wrong token from here is cut off.
    let other_wrong = frame(other_id, other_token.wrapping_add(1), 1, &system(false));
    assert!(bytes_until_close(addr, &other_wrong).await.is_empty());
    assert_eq!(metric(m, dropped).await, 2.0);

    // Neither register is locked out: the right token is served and the token chain holds.
    let mut kkm = Kkm::new(addr, system_id, token);
    let reply = kkm.send(&ticket(Sell, 5)).await;
    assert_eq!(
        reply.code(),
        ResultTypeEnum::Ok.code(),
        "{:?}",
        reply.response
    );
    let mut other = Kkm::new(addr, other_id, other_token);
    let reply = other.send(&system(false)).await;
    assert_eq!(
        reply.code(),
        ResultTypeEnum::Ok.code(),
        "{:?}",
        reply.response
    );
    server.shutdown().await.expect("clean shutdown");
}
