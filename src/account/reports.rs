//! Reports over the projector's tables: shifts of a register (the close report's counters
//! beside the totals computed from the documents, with a mismatch flag, and a KZ shift's X
//! reports with the counters each stated), totals and analytics
//! for a period (by day, ISO week or month; revenue, refunds, receipts, average receipt,
//! receipts per hour, top products, cash vs card), what each RU drive reports as unsent, and
//! delivery status per register and day.
//!
//! Periods are register-local dates (`YYYY-MM-DD`), `to` inclusive. Money is in minor units.
//! Every read goes through the caller's tenant; another organisation's register answers 404.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::{Extension, Json};
use chrono::{Datelike as _, NaiveDate};

use super::auth::{Caller, Permission};
use super::documents::parse_local;
use super::error::ApiError;
use crate::store::reports::{
    day_text, DayFigures, DeliveryDay, ProductFigures, RegisterSet, ShiftRow, UnsentRow,
};

/// Days a drive may hold a document unsent before the register is blocked.
pub const UNSENT_BLOCK_DAYS: i64 = 30;
/// Longest period one report covers.
const MAX_PERIOD_DAYS: i64 = 3 * 366;

fn bad(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_query", format!("{field}: {message}"))
}

/// `[from_day, to_day)` of a `from`/`to` date pair (`to` inclusive; both required).
fn period(from: Option<&str>, to: Option<&str>) -> Result<(i64, i64), ApiError> {
    let from = from.ok_or_else(|| bad("from", "required (YYYY-MM-DD)"))?;
    let to = to.ok_or_else(|| bad("to", "required (YYYY-MM-DD)"))?;
    let from_day = parse_local("from", from, false)?.div_euclid(86_400);
    let to_day = parse_local("to", to, true)?.div_euclid(86_400);
    if to_day <= from_day {
        return Err(bad("to", "must not be before from"));
    }
    if to_day - from_day > MAX_PERIOD_DAYS {
        return Err(bad(
            "to",
            format!("a period is at most {MAX_PERIOD_DAYS} days"),
        ));
    }
    Ok((from_day, to_day))
}

/// Query of `GET /api/v1/registers/{id}/shifts`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ShiftsQuery {
    /// Shifts opened on or after this local date.
    pub from: Option<String>,
    /// Shifts opened on or before this local date.
    pub to: Option<String>,
    /// Most shifts, 1 to 1000 (default 100).
    pub limit: Option<i64>,
}

/// Answer of `GET /api/v1/registers/{id}/shifts`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ShiftList {
    /// Newest first.
    pub shifts: Vec<ShiftRow>,
}

/// `GET /api/v1/registers/{id}/shifts` → the register's shifts, newest first.
#[utoipa::path(get, path = "/api/v1/registers/{id}/shifts", params(
    ("id" = i64, Path, description = "register id"), ShiftsQuery),
    responses((status = 200, body = ShiftList), (status = 400), (status = 404)))]
pub async fn shifts(
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    query: Result<Query<ShiftsQuery>, QueryRejection>,
) -> Result<Json<ShiftList>, ApiError> {
    let Path(id) = id?;
    let Query(query) = query?;
    if caller.0.register(id).await?.is_none() {
        return Err(ApiError::not_found(format!("register {id}")));
    }
    caller.require(Permission::ReadReports)?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(bad("limit", "must be between 1 and 1000"));
    }
    let from = query
        .from
        .as_deref()
        .map(|t| parse_local("from", t, false))
        .transpose()?;
    let to = query
        .to
        .as_deref()
        .map(|t| parse_local("to", t, true))
        .transpose()?;
    let shifts = caller.0.shifts(id, from, to, limit).await?;
    Ok(Json(ShiftList { shifts }))
}

/// How totals are grouped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Grouping {
    /// One bucket per day.
    #[default]
    Day,
    /// Per ISO week (Monday first).
    Week,
    /// Per calendar month.
    Month,
}

/// Query of `GET /api/v1/reports/totals`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TotalsQuery {
    /// First local date of the period.
    pub from: Option<String>,
    /// Last local date of the period (inclusive).
    pub to: Option<String>,
    /// day (default), week or month.
    #[param(value_type = Option<String>)]
    pub group: Option<Grouping>,
    /// Only this register (default: every register in scope).
    pub register_id: Option<i64>,
    /// Only the registers at this point of sale.
    pub point_of_sale_id: Option<i64>,
    /// How many top products (default 10, at most 100).
    pub top: Option<i64>,
}

/// The figures of one bucket (or of the whole period).
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Figures {
    /// First local date of the bucket.
    pub start: String,
    /// Receipts (sales, refunds, corrections, expenses).
    pub receipts: i64,
    /// Sale receipts.
    pub sales_count: i64,
    /// Refund receipts.
    pub refunds_count: i64,
    /// Sales total.
    pub revenue: i64,
    /// Refunds total.
    pub refunds: i64,
    /// Revenue less refunds.
    pub net: i64,
    /// Revenue / sale receipts, rounded down (0 without sales).
    pub average_receipt: i64,
    /// Cash taken, net of cash refunds.
    pub cash: i64,
    /// Card taken, net of card refunds.
    pub card: i64,
}

impl Figures {
    fn add(&mut self, day: &DayFigures) {
        self.receipts += day.receipts;
        self.sales_count += day.sales_count;
        self.refunds_count += day.refunds_count;
        self.revenue += day.revenue;
        self.refunds += day.refunds;
        self.cash += day.cash;
        self.card += day.card;
        self.net = self.revenue - self.refunds;
        self.average_receipt = if self.sales_count > 0 {
            self.revenue / self.sales_count
        } else {
            0
        };
    }
}

/// Answer of `GET /api/v1/reports/totals`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Totals {
    /// The whole period.
    pub total: Figures,
    /// Per bucket, oldest first (buckets without receipts are left out).
    pub buckets: Vec<Figures>,
    /// Receipts per local hour of day, 0 to 23.
    pub receipts_per_hour: Vec<i64>,
    /// Best-selling products by revenue.
    pub top_products: Vec<ProductFigures>,
}

/// The first day of the bucket `day` falls in.
fn bucket_start(day: i64, grouping: Grouping) -> i64 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    let date = epoch + chrono::Days::new(u64::try_from(day).unwrap_or(0));
    let start = match grouping {
        Grouping::Day => date,
        Grouping::Week => {
            date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday()))
        }
        Grouping::Month => date.with_day(1).expect("first of month"),
    };
    (start - epoch).num_days()
}

/// Group daily figures into buckets, oldest first.
pub fn group(days: &[DayFigures], grouping: Grouping) -> (Figures, Vec<Figures>) {
    let mut total = Figures::default();
    let mut buckets: Vec<(i64, Figures)> = Vec::new();
    for day in days {
        total.add(day);
        let start = bucket_start(day.day, grouping);
        match buckets.last_mut() {
            Some((s, figures)) if *s == start => figures.add(day),
            _ => {
                let mut figures = Figures {
                    start: day_text(start),
                    ..Figures::default()
                };
                figures.add(day);
                buckets.push((start, figures));
            }
        }
    }
    if let (Some(first), Some(_)) = (days.first(), days.last()) {
        total.start = day_text(first.day);
    }
    (total, buckets.into_iter().map(|(_, f)| f).collect())
}

/// `GET /api/v1/reports/totals?from&to&group&register_id&top` → totals and analytics.
#[utoipa::path(get, path = "/api/v1/reports/totals", params(TotalsQuery),
    responses((status = 200, body = Totals), (status = 400), (status = 404)))]
pub async fn totals(
    Extension(caller): Extension<Caller>,
    query: Result<Query<TotalsQuery>, QueryRejection>,
) -> Result<Json<Totals>, ApiError> {
    let Query(query) = query?;
    caller.require(Permission::ReadReports)?;
    let (from_day, to_day) = period(query.from.as_deref(), query.to.as_deref())?;
    if let Some(id) = query.register_id {
        if caller.0.register(id).await?.is_none() {
            return Err(ApiError::not_found(format!("register {id}")));
        }
    }
    let top = query.top.unwrap_or(10);
    if !(0..=100).contains(&top) {
        return Err(bad("top", "must be between 0 and 100"));
    }
    let which = RegisterSet {
        register_id: query.register_id,
        point_of_sale_id: query.point_of_sale_id,
    };
    let figures = caller
        .0
        .period_figures(which, from_day, to_day, top)
        .await?;
    let (total, buckets) = group(&figures.days, query.group.unwrap_or_default());
    Ok(Json(Totals {
        total,
        buckets,
        receipts_per_hour: figures.hours.to_vec(),
        top_products: figures.top_products,
    }))
}

/// One drive's unsent documents.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct UnsentView {
    /// What the drive said.
    #[serde(flatten)]
    pub row: UnsentRow,
    /// Days before the 30-day block, from the oldest unsent document (absent when none).
    pub days_left: Option<i64>,
}

/// Answer of `GET /api/v1/reports/unsent`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct UnsentList {
    /// Per RU drive that reported, by register.
    pub drives: Vec<UnsentView>,
}

/// Days left before the block for an oldest unsent document at local `oldest` seconds, at
/// local `now` seconds.
pub fn days_left(oldest: i64, now: i64) -> i64 {
    UNSENT_BLOCK_DAYS - (now - oldest).div_euclid(86_400)
}

/// `GET /api/v1/reports/unsent` → per RU drive: unsent count, oldest, days left (from the drive's
/// own latest shift or state report; tags 1097, 1098, 1116). "Now" is the server's UTC clock, so
/// days left are exact to the register's UTC offset.
#[utoipa::path(get, path = "/api/v1/reports/unsent",
    responses((status = 200, body = UnsentList), (status = 403)))]
pub async fn unsent(Extension(caller): Extension<Caller>) -> Result<Json<UnsentList>, ApiError> {
    caller.require(Permission::ReadReports)?;
    let now = crate::clock::unix_seconds();
    let drives = caller
        .0
        .unsent()
        .await?
        .into_iter()
        .map(|row| UnsentView {
            days_left: row
                .oldest_secs
                .filter(|_| row.count > 0)
                .map(|oldest| days_left(oldest, now)),
            row,
        })
        .collect();
    Ok(Json(UnsentList { drives }))
}

/// Query of `GET /api/v1/reports/delivery`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// First local date.
    pub from: Option<String>,
    /// Last local date (inclusive).
    pub to: Option<String>,
    /// Only this register.
    pub register_id: Option<i64>,
}

/// Answer of `GET /api/v1/reports/delivery`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryReport {
    /// Per register and day, newest first.
    pub days: Vec<DeliveryDay>,
    /// The days whose documents are not all accepted yet.
    pub mismatches: Vec<DeliveryDay>,
}

/// `GET /api/v1/reports/delivery?from&to&register_id` → received, batched, accepted and
/// rejected counts per register per day, and the days that do not match.
#[utoipa::path(get, path = "/api/v1/reports/delivery", params(DeliveryQuery),
    responses((status = 200, body = DeliveryReport), (status = 400), (status = 404)))]
pub async fn delivery(
    Extension(caller): Extension<Caller>,
    query: Result<Query<DeliveryQuery>, QueryRejection>,
) -> Result<Json<DeliveryReport>, ApiError> {
    let Query(query) = query?;
    caller.require(Permission::ReadReports)?;
    let (from_day, to_day) = period(query.from.as_deref(), query.to.as_deref())?;
    if let Some(id) = query.register_id {
        if caller.0.register(id).await?.is_none() {
            return Err(ApiError::not_found(format!("register {id}")));
        }
    }
    let days = caller
        .0
        .delivery_days(query.register_id, from_day, to_day)
        .await?;
    let mismatches = days
        .iter()
        .filter(|d| d.accepted != d.received)
        .cloned()
        .collect();
    Ok(Json(DeliveryReport { days, mismatches }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(day: i64, revenue: i64) -> DayFigures {
        DayFigures {
            day,
            receipts: 1,
            sales_count: 1,
            revenue,
            ..DayFigures::default()
        }
    }

    #[test]
    fn days_group_into_iso_weeks_and_months() {
        // 2026-11-29 is a Sunday, 2026-11-30 a Monday, 2026-12-01 a Tuesday.
        let base = (NaiveDate::from_ymd_opt(2026, 11, 29).expect("date")
            - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch"))
        .num_days();
        let days = [day(base, 100), day(base + 1, 200), day(base + 2, 300)];
        let (total, weeks) = group(&days, Grouping::Week);
        assert_eq!(total.revenue, 600);
        assert_eq!(total.average_receipt, 200);
        assert_eq!(weeks.len(), 2);
        assert_eq!(weeks[0].start, "2026-11-23");
        assert_eq!(weeks[1].start, "2026-11-30");
        assert_eq!(weeks[1].revenue, 500);
        let (_, months) = group(&days, Grouping::Month);
        assert_eq!(months.len(), 2);
        assert_eq!(months[0].start, "2026-11-01");
        assert_eq!(months[1].revenue, 300);
    }

    #[test]
    fn days_left_count_down_from_the_oldest_unsent_document() {
        assert_eq!(days_left(0, 0), 30);
        assert_eq!(days_left(0, 86_400 * 29 + 5), 1);
        assert_eq!(days_left(0, 86_400 * 31), -1);
    }

    #[test]
    fn a_period_needs_both_ends_in_order() {
        assert!(period(None, Some("2026-12-01")).is_err());
        assert!(period(Some("2026-12-02"), Some("2026-12-01")).is_err());
        let (from, to) = period(Some("2026-12-01"), Some("2026-12-01")).expect("one day");
        assert_eq!(to - from, 1);
    }
}
