//! No password, one-time token, session id or API key ever reaches a log line: the built
//! `ofd account` runs with JSON logs at debug level and a real SMTP server, every identity flow
//! is played against it (operator key from the CLI, sign-up, confirmation, login, an
//! organisation key, an invitation, a failed login, recovery), and then its whole log is
//! searched for each secret that was handed out or typed in.

mod account_support;
mod common;

use std::process::Stdio;
use std::time::Duration;

use account_support::{link_in, token_of, Client, MailServer};
use common::TestDb;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn flows_leave_no_secret_in_the_log() {
    let mail = MailServer::start().await;
    let db = TestDb::sqlite();
    let created = std::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args(["account", "key", "create", "--operator", "--name", "ops"])
        .args(["--database", &db.url])
        .output()
        .expect("ofd account key create");
    assert!(created.status.success(), "{created:?}");
    let operator_key = String::from_utf8(created.stdout).expect("utf-8");
    let operator_key = operator_key.trim().to_owned();

    let mut child = Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args(["--log-json", "account", "--listen", "127.0.0.1:0"])
        .args(["--database", &db.url, "--smtp-url", &mail.url])
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn ofd account");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("read log") {
            let json: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(addr) = json["fields"]["account"].as_str() {
                return addr.to_owned();
            }
        }
        panic!("ofd account exited before listening");
    })
    .await
    .expect("ofd account started in time");
    let log = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            all.push(line);
        }
        all
    });
    let url = format!("http://{addr}");
    let mut secrets = vec![operator_key.clone()];

    let password = "quiet-heron-93-meadow";
    secrets.push(password.to_owned());
    let anonymous = Client::anonymous(&url);
    let (status, _) = anonymous
        .post(
            "/api/v1/signup",
            json!({
                "organisation": { "inn": "7707083893", "name": "ООО Ромашка" },
                "email": "owner@shop.example", "phone": "+7 999 123-45-67",
                "password": password, "password_repeat": password, "consent": true,
            }),
        )
        .await;
    assert_eq!(status, 202);
    let (_, _, body) = mail.next().await;
    let link = link_in(&body);
    secrets.push(token_of(&link));
    let confirm = format!("/api/v1/signup/confirm?token={}", token_of(&link));
    assert_eq!(anonymous.get(&confirm).await.0, 200);

    let owner = Client::anonymous(&url);
    let (status, _) = owner
        .post(
            "/api/v1/login",
            json!({ "login": "79991234567", "password": password }),
        )
        .await;
    assert_eq!(status, 200, "login by phone");
    secrets.push(owner.session().expect("session"));
    let (status, issued) = owner
        .post(
            "/api/v1/api-keys",
            json!({ "name": "export", "role": "accountant" }),
        )
        .await;
    assert_eq!(status, 201);
    let org_key = issued["secret"].as_str().expect("secret").to_owned();
    secrets.push(org_key.clone());
    assert_eq!(
        Client::with_key(&url, &org_key).get("/api/v1/me").await.0,
        200
    );
    assert_eq!(
        Client::with_key(&url, &operator_key)
            .get("/api/v1/organisations")
            .await
            .0,
        200
    );

    let (status, _) = owner
        .post(
            "/api/v1/users",
            json!({ "email": "staff@shop.example", "role": "cashier" }),
        )
        .await;
    assert_eq!(status, 202);
    let (_, _, body) = mail.next().await;
    let invitation = token_of(&link_in(&body));
    secrets.push(invitation.clone());
    let staff_password = "brisk-otter-58-harbour";
    secrets.push(staff_password.to_owned());
    let (status, _) = anonymous
        .post(
            "/api/v1/invitations/accept",
            json!({ "token": invitation, "password": staff_password,
                    "password_repeat": staff_password }),
        )
        .await;
    assert_eq!(status, 200);

    let wrong = "wrong-guess-of-a-password";
    secrets.push(wrong.to_owned());
    let (status, _) = anonymous
        .post(
            "/api/v1/login",
            json!({ "login": "owner@shop.example", "password": wrong }),
        )
        .await;
    assert_eq!(status, 401);

    let (status, _) = anonymous
        .post(
            "/api/v1/password/forgot",
            json!({ "email": "owner@shop.example" }),
        )
        .await;
    assert_eq!(status, 202);
    let (_, _, body) = mail.next().await;
    let reset = token_of(&link_in(&body));
    secrets.push(reset.clone());
    let new_password = "fresh-lynx-71-orchard";
    secrets.push(new_password.to_owned());
    let (status, _) = anonymous
        .post(
            "/api/v1/password/reset",
            json!({ "token": reset, "password": new_password,
                    "password_repeat": new_password }),
        )
        .await;
    assert_eq!(status, 200);
    let again = Client::anonymous(&url);
    let (status, _) = again
        .post(
            "/api/v1/login",
            json!({ "login": "owner@shop.example", "password": new_password }),
        )
        .await;
    assert_eq!(status, 200);
    secrets.push(again.session().expect("session"));
    assert_eq!(again.post("/api/v1/logout", json!({})).await.0, 200);

    let pid = child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stopped in time")
        .expect("wait");
    let log = log.await.expect("log reader");
    assert!(
        log.iter().any(|l| l.contains("logged in")),
        "the flows were logged at all: {} lines",
        log.len()
    );
    assert!(log.iter().any(|l| l.contains("mail sent")));
    for secret in &secrets {
        assert!(secret.len() >= 10, "a real secret: {secret:?}");
        let hashed = ofd::store::api_keys::key_hash(secret);
        for line in &log {
            assert!(
                !line.contains(secret.as_str()),
                "a secret in the log: {line}"
            );
            assert!(
                !line.contains(&hashed),
                "a secret's hash in the log: {line}"
            );
        }
    }
}
