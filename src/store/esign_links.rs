//! Login by electronic signature, its stored half: the challenges handed out to be signed and
//! the links from a certificate's identity to the user it logs in as.
//!
//! - A challenge is stored as the hex SHA-256 of its text (never in clear), with its expiry;
//!   spending it marks it used in the same statement that checks it is known, unexpired and
//!   unused, so two requests racing with one challenge cannot both pass. Expired challenges are
//!   dropped whenever a new one is issued, so the table holds only the last few minutes' worth.
//! - A link names an identity (taxpayer id and name, as the verifier read them from the
//!   certificate) and one user; an identity links to one user across the service (a second
//!   link is 409). The acting user lists, links and unlinks only their own links, through the
//!   [`Tenant`]: another user's link is 404, as every out-of-scope object is. Linking and
//!   unlinking write an audit line in their own transaction.
//! - Time comes in as an argument (`now`), so expiry is decided by the caller's one clock.

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::identity::{audit_in, user_columns_of, user_from_row, User};
use super::{Actor, Store, StoreError, Tenant};

/// A certificate identity linked to a user (for login by electronic signature).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[non_exhaustive]
pub struct EsignLink {
    /// Row id.
    pub id: i64,
    /// The user it logs in as.
    pub user_id: i64,
    /// Taxpayer number in the certificate (ИНН, БИН/ИИН).
    pub tax_id: String,
    /// Name in the certificate.
    pub name: String,
    /// Linked (unix ms).
    pub created_at: i64,
}

const LINK_COLUMNS: &str = "id, user_id, tax_id, signer_name, created_at";

fn link_from_row(row: &AnyRow) -> Result<EsignLink, StoreError> {
    Ok(EsignLink {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        tax_id: row.try_get("tax_id")?,
        name: row.try_get("signer_name")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Store a challenge (its hash) good until `expires_at`; expired ones are dropped.
    pub async fn issue_esign_challenge(
        &self,
        challenge_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM esign_challenges WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO esign_challenges (challenge_hash, created_at, expires_at) \
             VALUES ($1, $2, $3)",
        )
        .bind(challenge_hash)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Spend the challenge `challenge_hash`: `true` when it was known, unexpired at `now` and
    /// unused (it is used now), `false` otherwise.
    pub async fn spend_esign_challenge(
        &self,
        challenge_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE esign_challenges SET used_at = $1 WHERE challenge_hash = $2 \
             AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(challenge_hash)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The user the identity (`tax_id`, `name`) is linked to, whatever their status.
    pub async fn esign_user(&self, tax_id: &str, name: &str) -> Result<Option<User>, StoreError> {
        let columns = user_columns_of("u");
        let sql = format!(
            "SELECT {columns} FROM esign_links l JOIN users u ON u.id = l.user_id \
             WHERE l.tax_id = $1 AND l.signer_name = $2"
        );
        let row = sqlx::query(&sql)
            .bind(tax_id)
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }
}

impl Tenant {
    /// The acting user's id and organisation; only people have links.
    fn link_owner(&self) -> Result<(i64, i64), StoreError> {
        match self.actor() {
            Actor::User { id, org_id, .. } => Ok((*id, *org_id)),
            _ => Err(StoreError::Invalid(
                "only a logged-in user links electronic signatures".to_owned(),
            )),
        }
    }

    /// The acting user's linked identities, oldest first.
    pub async fn esign_links(&self) -> Result<Vec<EsignLink>, StoreError> {
        let (user, _) = self.link_owner()?;
        let sql = format!("SELECT {LINK_COLUMNS} FROM esign_links WHERE user_id = $1 ORDER BY id");
        let rows = sqlx::query(&sql)
            .bind(user)
            .fetch_all(self.store().pool())
            .await?;
        rows.iter().map(link_from_row).collect()
    }

    /// Link the identity (`tax_id`, `name`) to the acting user at `now`; 409 when it is
    /// linked already (to anyone).
    pub async fn link_esign(
        &self,
        tax_id: &str,
        name: &str,
        now: i64,
    ) -> Result<EsignLink, StoreError> {
        let (user, org) = self.link_owner()?;
        let mut tx = self.store().begin_write().await?;
        let sql = format!(
            "INSERT INTO esign_links (user_id, org_id, tax_id, signer_name, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {LINK_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(user)
            .bind(org)
            .bind(tax_id)
            .bind(name)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|error| match &error {
                sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(
                    "signature: this certificate is already linked to an account".to_owned(),
                ),
                _ => StoreError::Database(error),
            })?;
        let link = link_from_row(&row)?;
        let mut entry = self.entry(Some(org), "esign.link", format!("user:{user}"));
        entry.detail = Some(format!("esign_link:{} tax_id {tax_id}", link.id));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(link)
    }

    /// Unlink the acting user's link `id` at `now`; 404 when it is not theirs.
    pub async fn unlink_esign(&self, id: i64, now: i64) -> Result<EsignLink, StoreError> {
        let (user, org) = self.link_owner()?;
        let mut tx = self.store().begin_write().await?;
        let sql = format!(
            "DELETE FROM esign_links WHERE id = $1 AND user_id = $2 RETURNING {LINK_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(user)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("e-signature link {id}")))?;
        let link = link_from_row(&row)?;
        let mut entry = self.entry(Some(org), "esign.unlink", format!("user:{user}"));
        entry.detail = Some(format!("esign_link:{id} tax_id {}", link.tax_id));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(link)
    }
}
