//! Wired-connection requests: an organisation asks for a register to be connected by cable at
//! an address (contact person, phone, preferred date and time window); operator staff schedule
//! the visit and close the request.
//!
//! Statuses and who may move them ([`allowed`], the one table of transitions):
//! `new` → `scheduled` (operator staff, with the date) → `done` (operator staff); `new` or
//! `scheduled` → `cancelled` (the organisation or operator staff); `scheduled` → `scheduled`
//! again moves the date (operator staff). `done` and `cancelled` are final.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row as _};

use super::identity::audit_in;
use super::tenancy::SCOPE_ORG_ID;
use super::{StoreError, Tenant};
use crate::clock::unix_millis;

const COLUMNS: &str = "id, org_id, register_id, address, contact_person, phone, preferred_date, \
     window_from, window_to, status, scheduled_date, note, created_at, updated_at";

/// Where a wired-connection request stands.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum WiredStatus {
    /// Received.
    New,
    /// A visit date is set.
    Scheduled,
    /// Connected.
    Done,
    /// Withdrawn.
    Cancelled,
}

impl WiredStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            WiredStatus::New => "new",
            WiredStatus::Scheduled => "scheduled",
            WiredStatus::Done => "done",
            WiredStatus::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        Ok(match text {
            "new" => WiredStatus::New,
            "scheduled" => WiredStatus::Scheduled,
            "done" => WiredStatus::Done,
            "cancelled" => WiredStatus::Cancelled,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "wired request status {other:?}"
                )))
            }
        })
    }
}

/// Whether a request in `from` may go to `to`, by operator staff (`by_operator`) or by the
/// organisation.
pub fn allowed(from: WiredStatus, to: WiredStatus, by_operator: bool) -> bool {
    use WiredStatus::*;
    match (from, to) {
        (New | Scheduled, Scheduled) | (Scheduled, Done) => by_operator,
        (New | Scheduled, Cancelled) => true,
        _ => false,
    }
}

/// A wired-connection request.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct WiredRequest {
    /// Row id.
    pub id: i64,
    /// The organisation asking.
    pub org_id: i64,
    /// The register to connect, when known.
    pub register_id: Option<i64>,
    /// Where.
    pub address: String,
    /// Whom to meet.
    pub contact_person: String,
    /// Their phone.
    pub phone: String,
    /// Preferred date, YYYY-MM-DD.
    pub preferred_date: String,
    /// Preferred window start, HH:MM local.
    pub window_from: String,
    /// Preferred window end, HH:MM local.
    pub window_to: String,
    /// Status.
    pub status: WiredStatus,
    /// The visit date operator staff set, YYYY-MM-DD.
    pub scheduled_date: Option<String>,
    /// Note of the last change.
    pub note: Option<String>,
    /// Created (unix ms).
    pub created_at: i64,
    /// Last changed (unix ms).
    pub updated_at: i64,
}

/// A new request (fields already checked by the API).
#[derive(Clone, Debug)]
pub struct NewWiredRequest {
    /// The organisation asking.
    pub org_id: i64,
    /// The register, if known (must be the organisation's).
    pub register_id: Option<i64>,
    /// Where.
    pub address: String,
    /// Whom to meet.
    pub contact_person: String,
    /// Their phone.
    pub phone: String,
    /// YYYY-MM-DD.
    pub preferred_date: String,
    /// HH:MM.
    pub window_from: String,
    /// HH:MM.
    pub window_to: String,
}

fn from_row(row: &AnyRow) -> Result<WiredRequest, StoreError> {
    Ok(WiredRequest {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        register_id: row.try_get("register_id")?,
        address: row.try_get("address")?,
        contact_person: row.try_get("contact_person")?,
        phone: row.try_get("phone")?,
        preferred_date: row.try_get("preferred_date")?,
        window_from: row.try_get("window_from")?,
        window_to: row.try_get("window_to")?,
        status: WiredStatus::parse(&row.try_get::<String, _>("status")?)?,
        scheduled_date: row.try_get("scheduled_date")?,
        note: row.try_get("note")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Tenant {
    /// The requests in scope, newest first: operator staff see every organisation's.
    pub async fn wired_requests(&self) -> Result<Vec<WiredRequest>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM wired_requests WHERE {SCOPE_ORG_ID} ORDER BY id DESC LIMIT 1000"
        );
        self.scoped_rows(&sql, from_row).await
    }

    /// The request `id` in scope.
    pub async fn wired_request(&self, id: i64) -> Result<Option<WiredRequest>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM wired_requests WHERE {SCOPE_ORG_ID} AND id = $3");
        self.scoped_row_by_id(&sql, id, from_row).await
    }

    /// File a request for `new.org_id` (in scope, else 404); a register of another organisation
    /// is refused naming `register_id`.
    pub async fn create_wired_request(
        &self,
        new: &NewWiredRequest,
    ) -> Result<WiredRequest, StoreError> {
        if self.organisation(new.org_id).await?.is_none() {
            return Err(StoreError::NotFound(format!("organisation {}", new.org_id)));
        }
        if let Some(register_id) = new.register_id {
            let owner = self.register_org(register_id).await.ok();
            if owner != Some(new.org_id) {
                return Err(StoreError::Invalid(format!(
                    "register_id: no register {register_id} in this organisation"
                )));
            }
        }
        let now = unix_millis();
        let mut tx = self.store().begin_write().await?;
        let sql = format!(
            "INSERT INTO wired_requests (org_id, register_id, address, contact_person, phone, \
             preferred_date, window_from, window_to, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'new', $9, $9) RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(new.org_id)
            .bind(new.register_id)
            .bind(&new.address)
            .bind(&new.contact_person)
            .bind(&new.phone)
            .bind(&new.preferred_date)
            .bind(&new.window_from)
            .bind(&new.window_to)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        let request = from_row(&row)?;
        let entry = self.entry(
            Some(new.org_id),
            "wired_request.create",
            format!("wired_request:{}", request.id),
        );
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(request)
    }

    /// Move request `id` to `to`: 404 out of scope, 409 for a transition [`allowed`] refuses to
    /// this actor (the API checks roles first, so that an organisation asking for an
    /// operator-only transition gets 403). `scheduled_date` is required for `scheduled` and kept
    /// otherwise.
    pub async fn change_wired_request(
        &self,
        id: i64,
        to: WiredStatus,
        scheduled_date: Option<&str>,
        note: Option<&str>,
    ) -> Result<WiredRequest, StoreError> {
        let current = self
            .wired_request(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("wired request {id}")))?;
        let by_operator = self.actor().org_id().is_none();
        if !allowed(current.status, to, by_operator) {
            return Err(StoreError::Conflict(format!(
                "status: a {} request cannot become {}{}",
                current.status.as_str(),
                to.as_str(),
                if allowed(current.status, to, true) {
                    " except by operator staff"
                } else {
                    ""
                }
            )));
        }
        if to == WiredStatus::Scheduled && scheduled_date.is_none() {
            return Err(StoreError::Invalid(
                "scheduled_date: required to schedule".to_owned(),
            ));
        }
        let now = unix_millis();
        let mut tx = self.store().begin_write().await?;
        // Guarded by the status read above: a concurrent change makes this match nothing.
        let sql = format!(
            "UPDATE wired_requests SET status = $1, \
             scheduled_date = COALESCE($2, scheduled_date), note = $3, updated_at = $4 \
             WHERE id = $5 AND status = $6 RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(to.as_str())
            .bind(scheduled_date)
            .bind(note)
            .bind(now)
            .bind(id)
            .bind(current.status.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| {
                StoreError::Conflict(format!("wired request {id} changed meanwhile; retry"))
            })?;
        let request = from_row(&row)?;
        let mut entry = self.entry(
            Some(request.org_id),
            "wired_request.status",
            format!("wired_request:{id}"),
        );
        entry.detail = Some(format!(
            "{} → {}{}",
            current.status.as_str(),
            to.as_str(),
            scheduled_date
                .map(|d| format!(" on {d}"))
                .unwrap_or_default()
        ));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(request)
    }
}

/// A register that now connects by wire gets a wired-connection request for its organisation,
/// unless one is already open for it (new or scheduled): the address is its point of sale's
/// (else the organisation's actual address), the contact the organisation's name and phone, the
/// preferred date three days on, 09:00–18:00. Operator staff then schedule it; the organisation
/// sees it with its other requests. Runs in the register change's own transaction and writes
/// its audit line there, by the actor `system:register-wired`.
pub(super) async fn open_for_wired_register_in(
    conn: &mut AnyConnection,
    register: &super::Register,
    now: i64,
) -> Result<(), StoreError> {
    let Some(inn) = register.org_inn.as_deref() else {
        return Ok(());
    };
    let org = sqlx::query(
        "SELECT id, name, phone, COALESCE(actual_address, legal_address) AS address \
         FROM organisations WHERE inn = $1",
    )
    .bind(inn)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(org) = org else { return Ok(()) };
    let org_id: i64 = org.try_get("id")?;
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM wired_requests WHERE register_id = $1 \
         AND status IN ('new', 'scheduled')",
    )
    .bind(register.id)
    .fetch_one(&mut *conn)
    .await?;
    if open > 0 {
        return Ok(());
    }
    let pos_address = match register.pos_id {
        Some(pos) => super::points_of_sale::point_of_sale_line_in(conn, pos)
            .await?
            .map(|line| match line.address {
                Some(address) => format!("{}, {address}", line.name),
                None => line.name,
            }),
        None => None,
    };
    let org_address: Option<String> = org.try_get("address")?;
    let address = pos_address.or(org_address).unwrap_or_default();
    let contact: String = org.try_get("name")?;
    let phone: Option<String> = org.try_get("phone")?;
    let preferred = chrono::DateTime::from_timestamp_millis(now + 3 * 86_400_000)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO wired_requests (org_id, register_id, address, contact_person, phone, \
         preferred_date, window_from, window_to, status, note, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, '09:00', '18:00', 'new', $7, $8, $8) RETURNING id",
    )
    .bind(org_id)
    .bind(register.id)
    .bind(address)
    .bind(contact)
    .bind(phone.unwrap_or_default())
    .bind(preferred)
    .bind("opened because the register connects by wire")
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let entry = super::identity::AuditEntry {
        org_id: Some(org_id),
        actor: "system:register-wired".to_owned(),
        action: "wired_request.create",
        object: Some(format!("wired_request:{id}")),
        detail: Some(format!("register:{}", register.id)),
        source: None,
    };
    audit_in(conn, &entry, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_by_whom() {
        use WiredStatus::*;
        assert!(allowed(New, Scheduled, true));
        assert!(!allowed(New, Scheduled, false), "only staff schedule");
        assert!(allowed(Scheduled, Done, true));
        assert!(!allowed(Scheduled, Done, false));
        assert!(!allowed(New, Done, true), "a visit is scheduled first");
        assert!(allowed(New, Cancelled, false));
        assert!(allowed(Scheduled, Cancelled, false));
        assert!(allowed(Scheduled, Scheduled, true), "rescheduling");
        for to in [New, Scheduled, Done, Cancelled] {
            assert!(!allowed(Done, to, true), "done is final");
            assert!(!allowed(Cancelled, to, true), "cancelled is final");
        }
    }
}
