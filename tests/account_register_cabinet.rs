//! Registers as the cabinet keeps them, over real HTTP (and, for ingest, real TCP) on each
//! backend: points of sale, register fields and their validations, every transition of the
//! state machine (allowed and refused), edits kept as versions, the status history, drive
//! replacement with documents from both drives, and the backlog rule of a closed register.

mod account_support;
mod common;
mod ingest_support;

use account_support::{error_code, Account, Client, DigestSigner};
use common::on_each_backend;
use ingest_support::{ack_fields, doc_time_after_now, receipt_frame_at, send_one};
use ofd::project::{catch_up, Projector};
use ofd::store::register_numbers::{luhn_ok, rn_kkt_check};
use reqwest::Method;
use serde_json::{json, Value};

const INN_A: &str = "7707083893";
const INN_B: &str = "7736050003";
const SERIAL: &str = "00106700123456";

/// A test ФН number.
fn fn_number(n: u64) -> String {
    ingest_support::fn_number(9_000 + n)
}

/// A valid РН ККТ of ordinal `n` for `inn` and `serial`.
fn rn(n: u64, inn: &str, serial: &str) -> String {
    let ordinal = format!("{n:010}");
    let check = rn_kkt_check(&ordinal, inn, serial);
    format!("{ordinal}{check}")
}

/// A valid 19-digit ICCID ending the Luhn way after `body` (18 digits).
fn iccid(body: &str) -> String {
    (0..10)
        .map(|d| format!("{body}{d}"))
        .find(|n| luhn_ok(n))
        .expect("one check digit fits")
}

/// The same ICCID with a wrong check digit.
fn bad_iccid(body: &str) -> String {
    let good = iccid(body);
    let last = good.as_bytes()[18] - b'0';
    format!("{body}{}", (last + 1) % 10)
}

/// Two organisations, and an owner key of each.
struct Cabinet {
    account: Account,
    operator: Client,
    a: Client,
    b: Client,
}

impl Cabinet {
    async fn start(store: &ofd::store::Store) -> Cabinet {
        Cabinet::on(Account::start(store).await).await
    }

    /// The two organisations on a running `account`.
    async fn on(account: Account) -> Cabinet {
        let operator = Client::with_key(&account.url, &account.key);
        let mut owners = Vec::new();
        for (inn, name) in [(INN_A, "a"), (INN_B, "b")] {
            let (status, org) = operator
                .post(
                    "/api/v1/organisations",
                    json!({ "inn": inn, "name": format!("ООО {name}") }),
                )
                .await;
            assert_eq!(status, 201, "{org}");
            let (status, key) = operator
                .post(
                    "/api/v1/api-keys",
                    json!({ "name": name, "role": "owner", "org_id": org["id"] }),
                )
                .await;
            assert_eq!(status, 201, "{key}");
            owners.push(Client::with_key(
                &account.url,
                key["secret"].as_str().expect("secret"),
            ));
        }
        let b = owners.pop().expect("b");
        let a = owners.pop().expect("a");
        Cabinet {
            account,
            operator,
            a,
            b,
        }
    }
}

async fn put(client: &Client, path: &str, body: Value) -> (u16, Value) {
    client.call(Method::PUT, path, Some(body)).await
}

async fn patch(client: &Client, path: &str, body: Value) -> (u16, Value) {
    client.call(Method::PATCH, path, Some(body)).await
}

/// Provision a RU register of organisation A through `client`; the answer.
async fn ru_register(client: &Client, fn_n: u64, initial: &str, fields: Value) -> (u16, Value) {
    client
        .post(
            "/api/v1/registers",
            json!({
                "dialect": "ru",
                "fn_number": fn_number(fn_n),
                "org_inn": INN_A,
                "initial_status": initial,
                "fields": fields,
            }),
        )
        .await
}

#[tokio::test]
async fn points_of_sale_are_kept_per_organisation_and_group_registers() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let cabinet = Cabinet::start(&store).await;
        let (a, b) = (&cabinet.a, &cabinet.b);
        let pos_path = format!("/api/v1/organisations/{INN_A}/points-of-sale");
        let station = json!({
            "name": "АЗС №3", "region": "Смоленская обл.", "city": "Ярцево",
            "street": "Советская", "house": "1", "premises": "2", "postal_code": "215800",
            "location": "junction of routes M-1 and R-135",
            "fias_code": "0c5b2444-70a0-4932-980c-b4dc0d3f02b5",
        });
        let (status, pos) = a.post(&pos_path, station.clone()).await;
        assert_eq!(status, 201, "{pos}");
        let pos_id = pos["id"].as_i64().unwrap();
        assert_eq!(pos["location"], "junction of routes M-1 and R-135");
        for (field, value) in [
            ("postal_code", json!("2158")),
            ("fias_code", json!("not-a-guid")),
            ("kato_code", json!("12345")),
            ("name", json!(" ")),
        ] {
            let mut bad = station.clone();
            bad[field] = value;
            let (status, answer) = a.post(&pos_path, bad).await;
            assert_eq!((status, error_code(&answer)), (400, "invalid_request"));
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(message.starts_with(field), "{field}: {message}");
        }
        let (status, answer) = a.post(&pos_path, json!({ "name": "x", "colour": 1 })).await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_body"));
        // KZ address with its КАТО code, for organisation B.
        let (status, kz_pos) = b
            .post(
                &format!("/api/v1/organisations/{INN_B}/points-of-sale"),
                json!({ "name": "Магазин", "kato_code": "751110000" }),
            )
            .await;
        assert_eq!(status, 201, "{kz_pos}");
        let kz_pos_id = kz_pos["id"].as_i64().unwrap();

        // Another organisation's point of sale is not found, for reading, changing, using.
        let one = format!("/api/v1/points-of-sale/{pos_id}");
        assert_eq!(b.get(&one).await.0, 404);
        assert_eq!(put(b, &one, json!({ "name": "mine" })).await.0, 404);
        assert_eq!(b.call(Method::DELETE, &one, None).await.0, 404);
        assert_eq!(b.get(&pos_path).await.0, 404);
        let (status, answer) = ru_register(a, 1, "active", json!({ "pos_id": kz_pos_id })).await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_request"));
        assert!(answer["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("pos_id"));

        let (status, updated) = put(a, &one, json!({ "name": "АЗС №3 (new)" })).await;
        assert_eq!(
            (status, updated["name"].as_str()),
            (200, Some("АЗС №3 (new)"))
        );
        let (status, register) = ru_register(a, 1, "active", json!({ "pos_id": pos_id })).await;
        assert_eq!(status, 201, "{register}");
        let (status, _) = ru_register(a, 2, "active", json!({})).await;
        assert_eq!(status, 201);
        let (status, answer) = a.call(Method::DELETE, &one, None).await;
        assert_eq!((status, error_code(&answer)), (409, "conflict"));

        let (status, grouped) = a
            .get(&format!(
                "/api/v1/organisations/{INN_A}/registers-by-point-of-sale"
            ))
            .await;
        assert_eq!(status, 200, "{grouped}");
        let groups = grouped["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 2, "{grouped}");
        assert_eq!(groups[0]["point_of_sale"]["id"], pos_id);
        assert_eq!(groups[0]["registers"][0]["id"], register["id"]);
        assert!(groups[1]["point_of_sale"].is_null());
        assert_eq!(groups[1]["registers"].as_array().unwrap().len(), 1);
        let (_, listed) = a.get(&format!("/api/v1/registers?pos_id={pos_id}")).await;
        assert_eq!(listed["registers"].as_array().unwrap().len(), 1);

        // Moving the register away frees the point of sale.
        let id = register["id"].as_i64().unwrap();
        let (_, second) = a.post(&pos_path, json!({ "name": "Киоск" })).await;
        let (status, _) = patch(
            a,
            &format!("/api/v1/registers/{id}"),
            json!({ "pos_id": second["id"] }),
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = a.call(Method::DELETE, &one, None).await;
        assert_eq!(status, 204);
        assert_eq!(a.get(&one).await.0, 404);
        let (_, audit) = a.get("/api/v1/audit").await;
        let actions: Vec<&str> = audit["entries"]
            .as_array()
            .expect("audit lines")
            .iter()
            .filter_map(|line| line["action"].as_str())
            .collect();
        for action in ["pos.create", "pos.update", "pos.delete", "register.edit"] {
            assert!(actions.contains(&action), "{action} in {actions:?}");
        }
        cabinet.account.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn register_fields_are_validated_and_searchable() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let cabinet = Cabinet::start(&store).await;
        let a = &cabinet.a;
        let good_iccid = iccid("897010269123456789");
        let good_rn = rn(1, INN_A, SERIAL);
        let fields = json!({
            "serial": SERIAL,
            "model": "АТОЛ 30Ф",
            "reg_number": good_rn,
            "device_type": "hardware",
            "connection_type": "sim",
            "iccid": good_iccid,
            "msisdn": "+7 (916) 123-45-67",
            "utc_offset_minutes": 180,
            "details": {
                "name": "Касса 1", "year_of_manufacture": 2023, "fn_model": "ФН-1.1М 15",
                "fn_expiry": "2026-12-31", "usage_modes": ["excise", "internet"],
                "ffd_version": "1.2",
            },
        });
        let (status, created) = ru_register(a, 1, "saved", fields.clone()).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["lifecycle"], "saved");
        assert_eq!(created["status"], "active", "saved registers still deliver");
        assert_eq!(
            created["details"]["usage_modes"],
            json!(["excise", "internet"])
        );
        assert_eq!(created["has_documents"], false);
        assert!(created["last_document_at"].is_null());

        // Each invalid value is refused with a message naming its field.
        let refusals = [
            ("iccid", json!(bad_iccid("897010269123456789"))),
            ("iccid", json!("89701026912345")),
            ("reg_number", json!(rn(1, INN_B, SERIAL))),
            ("reg_number", json!(rn(1, INN_A, "00106700123457"))),
            ("reg_number", json!("12345")),
            ("msisdn", json!("12-34")),
            ("utc_offset_minutes", json!(900)),
        ];
        for (n, (field, value)) in refusals.into_iter().enumerate() {
            let mut bad = fields.clone();
            bad[field] = value.clone();
            let (status, answer) = ru_register(a, 10 + n as u64, "active", bad).await;
            assert_eq!(
                (status, error_code(&answer)),
                (400, "invalid_request"),
                "{field} {value}"
            );
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(message.starts_with(field), "{field}: {message}");
        }
        let mut software_sim = fields.clone();
        software_sim["device_type"] = json!("software");
        let (status, answer) = ru_register(a, 30, "active", software_sim).await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_request"));
        let mut sim_without = fields.clone();
        sim_without.as_object_mut().unwrap().remove("iccid");
        sim_without.as_object_mut().unwrap().remove("reg_number");
        let (status, answer) = ru_register(a, 31, "active", sim_without).await;
        assert!(
            status == 400
                && answer["error"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("iccid"),
            "{answer}"
        );
        // A software register (АПК) needs no SIM.
        let (status, apk) = ru_register(
            a,
            32,
            "active",
            json!({ "device_type": "software", "connection_type": "wired" }),
        )
        .await;
        assert_eq!(status, 201, "{apk}");
        // ИНН check digits: an organisation with a wrong one is refused, naming the field.
        for inn in ["7707083894", "500100732250"] {
            let (status, answer) = cabinet
                .operator
                .post("/api/v1/organisations", json!({ "inn": inn, "name": "x" }))
                .await;
            assert_eq!(status, 400, "{inn}: {answer}");
            assert!(answer["error"]["message"].as_str().unwrap().contains("inn"));
        }
        let (status, _) = cabinet
            .operator
            .post(
                "/api/v1/organisations",
                json!({ "inn": "500100732259", "name": "ИП" }),
            )
            .await;
        assert_eq!(status, 201, "a valid 12-digit ИНН");

        // KZ: РНМ is 12 digits.
        let kz = |reg: &str| {
            json!({ "dialect": "kz", "org_inn": INN_B, "fields": {
                "reg_number": reg, "details": { "kgd_card_number": "KGD-1",
                "previous_reg_number": "000000000001" } } })
        };
        let (status, kz_ok) = cabinet
            .b
            .post("/api/v1/registers", kz("123456789012"))
            .await;
        assert_eq!(status, 201, "{kz_ok}");
        assert_eq!(kz_ok["details"]["kgd_card_number"], "KGD-1");
        assert!(kz_ok["token"].as_i64().is_some());
        let (status, answer) = cabinet.b.post("/api/v1/registers", kz("1234567890")).await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_request"));
        assert!(answer["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("reg_number"));

        // Search: by the MSISDN's last 10 digits, serial, registration number, FN, system id.
        let id = created["id"].clone();
        for query in [
            "msisdn=89161234567".to_owned(),
            format!("q={SERIAL}"),
            format!("q={good_rn}"),
            format!("q={}", fn_number(1)),
            "connection_type=sim".to_owned(),
            "lifecycle=saved".to_owned(),
        ] {
            let (status, page) = a.get(&format!("/api/v1/registers?{query}")).await;
            assert_eq!(status, 200, "{query}: {page}");
            let ids: Vec<&Value> = page["registers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| &r["id"])
                .collect();
            assert_eq!(ids, [&id], "{query}");
        }
        let (_, by_system_id) = cabinet
            .b
            .get(&format!("/api/v1/registers?q={}", kz_ok["system_id"]))
            .await;
        assert_eq!(by_system_id["registers"][0]["id"], kz_ok["id"]);
        // Organisation B sees none of A's registers, whatever it searches.
        let (_, none) = cabinet
            .b
            .get(&format!("/api/v1/registers?q={SERIAL}"))
            .await;
        assert_eq!(none["registers"], json!([]));
        let (_, page) = a.get("/api/v1/registers?device_type=software").await;
        assert_eq!(page["registers"][0]["id"], apk["id"]);
        // Sort and cursor pages.
        let (_, first) = a.get("/api/v1/registers?sort=-id&limit=1").await;
        assert_eq!(first["registers"][0]["id"], apk["id"]);
        let cursor = first["next_cursor"]
            .as_str()
            .expect("a next page")
            .to_owned();
        let (_, second) = a
            .get(&format!(
                "/api/v1/registers?sort=-id&limit=1&cursor={cursor}"
            ))
            .await;
        assert_eq!(second["registers"][0]["id"], id);
        let (status, answer) = a.get("/api/v1/registers?cursor=nonsense").await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_request"));
        cabinet.account.stop().await;
        store.close().await;
    })
    .await;
}

/// The path from `saved` to each state, as status changes.
fn path_to(state: &str) -> Vec<Value> {
    let to = |s: &str| json!({ "status": s });
    match state {
        "saved" => vec![],
        "submitted" => vec![to("submitted")],
        "registered" => vec![to("submitted"), to("registered")],
        "active" => vec![to("submitted"), to("registered"), to("active")],
        "blocked" => vec![
            to("submitted"),
            to("registered"),
            to("active"),
            to("blocked"),
        ],
        "reregistration" => vec![to("submitted"), to("registered"), to("reregistration")],
        "deregistered" => vec![json!({ "status": "deregistered", "reason": "broken" })],
        other => panic!("{other}"),
    }
}

const STATES: [&str; 7] = [
    "saved",
    "submitted",
    "registered",
    "active",
    "blocked",
    "reregistration",
    "deregistered",
];

#[tokio::test]
async fn every_transition_is_allowed_or_refused_as_the_state_machine_says() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let cabinet = Cabinet::start(&store).await;
        let a = &cabinet.a;
        let allowed = [
            ("saved", "submitted"),
            ("submitted", "registered"),
            ("registered", "active"),
            ("active", "blocked"),
            ("blocked", "active"),
            ("registered", "reregistration"),
            ("active", "reregistration"),
            ("blocked", "reregistration"),
            ("reregistration", "registered"),
        ];
        let mut n = 100;
        for from in STATES {
            for to in STATES {
                n += 1;
                let (status, created) = ru_register(a, n, "saved", json!({})).await;
                assert_eq!(status, 201, "{created}");
                let id = created["id"].as_i64().unwrap();
                let status_path = format!("/api/v1/registers/{id}/status");
                for step in path_to(from) {
                    let (status, answer) = put(a, &status_path, step.clone()).await;
                    assert_eq!(status, 200, "{from}: {step} {answer}");
                }
                let body = if to == "deregistered" {
                    json!({ "status": to, "reason": "closed_business" })
                } else {
                    json!({ "status": to })
                };
                let (status, answer) = put(a, &status_path, body).await;
                let expected = if from == "deregistered" {
                    (409, "conflict")
                } else if to == "saved" {
                    (400, "invalid_request")
                } else if to == "deregistered" || allowed.contains(&(from, to)) || from == to {
                    (200, "")
                } else {
                    (409, "conflict")
                };
                let got = if status == 200 {
                    assert_eq!(answer["lifecycle"], to, "{from} -> {to}");
                    (200, "")
                } else {
                    (status, error_code(&answer))
                };
                assert_eq!(got, expected, "{from} -> {to}: {answer}");
            }
        }
        cabinet.account.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn edits_versions_reasons_history_and_audit() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let cabinet = Cabinet::start(&store).await;
        let (a, b) = (&cabinet.a, &cabinet.b);
        let (_, created) = ru_register(a, 1, "active", json!({ "serial": SERIAL })).await;
        let id = created["id"].as_i64().unwrap();
        let one = format!("/api/v1/registers/{id}");
        let status_path = format!("{one}/status");
        let (status, blocked) = put(a, &status_path, json!({ "status": "blocked" })).await;
        assert_eq!((status, blocked["status"].as_str()), (200, Some("blocked")));

        // An edit of a blocked register waits in `saved` and stays blocked for ingest.
        let (status, edited) = patch(a, &one, json!({ "model": "Эвотор 7.3" })).await;
        assert_eq!(status, 200, "{edited}");
        assert_eq!(
            (edited["lifecycle"].as_str(), edited["status"].as_str()),
            (Some("saved"), Some("blocked"))
        );
        assert_eq!(edited["saved_from"], "blocked");
        let (status, _) = patch(a, &one, json!({ "details": { "name": "Касса у входа" } })).await;
        assert_eq!(status, 200);
        // An engineer may edit but only the owner (or operator staff) confirms.
        let engineer = key_of_a(&cabinet, "engineer").await;
        let (status, answer) = engineer
            .call(Method::POST, &format!("{one}/confirm"), None)
            .await;
        assert_eq!((status, error_code(&answer)), (403, "forbidden"));
        let (status, confirmed) = a.call(Method::POST, &format!("{one}/confirm"), None).await;
        assert_eq!(status, 200, "{confirmed}");
        assert_eq!(confirmed["lifecycle"], "blocked");
        assert_eq!(confirmed["model"], "Эвотор 7.3");
        assert_eq!(confirmed["details"]["name"], "Касса у входа");
        let (status, answer) = a.call(Method::POST, &format!("{one}/confirm"), None).await;
        assert_eq!((status, error_code(&answer)), (409, "conflict"));
        let (status, answer) = patch(a, &one, json!({ "iccid": "123" })).await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_request"));

        let (_, versions) = a.get(&format!("{one}/versions")).await;
        let versions = versions.as_array().unwrap();
        assert_eq!(versions.len(), 3, "entered + two edits: {versions:?}");
        assert_eq!(versions[1]["snapshot"]["model"], "Эвотор 7.3");
        assert!(versions[2]["actor"].as_str().unwrap().starts_with("key:"));
        assert!(versions[2]["at"].as_i64().unwrap() >= versions[0]["at"].as_i64().unwrap());

        // Deregistration needs a reason from the list, and a text for `other`.
        let (status, answer) = put(a, &status_path, json!({ "status": "deregistered" })).await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_request"));
        assert!(answer["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("reason"));
        let (status, answer) = put(
            a,
            &status_path,
            json!({ "status": "deregistered", "reason": "other" }),
        )
        .await;
        assert!(
            status == 400
                && answer["error"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("reason_text"),
            "{answer}"
        );
        let (status, answer) = put(
            a,
            &status_path,
            json!({ "status": "deregistered", "reason": "stolen" }),
        )
        .await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_body"));
        let (status, answer) = put(
            a,
            &status_path,
            json!({ "status": "active", "reason": "sold" }),
        )
        .await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_request"));
        // Another organisation cannot touch it, nor read its history.
        for path in [
            one.clone(),
            format!("{one}/versions"),
            format!("{one}/history"),
            format!("{one}/drives"),
        ] {
            assert_eq!(b.get(&path).await.0, 404, "{path}");
        }
        let (status, _) = put(
            b,
            &status_path,
            json!({ "status": "deregistered", "reason": "sold" }),
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(patch(b, &one, json!({ "model": "x" })).await.0, 404);

        let (status, gone) = put(
            a,
            &status_path,
            json!({ "status": "deregistered", "reason": "other", "reason_text": "moved abroad" }),
        )
        .await;
        assert_eq!(
            (status, gone["status"].as_str()),
            (200, Some("deregistered"))
        );
        assert_eq!(patch(a, &one, json!({ "model": "x" })).await.0, 409);

        let (_, history) = a.get(&format!("{one}/history")).await;
        let steps: Vec<(String, String)> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["from"].as_str().unwrap().to_owned(),
                    h["to"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected = [
            ("new", "active"),
            ("active", "blocked"),
            ("blocked", "saved"),
            ("saved", "blocked"),
            ("blocked", "deregistered"),
        ];
        assert_eq!(
            steps,
            expected
                .iter()
                .map(|(f, t)| (f.to_string(), t.to_string()))
                .collect::<Vec<_>>()
        );
        let last = &history[4];
        assert_eq!(
            (last["reason"].as_str(), last["reason_text"].as_str()),
            (Some("other"), Some("moved abroad"))
        );
        assert!(last["actor"].as_str().unwrap().starts_with("key:"));

        let (_, audit) = a.get("/api/v1/audit?limit=1000").await;
        let lines = audit["entries"].as_array().expect("audit lines").clone();
        let status_lines: Vec<String> = lines
            .iter()
            .filter(|l| l["action"] == "register.status" && l["object"] == format!("register:{id}"))
            .map(|l| l["detail"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert!(
            status_lines
                .iter()
                .any(|d| d.contains("deregistered (other: moved abroad)")),
            "{status_lines:?}"
        );
        assert_eq!(
            status_lines.len(),
            3,
            "block, confirm, deregister: {status_lines:?}"
        );
        cabinet.account.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn drive_replacement_keeps_the_register_and_files_both_drives_documents() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let cabinet = Cabinet::start(&store).await;
        let a = &cabinet.a;
        let reg_number = rn(7, INN_A, SERIAL);
        let (_, created) = ru_register(
            a,
            1,
            "active",
            json!({ "serial": SERIAL, "reg_number": reg_number,
                    "details": { "fn_model": "ФН-1.1М", "fn_expiry": "2026-01-31" } }),
        )
        .await;
        let id = created["id"].as_i64().unwrap();
        let one = format!("/api/v1/registers/{id}");
        let (old_fn, new_fn) = (fn_number(1), fn_number(2));

        let mut options = ingest_support::options(&db.url);
        options.ingest.accept_unregistered = Some(false);
        options.ingest.register_cache_ms = Some(0);
        let server = ofd::ingest::Server::start(options.resolve().expect("config"))
            .await
            .expect("server");
        let addr = server.local_addr();
        let code = |fn_number: String, fd: u32, time: u32| async move {
            let frame = receipt_frame_at(&fn_number, fd, fd, time);
            ack_fields(&send_one(addr, &frame).await.expect("reply")).code
        };
        let long_ago = 1_700_000_000;
        assert_eq!(code(old_fn.clone(), 1, long_ago).await, 0);
        // A RU register's last document time is the projector's: none before it has run.
        let (_, read) = a.get(&one).await;
        assert_eq!(read["has_documents"], false, "{read}");
        let projector = Projector::new(&store);
        catch_up(&projector, 100, 2).await.expect("projects");
        let (_, read) = a.get(&one).await;
        assert_eq!(read["has_documents"], true, "{read}");
        let first_document_at = read["last_document_at"].as_i64().expect("a time");

        let started_at = ofd::clock::unix_millis();
        let (status, replaced) = a
            .post(
                &format!("{one}/drives"),
                json!({ "fn_number": new_fn, "fn_model": "ФН-1.2", "fn_expiry": "2028-06-30",
                        "started_at": started_at }),
            )
            .await;
        assert_eq!(status, 200, "{replaced}");
        assert_eq!(replaced["id"], id);
        assert_eq!(replaced["fn_number"], new_fn.as_str());
        assert_eq!(
            replaced["reg_number"],
            reg_number.as_str(),
            "keeps its number"
        );
        assert_eq!(replaced["details"]["fn_model"], "ФН-1.2");
        // The old drive's last documents made before the replacement (its close-archive
        // report among them) are accepted; one made after it is not; the new drive works.
        assert_eq!(code(old_fn.clone(), 2, long_ago + 10).await, 0);
        assert_eq!(code(old_fn.clone(), 3, doc_time_after_now(60)).await, 11);
        assert_eq!(code(new_fn.clone(), 1, doc_time_after_now(0)).await, 0);

        let (_, drives) = a.get(&format!("{one}/drives")).await;
        let drives = drives.as_array().unwrap();
        assert_eq!(drives.len(), 2, "{drives:?}");
        assert_eq!(drives[0]["fn_number"], old_fn.as_str());
        assert_eq!(drives[0]["ended_at"], started_at);
        assert_eq!(drives[1]["fn_number"], new_fn.as_str());
        assert!(drives[1]["ended_at"].is_null());
        // Found by either drive's number; the last document time covers both drives.
        for q in [&old_fn, &new_fn] {
            let (_, page) = a.get(&format!("/api/v1/registers?q={q}")).await;
            assert_eq!(page["registers"][0]["id"], id, "{q}");
        }
        catch_up(&projector, 100, 2).await.expect("projects");
        let (_, read) = a.get(&one).await;
        let (stored, newest): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), MAX(received_at) FROM documents \
             WHERE fn_number = $1 OR fn_number = $2",
        )
        .bind(&old_fn)
        .bind(&new_fn)
        .fetch_one(store.pool())
        .await
        .expect("the two drives' documents");
        assert_eq!(stored, 3);
        assert!(newest > first_document_at);
        assert_eq!(read["last_document_at"].as_i64(), Some(newest), "{read}");

        // A used number is refused; so is a KZ register or a bad number.
        for (body, expected) in [
            (json!({ "fn_number": old_fn }), (409, "conflict")),
            (json!({ "fn_number": "123" }), (400, "invalid_request")),
            (
                json!({ "fn_number": fn_number(3), "fn_expiry": "31.12.2026" }),
                (400, "invalid_request"),
            ),
        ] {
            let (status, answer) = a.post(&format!("{one}/drives"), body).await;
            assert_eq!((status, error_code(&answer)), expected, "{answer}");
        }
        let (status, _) = cabinet
            .b
            .post(
                &format!("{one}/drives"),
                json!({ "fn_number": fn_number(4) }),
            )
            .await;
        assert_eq!(status, 404);
        // A new register cannot take a replaced drive's number.
        let (status, answer) = ru_register(a, 1, "active", json!({})).await;
        assert_eq!((status, error_code(&answer)), (409, "conflict"));
        server.shutdown().await.expect("clean shutdown");
        cabinet.account.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_closed_register_delivers_its_backlog_and_nothing_newer() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let cabinet = Cabinet::start(&store).await;
        let a = &cabinet.a;
        let ttl = std::time::Duration::from_millis(300);
        let mut options = ingest_support::options(&db.url);
        options.ingest.accept_unregistered = Some(false);
        options.ingest.register_cache_ms = Some(ttl.as_millis() as u64);
        let server = ofd::ingest::Server::start(options.resolve().expect("config"))
            .await
            .expect("server");
        let addr = server.local_addr();
        let code = |fn_number: String, fd: u32, time: u32| async move {
            let frame = receipt_frame_at(&fn_number, fd, fd, time);
            ack_fields(&send_one(addr, &frame).await.expect("reply")).code
        };
        // Clocks three hours ahead of UTC: document times are read in the register's zone.
        let fields = json!({ "utc_offset_minutes": 180 });
        let (_, blocked) = ru_register(a, 1, "active", fields.clone()).await;
        let (_, gone) = ru_register(a, 2, "active", fields).await;
        let (blocked_fn, gone_fn) = (fn_number(1), fn_number(2));
        let before = doc_time_after_now(0) + 3 * 3600 - 120; // local time two minutes ago
        let after = doc_time_after_now(60) + 3 * 3600; // local time a minute from now
        assert_eq!(
            code(blocked_fn.clone(), 1, after).await,
            0,
            "active: anything"
        );

        let (status, _) = put(
            a,
            &format!("/api/v1/registers/{}/status", blocked["id"]),
            json!({ "status": "blocked" }),
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = put(
            a,
            &format!("/api/v1/registers/{}/status", gone["id"]),
            json!({ "status": "deregistered", "reason": "closed_business" }),
        )
        .await;
        assert_eq!(status, 200);
        tokio::time::sleep(ttl + std::time::Duration::from_millis(100)).await;

        for fn_number in [&blocked_fn, &gone_fn] {
            assert_eq!(
                code(fn_number.clone(), 2, before).await,
                0,
                "backlog of {fn_number}"
            );
            assert_eq!(
                code(fn_number.clone(), 3, after).await,
                11,
                "newer of {fn_number}"
            );
        }
        // Unblocked, it sends anything again (within the cache's TTL).
        let (status, _) = put(
            a,
            &format!("/api/v1/registers/{}/status", blocked["id"]),
            json!({ "status": "active" }),
        )
        .await;
        assert_eq!(status, 200);
        tokio::time::sleep(ttl + std::time::Duration::from_millis(100)).await;
        assert_eq!(code(blocked_fn.clone(), 4, after).await, 0);
        server.shutdown().await.expect("clean shutdown");
        cabinet.account.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn openapi_lists_the_cabinet_routes() {
    let db = common::TestDb::sqlite();
    let store = db.open().await;
    let account = Account::start(&store).await;
    let (status, doc) = Client::anonymous(&account.url)
        .get("/api/openapi.json")
        .await;
    assert_eq!(status, 200);
    for (path, methods) in [
        ("/api/v1/registers/{id}", &["get", "patch"][..]),
        ("/api/v1/registers/{id}/status", &["put"]),
        ("/api/v1/registers/{id}/confirm", &["post"]),
        ("/api/v1/registers/{id}/versions", &["get"]),
        ("/api/v1/registers/{id}/history", &["get"]),
        ("/api/v1/registers/{id}/drives", &["get", "post"]),
        (
            "/api/v1/organisations/{inn}/points-of-sale",
            &["get", "post"],
        ),
        (
            "/api/v1/organisations/{inn}/registers-by-point-of-sale",
            &["get"],
        ),
        ("/api/v1/points-of-sale/{id}", &["get", "put", "delete"]),
        ("/api/v1/registers/{id}/applications", &["get", "post"]),
        ("/api/v1/applications/{id}", &["get"]),
        ("/api/v1/applications/{id}/print", &["get"]),
        ("/api/v1/applications/{id}/sign", &["post"]),
        ("/api/v1/applications/{id}/submit", &["post"]),
        ("/api/v1/applications/{id}/answer", &["post"]),
        ("/api/v1/registers/batch", &["post"]),
        ("/api/v1/registers/import", &["post"]),
    ] {
        for method in methods {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} missing from the OpenAPI document"
            );
        }
    }
    for schema in [
        "RegisterEdit",
        "PosFields",
        "NewDrive",
        "RegisterTransition",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    account.stop().await;
}

/// An owner-organisation key of organisation A acting as `role`.
async fn key_of_a(cabinet: &Cabinet, role: &str) -> Client {
    let (_, orgs) = cabinet
        .operator
        .get(&format!("/api/v1/organisations/{INN_A}"))
        .await;
    let (status, key) = cabinet
        .operator
        .post(
            "/api/v1/api-keys",
            json!({ "name": role, "role": role, "org_id": orgs["id"] }),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    Client::with_key(&cabinet.account.url, key["secret"].as_str().unwrap())
}

#[tokio::test]
async fn tax_applications_move_the_register_through_the_tax_authoritys_answer() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let cabinet = Cabinet::start(&store).await;
        let (a, b) = (&cabinet.a, &cabinet.b);
        let engineer = key_of_a(&cabinet, "engineer").await;
        let (_, pos) = a
            .post(
                &format!("/api/v1/organisations/{INN_A}/points-of-sale"),
                json!({ "name": "Кафе <Уют>", "city": "Москва", "postal_code": "101000" }),
            )
            .await;
        let (_, created) = ru_register(
            a,
            1,
            "saved",
            json!({ "serial": SERIAL, "model": "АТОЛ 30Ф", "pos_id": pos["id"] }),
        )
        .await;
        let id = created["id"].as_i64().unwrap();
        let one = format!("/api/v1/registers/{id}");
        let apps = format!("{one}/applications");

        // Only a fitting kind: a saved register cannot be re-registered.
        let (status, answer) = a
            .post(
                &apps,
                json!({ "kind": "reregistration", "reasons": ["new_address"] }),
            )
            .await;
        assert_eq!((status, error_code(&answer)), (409, "conflict"));
        let (status, app) = a.post(&apps, json!({ "kind": "registration" })).await;
        assert_eq!(status, 201, "{app}");
        assert_eq!(app["status"], "draft");
        assert_eq!(app["fields"]["point_of_sale"]["name"], "Кафе <Уют>");
        let app_path = format!("/api/v1/applications/{}", app["id"]);

        // The printable page and the export.
        let page = reqwest::Client::new()
            .get(format!("{}{app_path}/print", cabinet.account.url))
            .bearer_auth(a.bearer.clone().expect("a key"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let html = page.text().await.unwrap();
        assert!(html.contains("Заявление о регистрации ККТ"), "{html}");
        assert!(html.contains(SERIAL) && html.contains(&fn_number(1)));
        assert!(html.contains("Кафе &lt;Уют&gt;"), "escaped: {html}");
        let (status, export) = a.get(&app_path).await;
        assert_eq!(status, 200);
        assert_eq!(export["fields"]["org_inn"], INN_A);
        assert!(export["signed_payload"]
            .as_str()
            .is_some_and(|p| !p.is_empty()));
        // No e-signature is configured here: signing is refused, submitting unsigned works.
        let (status, answer) = a
            .post(&format!("{app_path}/sign"), json!({ "signature": "AAAA" }))
            .await;
        assert_eq!((status, error_code(&answer)), (501, "esign_not_configured"));

        // Other organisations see none of it.
        for path in [app_path.clone(), format!("{app_path}/print"), apps.clone()] {
            assert_eq!(b.get(&path).await.0, 404, "{path}");
        }
        assert_eq!(
            b.post(&format!("{app_path}/submit"), json!({})).await.0,
            404
        );

        let (status, answer) = a
            .post(&format!("{app_path}/answer"), json!({ "accepted": true }))
            .await;
        assert_eq!(
            (status, error_code(&answer)),
            (409, "conflict"),
            "not yet submitted"
        );
        let (status, submitted) = a.post(&format!("{app_path}/submit"), json!({})).await;
        assert_eq!(
            (status, submitted["status"].as_str()),
            (200, Some("submitted"))
        );
        let (_, register) = a.get(&one).await;
        assert_eq!(register["lifecycle"], "submitted");

        // The answer: only operator staff or the owner; the number is checked.
        let good_rn = rn(42, INN_A, SERIAL);
        let (status, _) = engineer
            .post(
                &format!("{app_path}/answer"),
                json!({ "accepted": true, "reg_number": good_rn }),
            )
            .await;
        assert_eq!(status, 403);
        for body in [
            json!({ "accepted": true }),
            json!({ "accepted": true, "reg_number": rn(42, INN_A, "OTHER") }),
        ] {
            let (status, answer) = a.post(&format!("{app_path}/answer"), body).await;
            assert_eq!((status, error_code(&answer)), (400, "invalid_request"));
            assert!(answer["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("reg_number"));
        }
        let registered_at = 1_780_000_000_000_i64;
        let (status, accepted) = cabinet
            .operator
            .post(
                &format!("{app_path}/answer"),
                json!({ "accepted": true, "reg_number": good_rn, "registered_at": registered_at }),
            )
            .await;
        assert_eq!(
            (status, accepted["status"].as_str()),
            (200, Some("accepted")),
            "{accepted}"
        );
        let (_, register) = a.get(&one).await;
        assert_eq!(register["lifecycle"], "registered");
        assert_eq!(register["reg_number"], good_rn.as_str());
        assert_eq!(register["registered_at"], registered_at);
        let (_, page) = a
            .get(&format!(
                "/api/v1/registers?registered_from={}&registered_to={}",
                registered_at - 1,
                registered_at + 1
            ))
            .await;
        assert_eq!(page["registers"][0]["id"], id);

        // Re-registration (new address): the register waits in `reregistration`.
        let (status, answer) = a.post(&apps, json!({ "kind": "reregistration" })).await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_request"));
        let (_, rereg) = a
            .post(
                &apps,
                json!({ "kind": "reregistration", "reasons": ["new_address", "new_drive"] }),
            )
            .await;
        let rereg_path = format!("/api/v1/applications/{}", rereg["id"]);
        a.post(&format!("{rereg_path}/submit"), json!({})).await;
        let (_, register) = a.get(&one).await;
        assert_eq!(register["lifecycle"], "reregistration");
        let (status, answer) = a
            .post(
                &format!("{rereg_path}/answer"),
                json!({ "accepted": false }),
            )
            .await;
        assert!(
            status == 400
                && answer["error"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("refusal_reason")
        );
        let (status, refused) = a
            .post(
                &format!("{rereg_path}/answer"),
                json!({ "accepted": false, "refusal_reason": "адрес не найден в ФИАС" }),
            )
            .await;
        assert_eq!(
            (status, refused["refusal_reason"].as_str()),
            (200, Some("адрес не найден в ФИАС"))
        );
        assert_eq!(refused["status"], "refused");

        // Deregistration needs its reason; accepted, the register is deregistered with it.
        let (status, _) = a.post(&apps, json!({ "kind": "deregistration" })).await;
        assert_eq!(status, 400);
        let (_, dereg) = a
            .post(
                &apps,
                json!({ "kind": "deregistration", "deregistration_reason": "sold" }),
            )
            .await;
        let dereg_path = format!("/api/v1/applications/{}", dereg["id"]);
        a.post(&format!("{dereg_path}/submit"), json!({})).await;
        let (status, _) = a
            .post(&format!("{dereg_path}/answer"), json!({ "accepted": true }))
            .await;
        assert_eq!(status, 200);
        let (_, register) = a.get(&one).await;
        assert_eq!(register["lifecycle"], "deregistered");
        let (_, history) = a.get(&format!("{one}/history")).await;
        let last = history.as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (last["to"].as_str(), last["reason"].as_str()),
            (Some("deregistered"), Some("sold"))
        );

        let (_, listed) = a.get(&apps).await;
        let statuses: Vec<&str> = listed["applications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["accepted", "refused", "accepted"]);

        // A refused registration sends the register back to `saved` for correction.
        let (_, second) = ru_register(a, 2, "saved", json!({ "serial": SERIAL })).await;
        let second_apps = format!("/api/v1/registers/{}/applications", second["id"]);
        let (_, app2) = a
            .post(&second_apps, json!({ "kind": "registration" }))
            .await;
        let app2_path = format!("/api/v1/applications/{}", app2["id"]);
        a.post(&format!("{app2_path}/submit"), json!({})).await;
        let (status, _) = a
            .post(
                &format!("{app2_path}/answer"),
                json!({ "accepted": false, "refusal_reason": "неверный заводской номер" }),
            )
            .await;
        assert_eq!(status, 200);
        let (_, register) = a.get(&format!("/api/v1/registers/{}", second["id"])).await;
        assert_eq!(register["lifecycle"], "saved");

        let (_, audit) = a.get("/api/v1/audit?limit=1000").await;
        let actions: Vec<&str> = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|l| l["action"].as_str())
            .collect();
        for action in [
            "application.create",
            "application.submit",
            "application.answer",
        ] {
            assert!(actions.contains(&action), "{action}");
        }
        cabinet.account.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn batch_actions_report_per_register_and_csv_imports_per_row() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let cabinet = Cabinet::start(&store).await;
        let (a, b) = (&cabinet.a, &cabinet.b);
        let mut ids = Vec::new();
        for n in 1..=3 {
            let (_, r) = ru_register(a, n, "active", json!({})).await;
            ids.push(r["id"].as_i64().unwrap());
        }
        let (_, saved) = ru_register(a, 4, "saved", json!({})).await;
        let saved_id = saved["id"].as_i64().unwrap();
        let (_, other) = b
            .post(
                "/api/v1/registers",
                json!({ "dialect": "kz", "org_inn": INN_B }),
            )
            .await;
        let other_id = other["id"].as_i64().unwrap();

        // Block by ids: the saved register refuses, the other organisation's is not found.
        let (status, result) = a
            .post(
                "/api/v1/registers/batch",
                json!({ "ids": [ids[0], ids[1], saved_id, other_id, 999_999],
                        "action": { "type": "block" } }),
            )
            .await;
        assert_eq!(status, 200, "{result}");
        assert_eq!(
            (result["done"].as_u64(), result["failed"].as_u64()),
            (Some(2), Some(3))
        );
        let codes: Vec<(Value, bool, Value)> = result["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["id"].clone(),
                    r["ok"].as_bool().unwrap(),
                    r["code"].clone(),
                )
            })
            .collect();
        assert_eq!(
            codes,
            [
                (json!(ids[0]), true, Value::Null),
                (json!(ids[1]), true, Value::Null),
                (json!(saved_id), false, json!("conflict")),
                (json!(other_id), false, json!("not_found")),
                (json!(999_999), false, json!("not_found")),
            ]
        );
        let (_, other_now) = b.get(&format!("/api/v1/registers/{other_id}")).await;
        assert_eq!(other_now["lifecycle"], "active", "untouched");

        // Change point of sale by filter (blocked ones), then deregister by filter with reason.
        let (_, pos) = a
            .post(
                &format!("/api/v1/organisations/{INN_A}/points-of-sale"),
                json!({ "name": "Склад" }),
            )
            .await;
        let (_, moved) = a
            .post(
                "/api/v1/registers/batch",
                json!({ "filter": { "lifecycle": "blocked" },
                        "action": { "type": "change_pos", "pos_id": pos["id"] } }),
            )
            .await;
        assert_eq!(moved["done"], 2, "{moved}");
        let (_, at_pos) = a
            .get(&format!("/api/v1/registers?pos_id={}", pos["id"]))
            .await;
        assert_eq!(at_pos["registers"].as_array().unwrap().len(), 2);
        let (status, answer) = a
            .post(
                "/api/v1/registers/batch",
                json!({ "ids": [ids[2]], "action": { "type": "deregister" } }),
            )
            .await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_body"));
        let (_, gone) = a
            .post(
                "/api/v1/registers/batch",
                json!({ "ids": [ids[2], saved_id],
                        "action": { "type": "deregister", "reason": "other" } }),
            )
            .await;
        assert_eq!(gone["failed"], 2, "other without text: {gone}");
        let (_, gone) = a
            .post(
                "/api/v1/registers/batch",
                json!({ "ids": [ids[2], saved_id],
                        "action": { "type": "deregister", "reason": "sold" } }),
            )
            .await;
        assert_eq!(gone["done"], 2, "{gone}");
        let (status, answer) = a
            .post(
                "/api/v1/registers/batch",
                json!({ "ids": [1], "filter": {}, "action": { "type": "block" } }),
            )
            .await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_request"));

        // CSV import: one result per row, good rows made (saved), bad rows named.
        let good_iccid = iccid("897010269123456789");
        let csv = format!(
            "dialect,fn_number,serial,model,reg_number,device_type,connection_type,iccid,name\n\
             ru,{},{SERIAL},АТОЛ,{},hardware,sim,{good_iccid},Касса 1\n\
             ru,{},S2,АТОЛ,,hardware,sim,{},Касса 2\n\
             xx,,,,,,,,\n\
             ru,{},S3,,,software,wired,,АПК\n\
             ru,{},S4,,,tablet,,,\n",
            fn_number(11),
            rn(5, INN_A, SERIAL),
            fn_number(12),
            bad_iccid("897010269123456789"),
            fn_number(13),
            fn_number(14),
        );
        let response = reqwest::Client::new()
            .post(format!(
                "{}/api/v1/registers/import?org_inn={INN_A}",
                cabinet.account.url
            ))
            .bearer_auth(a.bearer.clone().expect("a key"))
            .header("content-type", "text/csv")
            .body(csv.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let report: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        let rows: Vec<(u64, bool)> = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["row"].as_u64().unwrap(), r["ok"].as_bool().unwrap()))
            .collect();
        assert_eq!(
            rows,
            [(2, true), (3, false), (4, false), (5, true), (6, false)]
        );
        let results = report["results"].as_array().unwrap();
        assert!(results[1]["message"].as_str().unwrap().starts_with("iccid"));
        assert!(results[2]["message"]
            .as_str()
            .unwrap()
            .starts_with("dialect"));
        assert!(results[4]["message"]
            .as_str()
            .unwrap()
            .starts_with("device_type"));
        let (_, made) = a
            .get(&format!("/api/v1/registers?q={}", fn_number(11)))
            .await;
        assert_eq!(made["registers"][0]["lifecycle"], "saved");
        assert_eq!(made["registers"][0]["details"]["name"], "Касса 1");
        // Another organisation cannot import into A.
        let response = reqwest::Client::new()
            .post(format!(
                "{}/api/v1/registers/import?org_inn={INN_A}",
                cabinet.account.url
            ))
            .bearer_auth(b.bearer.clone().expect("b key"))
            .body(csv)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        cabinet.account.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_configured_e_signature_signs_applications() {
    on_each_backend(|db| async move {
        use base64::Engine as _;
        let store = db.open().await;
        let account = Account::start_with_esign(
            &store,
            ofd::account::AccountOptions::default(),
            std::sync::Arc::new(DigestSigner),
        )
        .await;
        let cabinet = Cabinet::on(account).await;
        let a = &cabinet.a;
        let (_, created) = ru_register(a, 1, "saved", json!({ "serial": SERIAL })).await;
        let (_, app) = a
            .post(
                &format!("/api/v1/registers/{}/applications", created["id"]),
                json!({ "kind": "registration" }),
            )
            .await;
        let app_path = format!("/api/v1/applications/{}", app["id"]);
        let (_, export) = a.get(&app_path).await;
        let b64 = base64::engine::general_purpose::STANDARD;
        let payload = b64
            .decode(export["signed_payload"].as_str().unwrap())
            .unwrap();
        let sign = |tax_id: &str, bytes: &[u8]| {
            json!({ "signature": b64.encode(DigestSigner::sign(tax_id, bytes)) })
        };
        // Over other bytes, or by another taxpayer: refused, naming the signature.
        for body in [sign(INN_A, b"something else"), sign(INN_B, &payload)] {
            let (status, answer) = a.post(&format!("{app_path}/sign"), body).await;
            assert_eq!((status, error_code(&answer)), (400, "invalid_request"));
            assert!(answer["error"]["message"].as_str().unwrap().starts_with("signature"));
        }
        let (status, signed) = a.post(&format!("{app_path}/sign"), sign(INN_A, &payload)).await;
        assert_eq!(status, 200, "{signed}");
        assert_eq!(signed["status"], "signed");
        assert_eq!(signed["signer"], format!("Директор {INN_A}"));
        let (status, answer) = a.post(&format!("{app_path}/sign"), sign(INN_A, &payload)).await;
        assert_eq!((status, error_code(&answer)), (409, "conflict"), "signed once");
        let (status, submitted) = a.post(&format!("{app_path}/submit"), json!({})).await;
        assert_eq!((status, submitted["status"].as_str()), (200, Some("submitted")));
        assert_eq!(submitted["signer"], format!("Директор {INN_A}"));
        cabinet.account.stop().await;
        store.close().await;
    })
    .await;
}
