//! Tenancy: the one place where the account service's queries are scoped by organisation.
//!
//! Once a request is authenticated its [`Actor`] is known, and every read or change of an
//! organisation's objects (the organisation itself, its users, API keys, registers and audit
//! log) goes through a [`Tenant`] made from that actor. Each query here carries the scope as its
//! first two parameters, `$1` = the actor's organisation id and `$2` = 1 for operator staff (who
//! see every organisation) or 0, through the fragments [`SCOPE_ORG_ID`], [`SCOPE_ID`] and
//! [`SCOPE_INN`]. An object of another organisation is therefore never found: the API answers 404
//! exactly as for an id that does not exist.
//!
//! Every change made through a tenant writes an audit line naming the actor, in the change's own
//! transaction (a change is never stored without its line, nor a line without its change);
//! operator staff's changes are audited like anyone's. Register changes run the register rules
//! of `registers.rs` on that transaction.
//!
//! Cashiers see fewer registers than their organisation has: only those assigned to them
//! (`cashier_registers`), by the same rule, so another register answers 404 to them too.
//!
//! Documents and reports (`reports.rs`) are scoped through the registers they belong to, by
//! [`SCOPE_REGISTER_IDS`] with the same parameters plus the cashier; documents of no known
//! register are seen by operator staff only.

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::api_keys::{api_key_from_row, check_name, key_hash, new_key_secret, KEY_COLUMNS};
use super::identity::{
    audit_from_row, audit_in, queue_mail_in, token_in, user_from_row, AuditEntry, AuditRecord,
    NewMail, NewToken, Role, TokenPurpose, User, AUDIT_COLUMNS, USER_COLUMNS,
};
use super::organisations::{organisation_from_row, OrganisationPatch, ORGANISATION_COLUMNS};
use super::registers::{reset_kz_token_in, REGISTER_COLUMNS};
use super::{ApiKey, IssuedKey, Organisation, Register, RegisterFilter, Store, StoreError};
use crate::clock::unix_millis;
use crate::secret::Secret;

/// Rows whose `org_id` column is in scope.
pub(super) const SCOPE_ORG_ID: &str = "(org_id = $1 OR $2 = 1)";
/// Organisation rows in scope.
const SCOPE_ID: &str = "(id = $1 OR $2 = 1)";
/// Register rows whose owner is in scope.
pub(super) const SCOPE_INN: &str =
    "(org_inn IN (SELECT inn FROM organisations WHERE id = $1) OR $2 = 1)";

/// Registers whose documents and reports are in scope (`$1`, `$2` as above, `$3` the cashier of
/// [`Tenant::cashier_scope`] or -1): the same rule as the register reads, so a cashier sees the
/// documents of their own registers only. Used by `reports.rs`.
pub(super) const SCOPE_REGISTER_IDS: &str = "(SELECT id FROM registers WHERE \
     (org_inn IN (SELECT inn FROM organisations WHERE id = $1) OR $2 = 1) AND \
     ($3 < 0 OR id IN (SELECT register_id FROM cashier_registers WHERE user_id = $3)))";

/// Who is acting, as authentication established it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A person logged in with a session.
    User {
        /// User id.
        id: i64,
        /// Their organisation.
        org_id: i64,
        /// Their role.
        role: Role,
    },
    /// A program with an organisation's API key.
    Key {
        /// Key id.
        id: i64,
        /// The key's organisation.
        org_id: i64,
        /// The key's role.
        role: Role,
    },
    /// Operator staff with an operator key: every organisation.
    Operator {
        /// Key id.
        id: i64,
    },
}

impl Actor {
    /// How the audit log names this actor.
    pub fn label(&self) -> String {
        match self {
            Actor::User { id, .. } => format!("user:{id}"),
            Actor::Key { id, .. } => format!("key:{id}"),
            Actor::Operator { id } => format!("operator-key:{id}"),
        }
    }

    /// The organisation the actor belongs to; `None` for operator staff.
    pub fn org_id(&self) -> Option<i64> {
        match self {
            Actor::User { org_id, .. } | Actor::Key { org_id, .. } => Some(*org_id),
            Actor::Operator { .. } => None,
        }
    }

    /// The role acted with; `None` for operator staff.
    pub fn role(&self) -> Option<Role> {
        match self {
            Actor::User { role, .. } | Actor::Key { role, .. } => Some(*role),
            Actor::Operator { .. } => None,
        }
    }
}

/// The store as seen by one actor: every query scoped to what the actor may see.
#[derive(Clone, Debug)]
pub struct Tenant {
    pub(super) store: Store,
    pub(super) actor: Actor,
    source: Option<String>,
}

/// Changes to a user.
#[derive(Debug, Default, Clone)]
pub struct UserChange {
    /// New role.
    pub role: Option<Role>,
    /// New name.
    pub name: Option<String>,
}

impl Store {
    /// This store as `actor` sees it; `source` (the request's address) goes into audit lines.
    pub fn tenant(&self, actor: Actor, source: Option<String>) -> Tenant {
        Tenant {
            store: self.clone(),
            actor,
            source,
        }
    }
}

impl Tenant {
    /// Who is acting.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// `$1`, `$2`, `$3` of the document and report reads ([`SCOPE_REGISTER_IDS`]).
    pub(super) fn read_scope(&self) -> (i64, i64, i64) {
        let (org, all) = self.scope();
        (org, all, self.cashier_scope())
    }

    /// The store behind the scope (for the other store modules' scoped queries).
    pub(super) fn store(&self) -> &Store {
        &self.store
    }

    /// `$1`, `$2` of every scoped query.
    pub(super) fn scope(&self) -> (i64, i64) {
        match self.actor.org_id() {
            Some(org) => (org, 0),
            None => (-1, 1),
        }
    }

    /// An audit line of this actor about `object` of organisation `org_id`.
    pub(super) fn entry(
        &self,
        org_id: Option<i64>,
        action: &'static str,
        object: String,
    ) -> AuditEntry {
        AuditEntry {
            org_id,
            actor: self.actor.label(),
            action,
            object: Some(object),
            detail: None,
            source: self.source.clone(),
        }
    }

    /// Write an audit line on the actor's behalf (e.g. an operator's read).
    pub async fn audit(
        &self,
        org_id: Option<i64>,
        action: &'static str,
        object: String,
    ) -> Result<(), StoreError> {
        self.store
            .audit(&self.entry(org_id, action, object), unix_millis())
            .await
    }

    /// The rows of `sql`, whose `$1` and `$2` are the scope (see [`Tenant::scope`]).
    pub(super) async fn scoped_rows<T>(
        &self,
        sql: &str,
        from_row: fn(&AnyRow) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let (org, all) = self.scope();
        let rows = sqlx::query(sql)
            .bind(org)
            .bind(all)
            .fetch_all(self.store.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// The row of `sql` whose `$3` is `id`, when in scope (`$1`, `$2`).
    pub(super) async fn scoped_row_by_id<T>(
        &self,
        sql: &str,
        id: i64,
        from_row: fn(&AnyRow) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let (org, all) = self.scope();
        let row = sqlx::query(sql)
            .bind(org)
            .bind(all)
            .bind(id)
            .fetch_optional(self.store.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    // ---- organisations ----

    /// The organisation `id`, if in scope.
    pub async fn organisation(&self, id: i64) -> Result<Option<Organisation>, StoreError> {
        let sql = format!(
            "SELECT {ORGANISATION_COLUMNS} FROM organisations WHERE {SCOPE_ID} AND id = $3"
        );
        self.scoped_row_by_id(&sql, id, organisation_from_row).await
    }

    /// The organisation with taxpayer number `inn`, if in scope.
    pub async fn organisation_by_inn(&self, inn: &str) -> Result<Option<Organisation>, StoreError> {
        let (org, all) = self.scope();
        let sql = format!(
            "SELECT {ORGANISATION_COLUMNS} FROM organisations WHERE {SCOPE_ID} AND inn = $3"
        );
        let row = sqlx::query(&sql)
            .bind(org)
            .bind(all)
            .bind(inn)
            .fetch_optional(self.store.pool())
            .await?;
        row.as_ref().map(organisation_from_row).transpose()
    }

    /// Every organisation in scope, oldest first.
    pub async fn organisations(&self) -> Result<Vec<Organisation>, StoreError> {
        let sql = format!(
            "SELECT {ORGANISATION_COLUMNS} FROM organisations WHERE {SCOPE_ID} ORDER BY id"
        );
        self.scoped_rows(&sql, organisation_from_row).await
    }

    /// Change the card of the organisation `inn`; 404 when out of scope, 400 naming the field
    /// whose check fails.
    pub async fn update_organisation(
        &self,
        inn: &str,
        patch: &OrganisationPatch,
    ) -> Result<Organisation, StoreError> {
        let current = self
            .organisation_by_inn(inn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("organisation {inn}")))?;
        let merged = patch.over(&current);
        merged.check()?;
        let (org, all) = self.scope();
        let now = unix_millis();
        let mut tx = self.store.begin_write().await?;
        let sql = format!(
            "UPDATE organisations SET name = $3, kpp = $4, short_name = $5, org_type = $6, \
             legal_address = $7, actual_address = $8, phone = $9, email = $10, bank_name = $11, \
             bank_bik = $12, bank_account = $13, updated_at = $14 \
             WHERE {SCOPE_ID} AND id = $15 RETURNING {ORGANISATION_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(org)
            .bind(all)
            .bind(merged.name.trim())
            .bind(&merged.kpp)
            .bind(&merged.short_name)
            .bind(&merged.org_type)
            .bind(&merged.legal_address)
            .bind(&merged.actual_address)
            .bind(&merged.phone)
            .bind(&merged.email)
            .bind(&merged.bank_name)
            .bind(&merged.bank_bik)
            .bind(&merged.bank_account)
            .bind(now)
            .bind(current.id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("organisation {inn}")))?;
        let organisation = organisation_from_row(&row)?;
        let entry = self.entry(
            Some(organisation.id),
            "organisation.update",
            format!("organisation:{}", organisation.id),
        );
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(organisation)
    }

    // ---- users ----

    /// Every user of the organisations in scope.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {SCOPE_ORG_ID} ORDER BY id");
        self.scoped_rows(&sql, user_from_row).await
    }

    /// The user `id`, if in scope.
    pub async fn user(&self, id: i64) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {SCOPE_ORG_ID} AND id = $3");
        self.scoped_row_by_id(&sql, id, user_from_row).await
    }

    /// Invite `email` into the actor's organisation with `role`: the user (invited), the
    /// invitation token and its mail, one transaction. Operator staff invite into `org_id`.
    /// When the address already has an account (in any organisation) nothing is created:
    /// `existing_mail` goes to it, the audit line is visible to operator staff only, and the
    /// answer is `None`, which the API answers exactly like an invitation.
    #[allow(clippy::too_many_arguments)]
    pub async fn invite_user(
        &self,
        org_id: i64,
        email: &str,
        name: &str,
        role: Role,
        token: &NewToken,
        mail: &NewMail,
        existing_mail: &NewMail,
    ) -> Result<Option<User>, StoreError> {
        if self.organisation(org_id).await?.is_none() {
            return Err(StoreError::NotFound(format!("organisation {org_id}")));
        }
        let now = unix_millis();
        let mut tx = self.store.begin_write().await?;
        let sql = format!(
            "INSERT INTO users (org_id, email, name, role, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'invited', $5, $5) ON CONFLICT DO NOTHING \
             RETURNING {USER_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(org_id)
            .bind(email)
            .bind(name)
            .bind(role.as_str())
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            queue_mail_in(&mut tx, existing_mail, now).await?;
            // Not in the inviting organisation's log: its owner must not learn of the account.
            let entry = self.entry(
                None,
                "user.invite_existing",
                format!("organisation:{org_id}"),
            );
            audit_in(&mut tx, &entry, now).await?;
            tx.commit().await?;
            return Ok(None);
        };
        let user = user_from_row(&row)?;
        token_in(&mut tx, TokenPurpose::Invite, user.id, token, now).await?;
        queue_mail_in(&mut tx, mail, now).await?;
        let mut entry = self.entry(Some(org_id), "user.invite", format!("user:{}", user.id));
        entry.detail = Some(format!("role {}", role.as_str()));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(Some(user))
    }

    /// Change the role or name of user `id`; 404 when out of scope. A change that would leave
    /// the organisation without an active owner is refused.
    pub async fn update_user(&self, id: i64, change: &UserChange) -> Result<User, StoreError> {
        let (org, all) = self.scope();
        let now = unix_millis();
        let mut tx = self.store.begin_write().await?;
        let sql = format!(
            "UPDATE users SET role = COALESCE($3, role), name = COALESCE($4, name), \
             updated_at = $5 WHERE {SCOPE_ORG_ID} AND id = $6 RETURNING {USER_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(org)
            .bind(all)
            .bind(change.role.map(Role::as_str))
            .bind(change.name.as_deref())
            .bind(now)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {id}")))?;
        let user = user_from_row(&row)?;
        owner_remains(&mut tx, user.org_id).await?;
        let mut entry = self.entry(Some(user.org_id), "user.update", format!("user:{id}"));
        entry.detail = change.role.map(|r| format!("role {}", r.as_str()));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// The cabinet language the acting user chose (`ru`, `kk`, `en`), if any; `None` for keys
    /// and operator staff.
    pub async fn own_lang(&self) -> Result<Option<String>, StoreError> {
        let Actor::User { id, .. } = &self.actor else {
            return Ok(None);
        };
        let lang: Option<Option<String>> =
            sqlx::query_scalar("SELECT lang FROM users WHERE id = $1")
                .bind(*id)
                .fetch_optional(self.store.pool())
                .await?;
        Ok(lang.flatten())
    }

    /// Remember the acting user's cabinet language (`ru`, `kk` or `en`; anything else is 400).
    /// Keys and operator staff have nothing to remember it on: a no-op for them.
    pub async fn set_own_lang(&self, lang: &str) -> Result<(), StoreError> {
        if !["ru", "kk", "en"].contains(&lang) {
            return Err(StoreError::Invalid(format!(
                "lang: {lang:?} is not ru, kk or en"
            )));
        }
        let Actor::User { id, org_id, .. } = &self.actor else {
            return Ok(());
        };
        let now = unix_millis();
        let mut tx = self.store.begin_write().await?;
        sqlx::query("UPDATE users SET lang = $1 WHERE id = $2 AND (lang IS NULL OR lang <> $1)")
            .bind(lang)
            .bind(*id)
            .execute(&mut *tx)
            .await?;
        let mut entry = self.entry(Some(*org_id), "user.lang", format!("user:{id}"));
        entry.detail = Some(lang.to_owned());
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Disable user `id` and end their sessions; 404 when out of scope.
    pub async fn disable_user(&self, id: i64) -> Result<User, StoreError> {
        let (org, all) = self.scope();
        let now = unix_millis();
        let mut tx = self.store.begin_write().await?;
        let sql = format!(
            "UPDATE users SET status = 'disabled', updated_at = $3 \
             WHERE {SCOPE_ORG_ID} AND id = $4 RETURNING {USER_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(org)
            .bind(all)
            .bind(now)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {id}")))?;
        let user = user_from_row(&row)?;
        owner_remains(&mut tx, user.org_id).await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let entry = self.entry(Some(user.org_id), "user.disable", format!("user:{id}"));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(user)
    }

    // ---- API keys ----

    /// The API keys of the organisations in scope (operator staff also see operator keys).
    pub async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE {SCOPE_ORG_ID} ORDER BY id");
        self.scoped_rows(&sql, api_key_from_row).await
    }

    /// Issue an API key of organisation `org_id` acting as `role`; the secret is in the answer
    /// only. 409 while another live key of the organisation has the name.
    pub async fn create_api_key(
        &self,
        org_id: i64,
        name: &str,
        role: Role,
    ) -> Result<IssuedKey, StoreError> {
        check_name(name)?;
        if self.organisation(org_id).await?.is_none() {
            return Err(StoreError::NotFound(format!("organisation {org_id}")));
        }
        let secret = new_key_secret();
        let now = unix_millis();
        let mut tx = self.store.begin_write().await?;
        let sql = format!(
            "INSERT INTO api_keys (name, key_hash, created_at, kind, org_id, role) \
             VALUES ($1, $2, $3, 'organisation', $4, $5) ON CONFLICT DO NOTHING \
             RETURNING {KEY_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(name)
            .bind(key_hash(&secret))
            .bind(now)
            .bind(org_id)
            .bind(role.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| {
                StoreError::Conflict(format!("name: a live key is already named {name:?}"))
            })?;
        let key = api_key_from_row(&row)?;
        let mut entry = self.entry(
            Some(org_id),
            "api_key.create",
            format!("api_key:{}", key.id),
        );
        entry.detail = Some(format!("role {}", role.as_str()));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(IssuedKey {
            key,
            secret: Secret::from(secret),
        })
    }

    /// Revoke API key `id`; 404 when out of scope or already revoked.
    pub async fn revoke_api_key(&self, id: i64) -> Result<ApiKey, StoreError> {
        let (org, all) = self.scope();
        let now = unix_millis();
        let mut tx = self.store.begin_write().await?;
        let sql = format!(
            "UPDATE api_keys SET revoked_at = $3 WHERE {SCOPE_ORG_ID} AND id = $4 \
             AND revoked_at IS NULL RETURNING {KEY_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(org)
            .bind(all)
            .bind(now)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("live API key {id}")))?;
        let key = api_key_from_row(&row)?;
        let entry = self.entry(key.org_id, "api_key.revoke", format!("api_key:{id}"));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(key)
    }

    // ---- registers ----

    /// `$4` of the register reads: the cashier whose assigned registers alone are in scope, or
    /// -1 when the actor is no cashier. A cashier's API key belongs to no person and so has no
    /// assigned registers: 0, which no user id is.
    pub(super) fn cashier_scope(&self) -> i64 {
        match &self.actor {
            Actor::User {
                id,
                role: Role::Cashier,
                ..
            } => *id,
            Actor::Key {
                role: Role::Cashier,
                ..
            } => 0,
            _ => -1,
        }
    }

    /// The register `id`, if its owner is in scope (and, for a cashier, if it is assigned to
    /// them).
    pub async fn register(&self, id: i64) -> Result<Option<Register>, StoreError> {
        let (org, all) = self.scope();
        let sql = format!(
            "SELECT {REGISTER_COLUMNS} FROM registers WHERE {SCOPE_INN} AND id = $3 \
             AND ($4 < 0 OR id IN (SELECT register_id FROM cashier_registers WHERE user_id = $4))"
        );
        let row = sqlx::query(&sql)
            .bind(org)
            .bind(all)
            .bind(id)
            .bind(self.cashier_scope())
            .fetch_optional(self.store.pool())
            .await?;
        row.as_ref()
            .map(super::registers::register_from_row)
            .transpose()
    }

    /// One page of the registers in scope matching `filter`.
    pub async fn registers(&self, filter: &RegisterFilter) -> Result<Vec<Register>, StoreError> {
        let mut filter = filter.clone();
        filter.cashier = Some(self.cashier_scope()).filter(|c| *c >= 0);
        let filter = &filter;
        let Some(org_id) = self.actor.org_id() else {
            return self.store.find_registers(filter).await;
        };
        let Some(own) = self.organisation(org_id).await? else {
            return Ok(Vec::new());
        };
        if filter.org_inn.as_ref().is_some_and(|inn| *inn != own.inn) {
            return Ok(Vec::new());
        }
        let mut scoped = filter.clone();
        scoped.org_inn = Some(own.inn);
        self.store.find_registers(&scoped).await
    }

    /// Issue a new KZ token for register `id`; 404 when out of scope.
    pub async fn reset_kz_token(&self, id: i64) -> Result<Register, StoreError> {
        let owner = self.register_owner(id).await?;
        let mut tx = self.store.begin_write().await?;
        let register = reset_kz_token_in(&mut tx, id).await?;
        let entry = self.entry(owner, "register.token_reset", format!("register:{id}"));
        audit_in(&mut tx, &entry, unix_millis()).await?;
        tx.commit().await?;
        Ok(register)
    }

    /// The owning organisation's id of register `id` in scope, or 404.
    pub(super) async fn register_owner(&self, id: i64) -> Result<Option<i64>, StoreError> {
        let register = self
            .register(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("register {id}")))?;
        let (org, all) = self.scope();
        let sql = format!("SELECT id FROM organisations WHERE {SCOPE_ID} AND inn = $3");
        let owner: Option<i64> = sqlx::query_scalar(&sql)
            .bind(org)
            .bind(all)
            .bind(register.org_inn.unwrap_or_default())
            .fetch_optional(self.store.pool())
            .await?;
        Ok(owner)
    }

    // ---- cashiers ----

    /// The cashier user `id` in scope, or 404; a user of another role is refused (400 naming
    /// `id`).
    async fn cashier(&self, id: i64) -> Result<User, StoreError> {
        let user = self
            .user(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {id}")))?;
        if user.role != Role::Cashier {
            return Err(StoreError::Invalid(format!(
                "id: user {id} is a {}, not a cashier",
                user.role.as_str()
            )));
        }
        Ok(user)
    }

    /// The registers assigned to cashier `user_id`, by id; 404 when the user is out of scope.
    pub async fn cashier_registers(&self, user_id: i64) -> Result<Vec<i64>, StoreError> {
        let user = self.cashier(user_id).await?;
        let ids = sqlx::query_scalar(
            "SELECT register_id FROM cashier_registers WHERE user_id = $1 ORDER BY register_id",
        )
        .bind(user.id)
        .fetch_all(self.store.pool())
        .await?;
        Ok(ids)
    }

    /// Make `register_ids` exactly the registers of cashier `user_id`; 404 when the user is out
    /// of scope, 400 naming `register_ids` when one of them is not a register of the cashier's
    /// organisation. The change and its audit line are one transaction.
    pub async fn assign_cashier_registers(
        &self,
        user_id: i64,
        register_ids: &[i64],
    ) -> Result<Vec<i64>, StoreError> {
        let user = self.cashier(user_id).await?;
        let mut ids = register_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let now = unix_millis();
        let mut tx = self.store.begin_write().await?;
        sqlx::query("DELETE FROM cashier_registers WHERE user_id = $1")
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
        for id in &ids {
            // Only a register of the cashier's own organisation, whoever assigns it.
            let inserted = sqlx::query(
                "INSERT INTO cashier_registers (user_id, register_id) \
                 SELECT $1, id FROM registers WHERE id = $2 \
                 AND org_inn IN (SELECT inn FROM organisations WHERE id = $3)",
            )
            .bind(user.id)
            .bind(*id)
            .bind(user.org_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                return Err(StoreError::Invalid(format!(
                    "register_ids: no register {id} in the cashier's organisation"
                )));
            }
        }
        let mut entry = self.entry(
            Some(user.org_id),
            "user.registers",
            format!("user:{}", user.id),
        );
        let listed: Vec<String> = ids.iter().map(i64::to_string).collect();
        entry.detail = Some(format!("registers [{}]", listed.join(",")));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// Set the KZ cashier code and PIN of cashier `user_id`; `pin_phc` is the PIN's argon2id
    /// PHC string (the PIN itself never reaches the store). 404 when out of scope, 409 when
    /// another cashier of the organisation has the code.
    pub async fn set_kz_cashier(
        &self,
        user_id: i64,
        code: &str,
        pin_phc: &str,
    ) -> Result<(), StoreError> {
        let user = self.cashier(user_id).await?;
        let now = unix_millis();
        let mut tx = self.store.begin_write().await?;
        let taken: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM users WHERE org_id = $1 AND kz_cashier_code = $2 AND id <> $3",
        )
        .bind(user.org_id)
        .bind(code)
        .bind(user.id)
        .fetch_optional(&mut *tx)
        .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(
                "code: another cashier of the organisation has this code".to_owned(),
            ));
        }
        sqlx::query(
            "UPDATE users SET kz_cashier_code = $1, kz_pin_hash = $2, updated_at = $3 \
             WHERE id = $4",
        )
        .bind(code)
        .bind(pin_phc)
        .bind(now)
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
        let entry = self.entry(
            Some(user.org_id),
            "user.kz_cashier",
            format!("user:{}", user.id),
        );
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- audit ----

    /// Audit lines in scope after `after_id`, up to `limit`, oldest first. Operator staff see
    /// every line, including those of no organisation.
    pub async fn audit_page(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let (org, all) = self.scope();
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE {SCOPE_ORG_ID} AND id > $3 \
             ORDER BY id LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(org)
            .bind(all)
            .bind(after_id)
            .bind(limit)
            .fetch_all(self.store.pool())
            .await?;
        rows.iter().map(audit_from_row).collect()
    }
}

/// Refuse (roll back) a change that leaves organisation `org_id` without an active owner.
async fn owner_remains(tx: &mut sqlx::AnyConnection, org_id: i64) -> Result<(), StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM users WHERE org_id = $1 AND role = 'owner' AND status = 'active'",
    )
    .bind(org_id)
    .fetch_one(&mut *tx)
    .await?;
    let owners: i64 = row.try_get("n")?;
    if owners == 0 {
        return Err(StoreError::Conflict(
            "role: the organisation must keep at least one active owner".to_owned(),
        ));
    }
    Ok(())
}
