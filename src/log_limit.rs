//! Repetitive log lines, limited per reason and source: the first line of a (reason, source)
//! pair in a period is written, the ones after it in that period are only counted, and the
//! count is reported once the period is over, by the next line of the pair (field
//! `suppressed`) or by [`flush`] (a line "log lines suppressed" with `reason`, `source` and
//! `suppressed`). Written lines plus reported counts equal the calls, exactly. A garbage
//! connection or a wrong token then costs a log line per period per source instead of one each.
//!
//! Metrics are not affected: they are counted by the caller, every time. The limiter holds at
//! most [`MAX_KEYS`] pairs; beyond that new sources share one pair per reason (source
//! `0.0.0.0`). The period is process-wide ([`set_period`]; zero writes every line).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// Pairs held at most.
pub const MAX_KEYS: usize = 10_000;

/// The shared pair of sources beyond [`MAX_KEYS`].
const MANY_SOURCES: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

static PERIOD_MS: AtomicU64 = AtomicU64::new(10_000);
static PAIRS: LazyLock<Mutex<HashMap<(&'static str, IpAddr), Pair>>> =
    LazyLock::new(Mutex::default);

struct Pair {
    since: Instant,
    suppressed: u64,
}

/// Set the period (the ingest server does, from `[ingest] log_repeat_secs`).
pub fn set_period(period: Duration) {
    PERIOD_MS.store(period.as_millis() as u64, Ordering::Relaxed);
}

/// The period now.
pub fn period() -> Duration {
    Duration::from_millis(PERIOD_MS.load(Ordering::Relaxed))
}

/// Call `log` with the number of earlier calls it stands for that were not written, or count
/// this call as suppressed.
pub fn limited(reason: &'static str, source: IpAddr, log: impl FnOnce(u64)) {
    let period = period();
    if period.is_zero() {
        return log(0);
    }
    let now = Instant::now();
    let mut pairs = PAIRS.lock().unwrap_or_else(|p| p.into_inner());
    let key = if pairs.len() >= MAX_KEYS && !pairs.contains_key(&(reason, source)) {
        (reason, MANY_SOURCES)
    } else {
        (reason, source)
    };
    let earlier = match pairs.get_mut(&key) {
        Some(pair) if now.saturating_duration_since(pair.since) < period => {
            pair.suppressed += 1;
            return;
        }
        Some(pair) => {
            pair.since = now;
            std::mem::take(&mut pair.suppressed)
        }
        None => {
            pairs.insert(
                key,
                Pair {
                    since: now,
                    suppressed: 0,
                },
            );
            0
        }
    };
    drop(pairs);
    log(earlier);
}

/// Report and forget every pair whose period is over (run periodically).
pub fn flush() {
    let period = period();
    let now = Instant::now();
    let mut done = Vec::new();
    {
        let mut pairs = PAIRS.lock().unwrap_or_else(|p| p.into_inner());
        pairs.retain(|key, pair| {
            let over = now.saturating_duration_since(pair.since) >= period;
            if over && pair.suppressed > 0 {
                done.push((*key, pair.suppressed));
            }
            !over
        });
    }
    for ((reason, source), suppressed) in done {
        tracing::warn!(reason, %source, suppressed, "log lines suppressed");
    }
}

/// Run [`flush`] every half period until `stop` is cancelled.
pub async fn flush_periodically(stop: tokio_util::sync::CancellationToken) {
    loop {
        let tick = (period() / 2).max(Duration::from_millis(100));
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(tick) => flush(),
        }
    }
    flush();
}
