//! The web cabinet over plain HTTP (reqwest) against the real account service and database, on
//! each backend: every POST form is refused without the right CSRF token (and nothing changes),
//! every answer carries the security headers, unknown pages and other organisations' objects
//! get the 404 page, a role without the right gets the 403 page, anonymous visitors are sent to
//! login, the API's field errors appear beside their fields, and no page shows one
//! organisation's data to another.

mod account_support;
mod cabinet_support;
mod common;
mod ingest_support;

use account_support::{owner, staff, Account, MailServer, PASSWORD};
use cabinet_support::PageClient;
use common::on_each_backend;
use ofd::account::AccountOptions;
use serde_json::json;

async fn start(store: &ofd::store::Store, mail: &MailServer) -> Account {
    Account::start_with(
        store,
        AccountOptions {
            smtp_url: Some(mail.url.as_str().into()),
            ..AccountOptions::default()
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_the_right_csrf_token_are_refused() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let mail = MailServer::start().await;
        let account = start(&store, &mail).await;
        let (api, _) = owner(&account, &mail, "7707083893", "owner@csrf.test").await;

        let browser = PageClient::new(&account.url);
        browser.login("owner@csrf.test", PASSWORD).await;
        let keys = browser.get("/keys").await;
        assert_eq!(keys.status, 200, "{}", keys.body);
        let good = keys.csrf();

        // No token, a wrong one, and one from another visitor: 403 page, no key made.
        let missing = browser
            .post_raw("/keys", &[("name", "k1"), ("role", "accountant")])
            .await;
        assert_eq!(missing.status, 403, "{}", missing.body);
        assert!(missing.header("content-type").starts_with("text/html"));
        let wrong = browser
            .post_raw(
                "/keys",
                &[("csrf", "00"), ("name", "k2"), ("role", "accountant")],
            )
            .await;
        assert_eq!(wrong.status, 403);
        let stranger = PageClient::new(&account.url);
        let their = stranger.get("/login").await.csrf();
        assert_ne!(their, good);
        let forged = browser
            .post_raw(
                "/keys",
                &[("csrf", &their), ("name", "k3"), ("role", "accountant")],
            )
            .await;
        assert_eq!(forged.status, 403);
        // A session cookie alone (an attacker's page has no token) does not log out either.
        let logout = browser.post_raw("/logout", &[]).await;
        assert_eq!(logout.status, 403);
        let (_, listed) = api.get("/api/v1/api-keys").await;
        assert_eq!(listed["keys"], json!([]), "no refused form created a key");

        // The right token works; the new secret is on that answer only.
        let made = browser
            .post_raw(
                "/keys",
                &[("csrf", &good), ("name", "k4"), ("role", "accountant")],
            )
            .await;
        assert_eq!(made.status, 200, "{}", made.body);
        assert!(made.body.contains("id=\"api-key\""));
        let (_, listed) = api.get("/api/v1/api-keys").await;
        assert_eq!(listed["keys"].as_array().map(Vec::len), Some(1));
        assert!(!browser.get("/keys").await.body.contains("id=\"api-key\""));

        // The anonymous forms are guarded too: login without the token is refused.
        let anonymous = PageClient::new(&account.url);
        anonymous.get("/login").await;
        let refused = anonymous
            .post_raw(
                "/login",
                &[("login", "owner@csrf.test"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(refused.status, 403);
        assert!(anonymous.cookie("ofd_session").is_none());
        account.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_security_headers_and_refusals_have_pages() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let mail = MailServer::start().await;
        let account = start(&store, &mail).await;
        let (owner_api, _) = owner(&account, &mail, "7707083893", "owner@pages.test").await;
        let (_, _) = staff(&account, &mail, &owner_api, "acc@pages.test", "accountant").await;

        let visitor = PageClient::new(&account.url);
        let login = visitor.get("/login").await;
        assert_eq!(login.status, 200);
        let csp = login.header("content-security-policy").to_owned();
        for part in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(part), "{csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(login.header("x-frame-options"), "DENY");
        assert_eq!(login.header("x-content-type-options"), "nosniff");
        assert_eq!(login.header("referrer-policy"), "no-referrer");
        assert_eq!(login.header("cache-control"), "no-store");
        assert!(!login.body.contains("<script"), "no JavaScript");
        let csrf_cookie = login
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("ofd_csrf="))
            .expect("the CSRF cookie is set")
            .to_owned();
        assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"));

        let css = visitor.get("/static/cabinet.css").await;
        assert_eq!(css.status, 200);
        assert!(css.header("content-type").starts_with("text/css"));
        assert!(
            css.header("cache-control").contains("max-age="),
            "{}",
            css.header("cache-control")
        );
        assert_eq!(css.header("x-content-type-options"), "nosniff");

        // Unknown pages: the HTML 404 page (in the visitor's language); the API keeps JSON.
        let missing = visitor.get("/no/such/page").await;
        assert_eq!(missing.status, 404);
        assert!(missing.header("content-type").starts_with("text/html"));
        assert!(missing.body.contains("Такой страницы нет"));
        assert_eq!(missing.header("x-frame-options"), "DENY");
        let api_missing = visitor.get("/api/v1/no/such/route").await;
        assert_eq!(api_missing.status, 404);
        assert!(api_missing
            .header("content-type")
            .starts_with("application/json"));

        // Anonymous visitors are sent to login.
        for path in ["/", "/registers", "/keys", "/alerts", "/operator"] {
            let page = visitor.get(path).await;
            assert_eq!(
                (page.status, page.header("location")),
                (303, "/login"),
                "{path}"
            );
        }

        // An accountant: the 403 page for keys, staff, audit and the operator console.
        let accountant = PageClient::new(&account.url);
        accountant.login("acc@pages.test", PASSWORD).await;
        for path in ["/keys", "/staff", "/audit", "/operator"] {
            let page = accountant.get(&format!("{path}?lang=en")).await;
            assert_eq!(page.status, 403, "{path}: {}", page.body);
            assert!(
                page.body.contains("Your role does not allow this."),
                "{path}"
            );
        }
        let home = accountant.get("/").await;
        assert_eq!(home.status, 200);
        assert!(
            home.body.contains("<html lang=\"en\""),
            "the choice is remembered"
        );
        assert!(
            !home.body.contains("href=\"/keys\""),
            "no link to what the role may not open"
        );

        // Field-level errors: the API's message beside the field it names.
        let signup = visitor
            .submit(
                "/signup?lang=en",
                "/signup",
                &[
                    ("org_name", "Shop"),
                    ("inn", "7736207543"),
                    ("email", "new@pages.test"),
                    ("password", "short"),
                    ("password_repeat", "short"),
                    ("consent", "yes"),
                ],
            )
            .await;
        assert_eq!(signup.status, 400, "{}", signup.body);
        assert!(
            signup.body.contains("data-field=\"password\""),
            "{}",
            signup.body
        );
        assert!(signup.body.contains("aria-invalid=\"true\""));
        assert!(
            signup.body.contains("value=\"new@pages.test\""),
            "the form keeps its values"
        );
        account.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_page_shows_one_organisation_to_another() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let mail = MailServer::start().await;
        let account = start(&store, &mail).await;
        let (first_api, _) = owner(&account, &mail, "7707083893", "first@a.test").await;
        let (_, _) = owner(&account, &mail, "7736207543", "second@b.test").await;
        let (status, register) = first_api
            .post(
                "/api/v1/registers",
                json!({ "dialect": "ru", "fn_number": "9999078900004312", "model": "FirstModel",
                        "org_inn": "7707083893" }),
            )
            .await;
        assert_eq!(status, 201, "{register}");
        let id = register["id"].as_i64().expect("id");
        let (status, kz) = first_api
            .post(
                "/api/v1/registers",
                json!({ "dialect": "kz", "org_inn": "7707083893" }),
            )
            .await;
        assert_eq!(status, 201, "{kz}");
        let kz_id = kz["id"].as_i64().expect("id");

        let first = PageClient::new(&account.url);
        first.login("first@a.test", PASSWORD).await;
        let own = first.get(&format!("/registers/{id}")).await;
        assert_eq!(own.status, 200);
        assert!(own.body.contains("9999078900004312"));

        let second = PageClient::new(&account.url);
        second.login("second@b.test", PASSWORD).await;
        let secret_bits = [
            "9999078900004312",
            "FirstModel",
            "first@a.test",
            "7707083893",
        ];
        for path in [
            "/",
            "/registers",
            "/registers?dialect=ru",
            "/staff",
            "/audit",
            "/alerts",
            "/keys",
        ] {
            let page = second.get(path).await;
            assert_eq!(page.status, 200, "{path}");
            for bit in secret_bits {
                assert!(!page.body.contains(bit), "{path} shows {bit}");
            }
        }
        for path in [format!("/registers/{id}"), format!("/registers/{kz_id}")] {
            let page = second.get(&path).await;
            assert_eq!(page.status, 404, "{path}");
            for bit in secret_bits {
                assert!(!page.body.contains(bit), "{path} shows {bit}");
            }
        }
        // Changes to the other's register find nothing, and change nothing.
        let csrf = second.get("/registers").await.csrf();
        let token = second
            .post_raw(&format!("/registers/{kz_id}/token"), &[("csrf", &csrf)])
            .await;
        assert_eq!(token.status, 404);
        let status = second
            .post_raw(
                &format!("/registers/{id}/status"),
                &[("csrf", &csrf), ("status", "blocked")],
            )
            .await;
        assert_eq!(status.status, 404);
        let (_, after) = first_api.get(&format!("/api/v1/registers/{id}")).await;
        assert_eq!(after["status"], "active");
        // Filtering by the other's tax id shows nothing either.
        let filtered = second.get("/registers?org_inn=7707083893").await;
        assert!(!filtered.body.contains("9999078900004312"));
        account.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitation_recovery_alert_settings_and_the_operator_console_work_by_forms() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let mail = MailServer::start().await;
        let account = start(&store, &mail).await;
        let (owner_api, _) = owner(&account, &mail, "7707083893", "owner@forms.test").await;
        let (_, _) = owner(&account, &mail, "7736207543", "owner@other.test").await;
        let browser = PageClient::new(&account.url);
        browser.login("owner@forms.test", PASSWORD).await;

        // Invite by the staff form; accept on the invitation page; log in as the new person.
        let invited = browser
            .submit(
                "/staff",
                "/staff",
                &[("email", "eng@forms.test"), ("role", "engineer")],
            )
            .await;
        assert_eq!(
            (invited.status, invited.header("location")),
            (303, "/staff?done=invited")
        );
        let (_, _, body) = mail.next().await;
        let link = account_support::link_in(&body);
        let path = link.trim_start_matches(&account.url).to_owned();
        assert!(path.starts_with("/invitation?token="), "{path}");
        let token = account_support::token_of(&link);
        let engineer = PageClient::new(&account.url);
        let mismatch = engineer
            .submit(
                &path,
                "/invitation",
                &[
                    ("token", &token),
                    ("password", PASSWORD),
                    ("password_repeat", "other-thing-99"),
                ],
            )
            .await;
        assert_eq!(mismatch.status, 400);
        assert!(
            mismatch.body.contains("data-field=\"password_repeat\""),
            "{}",
            mismatch.body
        );
        let accepted = engineer
            .submit(
                &path,
                "/invitation",
                &[
                    ("token", &token),
                    ("password", PASSWORD),
                    ("password_repeat", PASSWORD),
                ],
            )
            .await;
        assert_eq!(accepted.status, 200, "{}", accepted.body);
        engineer.login("eng@forms.test", PASSWORD).await;
        assert_eq!(engineer.get("/registers").await.status, 200);

        // Recovery: the mailed link opens the reset page; the new password logs in.
        let forgot = PageClient::new(&account.url);
        let sent = forgot
            .submit(
                "/password/forgot",
                "/password/forgot",
                &[("email", "eng@forms.test")],
            )
            .await;
        assert_eq!(sent.status, 200);
        let (to, _, body) = mail.next().await;
        assert_eq!(to, "eng@forms.test");
        let link = account_support::link_in(&body);
        let path = link.trim_start_matches(&account.url).to_owned();
        assert!(path.starts_with("/password/reset?token="), "{path}");
        let token = account_support::token_of(&link);
        let new_password = "another-sturdy-owl-77";
        let reset = forgot
            .submit(
                &path,
                "/password/reset",
                &[
                    ("token", &token),
                    ("password", new_password),
                    ("password_repeat", new_password),
                ],
            )
            .await;
        assert_eq!(reset.status, 200, "{}", reset.body);
        PageClient::new(&account.url)
            .login("eng@forms.test", new_password)
            .await;

        // Alert settings: a bad threshold is named; the webhook secret is shown once.
        let bad = browser
            .submit(
                "/alerts/settings",
                "/alerts/settings",
                &[
                    ("silent_hours", "many"),
                    ("drive_key_days", "30"),
                    ("unsent_days", "3"),
                    ("kz_offline_hours", "24"),
                    ("shift_open_hours", "24"),
                    ("tariff_days", "7"),
                    ("event_window_hours", "168"),
                ],
            )
            .await;
        assert_eq!(bad.status, 200);
        assert!(
            bad.body.contains("data-field=\"silent_hours\""),
            "{}",
            bad.body
        );
        let saved = browser
            .submit(
                "/alerts/settings",
                "/alerts/settings",
                &[
                    ("silent_hours", "12"),
                    ("drive_key_days", "30"),
                    ("unsent_days", "3"),
                    ("kz_offline_hours", "24"),
                    ("shift_open_hours", "24"),
                    ("tariff_days", "7"),
                    ("event_window_hours", "168"),
                    ("webhook_url", "https://hooks.example/ofd"),
                ],
            )
            .await;
        assert_eq!(saved.status, 200, "{}", saved.body);
        assert!(
            saved.body.contains("id=\"webhook-secret\""),
            "{}",
            saved.body
        );
        let again = browser.get("/alerts/settings").await;
        assert!(!again.body.contains("id=\"webhook-secret\""));
        assert!(again.body.contains("value=\"12\""));
        let (_, settings) = owner_api.get("/api/v1/alerts/settings").await;
        assert_eq!(settings["thresholds"]["silent_hours"], 12);
        assert_eq!(settings["webhook_url"], "https://hooks.example/ofd");
        // Mail choices: only the ticked kind is mailed.
        let chosen = browser
            .submit(
                "/alerts/settings",
                "/alerts/subscriptions",
                &[("email", "no_documents")],
            )
            .await;
        assert_eq!(chosen.status, 303);
        let (_, subs) = owner_api.get("/api/v1/alerts/subscriptions").await;
        let mailed: Vec<&str> = subs
            .as_array()
            .expect("list")
            .iter()
            .filter(|s| s["email"] == true)
            .filter_map(|s| s["kind"].as_str())
            .collect();
        assert_eq!(mailed, ["no_documents"]);

        // The operator console: a wrong key is refused; the operator key shows every
        // organisation; an organisation's own key does not sign in.
        let operator = PageClient::new(&account.url);
        let wrong = operator
            .submit(
                "/operator/login",
                "/operator/login",
                &[("key", "not-a-key")],
            )
            .await;
        assert_eq!(wrong.status, 401);
        let (_, made) = owner_api
            .post(
                "/api/v1/api-keys",
                json!({ "name": "prog", "role": "owner" }),
            )
            .await;
        let org_key = made["secret"].as_str().expect("secret").to_owned();
        let refused = operator
            .submit("/operator/login", "/operator/login", &[("key", &org_key)])
            .await;
        assert_eq!(refused.status, 401);
        let signed = operator
            .submit(
                "/operator/login",
                "/operator/login",
                &[("key", &account.key)],
            )
            .await;
        assert_eq!(
            (signed.status, signed.header("location")),
            (303, "/operator")
        );
        let console = operator.get("/operator").await;
        assert_eq!(console.status, 200, "{}", console.body);
        assert!(console.body.contains("7707083893") && console.body.contains("7736207543"));
        let owner_console = browser.get("/operator").await;
        assert_eq!(owner_console.status, 403);
        account.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_keys_registers_and_audit_change_through_their_forms() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let mail = MailServer::start().await;
        let account = start(&store, &mail).await;
        let (owner_api, _) = owner(&account, &mail, "7707083893", "owner@change.test").await;
        let (_, cashier_id) = staff(&account, &mail, &owner_api, "cash@change.test", "cashier").await;
        let browser = PageClient::new(&account.url);
        browser.login("owner@change.test", PASSWORD).await;

        // Change a role, then remove the person.
        let changed = browser
            .submit("/staff", &format!("/staff/{cashier_id}/role"), &[("role", "engineer")])
            .await;
        assert_eq!((changed.status, changed.header("location")), (303, "/staff?done=role_changed"));
        let (_, users) = owner_api.get("/api/v1/users").await;
        let role_of = |users: &serde_json::Value| {
            users["users"]
                .as_array()
                .expect("users")
                .iter()
                .find(|u| u["id"] == cashier_id)
                .map(|u| (u["role"].clone(), u["status"].clone()))
                .expect("listed")
        };
        assert_eq!(role_of(&users), (json!("engineer"), json!("active")));
        let page = browser.get("/staff?done=role_changed").await;
        assert!(page.body.contains("The role has been changed.") || page.body.contains("Роль изменена."));
        let removed = browser
            .submit("/staff", &format!("/staff/{cashier_id}/remove"), &[])
            .await;
        assert_eq!(removed.status, 303);
        let (_, users) = owner_api.get("/api/v1/users").await;
        assert_eq!(role_of(&users).1, json!("disabled"));

        // Revoke a key made on the keys page.
        let made = browser
            .submit("/keys", "/keys", &[("name", "till"), ("role", "cashier")])
            .await;
        assert_eq!(made.status, 200);
        let (_, keys) = owner_api.get("/api/v1/api-keys").await;
        let key_id = keys["keys"][0]["id"].as_i64().expect("key id");
        let revoked = browser
            .submit("/keys", &format!("/keys/{key_id}/revoke"), &[])
            .await;
        assert_eq!((revoked.status, revoked.header("location")), (303, "/keys?done=revoked"));
        let (_, keys) = owner_api.get("/api/v1/api-keys").await;
        assert!(keys["keys"][0]["revoked_at"].is_i64(), "{keys}");

        // Block a register by its page; a wrong status value is refused.
        let (_, register) = owner_api
            .post(
                "/api/v1/registers",
                json!({ "dialect": "ru", "fn_number": "9999078900004399", "org_inn": "7707083893" }),
            )
            .await;
        let id = register["id"].as_i64().expect("id");
        let page = format!("/registers/{id}");
        let blocked = browser
            .submit(&page, &format!("{page}/status"), &[("status", "blocked")])
            .await;
        assert_eq!((blocked.status, blocked.header("location")), (303, format!("{page}?done=status").as_str()));
        let (_, after) = owner_api.get(&format!("/api/v1/registers/{id}")).await;
        assert_eq!(after["status"], "blocked");
        let bad = browser
            .submit(&page, &format!("{page}/status"), &[("status", "gone")])
            .await;
        assert_eq!(bad.status, 400);

        // The audit page lists what was done, newest last.
        let audit = browser.get("/audit").await;
        assert_eq!(audit.status, 200);
        for action in ["user.update", "user.disable", "api_key.revoke", "register.status"] {
            assert!(audit.body.contains(action), "{action} missing from the audit page");
        }
        account.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_s_server_time_is_in_a_histogram() {
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
    assert_eq!(visitor.get("/login").await.status, 200);
    assert_eq!(visitor.get("/login").await.status, 200);
    assert_eq!(visitor.get("/registers/7").await.status, 303);
    let text = ingest_support::scrape(metrics).await;
    assert!(
        text.contains("ofd_account_page_seconds_count{page=\"/login\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("ofd_account_page_seconds_count{page=\"/registers/{id}\"} 1"),
        "route templates, not paths, label the series: {text}"
    );
    account.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registers_list_filters_and_pages_by_cursor() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let mail = MailServer::start().await;
        let account = start(&store, &mail).await;
        let (api, _) = owner(&account, &mail, "7707083893", "owner@paging.test").await;
        for i in 0..52 {
            let body = if i == 0 {
                json!({ "dialect": "ru", "fn_number": "9999078900004300", "org_inn": "7707083893" })
            } else {
                json!({ "dialect": "kz", "model": format!("M{i:02}"), "org_inn": "7707083893" })
            };
            let (status, answer) = api.post("/api/v1/registers", body).await;
            assert_eq!(status, 201, "{answer}");
        }
        let browser = PageClient::new(&account.url);
        browser.login("owner@paging.test", PASSWORD).await;
        let first = browser.get("/registers?dialect=kz").await;
        assert_eq!(first.status, 200);
        assert_eq!(
            first.body.matches("href=\"/registers/").count(),
            50,
            "a page holds 50"
        );
        assert!(
            !first.body.contains("9999078900004300"),
            "the RU one is filtered out"
        );
        let next = first
            .body
            .split("rel=\"next\" href=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a next-page link")
            .replace("&amp;", "&");
        assert!(
            next.contains("dialect=kz") && next.contains("after_id="),
            "{next}"
        );
        let second = browser.get(&next).await;
        assert_eq!(second.body.matches("href=\"/registers/").count(), 1);
        assert!(second.body.contains("M51"));
        assert!(
            !second.body.contains("rel=\"next\""),
            "the last page has no next link"
        );
        let ru = browser.get("/registers?dialect=ru&status=active").await;
        assert!(ru.body.contains("9999078900004300"));
        let bad = browser.get("/registers?status=sleeping").await;
        assert_eq!(bad.status, 200);
        assert!(
            bad.body.contains("class=\"error\""),
            "a bad filter is explained: {}",
            bad.body
        );
        account.stop().await;
    })
    .await;
}
