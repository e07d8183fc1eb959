//! The client-alert evaluator: a periodic task of the account service that reads what the
//! store knows about every register, applies the rules of [`super::alert_rules`] with the time
//! passed in, and writes each organisation's plan in one transaction (new alerts with their
//! mail and webhook deliveries, refreshed and resolved ones).
//!
//! It keeps no state of its own between runs: open alerts are in the store, so a restart, or a
//! second account service on the same database, picks up exactly where the last run left off
//! (the unique index on open alerts makes a race between two evaluators raise one alert).
//! A failed run is logged and counted, and the next tick tries again.

use std::collections::HashMap;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::alert_rules::{
    findings, invoice_finding, reconcile, AlertKind, Finding, OpenAlert, Thresholds,
};
use super::metrics::AccountMetrics;
use crate::store::alerts::{AlertChanges, NewAlert};
use crate::store::{Store, StoreError};

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Evaluation {
    /// Alerts raised.
    pub raised: usize,
    /// Open alerts refreshed.
    pub refreshed: usize,
    /// Alerts resolved.
    pub resolved: usize,
}

/// Evaluate every organisation once at `now_ms`; `public_url` goes into the mail.
pub async fn evaluate_once(
    store: &Store,
    public_url: &str,
    now_ms: i64,
) -> Result<Evaluation, StoreError> {
    let settings = store.alert_thresholds().await?;
    let thresholds_of = |org: i64| -> Thresholds {
        settings
            .get(&org)
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default()
    };
    // The longest event window any organisation uses bounds the event scan.
    let widest_window_ms = settings
        .keys()
        .map(|org| thresholds_of(*org).event_window_hours)
        .chain([Thresholds::default().event_window_hours])
        .max()
        .unwrap_or(168)
        * 3_600_000;
    let facts = store.alert_facts(now_ms - widest_window_ms).await?;
    let mut found: HashMap<i64, Vec<Finding>> = HashMap::new();
    for (org, register) in &facts {
        let t = thresholds_of(*org);
        found
            .entry(*org)
            .or_default()
            .extend(findings(register, &t, now_ms));
    }
    for invoice in store.overdue_invoices(now_ms).await? {
        if let Some(finding) = invoice_finding(&invoice, now_ms) {
            found.entry(invoice.org_id).or_default().push(finding);
        }
    }
    let mut open: HashMap<i64, Vec<OpenAlert>> = HashMap::new();
    for row in store.open_alerts().await? {
        // A kind this binary no longer knows stays as it is.
        let Some(kind) = AlertKind::parse(&row.kind) else {
            continue;
        };
        open.entry(row.org_id).or_default().push(OpenAlert {
            id: row.id,
            kind,
            subject: row.subject,
        });
    }
    let mut orgs: Vec<i64> = found.keys().chain(open.keys()).copied().collect();
    orgs.sort_unstable();
    orgs.dedup();
    let mut total = Evaluation::default();
    for org in orgs {
        let plan = reconcile(
            open.get(&org).map(Vec::as_slice).unwrap_or_default(),
            found.remove(&org).unwrap_or_default(),
        );
        if plan.raise.is_empty() && plan.refresh.is_empty() && plan.resolve.is_empty() {
            continue;
        }
        let changes = AlertChanges {
            raise: plan
                .raise
                .iter()
                .map(|finding| new_alert(finding, public_url))
                .collect(),
            refresh: plan.refresh,
            resolve: plan.resolve,
        };
        total.raised += store.apply_alert_changes(org, &changes, now_ms).await?;
        total.refreshed += changes.refresh.len();
        total.resolved += changes.resolve.len();
    }
    Ok(total)
}

/// The stored alert and its e-mail for `finding`.
fn new_alert(finding: &Finding, public_url: &str) -> NewAlert {
    let severity = finding.kind.severity();
    let about = finding
        .register_id
        .map_or_else(String::new, |id| format!(" — register {id}"));
    let mail_subject = format!(
        "[ofd] {}: {}{about}",
        severity.as_str(),
        title(finding.kind)
    );
    let figures = serde_json::to_string_pretty(&finding.detail).unwrap_or_default();
    let mail_body = format!(
        "{}{about}.\n\n{}\n\nFigures:\n{figures}\n\nSee and acknowledge it in the cabinet: \
         {public_url}/api/v1/alerts\n\nYou receive this because of your alert settings; change \
         them at {public_url}/api/v1/alerts/subscriptions.\n",
        title(finding.kind),
        advice(finding.kind),
    );
    NewAlert {
        kind: finding.kind.as_str(),
        severity: severity.as_str(),
        register_id: finding.register_id,
        subject: finding.subject.clone(),
        detail: finding.detail.clone(),
        mail_subject,
        mail_body,
    }
}

/// A short title for messages.
pub fn title(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::NoDocuments => "No documents from the register",
        AlertKind::DriveExhaustion => "Fiscal drive resource running out",
        AlertKind::DriveReplaceUrgent => "Fiscal drive must be replaced urgently",
        AlertKind::DriveMemoryFull => "Fiscal drive memory nearly full",
        AlertKind::DriveKeyExpiring => "Fiscal drive key validity ending",
        AlertKind::UnsentDocuments => "Documents not delivered by the fiscal drive",
        AlertKind::KzOffline => "Register worked offline for long",
        AlertKind::ShiftOpenTooLong => "Shift open for too long",
        AlertKind::TariffEnding => "Tariff ends soon",
        AlertKind::InvoiceOverdue => "Invoice overdue",
        AlertKind::ZReportMismatch => "Z report differs from the shift's documents",
        AlertKind::DocumentConflict => "Two different documents under one number",
        AlertKind::SignFailed => "A fiscal sign failed verification",
    }
}

/// What to do, for messages.
fn advice(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::NoDocuments => {
            "Check the register's power, network and SIM; documents it keeps are sent once it \
             reconnects."
        }
        AlertKind::DriveExhaustion
        | AlertKind::DriveReplaceUrgent
        | AlertKind::DriveMemoryFull
        | AlertKind::DriveKeyExpiring => {
            "Order a new fiscal drive and plan its replacement with your service engineer before \
             the register stops."
        }
        AlertKind::UnsentDocuments => {
            "The drive blocks the register 30 days after the oldest undelivered document: connect \
             the register to the network now."
        }
        AlertKind::KzOffline => {
            "A register may work offline for at most 72 hours: check its connection."
        }
        AlertKind::ShiftOpenTooLong => "Close the shift (Z report) on the register.",
        AlertKind::TariffEnding | AlertKind::InvoiceOverdue => {
            "Pay the invoice so that the register is not blocked."
        }
        _ => "Contact support with this message.",
    }
}

/// Run [`evaluate_once`] every `interval` until `shutdown`, keeping the firing gauges current.
pub fn spawn(
    store: Store,
    public_url: String,
    interval: Duration,
    metrics: AccountMetrics,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            // The first run waits one period too: a service that restarts in a loop does not
            // evaluate (and mail) on every start.
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(interval) => {}
            }
            match evaluate_once(&store, &public_url, crate::clock::unix_millis()).await {
                Ok(run) => {
                    metrics.evaluations.inc();
                    if run.raised + run.resolved > 0 {
                        tracing::info!(
                            raised = run.raised,
                            resolved = run.resolved,
                            "client alerts evaluated"
                        );
                    }
                }
                Err(error) => {
                    metrics.evaluation_failures.inc();
                    tracing::warn!(%error, "client-alert evaluation failed; retrying next tick");
                }
            }
            if let Ok(counts) = store.firing_alert_counts().await {
                metrics.alerts_firing.reset();
                for kind in AlertKind::ALL {
                    metrics
                        .alerts_firing
                        .with_label_values(&[kind.as_str(), kind.severity().as_str()]);
                }
                for (kind, severity, n) in counts {
                    if AlertKind::parse(&kind).is_some() {
                        metrics
                            .alerts_firing
                            .with_label_values(&[&kind, &severity])
                            .set(n);
                    }
                }
            }
        }
    })
}
