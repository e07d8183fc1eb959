//! Prometheus metrics of the forwarder (`ofd_forward_*`), registered in the registry the caller
//! passes so that `ofd forward` and `ofd all` can expose them on their own endpoint.

use prometheus::{
    exponential_buckets, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry,
};

/// The forwarder's instruments.
#[derive(Clone)]
pub struct ForwardMetrics {
    /// Batches by outcome: `sent`, `failed` (transient), `refused` (a whole-batch 4xx; retried).
    pub batches: IntCounterVec,
    /// Documents by outcome: `sent`, `rejected`, `failed` (in a failed attempt).
    pub documents: IntCounterVec,
    /// Documents per batch sent.
    pub batch_documents: Histogram,
    /// Uncompressed bytes per batch sent.
    pub batch_bytes: Histogram,
    /// Time from sending a batch to the sink's answer.
    pub send_seconds: Histogram,
    /// Time from the ingest commit (the register's ack) to the sink's confirmation.
    pub ack_to_sink_seconds: Histogram,
    /// Documents still pending.
    pub backlog: IntGauge,
    /// Age of the oldest pending document (the number the KZ 15-minute rule is about).
    pub oldest_pending_age_seconds: IntGauge,
    /// 1 while the last send got an answer, 0 after a failure.
    pub sink_up: IntGauge,
    /// 1 while the circuit breaker holds sends back.
    pub circuit_open: IntGauge,
    /// Failed sends by HTTP status (`404`, `401` …) or `transport`.
    pub send_errors: IntCounterVec,
    /// Confirmed documents deleted by retention.
    pub retention_deleted: IntCounter,
    /// Month partitions of `documents` dropped whole by retention (PostgreSQL).
    pub retention_partitions_dropped: IntCounter,
}

impl ForwardMetrics {
    /// Create and register the instruments.
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let batches = IntCounterVec::new(
            Opts::new("ofd_forward_batches_total", "Batches by outcome"),
            &["outcome"],
        )?;
        let documents = IntCounterVec::new(
            Opts::new("ofd_forward_documents_total", "Documents by outcome"),
            &["outcome"],
        )?;
        let batch_documents = Histogram::with_opts(
            HistogramOpts::new("ofd_forward_batch_documents", "Documents per batch sent")
                .buckets(exponential_buckets(1.0, 2.0, 14)?),
        )?;
        let batch_bytes = Histogram::with_opts(
            HistogramOpts::new(
                "ofd_forward_batch_bytes",
                "Uncompressed bytes per batch sent",
            )
            .buckets(exponential_buckets(512.0, 4.0, 10)?),
        )?;
        let send_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "ofd_forward_send_seconds",
                "Time from send to the sink's answer",
            )
            .buckets(exponential_buckets(0.001, 2.5, 14)?),
        )?;
        let ack_to_sink_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "ofd_forward_ack_to_sink_seconds",
                "Time from the ingest commit to the sink's confirmation",
            )
            .buckets(exponential_buckets(0.01, 2.0, 18)?),
        )?;
        let backlog = IntGauge::new("ofd_forward_backlog_documents", "Documents pending")?;
        let oldest_pending_age_seconds = IntGauge::new(
            "ofd_forward_oldest_pending_age_seconds",
            "Age of the oldest pending document",
        )?;
        let sink_up = IntGauge::new("ofd_forward_sink_up", "1 while the sink answers")?;
        let circuit_open = IntGauge::new(
            "ofd_forward_circuit_open",
            "1 while the circuit breaker is open",
        )?;
        registry.register(Box::new(batches.clone()))?;
        registry.register(Box::new(documents.clone()))?;
        registry.register(Box::new(batch_documents.clone()))?;
        registry.register(Box::new(batch_bytes.clone()))?;
        registry.register(Box::new(send_seconds.clone()))?;
        registry.register(Box::new(ack_to_sink_seconds.clone()))?;
        registry.register(Box::new(backlog.clone()))?;
        registry.register(Box::new(oldest_pending_age_seconds.clone()))?;
        registry.register(Box::new(sink_up.clone()))?;
        let send_errors = IntCounterVec::new(
            Opts::new(
                "ofd_forward_send_errors_total",
                "Failed sends by HTTP status of a whole-batch refusal, or transport",
            ),
            &["status"],
        )?;
        registry.register(Box::new(circuit_open.clone()))?;
        registry.register(Box::new(send_errors.clone()))?;
        let retention_deleted = IntCounter::new(
            "ofd_forward_retention_deleted_total",
            "Documents confirmed by the tax authority and deleted after the retention period",
        )?;
        registry.register(Box::new(retention_deleted.clone()))?;
        let retention_partitions_dropped = IntCounter::new(
            "ofd_forward_retention_partitions_dropped_total",
            "Month partitions of documents dropped whole by retention, every document in them \
             confirmed by the tax authority (PostgreSQL)",
        )?;
        registry.register(Box::new(retention_partitions_dropped.clone()))?;
        Ok(Self {
            batches,
            documents,
            batch_documents,
            batch_bytes,
            send_seconds,
            ack_to_sink_seconds,
            backlog,
            oldest_pending_age_seconds,
            sink_up,
            circuit_open,
            send_errors,
            retention_deleted,
            retention_partitions_dropped,
        })
    }
}
