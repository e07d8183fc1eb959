//! Monthly partitions of `documents` on PostgreSQL (`migrations/postgres/0013`); SQLite keeps one
//! table and every function here is a no-op there.
//!
//! Invariants:
//! - A month partition is named `documents_pYYYYMM` and covers `received_at` (server time, UTC
//!   ms) from the first millisecond of that UTC month to the first of the next; the names are
//!   the only place the bounds are recorded besides the catalogue, and [`month_of_partition`]
//!   reads them back.
//! - `documents_default` takes any row no month covers, so a document is never refused for its
//!   date. The server makes the current month and [`MONTHS_AHEAD`] more ahead of time (at start
//!   and every [`INTERVAL`]), so in normal operation nothing reaches the default partition.
//! - A month whose range already has rows in the default partition cannot be attached
//!   (PostgreSQL refuses); that is logged, counted as a failure and retried next time, never
//!   fatal: the rows stay in the default partition and are still found by every query.
//! - Time is passed in ([`crate::clock`] is read by the caller), so a test chooses it.

use std::time::Duration;

use chrono::{Datelike as _, NaiveDate, TimeZone as _, Utc};
use sqlx::Row as _;

use super::{Backend, Store};

/// Months made ahead of the current one.
pub const MONTHS_AHEAD: u32 = 2;

/// Time between two runs of the server's partition task.
pub const INTERVAL: Duration = Duration::from_secs(3600);

/// A UTC calendar month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    /// Year.
    pub year: i32,
    /// Month, 1–12.
    pub month: u32,
}

impl Month {
    /// The month `ms` (unix milliseconds) falls in, in UTC.
    pub fn of_millis(ms: i64) -> Option<Month> {
        let at = Utc.timestamp_millis_opt(ms).single()?;
        Some(Month {
            year: at.year(),
            month: at.month(),
        })
    }

    /// The month after this one.
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// First millisecond of the month (UTC), inclusive.
    pub fn start_millis(self) -> Option<i64> {
        let day = NaiveDate::from_ymd_opt(self.year, self.month, 1)?;
        Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
    }

    /// `[start, end)` of the month in unix milliseconds.
    pub fn bounds(self) -> Option<(i64, i64)> {
        Some((self.start_millis()?, self.next().start_millis()?))
    }

    /// The partition's table name, `documents_pYYYYMM`.
    pub fn partition_name(self) -> String {
        format!("documents_p{:04}{:02}", self.year, self.month)
    }
}

/// The month a partition table named by [`Month::partition_name`] covers.
pub fn month_of_partition(name: &str) -> Option<Month> {
    let digits = name.strip_prefix("documents_p")?;
    if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let month = Month {
        year: digits[..4].parse().ok()?,
        month: digits[4..].parse().ok()?,
    };
    (1..=12).contains(&month.month).then_some(month)
}

/// The months the server keeps ready at `now_ms`: the current one and [`MONTHS_AHEAD`] more.
pub fn months_to_have(now_ms: i64) -> Vec<Month> {
    let Some(mut month) = Month::of_millis(now_ms) else {
        return Vec::new();
    };
    let mut months = vec![month];
    for _ in 0..MONTHS_AHEAD {
        month = month.next();
        months.push(month);
    }
    months
}

/// What one [`ensure_ahead`] run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ensured {
    /// Partitions created by this run.
    pub created: Vec<String>,
    /// Partitions that could not be created, with the database's reason.
    pub failed: Vec<(String, String)>,
}

/// The month partitions of `documents` that exist, oldest first (PostgreSQL; empty on SQLite).
pub async fn month_partitions(store: &Store) -> Result<Vec<Month>, sqlx::Error> {
    if store.backend() != Backend::Postgres {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT CAST(c.relname AS TEXT) AS name FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = CAST('documents' AS regclass)",
    )
    .fetch_all(store.pool())
    .await?;
    let mut months = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(month) = month_of_partition(&row.try_get::<String, _>("name")?) {
            months.push(month);
        }
    }
    months.sort_unstable();
    Ok(months)
}

/// Make the month partitions [`months_to_have`] at `now_ms` that do not exist yet (PostgreSQL;
/// a no-op on SQLite). One failing month does not stop the others.
pub async fn ensure_ahead(store: &Store, now_ms: i64) -> Result<Ensured, sqlx::Error> {
    let mut outcome = Ensured::default();
    if store.backend() != Backend::Postgres {
        return Ok(outcome);
    }
    let existing = month_partitions(store).await?;
    for month in months_to_have(now_ms) {
        if existing.contains(&month) {
            continue;
        }
        let Some((start, end)) = month.bounds() else {
            continue;
        };
        let name = month.partition_name();
        // Name and bounds are made here from integers, never from input.
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {name} PARTITION OF documents \
             FOR VALUES FROM ({start}) TO ({end})"
        );
        match sqlx::query(&sql).execute(store.pool()).await {
            Ok(_) => outcome.created.push(name),
            Err(error) => outcome.failed.push((name, error.to_string())),
        }
    }
    Ok(outcome)
}

/// The server's partition task: [`ensure_ahead`] now and every [`INTERVAL`] until `shutdown`,
/// each partition made logged, each failure logged and counted in `failures`.
pub async fn run(
    store: Store,
    failures: prometheus::IntCounter,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        ensure_and_log(&store, crate::clock::unix_millis(), &failures).await;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}

/// One run of the task at `now_ms`.
pub async fn ensure_and_log(store: &Store, now_ms: i64, failures: &prometheus::IntCounter) {
    match ensure_ahead(store, now_ms).await {
        Ok(outcome) => {
            for name in &outcome.created {
                tracing::info!(partition = %name, "documents: month partition made ahead");
            }
            for (name, error) in &outcome.failed {
                failures.inc();
                tracing::warn!(partition = %name, %error, "documents: month partition could not be made; its rows go to documents_default; retrying later");
            }
        }
        Err(error) => {
            failures.inc();
            tracing::warn!(error = %crate::error_chain::render(&error), "documents: listing month partitions failed; retrying later");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_bounds_and_names() {
        // 2026-12-02 15:00 UTC.
        let now = 1_796_223_600_000;
        let months = months_to_have(now);
        assert_eq!(
            months
                .iter()
                .map(|m| m.partition_name())
                .collect::<Vec<_>>(),
            [
                "documents_p202612",
                "documents_p202701",
                "documents_p202702"
            ]
        );
        let (start, end) = months[0].bounds().unwrap();
        assert_eq!(start, 1_796_083_200_000, "2026-12-01T00:00:00Z");
        assert_eq!(end, 1_798_761_600_000, "2027-01-01T00:00:00Z");
        assert!(start <= now && now < end);
        assert_eq!(months[1].bounds().unwrap().0, end, "months abut");
        assert_eq!(month_of_partition("documents_p202612"), Some(months[0]));
        assert_eq!(month_of_partition("documents_p202613"), None);
        assert_eq!(month_of_partition("documents_default"), None);
        assert_eq!(month_of_partition("documents_p20261"), None);
        // The last millisecond of a month is in it; the next one is not.
        assert_eq!(Month::of_millis(end - 1), Some(months[0]));
        assert_eq!(Month::of_millis(end), Some(months[1]));
    }
}
