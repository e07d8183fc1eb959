//! Online backup of the SQLite store and verification of a backup (`ofd backup`, `ofd restore
//! --check`).
//!
//! - Backup: `VACUUM INTO` on a connection of its own. It reads one consistent snapshot (a read
//!   transaction, so in WAL mode the roles go on writing meanwhile) and writes a compact copy
//!   that holds exactly the committed state at its start. The copy is then opened on its own
//!   and verified: `PRAGMA integrity_check`, its schema version, and a [`Manifest`] of row counts
//!   and checksums per table, written beside it as `<PATH>.manifest.json`.
//! - Check: the same [`Manifest`] computed again over a backup (a SQLite file, opened read-only,
//!   or a PostgreSQL database restored from `pg_dump`) and compared with the one written at
//!   backup time when it is there.
//! - PostgreSQL is backed up with its own tools (`pg_dump`, base backups); [`backup`] says so
//!   instead of pretending.
//!
//! A table's checksum is order-free: the sum (mod 2^256) of the SHA-256 of each row's values,
//! each value tagged with its type, so it does not depend on the order rows come back in and
//! needs one pass and no memory per row. It detects changed, missing and extra rows; it is an
//! integrity check, not a defence against someone forging a backup.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use anyhow::{bail, Context as _};
use futures::TryStreamExt as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, Column as _, Connection as _, Row as _, ValueRef as _};

use super::{backend_of, redact, schema, Backend};

/// What a backup holds: its schema version and, per table, rows and checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The highest applied migration.
    pub schema_version: i64,
    /// Per table (sqlx's own bookkeeping table excluded).
    pub tables: BTreeMap<String, TableSummary>,
}

/// One table's row count and checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSummary {
    /// Rows.
    pub rows: u64,
    /// Hex of the order-free checksum of the rows.
    pub checksum: String,
}

/// The manifest file written beside a backup.
pub fn manifest_path(backup: &Path) -> PathBuf {
    let mut name = backup.as_os_str().to_owned();
    name.push(".manifest.json");
    PathBuf::from(name)
}

/// Copy the live SQLite database at `url` to the new file `to` while the roles keep running,
/// verify the copy and write its manifest beside it.
pub async fn backup(url: &str, to: &Path) -> anyhow::Result<Manifest> {
    if backend_of(url)? == Backend::Postgres {
        bail!(
            "{} is PostgreSQL: back it up with pg_dump (or a base backup with \
             pg_basebackup), then check a restored copy with `ofd restore --check postgres://…`",
            redact(url)
        );
    }
    anyhow::ensure!(
        !to.exists(),
        "{} already exists; a backup never overwrites a file",
        to.display()
    );
    let target = to
        .to_str()
        .with_context(|| format!("{} is not valid UTF-8", to.display()))?;
    sqlx::any::install_default_drivers();
    // Read-only: the live file is never written, and a missing one is an error, not a new file.
    let options = AnyConnectOptions::from_str(&read_only(url))
        .with_context(|| format!("invalid database URL {}", redact(url)))?;
    let mut live = AnyConnection::connect_with(&options)
        .await
        .with_context(|| format!("opening {}", redact(url)))?;
    sqlx::query("PRAGMA busy_timeout = 10000")
        .execute(&mut live)
        .await?;
    sqlx::query("VACUUM INTO ?")
        .bind(target.to_owned())
        .execute(&mut live)
        .await
        .with_context(|| format!("VACUUM INTO {}", to.display()))?;
    live.close().await?;
    let manifest = check_sqlite_file(to)
        .await
        .with_context(|| format!("verifying the backup {}", to.display()))?;
    let text = serde_json::to_string_pretty(&manifest)?;
    std::fs::write(manifest_path(to), text + "\n")
        .with_context(|| format!("writing {}", manifest_path(to).display()))?;
    Ok(manifest)
}

/// What `ofd restore --check` found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The backup's schema version, counts and checksums.
    pub manifest: Manifest,
    /// Whether a manifest from backup time was there to compare with.
    pub compared_with_manifest: bool,
}

/// Verify a backup: a SQLite file (path or `sqlite://` URL) or a PostgreSQL database restored
/// from a dump (`postgres://` URL). Fails when the file is damaged, its schema is newer than
/// this binary's, or anything differs from the manifest written at backup time.
pub async fn check(target: &str) -> anyhow::Result<CheckReport> {
    let (manifest, written) = if target.starts_with("postgres:")
        || target.starts_with("postgresql:")
    {
        (check_url(target, Backend::Postgres).await?, None)
    } else {
        let path = Path::new(target.strip_prefix("sqlite://").unwrap_or(target));
        anyhow::ensure!(path.is_file(), "{} is not a file", path.display());
        let written = match std::fs::read_to_string(manifest_path(path)) {
            Ok(text) => Some(
                serde_json::from_str::<Manifest>(&text)
                    .with_context(|| format!("reading {}", manifest_path(path).display()))?,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).context(format!("reading {}", manifest_path(path).display())),
        };
        (check_sqlite_file(path).await?, written)
    };
    let binary = schema::latest(match backend_of_target(target) {
        Backend::Sqlite => &super::SQLITE_MIGRATIONS,
        Backend::Postgres => &super::POSTGRES_MIGRATIONS,
    });
    schema::decide(manifest.schema_version, binary, schema::SchemaUpgrade::Auto)?;
    if let Some(written) = &written {
        let differences = differences(written, &manifest);
        if !differences.is_empty() {
            bail!(
                "the backup does not match its manifest: {}",
                differences.join("; ")
            );
        }
    }
    Ok(CheckReport {
        compared_with_manifest: written.is_some(),
        manifest,
    })
}

fn backend_of_target(target: &str) -> Backend {
    if target.starts_with("postgres") {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

/// Each way `found` differs from `expected`, one phrase each.
pub fn differences(expected: &Manifest, found: &Manifest) -> Vec<String> {
    let mut out = Vec::new();
    if expected.schema_version != found.schema_version {
        out.push(format!(
            "schema version {} instead of {}",
            found.schema_version, expected.schema_version
        ));
    }
    for (table, want) in &expected.tables {
        match found.tables.get(table) {
            None => out.push(format!("table {table} is missing")),
            Some(got) if got.rows != want.rows => out.push(format!(
                "table {table} has {} rows instead of {}",
                got.rows, want.rows
            )),
            Some(got) if got.checksum != want.checksum => {
                out.push(format!("table {table}: checksum differs"))
            }
            Some(_) => {}
        }
    }
    for table in found.tables.keys() {
        if !expected.tables.contains_key(table) {
            out.push(format!("table {table} is not in the manifest"));
        }
    }
    out
}

async fn check_sqlite_file(path: &Path) -> anyhow::Result<Manifest> {
    let url = format!("sqlite://{}?mode=ro", path.display());
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect_with(&AnyConnectOptions::from_str(&url)?)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let integrity: String = sqlx::query("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await?
        .try_get(0)?;
    anyhow::ensure!(
        integrity == "ok",
        "{} fails SQLite's integrity check: {integrity}",
        path.display()
    );
    let manifest = manifest_of(&mut conn, Backend::Sqlite).await;
    conn.close().await.ok();
    manifest
}

async fn check_url(url: &str, backend: Backend) -> anyhow::Result<Manifest> {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect_with(&AnyConnectOptions::from_str(url)?)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))?;
    let manifest = manifest_of(&mut conn, backend).await;
    conn.close().await.ok();
    manifest
}

/// Schema version, row counts and checksums of every table on `conn`.
pub async fn manifest_of(conn: &mut AnyConnection, backend: Backend) -> anyhow::Result<Manifest> {
    let schema_version = schema::database_version(conn, backend).await?;
    let list = match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name"
        }
        Backend::Postgres => {
            // Partitions (documents' months) are read through their parent table.
            "SELECT CAST(tablename AS TEXT) FROM pg_tables WHERE schemaname = current_schema() \
             AND tablename <> '_sqlx_migrations' AND NOT EXISTS (SELECT 1 FROM pg_inherits i \
             WHERE i.inhrelid = CAST(quote_ident(tablename) AS regclass)) ORDER BY tablename"
        }
    };
    let names: Vec<String> = sqlx::query(list)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    let mut tables = BTreeMap::new();
    for name in names {
        anyhow::ensure!(
            name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "unexpected table name {name:?}"
        );
        let summary = summarise(conn, &name)
            .await
            .with_context(|| format!("reading table {name}"))?;
        tables.insert(name, summary);
    }
    Ok(Manifest {
        schema_version,
        tables,
    })
}

async fn summarise(conn: &mut AnyConnection, table: &str) -> anyhow::Result<TableSummary> {
    let sql = format!("SELECT * FROM {table}");
    let mut rows = sqlx::query(&sql).fetch(&mut *conn);
    let mut count = 0u64;
    let mut sum = [0u64; 4];
    while let Some(row) = rows.try_next().await? {
        let mut hash = Sha256::new();
        for i in 0..row.columns().len() {
            hash_value(&mut hash, &row, i)
                .with_context(|| format!("column {}", row.column(i).name()))?;
        }
        add_digest(&mut sum, &hash.finalize());
        count += 1;
    }
    let checksum = sum
        .iter()
        .rev()
        .map(|limb| format!("{limb:016x}"))
        .collect();
    Ok(TableSummary {
        rows: count,
        checksum,
    })
}

/// Feed one value, tagged with its type and length, into the row's hash.
fn hash_value(hash: &mut Sha256, row: &sqlx::any::AnyRow, i: usize) -> anyhow::Result<()> {
    if row.try_get_raw(i)?.is_null() {
        hash.update([0u8]);
        return Ok(());
    }
    let (tag, bytes): (u8, Vec<u8>) = if let Ok(v) = row.try_get::<i64, _>(i) {
        (1, v.to_le_bytes().to_vec())
    } else if let Ok(v) = row.try_get::<f64, _>(i) {
        (2, v.to_le_bytes().to_vec())
    } else if let Ok(v) = row.try_get::<String, _>(i) {
        (3, v.into_bytes())
    } else if let Ok(v) = row.try_get::<Vec<u8>, _>(i) {
        (4, v)
    } else if let Ok(v) = row.try_get::<bool, _>(i) {
        (5, vec![u8::from(v)])
    } else {
        bail!("a value of a type the checksum does not know");
    };
    hash.update([tag]);
    hash.update((bytes.len() as u64).to_le_bytes());
    hash.update(&bytes);
    Ok(())
}

/// `sum += digest` modulo 2^256, little-endian limbs.
fn add_digest(sum: &mut [u64; 4], digest: &[u8]) {
    let mut carry = 0u128;
    for (i, limb) in sum.iter_mut().enumerate() {
        let chunk: [u8; 8] = digest[i * 8..i * 8 + 8].try_into().expect("8 bytes");
        let total = u128::from(*limb) + u128::from(u64::from_le_bytes(chunk)) + carry;
        *limb = total as u64;
        carry = total >> 64;
    }
}

/// The live database's URL opened read-only.
fn read_only(url: &str) -> String {
    let base = url.split('?').next().unwrap_or(url);
    format!("{base}?mode=ro")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_sum_carries_and_is_order_free() {
        let a = Sha256::digest(b"a");
        let b = Sha256::digest(b"b");
        let (mut ab, mut ba) = ([0u64; 4], [0u64; 4]);
        add_digest(&mut ab, &a);
        add_digest(&mut ab, &b);
        add_digest(&mut ba, &b);
        add_digest(&mut ba, &a);
        assert_eq!(ab, ba);
        let mut max = [u64::MAX; 4];
        let mut one = [0u8; 32];
        one[0] = 1;
        add_digest(&mut max, &one);
        assert_eq!(max, [0; 4]);
    }

    #[test]
    fn differences_name_the_table() {
        let summary = |rows, checksum: &str| TableSummary {
            rows,
            checksum: checksum.into(),
        };
        let expected = Manifest {
            schema_version: 4,
            tables: [("documents".to_owned(), summary(2, "aa"))].into(),
        };
        let mut found = expected.clone();
        assert!(differences(&expected, &found).is_empty());
        found.tables.insert("documents".into(), summary(2, "bb"));
        assert_eq!(
            differences(&expected, &found),
            ["table documents: checksum differs"]
        );
    }
}
