//! The tariff check: a register whose tariff has run out is blocked once the operator's grace
//! period (`[account] tariff_grace_days`) has passed too.
//!
//! The decision is [`decide`], a plain function of the paid-until date, the grace period and
//! the time, so that every boundary is tested without a clock or a database. The periodic task
//! ([`spawn`]) reads the time once per round, asks the store for the active registers whose
//! tariff ended before now − grace (`Store::tariffs_unpaid_since`), confirms each with
//! [`decide`], and blocks it with `Store::block_for_nonpayment`, which writes the block and its
//! audit line in one transaction and does nothing if a payment arrived in between. A paid
//! invoice re-activates the registers blocked this way (`store/invoices.rs`).
//!
//! Alerts before the block belong to the alerts feature; it finds the registers to warn about
//! with `Store::tariffs_ending_within`.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// Registers blocked per round at most (the rest wait for the next round).
const ROUND_LIMIT: i64 = 500;

/// What the tariff check does with one register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TariffDecision {
    /// Paid (or in trial) at `now`.
    Paid,
    /// Unpaid, within the grace period: blocked at `blocks_at` (unix ms) unless paid.
    Grace {
        /// When the grace period ends.
        blocks_at: i64,
    },
    /// Unpaid past the grace period: block.
    Block,
}

/// The decision for a tariff paid until `paid_until`, with `grace_ms` of grace, at `now` (all
/// unix ms). Paid while `now < paid_until`; blocked from `paid_until + grace_ms` on.
pub fn decide(paid_until: i64, grace_ms: i64, now: i64) -> TariffDecision {
    if now < paid_until {
        return TariffDecision::Paid;
    }
    let blocks_at = paid_until.saturating_add(grace_ms.max(0));
    if now < blocks_at {
        TariffDecision::Grace { blocks_at }
    } else {
        TariffDecision::Block
    }
}

/// One round at `now`: block every active register [`decide`] says to; how many were blocked.
pub async fn run_round(store: &Store, grace: Duration, now: i64) -> anyhow::Result<usize> {
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    let candidates = store
        .tariffs_unpaid_since(now.saturating_sub(grace_ms), ROUND_LIMIT)
        .await?;
    let mut blocked = 0;
    for tariff in candidates {
        if decide(tariff.paid_until, grace_ms, now) != TariffDecision::Block {
            continue;
        }
        let detail = format!(
            "tariff paid until {} and grace of {} days over",
            tariff.paid_until,
            grace.as_secs() / 86_400
        );
        if store
            .block_for_nonpayment(tariff.register_id, tariff.paid_until, detail)
            .await?
        {
            tracing::info!(
                register = tariff.register_id,
                paid_until = tariff.paid_until,
                "register blocked: tariff unpaid past the grace period"
            );
            blocked += 1;
        }
    }
    Ok(blocked)
}

/// Run a round every `every` until `stop` is cancelled (a round in progress is finished).
pub fn spawn(
    store: Store,
    grace: Duration,
    every: Duration,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = ticks.tick() => {}
            }
            if let Err(error) = run_round(&store, grace, crate::clock::unix_millis()).await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "tariff check round failed; retrying next round"
                );
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn paid_then_grace_then_block() {
        let paid_until = 1_800_000_000_000;
        let grace = 3 * DAY;
        assert_eq!(
            decide(paid_until, grace, paid_until - 1),
            TariffDecision::Paid
        );
        assert_eq!(
            decide(paid_until, grace, paid_until),
            TariffDecision::Grace {
                blocks_at: paid_until + grace
            },
            "the paid-until instant itself is unpaid"
        );
        assert_eq!(
            decide(paid_until, grace, paid_until + grace - 1),
            TariffDecision::Grace {
                blocks_at: paid_until + grace
            }
        );
        assert_eq!(
            decide(paid_until, grace, paid_until + grace),
            TariffDecision::Block
        );
        assert_eq!(
            decide(paid_until, grace, paid_until + 100 * DAY),
            TariffDecision::Block
        );
    }

    #[test]
    fn no_grace_blocks_when_the_tariff_ends_and_extremes_do_not_overflow() {
        assert_eq!(decide(10, 0, 10), TariffDecision::Block);
        assert_eq!(
            decide(10, -5, 10),
            TariffDecision::Block,
            "negative is none"
        );
        assert_eq!(
            decide(i64::MAX - 2, i64::MAX, i64::MAX - 1),
            TariffDecision::Grace {
                blocks_at: i64::MAX
            },
            "the end of grace saturates instead of wrapping into the past"
        );
    }
}
