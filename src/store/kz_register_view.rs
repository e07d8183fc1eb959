//! A KZ register as the ingest exchange holds it, read in one statement: its `registers` row,
//! the version of its `kz_state`, its organisation as the cabinet keeps it (name, address,
//! catalogue version) and its point of sale.
//!
//! The exchange re-reads a cached register every `register_cache_ms` so that a block, a token
//! reset or a cabinet edit reaches it. That was four pool queries per register (row, state,
//! organisation, point of sale), each a hand-off to the driver's thread; joined, it is one, and
//! the state itself is read again only when its version is not the one held (the state is
//! only ever written with a new version, so an equal version is an equal state).

use sqlx::AnyConnection;
use sqlx::Row as _;

use super::catalogue::OrgFacts;
use super::points_of_sale::{point_of_sale_line_from, PointOfSaleLine};
use super::registers::{register_from_row, REGISTER_COLUMNS};
use super::{Register, StoreError};

/// What [`kz_register_view_in`] read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KzRegisterView {
    /// The register's row.
    pub register: Register,
    /// The version of its KZ state; `None` while it has none (version 0).
    pub state_version: Option<i64>,
    /// Its owner as the cabinet keeps it (`None`: no organisation entered for its INN).
    pub org: Option<OrgFacts>,
    /// Where it stands (`None`: no point of sale set, or not found).
    pub point_of_sale: Option<PointOfSaleLine>,
}

/// The register with `system_id` and what the exchange holds beside it, on `conn`, in one
/// statement.
pub async fn kz_register_view_in(
    conn: &mut AnyConnection,
    system_id: i64,
) -> Result<Option<KzRegisterView>, StoreError> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let register: Vec<String> = REGISTER_COLUMNS
            .split(',')
            .map(|c| format!("r.{0} AS {0}", c.trim()))
            .collect();
        format!(
            "SELECT {}, s.version AS kz_version, o.id AS org_id, o.name AS org_name, \
             COALESCE(o.actual_address, o.legal_address) AS org_address, \
             COALESCE(c.version, 0) AS org_catalogue_version, p.id AS pos_row, \
             p.name AS pos_name, p.postal_code AS pos_postal_code, p.region AS pos_region, \
             p.city AS pos_city, p.street AS pos_street, p.house AS pos_house, \
             p.premises AS pos_premises, p.location AS pos_location \
             FROM registers r \
             LEFT JOIN kz_state s ON s.system_id = r.system_id \
             LEFT JOIN organisations o ON o.inn = r.org_inn \
             LEFT JOIN catalogues c ON c.org_id = o.id \
             LEFT JOIN points_of_sale p ON p.id = r.pos_id \
             WHERE r.system_id = $1",
            register.join(", ")
        )
    });
    let Some(row) = sqlx::query(SQL.as_str())
        .bind(system_id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let register = register_from_row(&row)?;
    let org = match row.try_get::<Option<i64>, _>("org_id")? {
        Some(org_id) => Some(OrgFacts {
            org_id,
            name: row.try_get("org_name")?,
            address: row.try_get("org_address")?,
            catalogue_version: row.try_get("org_catalogue_version")?,
        }),
        None => None,
    };
    let point_of_sale = match row.try_get::<Option<i64>, _>("pos_row")? {
        Some(_) => Some(point_of_sale_line_from(&row, "pos_")?),
        None => None,
    };
    Ok(Some(KzRegisterView {
        register,
        state_version: row.try_get("kz_version")?,
        org,
        point_of_sale,
    }))
}
