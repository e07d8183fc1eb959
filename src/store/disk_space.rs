//! Free space on the filesystem that holds the SQLite database, exported at scrape time as
//! `ofd_store_disk_free_bytes` and `ofd_store_disk_size_bytes`.
//!
//! An embedded database that fills its disk stops committing, and ingest then acknowledges
//! nothing: the alert on these two gauges (deploy/prometheus/alerts.yml) must fire while there
//! is still time to act. The figures are read with `statvfs` when Prometheus scrapes, not by a
//! timer, so they are never stale and cost nothing between scrapes. PostgreSQL's disk belongs
//! to its own host and exporter; nothing is exported for it.

use std::path::PathBuf;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntGauge, Opts};
use sqlx::Row as _;

use super::{Backend, Store};

/// The directory of the SQLite main database file, or `None` on PostgreSQL or for an in-memory
/// database.
pub async fn sqlite_directory(store: &Store) -> Option<PathBuf> {
    if store.backend() != Backend::Sqlite {
        return None;
    }
    let row = sqlx::query("SELECT file FROM pragma_database_list WHERE name = 'main'")
        .fetch_one(store.pool())
        .await
        .ok()?;
    let file: String = row.try_get(0).ok()?;
    let path = PathBuf::from(file);
    path.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.to_owned())
}

/// A collector over one directory's filesystem.
pub struct DiskSpace {
    dir: PathBuf,
    free: IntGauge,
    size: IntGauge,
}

impl DiskSpace {
    /// Watch the filesystem holding `dir`.
    pub fn new(dir: PathBuf) -> prometheus::Result<DiskSpace> {
        Ok(DiskSpace {
            dir,
            free: IntGauge::with_opts(Opts::new(
                "ofd_store_disk_free_bytes",
                "Bytes available to ofd on the filesystem holding the SQLite database.",
            ))?,
            size: IntGauge::with_opts(Opts::new(
                "ofd_store_disk_size_bytes",
                "Size of the filesystem holding the SQLite database.",
            ))?,
        })
    }
}

impl Collector for DiskSpace {
    fn desc(&self) -> Vec<&Desc> {
        self.free
            .desc()
            .into_iter()
            .chain(self.size.desc())
            .collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        // A failing statvfs (directory removed under us) exports nothing rather than a zero that
        // would page someone for a full disk.
        let Ok(stat) = rustix::fs::statvfs(&self.dir) else {
            return Vec::new();
        };
        let fragment = stat.f_frsize;
        self.free
            .set((stat.f_bavail.saturating_mul(fragment)).min(i64::MAX as u64) as i64);
        self.size
            .set((stat.f_blocks.saturating_mul(fragment)).min(i64::MAX as u64) as i64);
        self.free
            .collect()
            .into_iter()
            .chain(self.size.collect())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_temporary_directory_has_a_size_and_some_room() {
        let dir = std::env::temp_dir();
        let registry = prometheus::Registry::new();
        registry
            .register(Box::new(DiskSpace::new(dir).expect("gauges")))
            .expect("registers");
        let families = registry.gather();
        let value = |name: &str| {
            families
                .iter()
                .find(|f| f.name() == name)
                .map(|f| f.get_metric()[0].get_gauge().get_value())
                .unwrap_or_else(|| panic!("{name} exported"))
        };
        let (free, size) = (
            value("ofd_store_disk_free_bytes"),
            value("ofd_store_disk_size_bytes"),
        );
        assert!(
            size > 0.0 && free > 0.0 && free <= size,
            "free {free} of {size}"
        );
    }
}
