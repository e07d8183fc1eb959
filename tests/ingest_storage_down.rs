//! Storage down, over real loopback TCP against a real database made to fail (a trigger on
//! SQLite; refused and terminated sessions on PostgreSQL), with no stand-in for any component.
//!
//! RU (spec table "What the server must do"): no confirmation at all, the failure counted under
//! the `storage` check, the connection closed, nothing stored; once storage is back the
//! register's resend of the same frame is acknowledged with code 0 and stored once.
//!
//! KZ has its own rule (spec §8 item 9): the failure is answered with
//! SERVICE_TEMPORARILY_UNAVAILABLE, nothing stored, the token unchanged; the resend after
//! recovery is processed and stored once.

mod common;
mod ingest_support;
mod kz_support;

use common::{count_rows, on_each_backend, TestDb};
use ingest_support::*;
use ofd::ingest::Server;
use ofd_protocol::kz::OperationTypeEnum::Sell;
use ofd_protocol::kz::ResultTypeEnum;
use tokio::io::AsyncReadExt;

const RU_STORAGE_FAILURES: &str =
    r#"ofd_ingest_check_failures_total{check="storage",dialect="ru"}"#;
const RU_DROPPED: &str = r#"ofd_ingest_frames_total{dialect="ru",result="dropped"}"#;

/// Send `frame` on a fresh connection and return every byte the server sent before closing.
async fn bytes_until_close(addr: std::net::SocketAddr, frame: &[u8]) -> Vec<u8> {
    let mut client = Client::connect(addr).await;
    client.send(frame).await;
    let mut received = Vec::new();
    tokio::time::timeout(STEP, client.stream.read_to_end(&mut received))
        .await
        .expect("server closed in time")
        .expect("orderly close");
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ru_storage_down_gets_no_reply_and_the_resend_after_recovery_is_stored_once() {
    on_each_backend(|db: TestDb| async move {
        let server = Server::start(config(&db.url)).await.expect("server");
        let (addr, m) = (server.local_addr(), server.metrics_addr());
        let fn_a = fn_number(31);

        // A first document while storage works: the writer now holds a live connection.
        let first = send_one(addr, &receipt_frame(&fn_a, 1, 100, None)).await;
        assert_eq!(ack_fields(&first.expect("ack")).code, 0);

        db.storage_down().await;
        let frame = receipt_frame(&fn_a, 2, 200, None);
        for attempt in 1..=2 {
            let received = bytes_until_close(addr, &frame).await;
            assert!(
                received.is_empty(),
                "attempt {attempt}: no confirmation while storage is down, got {} bytes",
                received.len()
            );
            assert_eq!(metric(m, RU_STORAGE_FAILURES).await, f64::from(attempt));
            assert_eq!(metric(m, RU_DROPPED).await, f64::from(attempt));
        }
        db.storage_up().await;
        assert_eq!(
            count_rows(&db.url, "documents").await,
            1,
            "nothing stored while storage was down"
        );

        // The register resends the same frame later: acknowledged, stored once.
        let reply = send_one(addr, &frame).await.expect("ack after recovery");
        assert_eq!(
            ack_fields(&reply),
            AckFields {
                fn_number: fn_a.clone(),
                fd: 2,
                code: 0
            }
        );
        assert_eq!(count_rows(&db.url, "documents").await, 2);
        assert_eq!(metric(m, "ofd_ingest_documents_stored_total").await, 2.0);
        assert_eq!(metric(m, RU_STORAGE_FAILURES).await, 2.0, "no new failure");

        // And a further resend is a duplicate answered with the same ack, not a second row.
        let again = send_one(addr, &frame).await.expect("duplicate ack");
        assert_eq!(again, reply);
        assert_eq!(count_rows(&db.url, "documents").await, 2);
        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}

/// KZ (spec §8 item 9): a storage failure is the one case answered with
/// SERVICE_TEMPORARILY_UNAVAILABLE (254), never cached, so the ККМ's resend of the same request
/// (same REQNUM and token) is processed afresh once storage is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kz_storage_down_is_answered_254_and_the_resend_after_recovery_is_stored_once() {
    on_each_backend(|db: TestDb| async move {
        let (system_id, token) = kz_support::register_kz(&db.url, "KZ-STORAGE-DOWN");
        let server = Server::start(config(&db.url)).await.expect("server");
        let (addr, m) = (server.local_addr(), server.metrics_addr());
        let mut kkm = kz_support::Kkm::new(addr, system_id, token);
        let first = kkm.send(&kz_support::ticket(Sell, 10)).await;
        assert_eq!(
            first.code(),
            ResultTypeEnum::Ok.code(),
            "{:?}",
            first.response
        );

        db.storage_down().await;
        let frame = kkm.next_frame(&kz_support::ticket(Sell, 20));
        let reply = kz_support::send_frame(addr, &frame)
            .await
            .expect("an answer while storage is down");
        assert_eq!(
            reply.code(),
            ResultTypeEnum::ServiceTemporarilyUnavailable.code(),
            "{:?}",
            reply.response
        );
        assert_eq!(reply.header.token, kkm.token, "the token does not rotate");
        assert!(reply.response.ticket.is_none(), "no ticket number given");
        assert_eq!(
            metric(
                m,
                r#"ofd_ingest_check_failures_total{check="storage",dialect="kz"}"#
            )
            .await,
            1.0
        );
        db.storage_up().await;
        assert_eq!(count_rows(&db.url, "kz_tickets").await, 1);

        let reply = kz_support::send_frame(addr, &frame)
            .await
            .expect("answer after recovery");
        assert_eq!(
            reply.code(),
            ResultTypeEnum::Ok.code(),
            "{:?}",
            reply.response
        );
        assert!(reply
            .response
            .ticket
            .and_then(|t| t.ticket_number)
            .is_some());
        assert_ne!(
            reply.header.token, kkm.token,
            "the token rotates on success"
        );
        assert_eq!(count_rows(&db.url, "kz_tickets").await, 2);

        // The same request once more is a replay of the cached answer, not a third ticket.
        let replay = kz_support::send_frame(addr, &frame).await.expect("replay");
        assert_eq!(replay.bytes, reply.bytes);
        assert_eq!(count_rows(&db.url, "kz_tickets").await, 2);
        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}
