//! When to try again: exponential backoff with full jitter per batch, and one circuit breaker per
//! process so that a dead authority gets a trickle of probes instead of every worker hammering it.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use rand::Rng;

/// Backoff settings.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Delay scale of the first retry.
    pub base: Duration,
    /// Largest delay.
    pub cap: Duration,
}

impl Backoff {
    /// Delay before retry number `attempt` (1-based): uniform in [0, min(cap, base·2^(attempt-1))],
    /// so that forwarders that failed together do not retry together.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let ceiling = self.base.saturating_mul(1 << exponent).min(self.cap);
        let ceiling_ms = ceiling.as_millis().max(1) as u64;
        Duration::from_millis(rand::thread_rng().gen_range(0..=ceiling_ms))
    }
}

/// Circuit breaker: after `threshold` consecutive failed sends it opens for `cooldown`; then one
/// probe is let through (half-open); its success closes the circuit, its failure reopens it.
#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<BreakerState>,
}

#[derive(Debug, Default)]
struct BreakerState {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    probe_in_flight: bool,
    /// When the current run of failed sends began (none since the last success), and the last
    /// failure's text: what readiness is decided on ([`super::readiness`]).
    failing_since: Option<Instant>,
    last_error: Option<String>,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::default(),
        }
    }

    /// `Ok(())` if a send may go now, else how long to wait before asking again.
    pub fn permit(&self, now: Instant) -> Result<(), Duration> {
        let mut state = self.lock();
        match state.open_until {
            None => Ok(()),
            Some(until) if now < until => Err(until - now),
            Some(_) if state.probe_in_flight => Err(self.cooldown.min(Duration::from_millis(200))),
            Some(_) => {
                state.probe_in_flight = true;
                Ok(())
            }
        }
    }

    /// A send got a positive answer.
    pub fn succeeded(&self) {
        *self.lock() = BreakerState::default();
    }

    /// A send failed, for `reason` (which must carry no secret: it is served on `/readyz`).
    pub fn failed(&self, now: Instant, reason: &str) {
        let mut state = self.lock();
        state.failing_since.get_or_insert(now);
        state.last_error = Some(reason.to_owned());
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        state.probe_in_flight = false;
        if state.consecutive_failures >= self.threshold {
            state.open_until = Some(now + self.cooldown);
        }
    }

    /// Since when every send has failed, and the last failure's text; `None` after a success.
    pub fn failing(&self) -> Option<(Instant, String)> {
        let state = self.lock();
        state
            .failing_since
            .map(|since| (since, state.last_error.clone().unwrap_or_default()))
    }

    /// Whether sends are currently held back.
    pub fn is_open(&self) -> bool {
        self.lock().open_until.is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BreakerState> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap() {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        for _ in 0..100 {
            assert!(backoff.delay(1) <= Duration::from_millis(100));
            assert!(backoff.delay(30) <= Duration::from_secs(1));
        }
    }

    #[test]
    fn breaker_opens_probes_once_and_closes() {
        let breaker = Breaker::new(2, Duration::from_secs(5));
        let t0 = Instant::now();
        breaker.failed(t0, "HTTP 404");
        assert!(breaker.permit(t0).is_ok());
        breaker.failed(t0, "HTTP 404");
        assert!(breaker.permit(t0).is_err());
        let later = t0 + Duration::from_secs(6);
        assert!(breaker.permit(later).is_ok(), "one probe");
        assert!(breaker.permit(later).is_err(), "only one probe");
        breaker.failed(later, "HTTP 404");
        assert!(breaker.permit(later).is_err(), "reopened");
        let much_later = later + Duration::from_secs(6);
        assert!(breaker.permit(much_later).is_ok());
        assert_eq!(
            breaker.failing(),
            Some((t0, "HTTP 404".to_owned())),
            "since the first"
        );
        breaker.succeeded();
        assert!(!breaker.is_open());
        assert_eq!(breaker.failing(), None, "a success ends the run");
        assert!(breaker.permit(much_later).is_ok());
    }
}
