//! Client alerts as plain decisions: what is wrong with a register, given what the store knows
//! about it and the time ([`findings`]); and what to do with the alerts already open, given
//! what is wrong now ([`reconcile`]). No I/O and no clock here: the evaluator
//! (`alert_evaluator.rs`) gathers the facts, passes the time in, and writes the plan.
//!
//! # Design notes
//! - **Raised once.** A finding is identified by (organisation, kind, subject); while an alert
//!   with that identity is open (firing or acknowledged) a new evaluation only refreshes its
//!   figures and `last_seen`. A unique index on open alerts enforces the same in the database,
//!   so two evaluators on one database cannot raise it twice either.
//! - **Resolved on its own.** An open alert whose finding is absent from an evaluation resolves;
//!   an acknowledgement only silences it. If the condition comes back later, that is a new
//!   alert, mailed again.
//! - **Events become windows.** A conflict or a failed fiscal sign is an event, not a state: it
//!   fires while such an event is younger than `event_window_hours`, then resolves.
//! - **Only registers in service.** Blocked and deregistered registers raise no register alert:
//!   their owner knows they are silent.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

pub use crate::store::alert_facts::{DriveReport, OverdueInvoice, RegisterFacts};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// A RU drive that has not delivered a document for 30 days blocks the register (54-ФЗ).
pub const UNSENT_BLOCK_DAYS: i64 = 30;

/// Every kind of client alert.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AlertKind {
    /// An active register has sent nothing for `silent_hours`.
    NoDocuments,
    /// RU drive: resource running out (tag 1050).
    DriveExhaustion,
    /// RU drive: replace urgently (tag 1051).
    DriveReplaceUrgent,
    /// RU drive: memory nearly full (tag 1052).
    DriveMemoryFull,
    /// RU drive: fewer than `drive_key_days` days of key validity left (tag 1213).
    DriveKeyExpiring,
    /// RU drive: its oldest undelivered document (tags 1097/1098) is older than `unsent_days`.
    UnsentDocuments,
    /// KZ: working offline for longer than `kz_offline_hours`.
    KzOffline,
    /// KZ: a shift open for longer than `shift_open_hours`.
    ShiftOpenTooLong,
    /// A register's paid period ends within `tariff_days`.
    TariffEnding,
    /// An invoice is unpaid after its due date.
    InvoiceOverdue,
    /// A Z report's counters differ from the totals of its shift's documents.
    ZReportMismatch,
    /// A drive sent two different documents under one number.
    DocumentConflict,
    /// A document's fiscal sign failed verification.
    SignFailed,
}

impl AlertKind {
    /// Every kind, for settings pages and validation.
    pub const ALL: &'static [AlertKind] = &[
        AlertKind::NoDocuments,
        AlertKind::DriveExhaustion,
        AlertKind::DriveReplaceUrgent,
        AlertKind::DriveMemoryFull,
        AlertKind::DriveKeyExpiring,
        AlertKind::UnsentDocuments,
        AlertKind::KzOffline,
        AlertKind::ShiftOpenTooLong,
        AlertKind::TariffEnding,
        AlertKind::InvoiceOverdue,
        AlertKind::ZReportMismatch,
        AlertKind::DocumentConflict,
        AlertKind::SignFailed,
    ];

    /// The stored and exported name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::NoDocuments => "no_documents",
            AlertKind::DriveExhaustion => "drive_exhaustion",
            AlertKind::DriveReplaceUrgent => "drive_replace_urgent",
            AlertKind::DriveMemoryFull => "drive_memory_full",
            AlertKind::DriveKeyExpiring => "drive_key_expiring",
            AlertKind::UnsentDocuments => "unsent_documents",
            AlertKind::KzOffline => "kz_offline",
            AlertKind::ShiftOpenTooLong => "shift_open_too_long",
            AlertKind::TariffEnding => "tariff_ending",
            AlertKind::InvoiceOverdue => "invoice_overdue",
            AlertKind::ZReportMismatch => "z_report_mismatch",
            AlertKind::DocumentConflict => "document_conflict",
            AlertKind::SignFailed => "sign_failed",
        }
    }

    /// The kind stored as `text`.
    pub fn parse(text: &str) -> Option<AlertKind> {
        AlertKind::ALL.iter().copied().find(|k| k.as_str() == text)
    }

    /// Its severity: critical when the register is about to stop working or a document is at
    /// stake, warning for what has days to be handled.
    pub fn severity(self) -> Severity {
        match self {
            AlertKind::DriveReplaceUrgent
            | AlertKind::DriveMemoryFull
            | AlertKind::UnsentDocuments
            | AlertKind::DocumentConflict
            | AlertKind::SignFailed => Severity::Critical,
            _ => Severity::Warning,
        }
    }
}

/// How urgent an alert is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For the record.
    Info,
    /// Needs attention within days.
    Warning,
    /// Needs attention now.
    Critical,
}

impl Severity {
    /// Every severity.
    pub const ALL: &'static [Severity] = &[Severity::Info, Severity::Warning, Severity::Critical];

    /// The stored and exported name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// The severity stored as `text`.
    pub fn parse(text: &str) -> Option<Severity> {
        Severity::ALL.iter().copied().find(|s| s.as_str() == text)
    }
}

/// An organisation's thresholds; every field has the default the issue of record gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Hours without a document before `no_documents` fires (default 24).
    pub silent_hours: i64,
    /// Days of drive key validity below which `drive_key_expiring` fires (default 30).
    pub drive_key_days: i64,
    /// Age in days of the oldest undelivered document before `unsent_documents` fires
    /// (default 3; the drive blocks at 30).
    pub unsent_days: i64,
    /// Hours offline before `kz_offline` fires (default 24; the autonomous limit is 72).
    pub kz_offline_hours: i64,
    /// Hours a shift may stay open (default 24).
    pub shift_open_hours: i64,
    /// Days before the end of the paid period when `tariff_ending` fires (default 7).
    pub tariff_days: i64,
    /// How long a conflict or a failed sign keeps its alert firing, in hours (default 168).
    pub event_window_hours: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            silent_hours: 24,
            drive_key_days: 30,
            unsent_days: 3,
            kz_offline_hours: 24,
            shift_open_hours: 24,
            tariff_days: 7,
            event_window_hours: 168,
        }
    }
}

impl Thresholds {
    /// The first field out of range, as (field, reason), for a 400 naming it.
    pub fn invalid_field(&self) -> Option<(&'static str, &'static str)> {
        let fields = [
            ("silent_hours", self.silent_hours, 1, 24 * 90),
            ("drive_key_days", self.drive_key_days, 1, 400),
            ("unsent_days", self.unsent_days, 1, UNSENT_BLOCK_DAYS),
            ("kz_offline_hours", self.kz_offline_hours, 1, 72),
            ("shift_open_hours", self.shift_open_hours, 1, 24 * 7),
            ("tariff_days", self.tariff_days, 1, 90),
            ("event_window_hours", self.event_window_hours, 1, 24 * 90),
        ];
        fields
            .into_iter()
            .find(|(_, value, low, high)| !(low..=high).contains(&value))
            .map(|(name, ..)| (name, "out of range"))
    }
}

/// One thing wrong now.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// What.
    pub kind: AlertKind,
    /// Identity within (organisation, kind).
    pub subject: String,
    /// The register, when it is about one.
    pub register_id: Option<i64>,
    /// The figures, for the message and the API.
    pub detail: serde_json::Value,
}

/// What is wrong with `facts`' register at `now_ms` under `t`.
pub fn findings(facts: &RegisterFacts, t: &Thresholds, now_ms: i64) -> Vec<Finding> {
    let mut out = Vec::new();
    if !facts.in_service {
        return out;
    }
    let id = facts.register_id;
    let subject = format!("register:{id}");
    let mut push = |kind: AlertKind, detail: serde_json::Value| {
        out.push(Finding {
            kind,
            subject: subject.clone(),
            register_id: Some(id),
            detail,
        })
    };

    let silent_since = facts.last_document_ms.unwrap_or(facts.created_at_ms);
    let silent_ms = now_ms - silent_since;
    if silent_ms >= t.silent_hours * HOUR_MS {
        push(
            AlertKind::NoDocuments,
            json!({
                "hours_silent": silent_ms / HOUR_MS,
                "last_document_ms": facts.last_document_ms,
            }),
        );
    }

    if let Some(drive) = &facts.drive {
        if drive.exhaustion {
            push(AlertKind::DriveExhaustion, json!({}));
        }
        if drive.replace_urgent {
            push(AlertKind::DriveReplaceUrgent, json!({}));
        }
        if drive.memory_full {
            push(AlertKind::DriveMemoryFull, json!({}));
        }
        if let Some(days) = drive.key_days_left.filter(|d| *d < t.drive_key_days) {
            push(AlertKind::DriveKeyExpiring, json!({ "days_left": days }));
        }
        if let (Some(count), Some(oldest_s)) = (drive.unsent_count, drive.oldest_unsent_s) {
            let age_days = (now_ms / 1000 - oldest_s).div_euclid(86_400);
            if count > 0 && age_days >= t.unsent_days {
                push(
                    AlertKind::UnsentDocuments,
                    json!({
                        "unsent": count,
                        "oldest_days": age_days,
                        "days_before_block": (UNSENT_BLOCK_DAYS - age_days).max(0),
                    }),
                );
            }
        }
    }

    let window = t.event_window_hours * HOUR_MS;
    // The register says how long it was offline when it replays; its end is register-local
    // time, a few hours off UTC at most, which the window of days absorbs.
    if let Some((hours, ended_s)) = facts.last_offline {
        if hours >= t.kz_offline_hours && now_ms - ended_s * 1000 < window {
            push(
                AlertKind::KzOffline,
                json!({ "hours_offline": hours, "autonomous_limit_hours": 72 }),
            );
        }
    }
    if let Some(opened) = facts.shift_opened_ms {
        let hours = (now_ms - opened) / HOUR_MS;
        if hours >= t.shift_open_hours {
            push(AlertKind::ShiftOpenTooLong, json!({ "hours_open": hours }));
        }
    }
    if let Some(until) = facts.paid_until_ms {
        let days = (until - now_ms).div_euclid(DAY_MS);
        if days < t.tariff_days {
            push(AlertKind::TariffEnding, json!({ "days_left": days.max(0) }));
        }
    }
    if let Some(at) = facts.last_conflict_ms.filter(|at| now_ms - at < window) {
        push(AlertKind::DocumentConflict, json!({ "last_at_ms": at }));
    }
    if let Some(at) = facts.last_sign_failure_ms.filter(|at| now_ms - at < window) {
        push(AlertKind::SignFailed, json!({ "last_at_ms": at }));
    }
    if !facts.mismatched_shifts.is_empty() {
        push(
            AlertKind::ZReportMismatch,
            json!({ "shifts": facts.mismatched_shifts }),
        );
    }
    out
}

/// An organisation's unpaid invoice past its due date, as a finding (the store only returns
/// invoices past due; the days overdue are counted here).
pub fn invoice_finding(invoice: &OverdueInvoice, now_ms: i64) -> Option<Finding> {
    (invoice.due_at_ms < now_ms).then(|| Finding {
        kind: AlertKind::InvoiceOverdue,
        subject: format!("invoice:{}", invoice.id),
        register_id: None,
        detail: json!({
            "invoice": invoice.number,
            "amount_minor": invoice.amount_minor,
            "currency": invoice.currency,
            "days_overdue": (now_ms - invoice.due_at_ms).div_euclid(DAY_MS),
        }),
    })
}

/// An alert the store holds open (firing or acknowledged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAlert {
    /// Row id.
    pub id: i64,
    /// Kind.
    pub kind: AlertKind,
    /// Identity within (organisation, kind).
    pub subject: String,
}

/// What one evaluation of one organisation does.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// New alerts.
    pub raise: Vec<Finding>,
    /// Open alerts still found: (id, fresh figures).
    pub refresh: Vec<(i64, serde_json::Value)>,
    /// Open alerts no longer found.
    pub resolve: Vec<i64>,
}

/// Compare the open alerts of one organisation with what is wrong now.
pub fn reconcile(open: &[OpenAlert], now: Vec<Finding>) -> Plan {
    let mut by_identity: HashMap<(AlertKind, String), i64> = open
        .iter()
        .map(|a| ((a.kind, a.subject.clone()), a.id))
        .collect();
    let mut plan = Plan::default();
    for finding in now {
        let found = by_identity.remove(&(finding.kind, finding.subject.clone()));
        match found {
            Some(id) => plan.refresh.push((id, finding.detail)),
            None => plan.raise.push(finding),
        }
    }
    let mut resolve: Vec<i64> = by_identity.into_values().collect();
    resolve.sort_unstable();
    plan.resolve = resolve;
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn active(id: i64) -> RegisterFacts {
        RegisterFacts {
            register_id: id,
            in_service: true,
            created_at_ms: NOW - 1000 * DAY_MS,
            last_document_ms: Some(NOW - HOUR_MS),
            ..RegisterFacts::default()
        }
    }

    fn kinds(found: &[Finding]) -> Vec<AlertKind> {
        found.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn a_register_that_sends_raises_nothing() {
        assert!(findings(&active(1), &Thresholds::default(), NOW).is_empty());
    }

    #[test]
    fn silence_fires_at_the_threshold_and_not_for_registers_out_of_service() {
        let t = Thresholds::default();
        let mut facts = active(7);
        facts.last_document_ms = Some(NOW - 24 * HOUR_MS + 1);
        assert!(findings(&facts, &t, NOW).is_empty(), "just under 24 h");
        facts.last_document_ms = Some(NOW - 24 * HOUR_MS);
        let found = findings(&facts, &t, NOW);
        assert_eq!(kinds(&found), vec![AlertKind::NoDocuments]);
        assert_eq!(found[0].subject, "register:7");
        assert_eq!(found[0].detail["hours_silent"], 24);
        facts.in_service = false;
        assert!(
            findings(&facts, &t, NOW).is_empty(),
            "blocked: silent by design"
        );
        // A register that never sent counts its silence from provisioning.
        let mut fresh = active(8);
        fresh.last_document_ms = None;
        fresh.created_at_ms = NOW - 2 * HOUR_MS;
        assert!(findings(&fresh, &t, NOW).is_empty());
        fresh.created_at_ms = NOW - 30 * HOUR_MS;
        assert_eq!(
            kinds(&findings(&fresh, &t, NOW)),
            vec![AlertKind::NoDocuments]
        );
    }

    #[test]
    fn drive_flags_and_counters_map_to_their_kinds() {
        let t = Thresholds::default();
        let mut facts = active(3);
        facts.drive = Some(DriveReport {
            exhaustion: true,
            replace_urgent: true,
            memory_full: true,
            key_days_left: Some(29),
            unsent_count: Some(12),
            oldest_unsent_s: Some(NOW / 1000 - 26 * 86_400),
        });
        let found = findings(&facts, &t, NOW);
        assert_eq!(
            kinds(&found),
            vec![
                AlertKind::DriveExhaustion,
                AlertKind::DriveReplaceUrgent,
                AlertKind::DriveMemoryFull,
                AlertKind::DriveKeyExpiring,
                AlertKind::UnsentDocuments,
            ]
        );
        let unsent = &found[4].detail;
        assert_eq!(unsent["oldest_days"], 26);
        assert_eq!(unsent["days_before_block"], 4);
        assert_eq!(unsent["unsent"], 12);
        // Key days at the threshold, nothing unsent: quiet.
        facts.drive = Some(DriveReport {
            key_days_left: Some(30),
            unsent_count: Some(0),
            oldest_unsent_s: Some(0),
            ..DriveReport::default()
        });
        assert!(findings(&facts, &t, NOW).is_empty());
    }

    #[test]
    fn kz_offline_and_long_shifts_fire_after_their_hours() {
        let t = Thresholds::default();
        let mut facts = active(4);
        facts.last_offline = Some((23, NOW / 1000 - 3600));
        facts.shift_opened_ms = Some(NOW - 23 * HOUR_MS);
        assert!(findings(&facts, &t, NOW).is_empty());
        facts.last_offline = Some((50, NOW / 1000 - 3600));
        facts.shift_opened_ms = Some(NOW - 25 * HOUR_MS);
        let found = findings(&facts, &t, NOW);
        assert_eq!(
            kinds(&found),
            vec![AlertKind::KzOffline, AlertKind::ShiftOpenTooLong]
        );
        assert_eq!(found[0].detail["hours_offline"], 50);
        // Long ago: the window is over.
        facts.last_offline = Some((50, NOW / 1000 - 200 * 3600));
        assert_eq!(
            kinds(&findings(&facts, &t, NOW)),
            vec![AlertKind::ShiftOpenTooLong]
        );
    }

    #[test]
    fn tariffs_and_events_fire_inside_their_windows() {
        let t = Thresholds::default();
        let mut facts = active(5);
        facts.paid_until_ms = Some(NOW + 8 * DAY_MS);
        facts.last_conflict_ms = Some(NOW - 169 * HOUR_MS);
        assert!(findings(&facts, &t, NOW).is_empty());
        facts.paid_until_ms = Some(NOW + 6 * DAY_MS);
        facts.last_conflict_ms = Some(NOW - HOUR_MS);
        facts.last_sign_failure_ms = Some(NOW - HOUR_MS);
        facts.mismatched_shifts = vec![12];
        assert_eq!(
            kinds(&findings(&facts, &t, NOW)),
            vec![
                AlertKind::TariffEnding,
                AlertKind::DocumentConflict,
                AlertKind::SignFailed,
                AlertKind::ZReportMismatch,
            ]
        );
    }

    #[test]
    fn an_open_alert_is_refreshed_not_raised_again_and_resolves_when_gone() {
        let open = vec![
            OpenAlert {
                id: 10,
                kind: AlertKind::NoDocuments,
                subject: "register:1".into(),
            },
            OpenAlert {
                id: 11,
                kind: AlertKind::DriveExhaustion,
                subject: "register:1".into(),
            },
        ];
        let now = vec![
            Finding {
                kind: AlertKind::NoDocuments,
                subject: "register:1".into(),
                register_id: Some(1),
                detail: json!({"hours_silent": 30}),
            },
            Finding {
                kind: AlertKind::NoDocuments,
                subject: "register:2".into(),
                register_id: Some(2),
                detail: json!({"hours_silent": 25}),
            },
        ];
        let plan = reconcile(&open, now);
        assert_eq!(plan.refresh, vec![(10, json!({"hours_silent": 30}))]);
        assert_eq!(plan.raise.len(), 1);
        assert_eq!(plan.raise[0].subject, "register:2");
        assert_eq!(plan.resolve, vec![11]);
    }

    #[test]
    fn an_invoice_is_overdue_after_its_due_date() {
        let invoice = OverdueInvoice {
            org_id: 1,
            id: 9,
            number: "INV-000009".into(),
            due_at_ms: NOW - 3 * DAY_MS,
            amount_minor: 150_000,
            currency: "RUB".into(),
        };
        let found = invoice_finding(&invoice, NOW).expect("overdue");
        assert_eq!(found.kind, AlertKind::InvoiceOverdue);
        assert_eq!(found.subject, "invoice:9");
        assert_eq!(found.detail["days_overdue"], 3);
        assert_eq!(invoice_finding(&invoice, NOW - 4 * DAY_MS), None);
    }

    #[test]
    fn names_round_trip_and_thresholds_are_checked() {
        for kind in AlertKind::ALL {
            assert_eq!(AlertKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(AlertKind::parse("nope"), None);
        assert_eq!(Thresholds::default().invalid_field(), None);
        let t = Thresholds {
            kz_offline_hours: 100,
            ..Thresholds::default()
        };
        assert_eq!(
            t.invalid_field(),
            Some(("kz_offline_hours", "out of range"))
        );
    }
}
