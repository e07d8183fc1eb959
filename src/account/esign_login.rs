//! Login by electronic signature, end to end: the challenges the service hands out, linking a
//! certificate's identity to a logged-in user, and logging in with a signed challenge.
//!
//! - `POST /api/v1/login/esign/challenge` makes a random challenge ([`issue_challenge`], also
//!   what the pages show); only its SHA-256 is stored, good for [`CHALLENGE_TTL_MS`] and one
//!   use. A challenge serves one login or one linking.
//! - `POST /api/v1/me/esign` (a logged-in user) takes a signed challenge; the verifier's
//!   identity (taxpayer id and name) is linked to that user. `GET` lists the user's links,
//!   `DELETE /api/v1/me/esign/{id}` unlinks one; another user's link is 404. Both are audited.
//! - `POST /api/v1/login/esign` spends the challenge, verifies the signature, and logs in the
//!   user linked to the identity through [`LoginAttempt`], exactly as a password login (the
//!   same cookie, rotation, expiry, limits and audit lines). Every refusal after the request
//!   was understood counts as a failed login from the address. The answers: 501
//!   `esign_not_configured` without a verifier, 401 `invalid_challenge` (unknown, used or
//!   expired), 401 `invalid_signature`, 401 `esign_not_linked` for a verified identity no user
//!   has linked, 401 `invalid_credentials` when the address or account is locked.
//! - Neither a challenge nor a signature is ever logged or stored in clear.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use base64::Engine as _;

use super::auth::{Caller, Source};
use super::error::ApiError;
use super::esign::{EsignError, SignerIdentity};
use super::identity::LoginAttempt;
use super::password::token_hash;
use super::AppState;
use crate::clock::unix_millis;
use crate::store::esign_links::EsignLink;
use crate::store::Actor;

/// How long a challenge may be signed and sent back.
pub const CHALLENGE_TTL_MS: i64 = 5 * 60 * 1000;

/// Answer of `POST /api/v1/login/esign/challenge`.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Challenge {
    /// The bytes to sign (base64); send this text back with the signature.
    pub challenge: String,
    /// Until when it is accepted (unix ms).
    pub expires_at: i64,
}

/// A signed challenge: body of `POST /api/v1/login/esign` and `POST /api/v1/me/esign`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedChallenge {
    /// The challenge that was signed (base64), as issued.
    pub challenge: String,
    /// The signature container (base64).
    pub signature: String,
}

/// Answer of `GET /api/v1/me/esign`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EsignLinks {
    /// The caller's linked certificate identities, oldest first.
    pub links: Vec<EsignLink>,
}

fn not_configured() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "esign_not_configured",
        "login by electronic signature is not configured on this service",
    )
}

/// Make a challenge and store its hash: what the API answers and the pages show.
pub async fn issue_challenge(state: &AppState) -> Result<Challenge, ApiError> {
    if !state.esign.configured() {
        return Err(not_configured());
    }
    let bytes: [u8; 32] = rand::random();
    let challenge = base64::engine::general_purpose::STANDARD.encode(bytes);
    let now = unix_millis();
    let expires_at = now + CHALLENGE_TTL_MS;
    state
        .store
        .issue_esign_challenge(&token_hash(&challenge), now, expires_at)
        .await?;
    Ok(Challenge {
        challenge,
        expires_at,
    })
}

/// `POST /api/v1/login/esign/challenge` → 201 with a fresh challenge to sign (for login or
/// linking); 501 without a verifier.
#[utoipa::path(post, path = "/api/v1/login/esign/challenge",
    responses((status = 201, body = Challenge), (status = 501)))]
pub async fn challenge(
    State(state): State<AppState>,
) -> Result<(StatusCode, Json<Challenge>), ApiError> {
    Ok((StatusCode::CREATED, Json(issue_challenge(&state).await?)))
}

/// The request's challenge and signature as bytes (400 naming the field that is not base64).
fn decode(request: &SignedChallenge) -> Result<(String, Vec<u8>, Vec<u8>), ApiError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let field = |field: &'static str, text: &str| {
        b64.decode(text.trim())
            .map_err(|_| ApiError::bad_request("invalid_request", format!("{field}: not base64")))
    };
    let challenge = field("challenge", &request.challenge)?;
    let signature: String = request.signature.split_whitespace().collect();
    let signature = field("signature", &signature)?;
    // The stored hash is of the canonical text, however the caller spaced or padded it.
    Ok((b64.encode(&challenge), challenge, signature))
}

/// Why a signed challenge was not taken (each a 401 with its code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Challenge,
    Signature,
    NotLinked,
}

impl Refusal {
    fn error(self) -> ApiError {
        match self {
            Refusal::Challenge => ApiError::unauthorized(
                "invalid_challenge",
                "challenge: unknown, already used or expired; ask for a new one",
            ),
            Refusal::Signature => {
                ApiError::unauthorized("invalid_signature", "the signature did not verify")
            }
            Refusal::NotLinked => ApiError::unauthorized(
                "esign_not_linked",
                "no account is linked to this certificate; log in with a password and link it \
                 in your profile first",
            ),
        }
    }

    fn detail(self) -> &'static str {
        match self {
            Refusal::Challenge => "esign: challenge",
            Refusal::Signature => "esign: signature",
            Refusal::NotLinked => "esign: not linked",
        }
    }
}

/// Spend the challenge and verify the signature over it: the signer, or why not.
async fn verified(
    state: &AppState,
    request: &SignedChallenge,
    now: i64,
) -> Result<Result<SignerIdentity, Refusal>, ApiError> {
    let (canonical, challenge, signature) = decode(request)?;
    if !state
        .store
        .spend_esign_challenge(&token_hash(&canonical), now)
        .await?
    {
        return Ok(Err(Refusal::Challenge));
    }
    match state.esign.verify(&challenge, &signature) {
        Ok(signer) => Ok(Ok(signer)),
        Err(EsignError::NotConfigured) => Err(not_configured()),
        Err(EsignError::Invalid(_)) => Ok(Err(Refusal::Signature)),
    }
}

/// `POST /api/v1/login/esign` with a signed challenge → 200 with the user and a fresh session
/// cookie, as `POST /api/v1/login` answers; 401 with `invalid_challenge`, `invalid_signature`,
/// `esign_not_linked` or (locked) `invalid_credentials`; 501 without a verifier.
#[utoipa::path(post, path = "/api/v1/login/esign", request_body = SignedChallenge,
    responses((status = 200, body = crate::store::User), (status = 400), (status = 401),
        (status = 403), (status = 501)))]
pub async fn login(
    State(state): State<AppState>,
    Source(source): Source,
    headers: HeaderMap,
    body: Result<Json<SignedChallenge>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    if !state.esign.configured() {
        return Err(not_configured());
    }
    let now = unix_millis();
    let attempt = LoginAttempt::begin(&state, source, now).await?;
    let signer = verified(&state, &request, now).await?;
    let user = match &signer {
        Ok(signer) => state.store.esign_user(&signer.tax_id, &signer.name).await?,
        Err(_) => None,
    };
    let account_locked = attempt.account_locked(user.as_ref()).await?;
    let refusal = match (signer, user) {
        (Err(refusal), _) => refusal,
        (Ok(_), None) => Refusal::NotLinked,
        (Ok(_), Some(user)) if !attempt.address_locked && !account_locked => {
            return attempt.admit(user, &headers).await;
        }
        (Ok(_), Some(user)) => {
            attempt.refuse(Some(&user), true, None).await?;
            return Err(ApiError::unauthorized(
                "invalid_credentials",
                "too many failed logins; try again later",
            ));
        }
    };
    let locked = attempt.address_locked;
    attempt.refuse(None, false, Some(refusal.detail())).await?;
    if locked {
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "too many failed logins; try again later",
        ));
    }
    Err(refusal.error())
}

/// The calling user, or 403 for keys and operator staff (links belong to people).
fn person(caller: &Caller) -> Result<(), ApiError> {
    match caller.0.actor() {
        Actor::User { .. } => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only a logged-in user links electronic signatures",
        )),
    }
}

/// `GET /api/v1/me/esign` → the calling user's linked certificate identities.
#[utoipa::path(get, path = "/api/v1/me/esign",
    responses((status = 200, body = EsignLinks), (status = 401), (status = 403)))]
pub async fn list(Extension(caller): Extension<Caller>) -> Result<Json<EsignLinks>, ApiError> {
    person(&caller)?;
    Ok(Json(EsignLinks {
        links: caller.0.esign_links().await?,
    }))
}

/// `POST /api/v1/me/esign` with a challenge signed by the certificate → 201 with the link: the
/// certificate's identity now logs in as the calling user. 401 for a bad challenge or
/// signature, 409 when the identity is linked already, 403 for keys, 501 without a verifier.
#[utoipa::path(post, path = "/api/v1/me/esign", request_body = SignedChallenge,
    responses((status = 201, body = EsignLink), (status = 400), (status = 401), (status = 403),
        (status = 409), (status = 501)))]
pub async fn link(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<SignedChallenge>, JsonRejection>,
) -> Result<(StatusCode, Json<EsignLink>), ApiError> {
    let Json(request) = body?;
    person(&caller)?;
    if !state.esign.configured() {
        return Err(not_configured());
    }
    let now = unix_millis();
    let signer = verified(&state, &request, now)
        .await?
        .map_err(Refusal::error)?;
    let link = caller
        .0
        .link_esign(&signer.tax_id, &signer.name, now)
        .await?;
    tracing::info!(link = link.id, "e-signature linked");
    Ok((StatusCode::CREATED, Json(link)))
}

/// `DELETE /api/v1/me/esign/{id}` → the removed link; 404 when it is not the caller's.
#[utoipa::path(delete, path = "/api/v1/me/esign/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = EsignLink), (status = 403), (status = 404)))]
pub async fn unlink(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<EsignLink>, ApiError> {
    let Path(id) = id?;
    person(&caller)?;
    let link = caller.0.unlink_esign(id, unix_millis()).await?;
    tracing::info!(link = link.id, "e-signature unlinked");
    Ok(Json(link))
}
