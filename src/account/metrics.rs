//! Prometheus metrics of the account service, served on `[account] metrics_listen` through
//! [`crate::health_endpoint`]. Label values are closed sets (alert kinds and severities,
//! delivery results): no organisation or register appears in a label, so cardinality stays
//! bounded whatever the number of clients. Cabinet pages are labelled by their route template
//! (`/registers/{id}`), a closed set too.

use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
};

use super::alert_rules::AlertKind;

/// Every metric the account service exports.
#[derive(Clone)]
pub struct AccountMetrics {
    registry: Registry,
    /// `ofd_account_alerts_firing{kind, severity}`: firing (unacknowledged) client alerts.
    pub alerts_firing: IntGaugeVec,
    /// `ofd_account_alert_evaluations_total`.
    pub evaluations: IntCounter,
    /// `ofd_account_alert_evaluation_failures_total`.
    pub evaluation_failures: IntCounter,
    /// `ofd_account_webhook_deliveries_total{result}`: delivered, retried, failed.
    pub webhook_deliveries: IntCounterVec,
    /// `ofd_account_page_seconds{page}`: server time of each cabinet page, by route template.
    pub page_seconds: HistogramVec,
}

impl std::fmt::Debug for AccountMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountMetrics").finish_non_exhaustive()
    }
}

impl AccountMetrics {
    /// Create every metric in a fresh registry, each kind's series present at zero.
    pub fn new() -> AccountMetrics {
        Self::build().expect("metric definitions are valid and unique")
    }

    fn build() -> prometheus::Result<AccountMetrics> {
        let registry = Registry::new();
        let alerts_firing = IntGaugeVec::new(
            Opts::new(
                "ofd_account_alerts_firing",
                "Firing client alerts (not acknowledged, not resolved) by kind and severity.",
            ),
            &["kind", "severity"],
        )?;
        for kind in AlertKind::ALL {
            alerts_firing.with_label_values(&[kind.as_str(), kind.severity().as_str()]);
        }
        let evaluations = IntCounter::new(
            "ofd_account_alert_evaluations_total",
            "Client-alert evaluations completed.",
        )?;
        let evaluation_failures = IntCounter::new(
            "ofd_account_alert_evaluation_failures_total",
            "Client-alert evaluations that failed (the database did not answer …).",
        )?;
        let webhook_deliveries = IntCounterVec::new(
            Opts::new(
                "ofd_account_webhook_deliveries_total",
                "Webhook delivery attempts by result: delivered, retried, failed (given up).",
            ),
            &["result"],
        )?;
        for result in ["delivered", "retried", "failed"] {
            webhook_deliveries.with_label_values(&[result]);
        }
        let page_seconds = HistogramVec::new(
            HistogramOpts::new(
                "ofd_account_page_seconds",
                "Server time of cabinet pages (request in to response out) by route template.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["page"],
        )?;
        registry.register(Box::new(page_seconds.clone()))?;
        registry.register(Box::new(alerts_firing.clone()))?;
        registry.register(Box::new(evaluations.clone()))?;
        registry.register(Box::new(evaluation_failures.clone()))?;
        registry.register(Box::new(webhook_deliveries.clone()))?;
        Ok(AccountMetrics {
            registry,
            alerts_firing,
            evaluations,
            evaluation_failures,
            webhook_deliveries,
            page_seconds,
        })
    }

    /// The registry, for the endpoint.
    pub fn registry(&self) -> Registry {
        self.registry.clone()
    }
}

impl Default for AccountMetrics {
    fn default() -> Self {
        Self::new()
    }
}
