//! The account API over real HTTP on loopback, on each backend: API key checks, organisations,
//! RU and KZ provisioning, the status lifecycle (including refused transitions) and KZ token
//! resets.

mod account_support;
mod common;

use account_support::{error_code, Account};
use common::on_each_backend;
use ofd::store::StoreError;
use reqwest::Method;
use serde_json::json;

const FN: &str = "9999078900001234";
const INN: &str = "7707083893";

/// Enter the test organisation; panics unless it was created.
async fn organisation(account: &Account) {
    let (status, answer) = account
        .post(
            "/api/v1/organisations",
            json!({ "inn": INN, "name": "ООО \"Тест\"" }),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
}

#[tokio::test]
async fn requests_need_a_live_api_key() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let account = Account::start(&store).await;
        let path = "/api/v1/organisations";

        let (status, answer) = account.call_with(None, Method::GET, path, None).await;
        assert_eq!((status, error_code(&answer)), (401, "missing_credentials"));
        let (status, answer) = account
            .call_with(Some("ofd_not-a-key"), Method::GET, path, None)
            .await;
        assert_eq!((status, error_code(&answer)), (401, "invalid_api_key"));
        // A refused write leaves nothing behind.
        let (status, _) = account
            .call_with(
                None,
                Method::POST,
                path,
                Some(json!({ "inn": INN, "name": "x" })),
            )
            .await;
        assert_eq!(status, 401);
        assert!(store.list_organisations().await.unwrap().is_empty());

        let (status, answer) = account.get(path).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["organisations"], json!([]));

        // A second live key cannot take the same name; after revocation the name is free.
        let again = store.create_api_key("test").await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        store.revoke_api_key("test").await.unwrap();
        let (status, answer) = account.get(path).await;
        assert_eq!((status, error_code(&answer)), (401, "revoked_api_key"));
        let replacement = store.create_api_key("test").await.unwrap();
        let (status, _) = account
            .call_with(Some(replacement.secret.expose()), Method::GET, path, None)
            .await;
        assert_eq!(status, 200);
        // The key is never printed with its record, and only its hash is stored.
        assert!(!format!("{replacement:?}").contains(replacement.secret.expose()));
        let stored: Vec<String> = sqlx::query_scalar("SELECT key_hash FROM api_keys")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert!(!stored
            .iter()
            .any(|hash| hash == replacement.secret.expose()));
        assert!(stored.contains(&ofd::store::api_keys::key_hash(replacement.secret.expose())));
        account.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn organisations_and_ru_registers() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let account = Account::start(&store).await;

        let (status, answer) = account
            .post(
                "/api/v1/organisations",
                json!({ "inn": "12345", "name": "x" }),
            )
            .await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_request"));
        organisation(&account).await;
        let (status, answer) = account
            .post(
                "/api/v1/organisations",
                json!({ "inn": INN, "name": "again" }),
            )
            .await;
        assert_eq!((status, error_code(&answer)), (409, "conflict"));
        let (status, answer) = account.get(&format!("/api/v1/organisations/{INN}")).await;
        assert_eq!(
            (status, answer["name"].as_str()),
            (200, Some("ООО \"Тест\""))
        );

        // A РН ККТ whose check part fits the ИНН and the serial (it is validated).
        let reg_number = format!(
            "0000000001{}",
            ofd::store::register_numbers::rn_kkt_check("0000000001", INN, "S1")
        );
        let ru = |fn_number: &str, inn: &str| {
            json!({
                "dialect": "ru", "fn_number": fn_number, "serial": "S1", "model": "M",
                "reg_number": reg_number, "org_inn": inn,
            })
        };
        let (status, answer) = account
            .post("/api/v1/registers", ru(FN, "500100732259"))
            .await;
        assert_eq!((status, error_code(&answer)), (400, "unknown_organisation"));
        let (status, answer) = account.post("/api/v1/registers", ru("99990789", INN)).await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_request"));
        let (status, answer) = account
            .post(
                "/api/v1/registers",
                json!({ "dialect": "xx", "org_inn": INN }),
            )
            .await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_body"));

        let (status, created) = account.post("/api/v1/registers", ru(FN, INN)).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["fn_number"], FN);
        assert_eq!(created["status"], "active");
        assert!(created.get("token").is_none(), "{created}");
        let (status, answer) = account.post("/api/v1/registers", ru(FN, INN)).await;
        assert_eq!((status, error_code(&answer)), (409, "conflict"));

        let id = created["id"].as_i64().unwrap();
        let (status, one) = account.get(&format!("/api/v1/registers/{id}")).await;
        assert_eq!((status, &one), (200, &created));
        let (status, answer) = account.get("/api/v1/registers/999999").await;
        assert_eq!((status, error_code(&answer)), (404, "not_found"));
        let (status, answer) = account.get("/api/v1/registers/abc").await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_path"));
        let (status, answer) = account.get("/api/v1/no-such-thing").await;
        assert_eq!((status, error_code(&answer)), (404, "not_found"));
        let (status, answer) = account
            .call_with(
                Some(&account.key),
                Method::DELETE,
                &format!("/api/v1/registers/{id}"),
                None,
            )
            .await;
        assert_eq!((status, error_code(&answer)), (405, "method_not_allowed"));

        // The row the ingest path will look up is the one the API made.
        let stored = store.register_by_fn(FN).await.unwrap().unwrap();
        assert_eq!(stored.org_inn.as_deref(), Some(INN));
        account.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn kz_provisioning_returns_the_token_once_and_resets_it() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let account = Account::start(&store).await;
        organisation(&account).await;

        let (status, answer) = account
            .post(
                "/api/v1/registers",
                json!({ "dialect": "kz", "fn_number": FN, "org_inn": INN }),
            )
            .await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_request"));
        let (status, created) = account
            .post(
                "/api/v1/registers",
                json!({ "dialect": "kz", "serial": "K1", "org_inn": INN }),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_i64().unwrap();
        let system_id = created["system_id"].as_i64().unwrap();
        let token = created["token"].as_i64().unwrap();
        assert!(system_id > 0 && token > 0, "{created}");
        let stored = store
            .register_by_system_id(system_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.kz_token, Some(token));

        // Reads never show the token.
        let (_, one) = account.get(&format!("/api/v1/registers/{id}")).await;
        assert!(
            one.get("token").is_none() && one.get("kz_token").is_none(),
            "{one}"
        );
        let (_, page) = account.get("/api/v1/registers?dialect=kz").await;
        assert!(page["registers"][0].get("token").is_none(), "{page}");

        let (status, reset) = account
            .call_with(
                Some(&account.key),
                Method::POST,
                &format!("/api/v1/registers/{id}/token"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{reset}");
        let new_token = reset["token"].as_i64().unwrap();
        assert_ne!(new_token, token);
        let stored = store.register_by_id(id).await.unwrap().unwrap();
        assert_eq!(stored.kz_token, Some(new_token));

        // RU registers have no token; a missing register is 404.
        let (_, ru) = account
            .post(
                "/api/v1/registers",
                json!({ "dialect": "ru", "fn_number": FN, "org_inn": INN }),
            )
            .await;
        let ru_id = ru["id"].as_i64().unwrap();
        for (path, expected) in [
            (
                format!("/api/v1/registers/{ru_id}/token"),
                (400, "invalid_request"),
            ),
            (
                "/api/v1/registers/999999/token".to_owned(),
                (404, "not_found"),
            ),
        ] {
            let (status, answer) = account
                .call_with(Some(&account.key), Method::POST, &path, None)
                .await;
            assert_eq!((status, error_code(&answer)), expected, "{path}");
        }
        account.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn lifecycle_refuses_leaving_deregistered() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let account = Account::start(&store).await;
        organisation(&account).await;
        let (_, created) = account
            .post(
                "/api/v1/registers",
                json!({ "dialect": "kz", "org_inn": INN }),
            )
            .await;
        let id = created["id"].as_i64().unwrap();
        let status_path = format!("/api/v1/registers/{id}/status");

        for next in ["blocked", "active", "blocked", "deregistered"] {
            let body = match next {
                "deregistered" => json!({ "status": next, "reason": "sold" }),
                _ => json!({ "status": next }),
            };
            let (status, answer) = account.put(&status_path, body).await;
            assert_eq!(
                (status, answer["status"].as_str()),
                (200, Some(next)),
                "{answer}"
            );
        }
        for refused in ["active", "blocked"] {
            let (status, answer) = account
                .put(&status_path, json!({ "status": refused }))
                .await;
            assert_eq!(
                (status, error_code(&answer)),
                (409, "conflict"),
                "{refused}"
            );
        }
        let (status, answer) = account
            .call_with(
                Some(&account.key),
                Method::POST,
                &format!("/api/v1/registers/{id}/token"),
                None,
            )
            .await;
        assert_eq!((status, error_code(&answer)), (409, "conflict"));
        let (status, answer) = account
            .put(&status_path, json!({ "status": "paused" }))
            .await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_body"));
        let (status, answer) = account
            .put(
                "/api/v1/registers/999999/status",
                json!({ "status": "blocked" }),
            )
            .await;
        assert_eq!((status, error_code(&answer)), (404, "not_found"));
        let stored = store.register_by_id(id).await.unwrap().unwrap();
        assert_eq!(stored.status.as_str(), "deregistered");

        // Filters and pages: one more active register, then list by status and page by one.
        account
            .post(
                "/api/v1/registers",
                json!({ "dialect": "kz", "org_inn": INN }),
            )
            .await;
        let (_, gone) = account.get("/api/v1/registers?status=deregistered").await;
        let ids: Vec<i64> = gone["registers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [id]);
        let (_, first) = account
            .get(&format!("/api/v1/registers?org_inn={INN}&limit=1"))
            .await;
        let after = first["next_after_id"].as_i64().expect("a next page");
        let (_, second) = account
            .get(&format!(
                "/api/v1/registers?org_inn={INN}&limit=1&after_id={after}"
            ))
            .await;
        assert_eq!(second["registers"].as_array().unwrap().len(), 1);
        assert_ne!(second["registers"][0]["id"], first["registers"][0]["id"]);
        let (status, answer) = account.get("/api/v1/registers?limit=0").await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_query"));
        account.stop().await;
        store.close().await;
    })
    .await;
}
