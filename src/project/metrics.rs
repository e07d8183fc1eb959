//! Prometheus metrics of the projector (`ofd_project_*`), registered in the registry the caller
//! passes so that `ofd project` and `ofd all` can expose them on their own endpoint.

use prometheus::{IntCounterVec, IntGauge, Opts, Registry};

/// The projector's instruments.
#[derive(Clone)]
pub struct ProjectMetrics {
    /// Documents by outcome: `applied`, `undecodable` (indexed as `other`).
    pub documents: IntCounterVec,
    /// Committed documents not yet projected.
    pub lag_documents: IntGauge,
    /// Age of the oldest committed document not yet projected (0 when caught up).
    pub lag_seconds: IntGauge,
    /// The last document id projected.
    pub cursor: IntGauge,
    /// 1 while the projector steps aside for ingest (`[project] yield_*`), else 0.
    pub yielding: IntGauge,
}

impl ProjectMetrics {
    /// Create and register the instruments.
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let documents = IntCounterVec::new(
            Opts::new(
                "ofd_project_documents_total",
                "Documents projected, by outcome",
            ),
            &["outcome"],
        )?;
        let lag_documents = IntGauge::new(
            "ofd_project_lag_documents",
            "Committed documents not yet in the read tables",
        )?;
        let lag_seconds = IntGauge::new(
            "ofd_project_lag_seconds",
            "Age of the oldest committed document not yet in the read tables",
        )?;
        let cursor = IntGauge::new("ofd_project_cursor", "Last document id projected")?;
        let yielding = IntGauge::new(
            "ofd_project_yielding",
            "1 while the projector steps aside for ingest (documents arriving fast), else 0",
        )?;
        registry.register(Box::new(documents.clone()))?;
        registry.register(Box::new(lag_documents.clone()))?;
        registry.register(Box::new(lag_seconds.clone()))?;
        registry.register(Box::new(cursor.clone()))?;
        registry.register(Box::new(yielding.clone()))?;
        Ok(Self {
            documents,
            lag_documents,
            lag_seconds,
            cursor,
            yielding,
        })
    }
}
