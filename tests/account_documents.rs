//! End to end, on each backend: `ofd emulate` provisions RU (ФФД 1.05, 1.1, 1.2) and KZ fleets
//! through the real account API and sends their documents to a real ingest port; the projector
//! builds the read tables; the account API then finds every document, and its shifts, totals and
//! exports carry the figures this test computes on its own from the stored documents' JSON (not
//! from the read tables). Tenancy: an accountant sees their organisation's documents only, a
//! cashier without registers none, another organisation's document answers 404. A rebuild gives
//! identical read tables.

mod account_support;
mod common;
mod emulate_support;

use std::collections::{BTreeMap, BTreeSet};

use account_support::{error_code, Account};
use common::on_each_backend;
use emulate_support::{emulate_args, server};
use ofd::emulate::execute;
use ofd::project::{catch_up, rebuild, Projector};
use ofd::store::Store;
use serde_json::{json, Value};
use sqlx::Row as _;

const REGISTERS: u64 = 2;
const DOCUMENTS: u64 = 12;

async fn emulate(dialect: &str, ffd: &str, fleet: &str, target: &str, account: &Account) {
    let registers = REGISTERS.to_string();
    let documents = DOCUMENTS.to_string();
    let words = [
        "--target",
        target,
        "--dialect",
        dialect,
        "--ffd",
        ffd,
        "--registers",
        &registers,
        "--documents-per-register",
        &documents,
        "--concurrency",
        "2",
        "--seed",
        "11",
        "--fleet",
        fleet,
        "--account-url",
        &account.url,
        "--api-key",
        &account.key,
        "--give-up-after",
        "30",
    ];
    let summary = execute(emulate_args(&words)).await.expect("emulation runs");
    assert_eq!(summary.acked, REGISTERS * DOCUMENTS, "{summary:#?}");
}

/// What the test computes from the stored documents alone.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Expected {
    documents: i64,
    sales: i64,
    sales_count: i64,
    refunds: i64,
    refunds_count: i64,
    /// Sale totals per register id.
    sales_by_register: BTreeMap<i64, i64>,
}

fn kz_money(value: &Value) -> i64 {
    value["bills"].as_i64().unwrap_or(0) * 100 + value["coins"].as_i64().unwrap_or(0)
}

/// Read every stored document's JSON and add up sales and refunds per register.
async fn expected(store: &Store) -> Expected {
    let rows = sqlx::query(
        "SELECT d.dialect, d.json, COALESCE(rf.id, rs.id), d.raw FROM documents d \
         LEFT JOIN registers rf ON d.dialect = 'ru' AND rf.fn_number = d.fn_number \
         LEFT JOIN registers rs ON d.dialect = 'kz' AND rs.system_id = d.system_id",
    )
    .fetch_all(store.pool())
    .await
    .expect("documents");
    let mut expected = Expected::default();
    for row in &rows {
        let dialect: String = row.get(0);
        // KZ documents keep only their frame; their JSON is rendered from it when read.
        let text = ofd::store::documents::document_json(
            &dialect,
            row.get::<String, _>(1),
            &row.get::<Vec<u8>, _>(3),
        )
        .expect("document JSON");
        let json: Value = serde_json::from_str(&text).expect("json");
        let register: i64 = row.get(2);
        expected.documents += 1;
        let (operation, total) = if dialect == "ru" {
            let form = json
                .as_object()
                .expect("root")
                .values()
                .next()
                .expect("form");
            let code = form["code"].as_i64().expect("code");
            if code != 3 && code != 31 {
                continue;
            }
            (
                form["operationType"].as_i64().expect("operation"),
                form["totalSum"].as_i64().expect("total"),
            )
        } else {
            let ticket = &json["request"]["ticket"];
            if ticket.is_null() || json["request"]["command"].as_i64() != Some(1) {
                continue;
            }
            // KZ: 2 = sell, 3 = sell return; mapped to the RU codes 1 and 2.
            let operation = match ticket["operation"].as_i64() {
                Some(2) => 1,
                Some(3) => 2,
                _ => 0,
            };
            (operation, kz_money(&ticket["amounts"]["total"]))
        };
        match operation {
            1 => {
                expected.sales += total;
                expected.sales_count += 1;
                *expected.sales_by_register.entry(register).or_default() += total;
            }
            2 => {
                expected.refunds += total;
                expected.refunds_count += 1;
            }
            _ => {}
        }
    }
    expected
}

/// Every document the caller finds, paging with `limit`, checking newest-first order.
async fn all_pages(account: &Account, key: &str, query: &str, limit: u32) -> Vec<Value> {
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/documents?limit={limit}{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = account
            .call_with(Some(key), reqwest::Method::GET, &path, None)
            .await;
        assert_eq!(status, 200, "{page}");
        found.extend(page["documents"].as_array().expect("documents").clone());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    for pair in found.windows(2) {
        let key = |d: &Value| (d["doc_time"].as_str().unwrap().to_owned(), d["id"].as_i64());
        assert!(key(&pair[0]) > key(&pair[1]), "newest first: {pair:?}");
    }
    found
}

async fn raw_get(account: &Account, key: &str, path: &str) -> (u16, Vec<u8>) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", account.url))
        .bearer_auth(key)
        .send()
        .await
        .expect("HTTP");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("body").to_vec())
}

/// Every read table's rows, in a fixed order, as text.
async fn read_tables(store: &Store) -> Vec<String> {
    let mut out = Vec::new();
    for (table, order) in [
        ("doc_index", "document_id"),
        ("doc_items", "document_id"),
        ("project_shifts", "source, shift_number"),
        ("project_daily", "register_id, day"),
        ("project_daily_products", "register_id, day, name"),
        ("project_monthly_products", "register_id, month_day, name"),
        ("drive_reports", "fn_number"),
    ] {
        let rows = sqlx::query(&format!("SELECT * FROM {table} ORDER BY {order}"))
            .fetch_all(store.read_pool())
            .await
            .expect("read table");
        out.extend(rows.iter().map(|row| common::row_text(table, row)));
    }
    out
}

async fn key_for(account: &Account, org_id: i64, role: &str, name: &str) -> String {
    let (status, issued) = account
        .post(
            "/api/v1/api-keys",
            json!({ "name": name, "role": role, "org_id": org_id }),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    issued["secret"].as_str().expect("secret").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulated_documents_appear_in_search_shifts_totals_and_exports() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let account = Account::start(&store).await;
        let server = server(&db.url).await;
        let target = server.local_addr().to_string();
        emulate("ru", "1.05", "101", &target, &account).await;
        emulate("ru", "1.1", "102", &target, &account).await;
        emulate("ru", "1.2", "103", &target, &account).await;
        emulate("kz", "1.2", "104", &target, &account).await;
        server.shutdown().await.expect("clean shutdown");

        // One RU register is placed at a point of sale before its documents are projected.
        let (_, registers) = account.get("/api/v1/registers?dialect=ru").await;
        let placed = registers["registers"][0].clone();
        let (status, pos) = account
            .post(
                &format!(
                    "/api/v1/organisations/{}/points-of-sale",
                    placed["org_inn"].as_str().unwrap()
                ),
                serde_json::json!({ "name": "Киоск у вокзала" }),
            )
            .await;
        assert_eq!(status, 201, "{pos}");
        let (status, edited) = account
            .call_with(
                Some(&account.key),
                reqwest::Method::PATCH,
                &format!("/api/v1/registers/{}", placed["id"]),
                Some(serde_json::json!({ "pos_id": pos["id"] })),
            )
            .await;
        assert_eq!(status, 200, "{edited}");

        let projector = Projector::new(&store);
        let step = catch_up(&projector, 17, 2).await.expect("projects");
        let want = expected(&store).await;
        assert_eq!(step.read as i64, want.documents);
        assert_eq!(step.undecodable, 0, "every document decodes");
        assert!(want.sales_count > 0 && want.refunds_count > 0, "{want:?}");
        // Nothing more to do, and doing it again changes nothing.
        assert_eq!(catch_up(&projector, 17, 2).await.expect("again").read, 0);

        // Search: every document, in pages, newest first.
        let key = account.key.clone();
        let everything = all_pages(&account, &key, "", 7).await;
        assert_eq!(everything.len() as i64, want.documents);
        let sales = all_pages(&account, &key, "&operation=sale", 50).await;
        assert_eq!(sales.len() as i64, want.sales_count);
        let sum: i64 = sales.iter().map(|d| d["total"].as_i64().unwrap()).sum();
        assert_eq!(sum, want.sales);
        let refunds = all_pages(&account, &key, "&operation=refund&kind=receipt", 50).await;
        assert!(refunds
            .iter()
            .all(|d| d["dialect"] == "ru" && d["kind"] == "receipt"));
        let by_cash = all_pages(&account, &key, "&payment=cash&min_total=1", 50).await;
        assert!(by_cash.iter().all(|d| d["cash"].as_i64().unwrap() > 0));
        let bread = all_pages(&account, &key, "&product=%D0%A5%D0%BB%D0%B5%D0%B1", 50).await;
        assert!(!bread.is_empty(), "some receipt sold bread");
        let (status, refused) = account.get("/api/v1/documents?operation=gift").await;
        assert_eq!((status, error_code(&refused)), (400, "invalid_query"));
        assert!(refused["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("operation"));

        // One RU receipt by FN and FD number, and its receipt view and QR code.
        let sale = sales
            .iter()
            .find(|d| d["dialect"] == "ru")
            .expect("an RU sale");
        let by_key = all_pages(
            &account,
            &key,
            &format!(
                "&fn_number={}&fd_number={}",
                sale["fn_number"].as_str().unwrap(),
                sale["fd_number"]
            ),
            5,
        )
        .await;
        assert_eq!(by_key.len(), 1);
        let (status, view) = account
            .get(&format!("/api/v1/documents/{}", sale["id"]))
            .await;
        assert_eq!(status, 200, "{view}");
        let receipt = &view["receipt"];
        let lines: i64 = receipt["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| l["amount"].as_i64().unwrap())
            .sum();
        assert_eq!(lines, sale["total"].as_i64().unwrap(), "lines add up");
        let qr = view["qr_text"].as_str().expect("qr");
        assert!(qr.starts_with("t=") && qr.contains(&format!("&i={}&", sale["fd_number"])));
        assert!(view["qr_svg"].as_str().expect("svg").contains("<svg"));
        assert!(
            view["raw_hex"].as_str().is_some(),
            "operator staff see the frame"
        );
        let kz_sale = sales
            .iter()
            .find(|d| d["dialect"] == "kz")
            .expect("a KZ sale");
        let (_, kz_view) = account
            .get(&format!("/api/v1/documents/{}", kz_sale["id"]))
            .await;
        assert!(kz_view["qr_text"]
            .as_str()
            .expect("kz qr")
            .starts_with("http"));

        // Totals for the whole period: every register, then one.
        let first = everything.last().unwrap()["doc_time"].as_str().unwrap()[..10].to_owned();
        let last = everything[0]["doc_time"].as_str().unwrap()[..10].to_owned();
        let (status, totals) = account
            .get(&format!(
                "/api/v1/reports/totals?from={first}&to={last}&group=month"
            ))
            .await;
        assert_eq!(status, 200, "{totals}");
        assert_eq!(totals["total"]["revenue"], want.sales);
        assert_eq!(totals["total"]["refunds"], want.refunds);
        assert_eq!(totals["total"]["sales_count"], want.sales_count);
        let hours: i64 = totals["receipts_per_hour"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_i64().unwrap())
            .sum();
        assert_eq!(hours, totals["total"]["receipts"].as_i64().unwrap());
        assert!(!totals["top_products"].as_array().unwrap().is_empty());
        let (register, register_sales) = want.sales_by_register.iter().next().unwrap();
        let (_, one) = account
            .get(&format!(
                "/api/v1/reports/totals?from={first}&to={last}&register_id={register}"
            ))
            .await;
        assert_eq!(one["total"]["revenue"], *register_sales);

        // Search and totals by point of sale: the placed register's documents and figures.
        let at_pos = all_pages(
            &account,
            &key,
            &format!("&point_of_sale_id={}", pos["id"]),
            50,
        )
        .await;
        let of_register = all_pages(
            &account,
            &key,
            &format!("&register_id={}", placed["id"]),
            50,
        )
        .await;
        assert!(!at_pos.is_empty());
        assert_eq!(at_pos.len(), of_register.len());
        assert!(at_pos.iter().all(|d| d["register_id"] == placed["id"]));
        let (_, by_pos) = account
            .get(&format!(
                "/api/v1/reports/totals?from={first}&to={last}&point_of_sale_id={}",
                pos["id"]
            ))
            .await;
        let (_, by_register) = account
            .get(&format!(
                "/api/v1/reports/totals?from={first}&to={last}&register_id={}",
                placed["id"]
            ))
            .await;
        assert_eq!(by_pos["total"], by_register["total"], "{by_pos}");

        // Shifts of every register add up to its sales; RU close reports match the documents.
        for (register, register_sales) in &want.sales_by_register {
            let (status, shifts) = account
                .get(&format!("/api/v1/registers/{register}/shifts"))
                .await;
            assert_eq!(status, 200, "{shifts}");
            let shifts = shifts["shifts"].as_array().unwrap();
            let sum: i64 = shifts.iter().map(|s| s["sales"].as_i64().unwrap()).sum();
            assert_eq!(sum, *register_sales, "register {register}");
            for shift in shifts {
                if !shift["z_receipts"].is_null() && shift["z_sales"].is_null() {
                    assert_eq!(shift["z_receipts"], shift["receipts"], "{shift}");
                    assert_eq!(shift["mismatch"], false, "{shift}");
                }
            }
        }

        // Unsent (RU drives report 0) and delivery (no forwarder ran: all only received).
        let (_, unsent) = account.get("/api/v1/reports/unsent").await;
        let drives = unsent["drives"].as_array().unwrap();
        assert!(!drives.is_empty(), "{unsent}");
        assert!(drives
            .iter()
            .all(|d| d["count"] == 0 && d["days_left"].is_null()));
        let (_, delivery) = account
            .get(&format!("/api/v1/reports/delivery?from={first}&to={last}"))
            .await;
        let received: i64 = delivery["days"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["received"].as_i64().unwrap())
            .sum();
        assert_eq!(received, want.documents);
        assert_eq!(delivery["mismatches"], delivery["days"]);

        // Exports parse back to the same documents.
        let ids: BTreeSet<i64> = everything
            .iter()
            .map(|d| d["id"].as_i64().unwrap())
            .collect();
        let (status, body) = raw_get(
            &account,
            &key,
            "/api/v1/documents/export?format=csv&bom=true&separator=semicolon",
        )
        .await;
        assert_eq!(status, 200);
        let text = String::from_utf8(body).expect("UTF-8");
        let text = text.strip_prefix('\u{feff}').expect("BOM first");
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_reader(text.as_bytes());
        let mut csv_ids = BTreeSet::new();
        let mut csv_sales = 0;
        for record in reader.records() {
            let record = record.expect("CSV row");
            csv_ids.insert(record[0].parse::<i64>().unwrap());
            if &record[10] == "sale" {
                csv_sales += record[12].parse::<i64>().unwrap();
            }
        }
        assert_eq!(csv_ids, ids);
        assert_eq!(csv_sales, want.sales);
        let (_, body) = raw_get(&account, &key, "/api/v1/documents/export?format=jsonl").await;
        let jsonl: BTreeSet<i64> = String::from_utf8(body)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["id"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(jsonl, ids);
        let (_, body) = raw_get(
            &account,
            &key,
            "/api/v1/documents/export?format=fns&operation=sale&limit=3",
        )
        .await;
        let fns: Vec<Value> = String::from_utf8(body)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(fns.len(), 3, "the row limit holds");
        let (status, body) = raw_get(&account, &key, "/api/v1/documents/export?format=xlsx").await;
        assert_eq!(status, 200);
        assert!(body.starts_with(b"PK") && body.len() > 1000, "an XLSX zip");
        let (status, _) = raw_get(&account, &key, "/api/v1/documents/export?format=pdf").await;
        assert_eq!(status, 400);

        // Tenancy: the owner organisation of one RU register.
        let (_, registers) = account.get("/api/v1/registers?dialect=ru").await;
        let mine = &registers["registers"][0];
        let (_, organisation) = account
            .get(&format!(
                "/api/v1/organisations/{}",
                mine["org_inn"].as_str().unwrap()
            ))
            .await;
        let org_id = organisation["id"].as_i64().expect("org id");
        let accountant = key_for(&account, org_id, "accountant", "books").await;
        let seen = all_pages(&account, &accountant, "", 100).await;
        assert!(!seen.is_empty());
        assert!(
            seen.iter().all(|d| d["register_id"] == mine["id"]),
            "own only"
        );
        let (_, view) = account
            .call_with(
                Some(&accountant),
                reqwest::Method::GET,
                &format!("/api/v1/documents/{}", seen[0]["id"]),
                None,
            )
            .await;
        assert!(
            view["raw_hex"].is_null(),
            "raw frames are for operator staff"
        );
        let foreign = everything
            .iter()
            .find(|d| d["register_id"] != mine["id"])
            .expect("another organisation's document");
        for path in [
            format!("/api/v1/documents/{}", foreign["id"]),
            format!(
                "/api/v1/registers/{}/shifts",
                foreign["register_id"].as_i64().unwrap()
            ),
        ] {
            let (status, answer) = account
                .call_with(Some(&accountant), reqwest::Method::GET, &path, None)
                .await;
            assert_eq!((status, error_code(&answer)), (404, "not_found"), "{path}");
        }
        let cashier = key_for(&account, org_id, "cashier", "till").await;
        assert!(all_pages(&account, &cashier, "", 100).await.is_empty());
        let (status, _) = account
            .call_with(
                Some(&cashier),
                reqwest::Method::GET,
                &format!("/api/v1/documents/{}", seen[0]["id"]),
                None,
            )
            .await;
        assert_eq!(status, 404, "not the cashier's register");
        let (status, _) = account
            .call_with(
                Some(&cashier),
                reqwest::Method::GET,
                "/api/v1/reports/unsent",
                None,
            )
            .await;
        assert_eq!(status, 403, "cashiers get no reports");

        // A rebuild gives the same read tables.
        let before = read_tables(&store).await;
        let rebuilt = rebuild(&store, 5, 2).await.expect("rebuild");
        assert_eq!(rebuilt.read as i64, want.documents);
        assert_eq!(read_tables(&store).await, before);

        account.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projector_role_catches_up_and_reports_no_lag() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let account = Account::start(&store).await;
        let server = server(&db.url).await;
        let target = server.local_addr().to_string();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let registry = prometheus::Registry::new();
        let config = ofd::project::ProjectOptions {
            poll_ms: Some(20),
            sweep_ms: Some(50),
            ..Default::default()
        }
        .resolve()
        .expect("valid");
        let task = ofd::project::spawn(&config, &store, &registry, shutdown.clone())
            .expect("projector starts");
        // Documents arrive while the projector runs.
        emulate("ru", "1.2", "201", &target, &account).await;
        server.shutdown().await.expect("clean shutdown");
        let projector = Projector::new(&store);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let lag = projector.lag().await.expect("lag");
            if lag.documents == 0 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "still {lag:?} behind");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let indexed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM doc_index")
            .fetch_one(store.read_pool())
            .await
            .expect("count");
        assert_eq!(indexed, (REGISTERS * DOCUMENTS) as i64);
        // One more turn of the loop sets the gauges from the caught-up state.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        shutdown.cancel();
        task.await.expect("projector stops");
        let gathered = registry.gather();
        let lag = gathered
            .iter()
            .find(|m| m.name() == "ofd_project_lag_seconds")
            .expect("lag metric");
        assert_eq!(lag.get_metric()[0].get_gauge().get_value(), 0.0);
        let (status, _) = account.get("/api/v1/documents?limit=1").await;
        assert_eq!(status, 200);
        account.stop().await;
        store.close().await;
    })
    .await;
}
