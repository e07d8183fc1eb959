//! KZ end to end over loopback: a real `Server` on port 0, a real database (SQLite file, and
//! PostgreSQL when OFD_TEST_PG is set), registers provisioned through the `ofd register` CLI, and
//! a client that behaves like a ККМ (token from the last response, REQNUM + 1 per request).

mod common;
mod ingest_support;
mod kz_support;

use common::{count_rows, on_each_backend};
use kz_support::*;
use ofd::ingest::Server;
use ofd_protocol::kz::*;

fn ok(reply: &Reply) {
    assert_eq!(
        reply.code(),
        ResultTypeEnum::Ok.code(),
        "{:?}",
        reply.response.result
    );
}

fn zx(reply: &Reply) -> ZxReport {
    reply
        .response
        .report
        .as_ref()
        .and_then(|r| r.zx_report.clone())
        .expect("a ZX report")
}

fn sells(report: &ZxReport) -> (u32, Option<Money>) {
    let op = report
        .ticket_operations
        .iter()
        .find(|o| o.operation == Some(OperationTypeEnum::Sell as i32))
        .expect("SELL counters");
    (op.tickets_count.expect("count"), op.tickets_sum.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kkm_works_a_whole_shift() {
    on_each_backend(|db| async move {
        let (system_id, initial_token) = register_kz(&db.url, "KZ-E2E-1");
        // The register is blocked below and must be refused at once: no cached register row.
        let mut config = ingest_support::config(&db.url);
        config.register_cache_ttl = std::time::Duration::ZERO;
        let server = Server::start(config).await.expect("server");
        let addr = server.local_addr();
        let mut kkm = Kkm::new(addr, system_id, initial_token);

        // SYSTEM with the cabinet token: registration info, and the token to use next.
        let reply = kkm.send(&system(true)).await;
        ok(&reply);
        let kkm_info = reply
            .response
            .service
            .as_ref()
            .and_then(|s| s.reg_info.as_ref())
            .and_then(|r| r.kkm.clone())
            .expect("reg_info.kkm");
        assert_eq!(kkm_info.kkm_id, Some(system_id.to_string()));
        assert_eq!(kkm_info.fns_kkm_id.as_deref(), Some("010101010101"));
        assert_ne!(kkm.token, 0);

        // INFO: registration data and the (empty) counters.
        let reply = kkm.send(&info()).await;
        ok(&reply);
        assert!(reply
            .response
            .service
            .as_ref()
            .and_then(|s| s.reg_info.as_ref())
            .is_some());
        assert_eq!(zx(&reply).shift_number, Some(0));

        // Tickets: each rotates the token and gets its own 10-digit fiscal sign.
        let mut numbers = Vec::new();
        let mut last_frame = Vec::new();
        let mut last_reply = None;
        for tenge in [100u64, 250, 1000] {
            let before = kkm.token;
            last_frame = kkm.next_frame(&ticket(OperationTypeEnum::Sell, tenge));
            let reply = kkm.send(&ticket(OperationTypeEnum::Sell, tenge)).await;
            ok(&reply);
            assert_ne!(kkm.token, before, "TICKET rotates the token");
            let t = reply.response.ticket.clone().expect("ticket response");
            let number = t.ticket_number.expect("ticket_number");
            assert_eq!(number.len(), 10);
            assert!(number.bytes().all(|b| b.is_ascii_digit()));
            let qr = String::from_utf8(t.qr_code.expect("qr")).expect("utf-8");
            assert!(qr.contains(&format!("i={number}")), "{qr}");
            assert!(qr.contains(&format!("s={tenge}.00")), "{qr}");
            numbers.push(number);
            last_reply = Some(reply);
        }
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), 3, "fiscal signs are unique");
        let documents = count_rows(&db.url, "documents").await;
        assert_eq!(documents, 3);

        // A retry of the last ticket (same REQNUM, token, command): the identical bytes, and
        // nothing fiscalised twice.
        let retry = send_frame(addr, &last_frame).await.expect("answer");
        assert_eq!(retry.bytes, last_reply.expect("last").bytes);
        assert_eq!(count_rows(&db.url, "documents").await, 3);

        // A wrong token on a new REQNUM: INVALID_TOKEN, the wrong token echoed, not the real one.
        let wrong = kkm.token.wrapping_add(1).max(1);
        let bad = frame(system_id, wrong, kkm.reqnum.wrapping_add(1), &info());
        let reply = send_frame(addr, &bad).await.expect("answer");
        assert_eq!(reply.code(), ResultTypeEnum::InvalidToken.code());
        assert_eq!(reply.header.token, wrong);

        // The last REQNUM again with a different token: INVALID_REQUEST_NUMBER.
        let reuse = frame(system_id, kkm.token, kkm.reqnum, &info());
        let reply = send_frame(addr, &reuse).await.expect("answer");
        assert_eq!(reply.code(), ResultTypeEnum::InvalidRequestNumber.code());

        // Money: deposit, withdraw, over-withdraw.
        let reply = kkm
            .send(&money_placement(MoneyPlacementEnum::Deposit, 5000))
            .await;
        ok(&reply);
        let reply = kkm
            .send(&money_placement(MoneyPlacementEnum::Withdrawal, 2000))
            .await;
        ok(&reply);
        let token_before = kkm.token;
        let reply = kkm
            .send(&money_placement(MoneyPlacementEnum::Withdrawal, 1_000_000))
            .await;
        assert_eq!(reply.code(), ResultTypeEnum::NotEnoughCash.code());
        assert_eq!(kkm.token, token_before, "a refusal keeps the token");

        // X report: the server's counters (cash = 1350 sales + 5000 − 2000).
        let token_before = kkm.token;
        let reply = kkm.send(&report(ReportTypeEnum::ReportX)).await;
        ok(&reply);
        assert_eq!(kkm.token, token_before, "an X report keeps the token");
        let x = zx(&reply);
        assert_eq!(x.shift_number, Some(1));
        assert_eq!(sells(&x), (3, money(1350, 0)));
        assert_eq!(x.cash_sum, money(4350, 0));

        // An offline ticket replayed with its original time and autonomous sign.
        let reply = kkm.send(&offline_ticket(400, 777_001, 5)).await;
        ok(&reply);
        let offline_number = reply.response.ticket.clone().and_then(|t| t.ticket_number);
        assert!(offline_number.is_some());
        // The same autonomous receipt again (a new request): the same number, counted once.
        let reply = kkm.send(&offline_ticket(400, 777_001, 5)).await;
        ok(&reply);
        assert_eq!(
            reply.response.ticket.and_then(|t| t.ticket_number),
            offline_number
        );
        // Older than the limit (72 h): refused.
        let reply = kkm.send(&offline_ticket(400, 777_002, 100)).await;
        assert_eq!(reply.code(), ResultTypeEnum::IncorrectRequestData.code());

        // Close the shift: the Z report adds up the tickets sent (3 online + 1 offline).
        let reply = kkm.send(&close_shift()).await;
        ok(&reply);
        let z = zx(&reply);
        assert_eq!(z.shift_number, Some(1));
        assert_eq!(sells(&z), (4, money(1750, 0)));
        let sell_ops = z
            .ticket_operations
            .iter()
            .find(|o| o.operation == Some(OperationTypeEnum::Sell as i32))
            .expect("sell");
        assert_eq!(sell_ops.offline_count, Some(1));
        assert_eq!(z.cash_sum, money(4750, 0));
        assert!(z.non_nullable_sums.iter().any(|s| s.operation
            == Some(OperationTypeEnum::Sell as i32)
            && s.sum == money(1750, 0)));
        assert_eq!(
            reply.response.report.as_ref().and_then(|r| r.report),
            Some(ReportTypeEnum::ReportZ as i32)
        );

        // The next ticket opens shift 2.
        let reply = kkm.send(&ticket(OperationTypeEnum::Sell, 10)).await;
        ok(&reply);
        let reply = kkm.send(&info()).await;
        assert_eq!(zx(&reply).shift_number, Some(2));

        // Stored: 5 tickets, 2 placements, 1 X report, 1 shift close; the offline sign is
        // mapped.
        assert_eq!(count_rows(&db.url, "documents").await, 9);
        assert_eq!(count_rows(&db.url, "kz_tickets").await, 5);

        // Deregistered: BLOCKED.
        set_status(&db.url, system_id, "deregister");
        let reply = kkm.send(&info()).await;
        assert_eq!(reply.code(), ResultTypeEnum::Blocked.code());

        // An unknown id: UNKNOWN_ID.
        let unknown = frame(system_id.wrapping_add(1), 1, 1, &info());
        let reply = send_frame(addr, &unknown).await.expect("answer");
        assert_eq!(reply.code(), ResultTypeEnum::UnknownId.code());

        server.shutdown().await.expect("clean shutdown");
    })
    .await;
}
