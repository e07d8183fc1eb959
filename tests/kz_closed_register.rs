//! A blocked or deregistered KZ register over real TCP on each backend: the tickets it made
//! before its gate closed (its backlog, sent offline) are accepted; anything newer, and requests
//! that make no document, are refused with BLOCKED — as the RU side does for its drives.

mod common;
mod ingest_support;
mod kz_support;

use common::{count_rows, on_each_backend};
use kz_support::*;
use ofd::ingest::Server;
use ofd_protocol::kz::*;

fn code(reply: &Reply) -> u32 {
    reply.code()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_kz_register_delivers_its_backlog_and_nothing_newer() {
    on_each_backend(|db| async move {
        let (system_id, token) = register_kz(&db.url, "KZ-BACKLOG-1");
        let mut config = ingest_support::config(&db.url);
        config.register_cache_ttl = std::time::Duration::ZERO;
        let server = Server::start(config).await.expect("server");
        let mut kkm = Kkm::new(server.local_addr(), system_id, token);
        let okay = ResultTypeEnum::Ok.code();
        let blocked = ResultTypeEnum::Blocked.code();
        assert_eq!(
            code(&kkm.send(&ticket(OperationTypeEnum::Sell, 10)).await),
            okay
        );

        set_status(&db.url, system_id, "block");
        // Ticket times have whole seconds: let "now" be clearly after the block.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let reply = kkm.send(&offline_ticket(20, 901, 1)).await;
        assert_eq!(
            code(&reply),
            okay,
            "made an hour before the block: {:?}",
            reply.response.result
        );
        assert_eq!(
            code(&kkm.send(&ticket(OperationTypeEnum::Sell, 30)).await),
            blocked
        );
        assert_eq!(
            code(&kkm.send(&info()).await),
            blocked,
            "no document: refused"
        );

        set_status(&db.url, system_id, "deregister");
        assert_eq!(code(&kkm.send(&offline_ticket(40, 902, 2)).await), okay);
        assert_eq!(
            code(&kkm.send(&ticket(OperationTypeEnum::Sell, 50)).await),
            blocked
        );
        assert_eq!(count_rows(&db.url, "kz_tickets").await, 3);

        // Closed before closing times were kept: nothing is known, so nothing is accepted.
        let store = db.open().await;
        sqlx::query("UPDATE registers SET gate_closed_at = NULL WHERE system_id = $1")
            .bind(i64::from(system_id))
            .execute(store.pool())
            .await
            .expect("update");
        store.close().await;
        assert_eq!(code(&kkm.send(&offline_ticket(60, 903, 3)).await), blocked);
        assert_eq!(count_rows(&db.url, "kz_tickets").await, 3);
        server.shutdown().await.expect("shutdown");
    })
    .await;
}
