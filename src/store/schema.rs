//! Schema versions and upgrades.
//!
//! Migrations are forward-only and numbered (`migrations/<backend>/NNNN_*.sql`, the same numbers
//! with the same meaning on both backends); the applied ones are listed in sqlx's
//! `_sqlx_migrations` table, and the highest number applied is the database's schema version.
//! Before any role touches a database it compares that version with the highest one this binary
//! embeds:
//! - newer than this binary knows: refuse to start, whatever the policy ‒ an older release must
//!   never run on a schema it does not understand, and there is no downgrade;
//! - older: migrate on start ([`SchemaUpgrade::Auto`], the default) or refuse with a message
//!   that says how to upgrade ([`SchemaUpgrade::Refuse`], for operators who upgrade the schema
//!   themselves with `ofd migrate` after a backup);
//! - equal: nothing to do.

use serde::Deserialize;
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, Row as _};

use super::Backend;

/// What a role does when the database's schema is older than the binary's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SchemaUpgrade {
    /// Apply the missing migrations on start.
    #[default]
    Auto,
    /// Refuse to start; the operator runs `ofd migrate`.
    Refuse,
}

/// Why the schema stops a role from starting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The database was upgraded by a newer release.
    #[error(
        "the database is at schema version {database}, newer than this ofd {binary_version} \
         knows (up to {binary}): it was upgraded by a newer release. Run that release or a newer \
         one, or restore a backup taken before the upgrade; ofd never downgrades a schema"
    )]
    Newer {
        /// The database's version.
        database: i64,
        /// The highest version this binary embeds.
        binary: i64,
        /// This binary's release.
        binary_version: &'static str,
    },
    /// The schema is older and the policy is to refuse.
    #[error(
        "the database is at schema version {database} and this ofd needs {binary}; upgrade it \
         with `ofd migrate` (take a backup first: `ofd backup --to PATH`), or start with \
         --schema-upgrade auto ([store] schema_upgrade = \"auto\")"
    )]
    Older {
        /// The database's version.
        database: i64,
        /// The highest version this binary embeds.
        binary: i64,
    },
    /// The version could not be read.
    #[error("reading the schema version: {0}")]
    Database(#[from] sqlx::Error),
}

/// The highest migration `migrator` holds.
pub fn latest(migrator: &Migrator) -> i64 {
    migrator.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The database's schema version: the highest successfully applied migration, 0 for a
/// database no migration has touched.
pub async fn database_version(
    conn: &mut AnyConnection,
    backend: Backend,
) -> Result<i64, sqlx::Error> {
    let exists = match backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
        }
    };
    let count: i64 = sqlx::query(exists)
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    if count == 0 {
        return Ok(0);
    }
    let row = sqlx::query("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get::<Option<i64>, _>(0)?.unwrap_or(0))
}

/// Migrations of `migrator` at or below `database` (the schema version) that the database has
/// not applied: a database made by a development build whose branches each took a number and
/// were merged out of order. Empty for every database a release made (releases apply in order).
pub async fn missing_below(
    conn: &mut AnyConnection,
    migrator: &Migrator,
    database: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    if database == 0 {
        return Ok(Vec::new());
    }
    let applied: Vec<i64> =
        sqlx::query("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| row.try_get::<i64, _>(0))
            .collect::<Result<_, _>>()?;
    Ok(migrator
        .iter()
        .map(|m| m.version)
        .filter(|v| *v <= database && !applied.contains(v))
        .collect())
}

/// Decide whether a role may go on: `Ok(true)` when migrations must run first.
pub fn decide(database: i64, binary: i64, policy: SchemaUpgrade) -> Result<bool, SchemaError> {
    if database > binary {
        return Err(SchemaError::Newer {
            database,
            binary,
            binary_version: env!("CARGO_PKG_VERSION"),
        });
    }
    if database < binary && policy == SchemaUpgrade::Refuse {
        return Err(SchemaError::Older { database, binary });
    }
    Ok(database < binary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_always_refuses_older_follows_the_policy() {
        assert!(matches!(
            decide(5, 4, SchemaUpgrade::Auto),
            Err(SchemaError::Newer {
                database: 5,
                binary: 4,
                ..
            })
        ));
        assert!(matches!(
            decide(3, 4, SchemaUpgrade::Refuse),
            Err(SchemaError::Older {
                database: 3,
                binary: 4
            })
        ));
        assert!(decide(3, 4, SchemaUpgrade::Auto).expect("migrates"));
        assert!(!decide(4, 4, SchemaUpgrade::Refuse).expect("current"));
    }
}
