//! Every role and tool names its database the same way: `--database`, else `OFD_DATABASE`, else
//! the deprecated `OFD_DATABASE_URL` (with a warning), else `[store] database` of the `--config`
//! file, else `sqlite://ofd.db`. Run as the built binary from a scratch working directory, so
//! that a fall-back to `./ofd.db` shows up as a file there.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{count_rows, on_each_backend};

const DEPRECATION: &str = "OFD_DATABASE_URL is deprecated";

/// `ofd ARGS…` in `cwd` with exactly the `OFD_*` variables given.
fn ofd(cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ofd"));
    for (name, _) in std::env::vars() {
        if name.starts_with("OFD_") {
            command.env_remove(name);
        }
    }
    let output = command
        .args(args)
        .envs(envs.iter().copied())
        .env("RUST_LOG", "warn")
        .current_dir(cwd)
        .output()
        .expect("run ofd");
    assert!(
        output.status.success(),
        "ofd {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn warnings(output: &Output) -> usize {
    String::from_utf8_lossy(&output.stderr)
        .matches(DEPRECATION)
        .count()
}

#[tokio::test]
async fn ofd_database_names_the_database_of_migrate_and_register() {
    on_each_backend(|db| async move {
        let cwd = tempfile::tempdir().unwrap();
        let migrated = ofd(cwd.path(), &["migrate"], &[("OFD_DATABASE", &db.url)]);
        let stdout = String::from_utf8_lossy(&migrated.stdout);
        assert!(stdout.contains("0001 core"), "{stdout}");
        assert_eq!(warnings(&migrated), 0);
        assert!(
            count_rows(&db.url, "_sqlx_migrations").await > 0,
            "the named database holds the schema"
        );
        ofd(
            cwd.path(),
            &[
                "register",
                "add",
                "--dialect",
                "ru",
                "--fn",
                "9999078900005555",
            ],
            &[("OFD_DATABASE", &db.url)],
        );
        assert_eq!(count_rows(&db.url, "registers").await, 1);
        assert!(
            !cwd.path().join("ofd.db").exists(),
            "nothing fell back to ./ofd.db"
        );
    })
    .await;
}

#[tokio::test]
async fn the_old_variable_still_works_and_warns_once() {
    let cwd = tempfile::tempdir().unwrap();
    let old = cwd.path().join("old.db");
    let output = ofd(
        cwd.path(),
        &["migrate"],
        &[("OFD_DATABASE_URL", &sqlite_url(&old))],
    );
    assert!(old.exists(), "migrated the database the old variable names");
    assert!(!cwd.path().join("ofd.db").exists());
    assert_eq!(warnings(&output), 1, "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("old.db"), "{stdout}");

    // The new variable wins, silently.
    let new = cwd.path().join("new.db");
    let other = cwd.path().join("other.db");
    let output = ofd(
        cwd.path(),
        &["migrate"],
        &[
            ("OFD_DATABASE", &sqlite_url(&new)),
            ("OFD_DATABASE_URL", &sqlite_url(&other)),
        ],
    );
    assert!(new.exists() && !other.exists());
    assert_eq!(warnings(&output), 0);
}

#[tokio::test]
async fn flag_over_env_over_file_over_default() {
    let cwd = tempfile::tempdir().unwrap();
    let path = |name: &str| cwd.path().join(name);
    let config = cwd.path().join("ofd.toml");
    std::fs::write(
        &config,
        format!("[store]\ndatabase = \"{}\"\n", sqlite_url(&path("file.db"))),
    )
    .unwrap();
    let config = config.to_str().unwrap();

    ofd(cwd.path(), &["migrate", "--config", config], &[]);
    assert!(path("file.db").exists(), "the file's [store] database");

    let env_url = sqlite_url(&path("env.db"));
    ofd(
        cwd.path(),
        &["migrate", "--config", config],
        &[("OFD_DATABASE", &env_url)],
    );
    assert!(path("env.db").exists(), "the env var over the file");

    let flag_url = sqlite_url(&path("flag.db"));
    ofd(
        cwd.path(),
        &["migrate", "--config", config, "--database", &flag_url],
        &[("OFD_DATABASE", &env_url)],
    );
    assert!(path("flag.db").exists(), "the flag over the env var");

    assert!(!path("ofd.db").exists());
    ofd(cwd.path(), &["migrate"], &[]);
    assert!(
        path("ofd.db").exists(),
        "the default when nothing names one"
    );
}
