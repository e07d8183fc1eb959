//! Client alerts end to end, on each backend: a register sends documents through the real ingest
//! port (a receipt, then a shift-close report whose drive says it is running out and has kept a
//! document undelivered for 26 days); the evaluator, run with the time passed in, raises each
//! alert once; the owner gets them by mail on a real SMTP server and the organisation's webhook
//! receiver on loopback gets them signed with HMAC-SHA256; an acknowledgement is kept; a later
//! report that clears the flags resolves them (and the webhook hears it); silence fires after
//! the threshold and clears when the register is blocked. Another organisation sees none of it.
//! A second test runs the evaluator as the service does (on its timer) and reads the firing
//! gauge from the account metrics port. Another counts a register's silence from the last
//! document of any of its drives, so replacing a drive raises nothing.

mod account_support;
mod common;
mod ingest_support;
mod kz_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use account_support::{error_code, owner, Account, Client, MailServer};
use axum::body::Bytes;
use axum::http::HeaderMap;
use common::on_each_backend;
use hmac::{Hmac, Mac as _};
use ingest_support::{ack_fields, close_shift_counting, receipt_frame, send_one};
use ofd::account::alert_evaluator::evaluate_once;
use ofd::account::AccountOptions;
use ofd::ingest::Server;
use ofd::store::Store;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::{mpsc, Mutex};

const HOUR_MS: i64 = 3_600_000;

/// One request the webhook receiver got: its signature header, delivery id and body.
struct Hook {
    signature: String,
    delivery: String,
    body: Vec<u8>,
}

/// A webhook receiver on loopback that answers 200 and hands every request to the test.
async fn webhook_receiver() -> (SocketAddr, Arc<Mutex<mpsc::UnboundedReceiver<Hook>>>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let _ = tx.send(Hook {
                    signature: header("x-ofd-signature"),
                    delivery: header("x-ofd-delivery"),
                    body: body.to_vec(),
                });
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, Arc::new(Mutex::new(rx)))
}

/// The next webhook request, its signature checked against `secret` independently of the
/// server's code; the body as JSON.
async fn next_hook(rx: &Mutex<mpsc::UnboundedReceiver<Hook>>, secret: &str) -> Value {
    let hook = tokio::time::timeout(Duration::from_secs(20), rx.lock().await.recv())
        .await
        .expect("a webhook request within 20 s")
        .expect("receiver open");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(&hook.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(hook.signature, expected, "signature over the exact body");
    assert!(hook.delivery.parse::<i64>().is_ok(), "{}", hook.delivery);
    serde_json::from_slice(&hook.body).expect("JSON body")
}

/// A shift-close report (form 5) of `fn_number` with the drive's own state, in ФФД `ffd`
/// (tag 1209: 2 = 1.05, 4 = 1.2).
fn close_shift(
    ffd: u8,
    fn_number: &str,
    fd: u32,
    exhausted: bool,
    unsent: u32,
    oldest_unsent_s: u32,
) -> Vec<u8> {
    let at = 1_700_000_000 + fd;
    close_shift_counting(
        ffd,
        fn_number,
        fd,
        at,
        exhausted,
        unsent,
        oldest_unsent_s,
        None,
    )
}

/// Send `frame` through the ingest port and expect acknowledgement code 0.
async fn deliver(ingest: SocketAddr, frame: &[u8]) {
    let reply = send_one(ingest, frame).await.expect("acknowledged");
    assert_eq!(ack_fields(&reply).code, 0);
}

fn kinds(page: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = page["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap_or_default().to_owned(),
                a["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The account service (its evaluator's timer too slow to run in a test: the test evaluates),
/// an organisation's owner and their RU register on drive `fn_number`.
async fn owner_and_ru_register(store: &Store, fn_number: &str) -> (Account, Client, Value) {
    let account = Account::start_with(
        store,
        AccountOptions {
            alert_interval_secs: Some(3600),
            ..AccountOptions::default()
        },
    )
    .await;
    let org = account_support::enter_organisation(&account, "7707083893", "ru").await;
    let owner = account_support::org_client(&account, org, "owner").await;
    let register = account_support::provision(&account, "7707083893", Some(fn_number)).await;
    (account, owner, register)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drive_and_silence_alerts_fire_once_reach_mail_and_webhook_and_resolve() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let mail = MailServer::start().await;
        let account = Account::start_with(
            &store,
            AccountOptions {
                smtp_url: Some(mail.url.as_str().into()),
                webhook_allow_http: Some(true),
                alert_interval_secs: Some(3600),
                ..AccountOptions::default()
            },
        )
        .await;
        let (client, org_id) = owner(&account, &mail, "7707083893", "owner@alerts.test").await;
        let (hook_addr, hooks) = webhook_receiver().await;

        // Settings: bad input names its field; a webhook gets a secret shown once.
        let (status, answer) = client
            .put(
                "/api/v1/alerts/settings",
                json!({ "thresholds": { "kz_offline_hours": 100 } }),
            )
            .await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("thresholds.kz_offline_hours"));
        let (status, answer) = client
            .put(
                "/api/v1/alerts/settings",
                json!({ "webhook_url": "ftp://nowhere/x" }),
            )
            .await;
        assert_eq!(status, 400);
        assert!(answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("webhook_url"));
        let (status, answer) = client
            .put(
                "/api/v1/alerts/settings",
                json!({ "webhook_url": format!("http://{hook_addr}/hook"),
                        "thresholds": { "unsent_days": 3 } }),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        let secret = answer["webhook_secret"]
            .as_str()
            .expect("secret shown once")
            .to_owned();
        assert_eq!(secret.len(), 64);
        let (_, settings) = client.get("/api/v1/alerts/settings").await;
        assert!(settings.get("webhook_secret").is_none(), "{settings}");
        assert_eq!(settings["webhook_secret_set"], true);

        // A register, and its documents through the real ingest port.
        let fn_number = ingest_support::fn_number(4242);
        let (status, register) = client
            .post(
                "/api/v1/registers",
                json!({ "dialect": "ru", "fn_number": fn_number, "org_inn": "7707083893" }),
            )
            .await;
        assert_eq!(status, 201, "{register}");
        let register_id = register["id"].as_i64().expect("id");
        let server = Server::start(ingest_support::config(&db.url))
            .await
            .expect("ingest");
        let ingest = server.local_addr();
        let now = ofd::clock::unix_millis();
        let oldest = u32::try_from(now / 1000 - 26 * 86_400).expect("fits");
        deliver(ingest, &receipt_frame(&fn_number, 1, 10_000, None)).await;
        deliver(ingest, &close_shift(2, &fn_number, 2, true, 5, oldest)).await;
        // A drive's newest report and document are the projector's (doc_index). One projector
        // for the whole test: on SQLite it holds the projection lease.
        let projector = ofd::project::Projector::new(&store);
        ofd::project::catch_up(&projector, 50, 2)
            .await
            .expect("projects");

        // First evaluation: the two drive alerts, nothing else.
        let run = evaluate_once(&store, &account.url, now)
            .await
            .expect("evaluates");
        assert_eq!(run.raised, 2, "{run:?}");
        let (_, page) = client.get("/api/v1/alerts").await;
        assert_eq!(
            kinds(&page),
            vec![
                ("drive_exhaustion".into(), "firing".into()),
                ("unsent_documents".into(), "firing".into())
            ]
        );
        let unsent = page["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .find(|a| a["kind"] == "unsent_documents")
            .cloned()
            .expect("unsent alert");
        assert_eq!(unsent["detail"]["unsent"], 5);
        assert_eq!(unsent["detail"]["days_before_block"], 4);
        assert_eq!(unsent["register_id"], register_id);
        assert_eq!(unsent["severity"], "critical");

        // Mail to the owner and two signed webhook calls, one per alert.
        let mut subjects = Vec::new();
        for _ in 0..2 {
            let (to, subject, body) = mail.next().await;
            assert_eq!(to, "owner@alerts.test");
            assert!(body.contains(&account.url), "{body}");
            subjects.push(subject);
        }
        subjects.sort();
        assert!(
            subjects[0].contains("Documents not delivered"),
            "{subjects:?}"
        );
        assert!(subjects[1].contains("resource running out"), "{subjects:?}");
        let mut events = Vec::new();
        for _ in 0..2 {
            let body = next_hook(&hooks, &secret).await;
            assert_eq!(body["alert"]["org_id"], org_id);
            events.push((body["event"].clone(), body["alert"]["kind"].clone()));
        }
        assert!(
            events.contains(&(json!("alert.firing"), json!("unsent_documents"))),
            "{events:?}"
        );

        // Raised once: a second evaluation refreshes, raises nothing, sends nothing.
        let run = evaluate_once(&store, &account.url, now + 60_000)
            .await
            .expect("evaluates");
        assert_eq!((run.raised, run.refreshed), (0, 2), "{run:?}");
        let (_, log) = client.get("/api/v1/alerts/webhook-deliveries").await;
        assert_eq!(log.as_array().expect("log").len(), 2, "{log}");

        // Acknowledge one; it stays acknowledged while the condition holds.
        let id = unsent["id"].as_i64().expect("id");
        let (status, acked) = client
            .post(&format!("/api/v1/alerts/{id}/acknowledge"), json!({}))
            .await;
        assert_eq!(status, 200, "{acked}");
        assert_eq!(acked["state"], "acknowledged");
        assert!(acked["acknowledged_by"]
            .as_str()
            .unwrap_or_default()
            .starts_with("user:"));
        evaluate_once(&store, &account.url, now + 120_000)
            .await
            .expect("evaluates");
        let (_, one) = client.get(&format!("/api/v1/alerts/{id}")).await;
        assert_eq!(one["state"], "acknowledged");
        let (_, audit) = client.get("/api/v1/audit").await;
        assert!(audit.to_string().contains("alert.acknowledge"), "{audit}");

        // Another organisation sees none of it.
        let (other, _) = owner(&account, &mail, "7736207543", "other@alerts.test").await;
        let (_, page) = other.get("/api/v1/alerts?state=all").await;
        assert_eq!(kinds(&page), vec![]);
        let (status, answer) = other.get(&format!("/api/v1/alerts/{id}")).await;
        assert_eq!((status, error_code(&answer)), (404, "not_found"));
        let (status, _) = other
            .post(&format!("/api/v1/alerts/{id}/acknowledge"), json!({}))
            .await;
        assert_eq!(status, 404);

        // The drive reports again, healthy, in ФФД 1.2 now: both resolve, and the webhook
        // hears it.
        deliver(ingest, &close_shift(4, &fn_number, 3, false, 0, 0)).await;
        ofd::project::catch_up(&projector, 50, 2)
            .await
            .expect("projects");
        let run = evaluate_once(&store, &account.url, now + 180_000)
            .await
            .expect("evaluates");
        assert_eq!(run.resolved, 2, "{run:?}");
        let (_, page) = client.get("/api/v1/alerts?state=all").await;
        assert_eq!(
            kinds(&page),
            vec![
                ("drive_exhaustion".into(), "resolved".into()),
                ("unsent_documents".into(), "resolved".into())
            ]
        );
        for _ in 0..2 {
            let body = next_hook(&hooks, &secret).await;
            assert_eq!(body["event"], "alert.resolved");
        }

        // Silence: a day later the register has sent nothing; blocking it clears the alert.
        let later = now + 25 * HOUR_MS;
        let run = evaluate_once(&store, &account.url, later)
            .await
            .expect("evaluates");
        assert_eq!(run.raised, 1, "{run:?}");
        let (_, page) = client.get("/api/v1/alerts").await;
        assert_eq!(kinds(&page), vec![("no_documents".into(), "firing".into())]);
        let (_, subject, _) = mail.next().await;
        assert!(subject.contains("No documents"), "{subject}");
        let (status, _) = client
            .put(
                &format!("/api/v1/registers/{register_id}/status"),
                json!({ "status": "blocked" }),
            )
            .await;
        assert_eq!(status, 200);
        let run = evaluate_once(&store, &account.url, later + 60_000)
            .await
            .expect("evaluates");
        assert_eq!(run.resolved, 1, "{run:?}");
        let (_, page) = client.get("/api/v1/alerts").await;
        assert_eq!(kinds(&page), vec![]);

        // Choosing not to get a kind by mail is kept per user.
        let (status, subs) = client
            .put(
                "/api/v1/alerts/subscriptions",
                json!([{ "kind": "no_documents", "email": false }]),
            )
            .await;
        assert_eq!(status, 200, "{subs}");
        assert_eq!(subs, json!([{ "kind": "no_documents", "email": false }]));
        let (status, answer) = client
            .put(
                "/api/v1/alerts/subscriptions",
                json!([{ "kind": "no_such_kind", "email": true }]),
            )
            .await;
        assert_eq!(status, 400);
        assert!(answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("[0].kind"));

        server.shutdown().await.expect("ingest stops");
        account.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_evaluates_on_its_timer_and_exports_firing_alerts() {
    let db = common::TestDb::sqlite();
    let store = db.open().await;
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr");
    let account = Account::start_with(
        &store,
        AccountOptions {
            alert_interval_secs: Some(1),
            metrics_listen: Some(metrics_port),
            ..AccountOptions::default()
        },
    )
    .await;
    let operator = Client::with_key(&account.url, &account.key);
    let (status, _) = operator
        .post(
            "/api/v1/organisations",
            json!({ "inn": "7707083893", "name": "Timer Org" }),
        )
        .await;
    assert_eq!(status, 201);
    let fn_number = ingest_support::fn_number(77);
    let (status, _) = operator
        .post(
            "/api/v1/registers",
            json!({ "dialect": "ru", "fn_number": fn_number, "org_inn": "7707083893" }),
        )
        .await;
    assert_eq!(status, 201);
    // Two different documents under one number: a conflict, which fires at once.
    let server = Server::start(ingest_support::config(&db.url))
        .await
        .expect("ingest");
    deliver(
        server.local_addr(),
        &receipt_frame(&fn_number, 1, 100, None),
    )
    .await;
    let _ = send_one(
        server.local_addr(),
        &receipt_frame(&fn_number, 1, 999, None),
    )
    .await;

    let series = r#"ofd_account_alerts_firing{kind="document_conflict",severity="critical"}"#;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = ingest_support::scrape(metrics_port).await;
        if ingest_support::sample(&text, series) == 1.0 {
            assert!(
                text.contains("ofd_account_alert_evaluations_total"),
                "{text}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never fired: {text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, page) = operator.get("/api/v1/alerts").await;
    assert_eq!(
        kinds(&page),
        vec![("document_conflict".into(), "firing".into())]
    );
    server.shutdown().await.expect("ingest stops");
    account.stop().await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tariff_ending_and_an_overdue_invoice_fire_and_clear_when_paid() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let account = Account::start_with(
            &store,
            AccountOptions {
                alert_interval_secs: Some(3600),
                ..AccountOptions::default()
            },
        )
        .await;
        let operator = account_support::operator(&account);
        let org = account_support::enter_organisation(&account, "7707083893", "ru").await;
        let owner = account_support::org_client(&account, org, "owner").await;
        let fn_number = ingest_support::fn_number(901);
        let register = account_support::provision(&account, "7707083893", Some(&fn_number)).await;
        let register_id = register["id"].as_i64().expect("id");
        let (status, plan) = operator
            .post(
                "/api/v1/tariff-plans",
                json!({ "name": "Basic", "price_minor": 150_000, "currency": "RUB",
                        "period_days": 30, "trial_days": 5 }),
            )
            .await;
        assert_eq!(status, 201, "{plan}");
        let (status, tariff) = owner
            .put(
                &format!("/api/v1/registers/{register_id}/tariff"),
                json!({ "plan_id": plan["id"] }),
            )
            .await;
        assert_eq!(status, 200, "{tariff}");
        let (status, invoice) = owner
            .post(
                "/api/v1/invoices",
                json!({ "lines": [{ "register_id": register_id, "periods": 1 }], "due_in_days": 1 }),
            )
            .await;
        assert_eq!(status, 201, "{invoice}");

        // Two days on: the trial ends within 7 days and the invoice is a day overdue.
        let later = ofd::clock::unix_millis() + 2 * 24 * HOUR_MS;
        evaluate_once(&store, &account.url, later).await.expect("evaluates");
        let (_, page) = owner.get("/api/v1/alerts").await;
        let found = kinds(&page);
        assert!(found.contains(&("tariff_ending".into(), "firing".into())), "{found:?}");
        assert!(found.contains(&("invoice_overdue".into(), "firing".into())), "{found:?}");
        let overdue = page["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .find(|a| a["kind"] == "invoice_overdue")
            .cloned()
            .expect("overdue alert");
        assert_eq!(overdue["detail"]["invoice"], invoice["number"]);
        assert_eq!(overdue["register_id"], Value::Null);

        // Paid: the paid period moves a month on and both clear.
        let (status, paid) = operator
            .post(&format!("/api/v1/invoices/{}/paid", invoice["id"]), json!({}))
            .await;
        assert_eq!(status, 200, "{paid}");
        evaluate_once(&store, &account.url, later + 60_000).await.expect("evaluates");
        let (_, page) = owner.get("/api/v1/alerts").await;
        let found = kinds(&page);
        assert!(!found.iter().any(|(k, _)| k == "tariff_ending" || k == "invoice_overdue"), "{found:?}");
        account.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kz_register_long_offline_and_a_long_shift_fire_and_closing_the_shift_clears() {
    use ofd_protocol::kz::OperationTypeEnum::Sell;
    on_each_backend(|db| async move {
        let store = db.open().await;
        let account = Account::start_with(
            &store,
            AccountOptions {
                alert_interval_secs: Some(3600),
                ..AccountOptions::default()
            },
        )
        .await;
        let org = account_support::enter_organisation(&account, "000740001307", "kz").await;
        let owner = account_support::org_client(&account, org, "owner").await;
        let register = account_support::provision(&account, "000740001307", None).await;
        let system_id = register["system_id"].as_u64().expect("system id") as u32;
        let token = register["token"].as_u64().expect("token") as u32;
        let server = Server::start(ingest_support::config(&db.url))
            .await
            .expect("ingest");
        let mut kkm = kz_support::Kkm::new(server.local_addr(), system_id, token);

        // An online sale opens the shift; then 30 hours of offline receipts are replayed.
        assert_eq!(kkm.send(&kz_support::ticket(Sell, 500)).await.code(), 0);
        assert_eq!(
            kkm.send(&kz_support::offline_ticket(300, 555_001, 30))
                .await
                .code(),
            0
        );
        let now = ofd::clock::unix_millis();
        evaluate_once(&store, &account.url, now)
            .await
            .expect("evaluates");
        let (_, page) = owner.get("/api/v1/alerts").await;
        assert_eq!(kinds(&page), vec![("kz_offline".into(), "firing".into())]);
        assert_eq!(page["alerts"][0]["detail"]["hours_offline"], 30);

        // A day later the shift is still open (and the register silent).
        let later = now + 25 * HOUR_MS;
        evaluate_once(&store, &account.url, later)
            .await
            .expect("evaluates");
        let (_, page) = owner.get("/api/v1/alerts").await;
        let found = kinds(&page);
        assert!(
            found.contains(&("shift_open_too_long".into(), "firing".into())),
            "{found:?}"
        );
        assert!(
            found.contains(&("no_documents".into(), "firing".into())),
            "{found:?}"
        );

        // The cashier closes the shift: that alert resolves, the others stay.
        assert_eq!(kkm.send(&kz_support::close_shift()).await.code(), 0);
        let run = evaluate_once(&store, &account.url, later + 60_000)
            .await
            .expect("evaluates");
        assert!(run.resolved >= 1, "{run:?}");
        let (_, page) = owner.get("/api/v1/alerts").await;
        let found = kinds(&page);
        assert!(
            !found.iter().any(|(k, _)| k == "shift_open_too_long"),
            "{found:?}"
        );
        server.shutdown().await.expect("ingest stops");
        account.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_z_report_that_differs_from_its_shift_s_documents_raises_an_alert() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let fn_number = ingest_support::fn_number(977);
        let (account, owner, register) = owner_and_ru_register(&store, &fn_number).await;
        let server = Server::start(ingest_support::config(&db.url))
            .await
            .expect("ingest");
        // One receipt, and a Z report made now that counts three.
        let now_s = u32::try_from(ofd::clock::unix_seconds()).expect("fits");
        deliver(
            server.local_addr(),
            &receipt_frame(&fn_number, 1, 5_000, None),
        )
        .await;
        deliver(
            server.local_addr(),
            &close_shift_counting(2, &fn_number, 2, now_s, false, 0, 0, Some(3)),
        )
        .await;
        server.shutdown().await.expect("ingest stops");
        let projector = ofd::project::Projector::new(&store);
        ofd::project::catch_up(&projector, 50, 2)
            .await
            .expect("projects");

        evaluate_once(&store, &account.url, ofd::clock::unix_millis())
            .await
            .expect("evaluates");
        let (_, page) = owner.get("/api/v1/alerts").await;
        assert_eq!(
            kinds(&page),
            vec![("z_report_mismatch".into(), "firing".into())]
        );
        assert_eq!(page["alerts"][0]["detail"]["shifts"], json!([1]));
        assert_eq!(page["alerts"][0]["register_id"], register["id"]);
        account.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn silence_counts_from_the_last_document_of_any_of_the_register_s_drives() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let old_fn = ingest_support::fn_number(978);
        let (account, owner, register) = owner_and_ru_register(&store, &old_fn).await;
        let id = register["id"].as_i64().expect("id");
        // Provisioned ten days ago; its drive's one receipt arrives now.
        sqlx::query("UPDATE registers SET created_at = created_at - $1 WHERE id = $2")
            .bind(240 * HOUR_MS)
            .bind(id)
            .execute(store.pool())
            .await
            .expect("backdated");
        let server = Server::start(ingest_support::config(&db.url))
            .await
            .expect("ingest");
        deliver(server.local_addr(), &receipt_frame(&old_fn, 1, 5_000, None)).await;
        server.shutdown().await.expect("ingest stops");
        let projector = ofd::project::Projector::new(&store);
        ofd::project::catch_up(&projector, 50, 2)
            .await
            .expect("projects");

        // The drive is replaced; the new one has sent nothing yet.
        let (status, replaced) = owner
            .post(
                &format!("/api/v1/registers/{id}/drives"),
                json!({ "fn_number": ingest_support::fn_number(979) }),
            )
            .await;
        assert_eq!(status, 200, "{replaced}");
        let now = ofd::clock::unix_millis();
        let run = evaluate_once(&store, &account.url, now + HOUR_MS)
            .await
            .expect("evaluates");
        assert_eq!(
            run.raised, 0,
            "the old drive's receipt is an hour old: {run:?}"
        );

        // A day on, the silence is counted from that receipt, not from the provisioning.
        evaluate_once(&store, &account.url, now + 25 * HOUR_MS)
            .await
            .expect("evaluates");
        let (_, page) = owner.get("/api/v1/alerts").await;
        assert_eq!(kinds(&page), vec![("no_documents".into(), "firing".into())]);
        assert_eq!(page["alerts"][0]["detail"]["hours_silent"], 25, "{page}");
        account.stop().await;
        store.close().await;
    })
    .await;
}
