//! Registers as the cabinet keeps them, on top of `registers.rs`: the fields an owner edits
//! (point of sale, device and connection, SIM, time zone, registration data, the RU drive's and
//! the KZ card's details), every edit kept as a version, the status history, RU fiscal drive
//! replacement with its history, the last document time, and the filtered, sorted, cursor-paged
//! register search.
//!
//! Invariants:
//! - Every change goes through the caller's [`Tenant`] (scoped by organisation: another
//!   organisation's register is not found) and writes its audit line in its own transaction.
//! - Status changes go through the one store function [`super::registers::transition`].
//! - An edit stores the whole register after it as a new version (`register_versions`) and puts
//!   the register into `saved` until its owner confirms ([`super::register_lifecycle`]).
//! - A RU register's drives are `register_drives` rows; the current drive is also
//!   `registers.fn_number`. A replaced drive keeps its row with `ended_at`, so ingest still files
//!   its documents made before the replacement under the same register.
//! - The last document time is read with one index look-up per drive, never by scanning
//!   documents: a RU drive's highest-numbered document in the read models (`doc_index_fn`, as
//!   fresh as the projector), a KZ register's newest arrival (`documents_system_received`).

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row as _};

use super::identity::audit_in;
use super::register_lifecycle::{Change, Lifecycle};
use super::register_numbers::{check_iccid, check_rn_kkt, check_rnm, msisdn_tail, NumberError};
use super::registers::{
    add_register_in, fetch_register_by_id, record_transition, register_from_row, transition,
    ConnectionType, DeviceType, RegisterDetails, REGISTER_COLUMNS,
};
use super::tenancy::SCOPE_INN;
use super::{Dialect, NewRegister, Register, StoreError, Tenant};
use crate::clock::unix_millis;

impl From<NumberError> for StoreError {
    fn from(error: NumberError) -> Self {
        StoreError::Invalid(error.to_string())
    }
}

/// What an edit changes; absent fields keep their value (`details` is replaced whole).
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterEdit {
    /// Factory serial number.
    pub serial: Option<String>,
    /// Model name.
    pub model: Option<String>,
    /// RU: РН ККТ (16 digits, checked against the ИНН and the serial); KZ: РНМ (12 digits).
    pub reg_number: Option<String>,
    /// The point of sale (of the same organisation).
    pub pos_id: Option<i64>,
    /// `hardware` or `software` (АПК).
    pub device_type: Option<DeviceType>,
    /// `sim` (needs `iccid`) or `wired`.
    pub connection_type: Option<ConnectionType>,
    /// The SIM's ICCID, 19–20 digits with a Luhn check digit.
    pub iccid: Option<String>,
    /// The SIM's phone number.
    pub msisdn: Option<String>,
    /// The register's clock offset from UTC in minutes (-720 to 840).
    pub utc_offset_minutes: Option<i64>,
    /// Everything else (replaced whole when given).
    pub details: Option<RegisterDetails>,
}

/// One stored version of a register.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RegisterVersion {
    /// 1 for the register as entered, then one more per edit.
    pub version: i64,
    /// Who made it (`user:<id>`, `key:<id>`, `operator-key:<id>`).
    pub actor: String,
    /// When (UTC ms).
    pub at: i64,
    /// The register as it was after the edit.
    #[schema(value_type = Object)]
    pub snapshot: serde_json::Value,
}

/// One status change of a register.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RegisterTransition {
    /// The state before (`new` for the first).
    pub from: String,
    /// The state after.
    pub to: String,
    /// Who.
    pub actor: String,
    /// When (UTC ms).
    pub at: i64,
    /// Deregistration reason.
    pub reason: Option<String>,
    /// Deregistration reason text.
    pub reason_text: Option<String>,
}

/// A fiscal drive a RU register has had.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Drive {
    /// The ФН number.
    pub fn_number: String,
    /// Its model.
    pub fn_model: Option<String>,
    /// Its expiry date.
    pub fn_expiry: Option<String>,
    /// Bound to the register from (UTC ms).
    pub started_at: i64,
    /// Replaced at (UTC ms); `None` for the current drive.
    pub ended_at: Option<i64>,
}

/// A new RU fiscal drive.
#[derive(Clone, Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDrive {
    /// The new ФН number (16 digits, never used before).
    pub fn_number: String,
    /// Its model.
    pub fn_model: Option<String>,
    /// Its expiry date, `YYYY-MM-DD`.
    pub fn_expiry: Option<String>,
    /// When it starts (UTC ms; default now). The old drive's documents made before it are
    /// still accepted.
    pub started_at: Option<i64>,
}

/// Sort orders of the register search.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
pub enum RegisterSort {
    /// By id, oldest first (default).
    #[default]
    #[serde(rename = "id")]
    IdAsc,
    /// By id, newest first.
    #[serde(rename = "-id")]
    IdDesc,
    /// By registration date, earliest first (unregistered first).
    #[serde(rename = "registered_at")]
    RegisteredAsc,
    /// By registration date, latest first.
    #[serde(rename = "-registered_at")]
    RegisteredDesc,
}

/// The cabinet's register search: every given field must match.
#[derive(Clone, Debug, Default)]
pub struct RegisterSearch {
    /// `ru` or `kz`.
    pub dialect: Option<Dialect>,
    /// The cabinet state.
    pub lifecycle: Option<Lifecycle>,
    /// The ingest gate (`active`, `blocked`, `deregistered`).
    pub gate: Option<super::RegisterStatus>,
    /// Owner's taxpayer number.
    pub org_inn: Option<String>,
    /// Point of sale.
    pub pos_id: Option<i64>,
    /// Device type.
    pub device_type: Option<DeviceType>,
    /// Connection type.
    pub connection_type: Option<ConnectionType>,
    /// Registered at or after (UTC ms).
    pub registered_from: Option<i64>,
    /// Registered before (UTC ms).
    pub registered_to: Option<i64>,
    /// Paid now (a tariff whose paid period has not ended) or not.
    pub paid: Option<bool>,
    /// Exact serial, registration number, ФН number (current or past) or KZ system id.
    pub q: Option<String>,
    /// The SIM's phone number (matched by its last 10 digits).
    pub msisdn: Option<String>,
    /// Only these ids.
    pub ids: Option<Vec<i64>>,
    /// Order.
    pub sort: RegisterSort,
    /// Continue after this cursor (from the previous page).
    pub cursor: Option<String>,
    /// Page size.
    pub limit: i64,
}

/// The ICCID/MSISDN/tail, time zone, year and date checks of a register's fields after an edit
/// (`org_inn` for the РН ККТ check); the message names the field.
fn check_fields(register: &Register, org_inn: &str) -> Result<(), StoreError> {
    if let Some(iccid) = &register.iccid {
        check_iccid(iccid)?;
    }
    if let Some(msisdn) = &register.msisdn {
        msisdn_tail(msisdn)?;
    }
    if register.connection_type == Some(ConnectionType::Sim) && register.iccid.is_none() {
        return Err(StoreError::Invalid(
            "iccid: a register connected by SIM needs the SIM's ICCID".into(),
        ));
    }
    if register.device_type == Some(DeviceType::Software)
        && register.connection_type == Some(ConnectionType::Sim)
    {
        return Err(StoreError::Invalid(
            "connection_type: a software register (АПК) has no SIM; use wired".into(),
        ));
    }
    if let Some(offset) = register.utc_offset_minutes {
        if !(-720..=840).contains(&offset) {
            return Err(StoreError::Invalid(format!(
                "utc_offset_minutes: {offset} is not between -720 and 840"
            )));
        }
    }
    let details = &register.details;
    if let Some(year) = details.year_of_manufacture {
        if !(1990..=2100).contains(&year) {
            return Err(StoreError::Invalid(format!(
                "details.year_of_manufacture: {year} is not a plausible year"
            )));
        }
    }
    if let Some(expiry) = &details.fn_expiry {
        check_date("details.fn_expiry", expiry)?;
    }
    if let Some(ffd) = &details.ffd_version {
        if !["1.05", "1.1", "1.2"].contains(&ffd.as_str()) {
            return Err(StoreError::Invalid(format!(
                "details.ffd_version: {ffd:?} is not 1.05, 1.1 or 1.2"
            )));
        }
    }
    if let Some(reg_number) = &register.reg_number {
        match register.dialect {
            Dialect::Ru => check_rn_kkt(
                reg_number,
                org_inn,
                register.serial.as_deref().unwrap_or_default(),
            )?,
            Dialect::Kz => check_rnm(reg_number)?,
        }
    }
    Ok(())
}

fn check_date(field: &str, text: &str) -> Result<(), StoreError> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|_| ())
        .map_err(|_| StoreError::Invalid(format!("{field}: {text:?} is not a YYYY-MM-DD date")))
}

fn apply(register: &mut Register, edit: RegisterEdit) {
    let RegisterEdit {
        serial,
        model,
        reg_number,
        pos_id,
        device_type,
        connection_type,
        iccid,
        msisdn,
        utc_offset_minutes,
        details,
    } = edit;
    macro_rules! set {
        ($($field:ident),*) => { $(if $field.is_some() { register.$field = $field; })* };
    }
    set!(
        serial,
        model,
        reg_number,
        pos_id,
        device_type,
        connection_type,
        iccid,
        msisdn,
        utc_offset_minutes
    );
    if let Some(details) = details {
        register.details = details;
    }
}

/// Write the editable columns of `register` (its row must exist), on `conn`.
async fn store_fields(
    conn: &mut AnyConnection,
    register: &Register,
    now: i64,
) -> Result<Register, StoreError> {
    let tail = register.msisdn.as_deref().map(msisdn_tail).transpose()?;
    let details = serde_json::to_string(&register.details)
        .map_err(|e| StoreError::Invalid(format!("details: {e}")))?;
    let sql = format!(
        "UPDATE registers SET serial = $1, model = $2, reg_number = $3, pos_id = $4, \
         device_type = $5, connection_type = $6, iccid = $7, msisdn = $8, msisdn_tail = $9, \
         utc_offset_minutes = $10, details = $11, updated_at = $12 WHERE id = $13 \
         RETURNING {REGISTER_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(register.serial.as_deref())
        .bind(register.model.as_deref())
        .bind(register.reg_number.as_deref())
        .bind(register.pos_id)
        .bind(register.device_type.map(DeviceType::as_str))
        .bind(register.connection_type.map(ConnectionType::as_str))
        .bind(register.iccid.as_deref())
        .bind(register.msisdn.as_deref())
        .bind(tail)
        .bind(register.utc_offset_minutes)
        .bind(details)
        .bind(now)
        .bind(register.id)
        .fetch_one(&mut *conn)
        .await?;
    let stored = register_from_row(&row)?;
    if stored.connection_type == Some(ConnectionType::Wired) {
        super::wired_requests::open_for_wired_register_in(conn, &stored, now).await?;
    }
    Ok(stored)
}

/// Keep `register` as its next version.
async fn store_version(
    conn: &mut AnyConnection,
    register: &Register,
    actor: &str,
    now: i64,
) -> Result<(), StoreError> {
    let snapshot = serde_json::to_string(register)
        .map_err(|e| StoreError::Invalid(format!("register {}: {e}", register.id)))?;
    sqlx::query(
        "INSERT INTO register_versions (register_id, version, actor, at, snapshot) \
         SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4 FROM register_versions \
         WHERE register_id = $1",
    )
    .bind(register.id)
    .bind(actor)
    .bind(now)
    .bind(snapshot)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The time (UTC ms) the last document of `register` was stored, over all its drives; `None`
/// when it has sent none. One index look-up per drive: a RU drive's last document is its
/// highest-numbered one (a drive sends its documents in the order it numbered them), read from
/// the read models' `doc_index_fn`, so it lags ingest by the projector's delay (ingest keeps no
/// drive-number index on `documents`: migration 0029). `conn` is one of [`Store::read_pool`]'s.
///
/// [`Store::read_pool`]: super::Store::read_pool
pub async fn last_document_at(
    conn: &mut AnyConnection,
    register: &Register,
) -> Result<Option<i64>, StoreError> {
    last_document_of(
        conn,
        register.id,
        register.dialect,
        register.fn_number.as_deref(),
        register.system_id,
    )
    .await
}

/// [`last_document_at`] of the register `id` with these numbers, for readers that have them
/// from a query of their own (the alert facts).
pub(super) async fn last_document_of(
    conn: &mut AnyConnection,
    id: i64,
    dialect: Dialect,
    fn_number: Option<&str>,
    system_id: Option<i64>,
) -> Result<Option<i64>, StoreError> {
    let at: Option<i64> = match dialect {
        Dialect::Ru => {
            sqlx::query_scalar(
                "SELECT MAX(m) FROM (\
             SELECT (SELECT received_at FROM doc_index WHERE fn_number = $1 \
                     ORDER BY fd_number DESC LIMIT 1) AS m \
             UNION ALL \
             SELECT (SELECT d.received_at FROM doc_index d WHERE d.fn_number = r.fn_number \
                     ORDER BY d.fd_number DESC LIMIT 1) \
             FROM register_drives r WHERE r.register_id = $2) AS per_drive",
            )
            .bind(fn_number.unwrap_or_default())
            .bind(id)
            .fetch_one(&mut *conn)
            .await?
        }
        Dialect::Kz => {
            sqlx::query_scalar("SELECT MAX(received_at) FROM documents WHERE system_id = $1")
                .bind(system_id.unwrap_or_default())
                .fetch_one(&mut *conn)
                .await?
        }
    };
    Ok(at)
}

fn version_from_row(row: &AnyRow) -> Result<RegisterVersion, StoreError> {
    let text: String = row.try_get("snapshot")?;
    Ok(RegisterVersion {
        version: row.try_get("version")?,
        actor: row.try_get("actor")?,
        at: row.try_get("at")?,
        snapshot: serde_json::from_str(&text)
            .map_err(|e| StoreError::Corrupt(format!("register_versions.snapshot: {e}")))?,
    })
}

fn transition_from_row(row: &AnyRow) -> Result<RegisterTransition, StoreError> {
    Ok(RegisterTransition {
        from: row.try_get("from_state")?,
        to: row.try_get("to_state")?,
        actor: row.try_get("actor")?,
        at: row.try_get("at")?,
        reason: row.try_get("reason")?,
        reason_text: row.try_get("reason_text")?,
    })
}

fn drive_from_row(row: &AnyRow) -> Result<Drive, StoreError> {
    Ok(Drive {
        fn_number: row.try_get("fn_number")?,
        fn_model: row.try_get("fn_model")?,
        fn_expiry: row.try_get("fn_expiry")?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

/// `(sort key, id)` of a cursor `"<key>:<id>"`.
fn parse_cursor(cursor: &str) -> Result<(i64, i64), StoreError> {
    let bad = || StoreError::Invalid(format!("cursor: {cursor:?} is not a cursor of this list"));
    let (key, id) = cursor.split_once(':').ok_or_else(bad)?;
    Ok((
        key.parse().map_err(|_| bad())?,
        id.parse().map_err(|_| bad())?,
    ))
}

impl Tenant {
    /// Provision a register for the organisation `org_inn` names, which must be in scope
    /// (otherwise it is unknown: [`StoreError::Invalid`] naming `org_inn`), with its cabinet
    /// fields; `saved` leaves it waiting for the owner's confirmation (the cabinet's flow),
    /// otherwise it is active at once (an operator provisioning a registered register).
    pub async fn provision_register(
        &self,
        dialect: Dialect,
        new: NewRegister,
        edit: RegisterEdit,
        saved: bool,
    ) -> Result<Register, StoreError> {
        let inn = new.org_inn.clone().unwrap_or_default();
        let Some(owner) = self.organisation_by_inn(&inn).await? else {
            return Err(StoreError::Invalid(format!(
                "org_inn: no organisation with INN {inn:?}"
            )));
        };
        let mut tx = self.store.begin_write().await?;
        let register = add_register_in(&mut tx, dialect, new).await?;
        let register = self
            .enter_fields_in(&mut tx, register, edit, saved, Some(owner.id))
            .await?;
        let mut entry = self.entry(
            Some(owner.id),
            "register.provision",
            format!("register:{}", register.id),
        );
        entry.detail = Some(format!(
            "dialect {}, {}",
            register.dialect,
            register.lifecycle.as_str()
        ));
        audit_in(&mut tx, &entry, unix_millis()).await?;
        tx.commit().await?;
        Ok(register)
    }

    /// The register `id` in scope, or 404.
    async fn scoped_register(&self, id: i64) -> Result<Register, StoreError> {
        self.register(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("register {id}")))
    }

    /// The owner's ИНН and id of `register`, or 404 when its organisation is out of scope.
    async fn owner_of(&self, register: &Register) -> Result<(String, Option<i64>), StoreError> {
        let inn = register.org_inn.clone().unwrap_or_default();
        let org = self.organisation_by_inn(&inn).await?;
        Ok((inn, org.map(|o| o.id)))
    }

    /// Check `pos_id` is a point of sale of organisation `org_id`.
    async fn check_pos(&self, pos_id: Option<i64>, org_id: Option<i64>) -> Result<(), StoreError> {
        let Some(pos_id) = pos_id else {
            return Ok(());
        };
        match self.point_of_sale(pos_id).await? {
            Some(pos) if Some(pos.org_id) == org_id => Ok(()),
            _ => Err(StoreError::Invalid(format!(
                "pos_id: no point of sale {pos_id} in the register's organisation"
            ))),
        }
    }

    /// Set the cabinet fields of a just provisioned register (`saved` asks for the owner's
    /// confirmation first): version 1, the first history line, no audit line of its own (the
    /// provisioning's covers it). Runs on the provisioning's transaction.
    pub(super) async fn enter_fields_in(
        &self,
        conn: &mut AnyConnection,
        register: Register,
        edit: RegisterEdit,
        saved: bool,
        org_id: Option<i64>,
    ) -> Result<Register, StoreError> {
        let mut changed = register;
        apply(&mut changed, edit);
        self.check_pos(changed.pos_id, org_id).await?;
        check_fields(&changed, changed.org_inn.as_deref().unwrap_or_default())?;
        let now = unix_millis();
        let mut stored = store_fields(conn, &changed, now).await?;
        let state = if saved {
            Lifecycle::Saved
        } else {
            Lifecycle::Active
        };
        if saved {
            let sql = format!(
                "UPDATE registers SET lifecycle = 'saved' WHERE id = $1 RETURNING {REGISTER_COLUMNS}"
            );
            let row = sqlx::query(&sql)
                .bind(stored.id)
                .fetch_one(&mut *conn)
                .await?;
            stored = register_from_row(&row)?;
        }
        if let Some(fn_number) = &stored.fn_number {
            sqlx::query(
                "INSERT INTO register_drives (register_id, fn_number, fn_model, fn_expiry, \
                 started_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(stored.id)
            .bind(fn_number)
            .bind(stored.details.fn_model.as_deref())
            .bind(stored.details.fn_expiry.as_deref())
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        let actor = self.actor.label();
        record_transition(conn, stored.id, "new", state, &actor, now, None, None).await?;
        store_version(conn, &stored, &actor, now).await?;
        Ok(stored)
    }

    /// Edit register `id`: the fields change, a version is kept, and the register waits in
    /// `saved` for its owner's confirmation. 404 out of scope, 400 naming a bad field, 409 when
    /// deregistered.
    pub async fn edit_register(&self, id: i64, edit: RegisterEdit) -> Result<Register, StoreError> {
        let current = self.scoped_register(id).await?;
        let (inn, org_id) = self.owner_of(&current).await?;
        let mut changed = current.clone();
        apply(&mut changed, edit);
        self.check_pos(changed.pos_id, org_id).await?;
        check_fields(&changed, &inn)?;
        let now = unix_millis();
        let actor = self.actor.label();
        let mut tx = self.store.begin_write().await?;
        transition(&mut tx, id, &Change::Edit, &actor, now).await?;
        let stored = store_fields(&mut tx, &changed, now).await?;
        store_version(&mut tx, &stored, &actor, now).await?;
        let entry = self.entry(org_id, "register.edit", format!("register:{id}"));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Apply a status change to register `id` through the state machine, with its history line
    /// and audit line. 404 out of scope, 409 not allowed, 400 missing reason.
    pub async fn change_register(&self, id: i64, change: &Change) -> Result<Register, StoreError> {
        let current = self.scoped_register(id).await?;
        let (_, org_id) = self.owner_of(&current).await?;
        let now = unix_millis();
        let mut tx = self.store.begin_write().await?;
        let register = transition(&mut tx, id, change, &self.actor.label(), now).await?;
        let mut entry = self.entry(org_id, "register.status", format!("register:{id}"));
        entry.detail = Some(match change {
            Change::Deregister(reason, text) => format!(
                "{} -> deregistered ({}{})",
                current.lifecycle.as_str(),
                reason.as_str(),
                text.as_deref()
                    .map(|t| format!(": {t}"))
                    .unwrap_or_default()
            ),
            _ => format!(
                "{} -> {}",
                current.lifecycle.as_str(),
                register.lifecycle.as_str()
            ),
        });
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(register)
    }

    /// The tax authority's answer: register `id` gets `reg_number` (checked) and the date, and
    /// goes to `registered`. Runs on `conn` (the caller's transaction, which audits).
    pub(super) async fn enter_registration_in(
        &self,
        conn: &mut AnyConnection,
        id: i64,
        reg_number: &str,
        registered_at: i64,
    ) -> Result<Register, StoreError> {
        let current = fetch_register_by_id(conn, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("register {id}")))?;
        let mut changed = current.clone();
        changed.reg_number = Some(reg_number.to_owned());
        check_fields(&changed, current.org_inn.as_deref().unwrap_or_default())?;
        let now = unix_millis();
        let register = transition(
            conn,
            id,
            &Change::To(Lifecycle::Registered),
            &self.actor.label(),
            now,
        )
        .await?;
        let sql = format!(
            "UPDATE registers SET reg_number = $1, registered_at = $2 WHERE id = $3 \
             RETURNING {REGISTER_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(reg_number)
            .bind(registered_at)
            .bind(register.id)
            .fetch_one(&mut *conn)
            .await?;
        register_from_row(&row)
    }

    /// The versions of register `id`, oldest first; 404 out of scope.
    pub async fn register_versions(&self, id: i64) -> Result<Vec<RegisterVersion>, StoreError> {
        self.scoped_register(id).await?;
        let rows = sqlx::query(
            "SELECT version, actor, at, snapshot FROM register_versions WHERE register_id = $1 \
             ORDER BY version",
        )
        .bind(id)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(version_from_row).collect()
    }

    /// The status history of register `id`, oldest first; 404 out of scope.
    pub async fn register_history(&self, id: i64) -> Result<Vec<RegisterTransition>, StoreError> {
        self.scoped_register(id).await?;
        let rows = sqlx::query(
            "SELECT from_state, to_state, actor, at, reason, reason_text \
             FROM register_transitions WHERE register_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(transition_from_row).collect()
    }

    /// The drives of RU register `id`, oldest first; 404 out of scope.
    pub async fn register_drives(&self, id: i64) -> Result<Vec<Drive>, StoreError> {
        self.scoped_register(id).await?;
        let rows = sqlx::query(
            "SELECT fn_number, fn_model, fn_expiry, started_at, ended_at FROM register_drives \
             WHERE register_id = $1 ORDER BY started_at, id",
        )
        .bind(id)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(drive_from_row).collect()
    }

    /// Replace the fiscal drive of RU register `id`: the register keeps its id, registration
    /// number and history; the old drive's row ends at the new one's start (its documents made
    /// before that are still accepted and filed under the register). 400 for KZ or a bad
    /// number, 409 for a number already used or a deregistered register.
    pub async fn replace_drive(&self, id: i64, drive: &NewDrive) -> Result<Register, StoreError> {
        let current = self.scoped_register(id).await?;
        let (_, org_id) = self.owner_of(&current).await?;
        if current.dialect != Dialect::Ru {
            return Err(StoreError::Invalid(format!(
                "id: register {id} is KZ; only RU registers have fiscal drives"
            )));
        }
        if current.lifecycle == Lifecycle::Deregistered {
            return Err(StoreError::Conflict(format!(
                "register {id} is deregistered; it gets no new drive"
            )));
        }
        let fn_number = drive.fn_number.as_str();
        if fn_number.len() != 16 || !fn_number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(StoreError::Invalid(format!(
                "fn_number: {fn_number:?} is not 16 decimal digits"
            )));
        }
        if let Some(expiry) = &drive.fn_expiry {
            check_date("fn_expiry", expiry)?;
        }
        let now = unix_millis();
        let started_at = drive.started_at.unwrap_or(now);
        let old = current.fn_number.clone().unwrap_or_default();
        let mut tx = self.store.begin_write().await?;
        let used: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM registers WHERE fn_number = $1) + \
             (SELECT COUNT(*) FROM register_drives WHERE fn_number = $1)",
        )
        .bind(fn_number)
        .fetch_one(&mut *tx)
        .await?;
        if used > 0 {
            return Err(StoreError::Conflict(format!(
                "fn_number: FN {fn_number} is already known"
            )));
        }
        // A register entered before drives were kept has no row for its first drive yet.
        sqlx::query(
            "INSERT INTO register_drives (register_id, fn_number, fn_model, fn_expiry, started_at) \
             SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS \
             (SELECT 1 FROM register_drives WHERE fn_number = $2)",
        )
        .bind(id)
        .bind(&old)
        .bind(current.details.fn_model.as_deref())
        .bind(current.details.fn_expiry.as_deref())
        .bind(current.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE register_drives SET ended_at = $1 WHERE fn_number = $2")
            .bind(started_at)
            .bind(&old)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO register_drives (register_id, fn_number, fn_model, fn_expiry, started_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(fn_number)
        .bind(drive.fn_model.as_deref())
        .bind(drive.fn_expiry.as_deref())
        .bind(started_at)
        .execute(&mut *tx)
        .await?;
        let mut changed = current.clone();
        changed.details.fn_model = drive.fn_model.clone();
        changed.details.fn_expiry = drive.fn_expiry.clone();
        store_fields(&mut tx, &changed, now).await?;
        let sql = format!(
            "UPDATE registers SET fn_number = $1 WHERE id = $2 RETURNING {REGISTER_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(fn_number)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let register = register_from_row(&row)?;
        store_version(&mut tx, &register, &self.actor.label(), now).await?;
        let mut entry = self.entry(org_id, "register.drive_replace", format!("register:{id}"));
        entry.detail = Some(format!("FN {old} -> {fn_number}"));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(register)
    }

    /// The last document time of `register` (see [`last_document_at`]).
    pub async fn last_document_at(&self, register: &Register) -> Result<Option<i64>, StoreError> {
        let mut conn = self.store.read_pool().acquire().await?;
        last_document_at(&mut conn, register).await
    }

    /// One page of the registers in scope matching `search`, and the cursor of the next page
    /// (`None` on the last).
    pub async fn search_registers(
        &self,
        search: &RegisterSearch,
    ) -> Result<(Vec<Register>, Option<String>), StoreError> {
        let (org, all) = self.scope();
        // $1, $2: scope; $3: cashier scope; then the filters in order.
        let mut conditions = vec![
            SCOPE_INN.to_owned(),
            "($3 < 0 OR id IN (SELECT register_id FROM cashier_registers WHERE user_id = $3))"
                .to_owned(),
        ];
        enum Arg {
            Text(String),
            Int(i64),
        }
        let mut args: Vec<Arg> = Vec::new();
        let mut push = |conditions: &mut Vec<String>, template: &str, arg: Arg| {
            args.push(arg);
            conditions.push(template.replace('?', &format!("${}", args.len() + 3)));
        };
        let text = |s: &str| Arg::Text(s.to_owned());
        if let Some(v) = search.dialect {
            push(&mut conditions, "dialect = ?", text(v.as_str()));
        }
        if let Some(v) = search.lifecycle {
            push(&mut conditions, "lifecycle = ?", text(v.as_str()));
        }
        if let Some(v) = search.gate {
            push(&mut conditions, "status = ?", text(v.as_str()));
        }
        if let Some(v) = &search.org_inn {
            push(&mut conditions, "org_inn = ?", text(v));
        }
        if let Some(v) = search.pos_id {
            push(&mut conditions, "pos_id = ?", Arg::Int(v));
        }
        if let Some(v) = search.device_type {
            push(&mut conditions, "device_type = ?", text(v.as_str()));
        }
        if let Some(v) = search.connection_type {
            push(&mut conditions, "connection_type = ?", text(v.as_str()));
        }
        if let Some(v) = search.registered_from {
            push(&mut conditions, "registered_at >= ?", Arg::Int(v));
        }
        if let Some(v) = search.registered_to {
            push(&mut conditions, "registered_at < ?", Arg::Int(v));
        }
        if let Some(paid) = search.paid {
            let condition = if paid {
                "id IN (SELECT register_id FROM register_tariffs WHERE paid_until > ?)"
            } else {
                "id NOT IN (SELECT register_id FROM register_tariffs WHERE paid_until > ?)"
            };
            push(&mut conditions, condition, Arg::Int(unix_millis()));
        }
        if let Some(v) = &search.msisdn {
            push(
                &mut conditions,
                "msisdn_tail = ?",
                Arg::Text(msisdn_tail(v)?),
            );
        }
        if let Some(q) = &search.q {
            let q = q.trim();
            args.push(Arg::Text(q.to_owned()));
            let n = args.len() + 3;
            args.push(Arg::Int(q.parse::<i64>().unwrap_or(-1)));
            let m = args.len() + 3;
            conditions.push(format!(
                "(serial = ${n} OR reg_number = ${n} OR fn_number = ${n} OR system_id = ${m} \
                 OR id IN (SELECT register_id FROM register_drives WHERE fn_number = ${n}))"
            ));
        }
        if let Some(ids) = &search.ids {
            let listed: Vec<String> = ids.iter().map(i64::to_string).collect();
            conditions.push(if listed.is_empty() {
                "1 = 0".to_owned()
            } else {
                format!("id IN ({})", listed.join(","))
            });
        }
        let key = match search.sort {
            RegisterSort::IdAsc | RegisterSort::IdDesc => "id",
            RegisterSort::RegisteredAsc | RegisterSort::RegisteredDesc => {
                "COALESCE(registered_at, 0)"
            }
        };
        let descending = matches!(
            search.sort,
            RegisterSort::IdDesc | RegisterSort::RegisteredDesc
        );
        if let Some(cursor) = &search.cursor {
            let (after_key, after_id) = parse_cursor(cursor)?;
            let op = if descending { "<" } else { ">" };
            args.push(Arg::Int(after_key));
            let k = args.len() + 3;
            args.push(Arg::Int(after_id));
            let i = args.len() + 3;
            conditions.push(format!(
                "({key} {op} ${k} OR ({key} = ${k} AND id {op} ${i}))"
            ));
        }
        let direction = if descending { "DESC" } else { "ASC" };
        args.push(Arg::Int(search.limit));
        let sql = format!(
            "SELECT {REGISTER_COLUMNS} FROM registers WHERE {} \
             ORDER BY {key} {direction}, id {direction} LIMIT ${}",
            conditions.join(" AND "),
            args.len() + 3
        );
        let mut query = sqlx::query(&sql)
            .bind(org)
            .bind(all)
            .bind(self.cashier_scope());
        for arg in args {
            query = match arg {
                Arg::Text(v) => query.bind(v),
                Arg::Int(v) => query.bind(v),
            };
        }
        let rows = query.fetch_all(self.store.pool()).await?;
        let registers: Vec<Register> = rows
            .iter()
            .map(register_from_row)
            .collect::<Result<_, _>>()?;
        let full = i64::try_from(registers.len()).is_ok_and(|n| n == search.limit);
        let next = registers.last().filter(|_| full).map(|last| {
            let value = match search.sort {
                RegisterSort::IdAsc | RegisterSort::IdDesc => last.id,
                _ => last.registered_at.unwrap_or(0),
            };
            format!("{value}:{}", last.id)
        });
        Ok((registers, next))
    }
}
