//! Tariffs and invoices over real HTTP on loopback, on each backend: plans (operator staff
//! only), activation with the free trial, payment status, invoices paid by operator staff and by
//! a bank-statement CSV with mixed rows, tenancy (another organisation gets 404), role checks,
//! and the tariff check blocking an unpaid register after the grace period — with a controlled
//! clock through `run_round`, and end to end through the service's own periodic task — and a
//! payment re-activating it.

mod account_support;
mod common;

use std::time::Duration;

use account_support::{
    enter_organisation, error_code, operator, org_client, provision, Account, Client,
};
use common::on_each_backend;
use ofd::account::AccountOptions;
use reqwest::Method;
use serde_json::{json, Value};

const KZ_BIN: &str = "000740001307";
const RU_INN: &str = "7707083893";
const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// Operator staff add a plan; its id.
async fn plan(op: &Client, name: &str, price_minor: i64, trial_days: i64) -> i64 {
    let (status, answer) = op
        .post(
            "/api/v1/tariff-plans",
            json!({ "name": name, "price_minor": price_minor, "currency": "KZT",
                    "period_days": 30, "includes": "ОФД, кабинет", "trial_days": trial_days }),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    answer["id"].as_i64().expect("plan id")
}

/// The actions of the audit lines `client` sees.
async fn audit_actions(client: &Client) -> Vec<String> {
    let (status, answer) = client.get("/api/v1/audit?limit=1000").await;
    assert_eq!(status, 200, "{answer}");
    answer["entries"]
        .as_array()
        .expect("audit lines")
        .iter()
        .map(|line| line["action"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn plans_activation_invoices_and_bank_payments() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let account = Account::start(&store).await;
        let op = operator(&account);
        let org_a = enter_organisation(&account, KZ_BIN, "kz").await;
        let org_b = enter_organisation(&account, RU_INN, "ru").await;
        let owner_a = org_client(&account, org_a, "owner").await;
        let engineer_a = org_client(&account, org_a, "engineer").await;
        let accountant_a = org_client(&account, org_a, "accountant").await;
        let owner_b = org_client(&account, org_b, "owner").await;
        let register = provision(&account, KZ_BIN, None).await["id"]
            .as_i64()
            .expect("id");

        // Plans: operator staff only; names unique; fields checked by name.
        let body = json!({ "name": "x", "price_minor": 1, "currency": "KZT", "period_days": 30 });
        let (status, answer) = owner_a.post("/api/v1/tariff-plans", body).await;
        assert_eq!((status, error_code(&answer)), (403, "forbidden"));
        let basic = plan(&op, "Базовый", 150_000, 5).await;
        let (status, answer) = op
            .post(
                "/api/v1/tariff-plans",
                json!({ "name": "Базовый", "price_minor": 1, "currency": "KZT", "period_days": 30 }),
            )
            .await;
        assert_eq!((status, error_code(&answer)), (409, "conflict"), "{answer}");
        let (status, answer) = op
            .post(
                "/api/v1/tariff-plans",
                json!({ "name": "Y", "price_minor": 1, "currency": "tenge", "period_days": 30 }),
            )
            .await;
        assert_eq!(status, 400);
        assert!(answer["error"]["message"].as_str().unwrap().contains("currency"));
        // The default free trial is five days.
        let (status, answer) = op
            .post(
                "/api/v1/tariff-plans",
                json!({ "name": "Default trial", "price_minor": 1, "currency": "KZT",
                        "period_days": 30 }),
            )
            .await;
        assert_eq!((status, answer["trial_days"].as_i64()), (201, Some(5)));
        // Archiving withdraws a plan from offer; only operator staff change plans.
        let default_trial = answer["id"].as_i64().expect("id");
        let plan_path = format!("/api/v1/tariff-plans/{default_trial}");
        let (status, _) = owner_a
            .call(Method::PATCH, &plan_path, Some(json!({ "archived": true })))
            .await;
        assert_eq!(status, 403);
        let (status, archived) = op
            .call(
                Method::PATCH,
                &plan_path,
                Some(json!({ "archived": true, "price_minor": 2 })),
            )
            .await;
        assert_eq!(status, 200, "{archived}");
        assert_eq!((archived["archived"].as_bool(), archived["price_minor"].as_i64()), (Some(true), Some(2)));
        let (status, answer) = op
            .call(Method::PATCH, &plan_path, Some(json!({ "name": "Базовый" })))
            .await;
        assert_eq!(status, 409, "{answer}");
        let (status, answer) = op
            .call(Method::PATCH, "/api/v1/tariff-plans/999", Some(json!({ "price_minor": 1 })))
            .await;
        assert_eq!(status, 404, "{answer}");
        let (status, answer) = owner_a
            .put(
                &format!("/api/v1/registers/{register}/tariff"),
                json!({ "plan_id": default_trial }),
            )
            .await;
        assert_eq!(status, 400, "an archived plan is not on offer: {answer}");
        let (_, all) = op.get("/api/v1/tariff-plans?archived=true").await;
        assert_eq!(all["plans"].as_array().expect("plans").len(), 2);
        let (status, answer) = owner_b.get("/api/v1/tariff-plans").await;
        assert_eq!(status, 200);
        assert_eq!(
            answer["plans"].as_array().expect("plans").len(),
            1,
            "archived plans are not on offer"
        );

        // Activation: the owner or accountant of the register's organisation.
        let path = format!("/api/v1/registers/{register}/tariff");
        let (status, _) = engineer_a.put(&path, json!({ "plan_id": basic })).await;
        assert_eq!(status, 403, "engineers do not buy tariffs");
        let (status, _) = owner_b.put(&path, json!({ "plan_id": basic })).await;
        assert_eq!(status, 404, "another organisation's register is not found");
        let (status, answer) = owner_a.put(&path, json!({ "plan_id": 999 })).await;
        assert_eq!(status, 400);
        assert!(answer["error"]["message"].as_str().unwrap().contains("plan_id"));
        let before = now_ms();
        let (status, tariff) = owner_a.put(&path, json!({ "plan_id": basic })).await;
        assert_eq!(status, 200, "{tariff}");
        assert_eq!(tariff["payment_status"], "paid", "in the free trial");
        let trial_end = tariff["paid_until"].as_i64().expect("paid_until");
        assert!(
            (before + 5 * DAY_MS..=now_ms() + 5 * DAY_MS).contains(&trial_end),
            "{tariff}"
        );
        let (status, _) = owner_b.get(&path).await;
        assert_eq!(status, 404);
        let (status, answer) = accountant_a.get(&path).await;
        assert_eq!((status, answer["plan_id"].as_i64()), (200, Some(basic)));
        // Ending within 6 days: this one; within 4: none.
        let (_, ending) = owner_a.get("/api/v1/tariffs?ending_within_days=6").await;
        assert_eq!(ending["tariffs"].as_array().expect("list").len(), 1);
        let (_, ending) = owner_a.get("/api/v1/tariffs?ending_within_days=4").await;
        assert_eq!(ending["tariffs"], json!([]));
        let (_, ending) = owner_b.get("/api/v1/tariffs").await;
        assert_eq!(ending["tariffs"], json!([]), "B sees none of A's tariffs");
        let soon = store
            .tariffs_ending_within(now_ms(), 6 * DAY_MS)
            .await
            .expect("store query");
        assert_eq!(soon.len(), 1);
        assert_eq!(soon[0].register_id, register);

        // An invoice for two periods, priced from the plan.
        let (status, invoice) = accountant_a
            .post(
                "/api/v1/invoices",
                json!({ "lines": [{ "register_id": register, "periods": 2 }] }),
            )
            .await;
        assert_eq!(status, 201, "{invoice}");
        assert_eq!(invoice["amount_minor"], 300_000);
        assert_eq!(invoice["currency"], "KZT");
        assert_eq!(invoice["status"], "unpaid");
        let invoice_id = invoice["id"].as_i64().expect("id");
        let number = invoice["number"].as_str().expect("number").to_owned();
        assert!(number.starts_with("INV-"), "{number}");
        // B cannot bill A's register nor see A's invoice.
        let (status, answer) = owner_b
            .post(
                "/api/v1/invoices",
                json!({ "lines": [{ "register_id": register }] }),
            )
            .await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("register_id"));
        let (status, _) = owner_b.get(&format!("/api/v1/invoices/{invoice_id}")).await;
        assert_eq!(status, 404);
        let (status, _) = owner_b
            .post(&format!("/api/v1/invoices/{invoice_id}/paid"), json!({}))
            .await;
        assert_eq!(status, 404);

        // Only operator staff mark invoices paid; paying extends the tariff by 2 × 30 days.
        let paid_path = format!("/api/v1/invoices/{invoice_id}/paid");
        let (status, answer) = owner_a.post(&paid_path, json!({})).await;
        assert_eq!((status, error_code(&answer)), (403, "forbidden"));
        let (status, paid) = op
            .post(&paid_path, json!({ "payment_ref": "p/o 17" }))
            .await;
        assert_eq!(status, 200, "{paid}");
        assert_eq!(paid["status"], "paid");
        assert_eq!(paid["payment_ref"], "p/o 17");
        let (_, tariff) = owner_a.get(&path).await;
        assert_eq!(
            tariff["paid_until"].as_i64(),
            Some(trial_end + 60 * DAY_MS),
            "paid from the end of the trial"
        );
        let (status, _) = op.post(&paid_path, json!({})).await;
        assert_eq!(status, 409, "paid twice");
        let actions = audit_actions(&owner_a).await;
        for action in ["register.tariff", "invoice.create", "invoice.paid", "register.tariff_paid"]
        {
            assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
        }

        // A bank statement with mixed rows.
        let (_, second) = owner_a
            .post(
                "/api/v1/invoices",
                json!({ "lines": [{ "register_id": register }] }),
            )
            .await;
        let (status, third) = owner_a
            .post(
                "/api/v1/invoices",
                json!({ "currency": "KZT",
                        "lines": [{ "description": "Выезд инженера", "amount_minor": 500_000 }] }),
            )
            .await;
        assert_eq!(status, 201, "{third}");
        // A withdrawn invoice is not paid by the statement either.
        let (_, fourth) = owner_a
            .post(
                "/api/v1/invoices",
                json!({ "lines": [{ "register_id": register }] }),
            )
            .await;
        let cancel_path = format!("/api/v1/invoices/{}/cancel", fourth["id"]);
        let (status, _) = owner_a.post(&cancel_path, json!({})).await;
        assert_eq!(status, 403, "only operator staff withdraw invoices");
        let (status, _) = owner_b.post(&cancel_path, json!({})).await;
        assert_eq!(status, 404);
        let (status, cancelled) = op
            .post(&cancel_path, json!({ "reason": "issued twice" }))
            .await;
        assert_eq!((status, cancelled["status"].as_str()), (200, Some("cancelled")));
        let (status, _) = op.post(&cancel_path, json!({})).await;
        assert_eq!(status, 409, "cancelled is final");
        let fourth_number = fourth["number"].as_str().expect("number");
        let second_number = second["number"].as_str().expect("number");
        let third_number = third["number"].as_str().expect("number");
        let statement = format!(
            "invoice_number;amount;reference\n\
             {second_number};1 500,00;bank-1\n\
             {third_number};4999.99;bank-2\n\
             INV-999999;10;bank-3\n\
             {number};3000;bank-4\n\
             ;5;bank-5\n\
             {third_number};five;bank-6\n\
             {fourth_number};1500;bank-7\n"
        );
        let (status, answer) = owner_a
            .post_csv("/api/v1/invoices/payments-import", &statement)
            .await;
        assert_eq!(status, 403, "{answer}");
        let (status, report) = op
            .post_csv("/api/v1/invoices/payments-import", &statement)
            .await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["paid"], 1);
        let results: Vec<(i64, &str)> = report["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| (r["line"].as_i64().unwrap(), r["result"].as_str().unwrap()))
            .collect();
        assert_eq!(
            results,
            vec![
                (2, "paid"),
                (3, "amount_mismatch"),
                (4, "unknown_invoice"),
                (5, "not_unpaid"),
                (6, "invalid_row"),
                (7, "invalid_row"),
                (8, "not_unpaid"),
            ]
        );
        let (_, tariff) = owner_a.get(&path).await;
        assert_eq!(
            tariff["paid_until"].as_i64(),
            Some(trial_end + 90 * DAY_MS),
            "the statement's payment extended the tariff by one more period"
        );
        let (_, unpaid) = owner_a.get("/api/v1/invoices?status=unpaid").await;
        let unpaid: Vec<&str> = unpaid["invoices"]
            .as_array()
            .expect("invoices")
            .iter()
            .map(|i| i["number"].as_str().unwrap())
            .collect();
        assert_eq!(unpaid, vec![third_number]);
        let (status, answer) = op.post_csv("/api/v1/invoices/payments-import", "a,b\n1,2\n").await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("invoice_number"));

        account.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn the_tariff_check_blocks_after_the_grace_period_with_a_controlled_clock() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let account = Account::start(&store).await;
        let op = operator(&account);
        let org = enter_organisation(&account, KZ_BIN, "kz").await;
        let owner = org_client(&account, org, "owner").await;
        let register = provision(&account, KZ_BIN, None).await["id"]
            .as_i64()
            .expect("id");
        let trial = plan(&op, "Trial", 100_000, 5).await;
        let (status, tariff) = owner
            .put(
                &format!("/api/v1/registers/{register}/tariff"),
                json!({ "plan_id": trial }),
            )
            .await;
        assert_eq!(status, 200, "{tariff}");
        let paid_until = tariff["paid_until"].as_i64().expect("paid_until");
        let grace = Duration::from_secs(3 * 86_400);
        let round = |now: i64| ofd::account::tariff_check::run_round(&store, grace, now);
        assert_eq!(round(paid_until - 1).await.expect("round"), 0, "paid");
        assert_eq!(round(paid_until).await.expect("round"), 0, "grace begins");
        assert_eq!(
            round(paid_until + 3 * DAY_MS - 1).await.expect("round"),
            0,
            "last moment of grace"
        );
        let (_, row) = owner.get(&format!("/api/v1/registers/{register}")).await;
        assert_eq!(row["status"], "active");
        assert_eq!(round(paid_until + 3 * DAY_MS).await.expect("round"), 1);
        let (_, row) = owner.get(&format!("/api/v1/registers/{register}")).await;
        assert_eq!(row["status"], "blocked");
        assert_eq!(
            round(paid_until + 4 * DAY_MS).await.expect("round"),
            0,
            "a blocked register is not blocked again"
        );
        let (_, tariff) = owner
            .get(&format!("/api/v1/registers/{register}/tariff"))
            .await;
        assert_eq!(tariff["blocked_for_nonpayment"], true);
        account.stop().await;
        store.close().await;
    })
    .await;
}

/// Poll `GET /registers/{id}` until its status is `want` (within 15 s).
async fn wait_status(client: &Client, register: i64, want: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, row) = client.get(&format!("/api/v1/registers/{register}")).await;
        assert_eq!(status, 200, "{row}");
        if row["status"] == want {
            return row;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "register {register} still {} instead of {want}",
            row["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_service_blocks_unpaid_registers_and_a_payment_reactivates_them() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let options = AccountOptions {
            tariff_grace_days: Some(0),
            tariff_check_seconds: Some(1),
            ..AccountOptions::default()
        };
        let account = Account::start_with(&store, options).await;
        let op = operator(&account);
        let org = enter_organisation(&account, KZ_BIN, "kz").await;
        let owner = org_client(&account, org, "owner").await;
        let unpaid = provision(&account, KZ_BIN, None).await["id"]
            .as_i64()
            .expect("id");
        let in_trial = provision(&account, KZ_BIN, None).await["id"]
            .as_i64()
            .expect("id");
        let no_trial = plan(&op, "No trial", 100_000, 0).await;
        let with_trial = plan(&op, "With trial", 100_000, 5).await;
        let (status, tariff) = owner
            .put(
                &format!("/api/v1/registers/{unpaid}/tariff"),
                json!({ "plan_id": no_trial }),
            )
            .await;
        assert_eq!(status, 200, "{tariff}");
        assert_eq!(
            tariff["payment_status"], "unpaid",
            "no trial: unpaid at once"
        );
        let (status, _) = owner
            .put(
                &format!("/api/v1/registers/{in_trial}/tariff"),
                json!({ "plan_id": with_trial }),
            )
            .await;
        assert_eq!(status, 200);

        // The service's own periodic check blocks the unpaid register, not the one in trial.
        wait_status(&owner, unpaid, "blocked").await;
        let (_, other) = owner.get(&format!("/api/v1/registers/{in_trial}")).await;
        assert_eq!(other["status"], "active");
        let (_, audit) = owner.get("/api/v1/audit?limit=1000").await;
        let line = audit["entries"]
            .as_array()
            .expect("audit lines")
            .iter()
            .find(|l| l["action"] == "register.blocked_unpaid")
            .cloned()
            .expect("the block is in the audit log");
        assert_eq!(line["actor"], "system:tariff-check");
        assert_eq!(line["object"], format!("register:{unpaid}"));

        // Paying re-activates it; a register blocked by hand stays blocked when paid.
        let (status, _) = op
            .call(
                Method::PUT,
                &format!("/api/v1/registers/{in_trial}/status"),
                Some(json!({ "status": "blocked" })),
            )
            .await;
        assert_eq!(status, 200);
        for register in [unpaid, in_trial] {
            let (status, invoice) = owner
                .post(
                    "/api/v1/invoices",
                    json!({ "lines": [{ "register_id": register }] }),
                )
                .await;
            assert_eq!(status, 201, "{invoice}");
            let (status, paid) = op
                .post(
                    &format!("/api/v1/invoices/{}/paid", invoice["id"]),
                    json!({}),
                )
                .await;
            assert_eq!(status, 200, "{paid}");
        }
        let row = wait_status(&owner, unpaid, "active").await;
        assert_eq!(row["id"], unpaid);
        let (_, tariff) = owner
            .get(&format!("/api/v1/registers/{unpaid}/tariff"))
            .await;
        assert_eq!(tariff["payment_status"], "paid");
        assert_eq!(tariff["blocked_for_nonpayment"], false);
        let (_, other) = owner.get(&format!("/api/v1/registers/{in_trial}")).await;
        assert_eq!(
            other["status"], "blocked",
            "blocked by hand, not for nonpayment"
        );
        // Paid for 30 days: the next rounds leave it active.
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        let (_, row) = owner.get(&format!("/api/v1/registers/{unpaid}")).await;
        assert_eq!(row["status"], "active");
        account.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn the_openapi_document_lists_the_tariff_invoice_wired_and_catalogue_routes() {
    let db = common::TestDb::sqlite();
    let store = db.open().await;
    let account = Account::start(&store).await;
    let (status, doc) = Client::anonymous(&account.url)
        .get("/api/openapi.json")
        .await;
    assert_eq!(status, 200);
    for (path, methods) in [
        ("/api/v1/tariff-plans", &["get", "post"][..]),
        ("/api/v1/tariff-plans/{id}", &["patch"]),
        ("/api/v1/registers/{id}/tariff", &["get", "put"]),
        ("/api/v1/tariffs", &["get"]),
        ("/api/v1/invoices", &["get", "post"]),
        ("/api/v1/invoices/{id}", &["get"]),
        ("/api/v1/invoices/{id}/paid", &["post"]),
        ("/api/v1/invoices/{id}/cancel", &["post"]),
        ("/api/v1/invoices/payments-import", &["post"]),
        ("/api/v1/wired-requests", &["get", "post"]),
        ("/api/v1/wired-requests/{id}", &["get"]),
        ("/api/v1/wired-requests/{id}/status", &["put"]),
        ("/api/v1/catalogue", &["get"]),
        ("/api/v1/catalogue/items", &["post"]),
        ("/api/v1/catalogue/items/{id}", &["put", "delete"]),
        ("/api/v1/catalogue/import", &["post"]),
    ] {
        for method in methods {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} missing from the OpenAPI document"
            );
        }
    }
    assert!(
        doc["paths"]["/api/v1/invoices/payments-import"]["post"]["requestBody"]["content"]
            ["text/csv"]
            .is_object(),
        "the bank statement is documented as text/csv"
    );
    for schema in [
        "TariffPlan",
        "TariffView",
        "Invoice",
        "WiredRequest",
        "Catalogue",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema} missing"
        );
    }
    account.stop().await;
}

#[tokio::test]
async fn a_bank_statement_larger_than_a_json_body_is_read_row_by_row() {
    let db = common::TestDb::sqlite();
    let store = db.open().await;
    let account = Account::start(&store).await;
    let op = operator(&account);
    let mut statement = String::from("invoice_number,amount,reference\n");
    for n in 0..2_500 {
        statement.push_str(&format!(
            "INV-{:06},1000.00,payment order {n:06}\n",
            900_000 + n
        ));
    }
    assert!(statement.len() > 64 * 1024, "over the JSON body limit");
    let (status, report) = op
        .post_csv("/api/v1/invoices/payments-import", &statement)
        .await;
    assert_eq!(status, 200, "{report}");
    let rows = report["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2_500);
    assert!(rows.iter().all(|r| r["result"] == "unknown_invoice"));
    assert_eq!(rows[2_499]["line"], 2_501);
    // JSON routes keep their small limit.
    let (status, answer) = op
        .post(
            "/api/v1/wired-requests",
            json!({ "address": "x".repeat(70 * 1024) }),
        )
        .await;
    assert_eq!((status, error_code(&answer)), (400, "invalid_body"));
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("length limit"),
        "{answer}"
    );
    account.stop().await;
}

#[tokio::test]
async fn a_batch_puts_registers_on_a_plan_with_one_result_each() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let account = Account::start(&store).await;
        let op = operator(&account);
        let org = enter_organisation(&account, RU_INN, "ru").await;
        let accountant = org_client(&account, org, "accountant").await;
        let engineer = org_client(&account, org, "engineer").await;
        let basic = plan(&op, "Batch basic", 100_000, 5).await;
        let a = provision(&account, RU_INN, Some("9999000000000501")).await["id"].clone();
        let b = provision(&account, RU_INN, Some("9999000000000502")).await["id"].clone();
        let body = json!({ "ids": [a, b, 999_999], "action": { "type": "activate_tariff", "plan_id": basic } });
        let (status, _) = engineer.post("/api/v1/registers/batch", body.clone()).await;
        assert_eq!(status, 403, "engineers do not buy tariffs");
        let (status, answer) = accountant.post("/api/v1/registers/batch", body).await;
        assert_eq!(status, 200, "{answer}");
        let results = answer["results"].as_array().expect("results");
        let ok: Vec<bool> = results.iter().map(|r| r["ok"].as_bool().unwrap_or(false)).collect();
        assert_eq!(ok, vec![true, true, false], "{answer}");
        assert_eq!(results[2]["code"], "not_found");
        // The register list tells paid from unpaid: the two in their trial are paid, a third
        // without a tariff is not.
        let c = provision(&account, RU_INN, Some("9999000000000503")).await["id"].clone();
        let ids = |page: &Value| -> Vec<Value> {
            page["registers"].as_array().expect("registers").iter().map(|r| r["id"].clone()).collect()
        };
        let (status, paid) = accountant.get("/api/v1/registers?paid=true").await;
        assert_eq!(status, 200, "{paid}");
        assert_eq!(ids(&paid), vec![a.clone(), b.clone()]);
        let (_, unpaid) = accountant.get("/api/v1/registers?paid=false").await;
        assert_eq!(ids(&unpaid), vec![c]);
        for id in [&a, &b] {
            let (status, tariff) = accountant.get(&format!("/api/v1/registers/{id}/tariff")).await;
            assert_eq!((status, tariff["plan_id"].as_i64()), (200, Some(basic)), "{tariff}");
        }
        account.stop().await;
        store.close().await;
    })
    .await;
}
