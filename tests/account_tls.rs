//! The account API over HTTPS with a certificate made by the test: a client that trusts the CA
//! gets answers, plain HTTP on that port gets none, and a public address without a certificate
//! is refused at start.

mod common;

use common::TestDb;
use ofd::account::{spawn, AccountOptions};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn the_account_api_answers_over_https_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("CA");
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("sign");
    std::fs::write(dir.path().join("api.pem"), cert.pem()).expect("write");
    std::fs::write(dir.path().join("api.key"), key.serialize_pem()).expect("write");

    let db = TestDb::sqlite();
    let store = db.open().await;
    let secret = store.create_api_key("tls").await.expect("key");
    let config = AccountOptions {
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        tls_cert: Some(dir.path().join("api.pem")),
        tls_key: Some(dir.path().join("api.key")),
        ..AccountOptions::default()
    }
    .resolve()
    .expect("valid");
    let shutdown = CancellationToken::new();
    let running = spawn(store.clone(), &config, shutdown.clone())
        .await
        .expect("starts");
    let port = running.addr.port();

    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).expect("CA"))
        .build()
        .expect("client");
    let url = format!("https://localhost:{port}/api/v1/organisations");
    let unauthorised = client.get(&url).send().await.expect("HTTPS answer");
    assert_eq!(unauthorised.status(), 401);
    let listed = client
        .get(&url)
        .bearer_auth(secret.secret.expose())
        .send()
        .await
        .expect("HTTPS answer");
    assert_eq!(listed.status(), 200);

    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v1/organisations"))
        .send()
        .await;
    assert!(
        !plain.is_ok_and(|r| r.status().is_success()),
        "plain HTTP was served on the HTTPS port"
    );

    shutdown.cancel();
    running.task.await.expect("join").expect("clean stop");
    store.close().await;

    let public = AccountOptions {
        listen: Some("0.0.0.0:0".parse().expect("addr")),
        ..AccountOptions::default()
    }
    .resolve()
    .expect_err("plain HTTP off loopback");
    assert!(public.to_string().contains("account.listen"), "{public}");
}
