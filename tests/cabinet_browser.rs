//! The web cabinet in a real browser (headless chromium over WebDriver) against the real
//! account service on loopback, a real database and the real SMTP server of the tests: a new
//! owner signs up, confirms from the mail, logs in and sees home; invites a person; creates an
//! API key (shown once, and it works on the API); adds a KZ register and sees its token once;
//! acknowledges an alert the evaluator raised; switches to Kazakh and English; and the owner of
//! another organisation gets the 404 page for the first one's register. Screenshots of each
//! page go to `target/screenshots/`. Runs on SQLite, and on PostgreSQL when `OFD_TEST_PG` is set.

mod account_support;
mod cabinet_support;
mod common;

use account_support::{link_in, owner, Account, Client, MailServer, PASSWORD};
use cabinet_support::Browser;
use common::on_each_backend;
use ofd::account::alert_evaluator::evaluate_once;
use ofd::account::AccountOptions;

const HOUR_MS: i64 = 3_600_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_owner_runs_the_cabinet_in_a_browser() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let mail = MailServer::start().await;
        let account = Account::start_with(
            &store,
            AccountOptions {
                smtp_url: Some(mail.url.as_str().into()),
                alert_interval_secs: Some(3600),
                ..AccountOptions::default()
            },
        )
        .await;
        let Some(browser) = Browser::start(&account.url).await else {
            return;
        };
        let backend = format!("{:?}", db.backend).to_lowercase();
        let shot = |name: &str| format!("{backend}-{name}");

        // Sign up, in Russian (the default language).
        browser.open("/signup?lang=ru").await;
        browser.expect_title("Регистрация").await;
        browser.shot(&shot("signup")).await;
        browser.fill("org_name", "ТОО Ромашка").await;
        browser.fill("inn", "7707083893").await;
        browser.fill("email", "owner@shop.test").await;
        browser.fill("phone", "12").await;
        browser.fill("password", PASSWORD).await;
        browser.fill("password_repeat", PASSWORD).await;
        browser.click("#f-consent").await;
        browser
            .click("form[action='/signup'] button[type=submit]")
            .await;
        // The API's refusal names the field; the page shows it next to that field.
        let error = browser.el("span.field-error[data-field='phone']").await;
        assert!(error.text().await.expect("text").contains("digits"));
        browser.shot(&shot("signup-error")).await;
        browser
            .el("[name='phone']")
            .await
            .clear()
            .await
            .expect("clear");
        browser.fill("password", PASSWORD).await;
        browser.fill("password_repeat", PASSWORD).await;
        if !browser
            .el("#f-consent")
            .await
            .is_selected()
            .await
            .expect("state")
        {
            browser.click("#f-consent").await;
        }
        browser
            .click("form[action='/signup'] button[type=submit]")
            .await;
        browser.expect_title("Проверьте почту").await;

        // Confirm from the mail: the link opens the cabinet's landing page.
        let (to, _, body) = mail.next().await;
        assert_eq!(to, "owner@shop.test");
        let link = link_in(&body);
        assert!(link.contains("/signup/confirm?token="), "{link}");
        browser.open(&link).await;
        browser.shot(&shot("confirm")).await;
        browser.click("form[action='/signup/confirm'] button").await;
        browser.expect_title("Почта подтверждена").await;

        // Log in and see home.
        browser.open("/login").await;
        browser.fill("login", "owner@shop.test").await;
        browser.fill("password", PASSWORD).await;
        browser.click("form[action='/login'] button").await;
        browser.expect_title("Главная").await;
        assert_eq!(browser.path().await, "/");
        browser.expect_text("Открытых оповещений нет.").await;
        browser.shot(&shot("home")).await;
        // Readable on a cashier's phone: at 360 px nothing runs off the side.
        browser
            .driver
            .set_window_size(360, 800)
            .await
            .expect("resize");
        browser.open("/").await;
        let width = browser
            .driver
            .execute("return document.documentElement.scrollWidth;", vec![])
            .await
            .expect("measure");
        assert!(
            width.as_i64().is_some_and(|w| w <= 360),
            "page is {width} px wide"
        );
        browser.shot(&shot("home-360px")).await;
        browser
            .driver
            .set_window_size(1200, 900)
            .await
            .expect("resize");

        // Invite a person.
        browser.open("/staff").await;
        browser.fill("email", "accountant@shop.test").await;
        browser
            .choose("form[action='/staff']", "role", "accountant")
            .await;
        browser.click("form[action='/staff'] button").await;
        let text = browser.expect_text("Приглашение отправлено.").await;
        assert!(text.contains("accountant@shop.test"), "{text}");
        assert!(text.contains("приглашён"), "{text}");
        let (to, _, body) = mail.next().await;
        assert_eq!(to, "accountant@shop.test");
        assert!(link_in(&body).contains("/invitation?token="), "{body}");
        browser.shot(&shot("staff")).await;

        // Create an API key: shown once, and it works.
        browser.open("/keys").await;
        browser.fill("name", "shop till").await;
        browser
            .choose("form[action='/keys']", "role", "accountant")
            .await;
        browser.click("form[action='/keys'] button").await;
        let secret = browser.el("#api-key").await.text().await.expect("key");
        assert!(secret.len() >= 20, "{secret}");
        browser.shot(&shot("keys-created")).await;
        let program = Client::with_key(&account.url, &secret);
        let (status, me) = program.get("/api/v1/me").await;
        assert_eq!((status, me["kind"].as_str()), (200, Some("key")), "{me}");
        browser.open("/keys").await;
        let page = browser.source().await;
        assert!(!page.contains(&secret), "the key is shown only once");
        assert!(page.contains("shop till"));

        // Add a KZ register: its token is shown on the answer, never again.
        browser.open("/registers").await;
        browser
            .choose("form[method='post'][action='/registers']", "dialect", "kz")
            .await;
        browser.fill("model", "WebKassa").await;
        browser
            .click("form[method='post'][action='/registers'] button")
            .await;
        let token = browser.el("#kz-token").await.text().await.expect("token");
        assert!(token.parse::<i64>().is_ok(), "{token}");
        let title = browser.title().await;
        assert!(title.starts_with("Касса "), "{title}");
        let register_id: i64 = title
            .strip_prefix("Касса ")
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("{title}"));
        browser.shot(&shot("register-token")).await;
        browser.open(&format!("/registers/{register_id}")).await;
        assert!(
            browser.find_none("#kz-token").await,
            "token shown only once"
        );
        assert!(!browser.source().await.contains(&format!(">{token}<")));
        assert!(browser.text().await.contains("WebKassa"));
        browser.open("/registers?dialect=kz").await;
        assert!(browser.text().await.contains("WebKassa"));
        browser.shot(&shot("registers")).await;

        // An alert: a day without documents from the new register.
        let later = ofd::clock::unix_millis() + 25 * HOUR_MS;
        let run = evaluate_once(&store, &account.url, later)
            .await
            .expect("evaluates");
        assert_eq!(run.raised, 1, "{run:?}");
        let (to, subject, _) = mail.next().await;
        assert_eq!(to, "owner@shop.test");
        assert!(subject.contains("No documents"), "{subject}");
        browser.open("/").await;
        let text = browser.text().await;
        assert!(text.contains("Нет документов от кассы"), "{text}");
        browser.open("/alerts").await;
        browser.click("tr.alert.firing form button").await;
        browser.expect_text("Оповещение принято.").await;
        browser.el("tr.alert.acknowledged").await;
        assert!(browser.find_none("tr.alert.firing").await);
        browser.shot(&shot("alerts")).await;

        // Switch language: Kazakh, then English, remembered across pages.
        browser.click("a[lang='kk']").await;
        browser.expect_title("Хабарламалар").await;
        browser.shot(&shot("alerts-kk")).await;
        browser.open("/").await;
        browser.expect_title("Басты бет").await;
        browser.click("a[lang='en']").await;
        browser.expect_title("Home").await;
        assert!(browser.text().await.contains("Registers"));
        browser.open("/registers").await;
        browser.expect_title("Registers").await;
        browser.shot(&shot("registers-en")).await;

        // Another organisation's owner gets the 404 page for this register.
        let (_other, _) = owner(&account, &mail, "500100732259", "other@elsewhere.test").await;
        browser.click("form[action='/logout'] button").await;
        browser.expect_title("Log in").await;
        assert_eq!(browser.path().await, "/login");
        browser.fill("login", "other@elsewhere.test").await;
        browser.fill("password", PASSWORD).await;
        browser.click("form[action='/login'] button").await;
        browser.expect_title("Home").await;
        browser.open(&format!("/registers/{register_id}")).await;
        browser.expect_text("There is no such page").await;
        assert!(
            browser.title().await.starts_with("404"),
            "{}",
            browser.title().await
        );
        assert!(!browser.text().await.contains("WebKassa"));
        browser.shot(&shot("other-org-404")).await;
        browser.open("/registers").await;
        assert!(!browser.text().await.contains("WebKassa"));

        browser.close().await;
        account.stop().await;
    })
    .await;
}
