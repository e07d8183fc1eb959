//! `ofd account` as a process: a key made with `ofd account key create` opens the API, `ofd
//! account key revoke` closes it again, and SIGTERM stops the server cleanly; a fresh
//! installation's `ofd all` says where its cabinet is, and `ofd account operator create` makes
//! the first operator login for it.

mod cabinet_support;
mod common;

use std::process::Stdio;
use std::time::Duration;

use cabinet_support::PageClient;
use common::TestDb;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Run `ofd account key …` on `database`; its stdout.
fn key_command(database: &str, words: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args(["account", "key"])
        .args(words)
        .args(["--database", database])
        .output()
        .expect("run ofd account key");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).expect("UTF-8 stdout")
}

async fn status_with(url: &str, key: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{url}/api/v1/registers"))
        .bearer_auth(key)
        .send()
        .await
        .expect("HTTP exchange")
        .status()
        .as_u16()
}

#[tokio::test]
async fn cli_keys_open_and_close_the_api() {
    let db = TestDb::sqlite();
    let key = key_command(&db.url, &["create", "--name", "ops"]);
    let key = key.trim();
    assert!(key.starts_with("ofd_") && key.len() > 40, "{key}");
    let listed = key_command(&db.url, &["list", "--json"]);
    assert!(!listed.contains(key), "the list never shows keys: {listed}");
    assert!(listed.contains("\"ops\""), "{listed}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args(["--log-json", "account", "--listen", "127.0.0.1:0"])
        .args(["--database", &db.url])
        .env("RUST_LOG", "info")
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
    let rest = tokio::spawn(async move {
        let mut messages = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            let json: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            messages.push(
                json["fields"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        messages
    });
    let url = format!("http://{addr}");

    assert_eq!(status_with(&url, key).await, 200);
    key_command(&db.url, &["revoke", "--name", "ops"]);
    assert_eq!(status_with(&url, key).await, 401);

    let pid = child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stopped in time")
        .expect("wait");
    assert!(exit.success(), "SIGTERM is a clean stop: {exit:?}");
    let messages = rest.await.expect("log reader");
    assert!(
        messages.iter().any(|m| m == "account API drained"),
        "{messages:?}"
    );
}

/// What a new operator does after the README's one command: read the cabinet's address from
/// `ofd all`'s log, make the first operator login with `ofd account operator create` on the
/// same configuration, and sign in to the operator console with it.
#[tokio::test]
async fn a_fresh_installation_names_its_cabinet_and_makes_its_first_operator() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let config = dir.path().join("ofd.toml");
    std::fs::write(
        &config,
        format!("[account]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .expect("config");
    let config = config.to_str().expect("UTF-8 path");
    let sink_db = dir.path().join("sink.db");
    let mut all = Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args([
            "--log-json",
            "all",
            "--config",
            config,
            "--database",
            &db.url,
        ])
        .args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
        .args([
            "--tax-sink-listen",
            "127.0.0.1:0",
            "--forward-metrics-listen",
            "127.0.0.1:0",
        ])
        .args(["--tax-sink-db", sink_db.to_str().expect("UTF-8 path")])
        .env("RUST_LOG", "info")
        .env_remove("OFD_SINK_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn ofd all");
    let mut lines = BufReader::new(all.stderr.take().expect("stderr")).lines();
    let cabinet = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("read log") {
            let json: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if json["fields"]["message"] == "ofd all serving" {
                return json["fields"]["cabinet"].as_str().map(str::to_owned);
            }
        }
        panic!("ofd all exited before serving");
    })
    .await
    .expect("ofd all started in time")
    .expect("the serving line names the cabinet");
    assert_eq!(cabinet, format!("http://127.0.0.1:{port}/"));

    let made = std::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args(["account", "operator", "create", "--name", "first"])
        .args(["--config", config, "--database", &db.url])
        .output()
        .expect("run ofd account operator create");
    assert!(made.status.success(), "{made:?}");
    let stdout = String::from_utf8(made.stdout).expect("UTF-8 stdout");
    let key = stdout.trim();
    assert_eq!(
        stdout.lines().count(),
        1,
        "stdout is the key alone: {stdout:?}"
    );
    assert!(key.starts_with("ofd_") && key.len() > 40, "{key}");
    let stderr = String::from_utf8(made.stderr).expect("UTF-8 stderr");
    assert!(
        stderr.contains(&format!("{cabinet}operator/login")),
        "says where to sign in: {stderr}"
    );
    assert!(!stderr.contains(key), "the key is printed once, on stdout");

    let base = cabinet.trim_end_matches('/');
    assert_eq!(
        status_with(base, key).await,
        200,
        "an operator key opens the API"
    );
    let console = PageClient::new(base);
    let signed = console
        .submit("/operator/login", "/operator/login", &[("key", key)])
        .await;
    assert_eq!(
        (signed.status, signed.header("location")),
        (303, "/operator")
    );
    let page = console.get("/operator").await;
    assert_eq!(page.status, 200, "{}", page.body);

    let again = std::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args(["account", "operator", "create", "--name", "first"])
        .args(["--config", config, "--database", &db.url])
        .output()
        .expect("run ofd account operator create");
    assert!(
        !again.status.success(),
        "a second live login named alike is refused"
    );
    assert!(again.stdout.is_empty());
}
