//! Never lose a signed document (issue 11 §1), end to end over loopback TCP on both backends:
//! every frame whose container checks out is committed before its reply — as a document, or in
//! quarantine with its bytes, the failed check and the decoder's error — and `ofd quarantine
//! list|show|retry` (the built binary) lets the operator see it and take it back once the
//! decoder or the register's provisioning is fixed.

mod common;
mod ingest_support;
mod kz_support;

use std::process::Command;

use common::{count_rows, on_each_backend, TestDb};
use ingest_support::*;
use ofd::ingest::Server;
use ofd::store::{insert_quarantine, Dialect, Quarantine};
use ofd_protocol::kz::{Header, HEADER_LEN};
use ofd_protocol::ru::Frame;
use sqlx::{Connection as _, Row as _};

/// `ofd quarantine ARGS… --database URL`; stdout, after asserting success.
fn quarantine(database: &str, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_ofd"))
        .arg("quarantine")
        .args(args)
        .args(["--database", database])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run ofd quarantine");
    assert!(
        output.status.success(),
        "ofd quarantine {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

async fn connect(url: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(url).await.expect("connect")
}

/// A receipt whose nested 1059 claims more bytes than the document holds: the container (length,
/// CRC) is intact, the TLV is not.
fn broken_tlv_frame(fn_number: &str, fd: u32) -> Vec<u8> {
    let frame = receipt_frame(fn_number, fd, 700, None);
    edit_document(&frame, |doc| {
        let at = doc
            .windows(2)
            .position(|w| w == [0x23, 0x04])
            .expect("tag 1059");
        doc[at + 2] = 0xFF;
        doc[at + 3] = 0x00;
    })
}

#[tokio::test]
async fn a_valid_container_with_broken_tlv_is_quarantined_before_its_code_11_on_each_backend() {
    on_each_backend(|db: TestDb| async move {
        let server = Server::start(config(&db.url)).await.expect("server");
        let (addr, m) = (server.local_addr(), server.metrics_addr());
        let fn_a = fn_number(41);
        let frame = broken_tlv_frame(&fn_a, 3);
        let reply = send_one(addr, &frame).await.expect("code-11 reply");
        assert_eq!(
            ack_fields(&reply),
            AckFields {
                fn_number: fn_a.clone(),
                fd: 3,
                code: 11
            }
        );
        // Kept before the reply: the row is there as soon as the reply is.
        let mut conn = connect(&db.url).await;
        let row = sqlx::query(
            "SELECT fn_number, fd_number, check_name, error, session, raw, ack, resolved_at \
             FROM quarantine",
        )
        .fetch_one(&mut conn)
        .await
        .expect("one quarantine row");
        conn.close().await.ok();
        assert_eq!(row.get::<String, _>("fn_number"), fn_a);
        assert_eq!(row.get::<i64, _>("fd_number"), 3);
        assert_eq!(row.get::<String, _>("check_name"), "tlv");
        assert!(!row.get::<String, _>("error").is_empty());
        assert_eq!(row.get::<Vec<u8>, _>("session"), frame[..30].to_vec());
        assert_eq!(row.get::<Vec<u8>, _>("raw"), frame[30..].to_vec());
        assert_eq!(
            row.get::<Vec<u8>, _>("ack"),
            reply,
            "the reply sent is kept"
        );
        assert_eq!(row.get::<Option<i64>, _>("resolved_at"), None);
        assert_eq!(count_rows(&db.url, "documents").await, 0);
        assert_eq!(metric(m, "ofd_ingest_quarantined_total").await, 1.0);
        assert_eq!(
            metric(
                m,
                r#"ofd_ingest_frames_total{dialect="ru",result="quarantined"}"#
            )
            .await,
            1.0
        );

        // A CRC-damaged frame cannot be attributed to a drive: answered 11, not kept.
        let mut damaged = receipt_frame(&fn_a, 4, 500, None);
        let last = damaged.len() - 12;
        damaged[last] ^= 0x5A;
        assert_eq!(
            ack_fields(&send_one(addr, &damaged).await.expect("reply")).code,
            11
        );
        assert_eq!(count_rows(&db.url, "quarantine").await, 1);

        // The operator sees it, and why.
        let listed: Vec<serde_json::Value> =
            serde_json::from_str(&quarantine(&db.url, &["list", "--json"])).expect("JSON");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["check"], "tlv");
        assert_eq!(listed[0]["fn_number"], fn_a.as_str());
        let id = listed[0]["id"].as_i64().expect("id");
        let shown: serde_json::Value =
            serde_json::from_str(&quarantine(&db.url, &["show", &id.to_string(), "--json"]))
                .expect("JSON");
        assert_eq!(shown["raw_hex"], hex::encode(&frame[30..]));
        assert!(
            shown["row"]["error"]
                .as_str()
                .expect("error")
                .contains("1059"),
            "{shown}"
        );

        // The current decoder still refuses it: the row stays open, with the retry's error.
        let retried = json_lines(&quarantine(&db.url, &["retry", "--all", "--json"]));
        assert_eq!(retried.len(), 1);
        assert_eq!(retried[0]["outcome"], "still_failing");
        assert_eq!(count_rows(&db.url, "documents").await, 0);
        let open = quarantine(&db.url, &["list"]);
        assert!(open.contains("open"), "{open}");
        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test]
async fn retry_turns_a_row_an_older_decoder_left_into_a_document_with_its_received_time_on_each_backend(
) {
    on_each_backend(|db: TestDb| async move {
        let store = db.open().await;
        let fn_a = fn_number(42);
        // What an older decoder, which refused this (valid) receipt, left behind.
        let frame = receipt_frame(&fn_a, 8, 12_345, None);
        let received_at = 1_700_000_123_456;
        let mut conn = store.pool().acquire().await.expect("conn");
        let id = insert_quarantine(
            &mut conn,
            &Quarantine {
                dialect: Dialect::Ru,
                fn_number: Some(fn_a.clone()),
                fd_number: Some(8),
                system_id: None,
                reason: "tlv".into(),
                check: "tlv".into(),
                error: "VLN of 8 bytes in tag 1079 (older decoder)".into(),
                received_at,
                peer: Some("127.0.0.1:50000".into()),
                session: Some(frame[..30].to_vec()),
                raw: frame[30..].to_vec(),
                ack: Some(b"code-11 ack".to_vec()),
            },
        )
        .await
        .expect("quarantine row");
        // And a row without a session header (as bad-sign rows were kept), of a register that
        // was unknown then and is provisioned now.
        let fn_b = fn_number(43);
        let frame_b = receipt_frame(&fn_b, 1, 99, None);
        let id_b = insert_quarantine(
            &mut conn,
            &Quarantine {
                dialect: Dialect::Ru,
                fn_number: Some(fn_b.clone()),
                fd_number: Some(1),
                system_id: None,
                reason: "register".into(),
                check: "register".into(),
                error: "unknown ФН number".into(),
                received_at,
                peer: None,
                session: None,
                raw: frame_b[30..].to_vec(),
                ack: None,
            },
        )
        .await
        .expect("quarantine row");
        drop(conn);
        store.close().await;

        // Unknown ФН and no --accept-unregistered: row b stays open.
        let retried = json_lines(&quarantine(
            &db.url,
            &["retry", &id.to_string(), &id_b.to_string(), "--json"],
        ));
        assert_eq!(retried.len(), 2);
        assert_eq!(retried[0]["outcome"], "still_failing", "{retried:?}");
        assert_eq!(retried[1]["outcome"], "still_failing", "{retried:?}");
        assert_eq!(count_rows(&db.url, "documents").await, 0);

        for f in [&fn_a, &fn_b] {
            let output = Command::new(env!("CARGO_BIN_EXE_ofd"))
                .args([
                    "register",
                    "add",
                    "--dialect",
                    "ru",
                    "--fn",
                    f,
                    "--database",
                    &db.url,
                ])
                .output()
                .expect("ofd register");
            assert!(output.status.success(), "{output:?}");
        }
        let retried = json_lines(&quarantine(&db.url, &["retry", "--all", "--json"]));
        assert_eq!(retried.len(), 2);
        for outcome in &retried {
            assert_eq!(outcome["outcome"], "resolved", "{retried:?}");
        }
        assert_eq!(retried[0]["doc_key"], format!("{fn_a}/8"));

        let mut conn = connect(&db.url).await;
        let doc = sqlx::query(
            "SELECT d.received_at, d.raw, d.ack, o.state, d.json FROM documents d \
             JOIN outbox o ON o.document_id = d.id WHERE d.doc_key = $1",
        )
        .bind(format!("{fn_a}/8"))
        .fetch_one(&mut conn)
        .await
        .expect("document");
        assert_eq!(
            doc.get::<i64, _>("received_at"),
            received_at,
            "original received time"
        );
        assert_eq!(doc.get::<Vec<u8>, _>("raw"), frame[30..].to_vec());
        assert_eq!(doc.get::<Vec<u8>, _>("ack"), b"code-11 ack".to_vec());
        assert_eq!(
            doc.get::<String, _>("state"),
            "pending",
            "queued for forwarding"
        );
        // Stored as the container only; its FNS JSON is printed from it.
        assert_eq!(doc.get::<String, _>("json"), "");
        let json = ofd::store::documents::document_json(
            "ru",
            doc.get::<String, _>("json"),
            &doc.get::<Vec<u8>, _>("raw"),
        )
        .expect("FNS JSON of the stored container");
        assert!(json.contains("fiscalDocumentNumber"), "{json}");
        let resolved: Vec<(i64, Option<String>)> =
            sqlx::query("SELECT resolved_at, doc_key FROM quarantine ORDER BY id")
                .fetch_all(&mut conn)
                .await
                .expect("rows")
                .iter()
                .map(|r| (r.get::<i64, _>("resolved_at"), r.get("doc_key")))
                .collect();
        conn.close().await.ok();
        assert_eq!(resolved.len(), 2);
        assert!(resolved.iter().all(|(at, _)| *at > received_at));
        assert_eq!(resolved[1].1.as_deref(), Some(format!("{fn_b}/1").as_str()));
        Frame::decode(&frame_b).expect("row b's frame is valid");

        // Nothing open remains; a second retry changes nothing.
        assert_eq!(quarantine(&db.url, &["list"]).trim(), "");
        let again = json_lines(&quarantine(&db.url, &["retry", &id.to_string(), "--json"]));
        assert_eq!(again[0]["outcome"], "already_resolved");
        assert_eq!(count_rows(&db.url, "documents").await, 2);
    })
    .await;
}

#[tokio::test]
async fn an_unknown_register_and_a_cross_check_failure_are_kept_on_each_backend() {
    on_each_backend(|db: TestDb| async move {
        let mut options = options(&db.url);
        options.ingest.accept_unregistered = Some(false);
        let server = Server::start(options.resolve().expect("config"))
            .await
            .expect("server");
        let addr = server.local_addr();
        let fn_a = fn_number(44);
        let reply = send_one(addr, &receipt_frame(&fn_a, 1, 1, None))
            .await
            .expect("reply");
        assert_eq!(ack_fields(&reply).code, 11);
        let listed: Vec<serde_json::Value> =
            serde_json::from_str(&quarantine(&db.url, &["list", "--json"])).expect("JSON");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["check"], "register");
        server.shutdown().await.expect("clean shutdown");

        // Provisioned afterwards, the operator takes it back.
        let output = Command::new(env!("CARGO_BIN_EXE_ofd"))
            .args([
                "register",
                "add",
                "--dialect",
                "ru",
                "--fn",
                &fn_a,
                "--database",
                &db.url,
            ])
            .output()
            .expect("ofd register");
        assert!(output.status.success(), "{output:?}");
        let retried = json_lines(&quarantine(&db.url, &["retry", "--all", "--json"]));
        assert_eq!(retried[0]["outcome"], "resolved", "{retried:?}");
        assert_eq!(count_rows(&db.url, "documents").await, 1);
    })
    .await;
}

#[tokio::test]
async fn a_kz_body_the_decoder_refuses_is_kept_before_the_error_reply_on_each_backend() {
    on_each_backend(|db: TestDb| async move {
        let server = Server::start(config(&db.url)).await.expect("server");
        let (system_id, token) = kz_support::register_kz(&db.url, "KQ1");
        // A valid header from a known register with its token; a body field of wire type 7,
        // which protobuf does not have.
        let mut frame = kz_support::frame(system_id, token, 1, &kz_support::system(false));
        frame.extend_from_slice(&[0x0F]);
        let header = Header::decode(&frame).expect("header");
        let header = Header {
            size: frame.len() as u32,
            ..header
        };
        frame[..HEADER_LEN].copy_from_slice(&header.encode());
        let reply = kz_support::send_frame(server.local_addr(), &frame)
            .await
            .expect("an error reply");
        assert_ne!(reply.code(), 0);

        let mut conn = connect(&db.url).await;
        let row = sqlx::query("SELECT system_id, check_name, raw, ack, error FROM quarantine")
            .fetch_one(&mut conn)
            .await
            .expect("kept");
        conn.close().await.ok();
        assert_eq!(row.get::<i64, _>("system_id"), i64::from(system_id));
        assert_eq!(row.get::<String, _>("check_name"), "kz_body");
        assert_eq!(row.get::<Vec<u8>, _>("raw"), frame);
        assert_eq!(row.get::<Vec<u8>, _>("ack"), reply.bytes);
        assert!(!row.get::<String, _>("error").is_empty());
        assert_eq!(
            metric(server.metrics_addr(), "ofd_ingest_quarantined_total").await,
            1.0
        );
        let retried = json_lines(&quarantine(&db.url, &["retry", "--all", "--json"]));
        assert_eq!(retried[0]["outcome"], "skipped");
        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}

/// The fixture of a receipt whose money tags a fixed-width device zero-padded to 8 bytes (1079's
/// table maximum is 6), built by the test helpers' encoder; `OFD_WRITE_FIXTURES=1` rewrites it.
const PADDED_FIXTURE: &str = "fixtures/ru/receipt_money_padded_8_1_05.frame.hex";

fn padded_receipt_frame() -> Vec<u8> {
    let fn_a = fn_number(45);
    let document = receipt_document_money_width(&fn_a, 2, 123_456, Some(8));
    receipt_frame_of(document, &fn_a, 2, None)
}

#[test]
fn the_padded_money_fixture_is_what_the_encoder_builds() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PADDED_FIXTURE);
    let built = padded_receipt_frame();
    if std::env::var_os("OFD_WRITE_FIXTURES").is_some() {
        std::fs::write(&path, format!("{}\n", hex::encode(&built))).expect("write fixture");
    }
    let text = std::fs::read_to_string(&path).expect("fixture");
    assert_eq!(hex::decode(text.trim()).expect("hex"), built);
}

#[tokio::test]
async fn a_receipt_with_money_padded_to_8_bytes_is_acked_0_and_stored_flagged_on_each_backend() {
    on_each_backend(|db: TestDb| async move {
        let server = Server::start(config(&db.url)).await.expect("server");
        let text = include_str!("../fixtures/ru/receipt_money_padded_8_1_05.frame.hex");
        let frame = hex::decode(text.trim()).expect("hex");
        let reply = send_one(server.local_addr(), &frame).await.expect("ack");
        assert_eq!(
            ack_fields(&reply),
            AckFields {
                fn_number: fn_number(45),
                fd: 2,
                code: 0
            },
            "report mode: stored and answered 0"
        );
        let mut conn = connect(&db.url).await;
        let row = sqlx::query("SELECT json, flk_failed, flk_errors, raw FROM documents")
            .fetch_one(&mut conn)
            .await
            .expect("stored");
        conn.close().await.ok();
        assert_eq!(row.get::<i64, _>("flk_failed"), 1);
        let errors = row.get::<String, _>("flk_errors");
        assert!(errors.contains("padded_number"), "{errors}");
        assert!(!errors.contains("number_too_large"), "{errors}");
        assert_eq!(
            row.get::<Vec<u8>, _>("raw"),
            frame[30..].to_vec(),
            "bytes kept as sent"
        );
        let json = ofd::store::documents::document_json(
            "ru",
            row.get::<String, _>("json"),
            &row.get::<Vec<u8>, _>("raw"),
        )
        .expect("FNS JSON of the stored container");
        let json: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(json["receipt"]["totalSum"], 123_456);
        assert_eq!(json["receipt"]["items"][0]["price"], 123_456);
        assert_eq!(count_rows(&db.url, "quarantine").await, 0);
        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}

/// A register that never gets a usable answer resends the same frame again and again: the
/// quarantine keeps one row for those bytes, counting the copies, instead of one row per copy.
#[tokio::test]
async fn a_resend_storm_of_one_frame_keeps_one_quarantine_row_on_each_backend() {
    on_each_backend(|db: TestDb| async move {
        let server = Server::start(config(&db.url)).await.expect("server");
        let (addr, m) = (server.local_addr(), server.metrics_addr());
        let fn_a = fn_number(43);
        let frame = broken_tlv_frame(&fn_a, 7);
        for _ in 0..20 {
            let reply = send_one(addr, &frame).await.expect("code-11 reply");
            assert_eq!(ack_fields(&reply).code, 11);
        }
        // Different bytes are a different row.
        let other = broken_tlv_frame(&fn_a, 8);
        assert_eq!(
            ack_fields(&send_one(addr, &other).await.expect("reply")).code,
            11
        );
        assert_eq!(count_rows(&db.url, "quarantine").await, 2);
        let mut conn = connect(&db.url).await;
        let rows = sqlx::query(
            "SELECT fd_number, times_seen, received_at, last_seen_at FROM quarantine \
             ORDER BY fd_number",
        )
        .fetch_all(&mut conn)
        .await
        .expect("rows");
        conn.close().await.ok();
        assert_eq!(rows[0].get::<i64, _>("fd_number"), 7);
        assert_eq!(rows[0].get::<i64, _>("times_seen"), 20);
        assert!(
            rows[0].get::<i64, _>("last_seen_at") >= rows[0].get::<i64, _>("received_at"),
            "last_seen_at follows the latest copy"
        );
        assert_eq!(rows[1].get::<i64, _>("times_seen"), 1);
        // Every copy was still counted as it came.
        assert_eq!(metric(m, "ofd_ingest_quarantined_total").await, 21.0);
        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}
