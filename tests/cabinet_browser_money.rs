//! The points-of-sale, register, money and applications pages and the operator console in a
//! real browser (headless chromium over WebDriver) against the real account service on
//! loopback and a real database: an owner adds a point of sale, adds a register and moves it
//! there (confirming the edit), puts it on a tariff plan, issues an invoice and drafts and submits
//! a re-registration application (its printable page); operator staff sign in with their key and
//! mark the invoice paid from the console, and the owner sees it paid and the register's
//! paid-until date moved. The money and register pages fit a 360 px wide screen. Screenshots
//! go to `target/screenshots/` (`money-*.png`). Runs on SQLite, and on PostgreSQL when
//! `OFD_TEST_PG` is set.

mod account_support;
mod cabinet_support;
mod common;

use account_support::{owner, Account, PASSWORD};
use cabinet_support::Browser;
use common::on_each_backend;
use serde_json::json;

/// The page's width at `width` px: nothing may run off the side.
async fn assert_fits(browser: &Browser, path: &str, width: u32) {
    browser
        .driver
        .set_window_size(width, 800)
        .await
        .expect("resize");
    browser.open(path).await;
    let scroll = browser
        .driver
        .execute("return document.documentElement.scrollWidth;", vec![])
        .await
        .expect("measure");
    let culprits = browser
        .driver
        .execute(
            "return Array.from(document.querySelectorAll('body *')).filter(e => \
             e.getBoundingClientRect().right > window.innerWidth).slice(0, 8).map(e => \
             e.tagName + '.' + e.className + '#' + e.id + ' ' + \
             Math.round(e.getBoundingClientRect().right));",
            vec![],
        )
        .await
        .expect("measure");
    assert!(
        scroll.as_i64().is_some_and(|w| w <= i64::from(width)),
        "{path} is {scroll} px wide at {width} px: {culprits}"
    );
    browser
        .driver
        .set_window_size(1200, 900)
        .await
        .expect("resize");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_register_is_set_up_billed_filed_and_paid_in_a_browser() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let (account, mail) = Account::start_with_mail(&store).await;
        let (owner_api, _) = owner(&account, &mail, "7707083893", "owner@browser.test").await;
        let (status, plan) = account
            .post(
                "/api/v1/tariff-plans",
                json!({ "name": "Стандарт", "price_minor": 150_000, "currency": "RUB",
                        "period_days": 30, "trial_days": 5 }),
            )
            .await;
        assert_eq!(status, 201, "{plan}");
        let Some(browser) = Browser::start(&account.url).await else {
            return;
        };
        let backend = format!("{:?}", db.backend).to_lowercase();
        let shot = |name: &str| format!("money-{backend}-{name}");

        browser.open("/login?lang=ru").await;
        browser.fill("login", "owner@browser.test").await;
        browser.fill("password", PASSWORD).await;
        browser.click("form[action='/login'] button").await;
        browser.expect_title("Главная").await;

        // A point of sale: first refused beside its field, then added.
        browser.click("nav a[href='/points-of-sale']").await;
        browser.expect_title("Точки продаж и кассы").await;
        browser.fill("name", "Магазин у дома").await;
        browser.fill("city", "Москва").await;
        browser.fill("postal_code", "1010").await;
        browser
            .click("form[action='/points-of-sale'] button[type=submit]")
            .await;
        browser
            .el("span.field-error[data-field='postal_code']")
            .await;
        browser.shot(&shot("pos-error")).await;
        browser
            .el("[name='postal_code']")
            .await
            .clear()
            .await
            .expect("clear");
        browser.fill("postal_code", "101000").await;
        browser
            .click("form[action='/points-of-sale'] button[type=submit]")
            .await;
        browser.expect_text("Точка продаж сохранена.").await;
        browser.expect_text("101000, Москва").await;
        browser.shot(&shot("pos")).await;

        // A register, moved to the point of sale by an edit the owner then confirms.
        browser.open("/registers").await;
        browser
            .choose("form[method='post'][action='/registers']", "dialect", "ru")
            .await;
        browser.fill("fn_number", "9999078900004399").await;
        browser
            .click("form[method='post'][action='/registers'] button[type=submit]")
            .await;
        let title = {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let title = browser.title().await;
                if title.starts_with("Касса ") {
                    break title;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "no register page: {title}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        };
        let register: i64 = title["Касса ".len()..].parse().expect("register id");
        let (_, points) = owner_api
            .get("/api/v1/organisations/7707083893/points-of-sale")
            .await;
        let pos_id = points["points_of_sale"][0]["id"].as_i64().expect("pos");
        let edit = format!("form[action='/registers/{register}/edit']");
        browser.choose(&edit, "pos_id", &pos_id.to_string()).await;
        browser.click(&format!("{edit} button[type=submit]")).await;
        browser.expect_text("Изменения сохранены.").await;
        browser
            .click(&format!(
                "form[action='/registers/{register}/confirm'] button"
            ))
            .await;
        browser.expect_text("Изменения подтверждены.").await;
        assert_eq!(
            browser.el("#lifecycle").await.text().await.expect("text"),
            "работает"
        );

        // The tariff plan, then an invoice for one period.
        let tariff = format!("form[action='/registers/{register}/tariff']");
        browser
            .choose(
                &tariff,
                "plan_id",
                &plan["id"].as_i64().expect("id").to_string(),
            )
            .await;
        browser.click(&format!("{tariff} button")).await;
        browser.expect_text("Тариф подключён.").await;
        let trial_until = browser.el("#paid-until").await.text().await.expect("text");
        browser.shot(&shot("register")).await;
        assert_fits(&browser, &format!("/registers/{register}"), 360).await;
        browser.open(&format!("/registers/{register}")).await;
        browser
            .click("form[action='/invoices'] button[type=submit]")
            .await;
        browser.expect_text("Счёт выставлен.").await;
        let total = browser
            .el("#invoice-total")
            .await
            .text()
            .await
            .expect("text");
        assert!(
            total.contains("1") && total.contains("500,00") && total.contains('₽'),
            "{total}"
        );
        assert_eq!(
            browser
                .el("#invoice-status")
                .await
                .text()
                .await
                .expect("text"),
            "не оплачено"
        );
        let invoice_path = browser.path().await;
        browser.shot(&shot("invoice")).await;
        browser.click("nav a[href='/money']").await;
        browser.expect_title("Тарифы и счета").await;
        browser.shot(&shot("money")).await;
        assert_fits(&browser, "/money", 360).await;

        // A re-registration application: drafted, printable, submitted.
        browser.open(&format!("/registers/{register}")).await;
        let apps = format!("form[action='/registers/{register}/applications']");
        browser.choose(&apps, "kind", "reregistration").await;
        browser.click("#reason-new_address").await;
        browser.click(&format!("{apps} button[type=submit]")).await;
        browser.expect_text("Черновик заявления составлен.").await;
        assert!(browser
            .title()
            .await
            .starts_with("Заявление о перерегистрации ККТ № "));
        browser.expect_text("новый адрес").await;
        browser.shot(&shot("application")).await;
        browser.click("form[action$='/submit'] button").await;
        browser.expect_text("Заявление подано.").await;
        assert_eq!(
            browser.el("#app-status").await.text().await.expect("text"),
            "подано"
        );
        browser.shot(&shot("application-submitted")).await;

        // Operator staff mark the invoice paid from their console.
        browser.click("form[action='/logout'] button").await;
        // The logout's redirect lands first: opened before it, the operator's login page was
        // replaced by the cabinet's once the redirect arrived (seen under a loaded machine).
        browser.expect_title("Вход").await;
        browser.open("/operator/login").await;
        browser.fill("key", &account.key).await;
        browser.click("form[action='/operator/login'] button").await;
        browser.expect_title("Консоль оператора: организации").await;
        browser
            .expect_text("Заявления, ждущие ответа налоговой")
            .await;
        browser.shot(&shot("operator-console")).await;
        let invoice_id = invoice_path.trim_start_matches("/invoices/");
        browser
            .el(&format!("#ref-{invoice_id}"))
            .await
            .send_keys("п/п 7")
            .await
            .expect("typing");
        browser
            .click(&format!(
                "form[action='/invoices/{invoice_id}/paid'] button"
            ))
            .await;
        browser.expect_text("Оплата отмечена.").await;
        assert_eq!(
            browser
                .el("#invoice-status")
                .await
                .text()
                .await
                .expect("text"),
            "оплачено"
        );
        browser.shot(&shot("invoice-paid")).await;

        let (_, tariff) = owner_api
            .get(&format!("/api/v1/registers/{register}/tariff"))
            .await;
        let paid_until = chrono::DateTime::from_timestamp_millis(
            tariff["paid_until"].as_i64().expect("paid until"),
        )
        .expect("date")
        .format("%d.%m.%Y")
        .to_string();
        assert_ne!(paid_until, trial_until, "paying moved the paid-until date");
        browser.close().await;
        account.stop().await;
    })
    .await;
}
