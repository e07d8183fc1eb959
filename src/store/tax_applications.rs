//! Applications to the tax authority (ФНС, КГД) as records: registration, re-registration (new
//! address, new drive, new OFD) and deregistration of a register. There is no live link to the
//! tax authority: the owner or operator staff enter its answer.
//!
//! An application's own lifecycle is the pure function [`next_status`]:
//! `draft → signed → submitted → accepted | refused`, where signing is optional (a draft may be
//! submitted unsigned when the deployment has no e-signature) and a refusal carries its reason.
//! Submitting and answering move the register through the one status-changing function
//! ([`super::registers::transition`]) on the same transaction:
//! - registration: submitted → register `submitted`; accepted → `registered` with the
//!   registration number and date; refused → the register goes back to `saved` for correction;
//! - re-registration: submitted → register `reregistration`; accepted → `registered` with the
//!   (new) registration number and date;
//! - deregistration: accepted → register `deregistered` with the application's reason.
//!
//! The application's fields are frozen when it is created (organisation, register, point of
//! sale, what changes), so the printable page and the export show what was filed.

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::identity::audit_in;
use super::points_of_sale::PosFields;
use super::register_lifecycle::{Change, DeregistrationReason, Lifecycle};
use super::registers::transition;
use super::tenancy::{SCOPE_ORG_ID, SCOPE_REGISTER_IDS};
use super::{StoreError, Tenant};
use crate::clock::unix_millis;

const APPLICATION_COLUMNS: &str = "id, org_id, register_id, kind, status, fields, signature, \
     signer, refusal_reason, created_at, updated_at";

/// What an application asks for.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ApplicationKind {
    /// Register a new register.
    Registration,
    /// Change a registered register's data.
    Reregistration,
    /// Take a register off the register.
    Deregistration,
}

/// Why a re-registration is filed.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ReregistrationReason {
    /// The register moved to another address.
    NewAddress,
    /// The fiscal drive was replaced.
    NewDrive,
    /// The owner changed OFD.
    NewOfd,
    /// Other data changed.
    Other,
}

/// Where an application is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ApplicationStatus {
    /// Being prepared.
    Draft,
    /// Signed with an electronic signature.
    Signed,
    /// Sent to the tax authority.
    Submitted,
    /// The tax authority accepted it.
    Accepted,
    /// The tax authority refused it (with its reason).
    Refused,
}

macro_rules! words {
    ($ty:ident { $($variant:ident = $word:literal),* $(,)? }) => {
        impl $ty {
            /// The stored form.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $word),* }
            }
            fn parse(text: &str) -> Result<Self, StoreError> {
                match text {
                    $($word => Ok($ty::$variant),)*
                    other => Err(StoreError::Corrupt(format!(
                        concat!("unknown ", stringify!($ty), " {:?}"), other
                    ))),
                }
            }
        }
    };
}
words!(ApplicationKind {
    Registration = "registration",
    Reregistration = "reregistration",
    Deregistration = "deregistration",
});
words!(ApplicationStatus {
    Draft = "draft",
    Signed = "signed",
    Submitted = "submitted",
    Accepted = "accepted",
    Refused = "refused",
});

/// What is done to an application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplicationAction {
    /// Attach a verified electronic signature.
    Sign,
    /// Send it.
    Submit,
    /// Enter the tax authority's acceptance.
    Accept,
    /// Enter the tax authority's refusal.
    Refuse,
}

/// The status after `action` from `from`, or `None` when not allowed.
pub fn next_status(
    from: ApplicationStatus,
    action: ApplicationAction,
) -> Option<ApplicationStatus> {
    use ApplicationAction as A;
    use ApplicationStatus as S;
    match (from, action) {
        (S::Draft, A::Sign) => Some(S::Signed),
        (S::Draft | S::Signed, A::Submit) => Some(S::Submitted),
        (S::Submitted, A::Accept) => Some(S::Accepted),
        (S::Submitted, A::Refuse) => Some(S::Refused),
        _ => None,
    }
}

/// The fields of an application as filed.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ApplicationFields {
    /// The user's taxpayer number.
    pub org_inn: String,
    /// The user's name.
    pub org_name: String,
    /// `ru` or `kz`.
    pub dialect: String,
    /// The register's model.
    pub model: Option<String>,
    /// Its factory serial.
    pub serial: Option<String>,
    /// RU: its fiscal drive number.
    pub fn_number: Option<String>,
    /// RU: the drive's model.
    pub fn_model: Option<String>,
    /// KZ: its system id.
    pub system_id: Option<i64>,
    /// The registration number it has now (re-registration, deregistration).
    pub reg_number: Option<String>,
    /// Where it works.
    pub point_of_sale: Option<PosFields>,
    /// Re-registration: what changes.
    pub reregistration_reasons: Vec<ReregistrationReason>,
    /// Deregistration: why.
    pub deregistration_reason: Option<DeregistrationReason>,
    /// Deregistration: the reason's text.
    pub deregistration_text: Option<String>,
    /// The tax authority's answer: the registration number given.
    pub answer_reg_number: Option<String>,
    /// The tax authority's answer: the registration date (UTC ms).
    pub answer_registered_at: Option<i64>,
}

/// A stored application.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TaxApplication {
    /// Row id.
    pub id: i64,
    /// The organisation.
    pub org_id: i64,
    /// The register.
    pub register_id: i64,
    /// What it asks for.
    pub kind: ApplicationKind,
    /// Where it is.
    pub status: ApplicationStatus,
    /// The fields as filed.
    pub fields: ApplicationFields,
    /// The signature (base64), when signed.
    pub signature: Option<String>,
    /// Whose certificate signed it.
    pub signer: Option<String>,
    /// The tax authority's reason, when refused.
    pub refusal_reason: Option<String>,
    /// Created (UTC ms).
    pub created_at: i64,
    /// Last changed (UTC ms).
    pub updated_at: i64,
}

/// What a new application says beyond the register's own data.
#[derive(Clone, Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApplication {
    /// `registration`, `reregistration` or `deregistration`.
    pub kind: ApplicationKind,
    /// Re-registration: what changes (at least one).
    #[serde(default)]
    pub reasons: Vec<ReregistrationReason>,
    /// Deregistration: why (required).
    pub deregistration_reason: Option<DeregistrationReason>,
    /// Deregistration: the reason's text (required with `other`).
    pub deregistration_text: Option<String>,
}

/// The tax authority's answer as entered.
#[derive(Clone, Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationAnswer {
    /// Whether it accepted.
    pub accepted: bool,
    /// Registration, re-registration: the registration number (checked like an edited one).
    pub reg_number: Option<String>,
    /// Registration, re-registration: the registration date (UTC ms; default now).
    pub registered_at: Option<i64>,
    /// Refusal: the tax authority's reason (required).
    pub refusal_reason: Option<String>,
}

fn application_from_row(row: &AnyRow) -> Result<TaxApplication, StoreError> {
    let fields: String = row.try_get("fields")?;
    Ok(TaxApplication {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        register_id: row.try_get("register_id")?,
        kind: ApplicationKind::parse(&row.try_get::<String, _>("kind")?)?,
        status: ApplicationStatus::parse(&row.try_get::<String, _>("status")?)?,
        fields: serde_json::from_str(&fields)
            .map_err(|e| StoreError::Corrupt(format!("tax_applications.fields: {e}")))?,
        signature: row.try_get("signature")?,
        signer: row.try_get("signer")?,
        refusal_reason: row.try_get("refusal_reason")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The bytes a signature covers: the application's id, kind and fields as JSON.
pub fn signed_bytes(application: &TaxApplication) -> Vec<u8> {
    serde_json::to_vec(&(application.id, application.kind, &application.fields)).unwrap_or_default()
}

impl Tenant {
    /// The application `id` in scope, if any.
    pub async fn tax_application(&self, id: i64) -> Result<Option<TaxApplication>, StoreError> {
        let sql = format!(
            "SELECT {APPLICATION_COLUMNS} FROM tax_applications WHERE {SCOPE_ORG_ID} AND id = $3"
        );
        self.scoped_row_by_id(&sql, id, application_from_row).await
    }

    async fn scoped_application(&self, id: i64) -> Result<TaxApplication, StoreError> {
        self.tax_application(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("application {id}")))
    }

    /// The applications of register `register_id`, oldest first; 404 out of scope.
    pub async fn register_applications(
        &self,
        register_id: i64,
    ) -> Result<Vec<TaxApplication>, StoreError> {
        self.register(register_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("register {register_id}")))?;
        let rows = sqlx::query(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM tax_applications WHERE register_id = $1 ORDER BY id"
        ))
        .bind(register_id)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(application_from_row).collect()
    }

    /// The applications of every register in scope (a cashier: of their own registers), newest
    /// first, at most 1000; with `status`, only those in it. Operator staff see every
    /// organisation's (their console lists the submitted ones awaiting an answer).
    pub async fn tax_applications(
        &self,
        status: Option<ApplicationStatus>,
    ) -> Result<Vec<TaxApplication>, StoreError> {
        let (org, all) = self.scope();
        let rows = sqlx::query(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM tax_applications \
             WHERE register_id IN {SCOPE_REGISTER_IDS} AND ($4 = '' OR status = $4) \
             ORDER BY id DESC LIMIT 1000"
        ))
        .bind(org)
        .bind(all)
        .bind(self.cashier_scope())
        .bind(status.map_or("", ApplicationStatus::as_str))
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(application_from_row).collect()
    }

    /// Draft an application for register `register_id`; 404 out of scope, 400 naming a missing
    /// field, 409 when the register is in no state to file it.
    pub async fn create_tax_application(
        &self,
        register_id: i64,
        new: &NewApplication,
    ) -> Result<TaxApplication, StoreError> {
        let register = self
            .register(register_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("register {register_id}")))?;
        let inn = register.org_inn.clone().unwrap_or_default();
        let org = self
            .organisation_by_inn(&inn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("register {register_id}")))?;
        let fits = match new.kind {
            ApplicationKind::Registration => register.lifecycle == Lifecycle::Saved,
            ApplicationKind::Reregistration => matches!(
                register.lifecycle,
                Lifecycle::Registered | Lifecycle::Active | Lifecycle::Blocked
            ),
            ApplicationKind::Deregistration => register.lifecycle != Lifecycle::Deregistered,
        };
        if !fits {
            return Err(StoreError::Conflict(format!(
                "kind: a {} application does not fit a register that is {}",
                new.kind.as_str(),
                register.lifecycle.as_str()
            )));
        }
        if new.kind == ApplicationKind::Reregistration && new.reasons.is_empty() {
            return Err(StoreError::Invalid(
                "reasons: a re-registration says what changes (new_address, new_drive, \
                 new_ofd, other)"
                    .into(),
            ));
        }
        if new.kind == ApplicationKind::Deregistration {
            match new.deregistration_reason {
                None => {
                    return Err(StoreError::Invalid(
                        "deregistration_reason: a deregistration needs its reason".into(),
                    ))
                }
                Some(DeregistrationReason::Other)
                    if new
                        .deregistration_text
                        .as_deref()
                        .is_none_or(|t| t.trim().is_empty()) =>
                {
                    return Err(StoreError::Invalid(
                        "deregistration_text: the reason 'other' needs a text".into(),
                    ))
                }
                Some(_) => {}
            }
        }
        let point_of_sale = match register.pos_id {
            Some(pos) => self.point_of_sale(pos).await?.map(|p| p.fields),
            None => None,
        };
        let fields = ApplicationFields {
            org_inn: org.inn.clone(),
            org_name: org.name.clone(),
            dialect: register.dialect.as_str().to_owned(),
            model: register.model.clone(),
            serial: register.serial.clone(),
            fn_number: register.fn_number.clone(),
            fn_model: register.details.fn_model.clone(),
            system_id: register.system_id,
            reg_number: register.reg_number.clone(),
            point_of_sale,
            reregistration_reasons: new.reasons.clone(),
            deregistration_reason: new.deregistration_reason,
            deregistration_text: new.deregistration_text.clone(),
            answer_reg_number: None,
            answer_registered_at: None,
        };
        let text = serde_json::to_string(&fields)
            .map_err(|e| StoreError::Invalid(format!("fields: {e}")))?;
        let now = unix_millis();
        let mut tx = self.store.begin_write().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO tax_applications (org_id, register_id, kind, status, fields, \
             created_at, updated_at) VALUES ($1, $2, $3, 'draft', $4, $5, $5) \
             RETURNING {APPLICATION_COLUMNS}"
        ))
        .bind(org.id)
        .bind(register_id)
        .bind(new.kind.as_str())
        .bind(text)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let application = application_from_row(&row)?;
        let mut entry = self.entry(
            Some(org.id),
            "application.create",
            format!("application:{}", application.id),
        );
        entry.detail = Some(format!("{} of register:{register_id}", new.kind.as_str()));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(application)
    }

    /// Move application `id` by `action` (its register follows, see the module header);
    /// `signature`/`signer` for [`ApplicationAction::Sign`], `answer` for accept/refuse.
    /// 404 out of scope, 409 not allowed from its status, 400 naming a missing field.
    pub async fn advance_tax_application(
        &self,
        id: i64,
        action: ApplicationAction,
        signature: Option<(String, String)>,
        answer: Option<&ApplicationAnswer>,
    ) -> Result<TaxApplication, StoreError> {
        let application = self.scoped_application(id).await?;
        let to = next_status(application.status, action).ok_or_else(|| {
            StoreError::Conflict(format!(
                "status: an application that is {} cannot take {:?}",
                application.status.as_str(),
                action
            ))
        })?;
        let now = unix_millis();
        let actor = self.actor.label();
        let register_id = application.register_id;
        let mut fields = application.fields.clone();
        let mut refusal_reason = None;
        let mut tx = self.store.begin_write().await?;
        match (action, application.kind) {
            (ApplicationAction::Submit, ApplicationKind::Registration) => {
                transition(
                    &mut tx,
                    register_id,
                    &Change::To(Lifecycle::Submitted),
                    &actor,
                    now,
                )
                .await?;
            }
            (ApplicationAction::Submit, ApplicationKind::Reregistration) => {
                transition(
                    &mut tx,
                    register_id,
                    &Change::To(Lifecycle::Reregistration),
                    &actor,
                    now,
                )
                .await?;
            }
            (ApplicationAction::Accept, ApplicationKind::Deregistration) => {
                let reason = fields
                    .deregistration_reason
                    .unwrap_or(DeregistrationReason::Other);
                let change = Change::Deregister(reason, fields.deregistration_text.clone());
                transition(&mut tx, register_id, &change, &actor, now).await?;
            }
            (ApplicationAction::Accept, _) => {
                let answer =
                    answer.ok_or_else(|| StoreError::Invalid("accepted: missing".into()))?;
                let reg_number = answer.reg_number.as_deref().ok_or_else(|| {
                    StoreError::Invalid(
                        "reg_number: an accepted registration carries the registration number"
                            .into(),
                    )
                })?;
                let registered_at = answer.registered_at.unwrap_or(now);
                self.enter_registration_in(&mut tx, register_id, reg_number, registered_at)
                    .await?;
                fields.answer_reg_number = Some(reg_number.to_owned());
                fields.answer_registered_at = Some(registered_at);
            }
            (ApplicationAction::Refuse, kind) => {
                let reason = answer
                    .and_then(|a| a.refusal_reason.clone())
                    .filter(|r| !r.trim().is_empty())
                    .ok_or_else(|| {
                        StoreError::Invalid(
                            "refusal_reason: a refusal carries the tax authority's reason".into(),
                        )
                    })?;
                if kind == ApplicationKind::Registration {
                    // Back to the owner for correction.
                    transition(&mut tx, register_id, &Change::Edit, &actor, now).await?;
                }
                refusal_reason = Some(reason);
            }
            _ => {}
        }
        let (signature, signer) = match (action, signature) {
            (ApplicationAction::Sign, Some((signature, signer))) => (Some(signature), Some(signer)),
            (ApplicationAction::Sign, None) => {
                return Err(StoreError::Invalid("signature: missing".into()))
            }
            _ => (application.signature.clone(), application.signer.clone()),
        };
        let text = serde_json::to_string(&fields)
            .map_err(|e| StoreError::Invalid(format!("fields: {e}")))?;
        let row = sqlx::query(&format!(
            "UPDATE tax_applications SET status = $1, fields = $2, signature = $3, signer = $4, \
             refusal_reason = $5, updated_at = $6 WHERE id = $7 AND status = $8 \
             RETURNING {APPLICATION_COLUMNS}"
        ))
        .bind(to.as_str())
        .bind(text)
        .bind(signature)
        .bind(signer)
        .bind(refusal_reason)
        .bind(now)
        .bind(id)
        .bind(application.status.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::Conflict(format!("application {id} changed meanwhile")))?;
        let updated = application_from_row(&row)?;
        let action_name = match action {
            ApplicationAction::Sign => "application.sign",
            ApplicationAction::Submit => "application.submit",
            ApplicationAction::Accept | ApplicationAction::Refuse => "application.answer",
        };
        let mut entry = self.entry(
            Some(application.org_id),
            action_name,
            format!("application:{id}"),
        );
        entry.detail = Some(format!(
            "{} -> {}",
            application.status.as_str(),
            to.as_str()
        ));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(updated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ApplicationAction as A;
    use ApplicationStatus as S;

    #[test]
    fn application_statuses_move_only_forward() {
        let all = [S::Draft, S::Signed, S::Submitted, S::Accepted, S::Refused];
        let actions = [A::Sign, A::Submit, A::Accept, A::Refuse];
        let allowed = [
            (S::Draft, A::Sign, S::Signed),
            (S::Draft, A::Submit, S::Submitted),
            (S::Signed, A::Submit, S::Submitted),
            (S::Submitted, A::Accept, S::Accepted),
            (S::Submitted, A::Refuse, S::Refused),
        ];
        for from in all {
            for action in actions {
                let expected = allowed
                    .iter()
                    .find(|(f, a, _)| *f == from && *a == action)
                    .map(|(_, _, to)| *to);
                assert_eq!(next_status(from, action), expected, "{from:?} {action:?}");
            }
        }
    }
}
