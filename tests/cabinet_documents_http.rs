//! The cabinet's documents and reports pages over plain HTTP (reqwest) against the real account
//! service, a real ingest server and the real projector, on each backend: a KZ register's
//! documents, sent by `ofd emulate` with the register's own system id and token, appear in the
//! search (with its filters and a field-named refusal), on the receipt page with its QR code,
//! in the exports (CSV with BOM and semicolons, XLSX, JSON lines, FNS JSON), in the totals with
//! their charts, in the register's shifts with the Z report's figures, and in the delivery
//! reconciliation; and none of it is shown to an accountant of another organisation: the
//! document, the shifts and the register-scoped reports are the 404 page, the lists and the
//! export are empty of it.

mod account_support;
mod cabinet_fleet;
mod cabinet_support;
mod common;
mod emulate_support;
mod ingest_support;

use account_support::{owner, staff, Account, PASSWORD};
use cabinet_support::PageClient;
use common::on_each_backend;
use ofd::account::AccountOptions;
use serde_json::json;

/// Documents the register sends.
const DOCUMENTS: u64 = 6;

/// The GET `path` with `client`'s session, as raw bytes and content type.
async fn raw(base: &str, client: &PageClient, path: &str) -> (u16, String, Vec<u8>) {
    let session = client.cookie("ofd_session").expect("signed in");
    let response = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header("cookie", format!("ofd_session={session}"))
        .send()
        .await
        .expect("HTTP exchange");
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, kind, response.bytes().await.expect("body").to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_and_reports_pages_show_one_organisation_its_own_documents_only() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let (account, mail) = Account::start_with_mail(&store).await;
        let (first_api, _) = owner(&account, &mail, "7707083893", "first@docs.test").await;
        let (first_accountant, _) =
            staff(&account, &mail, &first_api, "acc@docs.test", "accountant").await;
        let (second_api, _) = owner(&account, &mail, "7736207543", "second@docs.test").await;
        let (_, _) = staff(&account, &mail, &second_api, "acc@other.test", "accountant").await;
        let (status, register) = first_api
            .post(
                "/api/v1/registers",
                json!({ "dialect": "kz", "model": "FirstTill", "org_inn": "7707083893" }),
            )
            .await;
        assert_eq!(status, 201, "{register}");
        let register_id = register["id"].as_i64().expect("id");
        let system_id = register["system_id"].as_i64().expect("system id");
        let token = register["token"].as_i64().expect("token");
        cabinet_fleet::send_kz_documents(&db.url, &store, system_id, token, DOCUMENTS).await;

        // What the API says, to compare the pages with.
        let (_, found) = first_accountant
            .get(&format!("/api/v1/documents?register_id={register_id}"))
            .await;
        let documents = found["documents"].as_array().expect("documents").clone();
        assert_eq!(documents.len() as u64, DOCUMENTS, "{found}");
        let receipt = documents
            .iter()
            .find(|d| d["operation"] == "sale")
            .expect("a sale among the emulated documents")
            .clone();
        let receipt_id = receipt["id"].as_i64().expect("id");
        let ticket = receipt["kz_ticket"].as_str().expect("ticket").to_owned();
        let (_, shifts) = first_accountant
            .get(&format!("/api/v1/registers/{register_id}/shifts"))
            .await;
        let shift = shifts["shifts"][0].clone();
        let z_receipts = shift["z_receipts"].as_i64().expect("the shift was closed");

        let first = PageClient::new(&account.url);
        first.login("acc@docs.test", PASSWORD).await;

        // The search lists every document; filters narrow it; a bad filter names its field.
        let list = first
            .get(&format!("/documents?register_id={register_id}"))
            .await;
        assert_eq!(list.status, 200, "{}", list.body);
        assert_eq!(
            list.body.matches("<tr class=\"document\"").count() as u64,
            DOCUMENTS,
            "{}",
            list.body
        );
        assert!(list
            .body
            .contains(&format!("href=\"/documents/{receipt_id}\"")));
        assert!(list.body.contains("action=\"/documents/export\""));
        let sales = first
            .get(&format!(
                "/documents?register_id={register_id}&operation=sale&kind=kz_ticket"
            ))
            .await;
        let sale_rows = sales.body.matches("<tr class=\"document\"").count();
        assert!(
            sale_rows >= 1 && (sale_rows as u64) < DOCUMENTS,
            "{sale_rows}"
        );
        let closes = first
            .get(&format!(
                "/documents?register_id={register_id}&kind=kz_close_shift"
            ))
            .await;
        assert_eq!(closes.body.matches("<tr class=\"document\"").count(), 1);
        let refused = first.get("/documents?min_total=lots&shift=2").await;
        assert_eq!(refused.status, 200);
        assert!(
            refused.body.contains("data-field=\"min_total\""),
            "{}",
            refused.body
        );
        // Cursor paging: one page of 50 holds them all, so there is no next link.
        assert!(!list.body.contains("rel=\"next\""));

        // One receipt, as the check page shows it, with its QR code as an image.
        let one = first.get(&format!("/documents/{receipt_id}")).await;
        assert_eq!(one.status, 200, "{}", one.body);
        assert!(one.body.contains(&ticket), "{}", one.body);
        assert!(one.body.contains("src=\"data:image/svg+xml;base64,"));
        assert!(one.body.contains("id=\"receipt-total\""));
        assert!(one.body.contains("₸"), "KZ money in tenge");
        assert!(
            !one.body.contains("id=\"raw\""),
            "the raw frame is for operator staff"
        );
        assert!(!one.body.contains("style="), "no inline style");

        // Exports of the same search: CSV with BOM and semicolons, XLSX, JSON lines, FNS JSON.
        let query = format!("register_id={register_id}");
        let (status, kind, csv) = raw(
            &account.url,
            &first,
            &format!("/documents/export?{query}&format=csv&bom=true&separator=semicolon"),
        )
        .await;
        assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
        assert!(csv.starts_with("\u{feff}id;dialect;".as_bytes()));
        assert_eq!(
            csv.iter().filter(|b| **b == b'\n').count() as u64,
            DOCUMENTS + 1
        );
        // The checkbox and separator of the form ride along with XLSX too; the page drops them.
        let (status, kind, xlsx) = raw(
            &account.url,
            &first,
            &format!("/documents/export?{query}&format=xlsx&bom=true&separator=tab"),
        )
        .await;
        assert_eq!(status, 200);
        assert!(kind.contains("spreadsheetml"), "{kind}");
        assert!(xlsx.starts_with(b"PK"), "a zip container");
        for format in ["jsonl", "fns"] {
            let (status, kind, lines) = raw(
                &account.url,
                &first,
                &format!("/documents/export?{query}&format={format}&separator=comma"),
            )
            .await;
            assert_eq!((status, kind.as_str()), (200, "application/x-ndjson"));
            assert_eq!(
                lines.iter().filter(|b| **b == b'\n').count() as u64,
                DOCUMENTS
            );
        }

        // Totals with their charts; the register's shifts with the Z figures; reconciliation.
        let totals = first
            .get(&format!("/reports?register_id={register_id}"))
            .await;
        assert_eq!(totals.status, 200, "{}", totals.body);
        for chart in ["chart-revenue", "chart-payments", "chart-hours"] {
            assert!(
                totals.body.contains(&format!("id=\"{chart}\"")),
                "{chart}: {}",
                totals.body
            );
        }
        assert_eq!(
            totals
                .body
                .matches("src=\"data:image/svg+xml;base64,")
                .count(),
            3,
            "three charts as SVG images"
        );
        // The page's default period: the last 30 days up to tomorrow (UTC).
        let today = chrono::DateTime::from_timestamp(ofd::clock::unix_seconds(), 0)
            .expect("now")
            .date_naive();
        let from = today - chrono::Days::new(30);
        let to = today + chrono::Days::new(1);
        let (_, api_totals) = first_accountant
            .get(&format!(
                "/api/v1/reports/totals?register_id={register_id}&from={from}&to={to}"
            ))
            .await;
        let receipts = api_totals["total"]["receipts"].as_i64().expect("receipts");
        assert!(receipts > 0, "{api_totals}");
        assert!(
            totals
                .body
                .contains(&format!("id=\"fig-receipts\">{receipts}<")),
            "{}",
            totals.body
        );
        assert!(
            totals.body.contains("₸"),
            "one KZ register's totals are in tenge"
        );
        let shift_page = first
            .get(&format!("/reports/shifts?register_id={register_id}"))
            .await;
        assert_eq!(shift_page.status, 200, "{}", shift_page.body);
        assert!(
            shift_page.body.contains("class=\"num z\">"),
            "{}",
            shift_page.body
        );
        assert!(shift_page
            .body
            .contains(&format!("class=\"num z\">{z_receipts}<")));
        assert!(shift_page.body.contains("kind=kz_close_shift"));
        let pick = first.get("/reports/shifts").await;
        assert!(pick.body.contains(&format!(
            "href=\"/reports/shifts?register_id={register_id}\""
        )));
        let delivery = first
            .get(&format!("/reports/delivery?register_id={register_id}"))
            .await;
        assert_eq!(delivery.status, 200);
        assert!(
            delivery.body.contains("<tr class=\"day"),
            "{}",
            delivery.body
        );
        let unsent = first.get("/reports/unsent").await;
        assert_eq!(unsent.status, 200, "{}", unsent.body);
        let bad_period = first.get("/reports?from=2026-12-02&to=2026-11-01").await;
        assert_eq!(bad_period.status, 200);
        assert!(
            bad_period.body.contains("data-field=\"to\""),
            "{}",
            bad_period.body
        );

        // Operator staff (signed in with their key) also see the raw frame as hex, and the
        // page's export works with the operator cookie, which the JSON API does not read.
        let staff_page = PageClient::new(&account.url);
        let signed = staff_page
            .submit(
                "/operator/login",
                "/operator/login",
                &[("key", &account.key)],
            )
            .await;
        assert_eq!(signed.status, 303, "{}", signed.body);
        let one = staff_page.get(&format!("/documents/{receipt_id}")).await;
        assert_eq!(one.status, 200, "{}", one.body);
        let raw_hex = one
            .body
            .split("<pre class=\"hex\">")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .expect("the raw frame")
            .to_owned();
        assert!(
            raw_hex.len() > 20 && raw_hex.chars().all(|c| c.is_ascii_hexdigit()),
            "{raw_hex}"
        );
        let export = staff_page
            .get(&format!(
                "/documents/export?register_id={register_id}&format=jsonl"
            ))
            .await;
        assert_eq!(export.status, 200);
        assert_eq!(export.body.lines().count() as u64, DOCUMENTS);

        // Another organisation's accountant: 404 pages, empty lists, an empty export.
        let second = PageClient::new(&account.url);
        second.login("acc@other.test", PASSWORD).await;
        let secret_bits = [ticket.as_str(), "FirstTill", "7707083893"];
        for path in [
            format!("/documents/{receipt_id}"),
            format!("/reports/shifts?register_id={register_id}"),
            format!("/reports?register_id={register_id}"),
            format!("/reports/delivery?register_id={register_id}"),
        ] {
            let page = second.get(&path).await;
            assert_eq!(page.status, 404, "{path}: {}", page.body);
            for bit in secret_bits {
                assert!(!page.body.contains(bit), "{path} shows {bit}");
            }
        }
        for path in [
            "/documents".to_owned(),
            format!("/documents?register_id={register_id}"),
            "/reports".to_owned(),
            "/reports/shifts".to_owned(),
            "/reports/unsent".to_owned(),
            "/reports/delivery".to_owned(),
        ] {
            let page = second.get(&path).await;
            assert_eq!(page.status, 200, "{path}");
            assert!(!page.body.contains("<tr class=\"document\""), "{path}");
            assert!(!page.body.contains("<tr class=\"day"), "{path}");
            for bit in secret_bits {
                assert!(!page.body.contains(bit), "{path} shows {bit}");
            }
        }
        let (status, _, csv) = raw(
            &account.url,
            &second,
            &format!("/documents/export?register_id={register_id}&format=csv"),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            csv.iter().filter(|b| **b == b'\n').count(),
            1,
            "the header only"
        );
        account.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documents_and_reports_pages_are_timed_and_behind_a_sign_in() {
    let db = common::TestDb::sqlite();
    let store = db.open().await;
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr");
    let account = Account::start_with(
        &store,
        AccountOptions {
            metrics_listen: Some(metrics),
            ..AccountOptions::default()
        },
    )
    .await;
    let visitor = PageClient::new(&account.url);
    for path in [
        "/documents",
        "/documents/7",
        "/documents/export?format=csv",
        "/reports",
        "/reports/shifts",
        "/reports/unsent",
        "/reports/delivery",
    ] {
        let page = visitor.get(path).await;
        assert_eq!(page.status, 303, "{path}");
        assert_eq!(page.header("location"), "/login", "{path}");
    }
    let text = ingest_support::scrape(metrics).await;
    for route in [
        "/documents",
        "/documents/{id}",
        "/documents/export",
        "/reports",
        "/reports/shifts",
        "/reports/unsent",
        "/reports/delivery",
    ] {
        assert!(
            text.contains(&format!(
                "ofd_account_page_seconds_count{{page=\"{route}\"}} 1"
            )),
            "{route}: {text}"
        );
    }
    account.stop().await;
}
