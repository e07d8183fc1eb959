//! Provisioned registers: lookup on the ingest path, provisioning and status changes by operators,
//! filtered pages for the account API.
//!
//! A RU register is identified by its fiscal drive (ФН) number. A KZ register is identified by a
//! system id the OFD allocates here (u32 > 0, unique; upwards from a random start,
//! [`SYSTEM_IDS`]) and must present the token the OFD last handed it; the first token is
//! allocated here too (random, never 0). Rows are never deleted: a register leaves service with
//! status `deregistered`, so its documents keep their owner.
//!
//! Lookups come in two forms: `Store` methods that borrow a pooled connection, and free functions
//! over a bare connection for use inside a writer transaction (the KZ token check and rotation).
//!
//! Status: `status` is the ingest gate (`active`, `blocked`, `deregistered`); `lifecycle` is the
//! cabinet's state machine (`register_lifecycle.rs`). Both change only through [`transition`],
//! which asks the pure state machine, derives the gate, records the history line, and stamps
//! `gate_closed_at` when the gate closes — ingest still accepts documents made before that
//! moment ([`fetch_admission_by_fn`], which also finds a register by a replaced drive).

use std::str::FromStr;

use rand::Rng as _;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row as _};

use super::register_lifecycle::{next, Change, Lifecycle, Position, Refusal};
use super::upward_run::UpwardRun;
use super::{Dialect, Store, StoreError};
use crate::clock::unix_millis;

/// Attempts at drawing an unused KZ system id before giving up.
const SYSTEM_ID_ATTEMPTS: usize = 32;

/// The KZ system ids this process gives: upwards from a random start with gaps of 1..=16, a new
/// random start after a taken one ([`UpwardRun`]'s design note: a new fleet's registers then
/// share index pages instead of landing between older registers'). One run per process, as the
/// ids are unique per store whoever draws them.
static SYSTEM_IDS: UpwardRun = UpwardRun::new(1, u32::MAX as u64, 16);

/// Columns of `registers` in the order [`register_from_row`] reads them by name.
pub(crate) const REGISTER_COLUMNS: &str =
    "id, dialect, fn_number, system_id, serial, model, reg_number, org_inn, status, kz_token, \
     created_at, updated_at, lifecycle, resume_lifecycle, gate_closed_at, pos_id, device_type, \
     connection_type, iccid, msisdn, utc_offset_minutes, registered_at, details";

pub use super::register_lifecycle::RegisterStatus;

/// A provisioned register.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Register {
    /// Row id.
    pub id: i64,
    /// Protocol family: `ru` or `kz`.
    #[schema(value_type = String)]
    pub dialect: Dialect,
    /// RU fiscal drive number.
    pub fn_number: Option<String>,
    /// KZ system id (header ID).
    pub system_id: Option<i64>,
    /// Manufacturer serial number.
    pub serial: Option<String>,
    /// Model name.
    pub model: Option<String>,
    /// Registration number issued by the tax authority.
    pub reg_number: Option<String>,
    /// Taxpayer number of the owner (ИНН / БИН).
    pub org_inn: Option<String>,
    /// Whether documents are accepted.
    pub status: RegisterStatus,
    /// KZ: the token the register must send next. A shared secret: never log it.
    #[serde(skip_serializing)]
    #[schema(ignore)]
    pub kz_token: Option<i64>,
    /// Created (UTC, unix milliseconds).
    pub created_at: i64,
    /// Last changed (UTC, unix milliseconds).
    pub updated_at: i64,
    /// The cabinet's state (`status` is the ingest gate derived from it).
    pub lifecycle: Lifecycle,
    /// While `lifecycle` is `saved` after an edit: the state the owner's confirmation returns to.
    pub saved_from: Option<Lifecycle>,
    /// When the ingest gate last closed (blocked or deregistered; UTC ms): documents made
    /// before it are still accepted.
    pub gate_closed_at: Option<i64>,
    /// The point of sale (address) it works at.
    pub pos_id: Option<i64>,
    /// Hardware, or a software register (АПК, needs no SIM).
    pub device_type: Option<DeviceType>,
    /// How it reaches the OFD.
    pub connection_type: Option<ConnectionType>,
    /// The SIM's ICCID.
    pub iccid: Option<String>,
    /// The SIM's phone number.
    pub msisdn: Option<String>,
    /// Offset of its wall clock from UTC in minutes (document times are local).
    pub utc_offset_minutes: Option<i64>,
    /// When the tax authority registered it (UTC ms).
    pub registered_at: Option<i64>,
    /// The rest of what the cabinet keeps.
    pub details: RegisterDetails,
}

/// Hardware register or software register (АПК).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DeviceType {
    /// A device with its own fiscal drive and modem.
    Hardware,
    /// A software register (АПК): needs no SIM.
    Software,
}

/// How a register reaches the OFD.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionType {
    /// Mobile data through a SIM (ICCID required).
    Sim,
    /// A wired line.
    Wired,
}

macro_rules! stored_words {
    ($ty:ident { $($variant:ident = $word:literal),* $(,)? }) => {
        impl $ty {
            /// The stored form.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $word),* }
            }
        }
        impl FromStr for $ty {
            type Err = StoreError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($word => Ok($ty::$variant),)*
                    other => Err(StoreError::Corrupt(format!(
                        concat!("unknown ", stringify!($ty), " {:?}"), other
                    ))),
                }
            }
        }
    };
}
stored_words!(DeviceType { Hardware = "hardware", Software = "software" });
stored_words!(ConnectionType { Sim = "sim", Wired = "wired" });

/// A RU usage mode of a register (flags of its registration).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum UsageMode {
    /// Works without sending documents online (автономный режим).
    Autonomous,
    /// Sells excise goods.
    Excise,
    /// Gambling.
    Gambling,
    /// Lotteries.
    Lottery,
    /// Payment agent.
    Agent,
    /// Internet shop (no printer).
    Internet,
    /// Services only (БСО).
    Services,
    /// Vending machine.
    Vending,
    /// Delivery / mobile trade.
    Delivery,
}

/// What the cabinet keeps about a register beyond the columns it is searched by; stored whole
/// as one JSON object in `registers.details`.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(default, deny_unknown_fields)]
pub struct RegisterDetails {
    /// The owner's name for it ("Касса 2").
    pub name: Option<String>,
    /// Year of manufacture.
    pub year_of_manufacture: Option<i64>,
    /// RU: the current fiscal drive's model.
    pub fn_model: Option<String>,
    /// RU: the current fiscal drive's expiry date, `YYYY-MM-DD`.
    pub fn_expiry: Option<String>,
    /// RU: usage modes.
    pub usage_modes: Vec<UsageMode>,
    /// RU: the ФФД version, `1.05`, `1.1` or `1.2`.
    pub ffd_version: Option<String>,
    /// KZ: the КГД registration card number.
    pub kgd_card_number: Option<String>,
    /// KZ: the previous registration number (after a re-registration).
    pub previous_reg_number: Option<String>,
}

/// Which registers [`Store::find_registers`] returns: every given field must match.
#[derive(Clone, Debug)]
pub struct RegisterFilter {
    /// Only this protocol family.
    pub dialect: Option<Dialect>,
    /// Only this status.
    pub status: Option<RegisterStatus>,
    /// Only registers of the organisation with this taxpayer number.
    pub org_inn: Option<String>,
    /// Only rows after this id (the last id of the previous page).
    pub after_id: Option<i64>,
    /// At most this many rows.
    pub limit: i64,
    /// Only registers assigned to this cashier user (set by the tenancy layer, never by a
    /// client's query).
    pub cashier: Option<i64>,
}

/// What an operator provides to provision a register.
#[derive(Clone, Debug, Default)]
pub struct NewRegister {
    /// RU: the 16-digit fiscal drive number (required). KZ: must be `None`.
    pub fn_number: Option<String>,
    /// Manufacturer serial number.
    pub serial: Option<String>,
    /// Model name.
    pub model: Option<String>,
    /// Registration number issued by the tax authority.
    pub reg_number: Option<String>,
    /// Taxpayer number of the owner.
    pub org_inn: Option<String>,
}

pub(crate) fn register_from_row(row: &AnyRow) -> Result<Register, StoreError> {
    Ok(Register {
        id: row.try_get("id")?,
        dialect: row.try_get::<String, _>("dialect")?.parse()?,
        fn_number: row.try_get("fn_number")?,
        system_id: row.try_get("system_id")?,
        serial: row.try_get("serial")?,
        model: row.try_get("model")?,
        reg_number: row.try_get("reg_number")?,
        org_inn: row.try_get("org_inn")?,
        status: row.try_get::<String, _>("status")?.parse()?,
        kz_token: row.try_get("kz_token")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        lifecycle: row.try_get::<String, _>("lifecycle")?.parse()?,
        saved_from: parse_optional(row.try_get("resume_lifecycle")?)?,
        gate_closed_at: row.try_get("gate_closed_at")?,
        pos_id: row.try_get("pos_id")?,
        device_type: parse_optional(row.try_get("device_type")?)?,
        connection_type: parse_optional(row.try_get("connection_type")?)?,
        iccid: row.try_get("iccid")?,
        msisdn: row.try_get("msisdn")?,
        utc_offset_minutes: row.try_get("utc_offset_minutes")?,
        registered_at: row.try_get("registered_at")?,
        details: match row.try_get::<Option<String>, _>("details")? {
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("registers.details: {e}")))?,
            None => RegisterDetails::default(),
        },
    })
}

fn parse_optional<T: FromStr<Err = StoreError>>(
    text: Option<String>,
) -> Result<Option<T>, StoreError> {
    text.as_deref().map(str::parse).transpose()
}

/// The RU register with fiscal drive `fn_number`, on `conn`.
pub async fn fetch_register_by_fn(
    conn: &mut AnyConnection,
    fn_number: &str,
) -> Result<Option<Register>, StoreError> {
    let sql = format!("SELECT {REGISTER_COLUMNS} FROM registers WHERE fn_number = $1");
    let row = sqlx::query(&sql)
        .bind(fn_number)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(register_from_row).transpose()
}

/// The KZ register with `system_id`, on `conn`.
pub async fn fetch_register_by_system_id(
    conn: &mut AnyConnection,
    system_id: i64,
) -> Result<Option<Register>, StoreError> {
    let sql = format!("SELECT {REGISTER_COLUMNS} FROM registers WHERE system_id = $1");
    let row = sqlx::query(&sql)
        .bind(system_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(register_from_row).transpose()
}

/// A fresh KZ token: random, never 0, never equal to `previous` (protocol §5).
pub fn next_kz_token(previous: Option<i64>) -> i64 {
    let mut rng = rand::thread_rng();
    loop {
        let token = i64::from(rng.gen_range(1..=u32::MAX));
        if Some(token) != previous {
            return token;
        }
    }
}

/// Set the token KZ register `register_id` must send next, on `conn`. Call it inside the writer
/// transaction that stores the document which rotated the token, so that the token and the
/// document commit together (or neither does).
pub async fn update_kz_token(
    conn: &mut AnyConnection,
    register_id: i64,
    token: i64,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE registers SET kz_token = $1, updated_at = $2 WHERE id = $3 AND dialect = 'kz'",
    )
    .bind(token)
    .bind(unix_millis())
    .bind(register_id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!(
            "KZ register id {register_id}"
        )));
    }
    Ok(())
}

/// A RU fiscal drive number is 16 decimal digits.
fn valid_fn_number(fn_number: &str) -> bool {
    fn_number.len() == 16 && fn_number.bytes().all(|b| b.is_ascii_digit())
}

impl Store {
    /// The RU register with fiscal drive `fn_number`.
    pub async fn register_by_fn(&self, fn_number: &str) -> Result<Option<Register>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        fetch_register_by_fn(&mut conn, fn_number).await
    }

    /// The KZ register with `system_id`.
    pub async fn register_by_system_id(
        &self,
        system_id: i64,
    ) -> Result<Option<Register>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        fetch_register_by_system_id(&mut conn, system_id).await
    }

    /// Every register, oldest first.
    pub async fn list_registers(&self) -> Result<Vec<Register>, StoreError> {
        let sql = format!("SELECT {REGISTER_COLUMNS} FROM registers ORDER BY id");
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(register_from_row).collect()
    }

    /// The register with row id `id`.
    pub async fn register_by_id(&self, id: i64) -> Result<Option<Register>, StoreError> {
        let sql = format!("SELECT {REGISTER_COLUMNS} FROM registers WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(register_from_row).transpose()
    }

    /// One page of the registers matching `filter`, in row id order.
    pub async fn find_registers(
        &self,
        filter: &RegisterFilter,
    ) -> Result<Vec<Register>, StoreError> {
        let mut conditions = Vec::new();
        let mut texts = Vec::new();
        for (column, value) in [
            ("dialect", filter.dialect.map(Dialect::as_str)),
            ("status", filter.status.map(RegisterStatus::as_str)),
            ("org_inn", filter.org_inn.as_deref()),
        ] {
            if let Some(value) = value {
                texts.push(value);
                conditions.push(format!("{column} = ${}", texts.len()));
            }
        }
        conditions.push(format!("id > ${}", texts.len() + 1));
        if filter.cashier.is_some() {
            conditions.push(format!(
                "id IN (SELECT register_id FROM cashier_registers WHERE user_id = ${})",
                texts.len() + 3
            ));
        }
        let sql = format!(
            "SELECT {REGISTER_COLUMNS} FROM registers WHERE {} ORDER BY id LIMIT ${}",
            conditions.join(" AND "),
            texts.len() + 2
        );
        let mut query = sqlx::query(&sql);
        for text in texts {
            query = query.bind(text);
        }
        let mut query = query.bind(filter.after_id.unwrap_or(0)).bind(filter.limit);
        if let Some(cashier) = filter.cashier {
            query = query.bind(cashier);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(register_from_row).collect()
    }

    /// Provision a register. RU needs a valid, not yet known FN number. KZ gets a fresh system
    /// id (upwards from the last this process gave, [`SYSTEM_IDS`]) and a random non-zero
    /// initial token (read them from the returned row).
    pub async fn add_register(
        &self,
        dialect: Dialect,
        new: NewRegister,
    ) -> Result<Register, StoreError> {
        let mut conn = self.pool().acquire().await?;
        add_register_in(&mut conn, dialect, new).await
    }

    /// Change a register's status by row id; returns the updated row. Deregistration is final:
    /// a deregistered register cannot be blocked or activated again.
    pub async fn set_register_status(
        &self,
        id: i64,
        status: RegisterStatus,
    ) -> Result<Register, StoreError> {
        let mut conn = self.pool().acquire().await?;
        set_register_status_in(&mut conn, id, status).await
    }

    /// The operator's token reset (the recovery from INVALID_TOKEN): give KZ register
    /// `register_id` a fresh token, to be entered into the register. Returns the updated row.
    pub async fn reset_kz_token(&self, register_id: i64) -> Result<Register, StoreError> {
        let mut conn = self.pool().acquire().await?;
        reset_kz_token_in(&mut conn, register_id).await
    }
}

/// [`Store::add_register`] on `conn` (a transaction, when the caller writes more with it).
pub(crate) async fn add_register_in(
    conn: &mut AnyConnection,
    dialect: Dialect,
    new: NewRegister,
) -> Result<Register, StoreError> {
    match dialect {
        Dialect::Ru => {
            let fn_number = new
                .fn_number
                .as_deref()
                .ok_or_else(|| StoreError::Invalid("a RU register needs its FN number".into()))?;
            if !valid_fn_number(fn_number) {
                return Err(StoreError::Invalid(format!(
                    "FN number {fn_number:?} is not 16 decimal digits"
                )));
            }
            let old_drive: Option<i64> =
                sqlx::query_scalar("SELECT register_id FROM register_drives WHERE fn_number = $1")
                    .bind(fn_number)
                    .fetch_optional(&mut *conn)
                    .await?;
            if let Some(register_id) = old_drive {
                return Err(StoreError::Conflict(format!(
                    "FN {fn_number} was a drive of register {register_id}"
                )));
            }
            insert_register(conn, dialect, &new, None, None)
                .await?
                .ok_or_else(|| {
                    StoreError::Conflict(format!("FN {fn_number} is already registered"))
                })
        }
        Dialect::Kz => {
            if new.fn_number.is_some() {
                return Err(StoreError::Invalid(
                    "a KZ register has no FN number (it is identified by its system id)".into(),
                ));
            }
            for _ in 0..SYSTEM_ID_ATTEMPTS {
                let system_id = i64::try_from(SYSTEM_IDS.draw())
                    .map_err(|_| StoreError::Invalid("KZ system id out of range".into()))?;
                let token = next_kz_token(None);
                if let Some(register) =
                    insert_register(conn, dialect, &new, Some(system_id), Some(token)).await?
                {
                    return Ok(register);
                }
                SYSTEM_IDS.taken();
            }
            Err(StoreError::Invalid(
                "could not find an unused KZ system id".into(),
            ))
        }
    }
}

/// Insert one register row; `None` when a unique key (FN number, system id) is taken.
async fn insert_register(
    conn: &mut AnyConnection,
    dialect: Dialect,
    new: &NewRegister,
    system_id: Option<i64>,
    kz_token: Option<i64>,
) -> Result<Option<Register>, StoreError> {
    let now = unix_millis();
    let sql = format!(
        "INSERT INTO registers (dialect, fn_number, system_id, serial, model, reg_number, \
             org_inn, status, kz_token, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $10) \
             ON CONFLICT DO NOTHING RETURNING {REGISTER_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(dialect.as_str())
        .bind(new.fn_number.as_deref())
        .bind(system_id)
        .bind(new.serial.as_deref())
        .bind(new.model.as_deref())
        .bind(new.reg_number.as_deref())
        .bind(new.org_inn.as_deref())
        .bind(kz_token)
        .bind(now)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(register_from_row).transpose()
}

/// [`Store::set_register_status`] on `conn`: the operator's `ofd register block|activate|
/// deregister`, as a transition of the state machine by the `cli` actor. Asking for the gate
/// the register already has changes nothing.
pub(crate) async fn set_register_status_in(
    conn: &mut AnyConnection,
    id: i64,
    status: RegisterStatus,
) -> Result<Register, StoreError> {
    let current = fetch_register_by_id(conn, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("register id {id}")))?;
    if current.status == status {
        return Ok(current);
    }
    let change = match status {
        RegisterStatus::Active => Change::To(Lifecycle::Active),
        RegisterStatus::Blocked => Change::To(Lifecycle::Blocked),
        RegisterStatus::Deregistered => Change::Deregister(
            super::register_lifecycle::DeregistrationReason::Other,
            Some("ofd register deregister".to_owned()),
        ),
    };
    transition(conn, id, &change, "cli", unix_millis()).await
}

/// The register with row id `id`, on `conn`.
pub(crate) async fn fetch_register_by_id(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<Register>, StoreError> {
    let sql = format!("SELECT {REGISTER_COLUMNS} FROM registers WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(register_from_row).transpose()
}

/// THE one function that changes a register's status: apply `change` through the pure state
/// machine ([`super::register_lifecycle::next`]), store the new state and the ingest gate
/// derived from it, and record the transition with `actor`, `now` and the reason. Call it on
/// the transaction that also writes the change's audit line. Refused changes are
/// [`StoreError::Conflict`] (not allowed from here) or [`StoreError::Invalid`] (a reason is
/// missing). Blocking after an unpaid grace period calls this with `Change::To(Blocked)`.
pub async fn transition(
    conn: &mut AnyConnection,
    id: i64,
    change: &Change,
    actor: &str,
    now: i64,
) -> Result<Register, StoreError> {
    let current = fetch_register_by_id(conn, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("register id {id}")))?;
    let from = Position {
        state: current.lifecycle,
        resume: current.saved_from,
    };
    let to = next(from, change).map_err(|refusal| match refusal {
        Refusal::NotAllowed { .. } => StoreError::Conflict(format!("register {id}: {refusal}")),
        other => StoreError::Invalid(other.to_string()),
    })?;
    let gate = to.gate();
    let gate_closed_at = match (current.status, gate) {
        (_, RegisterStatus::Active) => None,
        (RegisterStatus::Active, _) => Some(now),
        _ => current.gate_closed_at,
    };
    let sql = format!(
        "UPDATE registers SET lifecycle = $1, resume_lifecycle = $2, status = $3, \
         gate_closed_at = $4, updated_at = $5 WHERE id = $6 AND lifecycle = $7 \
         RETURNING {REGISTER_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(to.state.as_str())
        .bind(to.resume.map(Lifecycle::as_str))
        .bind(gate.as_str())
        .bind(gate_closed_at)
        .bind(now)
        .bind(id)
        .bind(from.state.as_str())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| {
            StoreError::Conflict(format!("register {id} changed meanwhile; try again"))
        })?;
    if to != from {
        let (reason, text) = match change {
            Change::Deregister(reason, text) => (Some(reason.as_str()), text.as_deref()),
            _ => (None, None),
        };
        record_transition(
            conn,
            id,
            from.state.as_str(),
            to.state,
            actor,
            now,
            reason,
            text,
        )
        .await?;
    }
    register_from_row(&row)
}

/// One row of a register's status history.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_transition(
    conn: &mut AnyConnection,
    register_id: i64,
    from: &str,
    to: Lifecycle,
    actor: &str,
    at: i64,
    reason: Option<&str>,
    reason_text: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO register_transitions (register_id, from_state, to_state, actor, at, \
         reason, reason_text) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(register_id)
    .bind(from)
    .bind(to.as_str())
    .bind(actor)
    .bind(at)
    .bind(reason)
    .bind(reason_text)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What ingest needs to admit a RU document: the gate of the register a ФН belongs to (its
/// current drive or a replaced one) and the time after which documents are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admission {
    /// The register's ingest gate.
    pub status: RegisterStatus,
    /// Documents made at or after this moment (UTC ms) are refused, documents made before it
    /// accepted: the gate's closing time, or the end of a replaced drive, whichever is earlier.
    /// `None`: no limit (an active register's current drive).
    pub cutoff_ms: Option<i64>,
    /// The register's clock offset from UTC in minutes, to read document times.
    pub utc_offset_minutes: i64,
}

/// The admission of ФН `fn_number` (`None`: no register has had it), on `conn`.
pub async fn fetch_admission_by_fn(
    conn: &mut AnyConnection,
    fn_number: &str,
) -> Result<Option<Admission>, StoreError> {
    let row = sqlx::query(
        "SELECT status, gate_closed_at, utc_offset_minutes, NULL AS drive_ended_at \
         FROM registers WHERE fn_number = $1 \
         UNION ALL \
         SELECT r.status, r.gate_closed_at, r.utc_offset_minutes, d.ended_at \
         FROM register_drives d JOIN registers r ON r.id = d.register_id \
         WHERE d.fn_number = $1 AND d.ended_at IS NOT NULL",
    )
    .bind(fn_number)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let status: RegisterStatus = row.try_get::<String, _>("status")?.parse()?;
    let gate_closed_at: Option<i64> = row.try_get("gate_closed_at")?;
    let drive_ended_at: Option<i64> = row.try_get("drive_ended_at")?;
    let cutoff_ms = match (status, gate_closed_at, drive_ended_at) {
        (RegisterStatus::Active, _, ended) => ended,
        (_, closed, ended) => match (closed, ended) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => Some(a.or(b).unwrap_or(0)),
        },
    };
    Ok(Some(Admission {
        status,
        cutoff_ms,
        utc_offset_minutes: row
            .try_get::<Option<i64>, _>("utc_offset_minutes")?
            .unwrap_or(0),
    }))
}

/// [`Store::reset_kz_token`] on `conn`.
pub(crate) async fn reset_kz_token_in(
    conn: &mut AnyConnection,
    register_id: i64,
) -> Result<Register, StoreError> {
    let current = sqlx::query("SELECT kz_token FROM registers WHERE id = $1 AND dialect = 'kz'")
        .bind(register_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("KZ register id {register_id}")))?;
    let previous: Option<i64> = current.try_get("kz_token")?;
    update_kz_token(&mut *conn, register_id, next_kz_token(previous)).await?;
    let sql = format!("SELECT {REGISTER_COLUMNS} FROM registers WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(register_id)
        .fetch_one(&mut *conn)
        .await?;
    register_from_row(&row)
}
