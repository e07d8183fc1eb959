//! `ofd account` as a process: a key made with `ofd account key create` opens the API, `ofd
//! account key revoke` closes it again, and SIGTERM stops the server cleanly.

mod common;

use std::process::Stdio;
use std::time::Duration;

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
