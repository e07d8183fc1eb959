//! The `ofd migrate` and `ofd register` tools, run as the built binary against real databases.

mod common;

use std::process::Command;

use common::on_each_backend;

/// Run `ofd <args>` against `url`; returns stdout, failing the test on a non-zero exit.
fn ofd(url: &str, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args(args)
        .env("OFD_DATABASE", url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run ofd");
    assert!(
        output.status.success(),
        "ofd {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 stdout")
}

#[tokio::test]
async fn migrate_creates_the_schema_and_is_idempotent() {
    on_each_backend(|db| async move {
        let first = ofd(&db.url, &["migrate"]);
        assert!(first.contains("0001 core"), "{first}");
        let second = ofd(&db.url, &["migrate"]);
        assert_eq!(first, second);
        // The flag wins over the environment.
        let flagged = ofd(
            "sqlite:///nonexistent-dir/x.db",
            &["migrate", "--database", &db.url],
        );
        assert_eq!(flagged, first);
    })
    .await;
}

#[tokio::test]
async fn register_add_kz_json_is_parseable() {
    on_each_backend(|db| async move {
        let out = ofd(
            &db.url,
            &[
                "register",
                "add",
                "--dialect",
                "kz",
                "--serial",
                "KZ-1",
                "--json",
            ],
        );
        let v: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON on stdout");
        let system_id = v["system_id"].as_i64().expect("system_id");
        let token = v["token"].as_i64().expect("token");
        assert!(system_id > 0 && token > 0);

        let store = db.open().await;
        let stored = store
            .register_by_system_id(system_id)
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(stored.kz_token, Some(token));
        assert_eq!(stored.serial.as_deref(), Some("KZ-1"));

        let sid = system_id.to_string();
        let out = ofd(
            &db.url,
            &["register", "reset-token", "--system-id", &sid, "--json"],
        );
        let reset: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON on stdout");
        let fresh = reset["token"].as_i64().expect("token");
        assert_ne!(fresh, token);
        let stored = store
            .register_by_system_id(system_id)
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(stored.kz_token, Some(fresh));
        // The token is a secret: listings never show it.
        let listed = ofd(&db.url, &["register", "list", "--json"]);
        assert!(!listed.contains(&fresh.to_string()), "{listed}");
    })
    .await;
}

#[tokio::test]
async fn register_ru_add_list_and_status() {
    on_each_backend(|db| async move {
        let fn_number = "9999078900022222";
        let out = ofd(
            &db.url,
            &[
                "register",
                "add",
                "--dialect",
                "ru",
                "--fn",
                fn_number,
                "--inn",
                "7704211201",
                "--json",
            ],
        );
        let row: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON row");
        assert_eq!(row["fn_number"], fn_number);
        assert_eq!(row["status"], "active");
        assert!(
            row.get("kz_token").is_none(),
            "tokens are never printed in rows"
        );

        ofd(&db.url, &["register", "block", "--fn", fn_number]);
        let list: serde_json::Value =
            serde_json::from_str(ofd(&db.url, &["register", "list", "--json"]).trim()).unwrap();
        assert_eq!(list.as_array().map(Vec::len), Some(1));
        assert_eq!(list[0]["status"], "blocked");

        ofd(
            &db.url,
            &["register", "deregister", "--id", &row["id"].to_string()],
        );
        let refused = Command::new(env!("CARGO_BIN_EXE_ofd"))
            .args(["register", "activate", "--fn", fn_number])
            .env("OFD_DATABASE", &db.url)
            .output()
            .unwrap();
        assert!(
            !refused.status.success(),
            "a deregistered register cannot be activated"
        );
        let text = ofd(&db.url, &["register", "list"]);
        assert!(
            text.contains(fn_number) && text.contains("deregistered"),
            "{text}"
        );
    })
    .await;
}
