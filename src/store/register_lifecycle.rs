//! The register's state machine as the cabinet keeps it, as one pure function: which status
//! changes are allowed, and what the ingest gate is in each state. No I/O, no clock: the store's
//! one status-changing function ([`super::registers::transition`]) asks [`next`] and stores what
//! it answers, with who, when and why.
//!
//! The states:
//!
//! ```text
//! saved ──submit──▶ submitted ──answer──▶ registered ──tariff──▶ active ⇄ blocked
//!   ▲                  │ refused                 ▲                 │        │
//!   └──────────────────┘                         └─ reregistration ◀┴────────┘
//! any state but deregistered ──(reason required)──▶ deregistered (final)
//! ```
//!
//! Asking for the state a register is already in is a no-op (not a transition, not recorded).
//!
//! An edit puts a registered register back into `saved` until its owner confirms; the state it
//! came from is kept as `resume` and confirming returns to exactly that state. While saved after
//! an edit the ingest gate stays what it was (an edit never unblocks a register).
//!
//! The ingest gate ([`RegisterStatus`], the `registers.status` column): `blocked` and
//! `deregistered` refuse new documents, every other state accepts them (a register sends its
//! registration report right after the tax authority registers it, before the cabinet hears).

use std::str::FromStr;

use super::StoreError;

/// The cabinet's state of a register.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    /// Entered or edited, waiting for the owner's confirmation or its application.
    Saved,
    /// The registration application has gone to the tax authority.
    Submitted,
    /// The tax authority's answer is in: registration number and date are known.
    Registered,
    /// In service (tariff paid).
    Active,
    /// Out of service for now (unpaid, or on request).
    Blocked,
    /// Being re-registered (new address, new drive, new OFD).
    Reregistration,
    /// Removed from service for good.
    Deregistered,
}

/// Every state, in the order of the diagram.
pub const ALL_STATES: [Lifecycle; 7] = [
    Lifecycle::Saved,
    Lifecycle::Submitted,
    Lifecycle::Registered,
    Lifecycle::Active,
    Lifecycle::Blocked,
    Lifecycle::Reregistration,
    Lifecycle::Deregistered,
];

impl Lifecycle {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Saved => "saved",
            Lifecycle::Submitted => "submitted",
            Lifecycle::Registered => "registered",
            Lifecycle::Active => "active",
            Lifecycle::Blocked => "blocked",
            Lifecycle::Reregistration => "reregistration",
            Lifecycle::Deregistered => "deregistered",
        }
    }
}

impl FromStr for Lifecycle {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL_STATES
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown register lifecycle {s:?}")))
    }
}

/// Why a register was deregistered (the seeds' list).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DeregistrationReason {
    /// Sold to someone else.
    Sold,
    /// Broken beyond repair.
    Broken,
    /// The drive was replaced together with the register (a new register takes over).
    DriveReplaced,
    /// The business closed.
    ClosedBusiness,
    /// Something else, said in the text.
    Other,
}

impl DeregistrationReason {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            DeregistrationReason::Sold => "sold",
            DeregistrationReason::Broken => "broken",
            DeregistrationReason::DriveReplaced => "drive_replaced",
            DeregistrationReason::ClosedBusiness => "closed_business",
            DeregistrationReason::Other => "other",
        }
    }
}

/// Where a register is: its state, and while saved after an edit the state a confirmation
/// returns to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// The state.
    pub state: Lifecycle,
    /// `Some` only while `state` is `saved` after an edit of a register that was further on.
    pub resume: Option<Lifecycle>,
}

impl Position {
    /// The ingest gate in this position.
    pub fn gate(self) -> RegisterStatus {
        let state = match (self.state, self.resume) {
            (Lifecycle::Saved, Some(resume)) => resume,
            (state, _) => state,
        };
        match state {
            Lifecycle::Blocked => RegisterStatus::Blocked,
            Lifecycle::Deregistered => RegisterStatus::Deregistered,
            _ => RegisterStatus::Active,
        }
    }
}

/// What is asked of a register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Go to this state (anything but `saved` and `deregistered`).
    To(Lifecycle),
    /// An edit: back to `saved` until confirmed.
    Edit,
    /// The owner confirms an edit: back to the state before it.
    Confirm,
    /// Deregister, with the reason (and for `other`, a non-empty text).
    Deregister(DeregistrationReason, Option<String>),
}

/// Why a change was refused; the message names the field.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not an allowed transition from here.
    #[error("status: a register that is {from} cannot become {to}")]
    NotAllowed {
        /// Current state.
        from: &'static str,
        /// Asked state.
        to: &'static str,
    },
    /// Deregistration without a usable reason.
    #[error("reason_text: the reason 'other' needs a text saying what it is")]
    ReasonTextMissing,
    /// `To(saved)` or `To(deregistered)`: those have their own changes.
    #[error("status: {0} is reached by its own action (edit, or deregister with a reason)")]
    UseOwnAction(&'static str),
}

/// The position after `change` from `from`, or why it is refused.
pub fn next(from: Position, change: &Change) -> Result<Position, Refusal> {
    use Lifecycle::*;
    let refuse = |to: Lifecycle| Refusal::NotAllowed {
        from: from.state.as_str(),
        to: to.as_str(),
    };
    let plain = |state| Position {
        state,
        resume: None,
    };
    if from.state == Deregistered {
        let to = match change {
            Change::To(to) => *to,
            Change::Edit | Change::Confirm => Saved,
            Change::Deregister(..) => Deregistered,
        };
        return Err(refuse(to));
    }
    match change {
        Change::To(to @ (Saved | Deregistered)) => Err(Refusal::UseOwnAction(to.as_str())),
        // Asking for the state it is in changes nothing (PUT is idempotent).
        Change::To(to) if from.resume.is_none() && from.state == *to => Ok(from),
        Change::To(to) => {
            let allowed = match (from.state, to) {
                (Saved, Submitted) => from.resume.is_none(),
                (Submitted, Registered) => true,
                (Registered, Active) => true,
                (Active, Blocked) | (Blocked, Active) => true,
                (Registered | Active | Blocked, Reregistration) => true,
                (Reregistration, Registered) => true,
                _ => false,
            };
            if allowed {
                Ok(plain(*to))
            } else {
                Err(refuse(*to))
            }
        }
        Change::Edit => match from.state {
            // Already waiting for confirmation: it stays so, with the same resume state.
            Saved => Ok(from),
            // A refused or withdrawn application goes back to the owner.
            Submitted => Ok(plain(Saved)),
            state => Ok(Position {
                state: Saved,
                resume: Some(state),
            }),
        },
        Change::Confirm => match (from.state, from.resume) {
            (Saved, Some(resume)) => Ok(plain(resume)),
            _ => Err(refuse(from.resume.unwrap_or(from.state))),
        },
        Change::Deregister(reason, text) => {
            let has_text = text.as_deref().is_some_and(|t| !t.trim().is_empty());
            if *reason == DeregistrationReason::Other && !has_text {
                return Err(Refusal::ReasonTextMissing);
            }
            Ok(plain(Deregistered))
        }
    }
}

/// Whether a register may send documents.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RegisterStatus {
    /// In service: documents are accepted.
    Active,
    /// Temporarily refused (e.g. unpaid contract); may be re-activated.
    Blocked,
    /// Removed from service for good (its documents stay).
    Deregistered,
}

impl RegisterStatus {
    /// The value stored in `registers.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            RegisterStatus::Active => "active",
            RegisterStatus::Blocked => "blocked",
            RegisterStatus::Deregistered => "deregistered",
        }
    }
}

impl FromStr for RegisterStatus {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(RegisterStatus::Active),
            "blocked" => Ok(RegisterStatus::Blocked),
            "deregistered" => Ok(RegisterStatus::Deregistered),
            other => Err(StoreError::Corrupt(format!(
                "unknown register status {other:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Lifecycle::*;

    fn at(state: Lifecycle, resume: Option<Lifecycle>) -> Position {
        Position { state, resume }
    }

    /// The positions a register can be in: every state without resume, and saved with each
    /// state an edit can come from.
    fn positions() -> Vec<Position> {
        let mut all: Vec<Position> = ALL_STATES.iter().map(|s| at(*s, None)).collect();
        for resume in [Registered, Active, Blocked, Reregistration] {
            all.push(at(Saved, Some(resume)));
        }
        all
    }

    /// The allowed plain transitions, written out as the issue states them.
    const ALLOWED_TO: [(Lifecycle, Lifecycle); 8] = [
        (Saved, Submitted),
        (Submitted, Registered),
        (Registered, Active),
        (Active, Blocked),
        (Blocked, Active),
        (Registered, Reregistration),
        (Active, Reregistration),
        (Blocked, Reregistration),
    ];

    #[test]
    fn every_plain_transition_is_allowed_exactly_when_listed() {
        let mut allowed = ALLOWED_TO.to_vec();
        allowed.push((Reregistration, Registered));
        for from in positions() {
            for to in ALL_STATES {
                let answer = next(from, &Change::To(to));
                let listed = from.resume.is_none() && allowed.contains(&(from.state, to));
                match (to, listed) {
                    (Saved | Deregistered, _) if from.state != Deregistered => {
                        assert!(
                            matches!(answer, Err(Refusal::UseOwnAction(_))),
                            "{from:?} -> {to:?}: {answer:?}"
                        )
                    }
                    (_, _) if from.resume.is_none() && from.state == to && to != Deregistered => {
                        assert_eq!(answer, Ok(from), "{from:?} -> itself is a no-op")
                    }
                    (_, true) => assert_eq!(answer, Ok(at(to, None)), "{from:?} -> {to:?}"),
                    (_, false) => assert!(
                        matches!(answer, Err(Refusal::NotAllowed { .. })),
                        "{from:?} -> {to:?}: {answer:?}"
                    ),
                }
            }
        }
    }

    #[test]
    fn edits_and_confirmations_return_to_the_state_before() {
        for from in positions() {
            let edited = next(from, &Change::Edit);
            match (from.state, from.resume) {
                (Deregistered, _) => assert!(edited.is_err()),
                (Saved, _) => assert_eq!(edited, Ok(from)),
                (Submitted, _) => assert_eq!(edited, Ok(at(Saved, None))),
                (state, _) => {
                    let saved = edited.expect("an edit is allowed");
                    assert_eq!(saved, at(Saved, Some(state)));
                    assert_eq!(saved.gate(), from.gate(), "an edit keeps the gate");
                    assert_eq!(next(saved, &Change::Confirm), Ok(at(state, None)));
                }
            }
            let confirmed = next(from, &Change::Confirm);
            match from.resume {
                Some(resume) => assert_eq!(confirmed, Ok(at(resume, None))),
                None => assert!(confirmed.is_err(), "{from:?}"),
            }
        }
    }

    #[test]
    fn deregistration_needs_a_reason_and_is_final() {
        let reasons = [
            DeregistrationReason::Sold,
            DeregistrationReason::Broken,
            DeregistrationReason::DriveReplaced,
            DeregistrationReason::ClosedBusiness,
        ];
        for from in positions() {
            for reason in reasons {
                let answer = next(from, &Change::Deregister(reason, None));
                if from.state == Deregistered {
                    assert!(answer.is_err());
                } else {
                    assert_eq!(answer, Ok(at(Deregistered, None)));
                }
            }
            let other = Change::Deregister(DeregistrationReason::Other, Some("  ".into()));
            if from.state != Deregistered {
                assert_eq!(next(from, &other), Err(Refusal::ReasonTextMissing));
                let other = Change::Deregister(DeregistrationReason::Other, Some("moved".into()));
                assert_eq!(next(from, &other), Ok(at(Deregistered, None)));
            }
        }
        let gone = at(Deregistered, None);
        for change in [Change::Edit, Change::Confirm, Change::To(Active)] {
            assert!(next(gone, &change).is_err(), "{change:?}");
        }
    }

    #[test]
    fn the_gate_refuses_only_blocked_and_deregistered() {
        for from in positions() {
            let expected = match from.resume.unwrap_or(from.state) {
                Blocked => RegisterStatus::Blocked,
                Deregistered => RegisterStatus::Deregistered,
                _ => RegisterStatus::Active,
            };
            assert_eq!(from.gate(), expected, "{from:?}");
        }
    }
}
