//! The crypto unit inside the real server: `ofd serve` (in process, real loopback TCP, a real
//! SQLite file) configured with the `external` unit pointing at the HTTP stand-in.
//!
//! - a soft-signed receipt is verified by the unit, acked with code 0, and the ack carries the
//!   unit's ФПО over the confirmation; a tampered one is answered 11 and quarantined;
//! - while the unit is down nothing is acked or stored (a transient fault: the register resends),
//!   and the resend after the unit is back is acked and stored once;
//! - with the unit off, the ack carries a zero ФПО and the document is stored as unverified.

mod common;
mod crypto_support;
mod ingest_support;

use common::{count_rows, TestDb};
use ingest_support::{ack_fields, edit_document, fn_number, options, receipt_frame, send_one};
use ofd::crypto::CryptoMode;
use ofd::ingest::Server;
use ofd_protocol::ru::tlv::{Tlv, Writer};
use ofd_protocol::ru::Frame;
use sqlx::Connection as _;

/// The ФПО (tag 1078) of a confirmation frame, and the confirmation rebuilt without it (the
/// bytes the unit signed).
fn fpo_and_unsigned(reply: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let frame = Frame::decode(reply).expect("reply frame");
    let document = Tlv::read_exact(frame.container.document).expect("reply document");
    let mut fpo = None;
    let mut unsigned = Writer::new();
    unsigned.begin(document.tag).expect("open");
    for item in document.children() {
        let item = item.expect("well-formed reply");
        if item.tag == 1078 {
            fpo = Some(item.value.to_vec());
        } else {
            unsigned.tlv(item.tag, item.value).expect("copy");
        }
    }
    (
        fpo.expect("reply carries 1078"),
        unsigned.finish().expect("rebuilt"),
    )
}

async fn sign_verdicts(url: &str) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    let verdicts = sqlx::query_scalar("SELECT sign_verdict FROM documents ORDER BY fd_number")
        .fetch_all(&mut conn)
        .await
        .expect("verdicts");
    conn.close().await.ok();
    verdicts
}

async fn server_with(db: &TestDb, mode: CryptoMode, url: Option<String>) -> Server {
    let mut options = options(&db.url);
    options.crypto.mode = Some(mode);
    options.crypto.external_url = url;
    options.crypto.external_timeout_ms = Some(2_000);
    Server::start(options.resolve().expect("config"))
        .await
        .expect("server")
}

#[tokio::test]
async fn external_unit_verifies_signs_and_refuses_tampering() {
    let db = TestDb::sqlite();
    let unit_url = crypto_support::stand_in_unit().await;
    let server = server_with(&db, CryptoMode::External, Some(unit_url)).await;
    let addr = server.local_addr();
    let signer = crypto_support::soft_unit();
    let fn_a = fn_number(31);

    let reply = send_one(addr, &receipt_frame(&fn_a, 1, 9_900, Some(&signer)))
        .await
        .expect("ack");
    assert_eq!(ack_fields(&reply).code, 0);
    let (fpo, unsigned) = fpo_and_unsigned(&reply);
    assert_eq!(
        fpo,
        signer.operator_sign(&fn_a, 1, &unsigned),
        "the ack carries the unit's ФПО over the confirmation"
    );

    let tampered = edit_document(&receipt_frame(&fn_a, 2, 9_900, Some(&signer)), |doc| {
        let last = doc.len() - 1;
        doc[last] ^= 0x01;
    });
    let reply = send_one(addr, &tampered).await.expect("reply");
    assert_eq!(ack_fields(&reply).code, 11);

    assert_eq!(sign_verdicts(&db.url).await, vec!["verified".to_owned()]);
    assert_eq!(count_rows(&db.url, "quarantine").await, 1);
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_unit_that_is_down_gets_no_ack_and_the_resend_is_stored_once_it_is_back() {
    let db = TestDb::sqlite();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("reserve a port");
    let unit_addr = listener.local_addr().expect("addr");
    drop(listener);
    let server = server_with(
        &db,
        CryptoMode::External,
        Some(format!("http://{unit_addr}/hsm")),
    )
    .await;
    let addr = server.local_addr();
    let signer = crypto_support::soft_unit();
    let frame = receipt_frame(&fn_number(32), 5, 1_000, Some(&signer));

    assert_eq!(
        send_one(addr, &frame).await,
        None,
        "no confirmation while the unit is down: the connection is closed"
    );
    assert_eq!(count_rows(&db.url, "documents").await, 0);
    assert_eq!(
        count_rows(&db.url, "quarantine").await,
        0,
        "a unit fault is not the register's fault"
    );
    let metrics = ingest_support::scrape(server.metrics_addr()).await;
    assert_eq!(
        ingest_support::sample(
            &metrics,
            r#"ofd_ingest_check_failures_total{check="crypto_unit",dialect="ru"}"#
        ),
        1.0
    );

    let listener = tokio::net::TcpListener::bind(unit_addr)
        .await
        .expect("the unit comes back on its port");
    crypto_support::serve_on(listener, crypto_support::stand_in_routes());
    let reply = send_one(addr, &frame).await.expect("ack after the resend");
    assert_eq!(ack_fields(&reply).code, 0);
    assert_eq!(sign_verdicts(&db.url).await, vec!["verified".to_owned()]);
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn with_the_unit_off_acks_carry_a_zero_fpo_and_documents_are_unverified() {
    let db = TestDb::sqlite();
    let server = server_with(&db, CryptoMode::Off, None).await;
    let reply = send_one(
        server.local_addr(),
        &receipt_frame(&fn_number(33), 1, 500, None),
    )
    .await
    .expect("ack");
    assert_eq!(ack_fields(&reply).code, 0);
    assert_eq!(fpo_and_unsigned(&reply).0, vec![0u8; 16]);
    assert_eq!(sign_verdicts(&db.url).await, vec!["unverified".to_owned()]);
    server.shutdown().await.expect("clean shutdown");
}
