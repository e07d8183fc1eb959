//! End to end over real loopback TCP and real databases: the RU reply table of spec §10, the
//! idempotency rules, and a metric for every outcome.

mod common;
mod ingest_support;

use common::{count_rows, on_each_backend, TestDb};
use ingest_support::*;
use ofd::ingest::Server;
use ofd::store::Backend;
use sqlx::Connection as _;
use tokio::io::AsyncWriteExt;

async fn stored_ack(url: &str, fn_number: &str, fd: i64) -> Vec<u8> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    let ack: Vec<u8> =
        sqlx::query_scalar("SELECT ack FROM documents WHERE fn_number = $1 AND fd_number = $2")
            .bind(fn_number)
            .bind(fd)
            .fetch_one(&mut conn)
            .await
            .expect("stored document");
    conn.close().await.ok();
    ack
}

#[tokio::test]
async fn fixtures_and_built_receipts_are_acked_with_code_0_on_each_backend() {
    on_each_backend(|db: TestDb| async move {
        let server = Server::start(config(&db.url)).await.expect("server");
        let addr = server.local_addr();

        let mut sent = Vec::new();
        let frame = fixture_frame();
        let reply = send_one(addr, &frame).await.expect("ack");
        sent.push((frame.len(), reply.len()));
        let ack = ack_fields(&reply);
        assert_eq!(
            ack,
            AckFields {
                fn_number: "9999078900005488".into(),
                fd: 1,
                code: 0
            }
        );

        let frame = fixture_container_frame();
        let reply = send_one(addr, &frame).await.expect("ack");
        sent.push((frame.len(), reply.len()));
        let ack = ack_fields(&reply);
        assert_eq!(
            ack,
            AckFields {
                fn_number: "999907891234567 ".into(),
                fd: 1,
                code: 0
            }
        );

        let fn_a = fn_number(1);
        let frame = receipt_frame(&fn_a, 7, 12_345, None);
        let reply = send_one(addr, &frame).await.expect("ack");
        sent.push((frame.len(), reply.len()));
        assert_eq!(
            ack_fields(&reply),
            AckFields {
                fn_number: fn_a.clone(),
                fd: 7,
                code: 0
            }
        );
        assert_eq!(
            stored_ack(&db.url, &fn_a, 7).await,
            reply,
            "the ack sent is the ack stored"
        );

        assert_eq!(count_rows(&db.url, "documents").await, 3);
        let m = server.metrics_addr();
        assert_eq!(
            metric(
                m,
                r#"ofd_ingest_frames_total{dialect="ru",result="accepted"}"#
            )
            .await,
            3.0
        );
        assert_eq!(metric(m, "ofd_ingest_documents_stored_total").await, 3.0);
        assert_eq!(
            metric(m, "ofd_ingest_unregistered_accepted_total").await,
            3.0
        );
        let commits = metric(m, "ofd_store_commit_batch_size_documents_count").await;
        assert!(commits >= 1.0);
        assert_eq!(metric(m, "ofd_ingest_ack_latency_seconds_count").await, 3.0);
        // Each commit says how long it waited for the write turn; SQLite counts how long ingest
        // held it (at least the three commits' time), PostgreSQL has no turn to count.
        assert_eq!(
            metric(m, "ofd_store_commit_turn_wait_seconds_count").await,
            commits
        );
        let held = metric(
            m,
            r#"ofd_store_write_turn_held_seconds_total{holder="ingest"}"#,
        )
        .await;
        let committing = metric(m, "ofd_store_commit_duration_seconds_sum").await;
        match db.backend {
            Backend::Sqlite => assert!(
                held > 0.0 && held <= committing,
                "held {held} s, committing {committing} s"
            ),
            Backend::Postgres => assert_eq!(held, 0.0),
        }
        let (bytes_in, bytes_out) = sent.iter().fold((0, 0), |(i, o), (f, r)| (i + f, o + r));
        let bytes_in_metric = metric(m, "ofd_ingest_received_bytes_total").await;
        assert_eq!(bytes_in_metric, bytes_in as f64);
        let bytes_out_metric = metric(m, "ofd_ingest_sent_bytes_total").await;
        assert_eq!(bytes_out_metric, bytes_out as f64);
        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test]
async fn several_frames_on_one_connection_each_get_their_ack() {
    let db = TestDb::sqlite();
    let server = Server::start(config(&db.url)).await.expect("server");
    let fn_a = fn_number(2);
    let mut client = Client::connect(server.local_addr()).await;
    // All three written at once: the server must cut them apart and answer in order.
    let mut burst = Vec::new();
    for fd in 1..=3 {
        burst.extend(receipt_frame(&fn_a, fd, 100 * fd, None));
    }
    client.send(&burst).await;
    for fd in 1..=3 {
        let ack = ack_fields(&client.reply().await.expect("ack"));
        assert_eq!(
            ack,
            AckFields {
                fn_number: fn_a.clone(),
                fd,
                code: 0
            }
        );
    }
    client.stream.shutdown().await.expect("half close");
    assert_eq!(client.reply().await, None, "server closes after EOF");
    assert_eq!(count_rows(&db.url, "documents").await, 3);
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn resend_gets_the_stored_ack_and_conflict_is_kept_aside_on_each_backend() {
    on_each_backend(|db: TestDb| async move {
        let server = Server::start(config(&db.url)).await.expect("server");
        let (addr, m) = (server.local_addr(), server.metrics_addr());
        let fn_a = fn_number(3);
        let frame = receipt_frame(&fn_a, 5, 1000, None);
        let first = send_one(addr, &frame).await.expect("ack");
        // Let the clock move so that a freshly built ack would differ in tag 1012.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let again = send_one(addr, &frame).await.expect("ack");
        assert_eq!(again, first, "a resend gets the identical stored ack bytes");
        assert_eq!(count_rows(&db.url, "documents").await, 1);
        assert_eq!(metric(m, "ofd_ingest_duplicates_reacked_total").await, 1.0);

        let different = receipt_frame(&fn_a, 5, 2000, None);
        let conflict = send_one(addr, &different).await.expect("ack");
        assert_eq!(
            conflict, first,
            "a conflict is answered with the stored ack"
        );
        assert_eq!(
            count_rows(&db.url, "documents").await,
            1,
            "never overwritten"
        );
        assert_eq!(
            count_rows(&db.url, "conflicts").await,
            1,
            "second copy kept"
        );
        assert_eq!(metric(m, "ofd_ingest_conflicts_total").await, 1.0);
        assert_eq!(
            metric(
                m,
                r#"ofd_ingest_frames_total{dialect="ru",result="conflict"}"#
            )
            .await,
            1.0
        );
        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test]
async fn corrupted_crc_and_bad_cross_check_are_answered_with_code_11() {
    let db = TestDb::sqlite();
    let server = Server::start(config(&db.url)).await.expect("server");
    let (addr, m) = (server.local_addr(), server.metrics_addr());
    let fn_a = fn_number(4);

    let mut corrupted = receipt_frame(&fn_a, 9, 500, None);
    let last = corrupted.len() - 12;
    corrupted[last] ^= 0x5A; // inside the document: the container CRC no longer matches
    let ack = ack_fields(&send_one(addr, &corrupted).await.expect("code-11 reply"));
    assert_eq!(
        ack,
        AckFields {
            fn_number: fn_a.clone(),
            fd: 9,
            code: 11
        }
    );
    assert_eq!(
        metric(
            m,
            r#"ofd_ingest_check_failures_total{check="crc",dialect="ru"}"#
        )
        .await,
        1.0
    );

    // Tag 1040 says 10 while the container says 9 (CRC recomputed, so only the cross-check fails).
    let frame = receipt_frame(&fn_a, 9, 500, None);
    let mismatched = edit_document(&frame, |doc| {
        let at = doc
            .windows(8)
            .position(|w| w == [0x10, 0x04, 4, 0, 9, 0, 0, 0])
            .expect("1040");
        doc[at + 4] = 10;
    });
    let ack = ack_fields(&send_one(addr, &mismatched).await.expect("code-11 reply"));
    assert_eq!(ack.code, 11);
    assert_eq!(
        metric(
            m,
            r#"ofd_ingest_check_failures_total{check="cross_check",dialect="ru"}"#
        )
        .await,
        1.0
    );
    assert_eq!(
        metric(
            m,
            r#"ofd_ingest_frames_total{dialect="ru",result="refused"}"#
        )
        .await,
        1.0
    );
    assert_eq!(
        metric(
            m,
            r#"ofd_ingest_frames_total{dialect="ru",result="quarantined"}"#
        )
        .await,
        1.0,
        "the drive's container checks out: kept"
    );
    assert_eq!(
        count_rows(&db.url, "documents").await,
        0,
        "refused documents are not stored as documents"
    );
    assert_eq!(
        count_rows(&db.url, "quarantine").await,
        1,
        "only the CRC-damaged frame goes without a durable copy"
    );
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn truncated_oversize_and_foreign_bytes_close_without_reply_and_are_counted() {
    let db = TestDb::sqlite();
    let server = Server::start(config(&db.url)).await.expect("server");
    let (addr, m) = (server.local_addr(), server.metrics_addr());

    // Truncated: half a frame, then EOF.
    let frame = receipt_frame(&fn_number(5), 1, 100, None);
    let mut client = Client::connect(addr).await;
    client.send(&frame[..frame.len() / 2]).await;
    client.stream.shutdown().await.expect("half close");
    assert_eq!(client.reply().await, None);

    // Oversize: a header declaring 60000 body bytes is refused before they arrive.
    let mut header = frame[..30].to_vec();
    header[24..26].copy_from_slice(&60_000u16.to_le_bytes());
    let mut client = Client::connect(addr).await;
    client.send(&header).await;
    assert_eq!(
        client.reply().await,
        None,
        "closed without waiting for 60000 bytes"
    );

    // A wrong session signature: no dialect, no reply.
    let mut client = Client::connect(addr).await;
    client.send(b"\x2A\x08\x41\x0B garbage").await;
    assert_eq!(client.reply().await, None);

    // KZ frames are served by the KZ handler; its refusals are tested in tests/kz_*.rs.

    let text = scrape(m).await;
    assert_eq!(
        sample(
            &text,
            r#"ofd_ingest_check_failures_total{check="truncated",dialect="ru"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            r#"ofd_ingest_check_failures_total{check="oversize",dialect="ru"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            r#"ofd_ingest_check_failures_total{check="session_header",dialect="unknown"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            r#"ofd_ingest_frames_total{dialect="ru",result="dropped"}"#
        ),
        2.0
    );
    assert_eq!(sample(&text, "ofd_ingest_connections_open"), 0.0);
    assert_eq!(count_rows(&db.url, "documents").await, 0);
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn unknown_fn_is_refused_unless_accept_unregistered() {
    let db = TestDb::sqlite();
    let mut options = options(&db.url);
    options.ingest.accept_unregistered = Some(false);
    let server = Server::start(options.resolve().expect("config"))
        .await
        .expect("server");
    let fn_a = fn_number(6);
    let ack = ack_fields(
        &send_one(server.local_addr(), &receipt_frame(&fn_a, 1, 1, None))
            .await
            .expect("reply"),
    );
    assert_eq!(ack.code, 11);
    assert_eq!(
        metric(
            server.metrics_addr(),
            r#"ofd_ingest_check_failures_total{check="register",dialect="ru"}"#
        )
        .await,
        1.0
    );
    assert_eq!(count_rows(&db.url, "documents").await, 0);
    assert_eq!(
        count_rows(&db.url, "quarantine").await,
        1,
        "kept for the operator"
    );
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn soft_crypto_verifies_signed_documents_and_quarantines_a_flipped_byte() {
    let db = TestDb::sqlite();
    let mut options = options(&db.url);
    options.crypto.mode = Some(ofd::crypto::CryptoMode::Soft);
    options.crypto.soft_secret_hex = Some(SOFT_SECRET_HEX.into());
    let server = Server::start(options.resolve().expect("config"))
        .await
        .expect("server");
    let (addr, m) = (server.local_addr(), server.metrics_addr());
    let unit = soft_unit();
    let fn_a = fn_number(7);

    let signed = receipt_frame(&fn_a, 1, 4200, Some(&unit));
    assert_eq!(
        ack_fields(&send_one(addr, &signed).await.expect("ack")).code,
        0
    );

    let tampered = edit_document(&receipt_frame(&fn_a, 2, 4200, Some(&unit)), |doc| {
        let at = doc.len() - 20;
        doc[at] ^= 1;
    });
    let ack = ack_fields(&send_one(addr, &tampered).await.expect("reply"));
    assert_eq!(
        ack,
        AckFields {
            fn_number: fn_a.clone(),
            fd: 2,
            code: 11
        }
    );

    assert_eq!(count_rows(&db.url, "documents").await, 1);
    assert_eq!(count_rows(&db.url, "quarantine").await, 1);
    assert_eq!(metric(m, "ofd_ingest_quarantined_total").await, 1.0);
    assert_eq!(
        metric(
            m,
            r#"ofd_ingest_check_failures_total{check="sign",dialect="ru"}"#
        )
        .await,
        1.0
    );
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url)
        .await
        .expect("connect");
    let verdict: String = sqlx::query_scalar("SELECT sign_verdict FROM documents")
        .fetch_one(&mut conn)
        .await
        .expect("row");
    assert_eq!(verdict, "verified");
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn flk_failure_is_stored_and_answered_14_when_enforcing_and_0_when_reporting() {
    let db = TestDb::sqlite();
    let fn_a = fn_number(8);
    // The total (1020) no longer equals the item cost: an arithmetic ФЛК failure.
    let bad_total = |fd| {
        edit_document(&receipt_frame(&fn_a, fd, 300, None), |doc| {
            let at = doc
                .windows(5)
                .position(|w| w == [0xFC, 0x03, 2, 0, 0x2C])
                .expect("1020");
            doc[at + 4] = 0x2D;
        })
    };
    for (mode, fd, expected_code) in [
        (ofd::ingest::config::FlkMode::Report, 1, 0),
        (ofd::ingest::config::FlkMode::Enforce, 2, 14),
    ] {
        let mut options = options(&db.url);
        options.ingest.flk = Some(mode);
        let server = Server::start(options.resolve().expect("config"))
            .await
            .expect("server");
        let good = receipt_frame(&fn_a, 100 + fd, 300, None);
        assert_eq!(
            ack_fields(&send_one(server.local_addr(), &good).await.expect("ack")).code,
            0
        );
        let ack = ack_fields(
            &send_one(server.local_addr(), &bad_total(fd))
                .await
                .expect("ack"),
        );
        assert_eq!((ack.fd, ack.code), (fd, expected_code), "{mode:?}");
        let m = server.metrics_addr();
        assert_eq!(
            metric(
                m,
                r#"ofd_ingest_frames_total{dialect="ru",result="flk_failed"}"#
            )
            .await,
            1.0
        );
        assert_eq!(
            metric(
                m,
                r#"ofd_ingest_frames_total{dialect="ru",result="accepted"}"#
            )
            .await,
            1.0
        );
        server.shutdown().await.expect("clean shutdown");
    }
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url)
        .await
        .expect("connect");
    let flagged: Vec<(i64, i64, Option<String>)> =
        sqlx::query_as("SELECT fd_number, flk_failed, flk_errors FROM documents WHERE fd_number < 100 ORDER BY fd_number")
            .fetch_all(&mut conn)
            .await
            .expect("rows");
    assert_eq!(flagged.len(), 2, "stored in both modes");
    for (_, failed, errors) in flagged {
        assert_eq!(failed, 1);
        assert!(errors.expect("errors recorded").contains("items_total"));
    }
}

/// Register statuses are remembered for `register_cache_ms`: blocking a register, or
/// provisioning an unknown one, reaches ingest once that time has passed — and at once when the
/// cache is off.
#[tokio::test]
async fn register_status_changes_reach_ingest_after_the_cache_ttl() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let known = fn_number(7);
    let unknown = fn_number(8);
    let register = store
        .add_register(
            ofd::store::Dialect::Ru,
            ofd::store::NewRegister {
                fn_number: Some(known.clone()),
                serial: None,
                model: None,
                reg_number: None,
                org_inn: None,
            },
        )
        .await
        .expect("provisioned");
    let ttl = std::time::Duration::from_millis(300);
    let mut cached = options(&db.url);
    cached.ingest.accept_unregistered = Some(false);
    cached.ingest.register_cache_ms = Some(ttl.as_millis() as u64);
    let server = Server::start(cached.resolve().expect("config"))
        .await
        .expect("server");
    // Documents made after every change below (a blocked register still delivers what it
    // made before the block).
    let made = doc_time_after_now(60);
    let code = |fn_number: String, fd: u32| {
        let addr = server.local_addr();
        async move {
            let frame = receipt_frame_at(&fn_number, fd, fd, made);
            ack_fields(&send_one(addr, &frame).await.expect("reply")).code
        }
    };

    assert_eq!(code(known.clone(), 1).await, 0);
    assert_eq!(code(unknown.clone(), 1).await, 11);
    store
        .set_register_status(register.id, ofd::store::RegisterStatus::Blocked)
        .await
        .expect("blocked");
    let provisioned = ofd::store::NewRegister {
        fn_number: Some(unknown.clone()),
        serial: None,
        model: None,
        reg_number: None,
        org_inn: None,
    };
    store
        .add_register(ofd::store::Dialect::Ru, provisioned)
        .await
        .expect("provisioned later");
    tokio::time::sleep(ttl + std::time::Duration::from_millis(100)).await;
    assert_eq!(code(known.clone(), 2).await, 11, "blocked after the ttl");
    assert_eq!(
        code(unknown.clone(), 2).await,
        0,
        "provisioned after the ttl"
    );
    server.shutdown().await.expect("clean shutdown");

    // Cache off: the next document already sees a change.
    let mut uncached = options(&db.url);
    uncached.ingest.accept_unregistered = Some(false);
    uncached.ingest.register_cache_ms = Some(0);
    let server = Server::start(uncached.resolve().expect("config"))
        .await
        .expect("server");
    let addr = server.local_addr();
    let frame = receipt_frame(&unknown, 3, 3, None);
    assert_eq!(
        ack_fields(&send_one(addr, &frame).await.expect("reply")).code,
        0
    );
    let id = store
        .register_by_fn(&unknown)
        .await
        .expect("read")
        .expect("present")
        .id;
    store
        .set_register_status(id, ofd::store::RegisterStatus::Blocked)
        .await
        .expect("blocked");
    let frame = receipt_frame_at(&unknown, 4, 4, doc_time_after_now(60));
    assert_eq!(
        ack_fields(&send_one(addr, &frame).await.expect("reply")).code,
        11
    );
    server.shutdown().await.expect("clean shutdown");
    store.close().await;
}
