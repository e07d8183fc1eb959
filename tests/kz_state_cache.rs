//! The KZ exchange keeps each register's row and state in memory after the first request, with
//! the database as the truth: a second ingest node committing for the same register, an
//! operator's token reset and a block all reach a node that cached the register, on SQLite and
//! PostgreSQL, over real TCP.

mod common;
mod ingest_support;
mod kz_support;

use std::time::Duration;

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

async fn node(url: &str, ttl: Duration) -> Server {
    let mut config = ingest_support::config(url);
    config.register_cache_ttl = ttl;
    Server::start(config).await.expect("server")
}

/// One `ofd register reset-token`; the new token.
fn reset_token(database: &str, system_id: u32) -> u32 {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args([
            "register",
            "reset-token",
            "--system-id",
            &system_id.to_string(),
        ])
        .args(["--json", "--database", database])
        .output()
        .expect("run ofd register");
    assert!(output.status.success(), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    json["token"].as_u64().expect("token") as u32
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_serving_one_register_stay_consistent() {
    on_each_backend(|db| async move {
        let (system_id, token) = register_kz(&db.url, "KZ-TWO-NODES");
        // A long TTL: only the commit's version check and the token re-read keep them right.
        let a = node(&db.url, Duration::from_secs(3600)).await;
        let b = node(&db.url, Duration::from_secs(3600)).await;
        let mut kkm = Kkm::new(a.local_addr(), system_id, token);
        ok(&kkm.send(&system(false)).await);
        for (i, server) in [&b, &a, &b, &a].into_iter().enumerate() {
            kkm.addr = server.local_addr();
            let reply = kkm
                .send(&ticket(OperationTypeEnum::Sell, 100 + i as u64))
                .await;
            ok(&reply);
        }
        // A retry of a request A answered, sent to B whose copy is stale, gets the very bytes
        // A sent.
        let bytes = kkm.next_frame(&info());
        kkm.reqnum += 1;
        let answered = send_frame(a.local_addr(), &bytes).await.expect("answer");
        ok(&answered);
        kkm.token = answered.header.token;
        let again = send_frame(b.local_addr(), &bytes).await.expect("answer");
        assert_eq!(
            again.bytes, answered.bytes,
            "a retry on the other node is replayed"
        );

        assert_eq!(count_rows(&db.url, "kz_tickets").await, 4);
        let report = kkm.send(&info()).await;
        ok(&report);
        let zx = report
            .response
            .report
            .as_ref()
            .and_then(|r| r.zx_report.clone())
            .expect("report");
        let sells = zx
            .ticket_operations
            .iter()
            .find(|o| o.operation == Some(OperationTypeEnum::Sell as i32))
            .expect("sells");
        assert_eq!(
            sells.tickets_count,
            Some(4),
            "both nodes' tickets in one ledger"
        );
        a.shutdown().await.expect("shutdown a");
        b.shutdown().await.expect("shutdown b");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_token_reset_is_honoured_at_once_and_a_block_within_the_ttl() {
    on_each_backend(|db| async move {
        let (system_id, token) = register_kz(&db.url, "KZ-OPERATOR");
        let ttl = Duration::from_millis(300);
        let server = node(&db.url, ttl).await;
        let mut kkm = Kkm::new(server.local_addr(), system_id, token);
        ok(&kkm.send(&system(false)).await);
        ok(&kkm.send(&info()).await);

        kkm.token = reset_token(&db.url, system_id);
        ok(&kkm.send(&info()).await);

        set_status(&db.url, system_id, "block");
        tokio::time::sleep(ttl + Duration::from_millis(100)).await;
        let reply = kkm.send(&info()).await;
        assert_eq!(reply.code(), ResultTypeEnum::Blocked.code());
        server.shutdown().await.expect("shutdown");
    })
    .await;
}
