//! When the projector steps aside for ingest.
//!
//! Why: on a host whose cores ingest and the projector share (`ofd all`, or `ofd project` beside
//! `ofd serve` and PostgreSQL on one machine), every document the projector applies while
//! registers are sending is CPU that ingest's acks do not get: with ingest saturating two cores
//! the ack rate fell to 0.70–0.93 of what it was alone (benches/README.md, twelfth round), and
//! a nice value does not reach the PostgreSQL backends that do most of the projector's work.
//! The read tables are eventually consistent anyway; a register waits for its ack now.
//!
//! So, when `[project] yield_max_lag_ms` is set, the projector pauses while documents arrive at
//! `yield_above` per second or more, and resumes when they arrive slower, or when the oldest
//! document it has not projected is `yield_max_lag_ms` old — it never falls further behind than
//! that plus the time to catch up, which it does at its full rate (≥ 2× ingest's, issue 14).
//!
//! Invariants:
//! - Pure: samples and time in, a decision out ([`decide`]); the loop in `super` measures.
//! - A rate is taken over at least [`WINDOW_MS`].
//! - The arrival rate counts what was committed between two samples whether or not it was
//!   projected meanwhile: the change in unprojected documents plus those applied.
//! - Off (`max_lag_ms` 0) never yields.

/// The policy, from `[project] yield_above` and `yield_max_lag_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct YieldPolicy {
    /// Arrivals per second at or above which the projector steps aside.
    pub above_per_s: u64,
    /// The oldest unprojected document's age at which it steps aside no longer; 0 turns the
    /// policy off.
    pub max_lag_ms: u64,
}

/// What the housekeeper measured at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// When (unix ms).
    pub at_ms: i64,
    /// Committed documents not yet projected.
    pub unprojected: i64,
    /// Documents this process applied so far (a running total).
    pub applied: u64,
    /// Arrival time (unix ms) of the oldest unprojected document, if any.
    pub oldest_ms: Option<i64>,
}

/// Documents committed per second between two samples (0 when no time passed).
pub fn arrivals_per_s(before: Sample, now: Sample) -> f64 {
    let elapsed_ms = now.at_ms - before.at_ms;
    if elapsed_ms <= 0 {
        return 0.0;
    }
    let applied = now.applied.saturating_sub(before.applied) as f64;
    let arrived = (now.unprojected - before.unprojected) as f64 + applied;
    arrived.max(0.0) * 1000.0 / elapsed_ms as f64
}

/// The shortest time between two samples a rate is taken over: ingest commits in groups (every
/// few milliseconds under load), so a rate over one or two of them would see a group as a
/// flood; a quarter of a second holds dozens, and the projector still steps aside early in a
/// burst.
pub const WINDOW_MS: i64 = 250;

/// Whether to step aside until the next decision; `None` (keep the current one) when the two
/// samples are less than [`WINDOW_MS`] apart.
pub fn decide(policy: YieldPolicy, before: Sample, now: Sample) -> Option<bool> {
    if now.at_ms - before.at_ms < WINDOW_MS {
        return None;
    }
    if policy.max_lag_ms == 0 {
        return Some(false);
    }
    let behind_ms = now
        .oldest_ms
        .map_or(0, |oldest| (now.at_ms - oldest).max(0));
    let max_lag_ms = i64::try_from(policy.max_lag_ms).unwrap_or(i64::MAX);
    Some(behind_ms < max_lag_ms && arrivals_per_s(before, now) >= policy.above_per_s as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: YieldPolicy = YieldPolicy {
        above_per_s: 1_000,
        max_lag_ms: 5_000,
    };

    fn sample(at_ms: i64, unprojected: i64, applied: u64, oldest_ms: Option<i64>) -> Sample {
        Sample {
            at_ms,
            unprojected,
            applied,
            oldest_ms,
        }
    }

    #[test]
    fn arrivals_count_what_was_projected_meanwhile() {
        // 1,500 more unprojected and 500 applied in half a second: 4,000 a second arrived.
        let rate = arrivals_per_s(
            sample(10_000, 100, 7, None),
            sample(10_500, 1_600, 507, None),
        );
        assert_eq!(rate, 4_000.0);
        // Catching up: fewer unprojected, as many applied as were there and more arrived.
        let rate = arrivals_per_s(
            sample(10_000, 3_000, 0, None),
            sample(11_000, 0, 3_100, None),
        );
        assert_eq!(rate, 100.0);
        assert_eq!(
            arrivals_per_s(sample(5, 0, 0, None), sample(5, 9, 9, None)),
            0.0
        );
    }

    #[test]
    fn steps_aside_while_ingest_is_busy_and_never_beyond_the_lag_allowed() {
        let before = sample(10_000, 0, 0, None);
        let decision = |now| decide(POLICY, before, now);
        // 2,000 a second arriving, the oldest 1 s old: aside.
        assert_eq!(decision(sample(11_000, 2_000, 0, Some(10_000))), Some(true));
        // The same, the oldest 5 s old: projects.
        assert_eq!(decision(sample(11_000, 2_000, 0, Some(6_000))), Some(false));
        // Arriving slower than the threshold: projects.
        assert_eq!(decision(sample(11_000, 999, 0, Some(10_500))), Some(false));
        // One group commit of 50 a few milliseconds after the last sample: no rate yet.
        assert_eq!(decision(sample(10_005, 50, 0, Some(10_001))), None);
        assert_eq!(decision(sample(10_249, 50, 0, Some(10_001))), None);
        assert_eq!(decision(sample(10_250, 50, 0, Some(10_001))), Some(false));
        // Off: never aside.
        let off = YieldPolicy {
            max_lag_ms: 0,
            ..POLICY
        };
        assert_eq!(
            decide(off, before, sample(11_000, 50_000, 0, Some(10_900))),
            Some(false)
        );
    }
}
