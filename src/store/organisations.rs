//! Organisations: the taxpayers that own registers, keyed by taxpayer number (RU ИНН, KZ
//! БИН/ИИН) and carrying the requisites of the cabinet's card (КПП, names, addresses, contacts,
//! bank). The country decides which checks apply ([`super::tax_id`]). Registers name their owner
//! by `registers.org_inn`; rows are never deleted, like registers, so that old documents keep an
//! owner.
//!
//! Reading organisations on a caller's behalf goes through [`super::tenancy::Tenant`].

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row as _};

use super::tax_id::{check_bik, check_kpp, check_tax_id, Country};
use super::{Store, StoreError};
use crate::clock::unix_millis;

/// Longest organisation name accepted.
const MAX_NAME_CHARS: usize = 512;
/// Longest free-text requisite (address, bank name) accepted.
const MAX_TEXT_CHARS: usize = 1024;

/// Columns of `organisations` read by [`organisation_from_row`].
pub(crate) const ORGANISATION_COLUMNS: &str = "id, inn, name, country, kpp, short_name, \
    org_type, legal_address, actual_address, phone, email, bank_name, bank_bik, bank_account, \
    created_at, updated_at";

/// A taxpayer that owns registers.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Organisation {
    /// Row id.
    pub id: i64,
    /// Taxpayer number: RU ИНН (10 or 12 digits) or KZ БИН/ИИН (12 digits).
    pub inn: String,
    /// Full registered name.
    pub name: String,
    /// Whose rules apply.
    pub country: Country,
    /// RU КПП.
    pub kpp: Option<String>,
    /// Short name.
    pub short_name: Option<String>,
    /// KZ type (ТОО, ИП, …).
    pub org_type: Option<String>,
    /// Legal address.
    pub legal_address: Option<String>,
    /// Actual address.
    pub actual_address: Option<String>,
    /// Contact phone.
    pub phone: Option<String>,
    /// Contact e-mail.
    pub email: Option<String>,
    /// Bank name.
    pub bank_name: Option<String>,
    /// Bank БИК.
    pub bank_bik: Option<String>,
    /// Bank account (RU 20 digits, KZ IBAN).
    pub bank_account: Option<String>,
    /// Created (UTC, unix milliseconds).
    pub created_at: i64,
    /// Last changed (UTC, unix milliseconds).
    pub updated_at: i64,
}

/// An organisation to enter, with its requisites.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganisation {
    /// Taxpayer number: RU ИНН (10 or 12 digits) or KZ БИН/ИИН (12), check digits validated.
    pub inn: String,
    /// Full registered name.
    pub name: String,
    /// `ru` (default) or `kz`.
    #[serde(default)]
    pub country: Option<Country>,
    /// RU КПП (9 characters); refused for KZ.
    #[serde(default)]
    pub kpp: Option<String>,
    /// Short name.
    #[serde(default)]
    pub short_name: Option<String>,
    /// KZ type: ТОО, ИП, …
    #[serde(default)]
    pub org_type: Option<String>,
    /// Legal address.
    #[serde(default)]
    pub legal_address: Option<String>,
    /// Actual address.
    #[serde(default)]
    pub actual_address: Option<String>,
    /// Contact phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Contact e-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Bank name.
    #[serde(default)]
    pub bank_name: Option<String>,
    /// Bank БИК: RU 9 digits, KZ 8 characters.
    #[serde(default)]
    pub bank_bik: Option<String>,
    /// Bank account: RU 20 digits, KZ IBAN (20 characters starting KZ).
    #[serde(default)]
    pub bank_account: Option<String>,
}

impl NewOrganisation {
    /// An organisation with only a taxpayer number and a name (RU).
    pub fn named(inn: &str, name: &str) -> NewOrganisation {
        NewOrganisation {
            inn: inn.to_owned(),
            name: name.to_owned(),
            ..NewOrganisation::default()
        }
    }

    fn country(&self) -> Country {
        self.country.unwrap_or(Country::Ru)
    }

    /// Refuse requisites that fail their country's checks; the message names the field.
    pub fn check(&self) -> Result<(), StoreError> {
        let invalid = |e: super::tax_id::TaxIdError| StoreError::Invalid(e.to_string());
        let country = self.country();
        check_tax_id(country, "inn", &self.inn).map_err(invalid)?;
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(StoreError::Invalid(format!(
                "name: must be 1 to {MAX_NAME_CHARS} characters"
            )));
        }
        match (country, &self.kpp) {
            (Country::Ru, Some(kpp)) => check_kpp(kpp).map_err(invalid)?,
            (Country::Kz, Some(_)) => {
                return Err(StoreError::Invalid(
                    "kpp: only RU organisations have a КПП".to_owned(),
                ))
            }
            (_, None) => {}
        }
        if let Some(bik) = &self.bank_bik {
            check_bik(country, bik).map_err(invalid)?;
        }
        if let Some(account) = &self.bank_account {
            let ok = match country {
                Country::Ru => account.len() == 20 && account.bytes().all(|b| b.is_ascii_digit()),
                Country::Kz => {
                    account.len() == 20
                        && account.starts_with("KZ")
                        && account
                            .bytes()
                            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
                }
            };
            if !ok {
                return Err(StoreError::Invalid(format!(
                    "bank_account: {account:?} must be {}",
                    match country {
                        Country::Ru => "20 decimal digits",
                        Country::Kz => "an IBAN of 20 characters starting with KZ",
                    }
                )));
            }
        }
        for (field, value) in [
            ("short_name", &self.short_name),
            ("org_type", &self.org_type),
            ("legal_address", &self.legal_address),
            ("actual_address", &self.actual_address),
            ("phone", &self.phone),
            ("email", &self.email),
            ("bank_name", &self.bank_name),
        ] {
            if value.as_ref().is_some_and(|v| {
                v.chars().count() > MAX_TEXT_CHARS || v.chars().any(char::is_control)
            }) {
                return Err(StoreError::Invalid(format!(
                    "{field}: at most {MAX_TEXT_CHARS} printable characters"
                )));
            }
        }
        Ok(())
    }

    /// Bind the 13 requisites as `$1..$13` (inn, name, country, kpp, short_name, org_type,
    /// legal_address, actual_address, phone, email, bank_name, bank_bik, bank_account).
    pub(crate) fn bind_all<'q>(
        &'q self,
        query: Query<'q, Any, AnyArguments<'q>>,
    ) -> Query<'q, Any, AnyArguments<'q>> {
        query
            .bind(&self.inn)
            .bind(self.name.trim())
            .bind(self.country().as_str())
            .bind(&self.kpp)
            .bind(&self.short_name)
            .bind(&self.org_type)
            .bind(&self.legal_address)
            .bind(&self.actual_address)
            .bind(&self.phone)
            .bind(&self.email)
            .bind(&self.bank_name)
            .bind(&self.bank_bik)
            .bind(&self.bank_account)
    }
}

/// Changes to an organisation's card; absent fields stay as they are. The taxpayer number and
/// the country never change (a different taxpayer is a different organisation).
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganisationPatch {
    /// Full registered name.
    pub name: Option<String>,
    /// RU КПП.
    pub kpp: Option<String>,
    /// Short name.
    pub short_name: Option<String>,
    /// KZ type.
    pub org_type: Option<String>,
    /// Legal address.
    pub legal_address: Option<String>,
    /// Actual address.
    pub actual_address: Option<String>,
    /// Contact phone.
    pub phone: Option<String>,
    /// Contact e-mail.
    pub email: Option<String>,
    /// Bank name.
    pub bank_name: Option<String>,
    /// Bank БИК.
    pub bank_bik: Option<String>,
    /// Bank account.
    pub bank_account: Option<String>,
}

impl OrganisationPatch {
    /// `current` with this patch laid over it, as an organisation to check and store.
    pub fn over(&self, current: &Organisation) -> NewOrganisation {
        let pick = |new: &Option<String>, old: &Option<String>| new.clone().or_else(|| old.clone());
        NewOrganisation {
            inn: current.inn.clone(),
            name: self.name.clone().unwrap_or_else(|| current.name.clone()),
            country: Some(current.country),
            kpp: pick(&self.kpp, &current.kpp),
            short_name: pick(&self.short_name, &current.short_name),
            org_type: pick(&self.org_type, &current.org_type),
            legal_address: pick(&self.legal_address, &current.legal_address),
            actual_address: pick(&self.actual_address, &current.actual_address),
            phone: pick(&self.phone, &current.phone),
            email: pick(&self.email, &current.email),
            bank_name: pick(&self.bank_name, &current.bank_name),
            bank_bik: pick(&self.bank_bik, &current.bank_bik),
            bank_account: pick(&self.bank_account, &current.bank_account),
        }
    }
}

pub(crate) fn organisation_from_row(row: &AnyRow) -> Result<Organisation, StoreError> {
    let country: String = row.try_get("country")?;
    Ok(Organisation {
        id: row.try_get("id")?,
        inn: row.try_get("inn")?,
        name: row.try_get("name")?,
        country: Country::parse(&country)
            .ok_or_else(|| StoreError::Corrupt(format!("country {country:?}")))?,
        kpp: row.try_get("kpp")?,
        short_name: row.try_get("short_name")?,
        org_type: row.try_get("org_type")?,
        legal_address: row.try_get("legal_address")?,
        actual_address: row.try_get("actual_address")?,
        phone: row.try_get("phone")?,
        email: row.try_get("email")?,
        bank_name: row.try_get("bank_name")?,
        bank_bik: row.try_get("bank_bik")?,
        bank_account: row.try_get("bank_account")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Enter an organisation (operator provisioning and tools). Refused with
    /// [`StoreError::Invalid`] naming the field whose check fails, and with
    /// [`StoreError::Conflict`] when the taxpayer number is already known.
    pub async fn add_organisation(
        &self,
        new: &NewOrganisation,
    ) -> Result<Organisation, StoreError> {
        new.check()?;
        let sql = format!(
            "INSERT INTO organisations (inn, name, country, kpp, short_name, org_type, \
             legal_address, actual_address, phone, email, bank_name, bank_bik, bank_account, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             $13, $14, $14) ON CONFLICT DO NOTHING RETURNING {ORGANISATION_COLUMNS}"
        );
        let row = new
            .bind_all(sqlx::query(&sql))
            .bind(unix_millis())
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| {
                StoreError::Conflict(format!("inn: organisation {} already exists", new.inn))
            })?;
        organisation_from_row(&row)
    }

    /// Every organisation, oldest first (operator tools and tests; the API reads through
    /// [`super::tenancy::Tenant`]).
    pub async fn list_organisations(&self) -> Result<Vec<Organisation>, StoreError> {
        let sql = format!("SELECT {ORGANISATION_COLUMNS} FROM organisations ORDER BY id");
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(organisation_from_row).collect()
    }
}
