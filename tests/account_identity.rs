//! The cabinet's identity layer over real HTTP on loopback, on each backend, with a real SMTP
//! server (aiosmtpd) receiving the mail: sign-up → confirm by the mailed link → login → invite
//! → accept → role-limited access; every role's allowed and refused actions; the two-organisation
//! isolation matrix on every route; password recovery; lockout; tax-id checks at sign-up; the
//! OpenAPI document.

mod account_support;
mod common;
mod ingest_support;

use account_support::{
    error_code, link_in, owner, signup_body, staff, token_of, Account, Client, MailServer, PASSWORD,
};
use common::on_each_backend;
use ofd::account::AccountOptions;
use ofd_protocol::kz::AuthResultTypeEnum;
use reqwest::Method;
use serde_json::{json, Value};

async fn start(store: &ofd::store::Store, mail: &MailServer, options: AccountOptions) -> Account {
    Account::start_with(
        store,
        AccountOptions {
            smtp_url: Some(mail.url.as_str().into()),
            ..options
        },
    )
    .await
}

fn ru_register(fn_number: &str, inn: &str) -> Value {
    // The РН ККТ's check part must fit the owner's ИНН and the serial.
    let check = ofd::store::register_numbers::rn_kkt_check("0000000001", inn, "S");
    json!({ "dialect": "ru", "fn_number": fn_number, "serial": "S", "model": "M",
            "reg_number": format!("0000000001{check}"), "org_inn": inn })
}

#[tokio::test]
async fn signup_confirm_login_invite_and_every_roles_rights() {
    let mail = MailServer::start().await;
    on_each_backend(|db| {
        let mail = &mail;
        async move {
            let store = db.open().await;
            let account = start(&store, mail, AccountOptions::default()).await;
            let operator = Client::with_key(&account.url, &account.key);
            let (owner, org_id) = owner(&account, mail, "7707083893", "boss@shop.example").await;

            let (status, me) = owner.get("/api/v1/me").await;
            assert_eq!(status, 200);
            assert_eq!(
                (me["kind"].as_str(), me["role"].as_str()),
                (Some("user"), Some("owner"))
            );
            assert_eq!(me["organisation"]["inn"], "7707083893");
            assert_eq!(me["user"]["email"], "boss@shop.example");

            // The operator provisions a register for the organisation.
            let (status, register) = operator
                .post(
                    "/api/v1/registers",
                    ru_register("9999078900001234", "7707083893"),
                )
                .await;
            assert_eq!(status, 201, "{register}");
            let register_id = register["id"].as_i64().expect("id");
            let reg_path = format!("/api/v1/registers/{register_id}");

            let (accountant, _) =
                staff(&account, mail, &owner, "books@shop.example", "accountant").await;
            let (engineer, engineer_id) =
                staff(&account, mail, &owner, "fix@shop.example", "engineer").await;
            let (cashier, _) = staff(&account, mail, &owner, "till@shop.example", "cashier").await;

            // What each role may do (status codes in order: owner, accountant, engineer, cashier).
            let checks: Vec<(Method, String, Option<Value>, [u16; 4])> = vec![
                (Method::GET, "/api/v1/me".into(), None, [200, 200, 200, 200]),
                (
                    Method::GET,
                    "/api/v1/organisations".into(),
                    None,
                    [200, 200, 200, 200],
                ),
                // A cashier lists only their assigned registers (none here), and one not
                // assigned is not found (see the cashiers' own test).
                (
                    Method::GET,
                    "/api/v1/registers".into(),
                    None,
                    [200, 200, 200, 200],
                ),
                (Method::GET, reg_path.clone(), None, [200, 200, 200, 404]),
                (
                    Method::PUT,
                    format!("{reg_path}/status"),
                    Some(json!({ "status": "active" })),
                    [200, 403, 200, 404],
                ),
                (
                    Method::GET,
                    "/api/v1/users".into(),
                    None,
                    [200, 403, 403, 403],
                ),
                (
                    Method::PATCH,
                    "/api/v1/organisations/7707083893".into(),
                    Some(json!({ "kpp": "773601001", "bank_bik": "044525225" })),
                    [200, 403, 403, 403],
                ),
                (
                    Method::GET,
                    "/api/v1/api-keys".into(),
                    None,
                    [200, 403, 403, 403],
                ),
                (
                    Method::GET,
                    "/api/v1/audit".into(),
                    None,
                    [200, 403, 403, 403],
                ),
                (
                    Method::POST,
                    "/api/v1/organisations".into(),
                    Some(json!({ "inn": "7736050003", "name": "x" })),
                    [403, 403, 403, 403],
                ),
                (
                    Method::PATCH,
                    format!("/api/v1/users/{engineer_id}"),
                    Some(json!({ "name": "Fixer" })),
                    [200, 403, 403, 403],
                ),
            ];
            for (method, path, body, expected) in checks {
                for (client, want) in [&owner, &accountant, &engineer, &cashier]
                    .into_iter()
                    .zip(expected)
                {
                    let (status, answer) = client.call(method.clone(), &path, body.clone()).await;
                    assert_eq!(status, want, "{method} {path}: {answer}");
                    if status == 403 {
                        assert_eq!(error_code(&answer), "forbidden");
                    }
                }
            }
            // Register provisioning: the engineer yes, the accountant no.
            let (status, _) = engineer
                .post(
                    "/api/v1/registers",
                    ru_register("9999078900001235", "7707083893"),
                )
                .await;
            assert_eq!(status, 201);
            let (status, _) = accountant
                .post(
                    "/api/v1/registers",
                    ru_register("9999078900001236", "7707083893"),
                )
                .await;
            assert_eq!(status, 403);

            // An organisation key acts with its role, is shown once, and stops when revoked.
            let (status, issued) = owner
                .post(
                    "/api/v1/api-keys",
                    json!({ "name": "books-export", "role": "accountant" }),
                )
                .await;
            assert_eq!(status, 201, "{issued}");
            let secret = issued["secret"].as_str().expect("secret").to_owned();
            let key_id = issued["key"]["id"].as_i64().expect("id");
            let program = Client::with_key(&account.url, &secret);
            let (status, me) = program.get("/api/v1/me").await;
            assert_eq!(status, 200);
            assert_eq!(
                (me["kind"].as_str(), me["role"].as_str()),
                (Some("key"), Some("accountant"))
            );
            assert_eq!(program.get("/api/v1/registers").await.0, 200);
            assert_eq!(program.get("/api/v1/users").await.0, 403);
            let (_, keys) = owner.get("/api/v1/api-keys").await;
            assert!(!keys.to_string().contains(&secret), "keys are never listed");
            assert!(keys["keys"][0]["last_used_at"].as_i64().is_some(), "{keys}");
            let (status, _) = owner
                .call(Method::DELETE, &format!("/api/v1/api-keys/{key_id}"), None)
                .await;
            assert_eq!(status, 200);
            let (status, answer) = program.get("/api/v1/me").await;
            assert_eq!((status, error_code(&answer)), (401, "revoked_api_key"));

            // Roles change; the last owner cannot be demoted; removal ends the sessions.
            let (status, user) = owner
                .call(
                    Method::PATCH,
                    &format!("/api/v1/users/{engineer_id}"),
                    Some(json!({ "role": "cashier" })),
                )
                .await;
            assert_eq!((status, user["role"].as_str()), (200, Some("cashier")));
            // Now a cashier with no registers assigned: the one they just saw is not found.
            assert_eq!(engineer.get(&reg_path).await.0, 404);
            let (_, me) = owner.get("/api/v1/me").await;
            let owner_id = me["user"]["id"].as_i64().expect("id");
            let (status, answer) = owner
                .call(
                    Method::PATCH,
                    &format!("/api/v1/users/{owner_id}"),
                    Some(json!({ "role": "accountant" })),
                )
                .await;
            assert_eq!((status, error_code(&answer)), (409, "conflict"));
            let (status, _) = owner
                .call(
                    Method::DELETE,
                    &format!("/api/v1/users/{engineer_id}"),
                    None,
                )
                .await;
            assert_eq!(status, 200);
            assert_eq!(engineer.get("/api/v1/me").await.0, 401);

            // Logout ends the session server-side.
            let old = owner.session().expect("session");
            let (status, _) = owner.post("/api/v1/logout", json!({})).await;
            assert_eq!(status, 200);
            let stale = Client::anonymous(&account.url);
            *stale.session.lock().expect("lock") = Some(old);
            let (status, answer) = stale.get("/api/v1/me").await;
            assert_eq!((status, error_code(&answer)), (401, "invalid_session"));

            // The owner's audit log names sign-up, logins, invitations, role changes, keys.
            let (_, me_again) = operator.get("/api/v1/audit?limit=1000").await;
            let actions: Vec<&str> = me_again["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .filter(|e| e["org_id"] == json!(org_id))
                .filter_map(|e| e["action"].as_str())
                .collect();
            for wanted in [
                "signup",
                "signup.confirm",
                "login",
                "user.invite",
                "invitation.accept",
                "user.update",
                "user.disable",
                "api_key.create",
                "api_key.revoke",
                "register.provision",
                "register.status",
                "organisation.update",
            ] {
                assert!(actions.contains(&wanted), "{wanted} missing in {actions:?}");
            }
            account.stop().await;
        }
    })
    .await;
}

#[tokio::test]
async fn two_organisations_never_see_each_other() {
    let mail = MailServer::start().await;
    on_each_backend(|db| {
        let mail = &mail;
        async move {
            let store = db.open().await;
            let account = start(&store, mail, AccountOptions::default()).await;
            let operator = Client::with_key(&account.url, &account.key);
            let (owner_a, org_a) = owner(&account, mail, "7707083893", "a@a.example").await;
            let (owner_b, org_b) = owner(&account, mail, "7736050003", "b@b.example").await;
            let (_, b_user) = staff(&account, mail, &owner_b, "b2@b.example", "accountant").await;
            let (_, b_key) = owner_b
                .post(
                    "/api/v1/api-keys",
                    json!({ "name": "b", "role": "engineer" }),
                )
                .await;
            let b_key_id = b_key["key"]["id"].as_i64().expect("id");
            let (_, a_key) = owner_a
                .post("/api/v1/api-keys", json!({ "name": "a", "role": "owner" }))
                .await;
            let (_, b_register) = operator
                .post(
                    "/api/v1/registers",
                    ru_register("9999078900001234", "7736050003"),
                )
                .await;
            let b_register = b_register["id"].as_i64().expect("id");
            let (_, a_register) = operator
                .post(
                    "/api/v1/registers",
                    ru_register("9999078900004321", "7707083893"),
                )
                .await;
            let a_register = a_register["id"].as_i64().expect("id");

            let key_a = Client::with_key(&account.url, a_key["secret"].as_str().expect("key"));
            for caller in [&owner_a, &key_a] {
                // Every object of B: 404, the same answer as for an id that does not exist.
                let not_found: Vec<(Method, String, Option<Value>)> = vec![
                    (Method::GET, "/api/v1/organisations/7736050003".into(), None),
                    (
                        Method::PATCH,
                        "/api/v1/organisations/7736050003".into(),
                        Some(json!({ "name": "taken over" })),
                    ),
                    (Method::GET, format!("/api/v1/registers/{b_register}"), None),
                    (
                        Method::PUT,
                        format!("/api/v1/registers/{b_register}/status"),
                        Some(json!({ "status": "blocked" })),
                    ),
                    (
                        Method::POST,
                        format!("/api/v1/registers/{b_register}/token"),
                        None,
                    ),
                    (
                        Method::PATCH,
                        format!("/api/v1/users/{b_user}"),
                        Some(json!({ "role": "owner" })),
                    ),
                    (Method::DELETE, format!("/api/v1/users/{b_user}"), None),
                    (
                        Method::GET,
                        format!("/api/v1/users/{b_user}/registers"),
                        None,
                    ),
                    (
                        Method::PUT,
                        format!("/api/v1/users/{b_user}/registers"),
                        Some(json!({ "register_ids": [b_register] })),
                    ),
                    (
                        Method::PUT,
                        format!("/api/v1/users/{b_user}/kz-cashier"),
                        Some(json!({ "code": "7", "pin": "123456" })),
                    ),
                    (Method::DELETE, format!("/api/v1/api-keys/{b_key_id}"), None),
                    (
                        Method::POST,
                        "/api/v1/users".into(),
                        Some(json!({ "email": "x@b.example", "role": "owner", "org_id": org_b })),
                    ),
                    (
                        Method::POST,
                        "/api/v1/api-keys".into(),
                        Some(json!({ "name": "x", "role": "owner", "org_id": org_b })),
                    ),
                ];
                for (method, path, body) in not_found {
                    let (status, answer) = caller.call(method.clone(), &path, body).await;
                    assert_eq!(
                        (status, error_code(&answer)),
                        (404, "not_found"),
                        "{method} {path}: {answer}"
                    );
                    assert!(!answer.to_string().contains("b.example"), "{answer}");
                }
                // B's INN is unknown when provisioning.
                let (status, answer) = caller
                    .post(
                        "/api/v1/registers",
                        ru_register("9999078900005555", "7736050003"),
                    )
                    .await;
                assert_eq!((status, error_code(&answer)), (400, "unknown_organisation"));
                // Lists hold only A's objects.
                let (_, list) = caller.get("/api/v1/organisations").await;
                assert_eq!(list["organisations"].as_array().map(Vec::len), Some(1));
                assert_eq!(list["organisations"][0]["id"], json!(org_a));
                let (_, list) = caller.get("/api/v1/registers").await;
                let ids: Vec<i64> = list["registers"]
                    .as_array()
                    .expect("registers")
                    .iter()
                    .filter_map(|r| r["id"].as_i64())
                    .collect();
                assert_eq!(ids, vec![a_register]);
                let (_, list) = caller.get("/api/v1/registers?org_inn=7736050003").await;
                assert_eq!(list["registers"], json!([]));
                let (_, list) = caller.get("/api/v1/users").await;
                assert!(list["users"]
                    .as_array()
                    .expect("users")
                    .iter()
                    .all(|u| u["org_id"] == json!(org_a)));
                let (_, list) = caller.get("/api/v1/api-keys").await;
                assert!(list["keys"]
                    .as_array()
                    .expect("keys")
                    .iter()
                    .all(|k| k["org_id"] == json!(org_a)));
                let (_, list) = caller.get("/api/v1/audit?limit=1000").await;
                let entries = list["entries"].as_array().expect("entries");
                assert!(!entries.is_empty());
                assert!(
                    entries.iter().all(|e| e["org_id"] == json!(org_a)),
                    "{list}"
                );
                let (_, me) = caller.get("/api/v1/me").await;
                assert_eq!(me["organisation"]["id"], json!(org_a));
            }
            // B is untouched, and the operator sees both organisations and every line.
            let (_, b_users) = owner_b.get("/api/v1/users").await;
            assert!(b_users["users"]
                .as_array()
                .expect("users")
                .iter()
                .all(|u| u["status"] == "active"));
            let (_, b_keys) = owner_b.get("/api/v1/api-keys").await;
            assert_eq!(b_keys["keys"][0]["revoked_at"], Value::Null);
            let (_, all) = operator.get("/api/v1/organisations").await;
            assert_eq!(all["organisations"].as_array().map(Vec::len), Some(2));
            let (_, audit) = operator.get("/api/v1/audit?limit=1000").await;
            let entries = audit["entries"].as_array().expect("entries");
            assert!(entries.iter().any(|e| e["org_id"] == json!(org_a)));
            assert!(entries.iter().any(|e| e["org_id"] == json!(org_b)));
            assert!(entries.iter().any(|e| e["action"] == "operator.request"
                && e["actor"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("operator-key:"))));
            account.stop().await;
        }
    })
    .await;
}

#[tokio::test]
async fn password_recovery_ends_every_session() {
    let mail = MailServer::start().await;
    on_each_backend(|db| {
        let mail = &mail;
        async move {
            let store = db.open().await;
            let account = start(&store, mail, AccountOptions::default()).await;
            let (first, _) = owner(&account, mail, "7707083893", "me@shop.example").await;
            let anonymous = Client::anonymous(&account.url);
            // An unknown address gets the same answer and no mail.
            let (status, unknown) = anonymous
                .post(
                    "/api/v1/password/forgot",
                    json!({ "email": "nobody@x.example" }),
                )
                .await;
            assert_eq!(status, 202);
            let (status, known) = anonymous
                .post(
                    "/api/v1/password/forgot",
                    json!({ "email": "ME@shop.example" }),
                )
                .await;
            assert_eq!((status, &known), (202, &unknown));
            let (to, _, body) = mail.next().await;
            assert_eq!(to, "me@shop.example");
            let token = token_of(&link_in(&body));
            let new_password = "a-brand-new-secret-77";
            let (status, answer) = anonymous
                .post(
                    "/api/v1/password/reset",
                    json!({ "token": token, "password": new_password,
                            "password_repeat": "something else entirely" }),
                )
                .await;
            assert_eq!((status, error_code(&answer)), (400, "invalid_password"));
            assert!(answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("password_repeat")));
            let (status, answer) = anonymous
                .post(
                    "/api/v1/password/reset",
                    json!({ "token": token, "password": "1234567890",
                            "password_repeat": "1234567890" }),
                )
                .await;
            assert_eq!((status, error_code(&answer)), (400, "invalid_password"));
            let (status, _) = anonymous
                .post(
                    "/api/v1/password/reset",
                    json!({ "token": token, "password": new_password,
                            "password_repeat": new_password }),
                )
                .await;
            assert_eq!(status, 200);
            assert_eq!(first.get("/api/v1/me").await.0, 401, "other sessions ended");
            let (status, _) = anonymous
                .post(
                    "/api/v1/password/reset",
                    json!({ "token": token, "password": new_password,
                            "password_repeat": new_password }),
                )
                .await;
            assert_eq!(status, 400, "the token is one-time");
            let (status, _) = anonymous
                .post(
                    "/api/v1/login",
                    json!({ "login": "me@shop.example", "password": PASSWORD }),
                )
                .await;
            assert_eq!(status, 401);
            let again = Client::anonymous(&account.url);
            let (status, _) = again
                .post(
                    "/api/v1/login",
                    json!({ "login": "me@shop.example", "password": new_password }),
                )
                .await;
            assert_eq!(status, 200);
            assert_eq!(again.get("/api/v1/me").await.0, 200);
            account.stop().await;
        }
    })
    .await;
}

#[tokio::test]
async fn lockout_per_account_and_per_address_answers_like_a_wrong_password() {
    let mail = MailServer::start().await;
    on_each_backend(|db| {
        let mail = &mail;
        async move {
            let store = db.open().await;
            let options = AccountOptions {
                max_failures_per_account: Some(3),
                max_failures_per_address: Some(100),
                lock_seconds: Some(2),
                ..AccountOptions::default()
            };
            let account = start(&store, mail, options).await;
            let (_, _) = owner(&account, mail, "7707083893", "me@shop.example").await;
            let anonymous = Client::anonymous(&account.url);
            let login =
                |password: &str| json!({ "login": "me@shop.example", "password": password });
            let (_, wrong) = anonymous
                .post("/api/v1/login", login("not-the-password"))
                .await;
            for _ in 0..2 {
                anonymous
                    .post("/api/v1/login", login("not-the-password"))
                    .await;
            }
            let (status, locked) = anonymous.post("/api/v1/login", login(PASSWORD)).await;
            assert_eq!((status, &locked), (401, &wrong), "locked looks like wrong");
            tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
            let (status, _) = anonymous.post("/api/v1/login", login(PASSWORD)).await;
            assert_eq!(status, 200, "the lock lifts after the window");
            account.stop().await;
            store.revoke_api_key("test").await.expect("revoke");

            // Per source address: failures on many accounts lock the address for all of them.
            let options = AccountOptions {
                max_failures_per_account: Some(100),
                max_failures_per_address: Some(4),
                lock_seconds: Some(2),
                ..AccountOptions::default()
            };
            let account = start(&store, mail, options).await;
            for n in 0..4 {
                let body =
                    json!({ "login": format!("guess{n}@x.example"), "password": "xxxxxxxxxxxx" });
                assert_eq!(
                    anonymous_of(&account).post("/api/v1/login", body).await.0,
                    401
                );
            }
            let (status, answer) = anonymous_of(&account)
                .post("/api/v1/login", login(PASSWORD))
                .await;
            assert_eq!((status, error_code(&answer)), (401, "invalid_credentials"));
            tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
            let (status, _) = anonymous_of(&account)
                .post("/api/v1/login", login(PASSWORD))
                .await;
            assert_eq!(status, 200);
            let (_, audit) = Client::with_key(&account.url, &account.key)
                .get("/api/v1/audit?limit=1000")
                .await;
            assert!(audit["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .any(|e| e["action"] == "login.failed" && e["detail"] == "locked"));
            account.stop().await;
        }
    })
    .await;
}

fn anonymous_of(account: &Account) -> Client {
    Client::anonymous(&account.url)
}

#[tokio::test]
async fn signup_checks_tax_ids_consent_and_password_policy() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        // No SMTP here: mail waits in the outbox.
        let account = Account::start(&store).await;
        let anonymous = Client::anonymous(&account.url);
        let refused = [
            (signup_body("7707083894", "ru", "a@x.example"), "inn"), // ИНН 10, bad check digit
            (signup_body("500100732258", "ru", "a@x.example"), "inn"), // ИНН 12, bad check digit
            (signup_body("000740001308", "kz", "a@x.example"), "inn"), // БИН, bad check digit
            (signup_body("77070838", "ru", "a@x.example"), "inn"),
            (signup_body("7707083893", "ru", "not-an-email"), "email"),
        ];
        for (body, field) in refused {
            let (status, answer) = anonymous.post("/api/v1/signup", body).await;
            assert_eq!(status, 400, "{answer}");
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert!(message.starts_with(field), "{message}");
        }
        let mut no_consent = signup_body("7707083893", "ru", "a@x.example");
        no_consent["consent"] = json!(false);
        let (status, answer) = anonymous.post("/api/v1/signup", no_consent).await;
        assert_eq!((status, error_code(&answer)), (400, "consent_required"));
        let mut short = signup_body("7707083893", "ru", "a@x.example");
        short["password"] = json!("short");
        short["password_repeat"] = json!("short");
        let (status, answer) = anonymous.post("/api/v1/signup", short).await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_password"));
        let mut bad_bik = signup_body("7707083893", "ru", "a@x.example");
        bad_bik["organisation"]["bank_bik"] = json!("0445");
        let (status, answer) = anonymous.post("/api/v1/signup", bad_bik).await;
        assert_eq!(status, 400);
        assert!(answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("bank_bik")));
        let mut bad_kpp = signup_body("7707083893", "ru", "a@x.example");
        bad_kpp["organisation"]["kpp"] = json!("77360100");
        let (status, answer) = anonymous.post("/api/v1/signup", bad_kpp).await;
        assert_eq!(status, 400);
        assert!(answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("kpp")));

        for (inn, country, email) in [
            ("7707083893", "ru", "ru10@x.example"),
            ("500100732259", "ru", "ru12@x.example"),
            ("000740001307", "kz", "kz@x.example"),
        ] {
            let (status, answer) = anonymous
                .post("/api/v1/signup", signup_body(inn, country, email))
                .await;
            assert_eq!(status, 202, "{inn}: {answer}");
            let stored: String =
                sqlx::query_scalar("SELECT country FROM organisations WHERE inn = $1")
                    .bind(inn)
                    .fetch_one(store.pool())
                    .await
                    .expect("organisation stored");
            assert_eq!(stored, country);
        }
        let (status, answer) = anonymous
            .post(
                "/api/v1/signup",
                signup_body("7707083893", "ru", "again@x.example"),
            )
            .await;
        assert_eq!((status, error_code(&answer)), (409, "conflict"));
        assert_eq!(common::count_rows(&db.url, "mail_outbox").await, 3);
        // Login by electronic signature: the default verifier is not configured.
        let (status, answer) = anonymous
            .post(
                "/api/v1/login/esign",
                json!({ "challenge": "AAEC", "signature": "AwQF" }),
            )
            .await;
        assert_eq!((status, error_code(&answer)), (501, "esign_not_configured"));
        account.stop().await;
    })
    .await;
}

#[tokio::test]
async fn openapi_document_lists_every_route() {
    let db = common::TestDb::sqlite();
    let store = db.open().await;
    let account = Account::start(&store).await;
    let (status, doc) = Client::anonymous(&account.url)
        .get("/api/openapi.json")
        .await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{doc}"
    );
    for (path, methods) in [
        ("/api/v1/signup", &["post"][..]),
        ("/api/v1/signup/confirm", &["post", "get"]),
        ("/api/v1/login", &["post"]),
        ("/api/v1/logout", &["post"]),
        ("/api/v1/password/forgot", &["post"]),
        ("/api/v1/password/reset", &["post"]),
        ("/api/v1/me", &["get"]),
        ("/api/v1/users", &["get", "post"]),
        ("/api/v1/users/{id}", &["patch", "delete"]),
        ("/api/v1/api-keys", &["get", "post"]),
        ("/api/v1/api-keys/{id}", &["delete"]),
        ("/api/v1/audit", &["get"]),
        ("/api/v1/organisations", &["get", "post"]),
        ("/api/v1/organisations/{inn}", &["get", "patch"]),
        ("/api/v1/registers", &["get", "post"]),
        ("/api/v1/users/{id}/registers", &["get", "put"]),
        ("/api/v1/users/{id}/kz-cashier", &["put"]),
        ("/api/v1/password/change", &["post"]),
        ("/api/v1/alerts", &["get"]),
        ("/api/v1/alerts/{id}", &["get"]),
        ("/api/v1/alerts/{id}/acknowledge", &["post"]),
        ("/api/v1/alerts/kinds", &["get"]),
        ("/api/v1/alerts/subscriptions", &["get", "put"]),
        ("/api/v1/alerts/settings", &["get", "put"]),
        ("/api/v1/alerts/webhook-deliveries", &["get"]),
        ("/api/v1/documents", &["get"]),
        ("/api/v1/documents/{id}", &["get"]),
        ("/api/v1/documents/export", &["get"]),
        ("/api/v1/registers/{id}/shifts", &["get"]),
        ("/api/v1/reports/totals", &["get"]),
        ("/api/v1/reports/unsent", &["get"]),
        ("/api/v1/reports/delivery", &["get"]),
        ("/api/v1/login/esign", &["post"]),
        ("/api/v1/login/esign/challenge", &["post"]),
        ("/api/v1/me/esign", &["get", "post"]),
        ("/api/v1/me/esign/{id}", &["delete"]),
    ] {
        for method in methods {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} missing from the OpenAPI document"
            );
        }
    }
    assert!(doc["components"]["schemas"]["SignupRequest"].is_object());
    assert!(doc["components"]["schemas"]["SignedChallenge"].is_object());
    assert!(doc["components"]["schemas"]["XReportRow"].is_object());
    account.stop().await;
}

#[tokio::test]
async fn operator_acts_on_any_organisation_and_sessions_expire() {
    let mail = MailServer::start().await;
    on_each_backend(|db| {
        let mail = &mail;
        async move {
            let store = db.open().await;
            let options = AccountOptions {
                public_url: Some("https://cabinet.example".to_owned()),
                ..AccountOptions::default()
            };
            let account = start(&store, mail, options).await;
            let anonymous = Client::anonymous(&account.url);
            let (status, answer) = anonymous
                .post(
                    "/api/v1/signup",
                    signup_body("7707083893", "ru", "o@x.example"),
                )
                .await;
            assert_eq!(status, 202, "{answer}");
            let (_, _, body) = mail.next().await;
            let link = link_in(&body);
            assert!(link.starts_with("https://cabinet.example/signup/confirm?token="));
            let (status, _) = anonymous
                .post(
                    "/api/v1/signup/confirm",
                    json!({ "token": token_of(&link) }),
                )
                .await;
            assert_eq!(status, 200);
            let (status, _, cookie) = anonymous
                .call_raw(
                    Method::POST,
                    "/api/v1/login",
                    Some(json!({ "login": "o@x.example", "password": PASSWORD })),
                )
                .await;
            assert_eq!(status, 200);
            assert!(
                cookie.expect("cookie").contains("; Secure"),
                "https cabinet"
            );
            let (_, me) = anonymous.get("/api/v1/me").await;
            let org_id = me["organisation"]["id"].as_i64().expect("id");

            // Operator staff act on the organisation when they name it, and are audited.
            let operator = Client::with_key(&account.url, &account.key);
            let (status, answer) = operator
                .post(
                    "/api/v1/api-keys",
                    json!({ "name": "support", "role": "engineer" }),
                )
                .await;
            assert_eq!((status, error_code(&answer)), (400, "invalid_request"));
            let (status, issued) = operator
                .post(
                    "/api/v1/api-keys",
                    json!({ "name": "support", "role": "engineer", "org_id": org_id }),
                )
                .await;
            assert_eq!(status, 201, "{issued}");
            assert_eq!(issued["key"]["org_id"], json!(org_id));
            // The owner sees what the operator did to their organisation, and nothing else of
            // the operator's (its request lines belong to no organisation).
            let (_, audit) = anonymous.get("/api/v1/audit").await;
            let entries = audit["entries"].as_array().expect("entries");
            assert!(
                entries.iter().all(|e| e["org_id"] == json!(org_id)),
                "{audit}"
            );
            assert!(entries.iter().any(|e| e["action"] == "api_key.create"));
            assert!(!entries.iter().any(|e| e["action"] == "operator.request"));
            let (_, audit) = operator.get("/api/v1/audit?limit=1000").await;
            assert!(audit["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .any(|e| {
                    e["action"] == "api_key.create"
                        && e["org_id"] == json!(org_id)
                        && e["actor"]
                            .as_str()
                            .is_some_and(|a| a.starts_with("operator-key:"))
                }));

            // A session past its expiry no longer authenticates.
            let user = store
                .login_record("o@x.example")
                .await
                .expect("read")
                .expect("user")
                .user;
            let now = ofd::clock::unix_millis();
            let hash = ofd::account::password::token_hash("an-expired-session-id");
            store
                .start_session(&user, &hash, None, now - 1, None, now)
                .await
                .expect("session");
            assert!(store
                .session_user(&hash, now)
                .await
                .expect("read")
                .is_none());
            let live = ofd::account::password::token_hash("a-live-session-id");
            store
                .start_session(&user, &live, None, now + 60_000, None, now)
                .await
                .expect("session");
            assert!(store
                .session_user(&live, now)
                .await
                .expect("read")
                .is_some());
            account.stop().await;
        }
    })
    .await;
}

/// AUTH requests to a real ingest server on `url` from register `system_id` holding `token`
/// (AUTH keeps the token); each answer's result and operator code.
async fn kz_auth(
    url: &str,
    system_id: u32,
    token: u32,
    logins: &[(&str, &str)],
) -> Vec<(i32, Option<u32>)> {
    use ofd_protocol::kz::{
        decode_response, encode_frame, AuthRequest, CommandTypeEnum, Header, Request, HEADER_LEN,
    };
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let server = ofd::ingest::Server::start(ingest_support::config(url))
        .await
        .expect("ingest");
    let mut answers = Vec::new();
    for (n, (code, pin)) in logins.iter().enumerate() {
        let request = Request {
            command: Some(CommandTypeEnum::Auth as i32),
            auth: Some(AuthRequest {
                login: Some((*code).to_owned()),
                password: Some((*pin).to_owned()),
            }),
            ..Default::default()
        };
        let header = Header {
            version: 203,
            size: 0,
            system_id,
            token,
            request_number: n as u16 + 1,
        };
        let frame = encode_frame(header, &request).expect("frame");
        let mut stream = tokio::net::TcpStream::connect(server.local_addr())
            .await
            .expect("connect");
        stream.write_all(&frame).await.expect("send");
        let mut head = [0u8; HEADER_LEN];
        stream.read_exact(&mut head).await.expect("reply header");
        let size = Header::decode(&head).expect("header").size as usize;
        let mut body = vec![0u8; size - HEADER_LEN];
        stream.read_exact(&mut body).await.expect("reply body");
        let auth = decode_response(&body)
            .expect("response")
            .auth
            .expect("an AUTH answer");
        answers.push((auth.result.unwrap_or(-1), auth.operator_code));
    }
    server.shutdown().await.expect("shutdown");
    answers
}

/// `PUT /api/v1/users/{user}/registers` with `regs` by `c`.
async fn put(c: &Client, user: i64, regs: Value) -> (u16, Value) {
    let path = format!("/api/v1/users/{user}/registers");
    c.call(Method::PUT, &path, Some(json!({ "register_ids": regs })))
        .await
}

fn kz_register(inn: &str) -> Value {
    json!({ "dialect": "kz", "serial": "S", "model": "M", "org_inn": inn })
}

#[tokio::test]
async fn cashiers_see_only_their_registers_and_kz_pins_are_checked_hashed() {
    let mail = MailServer::start().await;
    on_each_backend(|db| {
        let mail = &mail;
        async move {
            let store = db.open().await;
            let account = start(&store, mail, AccountOptions::default()).await;
            let operator = Client::with_key(&account.url, &account.key);
            let (owner_a, _) = owner(&account, mail, "7707083893", "a@a.example").await;
            let (owner_b, _) = owner(&account, mail, "7736050003", "b@b.example").await;
            let (engineer, _) = staff(&account, mail, &owner_a, "e@a.example", "engineer").await;
            let (accountant, accountant_id) =
                staff(&account, mail, &owner_a, "acc@a.example", "accountant").await;
            let (anna, anna_id) =
                staff(&account, mail, &owner_a, "anna@a.example", "cashier").await;
            let (boris, boris_id) =
                staff(&account, mail, &owner_a, "boris@a.example", "cashier").await;
            let (_, b_cashier) = staff(&account, mail, &owner_b, "c@b.example", "cashier").await;
            let mut ids = Vec::new();
            for body in [
                kz_register("7707083893"),
                kz_register("7707083893"),
                ru_register("9999078900001111", "7707083893"),
                kz_register("7736050003"),
            ] {
                let (status, register) = operator.post("/api/v1/registers", body).await;
                assert_eq!(status, 201, "{register}");
                ids.push(register);
            }
            let id = |i: usize| ids[i]["id"].as_i64().expect("id");
            let (r1, r2, r3, rb) = (id(0), id(1), id(2), id(3));
            let system_id_1 = ids[0]["system_id"].as_i64().expect("system id");
            let system_id_b = ids[3]["system_id"].as_i64().expect("system id");

            // Before any assignment a cashier sees no register at all.
            let (status, list) = anna.get("/api/v1/registers").await;
            assert_eq!((status, &list["registers"]), (200, &json!([])));

            // The owner and the engineer assign; the accountant and cashiers may not.
            let (status, answer) = put(&owner_a, anna_id, json!([r1, r3, r1])).await;
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["register_ids"], json!([r1, r3]));
            let (status, answer) = put(&engineer, boris_id, json!([r2])).await;
            assert_eq!(status, 200, "{answer}");
            for refused in [&accountant, &anna] {
                let (status, answer) = put(refused, boris_id, json!([r1])).await;
                assert_eq!(
                    (status, error_code(&answer)),
                    (403, "forbidden"),
                    "{answer}"
                );
            }
            // Another organisation's register cannot be assigned, not even by the operator.
            let (status, answer) = put(&operator, anna_id, json!([rb])).await;
            assert_eq!((status, error_code(&answer)), (400, "invalid_request"));
            assert!(answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("register_ids")));
            // Only cashiers have registers assigned.
            let (status, answer) = put(&owner_a, accountant_id, json!([r1])).await;
            assert_eq!((status, error_code(&answer)), (400, "invalid_request"));
            // Another organisation's cashier is not found.
            let (status, answer) = put(&owner_a, b_cashier, json!([r1])).await;
            assert_eq!((status, error_code(&answer)), (404, "not_found"));
            let (_, read) = engineer
                .get(&format!("/api/v1/users/{anna_id}/registers"))
                .await;
            assert_eq!(read["register_ids"], json!([r1, r3]));

            // Each cashier sees exactly their registers; the other's answers 404 like a missing
            // one, and changes stay refused.
            for (cashier, own, other) in [(&anna, vec![r1, r3], r2), (&boris, vec![r2], r1)] {
                let (_, list) = cashier.get("/api/v1/registers").await;
                let seen: Vec<i64> = list["registers"]
                    .as_array()
                    .expect("registers")
                    .iter()
                    .filter_map(|r| r["id"].as_i64())
                    .collect();
                assert_eq!(seen, own);
                for id in &own {
                    let (status, _) = cashier.get(&format!("/api/v1/registers/{id}")).await;
                    assert_eq!(status, 200);
                }
                for missing in [other, rb, 999_999] {
                    let (status, answer) =
                        cashier.get(&format!("/api/v1/registers/{missing}")).await;
                    assert_eq!((status, error_code(&answer)), (404, "not_found"));
                    let (status, _) = cashier
                        .call(
                            Method::PUT,
                            &format!("/api/v1/registers/{missing}/status"),
                            Some(json!({ "status": "blocked" })),
                        )
                        .await;
                    assert_eq!(status, 404);
                }
                let (status, _) = cashier
                    .call(
                        Method::PUT,
                        &format!("/api/v1/registers/{}/status", own[0]),
                        Some(json!({ "status": "blocked" })),
                    )
                    .await;
                assert_eq!(status, 403);
            }
            // The owner still sees all three of the organisation's registers.
            let (_, list) = owner_a.get("/api/v1/registers").await;
            assert_eq!(list["registers"].as_array().map(Vec::len), Some(3));

            // KZ code and PIN: set by the owner only, never shown, checked against the hash.
            let pin_path = format!("/api/v1/users/{anna_id}/kz-cashier");
            let (status, answer) = engineer
                .call(
                    Method::PUT,
                    &pin_path,
                    Some(json!({ "code": "17", "pin": "4821" })),
                )
                .await;
            assert_eq!((status, error_code(&answer)), (403, "forbidden"));
            let (status, answer) = owner_a
                .call(
                    Method::PUT,
                    &pin_path,
                    Some(json!({ "code": "17", "pin": "12" })),
                )
                .await;
            assert_eq!((status, error_code(&answer)), (400, "invalid_request"));
            assert!(answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("pin")));
            let (status, answer) = owner_a
                .call(
                    Method::PUT,
                    &pin_path,
                    Some(json!({ "code": "17", "pin": "4821" })),
                )
                .await;
            assert_eq!((status, answer), (204, Value::Null));
            // The same code for another cashier of the organisation is taken.
            let (status, answer) = owner_a
                .call(
                    Method::PUT,
                    &format!("/api/v1/users/{boris_id}/kz-cashier"),
                    Some(json!({ "code": "17", "pin": "9999" })),
                )
                .await;
            assert_eq!((status, error_code(&answer)), (409, "conflict"));
            let stored: Option<String> =
                sqlx::query_scalar("SELECT kz_pin_hash FROM users WHERE id = $1")
                    .bind(anna_id)
                    .fetch_one(store.pool())
                    .await
                    .expect("hash");
            let stored = stored.expect("a PIN hash");
            assert!(stored.starts_with("$argon2id$"), "{stored}");
            assert!(!stored.contains("4821"));
            let (_, users) = owner_a.get("/api/v1/users").await;
            assert!(!users.to_string().contains("4821"));
            assert!(!users.to_string().contains("argon2"));

            let check = |system_id: i64, code: &'static str, pin: &'static str| {
                let store = store.clone();
                async move {
                    store
                        .verify_kz_cashier(system_id, code, pin)
                        .await
                        .expect("check")
                }
            };
            assert_eq!(check(system_id_1, "17", "4821").await, Some(anna_id));
            assert_eq!(check(system_id_1, "17", "4822").await, None);
            // The register's AUTH command checks the same code and PIN, over real TCP.
            let token_1 = ids[0]["token"].as_u64().expect("first token") as u32;
            let logins = kz_auth(
                &db.url,
                system_id_1 as u32,
                token_1,
                &[("17", "4821"), ("17", "4822")],
            )
            .await;
            assert_eq!(
                logins,
                vec![
                    (AuthResultTypeEnum::Ok as i32, Some(17)),
                    (AuthResultTypeEnum::InvalidLoginPassword as i32, None)
                ]
            );
            assert_eq!(check(system_id_1, "18", "4821").await, None);
            // Not at a register she is not assigned to, nor another organisation's.
            let system_id_2 = ids[1]["system_id"].as_i64().expect("system id");
            assert_eq!(check(system_id_2, "17", "4821").await, None);
            assert_eq!(check(system_id_b, "17", "4821").await, None);
            // Assignment changes and disabling end her access.
            put(&owner_a, anna_id, json!([r2])).await;
            assert_eq!(check(system_id_1, "17", "4821").await, None);
            assert_eq!(check(system_id_2, "17", "4821").await, Some(anna_id));
            let (status, _) = owner_a
                .call(Method::DELETE, &format!("/api/v1/users/{anna_id}"), None)
                .await;
            assert_eq!(status, 200);
            assert_eq!(check(system_id_2, "17", "4821").await, None);

            // Both kinds of change are in the audit log.
            let (_, audit) = owner_a.get("/api/v1/audit?limit=1000").await;
            let actions: Vec<&str> = audit["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .filter_map(|e| e["action"].as_str())
                .collect();
            assert!(actions.contains(&"user.registers"), "{actions:?}");
            assert!(actions.contains(&"user.kz_cashier"), "{actions:?}");
            account.stop().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_register_change_and_its_audit_line_commit_together() {
    let mail = MailServer::start().await;
    on_each_backend(|db| {
        let mail = &mail;
        async move {
            let store = db.open().await;
            let account = start(&store, mail, AccountOptions::default()).await;
            let (owner_a, _) = owner(&account, mail, "7707083893", "a@a.example").await;
            let (status, register) = owner_a
                .post("/api/v1/registers", kz_register("7707083893"))
                .await;
            assert_eq!(status, 201, "{register}");
            let id = register["id"].as_i64().expect("id");
            let registers_before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM registers")
                .fetch_one(store.pool())
                .await
                .expect("count");

            // With the audit log unwritable, no register change may be stored either.
            sqlx::query("ALTER TABLE audit_log RENAME TO audit_log_away")
                .execute(store.pool())
                .await
                .expect("rename");
            let (status, _) = owner_a
                .call(
                    Method::PUT,
                    &format!("/api/v1/registers/{id}/status"),
                    Some(json!({ "status": "blocked" })),
                )
                .await;
            assert_eq!(status, 500);
            let (status, _) = owner_a
                .post(&format!("/api/v1/registers/{id}/token"), json!({}))
                .await;
            assert_eq!(status, 500);
            let (status, _) = owner_a
                .post("/api/v1/registers", kz_register("7707083893"))
                .await;
            assert_eq!(status, 500);
            sqlx::query("ALTER TABLE audit_log_away RENAME TO audit_log")
                .execute(store.pool())
                .await
                .expect("rename back");

            let (_, now) = owner_a.get(&format!("/api/v1/registers/{id}")).await;
            assert_eq!(now["status"], "active", "{now}");
            let token: Option<i64> =
                sqlx::query_scalar("SELECT kz_token FROM registers WHERE id = $1")
                    .bind(id)
                    .fetch_one(store.pool())
                    .await
                    .expect("token");
            assert_eq!(
                token,
                register["token"].as_i64(),
                "the token reset rolled back"
            );
            let registers_after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM registers")
                .fetch_one(store.pool())
                .await
                .expect("count");
            assert_eq!(registers_after, registers_before);

            // And with it writable, the change and its line are both there.
            let (status, _) = owner_a
                .call(
                    Method::PUT,
                    &format!("/api/v1/registers/{id}/status"),
                    Some(json!({ "status": "blocked" })),
                )
                .await;
            assert_eq!(status, 200);
            let lines: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'register.status' AND object = $1",
            )
            .bind(format!("register:{id}"))
            .fetch_one(store.pool())
            .await
            .expect("count");
            assert_eq!(lines, 1);
            account.stop().await;
        }
    })
    .await;
}

#[tokio::test]
async fn signup_and_invitation_do_not_tell_whether_an_address_has_an_account() {
    let mail = MailServer::start().await;
    on_each_backend(|db| {
        let mail = &mail;
        async move {
            let store = db.open().await;
            let account = start(&store, mail, AccountOptions::default()).await;
            let (owner_a, _) = owner(&account, mail, "7707083893", "a@a.example").await;
            let (owner_b, _) = owner(&account, mail, "7736050003", "b@b.example").await;
            let anonymous = Client::anonymous(&account.url);
            let organisations = || async {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organisations")
                    .fetch_one(store.pool())
                    .await
                    .expect("count");
                n
            };
            let before = organisations().await;

            // Sign-up with a new address and with a known one (in another case): the same
            // answer; the known address gets a notice instead of a confirmation.
            let (status_new, answer_new) = anonymous
                .post(
                    "/api/v1/signup",
                    signup_body("500100732259", "ru", "new@c.example"),
                )
                .await;
            let (to, subject, body) = mail.next().await;
            assert_eq!(to, "new@c.example");
            assert!(body.contains("/signup/confirm?token="), "{subject}");
            let (status_known, answer_known) = anonymous
                .post(
                    "/api/v1/signup",
                    signup_body("000740001307", "kz", "A@a.example"),
                )
                .await;
            assert_eq!((status_known, &answer_known), (status_new, &answer_new));
            assert_eq!(status_known, 202);
            let (to, subject, body) = mail.next().await;
            assert_eq!(to, "a@a.example");
            assert!(subject.contains("already have"), "{subject}");
            assert!(body.contains("/password/forgot"), "{body}");
            assert!(!body.contains("token="), "{body}");
            // Nothing was made for the known address: one new organisation only.
            assert_eq!(organisations().await, before + 1);
            let (status, answer) = anonymous
                .post(
                    "/api/v1/login",
                    json!({ "login": "a@a.example", "password": PASSWORD }),
                )
                .await;
            assert_eq!(status, 200, "the account is untouched: {answer}");

            // Invitations: a new address, one of the same organisation, one of another.
            let invite = |email: &'static str| {
                let owner_a = &owner_a;
                async move {
                    owner_a
                        .post(
                            "/api/v1/users",
                            json!({ "email": email, "role": "accountant" }),
                        )
                        .await
                }
            };
            let fresh = invite("fresh@a.example").await;
            let (to, _, body) = mail.next().await;
            assert_eq!(to, "fresh@a.example");
            assert!(body.contains("invitation?token="), "{body}");
            for known in ["a@a.example", "b@b.example"] {
                assert_eq!(invite(known).await, fresh);
                let (to, subject, body) = mail.next().await;
                assert_eq!(to, known);
                assert!(subject.contains("already have"), "{subject}");
                assert!(!body.contains("token="), "{body}");
            }
            // B's owner is still B's, and A's staff and audit log show nothing of B.
            let (_, users) = owner_a.get("/api/v1/users").await;
            let emails: Vec<&str> = users["users"]
                .as_array()
                .expect("users")
                .iter()
                .filter_map(|u| u["email"].as_str())
                .collect();
            assert_eq!(emails, vec!["a@a.example", "fresh@a.example"]);
            let (_, audit) = owner_a.get("/api/v1/audit?limit=1000").await;
            assert!(!audit.to_string().contains("invite_existing"), "{audit}");
            let (_, me) = owner_b.get("/api/v1/me").await;
            assert_eq!(me["user"]["role"], "owner");
            account.stop().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_logged_in_user_changes_the_password_and_other_sessions_end() {
    let mail = MailServer::start().await;
    on_each_backend(|db| {
        let mail = &mail;
        async move {
            let store = db.open().await;
            let account = start(&store, mail, AccountOptions::default()).await;
            let (here, _) = owner(&account, mail, "7707083893", "me@shop.example").await;
            let elsewhere = Client::anonymous(&account.url);
            let (status, _) = elsewhere
                .post(
                    "/api/v1/login",
                    json!({ "login": "me@shop.example", "password": PASSWORD }),
                )
                .await;
            assert_eq!(status, 200);
            const NEW: &str = "quiet-fox-77-harbour";
            let change = |old: &str, new: &str, repeat: &str| {
                json!({ "old_password": old, "password": new, "password_repeat": repeat })
            };
            let refused = [
                (change("wrong-password-1", NEW, NEW), "old_password"),
                (change(PASSWORD, NEW, "quiet-fox-77-harboUr"), "password"),
                (change(PASSWORD, "short", "short"), "password"),
            ];
            for (body, field) in refused {
                let (status, answer) = here.post("/api/v1/password/change", body).await;
                assert_eq!((status, error_code(&answer)), (400, "invalid_password"));
                let message = answer["error"]["message"].as_str().unwrap_or_default();
                assert!(message.starts_with(field), "{message}");
            }
            // An API key has no password to change.
            let (_, key) = here
                .post("/api/v1/api-keys", json!({ "name": "k", "role": "owner" }))
                .await;
            let program = Client::with_key(&account.url, key["secret"].as_str().expect("key"));
            let (status, _) = program
                .post("/api/v1/password/change", change(PASSWORD, NEW, NEW))
                .await;
            assert_eq!(status, 403);
            // Nothing changed so far: both sessions live.
            assert_eq!(elsewhere.get("/api/v1/me").await.0, 200);

            let (status, user) = here
                .post("/api/v1/password/change", change(PASSWORD, NEW, NEW))
                .await;
            assert_eq!(status, 200, "{user}");
            assert_eq!(user["email"], "me@shop.example");
            assert_eq!(here.get("/api/v1/me").await.0, 200, "this session stays");
            let (status, answer) = elsewhere.get("/api/v1/me").await;
            assert_eq!((status, error_code(&answer)), (401, "invalid_session"));
            let anonymous = Client::anonymous(&account.url);
            let (status, _) = anonymous
                .post(
                    "/api/v1/login",
                    json!({ "login": "me@shop.example", "password": PASSWORD }),
                )
                .await;
            assert_eq!(status, 401, "the old password no longer works");
            let (status, _) = anonymous
                .post(
                    "/api/v1/login",
                    json!({ "login": "me@shop.example", "password": NEW }),
                )
                .await;
            assert_eq!(status, 200);
            let (_, audit) = here.get("/api/v1/audit?limit=1000").await;
            assert!(audit["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .any(|e| e["action"] == "password.change"));
            account.stop().await;
        }
    })
    .await;
}
