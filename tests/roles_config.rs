//! Every role reads the same `--config` file: for `ofd forward`, `ofd tax-sink` and
//! `ofd account`, a value set only in the file takes effect, an environment variable overrides
//! the file and a flag overrides both; an unknown key stops the role with an error naming it.
//! Run as the built binary against real SQLite files and loopback ports.

mod common;
mod forward_support;
mod roles_support;

use std::time::Duration;

use common::TestDb;
use forward_support::{eventually, forward_states, ingest, ru_documents};
use roles_support::{free_port, write_config, Role};

const STOP_WITHIN: Duration = Duration::from_secs(10);

/// Batch files the file destination wrote under `dir`.
fn batch_files(dir: &std::path::Path) -> usize {
    let Ok(days) = std::fs::read_dir(dir) else {
        return 0;
    };
    days.flatten()
        .flat_map(|day| {
            std::fs::read_dir(day.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .filter(|file| file.file_name().to_string_lossy().ends_with(".jsonl.gz"))
        .count()
}

/// Stop with ctrl-c's signal (SIGTERM has its own tests in roles_sigterm.rs).
async fn stop(role: Role) {
    let (status, logs) = role.interrupt(STOP_WITHIN).await;
    assert!(status.success(), "{status:?}: {logs:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_takes_database_directory_and_batch_size_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let from_file = TestDb::sqlite();
    let from_flag = TestDb::sqlite();
    let (file_store, flag_store) = (from_file.open().await, from_flag.open().await);
    ingest(&file_store, ru_documents("9999078900001111", 1, 7)).await;
    ingest(&flag_store, ru_documents("9999078900002222", 1, 7)).await;
    let (file_out, flag_out) = (dir.path().join("file-out"), dir.path().join("flag-out"));
    let config = write_config(
        dir.path(),
        "ofd.toml",
        &format!(
            "[store]\ndatabase = \"{}\"\n\n[forward]\nsink_dir = \"{}\"\n\
             batch_max_documents = 3\nbatch_max_age_ms = 0\npoll_ms = 20\n",
            from_file.url,
            file_out.display()
        ),
    );

    // Only the file: its database, its directory, batches of at most 3 (7 → 3 + 3 + 1).
    let forward = Role::spawn(&["forward", "--config", &config], &[]);
    eventually("the file's database forwarded", || async {
        forward_states(&file_store).await == (0, 7, 0)
    })
    .await;
    stop(forward).await;
    assert_eq!(batch_files(&file_out), 3);

    // Flags over the file: another database, another directory, batches of 5 (7 → 5 + 2).
    let forward = Role::spawn(
        &[
            "forward",
            "--config",
            &config,
            "--database",
            &from_flag.url,
            "--sink-dir",
            flag_out.to_str().unwrap(),
            "--batch-max-documents",
            "5",
        ],
        &[],
    );
    eventually("the flag's database forwarded", || async {
        forward_states(&flag_store).await == (0, 7, 0)
    })
    .await;
    stop(forward).await;
    assert_eq!(batch_files(&flag_out), 2);
    assert_eq!(
        batch_files(&file_out),
        3,
        "nothing more went to the file's directory"
    );
    file_store.close().await;
    flag_store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tax_sink_takes_listen_and_db_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (file_db, flag_db) = (
        dir.path().join("file-sink.db"),
        dir.path().join("flag-sink.db"),
    );
    let config = write_config(
        dir.path(),
        "ofd.toml",
        &format!(
            "[tax_sink]\nlisten = \"127.0.0.1:{port}\"\ndb = \"{}\"\n",
            file_db.display()
        ),
    );

    let mut sink = Role::spawn(&["tax-sink", "--config", &config], &[]);
    let addr = sink.logged_addr("tax sink listening", "addr").await;
    assert_eq!(addr.port(), port);
    let health = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    stop(sink).await;
    assert!(file_db.exists());

    let mut sink = Role::spawn(
        &[
            "tax-sink",
            "--config",
            &config,
            "--listen",
            "127.0.0.1:0",
            "--db",
            flag_db.to_str().unwrap(),
        ],
        &[],
    );
    let addr = sink.logged_addr("tax sink listening", "addr").await;
    assert_ne!(addr.port(), port);
    stop(sink).await;
    assert!(flag_db.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_takes_listen_from_the_file_env_over_it_flag_over_both() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let (file_port, env_port) = (free_port(), free_port());
    let config = write_config(
        dir.path(),
        "ofd.toml",
        &format!(
            "[store]\ndatabase = \"{}\"\n\n[account]\nlisten = \"127.0.0.1:{file_port}\"\n",
            db.url
        ),
    );

    let mut account = Role::spawn(&["account", "--config", &config], &[]);
    let addr = account
        .logged_addr("account API listening", "account")
        .await;
    assert_eq!(addr.port(), file_port);
    let refused = reqwest::get(format!("http://{addr}/api/v1/registers"))
        .await
        .unwrap();
    assert_eq!(
        refused.status().as_u16(),
        401,
        "served, over the file's database"
    );
    stop(account).await;

    let env_listen = format!("127.0.0.1:{env_port}");
    let env = [("OFD_ACCOUNT_LISTEN", env_listen.as_str())];
    let mut account = Role::spawn(&["account", "--config", &config], &env);
    let addr = account
        .logged_addr("account API listening", "account")
        .await;
    assert_eq!(addr.port(), env_port);
    stop(account).await;

    let mut account = Role::spawn(
        &["account", "--config", &config, "--listen", "127.0.0.1:0"],
        &env,
    );
    let addr = account
        .logged_addr("account API listening", "account")
        .await;
    assert_ne!(addr.port(), file_port);
    assert_ne!(addr.port(), env_port);
    stop(account).await;
}

#[test]
fn an_unknown_key_or_table_stops_the_role_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "forward",
            "[forward]\nbatch_max_docs = 3\n",
            "[forward] has no key `batch_max_docs`",
        ),
        (
            "tax-sink",
            "[tax_sink]\nlisten_addr = \"x\"\n",
            "[tax_sink] has no key `listen_addr`",
        ),
        (
            "account",
            "[account]\nport = 1\n",
            "[account] has no key `port`",
        ),
        (
            "serve",
            "[ingest]\nlisten_addr = \"x\"\n",
            "[ingest] has no key `listen_addr`",
        ),
        (
            "migrate",
            "[store]\ndatabase_url = \"x\"\n",
            "[store] has no key `database_url`",
        ),
        (
            "forward",
            "[fowrard]\nworkers = 1\n",
            "[fowrard] is not a known table",
        ),
        (
            "account",
            "[account]\nlisten = 8088\n",
            "[account] listen: invalid type",
        ),
    ];
    for (role, text, expected) in cases {
        let config = write_config(dir.path(), "ofd.toml", text);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
            .args([role, "--config", &config])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{role} {text:?} started");
        assert!(stderr.contains(expected), "{role}: {stderr}");
    }
    assert!(
        !dir.path().join("ofd.db").exists(),
        "no role opened a database with a bad configuration"
    );
}
