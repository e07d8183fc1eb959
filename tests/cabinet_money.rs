//! The cabinet's points-of-sale, register, money, applications, wired-connection and operator
//! pages over plain HTTP (reqwest) against the real account service and database, on each
//! backend: the forms change what the API says they change, the API's field errors appear beside
//! their fields, another organisation gets the 404 page for every object, a cashier gets the 403
//! page for owner actions, operator staff mark invoices paid, answer applications and schedule
//! visits from their pages, the e-signature login is offered exactly when a verifier is
//! configured, and a KZ organisation's pages speak Kazakh and count in tenge by default.

mod account_support;
mod cabinet_support;
mod common;

use account_support::{
    error_code, link_in, owner, signup_body, staff, token_of, Account, Client, DigestSigner,
    MailServer, PASSWORD,
};
use cabinet_support::{Page, PageClient};
use common::on_each_backend;
use ofd::account::AccountOptions;
use serde_json::json;

const INN_A: &str = "7707083893";
const INN_B: &str = "7736050003";
const KZ_BIN: &str = "000740001307";

async fn start(store: &ofd::store::Store, mail: &MailServer) -> Account {
    start_esign(
        store,
        mail,
        std::sync::Arc::new(ofd::account::esign::NotConfigured),
    )
    .await
}

async fn start_esign(
    store: &ofd::store::Store,
    mail: &MailServer,
    esign: std::sync::Arc<dyn ofd::account::esign::EsignVerifier>,
) -> Account {
    Account::start_with_esign(
        store,
        AccountOptions {
            smtp_url: Some(mail.url.as_str().into()),
            ..AccountOptions::default()
        },
        esign,
    )
    .await
}

/// A page client logged in as `email`.
async fn browser(account: &Account, email: &str) -> PageClient {
    let browser = PageClient::new(&account.url);
    browser.login(email, PASSWORD).await;
    browser
}

/// The operator's page client, signed in with the test key.
async fn operator_pages(account: &Account) -> PageClient {
    let operator = PageClient::new(&account.url);
    let signed = operator
        .submit(
            "/operator/login",
            "/operator/login",
            &[("key", &account.key)],
        )
        .await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    operator
}

/// The challenge of an e-signature form.
fn challenge_in(page: &Page) -> String {
    page.body
        .split("name=\"challenge\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a challenge")
        .to_owned()
}

/// The id at the end of a redirect such as `/invoices/7?done=…`.
fn id_in_location(page: &Page, prefix: &str) -> i64 {
    let location = page.header("location");
    location
        .strip_prefix(prefix)
        .and_then(|rest| rest.split('?').next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("{prefix}<id> in {location:?}: {}", page.body))
}

/// The problem shown beside field `name`, if any.
fn field_error(page: &Page, name: &str) -> Option<String> {
    let marker = format!("data-field=\"{name}\">");
    let start = page.body.find(&marker)? + marker.len();
    Some(page.body[start..].split('<').next()?.to_owned())
}

/// Operator staff offer a plan; its id.
async fn plan(account: &Account, name: &str, currency: &str) -> i64 {
    let (status, plan) = account
        .post(
            "/api/v1/tariff-plans",
            json!({ "name": name, "price_minor": 150_000, "currency": currency,
                    "period_days": 30, "trial_days": 5 }),
        )
        .await;
    assert_eq!(status, 201, "{plan}");
    plan["id"].as_i64().expect("plan id")
}

/// Add a RU register through the registers page; its id.
async fn add_register(browser: &PageClient, fn_number: &str) -> i64 {
    let added = browser
        .submit(
            "/registers",
            "/registers",
            &[
                ("dialect", "ru"),
                ("fn_number", fn_number),
                ("model", "Атол 30Ф"),
            ],
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
    let marker = "<h1>";
    let h1 = added.body.split(marker).nth(1).expect("a title");
    h1.split('<')
        .next()
        .and_then(|t| t.split_whitespace().last())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("register id in {h1:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_of_sale_and_registers_change_through_their_forms() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let mail = MailServer::start().await;
        let account = start(&store, &mail).await;
        let (owner_api, _) = owner(&account, &mail, INN_A, "owner@pos.test").await;
        let _ = staff(&account, &mail, &owner_api, "cash@pos.test", "cashier").await;
        let _ = owner(&account, &mail, INN_B, "owner@other.test").await;
        let owner = browser(&account, "owner@pos.test").await;

        // A bad postal code is named beside its field; nothing is stored.
        let refused = owner
            .submit(
                "/points-of-sale",
                "/points-of-sale",
                &[("name", "Магазин №1"), ("postal_code", "12ab")],
            )
            .await;
        assert_eq!(refused.status, 200, "the list again, with the problem");
        assert!(
            field_error(&refused, "postal_code").is_some(),
            "{}",
            refused.body
        );
        assert!(
            refused.body.contains("value=\"Магазин №1\""),
            "the form keeps what was typed"
        );
        let (_, listed) = owner_api
            .get(&format!("/api/v1/organisations/{INN_A}/points-of-sale"))
            .await;
        assert_eq!(listed["points_of_sale"], json!([]));

        let added = owner
            .submit(
                "/points-of-sale",
                "/points-of-sale",
                &[
                    ("name", "Магазин №1"),
                    ("city", "Москва"),
                    ("postal_code", "101000"),
                ],
            )
            .await;
        assert_eq!(
            (added.status, added.header("location")),
            (303, "/points-of-sale?done=pos.done_saved")
        );
        let (_, listed) = owner_api
            .get(&format!("/api/v1/organisations/{INN_A}/points-of-sale"))
            .await;
        let pos_id = listed["points_of_sale"][0]["id"].as_i64().expect("pos id");
        let page = owner.get("/points-of-sale?done=pos.done_saved").await;
        assert!(
            page.body.contains("Точка продаж сохранена."),
            "{}",
            page.body
        );
        assert!(page.body.contains("101000, Москва"));

        // Edit with a field error, then for real.
        let bad = owner
            .submit(
                &format!("/points-of-sale/{pos_id}"),
                &format!("/points-of-sale/{pos_id}"),
                &[("name", "Магазин №1"), ("fias_code", "not-a-guid")],
            )
            .await;
        assert_eq!(bad.status, 200);
        assert!(field_error(&bad, "fias_code").is_some(), "{}", bad.body);
        let good = owner
            .submit(
                &format!("/points-of-sale/{pos_id}"),
                &format!("/points-of-sale/{pos_id}"),
                &[
                    ("name", "Магазин на Тверской"),
                    ("street", "Тверская"),
                    ("house", "1"),
                ],
            )
            .await;
        assert_eq!(good.status, 303, "{}", good.body);
        let (_, pos) = owner_api
            .get(&format!("/api/v1/points-of-sale/{pos_id}"))
            .await;
        assert_eq!(
            (pos["name"].as_str(), pos["street"].as_str()),
            (Some("Магазин на Тверской"), Some("Тверская"))
        );

        // Registers grouped by point of sale; an edit moves one there and waits for the owner.
        let first = add_register(&owner, "9999078900004399").await;
        let second = add_register(&owner, "9999078900004300").await;
        let register_page = owner.get(&format!("/registers/{first}")).await;
        assert!(register_page
            .body
            .contains(&format!("/documents?register={first}")));
        assert!(register_page
            .body
            .contains(&format!("/reports/shifts?register={first}")));
        assert!(register_page.body.contains("id=\"h-history\""));
        let wrong = owner
            .submit(
                &format!("/registers/{first}"),
                &format!("/registers/{first}/edit"),
                &[
                    ("pos_id", &pos_id.to_string()),
                    ("utc_offset_minutes", "three"),
                ],
            )
            .await;
        assert_eq!(wrong.status, 400);
        assert!(
            field_error(&wrong, "utc_offset_minutes").is_some(),
            "{}",
            wrong.body
        );
        let wrong = owner
            .submit(
                &format!("/registers/{first}"),
                &format!("/registers/{first}/edit"),
                &[("connection_type", "sim"), ("iccid", "123")],
            )
            .await;
        assert_eq!(wrong.status, 400);
        assert!(field_error(&wrong, "iccid").is_some(), "{}", wrong.body);
        let edited = owner
            .submit(
                &format!("/registers/{first}"),
                &format!("/registers/{first}/edit"),
                &[
                    ("pos_id", &pos_id.to_string()),
                    ("utc_offset_minutes", "180"),
                ],
            )
            .await;
        assert_eq!(
            (edited.status, edited.header("location")),
            (
                303,
                format!("/registers/{first}?done=pos.done_edited").as_str()
            )
        );
        let (_, register) = owner_api.get(&format!("/api/v1/registers/{first}")).await;
        assert_eq!(
            (register["lifecycle"].as_str(), register["pos_id"].as_i64()),
            (Some("saved"), Some(pos_id))
        );
        let page = owner
            .get(&format!("/registers/{first}?done=pos.done_edited"))
            .await;
        assert!(page.body.contains("Изменения сохранены."));
        let confirmed = owner
            .submit(
                &format!("/registers/{first}"),
                &format!("/registers/{first}/confirm"),
                &[],
            )
            .await;
        assert_eq!(confirmed.status, 303, "{}", confirmed.body);
        let (_, register) = owner_api.get(&format!("/api/v1/registers/{first}")).await;
        assert_eq!(register["lifecycle"], "active");
        let history = owner.get(&format!("/registers/{first}")).await;
        assert!(history.body.contains("сохранена") && history.body.contains("работает"));

        let grouped = owner.get("/points-of-sale").await;
        let (under_pos, rest) = grouped
            .body
            .split_once("Без точки продаж")
            .expect("a group without a point of sale");
        assert!(
            under_pos.contains(&format!("id=\"sel-{first}\"")),
            "{under_pos}"
        );
        assert!(
            rest.contains(&format!("id=\"sel-{second}\""))
                && !rest.contains(&format!("id=\"sel-{first}\""))
        );

        // A batch on the ticked register only.
        let csrf = grouped.csrf();
        let batch = owner
            .post_raw(
                "/registers/batch",
                &[
                    ("csrf", &csrf),
                    ("ids", &second.to_string()),
                    ("action", "block"),
                ],
            )
            .await;
        assert_eq!(batch.status, 200, "{}", batch.body);
        assert!(batch.body.contains("Выполнено: 1"), "{}", batch.body);
        let (_, blocked) = owner_api.get(&format!("/api/v1/registers/{second}")).await;
        let (_, untouched) = owner_api.get(&format!("/api/v1/registers/{first}")).await;
        assert_eq!(
            (
                blocked["lifecycle"].as_str(),
                untouched["lifecycle"].as_str()
            ),
            (Some("blocked"), Some("active"))
        );

        // CSV import: one row made, one refused, each reported.
        let csv = "dialect,fn_number,serial\nru,9999078900004311,S-9\nxx,,\n";
        let imported = owner
            .submit(
                "/points-of-sale",
                &format!("/registers/import?org_inn={INN_A}"),
                &[("csv", csv)],
            )
            .await;
        assert_eq!(imported.status, 200, "{}", imported.body);
        assert!(
            imported.body.contains("Выполнено: 1") && imported.body.contains("отказано: 1"),
            "{}",
            imported.body
        );

        // A cashier cannot add or edit; another organisation finds nothing.
        let cashier = browser(&account, "cash@pos.test").await;
        let csrf = cashier.get("/points-of-sale").await.csrf();
        for (path, fields) in [
            ("/points-of-sale".to_owned(), vec![("name", "X")]),
            (format!("/points-of-sale/{pos_id}"), vec![("name", "X")]),
            (format!("/registers/{first}/edit"), vec![("model", "X")]),
            (
                "/registers/batch".to_owned(),
                vec![("ids", "1"), ("action", "block")],
            ),
        ] {
            let mut all = vec![("csrf", csrf.as_str())];
            all.extend(fields);
            let refused = cashier.post_raw(&path, &all).await;
            assert!(
                matches!(refused.status, 403 | 404),
                "{path}: {}",
                refused.status
            );
        }
        let (_, pos) = owner_api
            .get(&format!("/api/v1/points-of-sale/{pos_id}"))
            .await;
        assert_eq!(pos["name"], "Магазин на Тверской");
        let other = browser(&account, "owner@other.test").await;
        for path in [
            format!("/points-of-sale/{pos_id}"),
            format!("/registers/{first}"),
        ] {
            assert_eq!(other.get(&path).await.status, 404, "{path}");
        }
        let theirs = other.get("/points-of-sale").await;
        assert!(
            !theirs.body.contains("Тверской")
                && !theirs.body.contains(&format!("/registers/{first}\""))
        );
        let csrf = theirs.csrf();
        let refused = other
            .post_raw(
                &format!("/points-of-sale/{pos_id}"),
                &[("csrf", &csrf), ("name", "Чужой")],
            )
            .await;
        assert_eq!(refused.status, 404);
        account.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tariffs_invoices_applications_and_the_operator_console() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let mail = MailServer::start().await;
        let account = start(&store, &mail).await;
        let (owner_api, _) = owner(&account, &mail, INN_A, "owner@money.test").await;
        let _ = staff(&account, &mail, &owner_api, "cash@money.test", "cashier").await;
        let _ = owner(&account, &mail, INN_B, "owner@other2.test").await;
        let plan_id = plan(&account, "Базовый", "RUB").await;
        let owner = browser(&account, "owner@money.test").await;
        let register = add_register(&owner, "9999078900004399").await;

        // Activate the plan on the register's page: trial until five days on.
        let activated = owner
            .submit(
                &format!("/registers/{register}"),
                &format!("/registers/{register}/tariff"),
                &[("plan_id", &plan_id.to_string())],
            )
            .await;
        assert_eq!(activated.status, 303, "{}", activated.body);
        let (_, tariff) = owner_api
            .get(&format!("/api/v1/registers/{register}/tariff"))
            .await;
        let trial_until = tariff["paid_until"].as_i64().expect("paid until");
        let page = owner.get(&format!("/registers/{register}")).await;
        let shown = chrono::DateTime::from_timestamp_millis(trial_until)
            .expect("date")
            .format("%d.%m.%Y")
            .to_string();
        assert!(
            page.body.contains(&format!("id=\"paid-until\">{shown}<")),
            "{}",
            page.body
        );

        // An invoice for two periods: its page shows the total in roubles, Russian style.
        let bad = owner
            .submit(
                "/money",
                "/invoices",
                &[("register_id", "x"), ("periods", "2")],
            )
            .await;
        assert_eq!(bad.status, 400);
        assert!(field_error(&bad, "register_id").is_some(), "{}", bad.body);
        let issued = owner
            .submit(
                "/money",
                "/invoices",
                &[("register_id", &register.to_string()), ("periods", "2")],
            )
            .await;
        let invoice = id_in_location(&issued, "/invoices/");
        let page = owner.get(&format!("/invoices/{invoice}")).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("3\u{a0}000,00\u{a0}₽"), "{}", page.body);
        assert!(
            !page.body.contains(&format!("/invoices/{invoice}/paid")),
            "only operator staff mark paid"
        );
        let english = owner.get(&format!("/invoices/{invoice}?lang=en")).await;
        assert!(english.body.contains("3,000.00\u{a0}₽"));
        let _ = owner.get("/money?lang=ru").await;
        let money = owner.get("/money").await;
        assert!(
            money.body.contains(&format!("/invoices/{invoice}\""))
                && money.body.contains("Базовый")
        );

        // A re-registration application: drafted, printable, submitted.
        let drafted = owner
            .submit(
                &format!("/registers/{register}"),
                &format!("/registers/{register}/applications"),
                &[("kind", "reregistration"), ("reasons", "new_address")],
            )
            .await;
        let application = id_in_location(&drafted, "/applications/");
        let printable = owner.get(&format!("/applications/{application}")).await;
        assert_eq!(printable.status, 200);
        assert!(
            printable.body.contains("Заявление о перерегистрации ККТ")
                && printable.body.contains("новый адрес")
        );
        assert!(printable.body.contains("class=\"printable\"") && printable.body.contains(INN_A));
        assert!(
            !printable.body.contains("/sign\""),
            "no signing without a verifier"
        );
        let submitted = owner
            .submit(
                &format!("/applications/{application}"),
                &format!("/applications/{application}/submit"),
                &[],
            )
            .await;
        assert_eq!(submitted.status, 303);
        let listed = owner.get("/applications?status=submitted").await;
        assert!(listed
            .body
            .contains(&format!("/applications/{application}\"")));

        // Tenancy and roles.
        let other = browser(&account, "owner@other2.test").await;
        for path in [
            format!("/invoices/{invoice}"),
            format!("/applications/{application}"),
        ] {
            assert_eq!(other.get(&path).await.status, 404, "{path}");
        }
        assert!(!other
            .get("/applications")
            .await
            .body
            .contains(&format!("/applications/{application}\"")));
        assert!(!other
            .get("/money")
            .await
            .body
            .contains(&format!("/invoices/{invoice}\"")));
        let cashier = browser(&account, "cash@money.test").await;
        assert_eq!(cashier.get("/money").await.status, 403);
        assert_eq!(
            cashier.get(&format!("/invoices/{invoice}")).await.status,
            403
        );
        let csrf = cashier.get("/").await.csrf();
        for (path, fields) in [
            (
                format!("/registers/{register}/tariff"),
                vec![("plan_id", plan_id.to_string())],
            ),
            (
                "/invoices".to_owned(),
                vec![("register_id", register.to_string())],
            ),
            (format!("/invoices/{invoice}/paid"), vec![]),
            (
                format!("/applications/{application}/answer"),
                vec![("accepted", "no".to_owned())],
            ),
        ] {
            let mut all = vec![("csrf", csrf.clone())];
            all.extend(fields);
            let borrowed: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let refused = cashier.post_raw(&path, &borrowed).await;
            assert!(
                matches!(refused.status, 403 | 404),
                "{path}: {}",
                refused.status
            );
        }
        // The owner may not mark their own invoice paid, nor open the support view.
        let csrf = owner.get("/money").await.csrf();
        let refused = owner
            .post_raw(&format!("/invoices/{invoice}/paid"), &[("csrf", &csrf)])
            .await;
        assert_eq!(refused.status, 403);
        assert_eq!(
            owner
                .get(&format!("/operator/registers/{register}"))
                .await
                .status,
            403
        );

        // The operator console: the submitted application and the unpaid invoice wait there.
        let operator = operator_pages(&account).await;
        let console = operator.get("/operator").await;
        assert_eq!(console.status, 200, "{}", console.body);
        assert!(console
            .body
            .contains(&format!("/applications/{application}\"")));
        assert!(console
            .body
            .contains(&format!("/invoices/{invoice}/paid\"")));
        // A refusal needs its reason (named beside the field); then it is entered.
        let missing = operator
            .submit(
                &format!("/applications/{application}"),
                &format!("/applications/{application}/answer"),
                &[("accepted", "no")],
            )
            .await;
        assert_eq!(missing.status, 400, "{}", missing.body);
        assert!(
            field_error(&missing, "refusal_reason").is_some(),
            "{}",
            missing.body
        );
        let answered = operator
            .submit(
                &format!("/applications/{application}"),
                &format!("/applications/{application}/answer"),
                &[("accepted", "no"), ("refusal_reason", "адрес не совпадает")],
            )
            .await;
        assert_eq!(answered.status, 303, "{}", answered.body);
        let seen = owner.get(&format!("/applications/{application}")).await;
        assert!(seen.body.contains("отказано") && seen.body.contains("адрес не совпадает"));
        let paid = operator
            .submit(
                "/operator",
                &format!("/invoices/{invoice}/paid"),
                &[("payment_ref", "п/п 42")],
            )
            .await;
        assert_eq!(paid.status, 303, "{}", paid.body);
        let (_, after) = owner_api
            .get(&format!("/api/v1/registers/{register}/tariff"))
            .await;
        assert_eq!(
            after["paid_until"].as_i64(),
            Some(trial_until + 2 * 30 * 86_400_000)
        );
        let page = owner.get(&format!("/invoices/{invoice}")).await;
        assert!(
            page.body.contains("id=\"invoice-status\">оплачено<") && page.body.contains("п/п 42"),
            "{}",
            page.body
        );
        assert!(!operator
            .get("/operator")
            .await
            .body
            .contains(&format!("/invoices/{invoice}/paid\"")));

        // The support view: the register as support sees it.
        let support = operator
            .get(&format!("/operator/support?register_id={register}"))
            .await;
        assert_eq!(
            (support.status, support.header("location")),
            (303, format!("/operator/registers/{register}").as_str())
        );
        let support = operator
            .get(&format!("/operator/registers/{register}"))
            .await;
        assert_eq!(support.status, 200, "{}", support.body);
        assert!(support.body.contains("9999078900004399") && support.body.contains(INN_A));
        account.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wired_requests_are_filed_by_clients_and_scheduled_by_operator_staff() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let mail = MailServer::start().await;
        let account = start(&store, &mail).await;
        let (owner_api, org_id) = owner(&account, &mail, INN_A, "owner@wired.test").await;
        let _ = staff(&account, &mail, &owner_api, "acc@wired.test", "accountant").await;
        let _ = owner(&account, &mail, INN_B, "owner@other3.test").await;
        // Without an e-signature verifier (the default): no link, no page.
        let visitor = PageClient::new(&account.url);
        assert!(!visitor.get("/login").await.body.contains("/login/esign"));
        assert_eq!(visitor.get("/login/esign").await.status, 404);
        let owner = browser(&account, "owner@wired.test").await;
        let fields = |phone: &'static str| {
            vec![
                ("address", "Москва, Тверская 1"),
                ("contact_person", "Иван"),
                ("phone", phone),
                ("preferred_date", "2027-01-15"),
                ("window_from", "10:00"),
                ("window_to", "13:00"),
            ]
        };
        let bad = owner
            .submit("/wired-requests", "/wired-requests", &fields("call me"))
            .await;
        assert_eq!(bad.status, 400);
        assert!(field_error(&bad, "phone").is_some(), "{}", bad.body);
        assert!(bad.body.contains("value=\"Москва, Тверская 1\""));
        let filed = owner
            .submit(
                "/wired-requests",
                "/wired-requests",
                &fields("+7 901 123-45-67"),
            )
            .await;
        assert_eq!(filed.status, 303, "{}", filed.body);
        let (_, list) = owner_api.get("/api/v1/wired-requests").await;
        let id = list["requests"][0]["id"].as_i64().expect("id");
        let page = owner.get("/wired-requests").await;
        assert!(page.body.contains("15.01.2027") && page.body.contains("новая"));
        assert!(
            !page.body.contains("name=\"scheduled_date\""),
            "clients do not schedule"
        );

        // An accountant has no wired requests; another organisation does not see this one.
        let accountant = browser(&account, "acc@wired.test").await;
        assert_eq!(accountant.get("/wired-requests").await.status, 403);
        let other = browser(&account, "owner@other3.test").await;
        let theirs = other.get("/wired-requests").await;
        assert!(!theirs.body.contains("Тверская 1"));
        let csrf = theirs.csrf();
        let refused = other
            .post_raw(
                &format!("/wired-requests/{id}/status"),
                &[("csrf", &csrf), ("status", "cancelled")],
            )
            .await;
        assert_eq!(refused.status, 404);
        // The client may not schedule it themselves.
        let csrf = page.csrf();
        let refused = owner
            .post_raw(
                &format!("/wired-requests/{id}/status"),
                &[
                    ("csrf", &csrf),
                    ("status", "scheduled"),
                    ("scheduled_date", "2027-01-16"),
                ],
            )
            .await;
        assert_eq!(refused.status, 403);

        // Operator staff see it in the console and schedule the visit.
        let operator = operator_pages(&account).await;
        assert!(operator
            .get("/operator")
            .await
            .body
            .contains("Москва, Тверская 1"));
        let scheduled = operator
            .submit(
                "/wired-requests",
                &format!("/wired-requests/{id}/status"),
                &[("status", "scheduled"), ("scheduled_date", "2027-01-16")],
            )
            .await;
        assert_eq!(scheduled.status, 303, "{}", scheduled.body);
        let page = owner.get("/wired-requests").await;
        assert!(
            page.body.contains("визит назначен") && page.body.contains("16.01.2027"),
            "{}",
            page.body
        );
        // Operator staff file one for an organisation by naming it.
        let org = org_id.to_string();
        let mut named: Vec<(&str, &str)> = fields("+7 901 123-45-68");
        named.push(("org_id", &org));
        let filed = operator
            .submit("/wired-requests", "/wired-requests", &named)
            .await;
        assert_eq!(filed.status, 303, "{}", filed.body);
        let (_, list) = owner_api.get("/api/v1/wired-requests").await;
        assert_eq!(list["requests"].as_array().map(Vec::len), Some(2));

        // Operator staff change an organisation's alert settings by naming it.
        let ask = operator.get("/alerts/settings").await;
        assert_eq!(ask.status, 200, "{}", ask.body);
        assert!(ask.body.contains("name=\"org_id\""));
        let path = format!("/alerts/settings?org_id={org_id}");
        let page = operator.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let saved = operator
            .submit(
                &path,
                "/alerts/settings",
                &[
                    ("org_id", org.as_str()),
                    ("silent_hours", "7"),
                    ("drive_key_days", "30"),
                    ("unsent_days", "3"),
                    ("kz_offline_hours", "48"),
                    ("shift_open_hours", "24"),
                    ("tariff_days", "7"),
                    ("event_window_hours", "24"),
                ],
            )
            .await;
        assert_eq!(saved.status, 200, "{}", saved.body);
        let (_, settings) = owner_api.get("/api/v1/alerts/settings").await;
        assert_eq!(settings["thresholds"]["silent_hours"], 7, "{settings}");
        account.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_signature_login_and_signing_only_with_a_verifier() {
    use base64::Engine as _;
    on_each_backend(|db| async move {
        let b64 = base64::engine::general_purpose::STANDARD;
        let store = db.open().await;
        let mail = MailServer::start().await;
        // With one: the link, the challenge, the API's verdicts.
        let account = start_esign(&store, &mail, std::sync::Arc::new(DigestSigner)).await;
        let visitor = PageClient::new(&account.url);
        let login = visitor.get("/login").await;
        assert!(
            login.body.contains("href=\"/login/esign\""),
            "{}",
            login.body
        );
        let form = visitor.get("/login/esign").await;
        assert_eq!(form.status, 200);
        let challenge = challenge_in(&form);
        let csrf = form.csrf();
        let wrong = visitor
            .post_raw(
                "/login/esign",
                &[
                    ("csrf", &csrf),
                    ("challenge", &challenge),
                    ("signature", &b64.encode(b"x:00")),
                ],
            )
            .await;
        assert_eq!(wrong.status, 401);
        assert!(
            wrong.body.contains("Подпись не прошла проверку."),
            "{}",
            wrong.body
        );
        // That challenge is spent: signing it now is refused; the page carries a new one.
        let spent = visitor
            .post_raw(
                "/login/esign",
                &[
                    ("csrf", &csrf),
                    ("challenge", &challenge),
                    (
                        "signature",
                        &b64.encode(DigestSigner::sign(INN_A, &b64.decode(&challenge).unwrap())),
                    ),
                ],
            )
            .await;
        assert_eq!(spent.status, 401);
        assert!(
            spent.body.contains("устарела или уже использована"),
            "{}",
            spent.body
        );
        let challenge = challenge_in(&spent);
        let bytes = b64.decode(&challenge).expect("base64 challenge");
        let signed = b64.encode(DigestSigner::sign(INN_A, &bytes));
        let verified = visitor
            .post_raw(
                "/login/esign",
                &[
                    ("csrf", &csrf),
                    ("challenge", &challenge),
                    ("signature", &signed),
                ],
            )
            .await;
        // Verified, but no account is linked to the certificate yet.
        assert_eq!(verified.status, 401, "{}", verified.body);
        assert!(
            verified.body.contains("не привязана учётная запись"),
            "{}",
            verified.body
        );
        assert!(visitor.cookie("ofd_session").is_none());

        // Signing an application on its page.
        let (_, _) = owner(&account, &mail, INN_A, "owner@esign.test").await;
        let owner = browser(&account, "owner@esign.test").await;
        let register = add_register(&owner, "9999078900004399").await;
        let drafted = owner
            .submit(
                &format!("/registers/{register}"),
                &format!("/registers/{register}/applications"),
                &[
                    ("kind", "deregistration"),
                    ("deregistration_reason", "sold"),
                ],
            )
            .await;
        let application = id_in_location(&drafted, "/applications/");
        let page = owner.get(&format!("/applications/{application}")).await;
        let payload = page
            .body
            .split("id=\"signed-payload\">")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .expect("the payload to sign")
            .to_owned();
        let payload = b64.decode(payload).expect("base64 payload");
        let refused = owner
            .submit(
                &format!("/applications/{application}"),
                &format!("/applications/{application}/sign"),
                &[(
                    "signature",
                    &b64.encode(DigestSigner::sign(INN_B, &payload)),
                )],
            )
            .await;
        assert_eq!(refused.status, 400);
        assert!(
            refused.body.contains("another taxpayer"),
            "{}",
            refused.body
        );
        let signed = owner
            .submit(
                &format!("/applications/{application}"),
                &format!("/applications/{application}/sign"),
                &[(
                    "signature",
                    &b64.encode(DigestSigner::sign(INN_A, &payload)),
                )],
            )
            .await;
        assert_eq!(signed.status, 303, "{}", signed.body);
        let page = owner.get(&format!("/applications/{application}")).await;
        assert!(
            page.body.contains(&format!("Директор {INN_A}")) && page.body.contains("подписано")
        );

        // Linking the certificate on the profile page, then logging in with it.
        let profile = owner.get("/profile").await;
        assert_eq!(profile.status, 200);
        assert!(
            profile.body.contains("Подписи пока не привязаны."),
            "{}",
            profile.body
        );
        let challenge = challenge_in(&profile);
        let bytes = b64.decode(&challenge).expect("base64 challenge");
        let linked = owner
            .post_raw(
                "/profile/esign",
                &[
                    ("csrf", &profile.csrf()),
                    ("challenge", &challenge),
                    ("signature", &b64.encode(DigestSigner::sign(INN_A, &bytes))),
                ],
            )
            .await;
        assert_eq!(linked.status, 303, "{}", linked.body);
        let profile = owner.get("/profile?done=esign_linked").await;
        assert!(
            profile.body.contains("Подпись привязана."),
            "{}",
            profile.body
        );
        assert!(
            profile.body.contains(&format!("Директор {INN_A}")),
            "{}",
            profile.body
        );
        let form = visitor.get("/login/esign").await;
        let challenge = challenge_in(&form);
        let bytes = b64.decode(&challenge).expect("base64 challenge");
        let in_by_signature = visitor
            .post_raw(
                "/login/esign",
                &[
                    ("csrf", &form.csrf()),
                    ("challenge", &challenge),
                    ("signature", &b64.encode(DigestSigner::sign(INN_A, &bytes))),
                ],
            )
            .await;
        assert_eq!(in_by_signature.status, 303, "{}", in_by_signature.body);
        assert!(visitor.cookie("ofd_session").is_some());
        let home = visitor.get("/").await;
        assert_eq!(home.status, 200);
        assert!(home.body.contains("owner@esign.test"), "{}", home.body);
        account.stop().await;
    })
    .await;
}

/// Sign up a KZ organisation's owner through the API and the mailed link.
async fn kz_owner(account: &Account, mail: &MailServer, email: &str) {
    let anonymous = Client::anonymous(&account.url);
    let (status, answer) = anonymous
        .post("/api/v1/signup", signup_body(KZ_BIN, "kz", email))
        .await;
    assert_eq!(status, 202, "{answer}");
    let (_, _, body) = mail.next().await;
    let (status, answer) = anonymous
        .get(&format!(
            "/api/v1/signup/confirm?token={}",
            token_of(&link_in(&body))
        ))
        .await;
    assert_eq!(status, 200, "{answer} {}", error_code(&answer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kz_organisation_s_pages_speak_kazakh_and_count_in_tenge() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let mail = MailServer::start().await;
        let account = start(&store, &mail).await;
        kz_owner(&account, &mail, "owner@kz.test").await;
        let plan_id = plan(&account, "Негізгі", "KZT").await;
        let owner = browser(&account, "owner@kz.test").await;
        let home = owner.get("/").await;
        assert!(
            home.body.contains("<html lang=\"kk\""),
            "the country decides"
        );
        let money = owner.get("/money").await;
        assert!(
            money.body.contains("1\u{a0}500,00\u{a0}₸"),
            "{}",
            money.body
        );
        assert!(money.body.contains("Тарифтер мен шоттар"));
        let pos = owner.get("/points-of-sale").await;
        assert!(
            pos.body.contains("name=\"kato_code\"") && !pos.body.contains("name=\"fias_code\"")
        );
        // A choice of language is remembered over the country's: in this browser (its cookie)
        // and for the user, on a device that never chose.
        let russian = owner.get("/money?lang=ru").await;
        assert!(russian.body.contains("<html lang=\"ru\""));
        assert!(owner.get("/money").await.body.contains("Тарифы и счета"));
        let phone = browser(&account, "owner@kz.test").await;
        assert!(phone.cookie("ofd_lang").is_none());
        assert!(phone.get("/money").await.body.contains("<html lang=\"ru\""));
        let _ = phone.get("/?lang=en").await;
        let laptop = browser(&account, "owner@kz.test").await;
        assert!(laptop.get("/").await.body.contains("<html lang=\"en\""));
        let _ = plan_id;
        account.stop().await;
    })
    .await;
}
