//! Prometheus metrics of the account service, served on `[account] metrics_listen` through
//! [`crate::health_endpoint`]. Label values are closed sets (alert kinds and severities,
//! delivery results): no organisation or register appears in a label, so cardinality stays
//! bounded whatever the number of clients.

use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

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
