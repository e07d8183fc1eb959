//! Monthly partitions on PostgreSQL of `documents` (`migrations/postgres/0013`) and of the read
//! tables (`migrations/postgres/0017`), listed in [`TABLES`]; SQLite keeps one table each and
//! every function here is a no-op there.
//!
//! Invariants:
//! - A month partition is named `<table>_pYYYYMM` ([`Month::partition_of`]) and covers that UTC
//!   calendar month of the table's key, in the key's own unit ([`Partitioned::unit_ms`]):
//!   `documents.received_at` (server time, UTC ms), `doc_index.doc_time` and
//!   `doc_items.doc_time` (register-local naive seconds), the daily tables' `day` (local seconds
//!   / 86400) and `project_monthly_products.month_day` (the month's first such day). The names are the only place the bounds are recorded besides the catalogue, and
//!   [`month_of_partition`] reads them back.
//! - `<table>_default` takes any row no month covers, so a document or a figure is never
//!   refused for its date. The server makes the current month and [`MONTHS_AHEAD`] more of every
//!   table ahead of time (at start and every [`INTERVAL`]), so in normal operation nothing
//!   reaches a default partition. Register-local times run at most about 14 hours ahead of UTC,
//!   well inside the months made ahead.
//! - A month whose range already has rows in the default partition cannot be attached
//!   (PostgreSQL refuses); that is logged, counted as a failure and retried next time, never
//!   fatal: the rows stay in the default partition and are still found by every query.
//! - Time is passed in ([`crate::clock`] is read by the caller), so a test chooses it.

use std::time::Duration;

use chrono::{Datelike as _, NaiveDate, TimeZone as _, Utc};
use sqlx::Row as _;

use super::{Backend, Store};

/// A table partitioned by month and the unit of its partition key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Partitioned {
    /// The partitioned (parent) table.
    pub table: &'static str,
    /// Milliseconds per unit of the partition key: 1 (ms), 1000 (seconds), 86 400 000 (days).
    pub unit_ms: i64,
}

/// `documents`, by arrival (UTC ms).
pub const DOCUMENTS: Partitioned = Partitioned {
    table: "documents",
    unit_ms: 1,
};

/// The read tables, by the documents' local time: `doc_index` first (retention reads the read
/// months from it).
pub const READ_TABLES: [Partitioned; 5] = [
    Partitioned {
        table: "doc_index",
        unit_ms: 1000,
    },
    Partitioned {
        table: "doc_items",
        unit_ms: 1000,
    },
    Partitioned {
        table: "project_daily",
        unit_ms: 86_400_000,
    },
    Partitioned {
        table: "project_daily_products",
        unit_ms: 86_400_000,
    },
    // Keyed by its month's first day (`month_day`), so a month partition holds that month.
    Partitioned {
        table: "project_monthly_products",
        unit_ms: 86_400_000,
    },
];

/// Every table partitioned by month, each kept [`MONTHS_AHEAD`] by [`ensure_ahead`].
pub const TABLES: [Partitioned; 6] = [
    DOCUMENTS,
    READ_TABLES[0],
    READ_TABLES[1],
    READ_TABLES[2],
    READ_TABLES[3],
    READ_TABLES[4],
];

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

    /// `[start, end)` of the month in the partition key's unit of `table`.
    pub fn bounds_in(self, table: Partitioned) -> Option<(i64, i64)> {
        let (start, end) = self.bounds()?;
        Some((start / table.unit_ms, end / table.unit_ms))
    }

    /// The documents' partition table name, `documents_pYYYYMM`.
    pub fn partition_name(self) -> String {
        self.partition_of(DOCUMENTS)
    }

    /// The partition table name of `table` for this month, `<table>_pYYYYMM`.
    pub fn partition_of(self, table: Partitioned) -> String {
        format!("{}_p{:04}{:02}", table.table, self.year, self.month)
    }
}

/// The month a partition of `documents` named by [`Month::partition_name`] covers.
pub fn month_of_partition(name: &str) -> Option<Month> {
    month_of_partition_of(DOCUMENTS, name)
}

/// The month a partition of `table` named by [`Month::partition_of`] covers.
pub fn month_of_partition_of(table: Partitioned, name: &str) -> Option<Month> {
    let digits = name.strip_prefix(table.table)?.strip_prefix("_p")?;
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
    month_partitions_of(store, DOCUMENTS).await
}

/// The month partitions of `table` that exist, oldest first (PostgreSQL; empty on SQLite).
pub async fn month_partitions_of(
    store: &Store,
    table: Partitioned,
) -> Result<Vec<Month>, sqlx::Error> {
    if store.backend() != Backend::Postgres {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT CAST(c.relname AS TEXT) AS name FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = CAST(CAST($1 AS TEXT) AS regclass)",
    )
    .bind(table.table)
    .fetch_all(store.pool())
    .await?;
    let mut months = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(month) = month_of_partition_of(table, &row.try_get::<String, _>("name")?) {
            months.push(month);
        }
    }
    months.sort_unstable();
    Ok(months)
}

/// Make the month partitions [`months_to_have`] at `now_ms` of every table in [`TABLES`] that
/// do not exist yet (PostgreSQL; a no-op on SQLite). One failing month does not stop the others.
pub async fn ensure_ahead(store: &Store, now_ms: i64) -> Result<Ensured, sqlx::Error> {
    let mut outcome = Ensured::default();
    if store.backend() != Backend::Postgres {
        return Ok(outcome);
    }
    for table in TABLES {
        let existing = month_partitions_of(store, table).await?;
        for month in months_to_have(now_ms) {
            if existing.contains(&month) {
                continue;
            }
            let Some((start, end)) = month.bounds_in(table) else {
                continue;
            };
            let name = month.partition_of(table);
            let parent = table.table;
            // Names and bounds are made here from constants and integers, never from input.
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {name} PARTITION OF {parent} \
                 FOR VALUES FROM ({start}) TO ({end})"
            );
            match sqlx::query(&sql).execute(store.pool()).await {
                Ok(_) => outcome.created.push(name),
                Err(error) => outcome.failed.push((name, error.to_string())),
            }
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
                tracing::info!(partition = %name, "month partition made ahead");
            }
            for (name, error) in &outcome.failed {
                failures.inc();
                tracing::warn!(partition = %name, %error, "month partition could not be made; its rows go to the table's default partition; retrying later");
            }
        }
        Err(error) => {
            failures.inc();
            tracing::warn!(error = %crate::error_chain::render(&error), "listing month partitions failed; retrying later");
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

    #[test]
    fn read_tables_take_the_same_month_in_their_own_units() {
        let december = Month {
            year: 2026,
            month: 12,
        };
        let [index, items, daily, products, monthly_products] = READ_TABLES;
        assert_eq!(december.partition_of(index), "doc_index_p202612");
        assert_eq!(
            december.partition_of(products),
            "project_daily_products_p202612"
        );
        assert_eq!(
            index.unit_ms, items.unit_ms,
            "lines are partitioned with their document"
        );
        // doc_time seconds and day numbers of the same month.
        assert_eq!(
            december.bounds_in(index),
            Some((1_796_083_200, 1_798_761_600))
        );
        assert_eq!(december.bounds_in(daily), Some((20_788, 20_819)));
        assert_eq!(december.bounds_in(products), december.bounds_in(daily));
        // The monthly rows' key is their month's first day, in the same days.
        assert_eq!(
            december.partition_of(monthly_products),
            "project_monthly_products_p202612"
        );
        assert_eq!(
            december.bounds_in(monthly_products).map(|(first, _)| first),
            crate::store::period_pieces::month_of_day(20_800).map(|(first, _)| first)
        );
        assert_eq!(
            month_of_partition_of(daily, "project_daily_p202612"),
            Some(december)
        );
        // Another table's partition is not this table's month.
        assert_eq!(
            month_of_partition_of(daily, "project_daily_products_p202612"),
            None
        );
        assert_eq!(month_of_partition("doc_index_p202612"), None);
        assert_eq!(TABLES.len(), 1 + READ_TABLES.len());
    }
}
