//! Cabinet identity before and around authentication: users and their roles, server-side
//! sessions, one-time tokens (e-mail confirmation, password recovery, invitations), failed-login
//! counts, the audit log and the outgoing mail outbox.
//!
//! Everything here is keyed by something the caller proves (a secret's hash, a login name) or is
//! written on the caller's behalf; reading and changing an organisation's objects once the caller
//! is known goes through [`super::tenancy::Tenant`], the one place that scopes queries by
//! organisation.
//!
//! Secrets never reach this module in clear: sessions, tokens and keys arrive as SHA-256 hex
//! ([`super::api_keys::key_hash`]), passwords as argon2id PHC strings made by the account service.

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::organisations::{organisation_from_row, NewOrganisation, ORGANISATION_COLUMNS};
use super::{Organisation, Store, StoreError};

/// A user's role in their organisation.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including staff and API keys.
    Owner,
    /// Reads every register, document and report; exports; changes no register.
    Accountant,
    /// Register lifecycle and connection; no financial reports.
    Engineer,
    /// Their own registers' documents only.
    Cashier,
}

impl Role {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Accountant => "accountant",
            Role::Engineer => "engineer",
            Role::Cashier => "cashier",
        }
    }

    /// Parse the stored form.
    pub fn parse(text: &str) -> Result<Role, StoreError> {
        Ok(match text {
            "owner" => Role::Owner,
            "accountant" => Role::Accountant,
            "engineer" => Role::Engineer,
            "cashier" => Role::Cashier,
            other => return Err(StoreError::Corrupt(format!("role {other:?}"))),
        })
    }
}

/// Where a user account stands.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    /// Signed up; the e-mail address is not confirmed yet.
    Unconfirmed,
    /// Invited by an owner; no password set yet.
    Invited,
    /// Can log in.
    Active,
    /// Removed by an owner; cannot log in.
    Disabled,
}

impl UserStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Unconfirmed => "unconfirmed",
            UserStatus::Invited => "invited",
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
        }
    }

    fn parse(text: &str) -> Result<UserStatus, StoreError> {
        Ok(match text {
            "unconfirmed" => UserStatus::Unconfirmed,
            "invited" => UserStatus::Invited,
            "active" => UserStatus::Active,
            "disabled" => UserStatus::Disabled,
            other => return Err(StoreError::Corrupt(format!("user status {other:?}"))),
        })
    }
}

/// A person with a login, in one organisation with one role (never their password).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// The organisation.
    pub org_id: i64,
    /// Login e-mail, lowercased.
    pub email: String,
    /// Login phone, digits with the country code.
    pub phone: Option<String>,
    /// Name for people.
    pub name: String,
    /// Role in the organisation.
    pub role: Role,
    /// Account state.
    pub status: UserStatus,
    /// When consent to personal-data processing was given (unix ms), for those who signed up.
    pub consent_at: Option<i64>,
    /// Created (unix ms).
    pub created_at: i64,
    /// Last changed (unix ms).
    pub updated_at: i64,
}

/// Columns of `users` read by [`user_from_row`] (never the password hash).
pub(crate) const USER_COLUMNS: &str =
    "id, org_id, email, phone, name, role, status, consent_at, created_at, updated_at";

/// [`USER_COLUMNS`] of the table aliased `alias` in a join.
pub(crate) fn user_columns_of(alias: &str) -> String {
    USER_COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        name: row.try_get("name")?,
        role: Role::parse(&row.try_get::<String, _>("role")?)?,
        status: UserStatus::parse(&row.try_get::<String, _>("status")?)?,
        consent_at: row.try_get("consent_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A user with the stored password hash, for the login check only.
#[derive(Debug)]
pub struct LoginRecord {
    /// The user.
    pub user: User,
    /// argon2id PHC string; `None` until a password is set.
    pub password_hash: Option<String>,
}

/// What a one-time token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Confirm the e-mail address given at sign-up.
    Confirm,
    /// Set a new password after "forgot password".
    Reset,
    /// Accept an invitation and set a first password.
    Invite,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Confirm => "confirm",
            TokenPurpose::Reset => "reset",
            TokenPurpose::Invite => "invite",
        }
    }
}

/// A one-time token to store: its hash and when it stops working.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// SHA-256 hex of the token sent by mail.
    pub hash: String,
    /// Expiry (unix ms).
    pub expires_at: i64,
}

/// An e-mail to queue in the outbox.
#[derive(Debug, Clone)]
pub struct NewMail {
    /// The address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body (may carry a one-time link; blanked once sent).
    pub body: String,
}

/// A queued e-mail, as the sender reads it.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    /// Row id.
    pub id: i64,
    /// The address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Body.
    pub body: String,
    /// Attempts so far.
    pub attempts: i64,
}

/// One audit-log line to write.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// The organisation acted on, if any.
    pub org_id: Option<i64>,
    /// `user:<id>`, `key:<id>`, `operator-key:<id>` or `anonymous`.
    pub actor: String,
    /// What happened, e.g. `user.login`, `api_key.create`.
    pub action: &'static str,
    /// The object, e.g. `user:7`, `register:3`.
    pub object: Option<String>,
    /// Details for people (never a secret).
    pub detail: Option<String>,
    /// The source address of the request.
    pub source: Option<String>,
}

impl AuditEntry {
    /// A user acting on their own account (sign-up confirmation, login, password changes).
    pub fn by_user_on_self(user: &User, action: &'static str, source: Option<String>) -> Self {
        AuditEntry {
            org_id: Some(user.org_id),
            actor: format!("user:{}", user.id),
            action,
            object: Some(format!("user:{}", user.id)),
            detail: None,
            source,
        }
    }
}

/// A stored audit-log line.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// Row id (ascending in time).
    pub id: i64,
    /// The organisation acted on.
    pub org_id: Option<i64>,
    /// Who acted.
    pub actor: String,
    /// What happened.
    pub action: String,
    /// To which object.
    pub object: Option<String>,
    /// Details.
    pub detail: Option<String>,
    /// From which address.
    pub source: Option<String>,
    /// When (unix ms).
    pub at: i64,
}

pub(crate) const AUDIT_COLUMNS: &str = "id, org_id, actor, action, object, detail, source, at";

pub(crate) fn audit_from_row(row: &AnyRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        object: row.try_get("object")?,
        detail: row.try_get("detail")?,
        source: row.try_get("source")?,
        at: row.try_get("at")?,
    })
}

/// Write `entry` at `now` inside `tx`.
pub(crate) async fn audit_in(
    tx: &mut sqlx::AnyConnection,
    entry: &AuditEntry,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (org_id, actor, action, object, detail, source, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(entry.org_id)
    .bind(&entry.actor)
    .bind(entry.action)
    .bind(&entry.object)
    .bind(&entry.detail)
    .bind(&entry.source)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Queue `mail` at `now` inside `tx`.
pub(crate) async fn queue_mail_in(
    tx: &mut sqlx::AnyConnection,
    mail: &NewMail,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO mail_outbox (recipient, subject, body, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(&mail.to)
    .bind(&mail.subject)
    .bind(&mail.body)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Store a one-time token for `user_id` inside `tx`.
pub(crate) async fn token_in(
    tx: &mut sqlx::AnyConnection,
    purpose: TokenPurpose,
    user_id: i64,
    token: &NewToken,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO one_time_tokens (token_hash, purpose, user_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&token.hash)
    .bind(purpose.as_str())
    .bind(user_id)
    .bind(now)
    .bind(token.expires_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Spend the live token `hash` of `purpose` inside `tx`: the user it was issued to, or `None`
/// when it is unknown, used or expired.
async fn spend_token_in(
    tx: &mut sqlx::AnyConnection,
    purpose: TokenPurpose,
    hash: &str,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let user: Option<i64> = sqlx::query_scalar(
        "UPDATE one_time_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 \
         AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
    )
    .bind(now)
    .bind(hash)
    .bind(purpose.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    Ok(user)
}

/// What sign-up stores.
#[derive(Debug)]
pub struct NewSignup {
    /// The organisation with its requisites.
    pub organisation: NewOrganisation,
    /// The owner's e-mail (lowercased).
    pub email: String,
    /// The owner's phone (digits).
    pub phone: Option<String>,
    /// The owner's name.
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// When consent to personal-data processing was given.
    pub consent_at: i64,
    /// The confirmation token.
    pub confirm: NewToken,
    /// The confirmation mail.
    pub mail: NewMail,
    /// The mail sent instead when the e-mail already has an account ("you have an account;
    /// recover your password"): sign-up must not tell the caller that the address is known.
    pub existing_mail: NewMail,
    /// Source address of the request.
    pub source: Option<String>,
}

fn conflict_on_unique(error: sqlx::Error, what: &str) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(format!("{what} is already taken"))
        }
        _ => StoreError::Database(error),
    }
}

impl Store {
    /// Sign-up: the organisation, its owner (unconfirmed), the confirmation token, its mail and
    /// the audit line, in one transaction. When the e-mail already has an account, nothing is
    /// created: `existing_mail` goes to that address and the answer is `None`, which the API
    /// answers exactly as a sign-up. 409 when the tax id or phone is taken.
    pub async fn sign_up(
        &self,
        signup: &NewSignup,
        now: i64,
    ) -> Result<Option<(Organisation, User)>, StoreError> {
        signup.organisation.check()?;
        let mut tx = self.begin_write().await?;
        let existing = sqlx::query("SELECT id, org_id FROM users WHERE email = $1")
            .bind(&signup.email)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(existing) = existing {
            let user_id: i64 = existing.try_get("id")?;
            let org_id: i64 = existing.try_get("org_id")?;
            queue_mail_in(&mut tx, &signup.existing_mail, now).await?;
            let entry = AuditEntry {
                org_id: Some(org_id),
                actor: "anonymous".to_owned(),
                action: "signup.existing_email",
                object: Some(format!("user:{user_id}")),
                detail: None,
                source: signup.source.clone(),
            };
            audit_in(&mut tx, &entry, now).await?;
            tx.commit().await?;
            return Ok(None);
        }
        let sql = format!(
            "INSERT INTO organisations (inn, name, country, kpp, short_name, org_type, \
             legal_address, actual_address, phone, email, bank_name, bank_bik, bank_account, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             $13, $14, $14) ON CONFLICT DO NOTHING RETURNING {ORGANISATION_COLUMNS}"
        );
        let row = signup
            .organisation
            .bind_all(sqlx::query(&sql))
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| {
                StoreError::Conflict(format!(
                    "inn: organisation {} already exists",
                    signup.organisation.inn
                ))
            })?;
        let organisation = organisation_from_row(&row)?;
        let sql = format!(
            "INSERT INTO users (org_id, email, phone, name, role, status, password_hash, \
             consent_at, created_at, updated_at) VALUES ($1, $2, $3, $4, 'owner', 'unconfirmed', \
             $5, $6, $7, $7) RETURNING {USER_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(organisation.id)
            .bind(&signup.email)
            .bind(&signup.phone)
            .bind(&signup.name)
            .bind(&signup.password_hash)
            .bind(signup.consent_at)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| conflict_on_unique(e, "email or phone"))?;
        let user = user_from_row(&row)?;
        token_in(
            &mut tx,
            TokenPurpose::Confirm,
            user.id,
            &signup.confirm,
            now,
        )
        .await?;
        queue_mail_in(&mut tx, &signup.mail, now).await?;
        let entry = AuditEntry {
            org_id: Some(organisation.id),
            actor: format!("user:{}", user.id),
            action: "signup",
            object: Some(format!("organisation:{}", organisation.id)),
            detail: Some(format!("consent at {}", signup.consent_at)),
            source: signup.source.clone(),
        };
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(Some((organisation, user)))
    }

    /// Confirm a sign-up by its token: the user, now active; `None` for an unknown, used or
    /// expired token.
    pub async fn confirm_email(
        &self,
        token_hash: &str,
        source: Option<String>,
        now: i64,
    ) -> Result<Option<User>, StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(user_id) = spend_token_in(&mut tx, TokenPurpose::Confirm, token_hash, now).await?
        else {
            return Ok(None);
        };
        let sql = format!(
            "UPDATE users SET status = 'active', updated_at = $1 WHERE id = $2 \
             AND status = 'unconfirmed' RETURNING {USER_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(now)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let user = user_from_row(&row)?;
        let entry = AuditEntry::by_user_on_self(&user, "signup.confirm", source);
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(Some(user))
    }

    /// Set a new password by a recovery or invitation token; every session of the user ends. The
    /// user, or `None` for an unknown, used or expired token.
    pub async fn set_password_by_token(
        &self,
        purpose: TokenPurpose,
        token_hash: &str,
        password_hash: &str,
        source: Option<String>,
        now: i64,
    ) -> Result<Option<User>, StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(user_id) = spend_token_in(&mut tx, purpose, token_hash, now).await? else {
            return Ok(None);
        };
        let (from, action) = match purpose {
            TokenPurpose::Invite => ("'invited'", "invitation.accept"),
            _ => ("'active'", "password.reset"),
        };
        let sql = format!(
            "UPDATE users SET password_hash = $1, status = 'active', updated_at = $2 \
             WHERE id = $3 AND status = {from} RETURNING {USER_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(password_hash)
            .bind(now)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let user = user_from_row(&row)?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
        let entry = AuditEntry::by_user_on_self(&user, action, source);
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(Some(user))
    }

    /// The stored password hash of the active user `user_id`.
    pub async fn password_hash_of(&self, user_id: i64) -> Result<Option<String>, StoreError> {
        let hash: Option<Option<String>> = sqlx::query_scalar(
            "SELECT password_hash FROM users WHERE id = $1 AND status = 'active'",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(hash.flatten())
    }

    /// A logged-in user's own password change: the new hash, every other session of the user
    /// ended (the one with `keep_session` stays), and the audit line, in one transaction.
    /// [`StoreError::NotFound`] when the user is no longer active.
    pub async fn change_password(
        &self,
        user_id: i64,
        password_hash: &str,
        keep_session: &str,
        source: Option<String>,
        now: i64,
    ) -> Result<User, StoreError> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "UPDATE users SET password_hash = $1, updated_at = $2 \
             WHERE id = $3 AND status = 'active' RETURNING {USER_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(password_hash)
            .bind(now)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {user_id}")))?;
        let user = user_from_row(&row)?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user.id)
            .bind(keep_session)
            .execute(&mut *tx)
            .await?;
        let entry = AuditEntry::by_user_on_self(&user, "password.change", source);
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Queue a password-recovery token and its mail for the active user `user_id`.
    pub async fn issue_reset(
        &self,
        user: &User,
        token: &NewToken,
        mail: &NewMail,
        source: Option<String>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        token_in(&mut tx, TokenPurpose::Reset, user.id, token, now).await?;
        queue_mail_in(&mut tx, mail, now).await?;
        let entry = AuditEntry {
            org_id: Some(user.org_id),
            actor: "anonymous".to_owned(),
            action: "password.forgot",
            object: Some(format!("user:{}", user.id)),
            detail: None,
            source,
        };
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user who logs in as `login` (an e-mail, lowercased, or phone digits) with the
    /// stored password hash.
    pub async fn login_record(&self, login: &str) -> Result<Option<LoginRecord>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1 OR phone = $1"
        );
        let row = sqlx::query(&sql)
            .bind(login)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| {
            Ok(LoginRecord {
                user: user_from_row(&row)?,
                password_hash: row.try_get("password_hash")?,
            })
        })
        .transpose()
    }

    /// Failed logins of `subject` at or after `since`.
    pub async fn login_failures_since(&self, subject: &str, since: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM login_failures WHERE subject = $1 AND at >= $2",
        )
        .bind(subject)
        .bind(since)
        .fetch_one(self.pool())
        .await?)
    }

    /// Count one failed login against each of `subjects` and write the audit line. Failures
    /// before `forget_before` (outside every lock window) are dropped on the way.
    pub async fn record_login_failure(
        &self,
        subjects: &[String],
        entry: &AuditEntry,
        now: i64,
        forget_before: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(forget_before)
            .execute(&mut *tx)
            .await?;
        for subject in subjects {
            sqlx::query("INSERT INTO login_failures (subject, at) VALUES ($1, $2)")
                .bind(subject)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        audit_in(&mut tx, entry, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Start a session for `user`: store its token hash, end the session it replaces (rotation),
    /// forget the user's failed logins, and write the audit line.
    pub async fn start_session(
        &self,
        user: &User,
        token_hash: &str,
        replaces: Option<&str>,
        expires_at: i64,
        source: Option<String>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        if let Some(old) = replaces {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(old)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user.id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM login_failures WHERE subject = $1")
            .bind(format!("user:{}", user.id))
            .execute(&mut *tx)
            .await?;
        // Expired sessions of anyone are dropped here, so the table does not grow without end.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let entry = AuditEntry::by_user_on_self(user, "login", source);
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The active user of the live session `token_hash`.
    pub async fn session_user(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<User>, StoreError> {
        let columns = user_columns_of("u");
        let sql = format!(
            "SELECT {columns} FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.status = 'active'"
        );
        let row = sqlx::query(&sql)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// End the session `token_hash` (logout); whether there was one.
    pub async fn end_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Write one audit line on its own.
    pub async fn audit(&self, entry: &AuditEntry, now: i64) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await?;
        audit_in(&mut conn, entry, now).await
    }

    /// Up to `limit` mails due at `now`, oldest first.
    pub async fn due_mail(&self, now: i64, limit: i64) -> Result<Vec<QueuedMail>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, recipient, subject, body, attempts FROM mail_outbox \
             WHERE sent_at IS NULL AND next_attempt_at <= $1 ORDER BY id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(QueuedMail {
                    id: row.try_get("id")?,
                    to: row.try_get("recipient")?,
                    subject: row.try_get("subject")?,
                    body: row.try_get("body")?,
                    attempts: row.try_get("attempts")?,
                })
            })
            .collect()
    }

    /// Mark mail `id` sent and blank its body (it may hold a one-time link).
    pub async fn mail_sent(&self, id: i64, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mail_outbox SET sent_at = $1, body = '', attempts = attempts + 1 WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Record a failed sending of mail `id`; it is tried again at `retry_at`.
    pub async fn mail_failed(&self, id: i64, error: &str, retry_at: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mail_outbox SET attempts = attempts + 1, last_error = $1, \
             next_attempt_at = $2 WHERE id = $3",
        )
        .bind(error)
        .bind(retry_at)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The active user with e-mail `email` (lowercased), for password recovery.
    pub async fn active_user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let sql =
            format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1 AND status = 'active'");
        let row = sqlx::query(&sql)
            .bind(email)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }
}
