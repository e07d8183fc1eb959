//! Each RU drive's latest word on its unsent documents (`drive_reports`, migration 0019), on each
//! backend: shift-close reports sent through the real ingest port and projected by the real
//! projector. The unsent view names each drive once, with the figures of its latest report even
//! when the projector meets the reports in several batches; another organisation sees none of
//! them; a rebuild, and the migration's own backfill on a populated database (table dropped,
//! 0019 run again by `Store::open`), give the same rows.

mod account_support;
mod common;
mod ingest_support;

use account_support::{owner, Account};
use common::on_each_backend;
use ingest_support::{ack_fields, close_shift_counting, receipt_frame, send_one};
use ofd::ingest::Server;
use ofd::project::{catch_up, rebuild, Projector};
use ofd::store::Store;
use serde_json::{json, Value};
use sqlx::Row as _;

async fn deliver(ingest: std::net::SocketAddr, frame: &[u8]) {
    let reply = send_one(ingest, frame).await.expect("acknowledged");
    assert_eq!(ack_fields(&reply).code, 0);
}

/// `drive_reports` as text rows, in key order.
async fn drive_rows(store: &Store) -> Vec<String> {
    sqlx::query(
        "SELECT fn_number, register_id, document_id, doc_time, unsent_count, unsent_oldest, \
         unsent_first FROM drive_reports ORDER BY fn_number",
    )
    .fetch_all(store.read_pool())
    .await
    .expect("drive_reports")
    .iter()
    .map(|r| {
        let fn_number: String = r.get(0);
        let ints: Vec<Option<i64>> = (1..7).map(|i| r.get(i)).collect();
        format!("{fn_number}|{ints:?}")
    })
    .collect()
}

fn drives(answer: &Value) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = answer["drives"]
        .as_array()
        .expect("drives")
        .iter()
        .map(|d| {
            (
                d["fn_number"].as_str().expect("fn").to_owned(),
                d["count"].as_i64().expect("count"),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_drive_shows_its_latest_report_once_after_projection_rebuild_and_backfill() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let (account, mail) = Account::start_with_mail(&store).await;
        let (ours, _) = owner(&account, &mail, "7707083893", "owner@drives.test").await;
        let (theirs, _) = owner(&account, &mail, "7736207543", "owner@other.test").await;
        let fn_a = ingest_support::fn_number(5101);
        let fn_b = ingest_support::fn_number(5102);
        for fn_number in [&fn_a, &fn_b] {
            let (status, register) = ours
                .post(
                    "/api/v1/registers",
                    json!({ "dialect": "ru", "fn_number": fn_number, "org_inn": "7707083893" }),
                )
                .await;
            assert_eq!(status, 201, "{register}");
        }
        let server = Server::start(ingest_support::config(&db.url))
            .await
            .expect("ingest");
        let ingest = server.local_addr();
        let projector = Projector::new(&store);
        let at = 1_700_000_000;
        // Drive A reports 7 unsent, then (a later batch) 2; drive B reports 3, then 0 within one
        // batch.
        deliver(ingest, &receipt_frame(&fn_a, 1, 10_000, None)).await;
        deliver(
            ingest,
            &close_shift_counting(2, &fn_a, 2, at, false, 7, at - 86_400, None),
        )
        .await;
        catch_up(&projector, 1000, 2).await.expect("project");
        let (_, first) = ours.get("/api/v1/reports/unsent").await;
        assert_eq!(drives(&first), vec![(fn_a.clone(), 7)], "{first}");
        assert!(first["drives"][0]["days_left"].is_number(), "{first}");

        deliver(
            ingest,
            &close_shift_counting(4, &fn_a, 3, at + 60, false, 2, at, None),
        )
        .await;
        deliver(
            ingest,
            &close_shift_counting(2, &fn_b, 1, at, false, 3, at - 3_600, None),
        )
        .await;
        deliver(
            ingest,
            &close_shift_counting(2, &fn_b, 2, at + 60, false, 0, 0, None),
        )
        .await;
        catch_up(&projector, 1000, 2).await.expect("project");
        let (status, answer) = ours.get("/api/v1/reports/unsent").await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            drives(&answer),
            vec![(fn_a.clone(), 2), (fn_b.clone(), 0)],
            "{answer}"
        );
        let (status, other) = theirs.get("/api/v1/reports/unsent").await;
        assert_eq!(status, 200, "{other}");
        assert!(drives(&other).is_empty(), "another organisation: {other}");

        let projected = drive_rows(&store).await;
        assert_eq!(projected.len(), 2, "{projected:?}");
        let rebuilt = rebuild(&store, 2, 2).await.expect("rebuild");
        assert_eq!(rebuilt.read, 5);
        assert_eq!(drive_rows(&store).await, projected, "rebuild");

        server.shutdown().await.expect("ingest stops");
        account.stop().await;
        // The migration's backfill, on this populated database. (SQLite's read models moved to
        // a file of their own with 0024, made at their latest shape, so 0019 cannot run again
        // there.)
        if db.url.starts_with("sqlite") {
            store.close().await;
            return;
        }
        sqlx::query("DROP TABLE drive_reports")
            .execute(store.pool())
            .await
            .expect("drop");
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 19")
            .execute(store.pool())
            .await
            .expect("forget 0019");
        store.close().await;
        let store = Store::open(&db.url).await.expect("open runs 0019 again");
        assert_eq!(drive_rows(&store).await, projected, "backfill");
        store.close().await;
    })
    .await;
}
