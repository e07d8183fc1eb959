//! Organisations: the taxpayers that own registers, keyed by taxpayer number (RU ИНН, KZ
//! БИН/ИИН). Registers name their owner by `registers.org_inn`; rows are never deleted, like
//! registers, so that old documents keep an owner.

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::{Store, StoreError};
use crate::clock::unix_millis;

/// Longest organisation name accepted.
const MAX_NAME_CHARS: usize = 512;

/// Columns of `organisations` read by [`organisation_from_row`].
const ORGANISATION_COLUMNS: &str = "id, inn, name, created_at, updated_at";

/// A taxpayer that owns registers.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Organisation {
    /// Row id.
    pub id: i64,
    /// Taxpayer number: 10 or 12 decimal digits (RU ИНН of a company or a person; KZ БИН/ИИН).
    pub inn: String,
    /// Registered name.
    pub name: String,
    /// Created (UTC, unix milliseconds).
    pub created_at: i64,
    /// Last changed (UTC, unix milliseconds).
    pub updated_at: i64,
}

/// Whether `inn` has the shape of a taxpayer number: 10 or 12 decimal digits.
pub fn valid_inn(inn: &str) -> bool {
    matches!(inn.len(), 10 | 12) && inn.bytes().all(|b| b.is_ascii_digit())
}

fn organisation_from_row(row: &AnyRow) -> Result<Organisation, StoreError> {
    Ok(Organisation {
        id: row.try_get("id")?,
        inn: row.try_get("inn")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Enter an organisation. Refused with [`StoreError::Invalid`] for a malformed INN or an
    /// empty name, and with [`StoreError::Conflict`] when the INN is already known.
    pub async fn add_organisation(
        &self,
        inn: &str,
        name: &str,
    ) -> Result<Organisation, StoreError> {
        if !valid_inn(inn) {
            return Err(StoreError::Invalid(format!(
                "INN {inn:?} is not 10 or 12 decimal digits"
            )));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(StoreError::Invalid(format!(
                "organisation name must be 1 to {MAX_NAME_CHARS} characters"
            )));
        }
        let now = unix_millis();
        let sql = format!(
            "INSERT INTO organisations (inn, name, created_at, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING RETURNING {ORGANISATION_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(inn)
            .bind(name)
            .bind(now)
            .bind(now)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::Conflict(format!("organisation {inn} already exists")))?;
        organisation_from_row(&row)
    }

    /// The organisation with taxpayer number `inn`.
    pub async fn organisation_by_inn(&self, inn: &str) -> Result<Option<Organisation>, StoreError> {
        let sql = format!("SELECT {ORGANISATION_COLUMNS} FROM organisations WHERE inn = $1");
        let row = sqlx::query(&sql)
            .bind(inn)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(organisation_from_row).transpose()
    }

    /// Every organisation, oldest first.
    pub async fn list_organisations(&self) -> Result<Vec<Organisation>, StoreError> {
        let sql = format!("SELECT {ORGANISATION_COLUMNS} FROM organisations ORDER BY id");
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(organisation_from_row).collect()
    }
}
