//! Points of sale: addresses kept once per organisation and shared by its registers
//! (`points_of_sale`, `registers.pos_id`). Reads and changes go through the caller's
//! [`Tenant`], scoped by organisation like every cabinet object; each change writes its audit
//! line in its own transaction. A point of sale that registers still name cannot be deleted.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row as _};

use super::identity::audit_in;
use super::tenancy::SCOPE_ORG_ID;
use super::{StoreError, Tenant};
use crate::clock::unix_millis;

const POS_COLUMNS: &str = "id, org_id, name, region, city, street, house, premises, postal_code, \
     location, fias_code, kato_code, created_at, updated_at";

/// The address fields of a point of sale, as entered.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct PosFields {
    /// The point of sale's name ("АЗС №3"); required.
    pub name: String,
    /// Region (область, край, республика).
    pub region: Option<String>,
    /// City or settlement.
    pub city: Option<String>,
    /// Street.
    pub street: Option<String>,
    /// House.
    pub house: Option<String>,
    /// Premises (office, flat, pavilion).
    pub premises: Option<String>,
    /// Postal code (6 digits in both countries).
    pub postal_code: Option<String>,
    /// Free-form location ("junction of routes M-36 and R-35").
    pub location: Option<String>,
    /// RU: the ФИАС/ГАР code of the address.
    pub fias_code: Option<String>,
    /// KZ: the КАТО code of the settlement (9 digits).
    pub kato_code: Option<String>,
}

/// A stored point of sale.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PointOfSale {
    /// Row id.
    pub id: i64,
    /// The owning organisation.
    pub org_id: i64,
    /// The address.
    #[serde(flatten)]
    pub fields: PosFields,
    /// Created (UTC ms).
    pub created_at: i64,
    /// Last changed (UTC ms).
    pub updated_at: i64,
}

fn pos_from_row(row: &AnyRow) -> Result<PointOfSale, StoreError> {
    Ok(PointOfSale {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        fields: PosFields {
            name: row.try_get("name")?,
            region: row.try_get("region")?,
            city: row.try_get("city")?,
            street: row.try_get("street")?,
            house: row.try_get("house")?,
            premises: row.try_get("premises")?,
            postal_code: row.try_get("postal_code")?,
            location: row.try_get("location")?,
            fias_code: row.try_get("fias_code")?,
            kato_code: row.try_get("kato_code")?,
        },
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Refuse fields that cannot be an address; the message names the field.
pub fn check_pos_fields(fields: &PosFields) -> Result<(), StoreError> {
    if fields.name.trim().is_empty() || fields.name.chars().count() > 200 {
        return Err(StoreError::Invalid(
            "name: a point of sale needs a name of 1 to 200 characters".into(),
        ));
    }
    let digits = |field: &str, value: &Option<String>, lens: &[usize]| match value {
        Some(v) if !(lens.contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit())) => {
            Err(StoreError::Invalid(format!(
                "{field}: {v:?} must be {} decimal digits",
                lens.iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(" or ")
            )))
        }
        _ => Ok(()),
    };
    digits("postal_code", &fields.postal_code, &[6])?;
    digits("kato_code", &fields.kato_code, &[9])?;
    if let Some(fias) = &fields.fias_code {
        // ФИАС/ГАР object GUIDs: 36 characters, hex digits and dashes.
        let shape = fias.len() == 36
            && fias.chars().enumerate().all(|(i, c)| {
                if [8, 13, 18, 23].contains(&i) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }
            });
        if !shape {
            return Err(StoreError::Invalid(format!(
                "fias_code: {fias:?} must be a ФИАС/ГАР GUID (8-4-4-4-12 hex digits)"
            )));
        }
    }
    Ok(())
}

impl Tenant {
    /// The points of sale in scope, by id.
    pub async fn points_of_sale(&self) -> Result<Vec<PointOfSale>, StoreError> {
        let sql =
            format!("SELECT {POS_COLUMNS} FROM points_of_sale WHERE {SCOPE_ORG_ID} ORDER BY id");
        self.scoped_rows(&sql, pos_from_row).await
    }

    /// The point of sale `id`, if in scope.
    pub async fn point_of_sale(&self, id: i64) -> Result<Option<PointOfSale>, StoreError> {
        let sql =
            format!("SELECT {POS_COLUMNS} FROM points_of_sale WHERE {SCOPE_ORG_ID} AND id = $3");
        self.scoped_row_by_id(&sql, id, pos_from_row).await
    }

    /// Enter a point of sale of organisation `org_id` (which must be in scope).
    pub async fn create_point_of_sale(
        &self,
        org_id: i64,
        fields: &PosFields,
    ) -> Result<PointOfSale, StoreError> {
        check_pos_fields(fields)?;
        if self.organisation(org_id).await?.is_none() {
            return Err(StoreError::NotFound(format!("organisation {org_id}")));
        }
        let now = unix_millis();
        let mut tx = self.store.begin_write().await?;
        let sql = format!(
            "INSERT INTO points_of_sale (org_id, name, region, city, street, house, premises, \
             postal_code, location, fias_code, kato_code, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) \
             RETURNING {POS_COLUMNS}"
        );
        let row = bind_fields(sqlx::query(&sql).bind(org_id), fields)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        let pos = pos_from_row(&row)?;
        let entry = self.entry(Some(org_id), "pos.create", format!("pos:{}", pos.id));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(pos)
    }

    /// Replace the address of point of sale `id`; 404 when out of scope.
    pub async fn update_point_of_sale(
        &self,
        id: i64,
        fields: &PosFields,
    ) -> Result<PointOfSale, StoreError> {
        check_pos_fields(fields)?;
        let current = self
            .point_of_sale(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("point of sale {id}")))?;
        let now = unix_millis();
        let mut tx = self.store.begin_write().await?;
        let sql = format!(
            "UPDATE points_of_sale SET name = $2, region = $3, city = $4, street = $5, \
             house = $6, premises = $7, postal_code = $8, location = $9, fias_code = $10, \
             kato_code = $11, updated_at = $12 WHERE id = $1 RETURNING {POS_COLUMNS}"
        );
        let row = bind_fields(sqlx::query(&sql).bind(id), fields)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        let entry = self.entry(Some(current.org_id), "pos.update", format!("pos:{id}"));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        pos_from_row(&row)
    }

    /// Delete point of sale `id`; 404 when out of scope, 409 while registers name it.
    pub async fn delete_point_of_sale(&self, id: i64) -> Result<(), StoreError> {
        let current = self
            .point_of_sale(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("point of sale {id}")))?;
        let now = unix_millis();
        let mut tx = self.store.begin_write().await?;
        let used: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM registers WHERE pos_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        if used > 0 {
            return Err(StoreError::Conflict(format!(
                "id: point of sale {id} still has {used} register(s); move them first"
            )));
        }
        sqlx::query("DELETE FROM points_of_sale WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let entry = self.entry(Some(current.org_id), "pos.delete", format!("pos:{id}"));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn bind_fields<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    fields: &'q PosFields,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(fields.name.trim())
        .bind(fields.region.as_deref())
        .bind(fields.city.as_deref())
        .bind(fields.street.as_deref())
        .bind(fields.house.as_deref())
        .bind(fields.premises.as_deref())
        .bind(fields.postal_code.as_deref())
        .bind(fields.location.as_deref())
        .bind(fields.fias_code.as_deref())
        .bind(fields.kato_code.as_deref())
}

/// A point of sale as a register's INFO and SYSTEM replies name it: its name and its address
/// in one line (location last), read by ingest with the register's cached row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PointOfSaleLine {
    /// Its name, e.g. "АЗС №3".
    pub name: String,
    /// Postal code, region, city, street, house, premises and location, comma-separated.
    pub address: Option<String>,
}

/// Point of sale `id` as a register names it, on `conn`.
pub async fn point_of_sale_line_in(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<PointOfSaleLine>, StoreError> {
    let row = sqlx::query(
        "SELECT name, postal_code, region, city, street, house, premises, location \
         FROM points_of_sale WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    point_of_sale_line_from(&row, "").map(Some)
}

/// The parts of a point-of-sale address, in the order a register prints them.
const ADDRESS_PARTS: [&str; 7] = [
    "postal_code",
    "region",
    "city",
    "street",
    "house",
    "premises",
    "location",
];

/// A [`PointOfSaleLine`] from `row`, whose columns are `name` and the address parts, each
/// prefixed with `prefix` (a joined read names them apart from the register's own).
pub(crate) fn point_of_sale_line_from(
    row: &AnyRow,
    prefix: &str,
) -> Result<PointOfSaleLine, StoreError> {
    let mut parts = Vec::new();
    for column in ADDRESS_PARTS {
        let part: Option<String> = row.try_get(format!("{prefix}{column}").as_str())?;
        if let Some(part) = part.filter(|p| !p.trim().is_empty()) {
            parts.push(part);
        }
    }
    Ok(PointOfSaleLine {
        name: row.try_get(format!("{prefix}name").as_str())?,
        address: (!parts.is_empty()).then(|| parts.join(", ")),
    })
}
