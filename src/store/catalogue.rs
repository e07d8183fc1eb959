//! An organisation's product catalogue (name, barcode, price, VAT, section, unit), edited in the
//! cabinet and imported from CSV, and served to its KZ registers by the NOMENCLATURE command.
//!
//! Versioning: `catalogues.version` counts the organisation's catalogue changes. Every change
//! (add, edit, delete, an import that stored a row) bumps it in the change's own transaction, so
//! a version names exactly one set of items. A register asks with the version it holds; the
//! ingest server answers with the items only when the stored version is newer. Version 0 (no
//! row) means no catalogue was ever made.
//!
//! The ingest side reads through [`org_facts_in`] (the organisation's name, address and
//! catalogue version, read with the register when its cached row is refreshed) and
//! [`catalogue_in`] (the items, read only when the version the ingest server holds is older).

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row as _};

use super::identity::audit_in;
use super::{StoreError, Tenant};
use crate::clock::unix_millis;

const COLUMNS: &str =
    "id, org_id, name, barcode, price_minor, vat_percent, section, unit, created_at, updated_at";

/// Most items one organisation's catalogue may hold (a register loads them all at once).
pub const MAX_ITEMS: i64 = 10_000;

/// One product.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CatalogueItem {
    /// Row id (the element id registers see).
    pub id: i64,
    /// The organisation.
    pub org_id: i64,
    /// Name as printed on receipts.
    pub name: String,
    /// EAN/UPC barcode, unique within the catalogue.
    pub barcode: Option<String>,
    /// Sale price in minor units.
    pub price_minor: i64,
    /// VAT rate in percent; `None`: not subject to VAT.
    pub vat_percent: Option<i64>,
    /// Section (department) name.
    pub section: Option<String>,
    /// Unit of measure, e.g. `шт`, `кг`.
    pub unit: String,
    /// Created (unix ms).
    pub created_at: i64,
    /// Last changed (unix ms).
    pub updated_at: i64,
}

/// An item as entered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCatalogueItem {
    /// Name.
    pub name: String,
    /// Barcode.
    pub barcode: Option<String>,
    /// Price in minor units.
    pub price_minor: i64,
    /// VAT percent.
    pub vat_percent: Option<i64>,
    /// Section.
    pub section: Option<String>,
    /// Unit.
    pub unit: String,
}

impl NewCatalogueItem {
    /// Refuse an item a register could not sell, naming the field.
    pub fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.name.chars().count() > 256 {
            return Err("name: 1 to 256 characters".to_owned());
        }
        if let Some(barcode) = &self.barcode {
            if barcode.is_empty()
                || barcode.len() > 64
                || !barcode.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(format!(
                    "barcode: {barcode:?} is not 1 to 64 letters and digits"
                ));
            }
        }
        if !(0..=1_000_000_000_000).contains(&self.price_minor) {
            return Err("price: must be between 0 and 10^10 in major units".to_owned());
        }
        if self.vat_percent.is_some_and(|v| !(0..=100).contains(&v)) {
            return Err("vat_percent: 0 to 100".to_owned());
        }
        if self.unit.trim().is_empty() || self.unit.chars().count() > 32 {
            return Err("unit: 1 to 32 characters".to_owned());
        }
        if self
            .section
            .as_ref()
            .is_some_and(|s| s.chars().count() > 128)
        {
            return Err("section: at most 128 characters".to_owned());
        }
        Ok(())
    }
}

/// An organisation's catalogue at one version.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Catalogue {
    /// Version (0: never made).
    pub version: i64,
    /// When that version was made (unix ms; 0 for version 0).
    pub updated_at: i64,
    /// The items, by id.
    pub items: Vec<CatalogueItem>,
}

/// What the KZ exchange tells a register about its organisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgFacts {
    /// Organisation id.
    pub org_id: i64,
    /// Name.
    pub name: String,
    /// Actual address, else the legal one.
    pub address: Option<String>,
    /// Current catalogue version.
    pub catalogue_version: i64,
}

/// What one row of a catalogue import did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ImportedRow {
    /// Line in the file (1 = the header).
    pub line: u64,
    /// `created`, `updated` or `error`.
    pub result: &'static str,
    /// The item's id when stored.
    pub id: Option<i64>,
    /// Why the row was refused.
    pub error: Option<String>,
}

fn item_from_row(row: &AnyRow) -> Result<CatalogueItem, StoreError> {
    Ok(CatalogueItem {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        name: row.try_get("name")?,
        barcode: row.try_get("barcode")?,
        price_minor: row.try_get("price_minor")?,
        vat_percent: row.try_get("vat_percent")?,
        section: row.try_get("section")?,
        unit: row.try_get("unit")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The organisation with taxpayer number `inn` as its registers see it, on `conn`.
pub async fn org_facts_in(
    conn: &mut AnyConnection,
    inn: &str,
) -> Result<Option<OrgFacts>, StoreError> {
    let row = sqlx::query(
        "SELECT o.id AS id, o.name AS name, \
         COALESCE(o.actual_address, o.legal_address) AS address, \
         COALESCE(c.version, 0) AS version \
         FROM organisations o LEFT JOIN catalogues c ON c.org_id = o.id WHERE o.inn = $1",
    )
    .bind(inn)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| {
        Ok(OrgFacts {
            org_id: row.try_get("id")?,
            name: row.try_get("name")?,
            address: row.try_get("address")?,
            catalogue_version: row.try_get("version")?,
        })
    })
    .transpose()
}

/// Organisation `org_id`'s catalogue, on `conn` (version and items read in one statement
/// order: the version first, so items are never older than the version they are served as).
pub async fn catalogue_in(conn: &mut AnyConnection, org_id: i64) -> Result<Catalogue, StoreError> {
    let head = sqlx::query("SELECT version, updated_at FROM catalogues WHERE org_id = $1")
        .bind(org_id)
        .fetch_optional(&mut *conn)
        .await?;
    let (version, updated_at) = match head {
        Some(row) => (row.try_get("version")?, row.try_get("updated_at")?),
        None => (0, 0),
    };
    let sql = format!("SELECT {COLUMNS} FROM catalogue_items WHERE org_id = $1 ORDER BY id");
    let rows = sqlx::query(&sql).bind(org_id).fetch_all(&mut *conn).await?;
    Ok(Catalogue {
        version,
        updated_at,
        items: rows.iter().map(item_from_row).collect::<Result<_, _>>()?,
    })
}

/// Count one change of organisation `org_id`'s catalogue.
async fn bump_version_in(
    conn: &mut AnyConnection,
    org_id: i64,
    now: i64,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO catalogues (org_id, version, updated_at) VALUES ($1, 1, $2) \
         ON CONFLICT (org_id) DO UPDATE SET version = catalogues.version + 1, updated_at = $2 \
         RETURNING version",
    )
    .bind(org_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?)
}

/// Insert `item`, or update the item with its barcode; the id and whether it was new.
async fn upsert_in(
    conn: &mut AnyConnection,
    org_id: i64,
    item: &NewCatalogueItem,
    now: i64,
) -> Result<(i64, bool), StoreError> {
    if let Some(barcode) = &item.barcode {
        let existing: Option<i64> =
            sqlx::query_scalar("SELECT id FROM catalogue_items WHERE org_id = $1 AND barcode = $2")
                .bind(org_id)
                .bind(barcode)
                .fetch_optional(&mut *conn)
                .await?;
        if let Some(id) = existing {
            update_in(conn, org_id, id, item, now).await?;
            return Ok((id, false));
        }
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM catalogue_items WHERE org_id = $1")
        .bind(org_id)
        .fetch_one(&mut *conn)
        .await?;
    if count >= MAX_ITEMS {
        return Err(StoreError::Invalid(format!(
            "the catalogue holds its maximum of {MAX_ITEMS} items"
        )));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO catalogue_items (org_id, name, barcode, price_minor, vat_percent, section, \
         unit, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(org_id)
    .bind(item.name.trim())
    .bind(&item.barcode)
    .bind(item.price_minor)
    .bind(item.vat_percent)
    .bind(&item.section)
    .bind(item.unit.trim())
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok((id, true))
}

/// Overwrite item `id` of `org_id`; 409 when another item has the barcode.
async fn update_in(
    conn: &mut AnyConnection,
    org_id: i64,
    id: i64,
    item: &NewCatalogueItem,
    now: i64,
) -> Result<CatalogueItem, StoreError> {
    if let Some(barcode) = &item.barcode {
        let other: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM catalogue_items WHERE org_id = $1 AND barcode = $2 AND id <> $3",
        )
        .bind(org_id)
        .bind(barcode)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(other) = other {
            return Err(StoreError::Conflict(format!(
                "barcode: item {other} already has barcode {barcode}"
            )));
        }
    }
    let sql = format!(
        "UPDATE catalogue_items SET name = $1, barcode = $2, price_minor = $3, vat_percent = $4, \
         section = $5, unit = $6, updated_at = $7 WHERE org_id = $8 AND id = $9 \
         RETURNING {COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(item.name.trim())
        .bind(&item.barcode)
        .bind(item.price_minor)
        .bind(item.vat_percent)
        .bind(&item.section)
        .bind(item.unit.trim())
        .bind(now)
        .bind(org_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("catalogue item {id}")))?;
    item_from_row(&row)
}

impl Tenant {
    /// Organisation `org_id`'s catalogue (404 out of scope).
    pub async fn catalogue(&self, org_id: i64) -> Result<Catalogue, StoreError> {
        if self.organisation(org_id).await?.is_none() {
            return Err(StoreError::NotFound(format!("organisation {org_id}")));
        }
        let mut conn = self.store().pool().acquire().await?;
        catalogue_in(&mut conn, org_id).await
    }

    /// The organisation of catalogue item `id` in scope, or 404.
    async fn item_org(&self, id: i64) -> Result<i64, StoreError> {
        let org: Option<i64> =
            sqlx::query_scalar("SELECT org_id FROM catalogue_items WHERE id = $1")
                .bind(id)
                .fetch_optional(self.store().pool())
                .await?;
        match org {
            Some(org) if self.organisation(org).await?.is_some() => Ok(org),
            _ => Err(StoreError::NotFound(format!("catalogue item {id}"))),
        }
    }

    /// Add `item` to organisation `org_id`'s catalogue (404 out of scope, 400 naming a field,
    /// 409 for a barcode already in it).
    pub async fn add_catalogue_item(
        &self,
        org_id: i64,
        item: &NewCatalogueItem,
    ) -> Result<CatalogueItem, StoreError> {
        item.check().map_err(StoreError::Invalid)?;
        if self.organisation(org_id).await?.is_none() {
            return Err(StoreError::NotFound(format!("organisation {org_id}")));
        }
        let now = unix_millis();
        let mut tx = self.store().begin_write().await?;
        if let Some(barcode) = &item.barcode {
            let taken: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM catalogue_items WHERE org_id = $1 AND barcode = $2",
            )
            .bind(org_id)
            .bind(barcode)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(other) = taken {
                return Err(StoreError::Conflict(format!(
                    "barcode: item {other} already has barcode {barcode}"
                )));
            }
        }
        let (id, _) = upsert_in(&mut tx, org_id, item, now).await?;
        let version = bump_version_in(&mut tx, org_id, now).await?;
        let mut entry = self.entry(
            Some(org_id),
            "catalogue.add",
            format!("catalogue_item:{id}"),
        );
        entry.detail = Some(format!("version {version}"));
        audit_in(&mut tx, &entry, now).await?;
        let sql = format!("SELECT {COLUMNS} FROM catalogue_items WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_one(&mut *tx).await?;
        let stored = item_from_row(&row)?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Overwrite catalogue item `id` (404 out of scope).
    pub async fn update_catalogue_item(
        &self,
        id: i64,
        item: &NewCatalogueItem,
    ) -> Result<CatalogueItem, StoreError> {
        item.check().map_err(StoreError::Invalid)?;
        let org_id = self.item_org(id).await?;
        let now = unix_millis();
        let mut tx = self.store().begin_write().await?;
        let stored = update_in(&mut tx, org_id, id, item, now).await?;
        let version = bump_version_in(&mut tx, org_id, now).await?;
        let mut entry = self.entry(
            Some(org_id),
            "catalogue.update",
            format!("catalogue_item:{id}"),
        );
        entry.detail = Some(format!("version {version}"));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Remove catalogue item `id` (404 out of scope).
    pub async fn delete_catalogue_item(&self, id: i64) -> Result<(), StoreError> {
        let org_id = self.item_org(id).await?;
        let now = unix_millis();
        let mut tx = self.store().begin_write().await?;
        sqlx::query("DELETE FROM catalogue_items WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
        let version = bump_version_in(&mut tx, org_id, now).await?;
        let mut entry = self.entry(
            Some(org_id),
            "catalogue.delete",
            format!("catalogue_item:{id}"),
        );
        entry.detail = Some(format!("version {version}"));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Import `rows` (line number, the parsed item or why the line does not parse) into
    /// organisation `org_id`'s catalogue: an item whose barcode is already there is updated,
    /// others are added. One transaction and one new version for the whole file; the report
    /// has one entry per row.
    pub async fn import_catalogue(
        &self,
        org_id: i64,
        rows: Vec<(u64, Result<NewCatalogueItem, String>)>,
    ) -> Result<Vec<ImportedRow>, StoreError> {
        if self.organisation(org_id).await?.is_none() {
            return Err(StoreError::NotFound(format!("organisation {org_id}")));
        }
        let now = unix_millis();
        let mut tx = self.store().begin_write().await?;
        let mut report = Vec::with_capacity(rows.len());
        let mut stored = 0usize;
        for (line, parsed) in rows {
            let outcome = match parsed.and_then(|item| item.check().map(|()| item)) {
                Err(error) => Err(error),
                Ok(item) => match upsert_in(&mut tx, org_id, &item, now).await {
                    Ok(done) => Ok(done),
                    Err(StoreError::Invalid(error)) => Err(error),
                    Err(other) => return Err(other),
                },
            };
            report.push(match outcome {
                Ok((id, created)) => {
                    stored += 1;
                    ImportedRow {
                        line,
                        result: if created { "created" } else { "updated" },
                        id: Some(id),
                        error: None,
                    }
                }
                Err(error) => ImportedRow {
                    line,
                    result: "error",
                    id: None,
                    error: Some(error),
                },
            });
        }
        if stored > 0 {
            let version = bump_version_in(&mut tx, org_id, now).await?;
            let mut entry = self.entry(
                Some(org_id),
                "catalogue.import",
                format!("organisation:{org_id}"),
            );
            entry.detail = Some(format!(
                "{stored} of {} rows stored, version {version}",
                report.len()
            ));
            audit_in(&mut tx, &entry, now).await?;
        }
        tx.commit().await?;
        Ok(report)
    }
}
