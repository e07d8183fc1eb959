//! The shifts report with its X/Z figures, on each backend: a KZ register made through the real
//! account API sends its documents to a real ingest port (`ofd emulate`, which now and then asks
//! for an X report), the projector builds the read tables, and then
//! - `GET /api/v1/registers/{id}/shifts` lists under each shift its X reports, every one with
//!   the counters the server answered — which are exactly the shift's receipts and sales the
//!   stored documents add up to at that moment — and the close report's counters beside the
//!   computed figures, which match;
//! - the shifts page (`/reports/shifts`) shows those X figures, not only a link;
//! - another organisation gets 404 for the register's shifts.

mod account_support;
mod cabinet_fleet;
mod cabinet_support;
mod common;
mod emulate_support;
mod ingest_support;

use account_support::{owner, Account};
use cabinet_support::PageClient;
use common::on_each_backend;
use serde_json::{json, Value};

/// Enough documents for the seeded emulator to ask for X reports (one shift holds 200).
const DOCUMENTS: u64 = 150;

/// Every document of `register` in the order the server took them (ids ascending).
async fn documents(client: &account_support::Client, register: i64) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/documents?register_id={register}&limit=500");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let (status, page) = client.get(&path).await;
        assert_eq!(status, 200, "{page}");
        all.extend(
            page["documents"]
                .as_array()
                .expect("documents")
                .iter()
                .cloned(),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    all.sort_by_key(|d| d["id"].as_i64());
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shifts_show_their_x_reports_and_z_figures() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let (account, mail) = Account::start_with_mail(&store).await;
        let (first, _) = owner(&account, &mail, "7707083893", "first@shifts.test").await;
        let (second, _) = owner(&account, &mail, "7736207543", "second@shifts.test").await;
        let (status, register) = first
            .post(
                "/api/v1/registers",
                json!({ "dialect": "kz", "model": "FirstTill", "org_inn": "7707083893" }),
            )
            .await;
        assert_eq!(status, 201, "{register}");
        let id = register["id"].as_i64().expect("id");
        cabinet_fleet::send_kz_documents(
            &db.url,
            &store,
            register["system_id"].as_i64().expect("system id"),
            register["token"].as_i64().expect("token"),
            DOCUMENTS,
        )
        .await;

        let (status, list) = first.get(&format!("/api/v1/registers/{id}/shifts")).await;
        assert_eq!(status, 200, "{list}");
        let shifts = list["shifts"].as_array().expect("shifts").clone();
        let docs = documents(&first, id).await;
        let x_documents = docs.iter().filter(|d| d["kind"] == "kz_x_report").count();
        assert!(
            x_documents >= 1,
            "the seeded run asks for X reports: {x_documents}"
        );
        let listed: usize = shifts
            .iter()
            .map(|s| s["x_reports"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(listed, x_documents, "every X report under its shift");
        for shift in &shifts {
            let number = shift["shift_number"].as_i64().expect("shift number");
            let in_shift: Vec<&Value> = docs
                .iter()
                .filter(|d| d["shift_number"].as_i64() == Some(number))
                .collect();
            for x in shift["x_reports"].as_array().expect("x_reports") {
                let x_id = x["document_id"].as_i64().expect("document id");
                let before: Vec<&&Value> = in_shift
                    .iter()
                    .filter(|d| d["kind"] == "kz_ticket" && d["id"].as_i64() < Some(x_id))
                    .collect();
                let sales: i64 = before
                    .iter()
                    .filter(|d| d["operation"] == "sale")
                    .map(|d| d["total"].as_i64().unwrap())
                    .sum();
                let refunds: i64 = before
                    .iter()
                    .filter(|d| d["operation"] == "refund")
                    .map(|d| d["total"].as_i64().unwrap())
                    .sum();
                assert_eq!(x["receipts"].as_i64(), Some(before.len() as i64), "{x}");
                assert_eq!(x["sales"].as_i64(), Some(sales), "{x}");
                assert_eq!(x["refunds"].as_i64(), Some(refunds), "{x}");
                assert!(x["time"].as_str().is_some_and(|t| t.contains('T')), "{x}");
            }
            if !shift["closed"].is_null() {
                assert_eq!(shift["z_receipts"], shift["receipts"], "{shift}");
                assert_eq!(shift["z_sales"], shift["sales"], "{shift}");
                assert_eq!(shift["mismatch"], false, "{shift}");
            }
        }

        // The page shows the figures under the shift.
        let with_x = shifts
            .iter()
            .find(|s| !s["x_reports"].as_array().unwrap().is_empty())
            .expect("a shift with X reports");
        let x = &with_x["x_reports"][0];
        let page_client = PageClient::new(&account.url);
        page_client
            .login("first@shifts.test", account_support::PASSWORD)
            .await;
        let page = page_client
            .get(&format!("/reports/shifts?register_id={id}&lang=en"))
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        let number = with_x["shift_number"].as_i64().unwrap();
        assert!(
            page.body.contains(&format!("X reports of shift {number}")),
            "{}",
            page.body
        );
        assert!(
            page.body
                .contains(&format!("href=\"/documents/{}\"", x["document_id"])),
            "{}",
            page.body
        );
        let receipts = x["receipts"].as_i64().unwrap();
        let row = page
            .body
            .split(&format!("href=\"/documents/{}\"", x["document_id"]))
            .nth(1)
            .and_then(|rest| rest.split("</tr>").next())
            .expect("the X report's row");
        assert!(
            row.contains(&format!("<td class=\"num\">{receipts}</td>")),
            "{row}"
        );
        assert!(row.contains('₸'), "{row}");

        // Another organisation does not see the register's shifts.
        assert_eq!(
            second
                .get(&format!("/api/v1/registers/{id}/shifts"))
                .await
                .0,
            404
        );
        account.stop().await;
    })
    .await;
}
