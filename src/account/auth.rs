//! Who is calling: in front of every authenticated `/api/v1` route. A request carries either
//! `Authorization: Bearer <key>` (an operator key or an organisation's key, looked up by hash in
//! `api_keys`) or the cabinet's session cookie (looked up by hash in `sessions`). A missing,
//! unknown, revoked or expired credential gets 401 before any handler runs; a valid one leaves a
//! [`Caller`] in the request: a [`Tenant`], the store as that actor may see it, and the role
//! checks ([`Permission`]). Operator staff's requests are written to the audit log here, one
//! line per request, besides the lines their changes write.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;
use super::password::token_hash;
use super::AppState;
use crate::clock::unix_millis;
use crate::store::{Actor, KeyCheck, Role, Tenant};

/// Name of the cabinet's session cookie.
pub const SESSION_COOKIE: &str = "ofd_session";

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller(pub Tenant);

/// What a route needs the caller's role to allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Enter organisations for others: operator staff only.
    ProvisionOrganisations,
    /// Read the organisation's card.
    ReadOrganisation,
    /// Change the organisation's card (requisites).
    EditOrganisation,
    /// Invite, change and remove staff.
    ManageStaff,
    /// Issue and revoke the organisation's API keys.
    ManageKeys,
    /// Read the organisation's audit log.
    ReadAudit,
    /// Read registers.
    ReadRegisters,
    /// Provision registers, change their status, reset KZ tokens.
    ChangeRegisters,
    /// Assign registers to cashiers.
    AssignRegisters,
    /// Read client alerts and the alert settings.
    ReadAlerts,
    /// Acknowledge client alerts.
    AcknowledgeAlerts,
    /// Change thresholds and the webhook; read the delivery log.
    ManageAlertSettings,
    /// Add and change tariff plans: operator staff only.
    ManagePlans,
    /// See the organisation's tariffs and invoices.
    ReadBilling,
    /// Activate a plan on a register, ask for an invoice.
    ManageBilling,
    /// Mark invoices paid, import bank payments: operator staff only.
    MarkInvoicesPaid,
    /// File, read and cancel wired-connection requests.
    RequestWired,
    /// Schedule and close wired-connection requests: operator staff only.
    ScheduleWired,
    /// Read the product catalogue.
    ReadCatalogue,
    /// Change the product catalogue (edit, import).
    EditCatalogue,
    /// Enter the tax authority's answer to an application: operator staff and owners.
    AnswerApplications,
    /// Confirm an edited register (it waits in `saved` until then): operator staff and owners.
    ConfirmRegisters,
    /// Search and read documents (a cashier: of their own registers).
    ReadDocuments,
    /// Shifts, totals, analytics, unsent documents, delivery status.
    ReadReports,
    /// Export documents.
    ExportDocuments,
    /// See documents' raw frames: operator staff (support) only.
    ReadRawFrames,
}

/// What only operator staff may do, whatever an organisation's role.
const OPERATOR_ONLY: [Permission; 5] = [
    Permission::ProvisionOrganisations,
    Permission::ReadRawFrames,
    Permission::ManagePlans,
    Permission::MarkInvoicesPaid,
    Permission::ScheduleWired,
];

/// Whether `role` (`None`: operator staff) allows `permission`. The one table of role rights.
pub fn allows(role: Option<Role>, permission: Permission) -> bool {
    use Permission::*;
    if role.is_some() && OPERATOR_ONLY.contains(&permission) {
        return false;
    }
    match role {
        None => true,
        Some(Role::Owner) => true,
        Some(Role::Accountant) => matches!(
            permission,
            ReadOrganisation
                | ReadRegisters
                | ReadBilling
                | ManageBilling
                | ReadCatalogue
                | EditCatalogue
                | ReadAlerts
                | AcknowledgeAlerts
                | ReadDocuments
                | ReadReports
                | ExportDocuments
        ),
        Some(Role::Engineer) => {
            matches!(
                permission,
                ReadOrganisation
                    | ReadRegisters
                    | ChangeRegisters
                    | AssignRegisters
                    | ReadAlerts
                    | AcknowledgeAlerts
                    | RequestWired
                    | ReadCatalogue
            )
        }
        // Cashiers read the organisation's card and their registers; which registers are theirs
        // the tenancy layer decides (`store/tenancy.rs`), so the others are not found.
        Some(Role::Cashier) => {
            matches!(
                permission,
                ReadOrganisation | ReadRegisters | ReadCatalogue | ReadDocuments
            )
        }
    }
}

impl Caller {
    /// 403 unless the caller's role allows `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if allows(self.0.actor().role(), permission) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "your role does not allow this",
            ))
        }
    }

    /// The organisation a change applies to: the caller's own, or for operator staff the one
    /// named by `org_id` in the body (400 naming `org_id` when absent).
    pub fn target_org(&self, org_id: Option<i64>) -> Result<i64, ApiError> {
        match (self.0.actor().org_id(), org_id) {
            (Some(own), None) => Ok(own),
            // Naming another organisation than one's own finds nothing.
            (Some(own), Some(named)) if named == own => Ok(own),
            (Some(_), Some(named)) => Err(ApiError::not_found(format!("organisation {named}"))),
            (None, Some(named)) => Ok(named),
            (None, None) => Err(ApiError::bad_request(
                "invalid_request",
                "org_id: operator staff must name the organisation",
            )),
        }
    }
}

/// The peer address of a connection, plain or TLS: axum names it for its own TCP listener only,
/// and the account API also serves through [`crate::tls::TlsListener`].
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, crate::tls::TlsListener>>
    for PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, crate::tls::TlsListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

/// The address the request came from, for audit lines and the per-address login limit.
pub fn source_of(request_extensions: &axum::http::Extensions) -> Option<String> {
    request_extensions
        .get::<ConnectInfo<PeerAddr>>()
        .map(|ConnectInfo(PeerAddr(addr))| addr.ip().to_string())
}

/// Extractor: the source address of the request (`None` when the server was not started with
/// connection info).
#[derive(Clone, Debug)]
pub struct Source(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Source(source_of(&parts.extensions)))
    }
}

/// The value of cookie `name` in the request's headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

/// Middleware: let the request through only with a live key or session.
pub async fn require_caller(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let source = source_of(request.extensions());
    let line = format!("{} {}", request.method(), request.uri().path());
    let bearer = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token)
        .map(str::to_owned);
    let session = cookie(request.headers(), SESSION_COOKIE);
    let caller = resolve_caller(&state, bearer, session, source, &line).await?;
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

/// The caller behind a bearer key or a session id (the key wins when both are given): the one
/// way both the API and the cabinet's pages authenticate. 401 for a missing, unknown, revoked or
/// expired credential. Operator staff's requests are audited here with `line`.
pub async fn resolve_caller(
    state: &AppState,
    bearer: Option<String>,
    session: Option<String>,
    source: Option<String>,
    line: &str,
) -> Result<Caller, ApiError> {
    let actor = match bearer {
        Some(secret) => match state.store.check_api_key(&secret).await? {
            KeyCheck::Valid(key) => match (key.org_id, key.role) {
                (Some(org_id), Some(role)) => Actor::Key {
                    id: key.id,
                    org_id,
                    role,
                },
                _ => Actor::Operator { id: key.id },
            },
            KeyCheck::Revoked(key) => {
                tracing::warn!(key_id = key.id, "request with a revoked API key");
                return Err(ApiError::unauthorized(
                    "revoked_api_key",
                    "this API key has been revoked",
                ));
            }
            KeyCheck::Unknown => {
                return Err(ApiError::unauthorized(
                    "invalid_api_key",
                    "this API key is not known",
                ))
            }
        },
        None => {
            let Some(session) = session else {
                return Err(ApiError::unauthorized(
                    "missing_credentials",
                    "send an API key as `Authorization: Bearer <key>` or log in",
                ));
            };
            let user = state
                .store
                .session_user(&token_hash(&session), unix_millis())
                .await?
                .ok_or_else(|| {
                    ApiError::unauthorized("invalid_session", "the session has ended; log in")
                })?;
            Actor::User {
                id: user.id,
                org_id: user.org_id,
                role: user.role,
            }
        }
    };
    let tenant = state.store.tenant(actor, source);
    if matches!(tenant.actor(), Actor::Operator { .. }) {
        tenant
            .audit(None, "operator.request", line.to_owned())
            .await?;
    }
    Ok(Caller(tenant))
}

/// The credentials of a `Bearer` authorization value (the scheme name is case-insensitive).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_rights() {
        use Permission::*;
        assert!(allows(None, ProvisionOrganisations));
        assert!(!allows(Some(Role::Owner), ProvisionOrganisations));
        assert!(allows(Some(Role::Owner), EditOrganisation));
        assert!(!allows(Some(Role::Accountant), EditOrganisation));
        assert!(allows(Some(Role::Owner), ManageStaff));
        assert!(allows(Some(Role::Accountant), ReadRegisters));
        assert!(!allows(Some(Role::Accountant), ChangeRegisters));
        assert!(!allows(Some(Role::Accountant), ManageKeys));
        assert!(allows(Some(Role::Engineer), ChangeRegisters));
        assert!(!allows(Some(Role::Engineer), ReadAudit));
        assert!(allows(Some(Role::Cashier), ReadRegisters));
        assert!(!allows(Some(Role::Cashier), AssignRegisters));
        assert!(allows(Some(Role::Engineer), AssignRegisters));
        assert!(!allows(Some(Role::Accountant), AssignRegisters));
        assert!(allows(Some(Role::Cashier), ReadOrganisation));
        for operator_only in OPERATOR_ONLY {
            assert!(allows(None, operator_only));
            for role in [Role::Owner, Role::Accountant, Role::Engineer, Role::Cashier] {
                assert!(
                    !allows(Some(role), operator_only),
                    "{role:?} {operator_only:?}"
                );
            }
        }
        assert!(allows(Some(Role::Accountant), ManageBilling));
        assert!(!allows(Some(Role::Engineer), ManageBilling));
        assert!(allows(Some(Role::Engineer), RequestWired));
        assert!(!allows(Some(Role::Cashier), EditCatalogue));
        assert!(allows(Some(Role::Cashier), ReadCatalogue));
    }

    #[test]
    fn cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "a=1; ofd_session=abc; b=2".parse().expect("header"));
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, "c"), None);
    }
}
