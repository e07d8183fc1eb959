//! Login by electronic signature in a real browser (headless chromium over WebDriver) against
//! the real account service on loopback and a real database: the owner logs in by password,
//! opens their profile from the header, links the certificate by signing the challenge the page
//! shows, logs out, and logs in again from the login page's "with an e-signature" link, landing
//! on the home page. Screenshots go to `target/screenshots/` (`esign-*.png`). Runs on SQLite,
//! and on PostgreSQL when `OFD_TEST_PG` is set.
//!
//! The signing tool is the tests' stand-in verifier, [`DigestSigner`] (the real one is the
//! deployment's crypto provider).

mod account_support;
mod cabinet_support;
mod common;

use std::sync::Arc;

use account_support::{owner, Account, DigestSigner, MailServer, PASSWORD};
use base64::Engine as _;
use cabinet_support::Browser;
use common::on_each_backend;
use ofd::account::AccountOptions;

const INN: &str = "7707083893";

/// Sign the challenge the page shows and type the signature into its form.
async fn sign_shown_challenge(browser: &Browser) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let challenge = browser
        .el("#esign-challenge")
        .await
        .text()
        .await
        .expect("challenge text");
    let bytes = b64.decode(challenge.trim()).expect("base64 challenge");
    browser
        .fill("signature", &b64.encode(DigestSigner::sign(INN, &bytes)))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_is_linked_and_logs_in_through_the_pages() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let mail = MailServer::start().await;
        let account = Account::start_with_esign(
            &store,
            AccountOptions {
                smtp_url: Some(mail.url.as_str().into()),
                ..AccountOptions::default()
            },
            Arc::new(DigestSigner),
        )
        .await;
        let (_, _) = owner(&account, &mail, INN, "owner@esign-browser.test").await;
        let Some(browser) = Browser::start(&account.url).await else {
            return;
        };
        let backend = format!("{:?}", db.backend).to_lowercase();
        let shot = |name: &str| format!("esign-{backend}-{name}");

        browser.open("/login?lang=ru").await;
        browser.fill("login", "owner@esign-browser.test").await;
        browser.fill("password", PASSWORD).await;
        browser.click("form[action='/login'] button").await;
        browser.expect_title("Главная").await;

        // The profile, from the header: no signature yet; link one.
        browser.click("#profile-link").await;
        browser.expect_title("Профиль").await;
        browser.expect_text("Подписи пока не привязаны.").await;
        sign_shown_challenge(&browser).await;
        browser
            .click("form[action='/profile/esign'] button[type=submit]")
            .await;
        browser.expect_text("Подпись привязана.").await;
        let text = browser.expect_text(&format!("Директор {INN}")).await;
        assert!(text.contains(INN), "{text}");
        browser.shot(&shot("profile-linked")).await;

        // Log out, and in again with the signature.
        browser.click("form[action='/logout'] button").await;
        browser.expect_title("Вход").await;
        browser.click("#esign-login").await;
        browser.expect_title("Вход с ЭЦП").await;
        browser.shot(&shot("login-form")).await;
        sign_shown_challenge(&browser).await;
        browser
            .click("form[action='/login/esign'] button[type=submit]")
            .await;
        browser.expect_title("Главная").await;
        assert_eq!(browser.path().await, "/");
        browser.expect_text("owner@esign-browser.test").await;
        browser.shot(&shot("logged-in")).await;
        browser.close().await;
        account.stop().await;
    })
    .await;
}
