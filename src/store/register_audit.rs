//! Audit lines about a register written by the ingest side (e.g. KZ token lockouts), so that
//! the register's owner sees them in the cabinet's audit log: the line belongs to the
//! organisation whose INN the register carries (none when no organisation has it, for the
//! operator's eyes only). One statement per line; the caller batches and rate-limits.

use sqlx::Row as _;

use super::identity::{audit_in, AuditEntry};
use super::{Store, StoreError};

impl Store {
    /// Write one audit line about the KZ register `system_id`, attributed to the `ingest`
    /// actor, for the register's owner.
    pub async fn audit_register_event(
        &self,
        system_id: i64,
        action: &'static str,
        detail: String,
        source: Option<String>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await?;
        let row = sqlx::query(
            "SELECT r.id, o.id FROM registers r LEFT JOIN organisations o ON o.inn = r.org_inn \
             WHERE r.system_id = $1",
        )
        .bind(system_id)
        .fetch_optional(&mut *conn)
        .await?;
        let (register_id, org_id) = match row {
            Some(row) => (
                Some(row.try_get::<i64, _>(0)?),
                row.try_get::<Option<i64>, _>(1)?,
            ),
            None => (None, None),
        };
        let entry = AuditEntry {
            org_id,
            actor: "ingest".to_owned(),
            action,
            object: register_id.map(|id| format!("register:{id}")),
            detail: Some(detail),
            source,
        };
        audit_in(&mut conn, &entry, now).await
    }
}
