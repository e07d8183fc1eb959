//! API keys of the account service: issued once, kept only as a SHA-256 hash, revoked (never
//! deleted).
//!
//! A key is 32 random bytes, shown to the operator as `ofd_` followed by 64 hex digits. Only the
//! hash is stored, so a database backup or a read-only database user cannot act as a key
//! holder. A request is authenticated by hashing the presented key and looking the hash up:
//! the comparison happens inside the database's unique index on a value the caller cannot steer
//! byte by byte, so it leaks nothing useful through timing.

use sha2::{Digest as _, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::identity::Role;
use super::{Store, StoreError};
use crate::clock::unix_millis;
use crate::secret::Secret;

/// What every issued key starts with, so that a leaked key is recognisable in logs and scanners.
pub const KEY_PREFIX: &str = "ofd_";

/// Longest key name accepted (names are labels for people, e.g. "emulator" or "cabinet").
const MAX_NAME_CHARS: usize = 64;

/// Columns of `api_keys` read by [`api_key_from_row`] (never the hash).
pub(crate) const KEY_COLUMNS: &str = "id, name, org_id, role, created_at, revoked_at, last_used_at";

/// How long a key's last-used time may lag: it is written at most once a minute per key, so
/// a busy client does not turn every read into a write.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

/// A stored API key, without any secret. Operator keys (made with `ofd account key create`)
/// have no organisation and act on all of them; organisation keys act as `role` in `org_id`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    /// Row id.
    pub id: i64,
    /// A label for people.
    pub name: String,
    /// The organisation the key acts in; `None` for an operator key.
    pub org_id: Option<i64>,
    /// The role the key acts with; `None` for an operator key.
    pub role: Option<Role>,
    /// Issued (UTC, unix milliseconds).
    pub created_at: i64,
    /// Revoked (UTC, unix milliseconds); `None` while the key works.
    pub revoked_at: Option<i64>,
    /// Last request made with it (unix ms, to the minute).
    pub last_used_at: Option<i64>,
}

/// A key just issued: the stored record and the secret, which exists nowhere else.
#[derive(Debug)]
pub struct IssuedKey {
    /// The stored record.
    pub key: ApiKey,
    /// The key to hand to the client. Print it once; it cannot be recovered.
    pub secret: Secret,
}

/// The verdict on a presented key.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyCheck {
    /// A live key.
    Valid(ApiKey),
    /// A key that was issued and later revoked.
    Revoked(ApiKey),
    /// No key with this hash was ever issued.
    Unknown,
}

/// The stored form of `secret`: lowercase hex SHA-256.
pub fn key_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A fresh key secret: `ofd_` and 64 hex digits.
pub fn new_key_secret() -> String {
    format!("{KEY_PREFIX}{}", hex::encode(rand::random::<[u8; 32]>()))
}

pub(crate) fn api_key_from_row(row: &AnyRow) -> Result<ApiKey, StoreError> {
    let role: Option<String> = row.try_get("role")?;
    Ok(ApiKey {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        org_id: row.try_get("org_id")?,
        role: role.as_deref().map(Role::parse).transpose()?,
        last_used_at: row.try_get("last_used_at")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

pub(crate) fn check_name(name: &str) -> Result<(), StoreError> {
    if name.trim().is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(StoreError::Invalid(format!(
            "key name {name:?} must be 1 to {MAX_NAME_CHARS} printable characters"
        )));
    }
    Ok(())
}

impl Store {
    /// Issue a new operator key named `name`. Refused with [`StoreError::Conflict`] while another live key
    /// has that name.
    pub async fn create_api_key(&self, name: &str) -> Result<IssuedKey, StoreError> {
        check_name(name)?;
        let secret = new_key_secret();
        let sql = format!(
            "INSERT INTO api_keys (name, key_hash, created_at, kind) \
             VALUES ($1, $2, $3, 'operator') \
             ON CONFLICT DO NOTHING RETURNING {KEY_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(name)
            .bind(key_hash(&secret))
            .bind(unix_millis())
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::Conflict(format!("a live key is already named {name:?}")))?;
        Ok(IssuedKey {
            key: api_key_from_row(&row)?,
            secret: Secret::from(secret),
        })
    }

    /// Revoke the live operator key named `name`; returns its record. Requests with it fail from now on.
    pub async fn revoke_api_key(&self, name: &str) -> Result<ApiKey, StoreError> {
        let sql = format!(
            "UPDATE api_keys SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL \
             AND org_id IS NULL \
             RETURNING {KEY_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(unix_millis())
            .bind(name)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("live API key named {name:?}")))?;
        api_key_from_row(&row)
    }

    /// Every key ever issued, live and revoked, oldest first.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY id");
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(api_key_from_row).collect()
    }

    /// Look up the key `secret` by its hash; a live key's last-used time is brought up to date.
    pub async fn check_api_key(&self, secret: &str) -> Result<KeyCheck, StoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1");
        let row = sqlx::query(&sql)
            .bind(key_hash(secret))
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else {
            return Ok(KeyCheck::Unknown);
        };
        let key = api_key_from_row(&row)?;
        Ok(match key.revoked_at {
            None => {
                let now = unix_millis();
                if key
                    .last_used_at
                    .is_none_or(|at| now - at >= LAST_USED_RESOLUTION_MS)
                {
                    sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(key.id)
                        .execute(self.pool())
                        .await?;
                }
                KeyCheck::Valid(key)
            }
            Some(_) => KeyCheck::Revoked(key),
        })
    }
}
