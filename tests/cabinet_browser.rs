//! The web cabinet in a real browser (headless chromium over WebDriver) against the real
//! account service on loopback, a real database and the real SMTP server of the tests: a new
//! owner signs up, confirms from the mail, logs in and sees home; invites a person; creates an
//! API key (shown once, and it works on the API); adds a KZ register and sees its token once;
//! acknowledges an alert the evaluator raised; switches to Kazakh and English; and the owner of
//! another organisation gets the 404 page for the first one's register. Screenshots of each
//! page go to `target/screenshots/`. Runs on SQLite, and on PostgreSQL when `OFD_TEST_PG` is set.

mod account_support;
mod cabinet_fleet;
mod cabinet_support;
mod common;
mod emulate_support;

use account_support::{link_in, owner, staff, Account, Client, MailServer, PASSWORD};
use cabinet_support::Browser;
use common::on_each_backend;
use ofd::account::alert_evaluator::evaluate_once;
use ofd::account::AccountOptions;

const HOUR_MS: i64 = 3_600_000;
/// Documents the KZ register sends with `ofd emulate` (the last one closes the shift).
const KZ_DOCUMENTS: u64 = 6;

/// Whether the image `id` on the page was loaded and decoded (an SVG the CSP or a bad file
/// kept out has no natural width).
async fn image_shown(browser: &Browser, id: &str) -> bool {
    let width = browser
        .driver
        .execute(
            "const i = document.getElementById(arguments[0]); \
             return i && i.complete ? i.naturalWidth : 0;",
            vec![serde_json::json!(id)],
        )
        .await
        .expect("measure");
    width.as_i64().is_some_and(|w| w > 0)
}

/// The page's width in CSS pixels (at most the window's when nothing runs off the side).
async fn page_width(browser: &Browser) -> i64 {
    browser
        .driver
        .execute("return document.documentElement.scrollWidth;", vec![])
        .await
        .expect("measure")
        .as_i64()
        .unwrap_or(i64::MAX)
}

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

        // The register sends its documents: `ofd emulate` against the ingest port with the
        // system id and the token the page showed; then the projector builds the read tables.
        let system_id = store
            .register_by_id(register_id)
            .await
            .expect("read")
            .and_then(|r| r.system_id)
            .expect("a KZ system id");
        cabinet_fleet::send_kz_documents(
            &db.url,
            &store,
            system_id,
            token.parse().expect("token"),
            KZ_DOCUMENTS,
        )
        .await;

        // Home has today's figures now (today by the UTC date: the register's own date may
        // already be tomorrow, so only the figure's presence is checked here).
        browser.open("/").await;
        let today = browser
            .el("#today-receipts")
            .await
            .text()
            .await
            .expect("text");
        assert!(today.parse::<i64>().is_ok(), "{today}");
        browser.shot(&shot("home-today")).await;

        // Documents: every one listed, newest first; the form's filters narrow the list.
        browser.open("/documents").await;
        browser.expect_title("Документы").await;
        browser
            .expect_count("tr.document", KZ_DOCUMENTS as usize)
            .await;
        assert!(browser.text().await.contains("₸"), "KZ money in tenge");
        browser.shot(&shot("documents")).await;
        browser
            .choose("form.documents", "kind", "kz_close_shift")
            .await;
        browser.click("form.documents button[type=submit]").await;
        // One Z report: the count is waited for, as the unfiltered page is still shown
        // for a moment after the click.
        browser.expect_count("tr.document", 1).await;
        assert!(browser.text().await.contains("Z-отчёт"));
        browser.shot(&shot("documents-filtered")).await;
        // One receipt as the check page shows it, with its QR code drawn.
        browser.open("/documents?operation=sale").await;
        browser.click("tr.document a").await;
        browser.el("#receipt-total").await;
        let receipt_path = browser.path().await;
        assert!(receipt_path.starts_with("/documents/"), "{receipt_path}");
        let title = browser.title().await;
        assert!(title.starts_with("Чек № "), "{title}");
        assert!(image_shown(&browser, "qr").await, "the QR code is drawn");
        browser.shot(&shot("receipt")).await;

        // Reports: totals with their charts, drawn in the browser despite the strict CSP.
        browser.open("/reports").await;
        browser.expect_title("Отчёты: итоги за период").await;
        for chart in ["chart-revenue", "chart-payments", "chart-hours"] {
            assert!(image_shown(&browser, chart).await, "{chart} is drawn");
        }
        let receipts = browser
            .el("#fig-receipts")
            .await
            .text()
            .await
            .expect("text");
        assert!(
            receipts.parse::<i64>().is_ok_and(|n| n > 0),
            "receipts: {receipts}"
        );
        browser.shot(&shot("reports")).await;
        browser
            .driver
            .execute(
                "document.getElementById('chart-revenue').scrollIntoView();",
                vec![],
            )
            .await
            .expect("scroll");
        browser.shot(&shot("reports-chart")).await;
        // The register's shifts: the Z report's figures beside the computed ones.
        browser.open("/reports/shifts").await;
        browser
            .click(&format!(
                "a[href='/reports/shifts?register_id={register_id}']"
            ))
            .await;
        browser
            .expect_title(&format!("Смены кассы {register_id}"))
            .await;
        let z = browser
            .el("tr.shift td.num.z")
            .await
            .text()
            .await
            .expect("z");
        assert!(z.parse::<i64>().is_ok_and(|n| n > 0), "Z receipts: {z:?}");
        browser.shot(&shot("shifts")).await;
        browser.open("/reports/delivery").await;
        browser.el("tr.day").await;
        browser.shot(&shot("delivery")).await;
        browser.open("/reports/unsent").await;
        browser.expect_title("Непереданные документы").await;
        browser.shot(&shot("unsent")).await;
        // Usable on a cashier's phone: nothing runs off the side at 360 px.
        browser
            .driver
            .set_window_size(360, 800)
            .await
            .expect("resize");
        for path in ["/documents", "/reports", "/reports/shifts"] {
            browser.open(path).await;
            let width = page_width(&browser).await;
            assert!(width <= 360, "{path} is {width} px wide");
        }
        browser.shot(&shot("reports-360px")).await;
        browser
            .driver
            .set_window_size(1200, 900)
            .await
            .expect("resize");
        // In Kazakh.
        browser.open("/reports?lang=kk").await;
        browser.expect_title("Есептер: кезең қорытындысы").await;
        assert!(browser.text().await.contains("Түсім"));
        browser.shot(&shot("reports-kk")).await;
        browser.open("/documents").await;
        browser.expect_title("Құжаттар").await;
        browser.shot(&shot("documents-kk")).await;
        browser.open("/alerts?lang=ru").await;
        browser.expect_title("Оповещения").await;

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
        let (other, _) = owner(&account, &mail, "500100732259", "other@elsewhere.test").await;
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

        // An accountant of another organisation opens none of the documents and reports.
        let (_, _) = staff(
            &account,
            &mail,
            &other,
            "accountant@elsewhere.test",
            "accountant",
        )
        .await;
        browser.click("form[action='/logout'] button").await;
        browser.expect_title("Log in").await;
        browser.fill("login", "accountant@elsewhere.test").await;
        browser.fill("password", PASSWORD).await;
        browser.click("form[action='/login'] button").await;
        browser.expect_title("Home").await;
        for path in [
            format!("/reports/shifts?register_id={register_id}"),
            format!("/reports?register_id={register_id}"),
            format!("/reports/delivery?register_id={register_id}"),
            receipt_path.clone(),
        ] {
            browser.open(&path).await;
            assert!(
                browser.title().await.starts_with("404"),
                "{path}: {}",
                browser.title().await
            );
        }
        browser.shot(&shot("other-accountant-404")).await;
        browser.open("/documents").await;
        assert!(browser.find_none("tr.document").await);
        browser.open("/reports").await;
        assert!(
            browser.find_none("img.chart").await,
            "no receipts, no charts"
        );
        browser.shot(&shot("other-accountant-reports")).await;

        browser.close().await;
        account.stop().await;
    })
    .await;
}
