//! KZ cashiers' logins: the check a KZ register's AUTH command (login = the cashier's code,
//! password = their PIN) needs. The code and the PIN's argon2id hash are set through the tenancy
//! layer ([`super::Tenant::set_kz_cashier`]); this is the read side, for whoever answers AUTH.

use argon2::password_hash::{PasswordHash, PasswordVerifier as _};
use argon2::Argon2;
use sqlx::Row as _;

use super::{Store, StoreError};

impl Store {
    /// The id of the active cashier whose code is `code` and whose PIN is `pin`, if that
    /// cashier belongs to the organisation owning the KZ register `system_id` and is assigned
    /// to it; `None` otherwise (unknown register, code or cashier, wrong PIN, not assigned).
    pub async fn verify_kz_cashier(
        &self,
        system_id: i64,
        code: &str,
        pin: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id AS id, u.kz_pin_hash AS pin_hash FROM users u \
             JOIN organisations o ON o.id = u.org_id \
             JOIN registers r ON r.org_inn = o.inn \
             JOIN cashier_registers c ON c.user_id = u.id AND c.register_id = r.id \
             WHERE r.system_id = $1 AND r.dialect = 'kz' AND u.kz_cashier_code = $2 \
             AND u.role = 'cashier' AND u.status = 'active'",
        )
        .bind(system_id)
        .bind(code)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let id: i64 = row.try_get("id")?;
        let phc: Option<String> = row.try_get("pin_hash")?;
        let Some(phc) = phc else {
            return Ok(None);
        };
        let parsed = PasswordHash::new(&phc)
            .map_err(|e| StoreError::Corrupt(format!("user {id}: PIN hash: {e}")))?;
        // The PHC string carries the parameters it was made with.
        let ok = Argon2::default()
            .verify_password(pin.as_bytes(), &parsed)
            .is_ok();
        Ok(ok.then_some(id))
    }
}
