//! An organisation's staff, API keys and audit log: `/api/v1/users`, `/api/v1/api-keys`,
//! `/api/v1/audit`. Every read and change goes through the caller's [`crate::store::Tenant`], so
//! an object of another organisation is not found (404); the role check comes after the lookup,
//! so that a refusal (403) is only ever about one's own organisation's objects.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::auth::{Caller, Permission};
use super::error::ApiError;
use super::identity::{existing_account_mail, MailSent, INVITE_TTL_MS};
use super::password::{hash_password, new_token, token_hash};
use super::AppState;
use crate::clock::unix_millis;
use crate::store::{ApiKey, AuditRecord, NewMail, NewToken, Role, User, UserChange};

/// Body of `POST /api/v1/users`: an invitation.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// Where the invitation goes; the invitee's login.
    pub email: String,
    /// The role the invitee will have.
    pub role: Role,
    /// The invitee's name.
    #[serde(default)]
    pub name: Option<String>,
    /// Operator staff only: the organisation to invite into.
    #[serde(default)]
    pub org_id: Option<i64>,
}

/// Body of `PATCH /api/v1/users/{id}`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// New role.
    #[serde(default)]
    pub role: Option<Role>,
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
}

/// Answer of `GET /api/v1/users`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct UserList {
    /// The users, oldest first.
    pub users: Vec<User>,
}

/// Body of `POST /api/v1/api-keys`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyRequest {
    /// A label for people, unique among the organisation's live keys.
    pub name: String,
    /// The role the key acts with.
    pub role: Role,
    /// Operator staff only: the organisation the key belongs to.
    #[serde(default)]
    pub org_id: Option<i64>,
}

/// Answer of `POST /api/v1/api-keys`: the record and the key, shown only here.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct IssuedKeyView {
    /// The stored record.
    pub key: ApiKey,
    /// The key itself (`Authorization: Bearer …`); it is not shown again.
    pub secret: String,
}

/// Answer of `GET /api/v1/api-keys`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct KeyList {
    /// The keys, live and revoked, oldest first (never the secrets).
    pub keys: Vec<ApiKey>,
}

/// Query of `GET /api/v1/audit`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Continue after this line id.
    pub after_id: Option<i64>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<i64>,
}

/// Answer of `GET /api/v1/audit`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// The lines, oldest first.
    pub entries: Vec<AuditRecord>,
    /// Pass as `after_id` for the next page; absent on the last page.
    pub next_after_id: Option<i64>,
}

/// `GET /api/v1/users` → the organisation's staff (owner; operator staff: everyone's).
#[utoipa::path(get, path = "/api/v1/users", responses((status = 200, body = UserList)))]
pub async fn list_users(Extension(caller): Extension<Caller>) -> Result<Json<UserList>, ApiError> {
    caller.require(Permission::ManageStaff)?;
    Ok(Json(UserList {
        users: caller.0.users().await?,
    }))
}

/// `POST /api/v1/users` → 202; the invitation link goes by mail, and the invited user is listed
/// by `GET /users` with status `invited`. An address that already has an account gets the same
/// 202 and a mail saying so instead (nothing is created).
#[utoipa::path(post, path = "/api/v1/users", request_body = InviteRequest,
    responses((status = 202, body = MailSent), (status = 400), (status = 403)))]
pub async fn invite(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<InviteRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<MailSent>), ApiError> {
    let Json(request) = body?;
    caller.require(Permission::ManageStaff)?;
    let org_id = caller.target_org(request.org_id)?;
    let email = request.email.trim().to_lowercase();
    if email.split('@').filter(|p| !p.is_empty()).count() != 2 || email.len() > 254 {
        return Err(ApiError::bad_request(
            "invalid_request",
            "email: not an e-mail address",
        ));
    }
    let token = new_token();
    let mail = NewMail {
        to: email.clone(),
        subject: "Invitation to the OFD cabinet".to_owned(),
        body: format!(
            "You have been invited to an organisation's OFD cabinet as {}.\n\nOpen this link \
             within 7 days to set your password:\n\n{}/invitation?token={token}\n",
            request.role.as_str(),
            state.config.public_url
        ),
    };
    let token = NewToken {
        hash: token_hash(&token),
        expires_at: unix_millis() + INVITE_TTL_MS,
    };
    let name = request.name.unwrap_or_default().trim().to_owned();
    let existing = existing_account_mail(&state, &email);
    let invited = caller
        .0
        .invite_user(
            org_id,
            &email,
            &name,
            request.role,
            &token,
            &mail,
            &existing,
        )
        .await?;
    match invited {
        Some(user) => tracing::info!(user_id = user.id, org_id, "invitation queued"),
        None => tracing::info!(
            org_id,
            "invitation for an address with an account; notice queued"
        ),
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(MailSent {
            status: "invitation_sent",
        }),
    ))
}

/// `PATCH /api/v1/users/{id}` → the changed user; 404 for a user of another organisation.
#[utoipa::path(patch, path = "/api/v1/users/{id}", request_body = UserPatch,
    params(("id" = i64, Path, description = "user id")),
    responses((status = 200, body = User), (status = 403), (status = 404), (status = 409)))]
pub async fn update_user(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<UserPatch>, JsonRejection>,
) -> Result<Json<User>, ApiError> {
    let Path(id) = id?;
    let Json(patch) = body?;
    existing_user(&caller, id).await?;
    caller.require(Permission::ManageStaff)?;
    let change = UserChange {
        role: patch.role,
        name: patch.name.map(|n| n.trim().to_owned()),
    };
    Ok(Json(caller.0.update_user(id, &change).await?))
}

/// `DELETE /api/v1/users/{id}` → the user, now disabled, with every session ended.
#[utoipa::path(delete, path = "/api/v1/users/{id}",
    params(("id" = i64, Path, description = "user id")),
    responses((status = 200, body = User), (status = 403), (status = 404), (status = 409)))]
pub async fn remove_user(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<User>, ApiError> {
    let Path(id) = id?;
    existing_user(&caller, id).await?;
    caller.require(Permission::ManageStaff)?;
    Ok(Json(caller.0.disable_user(id).await?))
}

async fn existing_user(caller: &Caller, id: i64) -> Result<User, ApiError> {
    caller
        .0
        .user(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("user {id}")))
}

/// `GET /api/v1/api-keys` → the organisation's keys (never the secrets).
#[utoipa::path(get, path = "/api/v1/api-keys", responses((status = 200, body = KeyList)))]
pub async fn list_keys(Extension(caller): Extension<Caller>) -> Result<Json<KeyList>, ApiError> {
    caller.require(Permission::ManageKeys)?;
    Ok(Json(KeyList {
        keys: caller.0.api_keys().await?,
    }))
}

/// `POST /api/v1/api-keys` → 201 with the key, shown only in this answer.
#[utoipa::path(post, path = "/api/v1/api-keys", request_body = NewKeyRequest,
    responses((status = 201, body = IssuedKeyView), (status = 403), (status = 409)))]
pub async fn create_key(
    Extension(caller): Extension<Caller>,
    body: Result<Json<NewKeyRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<IssuedKeyView>), ApiError> {
    let Json(request) = body?;
    caller.require(Permission::ManageKeys)?;
    let org_id = caller.target_org(request.org_id)?;
    let issued = caller
        .0
        .create_api_key(org_id, &request.name, request.role)
        .await?;
    tracing::info!(key_id = issued.key.id, org_id, "API key issued");
    Ok((
        StatusCode::CREATED,
        Json(IssuedKeyView {
            key: issued.key,
            secret: issued.secret.expose().to_owned(),
        }),
    ))
}

/// `DELETE /api/v1/api-keys/{id}` → the key, now revoked; 404 for another organisation's key.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}",
    params(("id" = i64, Path, description = "key id")),
    responses((status = 200, body = ApiKey), (status = 403), (status = 404)))]
pub async fn revoke_key(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<ApiKey>, ApiError> {
    let Path(id) = id?;
    let known = caller.0.api_keys().await?.into_iter().any(|k| k.id == id);
    if !known {
        return Err(ApiError::not_found(format!("API key {id}")));
    }
    caller.require(Permission::ManageKeys)?;
    let key = caller.0.revoke_api_key(id).await?;
    tracing::info!(key_id = key.id, "API key revoked");
    Ok(Json(key))
}

/// `GET /api/v1/audit?after_id=&limit=` → one page of the audit log (owner: their
/// organisation's; operator staff: all).
#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 403)))]
pub async fn audit(
    Extension(caller): Extension<Caller>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let Query(query) = query?;
    caller.require(Permission::ReadAudit)?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit: must be between 1 and 1000",
        ));
    }
    let entries = caller
        .0
        .audit_page(query.after_id.unwrap_or(0), limit)
        .await?;
    let full = i64::try_from(entries.len()).is_ok_and(|n| n == limit);
    let next_after_id = entries.last().filter(|_| full).map(|e| e.id);
    Ok(Json(AuditPage {
        entries,
        next_after_id,
    }))
}

/// Body and answer of `PUT|GET /api/v1/users/{id}/registers`.
#[derive(Debug, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CashierRegisters {
    /// The ids of the registers the cashier works at (all of them: the list replaces the old).
    pub register_ids: Vec<i64>,
}

/// Body of `PUT /api/v1/users/{id}/kz-cashier`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KzCashierRequest {
    /// The cashier's code, the `login` of a KZ register's AUTH command: 1 to 32 letters or digits,
    /// unique within the organisation.
    pub code: String,
    /// The cashier's PIN, the AUTH command's `password`: 4 to 64 characters. Stored as an
    /// argon2id hash, never shown again.
    pub pin: String,
}

/// Longest KZ cashier code.
const MAX_CASHIER_CODE: usize = 32;
/// PIN length bounds, in characters.
const PIN_CHARS: std::ops::RangeInclusive<usize> = 4..=64;

/// `GET /api/v1/users/{id}/registers` → the registers assigned to a cashier (owner, engineer).
#[utoipa::path(get, path = "/api/v1/users/{id}/registers",
    params(("id" = i64, Path, description = "user id (a cashier)")),
    responses((status = 200, body = CashierRegisters), (status = 400), (status = 403), (status = 404)))]
pub async fn cashier_registers(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<CashierRegisters>, ApiError> {
    let Path(id) = id?;
    existing_user(&caller, id).await?;
    caller.require(Permission::AssignRegisters)?;
    Ok(Json(CashierRegisters {
        register_ids: caller.0.cashier_registers(id).await?,
    }))
}

/// `PUT /api/v1/users/{id}/registers` → the cashier's registers, now exactly the ones named
/// (owner, engineer). 400 naming `register_ids` for a register not of the organisation.
#[utoipa::path(put, path = "/api/v1/users/{id}/registers", request_body = CashierRegisters,
    params(("id" = i64, Path, description = "user id (a cashier)")),
    responses((status = 200, body = CashierRegisters), (status = 400), (status = 403), (status = 404)))]
pub async fn assign_registers(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<CashierRegisters>, JsonRejection>,
) -> Result<Json<CashierRegisters>, ApiError> {
    let Path(id) = id?;
    let Json(request) = body?;
    existing_user(&caller, id).await?;
    caller.require(Permission::AssignRegisters)?;
    let register_ids = caller
        .0
        .assign_cashier_registers(id, &request.register_ids)
        .await?;
    tracing::info!(
        user_id = id,
        registers = register_ids.len(),
        "cashier registers set"
    );
    Ok(Json(CashierRegisters { register_ids }))
}

/// `PUT /api/v1/users/{id}/kz-cashier` → 204; sets the code and PIN a KZ register's AUTH
/// command checks (owner). The PIN is never returned.
#[utoipa::path(put, path = "/api/v1/users/{id}/kz-cashier", request_body = KzCashierRequest,
    params(("id" = i64, Path, description = "user id (a cashier)")),
    responses((status = 204), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub async fn set_kz_cashier(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<KzCashierRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = id?;
    let Json(request) = body?;
    existing_user(&caller, id).await?;
    caller.require(Permission::ManageStaff)?;
    let code = request.code.trim();
    if code.is_empty()
        || code.len() > MAX_CASHIER_CODE
        || !code.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("code: 1 to {MAX_CASHIER_CODE} ASCII letters or digits"),
        ));
    }
    if !PIN_CHARS.contains(&request.pin.chars().count()) {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!(
                "pin: {} to {} characters",
                PIN_CHARS.start(),
                PIN_CHARS.end()
            ),
        ));
    }
    let phc = hash_password(&request.pin);
    caller.0.set_kz_cashier(id, code, &phc).await?;
    tracing::info!(user_id = id, "KZ cashier code and PIN set");
    Ok(StatusCode::NO_CONTENT)
}
