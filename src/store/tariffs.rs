//! Tariffs: the plans operator staff offer, the plan active on each register, and how long it is
//! paid for.
//!
//! A plan has a price in minor units per period of `period_days` days and a free trial. The
//! first activation of a plan on a register starts the trial: `paid_until` = now + the plan's
//! `trial_days`. Changing the plan later keeps `paid_until`; only a paid invoice moves it
//! forward (`invoices.rs`). A register is "paid" while `paid_until` lies in the future.
//!
//! The tariff check of the account service ([`crate::account`]'s `tariff_check`) blocks a
//! register whose `paid_until` plus the operator's grace period has passed: it reads the
//! candidates with [`Store::tariffs_unpaid_since`] and blocks each with
//! [`Store::block_for_nonpayment`], which re-checks in its own transaction that nothing was paid
//! in between (the row's `paid_until` must be the one the decision saw) and marks the row
//! `blocked_for_nonpayment`, so that a later payment re-activates exactly those registers.
//!
//! Status changes go through `registers::transition`, the one function that sets a
//! register's status, by the actor `system:tariff-check`.

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::identity::{audit_in, AuditEntry};
use super::register_lifecycle::{Change, Lifecycle};
use super::registers::transition;
use super::tenancy::SCOPE_ORG_ID;
use super::{Store, StoreError, Tenant};
use crate::clock::unix_millis;

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// Longest plan period or trial, in days (ten years).
const MAX_DAYS: i64 = 3_660;

/// Columns of `tariff_plans` read by [`plan_from_row`].
const PLAN_COLUMNS: &str = "id, name, price_minor, currency, period_days, includes, trial_days, \
     archived, created_at, updated_at";

/// Columns of `register_tariffs` read by [`tariff_from_row`].
const TARIFF_COLUMNS: &str =
    "register_id, plan_id, org_id, activated_at, paid_until, blocked_for_nonpayment, updated_at";

/// A tariff plan.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TariffPlan {
    /// Row id.
    pub id: i64,
    /// Name shown to customers (unique).
    pub name: String,
    /// Price of one period in minor units (kopecks, tiyn).
    pub price_minor: i64,
    /// ISO 4217 currency code, e.g. `KZT`, `RUB`.
    pub currency: String,
    /// Length of one paid period in days.
    pub period_days: i64,
    /// What the plan includes, for people.
    pub includes: String,
    /// Free days a register gets when the plan is first activated on it.
    pub trial_days: i64,
    /// An archived plan can no longer be activated (registers on it keep it).
    pub archived: bool,
    /// Created (unix ms).
    pub created_at: i64,
    /// Last changed (unix ms).
    pub updated_at: i64,
}

/// A new plan.
#[derive(Clone, Debug)]
pub struct NewPlan {
    /// Name.
    pub name: String,
    /// Price of one period in minor units.
    pub price_minor: i64,
    /// Currency code.
    pub currency: String,
    /// Period in days.
    pub period_days: i64,
    /// What is included.
    pub includes: String,
    /// Free trial in days.
    pub trial_days: i64,
}

/// Changes to a plan; `None` keeps a field.
#[derive(Clone, Debug, Default)]
pub struct PlanPatch {
    /// Name.
    pub name: Option<String>,
    /// Price of one period in minor units.
    pub price_minor: Option<i64>,
    /// Period in days.
    pub period_days: Option<i64>,
    /// What is included.
    pub includes: Option<String>,
    /// Free trial in days.
    pub trial_days: Option<i64>,
    /// Archive or restore.
    pub archived: Option<bool>,
}

impl NewPlan {
    /// Refuse a plan no one could pay for, naming the field.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            return Err(StoreError::Invalid("name: 1 to 200 characters".to_owned()));
        }
        if self.price_minor < 0 {
            return Err(StoreError::Invalid(
                "price_minor: must not be negative".to_owned(),
            ));
        }
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(StoreError::Invalid(format!(
                "currency: {:?} is not a three-letter ISO 4217 code",
                self.currency
            )));
        }
        if !(1..=MAX_DAYS).contains(&self.period_days) {
            return Err(StoreError::Invalid(format!("period_days: 1 to {MAX_DAYS}")));
        }
        if !(0..=MAX_DAYS).contains(&self.trial_days) {
            return Err(StoreError::Invalid(format!("trial_days: 0 to {MAX_DAYS}")));
        }
        Ok(())
    }
}

/// The plan on a register and how long it is paid for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RegisterTariff {
    /// The register.
    pub register_id: i64,
    /// The plan.
    pub plan_id: i64,
    /// The register's organisation.
    pub org_id: i64,
    /// When the plan was first activated (unix ms).
    pub activated_at: i64,
    /// Paid (or in trial) until (unix ms).
    pub paid_until: i64,
    /// Set while the register is blocked because its tariff ran out.
    pub blocked_for_nonpayment: bool,
    /// Last changed (unix ms).
    pub updated_at: i64,
}

fn plan_from_row(row: &AnyRow) -> Result<TariffPlan, StoreError> {
    Ok(TariffPlan {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        price_minor: row.try_get("price_minor")?,
        currency: row.try_get("currency")?,
        period_days: row.try_get("period_days")?,
        includes: row.try_get("includes")?,
        trial_days: row.try_get("trial_days")?,
        archived: row.try_get::<i64, _>("archived")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(crate) fn tariff_from_row(row: &AnyRow) -> Result<RegisterTariff, StoreError> {
    Ok(RegisterTariff {
        register_id: row.try_get("register_id")?,
        plan_id: row.try_get("plan_id")?,
        org_id: row.try_get("org_id")?,
        activated_at: row.try_get("activated_at")?,
        paid_until: row.try_get("paid_until")?,
        blocked_for_nonpayment: row.try_get::<i64, _>("blocked_for_nonpayment")? != 0,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The plan `id` on `conn`.
pub(crate) async fn plan_in(
    conn: &mut sqlx::AnyConnection,
    id: i64,
) -> Result<Option<TariffPlan>, StoreError> {
    let sql = format!("SELECT {PLAN_COLUMNS} FROM tariff_plans WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(plan_from_row).transpose()
}

/// The tariff row of register `register_id` on `conn`.
pub(crate) async fn register_tariff_in(
    conn: &mut sqlx::AnyConnection,
    register_id: i64,
) -> Result<Option<RegisterTariff>, StoreError> {
    let sql = format!("SELECT {TARIFF_COLUMNS} FROM register_tariffs WHERE register_id = $1");
    let row = sqlx::query(&sql)
        .bind(register_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(tariff_from_row).transpose()
}

/// The audit line of the tariff check (no person acts).
fn system_entry(org_id: i64, action: &'static str, object: String, detail: String) -> AuditEntry {
    AuditEntry {
        org_id: Some(org_id),
        actor: "system:tariff-check".to_owned(),
        action,
        object: Some(object),
        detail: Some(detail),
        source: None,
    }
}

impl Store {
    /// Every plan, by id; archived ones only when `with_archived`.
    pub async fn tariff_plans(&self, with_archived: bool) -> Result<Vec<TariffPlan>, StoreError> {
        let sql = format!(
            "SELECT {PLAN_COLUMNS} FROM tariff_plans WHERE archived = 0 OR $1 = 1 ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(i64::from(with_archived))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(plan_from_row).collect()
    }

    /// The plan `id`.
    pub async fn tariff_plan(&self, id: i64) -> Result<Option<TariffPlan>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        plan_in(&mut conn, id).await
    }

    /// Registers still active whose tariff was paid only until `cutoff` (now minus the grace
    /// period) or earlier: the tariff check's candidates, oldest debt first, at most `limit`.
    pub async fn tariffs_unpaid_since(
        &self,
        cutoff: i64,
        limit: i64,
    ) -> Result<Vec<RegisterTariff>, StoreError> {
        let sql = format!(
            "SELECT {TARIFF_COLUMNS} FROM register_tariffs WHERE paid_until <= $1 \
             AND register_id IN (SELECT id FROM registers WHERE status = 'active') \
             ORDER BY paid_until, register_id LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(cutoff)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(tariff_from_row).collect()
    }

    /// Tariffs of active registers that end at or after `now` and before `now + within_ms`,
    /// soonest first: what an alert before blocking warns about.
    pub async fn tariffs_ending_within(
        &self,
        now: i64,
        within_ms: i64,
    ) -> Result<Vec<RegisterTariff>, StoreError> {
        let sql = format!(
            "SELECT {TARIFF_COLUMNS} FROM register_tariffs WHERE paid_until >= $1 \
             AND paid_until < $2 \
             AND register_id IN (SELECT id FROM registers WHERE status = 'active') \
             ORDER BY paid_until, register_id"
        );
        let rows = sqlx::query(&sql)
            .bind(now)
            .bind(now.saturating_add(within_ms))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(tariff_from_row).collect()
    }

    /// Block register `register_id` because its tariff ran out, if its `paid_until` is still
    /// `seen_paid_until` and it is still active (a payment or a status change in between wins:
    /// `false`, nothing written). The block, the mark and the audit line are one transaction.
    pub async fn block_for_nonpayment(
        &self,
        register_id: i64,
        seen_paid_until: i64,
        detail: String,
    ) -> Result<bool, StoreError> {
        let now = unix_millis();
        let mut tx = self.begin_write().await?;
        let marked = sqlx::query(
            "UPDATE register_tariffs SET blocked_for_nonpayment = 1, updated_at = $1 \
             WHERE register_id = $2 AND paid_until = $3 \
             AND register_id IN (SELECT id FROM registers WHERE status = 'active') \
             RETURNING org_id",
        )
        .bind(now)
        .bind(register_id)
        .bind(seen_paid_until)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = marked else {
            return Ok(false);
        };
        let org_id: i64 = row.try_get("org_id")?;
        // Through the register state machine, as every status change is.
        transition(
            &mut tx,
            register_id,
            &Change::To(Lifecycle::Blocked),
            "system:tariff-check",
            now,
        )
        .await?;
        let entry = system_entry(
            org_id,
            "register.blocked_unpaid",
            format!("register:{register_id}"),
            detail,
        );
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(true)
    }
}

impl Tenant {
    /// The plans (not an organisation's data: every caller sees the same).
    pub async fn tariff_plans(&self, with_archived: bool) -> Result<Vec<TariffPlan>, StoreError> {
        self.store().tariff_plans(with_archived).await
    }

    /// Add a plan (operator staff: the caller checks the role).
    pub async fn create_plan(&self, new: &NewPlan) -> Result<TariffPlan, StoreError> {
        new.check()?;
        let now = unix_millis();
        let mut tx = self.store().begin_write().await?;
        let sql = format!(
            "INSERT INTO tariff_plans (name, price_minor, currency, period_days, includes, \
             trial_days, archived, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7) ON CONFLICT DO NOTHING \
             RETURNING {PLAN_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(new.name.trim())
            .bind(new.price_minor)
            .bind(&new.currency)
            .bind(new.period_days)
            .bind(&new.includes)
            .bind(new.trial_days)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| {
                StoreError::Conflict(format!("name: a plan is already named {:?}", new.name))
            })?;
        let plan = plan_from_row(&row)?;
        let mut entry = self.entry(
            None,
            "tariff_plan.create",
            format!("tariff_plan:{}", plan.id),
        );
        entry.detail = Some(format!(
            "{} {} per {} days",
            plan.price_minor, plan.currency, plan.period_days
        ));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(plan)
    }

    /// Change plan `id` (operator staff); 404 when there is none.
    pub async fn update_plan(&self, id: i64, patch: &PlanPatch) -> Result<TariffPlan, StoreError> {
        let now = unix_millis();
        let mut tx = self.store().begin_write().await?;
        let current = plan_in(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("tariff plan {id}")))?;
        let merged = NewPlan {
            name: patch.name.clone().unwrap_or(current.name),
            price_minor: patch.price_minor.unwrap_or(current.price_minor),
            currency: current.currency,
            period_days: patch.period_days.unwrap_or(current.period_days),
            includes: patch.includes.clone().unwrap_or(current.includes),
            trial_days: patch.trial_days.unwrap_or(current.trial_days),
        };
        merged.check()?;
        let archived = patch.archived.unwrap_or(current.archived);
        let taken: Option<i64> =
            sqlx::query_scalar("SELECT id FROM tariff_plans WHERE name = $1 AND id <> $2")
                .bind(merged.name.trim())
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "name: a plan is already named {:?}",
                merged.name
            )));
        }
        let sql = format!(
            "UPDATE tariff_plans SET name = $1, price_minor = $2, period_days = $3, \
             includes = $4, trial_days = $5, archived = $6, updated_at = $7 WHERE id = $8 \
             RETURNING {PLAN_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(merged.name.trim())
            .bind(merged.price_minor)
            .bind(merged.period_days)
            .bind(&merged.includes)
            .bind(merged.trial_days)
            .bind(i64::from(archived))
            .bind(now)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let plan = plan_from_row(&row)?;
        let entry = self.entry(None, "tariff_plan.update", format!("tariff_plan:{id}"));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(plan)
    }

    /// The owning organisation's id of register `register_id` in scope, or 404.
    pub(super) async fn register_org(&self, register_id: i64) -> Result<i64, StoreError> {
        let register = self
            .register(register_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("register {register_id}")))?;
        let inn = register.org_inn.unwrap_or_default();
        let org: Option<i64> = sqlx::query_scalar("SELECT id FROM organisations WHERE inn = $1")
            .bind(&inn)
            .fetch_optional(self.store().pool())
            .await?;
        // A register provisioned before its organisation was entered has no tariff owner.
        org.ok_or_else(|| {
            StoreError::Invalid(format!(
                "register {register_id} belongs to no organisation entered in the cabinet"
            ))
        })
    }

    /// Activate plan `plan_id` on register `register_id` (in scope, else 404). The first
    /// activation starts the plan's free trial; a change of plan keeps the paid-until date.
    /// An archived or unknown plan is refused naming `plan_id`.
    pub async fn activate_tariff(
        &self,
        register_id: i64,
        plan_id: i64,
    ) -> Result<RegisterTariff, StoreError> {
        let org_id = self.register_org(register_id).await?;
        let now = unix_millis();
        let mut tx = self.store().begin_write().await?;
        let plan = plan_in(&mut tx, plan_id)
            .await?
            .filter(|plan| !plan.archived)
            .ok_or_else(|| {
                StoreError::Invalid(format!("plan_id: no tariff plan {plan_id} on offer"))
            })?;
        let existing = register_tariff_in(&mut tx, register_id).await?;
        let sql = format!(
            "INSERT INTO register_tariffs (register_id, plan_id, org_id, activated_at, \
             paid_until, blocked_for_nonpayment, updated_at) VALUES ($1, $2, $3, $4, $5, 0, $4) \
             ON CONFLICT (register_id) DO UPDATE SET plan_id = $2, updated_at = $4 \
             RETURNING {TARIFF_COLUMNS}"
        );
        let trial_end = now.saturating_add(plan.trial_days.saturating_mul(DAY_MS));
        let row = sqlx::query(&sql)
            .bind(register_id)
            .bind(plan.id)
            .bind(org_id)
            .bind(now)
            .bind(trial_end)
            .fetch_one(&mut *tx)
            .await?;
        let tariff = tariff_from_row(&row)?;
        let mut entry = self.entry(
            Some(org_id),
            "register.tariff",
            format!("register:{register_id}"),
        );
        entry.detail = Some(match existing {
            None => format!(
                "plan {} activated, trial of {} days",
                plan.id, plan.trial_days
            ),
            Some(old) => format!("plan {} → {}", old.plan_id, plan.id),
        });
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(tariff)
    }

    /// The tariff of register `register_id` (404 when the register is out of scope; `None`
    /// when no plan was activated on it).
    pub async fn register_tariff(
        &self,
        register_id: i64,
    ) -> Result<Option<RegisterTariff>, StoreError> {
        if self.register(register_id).await?.is_none() {
            return Err(StoreError::NotFound(format!("register {register_id}")));
        }
        let mut conn = self.store().pool().acquire().await?;
        register_tariff_in(&mut conn, register_id).await
    }

    /// The tariffs in scope, by register; with `ending` = (now, within_ms) only those of active
    /// registers ending in that window.
    pub async fn tariffs(
        &self,
        ending: Option<(i64, i64)>,
    ) -> Result<Vec<RegisterTariff>, StoreError> {
        let (org, all) = self.scope();
        let (from, to) = match ending {
            Some((now, within)) => (now, now.saturating_add(within)),
            None => (i64::MIN, i64::MAX),
        };
        let sql = format!(
            "SELECT {TARIFF_COLUMNS} FROM register_tariffs WHERE {SCOPE_ORG_ID} \
             AND paid_until >= $3 AND paid_until < $4 \
             AND ($5 = 0 OR register_id IN (SELECT id FROM registers WHERE status = 'active')) \
             ORDER BY paid_until, register_id"
        );
        let rows = sqlx::query(&sql)
            .bind(org)
            .bind(all)
            .bind(from)
            .bind(to)
            .bind(i64::from(ending.is_some()))
            .fetch_all(self.store().pool())
            .await?;
        rows.iter().map(tariff_from_row).collect()
    }
}
