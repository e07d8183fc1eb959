//! Prometheus metrics: one [`Metrics`] (one registry) per running server, scraped over HTTP on a
//! port of its own so that `/metrics` never competes with registers for the ingest listener.
//!
//! Design notes:
//! - Names follow `ofd_<area>_<what>_<unit>`; counters end in `_total`.
//! - The per-frame path must not take locks: a labelled family (`*Vec`) resolves its children
//!   through a lock and a hash, so every label combination the hot path uses is resolved once,
//!   here, into plain atomics ([`Family`]). Label values are closed enums, so cardinality is fixed.
//! - No global registry: tests start several servers in one process and each scrapes its own.

use std::marker::PhantomData;
use std::sync::Arc;

use ofd_protocol::Dialect;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// A closed set of label values for one label.
pub trait Label: Copy + 'static {
    /// Every value, in the order of [`Label::index`].
    const ALL: &'static [Self];
    /// The label value as exported.
    fn as_str(self) -> &'static str;
    /// Position in [`Label::ALL`].
    fn index(self) -> usize;
}

macro_rules! label_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name { $($(#[$vmeta])* $variant,)+ }
        impl Label for $name {
            const ALL: &'static [Self] = &[$(Self::$variant,)+];
            fn as_str(self) -> &'static str { match self { $(Self::$variant => $text,)+ } }
            fn index(self) -> usize { self as usize }
        }
    };
}

/// The dialect a connection's first bytes announced; `None` when they match none.
impl Label for Option<Dialect> {
    const ALL: &'static [Self] = &[Some(Dialect::Ru), Some(Dialect::Kz), None];
    fn as_str(self) -> &'static str {
        self.map_or("unknown", Dialect::as_str)
    }
    fn index(self) -> usize {
        match self {
            Some(Dialect::Ru) => 0,
            Some(Dialect::Kz) => 1,
            None => 2,
        }
    }
}

label_enum! {
    /// How one frame ended: every frame ends in exactly one of these.
    FrameResult {
        /// Stored for the first time and acknowledged with code 0.
        Accepted => "accepted",
        /// Stored, failed ФЛК: answered 14 (enforcing) or 0 and flagged (report-only).
        FlkFailed => "flk_failed",
        /// A resend of a stored document: answered with the stored acknowledgement.
        Duplicate => "duplicate",
        /// A different document under a stored key: kept aside, answered with the stored ack.
        Conflict => "conflict",
        /// Not recognised and not attributable to a drive (RU: container length or CRC wrong),
        /// or a KZ refusal: answered with an error code, not stored.
        Refused => "refused",
        /// Signed by a drive but not taken as a document (bad sign, decoder refused, cross-check,
        /// register): kept in quarantine with its bytes, then answered with code 11.
        Quarantined => "quarantined",
        /// Nothing could be answered: logged, counted, connection closed.
        Dropped => "dropped",
    }
}

label_enum! {
    /// The check a frame failed, in validation order (RU spec §10), plus transport failures.
    Check {
        /// Unknown first bytes, signature, protocol versions, or a length below the minimum.
        SessionHeader => "session_header",
        /// A declared length above the configured frame limit (refused before allocating).
        Oversize => "oversize",
        /// The connection ended in the middle of a frame.
        Truncated => "truncated",
        /// No complete frame within the idle timeout, or the connection outlived its total timeout.
        Timeout => "timeout",
        /// Container length differs from the session length or the bytes received.
        ContainerLength => "container_length",
        /// Container CRC mismatch.
        Crc => "crc",
        /// Session-header CRC mismatch (counted, frame still processed: spec §11 item 5).
        SessionCrc => "session_crc",
        /// Container type or header version not recognised.
        ContainerHeader => "container_header",
        /// TLV structure malformed (overrun, nesting, fixed sizes, encoding).
        Tlv => "tlv",
        /// ФН or ФД number differ between the session header, container header and document.
        CrossCheck => "cross_check",
        /// Document type unknown or not equal to the document STLV tag.
        DocumentType => "document_type",
        /// The ФН is not a known, active register.
        Register => "register",
        /// Format-logical control (mandatory tags, sums, dates) failed.
        Flk => "flk",
        /// A fiscal sign did not verify, or the crypto unit could not be asked.
        Sign => "sign",
        /// The crypto unit could not answer (or the ack could not be built): no reply, resend.
        CryptoUnit => "crypto_unit",
        /// Storage failed: nothing acknowledged, the register will resend.
        Storage => "storage",
        /// KZ: wrong token, or a request number reused with another token or command.
        Token => "token",
        /// TLS port: the frame names a register other than the client certificate's.
        ClientCertificate => "client_certificate",
        /// A started frame arrived slower than `min_frame_bytes_per_sec`.
        TooSlow => "too_slow",
        /// The read buffers of all connections together hold `read_buffer_budget_bytes`.
        ReadBufferBudget => "read_buffer_budget",
    }
}

label_enum! {
    /// Why a connection was closed before any frame was read.
    ConnectionRejection {
        /// The source address exceeded its connection rate.
        RateLimited => "rate_limited",
        /// TLS port: the handshake failed or timed out (includes a refused client certificate).
        TlsHandshake => "tls_handshake",
        /// The source address already holds `max_open_per_source` connections.
        OpenPerSource => "open_per_source",
        /// The source's /24 or /56 already holds `max_open_per_network` connections.
        OpenPerNetwork => "open_per_network",
        /// `proxy_protocol` is on and the connection did not start with a valid PROXY v2
        /// header in time.
        ProxyHeader => "proxy_header",
    }
}

label_enum! {
    /// Which key of the KZ token guard was locked.
    LockoutScope {
        /// A register (wrong tokens from any address).
        Register => "register",
        /// A source address (wrong tokens for any register).
        Source => "source",
    }
}

/// One counter per value of `L`, resolved at start-up so that incrementing is one atomic add.
pub struct Family<L: Label> {
    counters: Vec<IntCounter>,
    label: PhantomData<L>,
}

impl<L: Label> Family<L> {
    fn resolve(vec: &IntCounterVec, fixed: &[&str]) -> Self {
        let counters = L::ALL
            .iter()
            .map(|value| {
                let mut labels = fixed.to_vec();
                labels.push(value.as_str());
                vec.with_label_values(&labels)
            })
            .collect();
        Family {
            counters,
            label: PhantomData,
        }
    }

    /// Add one for `value`.
    pub fn inc(&self, value: L) {
        self.counters[value.index()].inc();
    }

    /// Current count for `value` (tests and summaries).
    pub fn get(&self, value: L) -> u64 {
        self.counters[value.index()].get()
    }
}

/// Ingest-side metrics for one dialect.
pub struct DialectMetrics {
    /// `ofd_ingest_frames_total{dialect, result}`.
    pub frames: Family<FrameResult>,
    /// `ofd_ingest_check_failures_total{dialect, check}`.
    pub check_failures: Family<Check>,
}

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    /// Connections currently open.
    pub connections_open: IntGauge,
    /// Connections accepted since start.
    pub connections_total: IntCounter,
    /// Connections accepted per dialect (after the sniff).
    pub connections_by_dialect: Family<Option<Dialect>>,
    /// Connections closed before reading, by reason.
    pub connections_rejected: Family<ConnectionRejection>,
    /// RU frame and check outcomes.
    pub ru: DialectMetrics,
    /// KZ frame and check outcomes.
    pub kz: DialectMetrics,
    /// Check failures of connections whose dialect could not be told.
    pub unknown_dialect: Family<Check>,
    /// Bytes read from registers.
    pub bytes_in: IntCounter,
    /// Bytes written to registers.
    pub bytes_out: IntCounter,
    /// Time from a complete frame to its acknowledgement written to the socket.
    pub ack_latency: Histogram,
    /// Documents stored for the first time.
    pub documents_stored: IntCounter,
    /// Resends answered with their stored acknowledgement.
    pub duplicates_reacked: IntCounter,
    /// Different documents under a stored key (alert on any increase).
    pub conflicts: IntCounter,
    /// Documents put in quarantine (alert on any increase).
    pub quarantined: IntCounter,
    /// Documents accepted from registers that are not provisioned (`accept_unregistered`).
    pub unregistered_accepted: IntCounter,
    /// Documents per committed transaction of the group-commit writer.
    pub commit_batch_size: Histogram,
    /// Duration of one group commit (asking for the turn to write to durable commit).
    pub commit_duration: Histogram,
    /// Of that, the wait for the SQLite write turn behind a background role's transaction.
    pub commit_turn_wait: Histogram,
    /// Documents waiting for the group-commit writer.
    pub queue_depth: IntGauge,
    /// KZ wrong tokens (and retries outside their window) counted by the token guard.
    pub kz_wrong_tokens: IntCounter,
    /// KZ token-guard lockouts by scope (alert on any increase).
    pub kz_token_lockouts: Family<LockoutScope>,
    /// KZ frames closed unread because their register or source was locked out.
    pub kz_locked_out_frames: IntCounter,
    /// Lockout audit lines dropped because the audit queue was full.
    pub kz_audit_dropped: IntCounter,
    /// Bytes held in connections' read buffers now.
    pub read_buffer_bytes: IntGauge,
    /// Month partitions of `documents` and the read tables that could not be made ahead
    /// (PostgreSQL; alert).
    pub partition_failures: IntCounter,
}

impl Metrics {
    /// Create every metric in a fresh registry.
    pub fn new() -> Arc<Metrics> {
        // Names and help texts are constants; registering them into a fresh registry cannot
        // fail except through a programming error caught by the unit test below.
        Self::build().expect("metric definitions are valid and unique")
    }

    fn build() -> prometheus::Result<Arc<Metrics>> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let gauge = |name: &str, help: &str| -> prometheus::Result<IntGauge> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            let v = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(v.clone()))?;
            Ok::<_, prometheus::Error>(v)
        };
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))?;
            registry.register(Box::new(h.clone()))?;
            Ok::<_, prometheus::Error>(h)
        };

        let frames = counter_vec(
            "ofd_ingest_frames_total",
            "Frames by dialect and how they ended.",
            &["dialect", "result"],
        )?;
        let checks = counter_vec(
            "ofd_ingest_check_failures_total",
            "Frames or connections that failed a check, by dialect and check.",
            &["dialect", "check"],
        )?;
        let dialect_metrics = |dialect: Dialect| DialectMetrics {
            frames: Family::resolve(&frames, &[dialect.as_str()]),
            check_failures: Family::resolve(&checks, &[dialect.as_str()]),
        };
        let by_dialect = counter_vec(
            "ofd_ingest_connections_by_dialect_total",
            "Connections by the dialect their first bytes announced.",
            &["dialect"],
        )?;
        let rejected = counter_vec(
            "ofd_ingest_connections_rejected_total",
            "Connections closed before any frame was read, by reason.",
            &["reason"],
        )?;
        let lockouts = counter_vec(
            "ofd_ingest_kz_token_lockouts_total",
            "KZ token-guard lockouts after too many wrong tokens, by scope (alert).",
            &["scope"],
        )?;
        let seconds = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        let metrics = Metrics {
            connections_open: gauge("ofd_ingest_connections_open", "Connections open now.")?,
            connections_total: counter(
                "ofd_ingest_connections_total",
                "Connections accepted since start.",
            )?,
            connections_by_dialect: Family::resolve(&by_dialect, &[]),
            connections_rejected: Family::resolve(&rejected, &[]),
            ru: dialect_metrics(Dialect::Ru),
            kz: dialect_metrics(Dialect::Kz),
            unknown_dialect: Family::resolve(&checks, &[None::<Dialect>.as_str()]),
            bytes_in: counter(
                "ofd_ingest_received_bytes_total",
                "Bytes read from registers.",
            )?,
            bytes_out: counter("ofd_ingest_sent_bytes_total", "Bytes written to registers.")?,
            ack_latency: histogram(
                "ofd_ingest_ack_latency_seconds",
                "From a complete frame read to its acknowledgement written.",
                seconds.clone(),
            )?,
            documents_stored: counter(
                "ofd_ingest_documents_stored_total",
                "Documents stored for the first time.",
            )?,
            duplicates_reacked: counter(
                "ofd_ingest_duplicates_reacked_total",
                "Resent documents answered with their stored acknowledgement.",
            )?,
            conflicts: counter(
                "ofd_ingest_conflicts_total",
                "Different documents under an already stored key (kept in conflicts; alert).",
            )?,
            quarantined: counter(
                "ofd_ingest_quarantined_total",
                "Frames kept in quarantine instead of stored as documents: bad fiscal sign, a document the decoder refused, a cross-check or register refusal (alert).",
            )?,
            unregistered_accepted: counter(
                "ofd_ingest_unregistered_accepted_total",
                "Documents accepted from registers that are not provisioned.",
            )?,
            commit_batch_size: histogram(
                "ofd_store_commit_batch_size_documents",
                "Documents per group-commit transaction.",
                vec![
                    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
                ],
            )?,
            commit_duration: histogram(
                "ofd_store_commit_duration_seconds",
                "Duration of one group-commit transaction, from asking for the turn to write to durable commit.",
                seconds.clone(),
            )?,
            commit_turn_wait: histogram(
                "ofd_store_commit_turn_wait_seconds",
                "Of a group commit's duration, the wait for the turn to write to SQLite behind a projector or forwarder transaction (zero on PostgreSQL).",
                seconds,
            )?,
            queue_depth: gauge(
                "ofd_store_queue_depth_documents",
                "Documents waiting for the group-commit writer.",
            )?,
            kz_wrong_tokens: counter(
                "ofd_ingest_kz_wrong_tokens_total",
                "KZ wrong tokens, and retries from elsewhere after their window, counted by the token guard.",
            )?,
            kz_token_lockouts: Family::resolve(&lockouts, &[]),
            kz_locked_out_frames: counter(
                "ofd_ingest_kz_locked_out_frames_total",
                "KZ frames closed unread during a token lockout of their register or source.",
            )?,
            kz_audit_dropped: counter(
                "ofd_ingest_kz_audit_dropped_total",
                "Token-lockout audit lines dropped because the audit queue was full.",
            )?,
            read_buffer_bytes: gauge(
                "ofd_ingest_read_buffer_bytes",
                "Bytes held in the connections' read buffers beyond each one's first 2 KiB (what the read-buffer budget limits).",
            )?,
            partition_failures: counter(
                "ofd_ingest_partition_failures_total",
                "Month partitions of documents and of the read tables the server could not make ahead (PostgreSQL).",
            )?,
            registry,
        };
        Ok(Arc::new(metrics))
    }

    /// The frame and check counters of one dialect.
    pub fn dialect(&self, dialect: Dialect) -> &DialectMetrics {
        match dialect {
            Dialect::Ru => &self.ru,
            Dialect::Kz => &self.kz,
        }
    }

    /// The registry, for the `/metrics` endpoint ([`crate::health_endpoint`]).
    pub fn registry(&self) -> Registry {
        self.registry.clone()
    }

    /// Everything in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec fails only on invalid metric families, which `build` rules out.
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(%error, "encoding metrics failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Serve `GET /metrics` on `listener` until `shutdown` is cancelled.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_registers_and_renders_with_its_labels() {
        let metrics = Metrics::build().expect("valid definitions");
        metrics.ru.frames.inc(FrameResult::Accepted);
        metrics.ru.check_failures.inc(Check::Crc);
        metrics
            .connections_rejected
            .inc(ConnectionRejection::RateLimited);
        let text = metrics.render();
        assert!(text.contains(r#"ofd_ingest_frames_total{dialect="ru",result="accepted"} 1"#));
        assert!(text.contains(r#"ofd_ingest_check_failures_total{check="crc",dialect="ru"} 1"#));
        assert!(text.contains(r#"ofd_ingest_connections_rejected_total{reason="rate_limited"} 1"#));
        assert_eq!(metrics.ru.frames.get(FrameResult::Accepted), 1);
        assert_eq!(metrics.kz.frames.get(FrameResult::Accepted), 0);
    }
}
