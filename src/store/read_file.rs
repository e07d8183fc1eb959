//! SQLite: the read models in a file of their own, beside the documents' file.
//!
//! # Why
//!
//! SQLite lets one transaction at a time write a file. With the read models (`doc_index`,
//! `doc_items`, `project_*`, `drive_reports`) in the documents' file, every projector batch was
//! a transaction that ingest's group commit queued behind: under `ofd all` at 2,000 KZ
//! requests/s the projector held the file's write turn about 40 % of the time and the turn was
//! busy 92 % (benches/README.md, issue 20). A second file has a lock of its own, so the
//! projector writes while ingest commits. PostgreSQL has no file lock; there the read models
//! stay in the one database and [`Store::read_pool`] is [`Store::pool`].
//!
//! # Shape
//!
//! - The file is the database's path with `-read` appended (`ofd.db` → `ofd.db-read`, with its
//!   own `-wal` and `-shm`), made when missing, with its own migrations
//!   (`migrations/sqlite-read/`) and `_sqlx_migrations`.
//! - [`Store::read_pool`]'s connections open it as `main` and attach the documents' file as
//!   `docs`. SQLite looks an unqualified table name up in `main` first, then in the attached
//!   files, so every query of the read side — a search joining `doc_index` with `registers` for
//!   tenancy — runs unchanged on either backend.
//! - Writes go through [`Store::begin_read_models_write`], a deferred transaction: it takes the
//!   read file's lock at its first write and never the documents' (`BEGIN IMMEDIATE` would
//!   take the lock of every attached file, ingest's included).
//! - `synchronous = NORMAL` on the read file: a commit is not fsynced, and a power cut can lose
//!   the last batches, but never half of one, and the projector's cursors are rows of the same
//!   file: what is lost is projected again. The documents' file stays at `FULL`.
//!
//! # Invariants
//!
//! - Nothing in the read file is evidence: every row is computed from the documents and can be
//!   computed again (`ofd project --rebuild`).
//! - The rows describe the documents' file they sit beside: [`prepare`] empties them when the
//!   file was computed from another database (`read_source` against `store_identity`), or
//!   projected documents that database does not hold (restored from an older backup, whose
//!   next documents would reuse ids the cursors already passed). The projector then projects
//!   everything again.

use anyhow::Context as _;
use sqlx::{AnyConnection, AnyPool};

use super::Store;

/// Every table of the read file, emptied together ([`empty`]).
pub const TABLES: [&str; 8] = [
    "doc_index",
    "doc_items",
    "project_shifts",
    "project_daily",
    "project_daily_products",
    "project_monthly_products",
    "drive_reports",
    "project_cursor",
];

/// The read file's connection settings (see the module note for `synchronous`).
const PRAGMAS: [&str; 5] = [
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 10000",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -16384",
    "PRAGMA foreign_keys = ON",
];

/// The schema name the documents' file is attached under.
const DOCUMENTS_SCHEMA: &str = "docs";

/// `(documents' file path, read file URL)` of a `sqlite:` URL (`sqlite:///var/lib/ofd/ofd.db?mode=rwc`
/// → `/var/lib/ofd/ofd.db`, `sqlite:///var/lib/ofd/ofd.db-read?mode=rwc`).
pub fn paths(url: &str) -> (String, String) {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let read_url = match query {
        Some(query) => format!("sqlite://{path}-read?{query}"),
        None => format!("sqlite://{path}-read"),
    };
    (path.to_owned(), read_url)
}

/// Open the pool of the read file beside the documents' file at `url` (made when missing).
pub(super) async fn open_pool(url: &str) -> anyhow::Result<AnyPool> {
    let (documents, read_url) = paths(url);
    super::open_sqlite_pool(&read_url, &PRAGMAS, Some((documents, DOCUMENTS_SCHEMA))).await
}

/// What [`prepare`] does with the read file it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Its rows describe this database: keep them.
    Keep,
    /// A new, empty file: record which database it describes.
    Claim,
    /// Its rows describe something else: empty it, for the projector to fill again.
    Reset(&'static str),
}

/// Whether a read file whose rows were computed from `source` (none recorded: a new file),
/// with the projector's furthest cursor at `cursor`, describes the database `store_id` whose
/// newest document is `newest`.
pub fn verdict(
    source: Option<&str>,
    cursor: Option<i64>,
    store_id: &str,
    newest: Option<i64>,
) -> Verdict {
    match source {
        None if cursor.is_none() => Verdict::Claim,
        None => Verdict::Reset("it does not say which database it was computed from"),
        Some(source) if source != store_id => {
            Verdict::Reset("it was computed from another database")
        }
        Some(_) if cursor.unwrap_or(0) > newest.unwrap_or(0) => Verdict::Reset(
            "it holds documents this database does not (restored from an older backup?)",
        ),
        Some(_) => Verdict::Keep,
    }
}

/// Bring the read file's schema up to date and make sure its rows describe this store's
/// documents ([`verdict`]); emptied when they do not, and said so in the log.
pub(super) async fn prepare(store: &Store) -> anyhow::Result<()> {
    super::SQLITE_READ_MIGRATIONS
        .run(store.read_pool())
        .await
        .context("applying the read-model file's migrations")?;
    let store_id: String = sqlx::query_scalar("SELECT id FROM store_identity")
        .fetch_one(store.pool())
        .await
        .context("reading the database's identity")?;
    let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM documents")
        .fetch_one(store.pool())
        .await?;
    let source: Option<String> = sqlx::query_scalar("SELECT store_id FROM read_source")
        .fetch_optional(store.read_pool())
        .await?;
    let cursor: Option<i64> = sqlx::query_scalar("SELECT MAX(last_id) FROM project_cursor")
        .fetch_one(store.read_pool())
        .await?;
    match verdict(source.as_deref(), cursor, &store_id, newest) {
        Verdict::Keep => {}
        Verdict::Claim => {
            let mut tx = store.begin_read_models_write().await?;
            sqlx::query(
                "INSERT INTO read_source (store_id) SELECT $1 \
                 WHERE NOT EXISTS (SELECT 1 FROM read_source)",
            )
            .bind(&store_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Verdict::Reset(reason) => {
            tracing::warn!(
                reason,
                "emptying the read-model file; the projector will project every document again"
            );
            let mut tx = store.begin_read_models_write().await?;
            empty(&mut tx).await?;
            sqlx::query("DELETE FROM read_source")
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO read_source (store_id) VALUES ($1)")
                .bind(&store_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
    }
    Ok(())
}

/// Delete every row of every read table ([`TABLES`]) in `tx`, cursors included.
///
/// PostgreSQL truncates them (one statement, transactional there): a `DELETE` of ten million
/// rows would leave as many dead rows and index entries for the rebuild to write around until
/// vacuum ran. It locks the tables for the transaction, which only empties them.
pub async fn empty(tx: &mut AnyConnection) -> Result<(), sqlx::Error> {
    if tx.backend_name().eq_ignore_ascii_case("sqlite") {
        for table in TABLES {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx)
                .await?;
        }
    } else {
        sqlx::query(&format!("TRUNCATE {}", TABLES.join(", ")))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_file_sits_beside_the_documents_file() {
        assert_eq!(
            paths("sqlite:///var/lib/ofd/ofd.db?mode=rwc"),
            (
                "/var/lib/ofd/ofd.db".to_owned(),
                "sqlite:///var/lib/ofd/ofd.db-read?mode=rwc".to_owned()
            )
        );
        assert_eq!(
            paths("sqlite://ofd.db"),
            ("ofd.db".to_owned(), "sqlite://ofd.db-read".to_owned())
        );
        assert_eq!(paths("sqlite:a.db?mode=rwc").0, "a.db");
    }

    #[test]
    fn a_read_file_is_kept_only_while_it_describes_this_database() {
        assert_eq!(verdict(None, None, "a", Some(10)), Verdict::Claim);
        assert_eq!(verdict(Some("a"), Some(10), "a", Some(10)), Verdict::Keep);
        assert_eq!(verdict(Some("a"), None, "a", None), Verdict::Keep);
        assert!(matches!(
            verdict(Some("b"), Some(3), "a", Some(10)),
            Verdict::Reset(_)
        ));
        // Restored from a backup older than what was projected.
        assert!(matches!(
            verdict(Some("a"), Some(11), "a", Some(10)),
            Verdict::Reset(_)
        ));
        assert!(matches!(
            verdict(None, Some(1), "a", Some(10)),
            Verdict::Reset(_)
        ));
    }
}
