//! Wired-connection requests over real HTTP on loopback, on each backend: filing with field
//! checks, the transitions allowed and refused, operator-only scheduling and closing, listing for
//! operator staff (every organisation) and for an organisation (its own only; another's is 404).

mod account_support;
mod common;

use account_support::{enter_organisation, error_code, operator, org_client, provision, Account};
use common::on_each_backend;
use serde_json::{json, Value};

const KZ_BIN: &str = "000740001307";
const RU_INN: &str = "7707083893";

fn request_body(register_id: Option<i64>) -> Value {
    json!({
        "register_id": register_id,
        "address": "г. Алматы, ул. Абая 10, офис 5",
        "contact_person": "Айгуль",
        "phone": "+7 (701) 123-45-67",
        "preferred_date": "2027-01-15",
        "window_from": "10:00",
        "window_to": "13:00",
    })
}

fn message(answer: &Value) -> &str {
    answer["error"]["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn requests_move_only_along_allowed_transitions_and_stay_in_their_organisation() {
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
        let register_a = provision(&account, KZ_BIN, None).await["id"]
            .as_i64()
            .expect("id");
        let register_b = provision(&account, RU_INN, Some("9999078900001234")).await["id"]
            .as_i64()
            .expect("id");

        // Filing, with each field checked by name.
        let (status, first) = owner_a
            .post("/api/v1/wired-requests", request_body(Some(register_a)))
            .await;
        assert_eq!(status, 201, "{first}");
        assert_eq!(first["status"], "new");
        assert_eq!(first["org_id"], org_a);
        let first_id = first["id"].as_i64().expect("id");
        for (field, value) in [
            ("phone", json!("call me")),
            ("preferred_date", json!("15.01.2027")),
            ("window_to", json!("09:00")),
            ("address", json!("  ")),
        ] {
            let mut body = request_body(None);
            body[field] = value;
            let (status, answer) = owner_a.post("/api/v1/wired-requests", body).await;
            assert_eq!(status, 400, "{field}: {answer}");
            assert!(message(&answer).contains(field), "{field}: {answer}");
        }
        let (status, answer) = owner_a
            .post("/api/v1/wired-requests", request_body(Some(register_b)))
            .await;
        assert_eq!(status, 400, "{answer}");
        assert!(message(&answer).contains("register_id"), "{answer}");
        let (status, answer) = accountant_a
            .post("/api/v1/wired-requests", request_body(None))
            .await;
        assert_eq!((status, error_code(&answer)), (403, "forbidden"));
        let (status, second) = engineer_a
            .post("/api/v1/wired-requests", request_body(None))
            .await;
        assert_eq!(status, 201, "{second}");
        let second_id = second["id"].as_i64().expect("id");
        let (status, theirs) = owner_b
            .post("/api/v1/wired-requests", request_body(Some(register_b)))
            .await;
        assert_eq!(status, 201, "{theirs}");
        // Operator staff file for an organisation they name.
        let mut body = request_body(None);
        body["org_id"] = json!(org_b);
        let (status, filed) = op.post("/api/v1/wired-requests", body).await;
        assert_eq!(
            (status, filed["org_id"].as_i64()),
            (201, Some(org_b)),
            "{filed}"
        );

        // Listing: the organisation its own, operator staff everything.
        let ids = |answer: &Value| -> Vec<i64> {
            answer["requests"]
                .as_array()
                .expect("requests")
                .iter()
                .map(|r| r["id"].as_i64().unwrap())
                .collect()
        };
        let (_, mine) = owner_a.get("/api/v1/wired-requests").await;
        assert_eq!(ids(&mine), vec![second_id, first_id]);
        let (_, all) = op.get("/api/v1/wired-requests").await;
        assert_eq!(ids(&all).len(), 4);
        let path = format!("/api/v1/wired-requests/{first_id}");
        let status_path = format!("{path}/status");
        let (status, _) = owner_b.get(&path).await;
        assert_eq!(status, 404, "another organisation's request is not found");
        let (status, _) = owner_b
            .put(&status_path, json!({ "status": "cancelled" }))
            .await;
        assert_eq!(status, 404);

        // Scheduling and closing are operator staff's; transitions follow the table.
        let (status, answer) = owner_a
            .put(
                &status_path,
                json!({ "status": "scheduled", "scheduled_date": "2027-01-16" }),
            )
            .await;
        assert_eq!((status, error_code(&answer)), (403, "forbidden"));
        let (status, answer) = op.put(&status_path, json!({ "status": "done" })).await;
        assert_eq!(
            (status, error_code(&answer)),
            (409, "conflict"),
            "new → done"
        );
        let (status, answer) = op.put(&status_path, json!({ "status": "scheduled" })).await;
        assert_eq!(status, 400, "{answer}");
        assert!(message(&answer).contains("scheduled_date"));
        let (status, answer) = op
            .put(
                &status_path,
                json!({ "status": "scheduled", "scheduled_date": "2027-01-16" }),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            (answer["status"].as_str(), answer["scheduled_date"].as_str()),
            (Some("scheduled"), Some("2027-01-16"))
        );
        let (status, answer) = op
            .put(
                &status_path,
                json!({ "status": "scheduled", "scheduled_date": "2027-01-18",
                        "note": "перенос по просьбе клиента" }),
            )
            .await;
        assert_eq!(
            (status, answer["scheduled_date"].as_str()),
            (200, Some("2027-01-18"))
        );
        let (status, answer) = op.put(&status_path, json!({ "status": "done" })).await;
        assert_eq!((status, answer["status"].as_str()), (200, Some("done")));
        let (status, _) = owner_a
            .put(&status_path, json!({ "status": "cancelled" }))
            .await;
        assert_eq!(status, 409, "done is final");
        let (_, seen) = owner_a.get(&path).await;
        assert_eq!(seen["status"], "done", "the organisation sees the result");

        // The organisation cancels its own new request; cancelled is final.
        let second_status = format!("/api/v1/wired-requests/{second_id}/status");
        let (status, answer) = engineer_a
            .put(
                &second_status,
                json!({ "status": "cancelled", "note": "подключили по SIM" }),
            )
            .await;
        assert_eq!(
            (status, answer["status"].as_str()),
            (200, Some("cancelled"))
        );
        let (status, _) = op
            .put(
                &second_status,
                json!({ "status": "scheduled", "scheduled_date": "2027-01-20" }),
            )
            .await;
        assert_eq!(status, 409);

        // Every change is in the organisation's audit log.
        let (_, audit) = owner_a.get("/api/v1/audit?limit=1000").await;
        let actions: Vec<&str> = audit["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter_map(|l| l["action"].as_str())
            .collect();
        assert_eq!(
            actions
                .iter()
                .filter(|a| **a == "wired_request.create")
                .count(),
            2
        );
        assert_eq!(
            actions
                .iter()
                .filter(|a| **a == "wired_request.status")
                .count(),
            4
        );
        account.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_register_that_connects_by_wire_opens_one_request() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let account = Account::start(&store).await;
        let org = enter_organisation(&account, KZ_BIN, "kz").await;
        let owner = org_client(&account, org, "owner").await;
        let (status, register) = owner
            .post(
                "/api/v1/registers",
                json!({ "dialect": "kz", "serial": "W-1", "org_inn": KZ_BIN,
                        "fields": { "device_type": "hardware", "connection_type": "wired" } }),
            )
            .await;
        assert_eq!(status, 201, "{register}");
        let id = register["id"].as_i64().expect("id");
        let listed = |answer: &Value| -> Vec<Value> {
            answer["requests"]
                .as_array()
                .or_else(|| answer.as_array())
                .cloned()
                .unwrap_or_default()
        };
        let (status, answer) = owner.get("/api/v1/wired-requests").await;
        assert_eq!(status, 200, "{answer}");
        let requests = listed(&answer);
        assert_eq!(requests.len(), 1, "{answer}");
        assert_eq!(requests[0]["register_id"], id);
        assert_eq!(requests[0]["status"], "new");
        assert_eq!(requests[0]["address"], format!("Street {KZ_BIN}, 1"));
        // Another edit of the same wired register opens no second request.
        let (status, _) = owner
            .call(
                reqwest::Method::PATCH,
                &format!("/api/v1/registers/{id}"),
                Some(json!({ "model": "Каспи" })),
            )
            .await;
        assert_eq!(status, 200);
        let (_, answer) = owner.get("/api/v1/wired-requests").await;
        assert_eq!(listed(&answer).len(), 1, "{answer}");
        account.stop().await;
        store.close().await;
    })
    .await;
}
