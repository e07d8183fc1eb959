//! Faults a test can switch on over HTTP (`POST /faults`), so that the forwarder's retry, dedup
//! and rejection paths are exercised against a real server rather than a mock.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The fault plan. Every field defaults to "no fault"; `POST /faults` replaces the whole plan.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Faults {
    /// Wait this long before handling each batch.
    pub delay_ms: u64,
    /// Answer the next n batches with 503 without storing them.
    pub fail_next_n: u64,
    /// Store the next n batches, then drop the connection instead of answering (a lost response).
    pub drop_response_after_store_next_n: u64,
    /// Refuse every line whose text contains this substring.
    pub reject_documents_matching: Option<String>,
}

/// What to do with one incoming batch, decided once so that concurrent batches each consume a
/// fault exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Answer 503 without storing.
    Fail,
    /// Store, then drop the response.
    StoreAndDrop,
    /// Store and answer.
    Normal,
}

/// The live plan, shared by the handlers.
#[derive(Debug, Default)]
pub struct FaultPlan(Mutex<Faults>);

impl FaultPlan {
    /// Replace the plan.
    pub fn set(&self, faults: Faults) {
        *self.lock() = faults;
    }

    /// The current plan.
    pub fn get(&self) -> Faults {
        self.lock().clone()
    }

    /// Consume one fault (if any) for the batch about to be handled; returns the decision, the
    /// delay and the reject pattern.
    pub fn next(&self) -> (Decision, u64, Option<String>) {
        let mut plan = self.lock();
        let decision = if plan.fail_next_n > 0 {
            plan.fail_next_n -= 1;
            Decision::Fail
        } else if plan.drop_response_after_store_next_n > 0 {
            plan.drop_response_after_store_next_n -= 1;
            Decision::StoreAndDrop
        } else {
            Decision::Normal
        };
        (
            decision,
            plan.delay_ms,
            plan.reject_documents_matching.clone(),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Faults> {
        // A poisoned lock only means a handler panicked mid-update of plain counters; keep going.
        self.0.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}
