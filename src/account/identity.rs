//! The cabinet's public identity routes and `GET /me`: sign-up and its e-mail confirmation,
//! login and logout (server-side sessions in an HttpOnly, SameSite=Strict cookie, `Secure` when
//! the cabinet is on https), password recovery and accepting an invitation. Login by electronic
//! signature is `esign_login.rs`; it starts sessions through the same [`LoginAttempt`].
//!
//! Login attempts are limited per account and per source address: after too many failures
//! within the lock window the answer is the same 401 as for a wrong password, until the window
//! has passed since the last failure; [`LoginAttempt`] holds these rules for every way of
//! logging in. Nothing here logs a password, token, session id or key.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::auth::{cookie, Caller, Source, SESSION_COOKIE};
use super::error::ApiError;
use super::password::{check_new_password, hash_password, new_token, token_hash, verify_password};
use super::AppState;
use crate::clock::unix_millis;
use crate::store::{
    Actor, AuditEntry, NewMail, NewOrganisation, NewSignup, NewToken, Organisation, Role,
    TokenPurpose, User, UserStatus,
};

/// How long a sign-up confirmation link works.
pub const CONFIRM_TTL_MS: i64 = 48 * 3600 * 1000;
/// How long a password-recovery link works.
pub const RESET_TTL_MS: i64 = 3600 * 1000;
/// How long an invitation link works.
pub const INVITE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// Body of `POST /api/v1/signup`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// The organisation and its requisites.
    pub organisation: NewOrganisation,
    /// The owner's e-mail: the login and where the confirmation link goes.
    pub email: String,
    /// The owner's phone (also a login), digits with the country code.
    #[serde(default)]
    pub phone: Option<String>,
    /// The owner's name.
    #[serde(default)]
    pub name: Option<String>,
    /// At least 10 characters, not a common password.
    pub password: String,
    /// The same password again.
    pub password_repeat: String,
    /// Consent to the processing of personal data; must be `true`.
    pub consent: bool,
}

/// Answer of sign-up and of an invitation: the mail has been queued. It is the same whether or
/// not the address already had an account (that address then gets a mail saying so), so the
/// answer tells nobody which addresses are known.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MailSent {
    /// `confirmation_sent` (sign-up) or `invitation_sent`.
    pub status: &'static str,
}

/// The mail to an address that already has an account, sent instead of a confirmation or an
/// invitation.
pub(crate) fn existing_account_mail(state: &AppState, to: &str) -> NewMail {
    NewMail {
        to: to.to_owned(),
        subject: "You already have an OFD cabinet account".to_owned(),
        body: format!(
            "Someone, perhaps you, tried to sign up or invite this address to the OFD cabinet, \
             but it already has an account.\n\nIf you forgot your password, recover it \
             here:\n\n{}/password/forgot\n\nOtherwise ignore this message.\n",
            state.config.public_url
        ),
    }
}

/// A one-time token from a mailed link.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// The `token` of the link.
    pub token: String,
}

/// Body of `POST /api/v1/login`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// E-mail or phone.
    pub login: String,
    /// Password.
    pub password: String,
}

/// Body of `POST /api/v1/password/forgot`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotRequest {
    /// The account's e-mail.
    pub email: String,
}

/// Body of `POST /api/v1/password/reset` and `POST /api/v1/invitations/accept`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPasswordRequest {
    /// The `token` of the mailed link.
    pub token: String,
    /// The new password.
    pub password: String,
    /// The same password again.
    pub password_repeat: String,
}

/// Body of `POST /api/v1/password/change`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The current password.
    pub old_password: String,
    /// The new password.
    pub password: String,
    /// The same new password again.
    pub password_repeat: String,
}

/// Answer of `GET /api/v1/me`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Me {
    /// `user`, `key` or `operator`.
    pub kind: &'static str,
    /// The role acted with (absent for operator staff).
    pub role: Option<Role>,
    /// The logged-in user (sessions only).
    pub user: Option<User>,
    /// The organisation acted in (absent for operator staff).
    pub organisation: Option<Organisation>,
}

/// A plain acknowledgement.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Done {
    /// What happened.
    pub status: &'static str,
}

/// A lowercased e-mail with one `@` and something on each side, or 400 naming `field`.
fn normalise_email(field: &'static str, email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split('@').count() == 2
        && email.split('@').all(|part| !part.is_empty())
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(ApiError::bad_request(
            "invalid_request",
            format!("{field}: not an e-mail address"),
        ))
    }
}

/// Phone digits (10 to 15, country code first; `+`, spaces, dashes and brackets dropped).
fn normalise_phone(phone: &str) -> Result<String, ApiError> {
    let digits: String = phone
        .chars()
        .filter(|c| !matches!(c, '+' | ' ' | '-' | '(' | ')'))
        .collect();
    if (10..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err(ApiError::bad_request(
            "invalid_request",
            "phone: 10 to 15 digits with the country code",
        ))
    }
}

fn policy(password: &str, repeat: &str) -> Result<(), ApiError> {
    check_new_password(password, repeat)
        .map_err(|e| ApiError::bad_request("invalid_password", e.to_string()))
}

/// The link a mail carries: `{public_url}{path}?token=…`.
fn link(state: &AppState, path: &str, token: &str) -> String {
    format!("{}{path}?token={token}", state.config.public_url)
}

/// `POST /api/v1/signup` → 202: the organisation and its owner are stored, and the owner
/// confirms the e-mail by the mailed link before logging in. An address that already has an
/// account gets the same 202 and a mail saying so (nothing is created). 400 names the wrong
/// field; 409 when the tax id or phone is taken.
#[utoipa::path(post, path = "/api/v1/signup", request_body = SignupRequest,
    responses((status = 202, body = MailSent), (status = 400), (status = 409)))]
pub async fn signup(
    State(state): State<AppState>,
    Source(source): Source,
    body: Result<Json<SignupRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<MailSent>), ApiError> {
    let Json(request) = body?;
    if !request.consent {
        return Err(ApiError::bad_request(
            "consent_required",
            "consent: consent to the processing of personal data is required",
        ));
    }
    let email = normalise_email("email", &request.email)?;
    let phone = request.phone.as_deref().map(normalise_phone).transpose()?;
    policy(&request.password, &request.password_repeat)?;
    request.organisation.check()?;
    let now = unix_millis();
    let token = new_token();
    let signup = NewSignup {
        organisation: request.organisation,
        email: email.clone(),
        phone,
        name: request.name.unwrap_or_default().trim().to_owned(),
        password_hash: hash_password(&request.password),
        consent_at: now,
        confirm: NewToken {
            hash: token_hash(&token),
            expires_at: now + CONFIRM_TTL_MS,
        },
        existing_mail: existing_account_mail(&state, &email),
        mail: NewMail {
            to: email,
            subject: "Confirm your e-mail address".to_owned(),
            body: format!(
                "Welcome to the OFD cabinet.\n\nConfirm your e-mail address by opening this link \
                 within 48 hours:\n\n{}\n\nIf you did not sign up, ignore this message.\n",
                link(&state, "/signup/confirm", &token)
            ),
        },
        source,
    };
    match state.store.sign_up(&signup, now).await? {
        Some((organisation, user)) => tracing::info!(
            org_id = organisation.id,
            user_id = user.id,
            "signed up; confirmation queued"
        ),
        None => tracing::info!("sign-up for an address with an account; notice queued"),
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(MailSent {
            status: "confirmation_sent",
        }),
    ))
}

async fn confirm(
    state: &AppState,
    token: &str,
    source: Option<String>,
) -> Result<Json<User>, ApiError> {
    let user = state
        .store
        .confirm_email(&token_hash(token), source, unix_millis())
        .await?
        .ok_or_else(|| {
            ApiError::bad_request("invalid_token", "token: unknown, already used or expired")
        })?;
    tracing::info!(user_id = user.id, "e-mail confirmed");
    Ok(Json(user))
}

/// `POST /api/v1/signup/confirm` with the token of the mailed link → the user, now active.
#[utoipa::path(post, path = "/api/v1/signup/confirm", request_body = TokenBody,
    responses((status = 200, body = User), (status = 400)))]
pub async fn confirm_post(
    State(state): State<AppState>,
    Source(source): Source,
    body: Result<Json<TokenBody>, JsonRejection>,
) -> Result<Json<User>, ApiError> {
    let Json(body) = body?;
    confirm(&state, &body.token, source).await
}

/// `GET /api/v1/signup/confirm?token=…`: confirm by the token in JSON (the mailed link opens the
/// cabinet's page `/signup/confirm`, which calls this).
#[utoipa::path(get, path = "/api/v1/signup/confirm", params(TokenBody),
    responses((status = 200, body = User), (status = 400)))]
pub async fn confirm_get(
    State(state): State<AppState>,
    Source(source): Source,
    query: Result<Query<TokenBody>, QueryRejection>,
) -> Result<Json<User>, ApiError> {
    let Query(body) = query?;
    confirm(&state, &body.token, source).await
}

fn wrong_credentials() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "wrong login or password")
}

/// `POST /api/v1/login` → 200 with the user and a fresh session cookie (any session the request
/// carried ends: rotation). 401 `invalid_credentials` for a wrong login or password and for a
/// locked account or address alike; 403 `email_not_confirmed` after a right password.
#[utoipa::path(post, path = "/api/v1/login", request_body = LoginRequest,
    responses((status = 200, body = User), (status = 401), (status = 403)))]
pub async fn login(
    State(state): State<AppState>,
    Source(source): Source,
    headers: HeaderMap,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let now = unix_millis();
    let login = if request.login.contains('@') {
        request.login.trim().to_lowercase()
    } else {
        normalise_phone(&request.login).unwrap_or_default()
    };
    let attempt = LoginAttempt::begin(&state, source, now).await?;
    let record = state.store.login_record(&login).await?;
    let account_locked = attempt
        .account_locked(record.as_ref().map(|r| &r.user))
        .await?;
    let stored = record.as_ref().and_then(|r| r.password_hash.as_deref());
    let password_ok = verify_password(&request.password, stored);
    match record {
        Some(record) if password_ok && !attempt.address_locked && !account_locked => {
            attempt.admit(record.user, &headers).await
        }
        _ => {
            let user = record.map(|r| r.user);
            attempt.refuse(user.as_ref(), account_locked, None).await?;
            Err(wrong_credentials())
        }
    }
}

/// One login attempt, by password or by electronic signature: the same limits (per address and
/// per account within the lock window), the same audit lines, and one way to start a session.
pub(super) struct LoginAttempt<'a> {
    state: &'a AppState,
    source: Option<String>,
    now: i64,
    window_start: i64,
    address_subject: Option<String>,
    /// Too many failures from this address within the window.
    pub(super) address_locked: bool,
}

impl<'a> LoginAttempt<'a> {
    /// Start an attempt from `source` at `now`: whether the address is locked.
    pub(super) async fn begin(
        state: &'a AppState,
        source: Option<String>,
        now: i64,
    ) -> Result<LoginAttempt<'a>, ApiError> {
        let config = &state.config;
        let window_start = now - i64::try_from(config.lock_window.as_millis()).unwrap_or(i64::MAX);
        let address_subject = source.as_ref().map(|ip| format!("addr:{ip}"));
        let address_locked = match &address_subject {
            Some(subject) => {
                state
                    .store
                    .login_failures_since(subject, window_start)
                    .await?
                    >= i64::from(config.max_failures_per_address)
            }
            None => false,
        };
        Ok(LoginAttempt {
            state,
            source,
            now,
            window_start,
            address_subject,
            address_locked,
        })
    }

    /// Whether `user`'s account is locked by too many failures within the window.
    pub(super) async fn account_locked(&self, user: Option<&User>) -> Result<bool, ApiError> {
        let Some(user) = user else { return Ok(false) };
        let failures = self
            .state
            .store
            .login_failures_since(&format!("user:{}", user.id), self.window_start)
            .await?;
        Ok(failures >= i64::from(self.state.config.max_failures_per_account))
    }

    /// Count a failure against the address and `user` (when known) and audit it as
    /// `login.failed` with `detail` (`locked` when a lock refused it).
    pub(super) async fn refuse(
        self,
        user: Option<&User>,
        account_locked: bool,
        detail: Option<&str>,
    ) -> Result<(), ApiError> {
        let locked = self.address_locked || account_locked;
        let user_subject = user.map(|u| format!("user:{}", u.id));
        let subjects: Vec<String> = self
            .address_subject
            .into_iter()
            .chain(user_subject)
            .collect();
        let detail = match (locked, detail) {
            (true, _) => Some("locked".to_owned()),
            (false, detail) => detail.map(str::to_owned),
        };
        let entry = AuditEntry {
            org_id: user.map(|u| u.org_id),
            actor: "anonymous".to_owned(),
            action: "login.failed",
            object: user.map(|u| format!("user:{}", u.id)),
            detail,
            source: self.source,
        };
        self.state
            .store
            .record_login_failure(&subjects, &entry, self.now, self.window_start)
            .await?;
        tracing::info!(locked, "login refused");
        Ok(())
    }

    /// Log `user` in (their credential has been checked): 200 with the user and a fresh
    /// session cookie, ending the session the request carried (rotation); 403
    /// `email_not_confirmed` for an unconfirmed address, 401 for an invited or disabled user.
    pub(super) async fn admit(self, user: User, headers: &HeaderMap) -> Result<Response, ApiError> {
        match user.status {
            UserStatus::Active => {}
            UserStatus::Unconfirmed => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "email_not_confirmed",
                    "login: confirm the e-mail address by the link sent to it first",
                ))
            }
            UserStatus::Invited | UserStatus::Disabled => return Err(wrong_credentials()),
        }
        let config = &self.state.config;
        let session = new_token();
        let ttl_ms = i64::try_from(config.session_ttl.as_millis()).unwrap_or(i64::MAX);
        let replaces = cookie(headers, SESSION_COOKIE).map(|old| token_hash(&old));
        self.state
            .store
            .start_session(
                &user,
                &token_hash(&session),
                replaces.as_deref(),
                self.now.saturating_add(ttl_ms),
                self.source,
                self.now,
            )
            .await?;
        tracing::info!(user_id = user.id, "logged in");
        let cookie = session_cookie(
            &session,
            config.session_ttl.as_secs(),
            config.secure_cookie(),
        );
        let mut response = Json(user).into_response();
        response.headers_mut().insert(SET_COOKIE, cookie);
        Ok(response)
    }
}

/// The `Set-Cookie` value carrying session `value` for `max_age` seconds (0 clears it).
fn session_cookie(value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("cookie value is ASCII")
}

/// `POST /api/v1/logout` → 200; the session the request carries ends and the cookie is cleared.
#[utoipa::path(post, path = "/api/v1/logout", responses((status = 200, body = Done)))]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(session) = cookie(&headers, SESSION_COOKIE) {
        state.store.end_session(&token_hash(&session)).await?;
    }
    let mut response = Json(Done {
        status: "logged out",
    })
    .into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        session_cookie("", 0, state.config.secure_cookie()),
    );
    Ok(response)
}

/// `POST /api/v1/password/forgot` → 202 whether or not the address has an account (so the
/// answer tells nothing); an active account gets a recovery link valid for one hour.
#[utoipa::path(post, path = "/api/v1/password/forgot", request_body = ForgotRequest,
    responses((status = 202, body = Done)))]
pub async fn forgot(
    State(state): State<AppState>,
    Source(source): Source,
    body: Result<Json<ForgotRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Done>), ApiError> {
    let Json(request) = body?;
    let email = normalise_email("email", &request.email)?;
    if let Some(user) = state.store.active_user_by_email(&email).await? {
        let now = unix_millis();
        let token = new_token();
        let mail = NewMail {
            to: email,
            subject: "Password recovery".to_owned(),
            body: format!(
                "Someone asked to set a new password for your OFD cabinet account.\n\nOpen this \
                 link within one hour to choose a new password:\n\n{}\n\nIf it was not you, \
                 ignore this message; your password stays as it is.\n",
                link(&state, "/password/reset", &token)
            ),
        };
        let token = NewToken {
            hash: token_hash(&token),
            expires_at: now + RESET_TTL_MS,
        };
        state
            .store
            .issue_reset(&user, &token, &mail, source, now)
            .await?;
        tracing::info!(user_id = user.id, "password recovery queued");
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(Done {
            status: "if the address has an account, a link has been sent to it",
        }),
    ))
}

async fn set_password(
    state: &AppState,
    purpose: TokenPurpose,
    request: NewPasswordRequest,
    source: Option<String>,
) -> Result<Json<User>, ApiError> {
    policy(&request.password, &request.password_repeat)?;
    let user = state
        .store
        .set_password_by_token(
            purpose,
            &token_hash(&request.token),
            &hash_password(&request.password),
            source,
            unix_millis(),
        )
        .await?
        .ok_or_else(|| {
            ApiError::bad_request("invalid_token", "token: unknown, already used or expired")
        })?;
    tracing::info!(
        user_id = user.id,
        "password set; every session of the user ended"
    );
    Ok(Json(user))
}

/// `POST /api/v1/password/reset` with the recovery token and the new password twice → the user;
/// every session of the user ends.
#[utoipa::path(post, path = "/api/v1/password/reset", request_body = NewPasswordRequest,
    responses((status = 200, body = User), (status = 400)))]
pub async fn reset(
    State(state): State<AppState>,
    Source(source): Source,
    body: Result<Json<NewPasswordRequest>, JsonRejection>,
) -> Result<Json<User>, ApiError> {
    let Json(request) = body?;
    set_password(&state, TokenPurpose::Reset, request, source).await
}

/// `POST /api/v1/invitations/accept` with the invitation token and a password twice → the user,
/// now active.
#[utoipa::path(post, path = "/api/v1/invitations/accept", request_body = NewPasswordRequest,
    responses((status = 200, body = User), (status = 400)))]
pub async fn accept_invitation(
    State(state): State<AppState>,
    Source(source): Source,
    body: Result<Json<NewPasswordRequest>, JsonRejection>,
) -> Result<Json<User>, ApiError> {
    let Json(request) = body?;
    set_password(&state, TokenPurpose::Invite, request, source).await
}

/// `POST /api/v1/password/change` (a logged-in user) with the current password and the new one
/// twice → the user; every other session of the user ends, this one stays. 400 naming
/// `old_password` when it is wrong, `password` when the new one fails the policy; 403 for an API
/// key (keys have no password).
#[utoipa::path(post, path = "/api/v1/password/change", request_body = ChangePasswordRequest,
    responses((status = 200, body = User), (status = 400), (status = 403)))]
pub async fn change_password(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Source(source): Source,
    headers: HeaderMap,
    body: Result<Json<ChangePasswordRequest>, JsonRejection>,
) -> Result<Json<User>, ApiError> {
    let Json(request) = body?;
    let (Actor::User { id, .. }, Some(session)) =
        (caller.0.actor(), cookie(&headers, SESSION_COOKIE))
    else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only a logged-in user changes their password",
        ));
    };
    let id = *id;
    let stored = state.store.password_hash_of(id).await?;
    if !verify_password(&request.old_password, stored.as_deref()) {
        return Err(ApiError::bad_request(
            "invalid_password",
            "old_password: not the current password",
        ));
    }
    policy(&request.password, &request.password_repeat)?;
    let user = state
        .store
        .change_password(
            id,
            &hash_password(&request.password),
            &token_hash(&session),
            source,
            unix_millis(),
        )
        .await?;
    tracing::info!(user_id = id, "password changed; other sessions ended");
    Ok(Json(user))
}

/// `GET /api/v1/me` → who the caller is: the user and organisation of a session, the
/// organisation and role of a key, or operator staff.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = Me), (status = 401)))]
pub async fn me(Extension(caller): Extension<Caller>) -> Result<Json<Me>, ApiError> {
    let tenant = &caller.0;
    let organisation = match tenant.actor().org_id() {
        Some(id) => tenant.organisation(id).await?,
        None => None,
    };
    let (kind, user) = match tenant.actor() {
        Actor::User { id, .. } => ("user", tenant.user(*id).await?),
        Actor::Key { .. } => ("key", None),
        Actor::Operator { .. } => ("operator", None),
    };
    Ok(Json(Me {
        kind,
        role: tenant.actor().role(),
        user,
        organisation,
    }))
}
