//! Readiness of the forwarder: `/readyz` on its metrics endpoint answers 503 once every send has
//! failed for `unready_after_failing_ms` in a row (a dead link, a wrong URL, a wrong token …), so
//! that an orchestrator or a probe notices a forwarder that runs but delivers nothing. `/healthz`
//! answers 200 as long as the process serves at all. The decision is [`decide`], a plain
//! function of the failing run and the time, which the tests call with any time.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use super::retry::Breaker;
pub use crate::health_endpoint::Readiness;

/// Ready unless sends have been failing since `failing`'s instant for at least `limit` at `now`.
pub fn decide(failing: Option<(Instant, &str)>, now: Instant, limit: Duration) -> Readiness {
    match failing {
        Some((since, last_error)) if now.saturating_duration_since(since) >= limit => {
            let for_s = now.saturating_duration_since(since).as_secs();
            Readiness::NotReady(format!(
                "every send to the sink has failed for {for_s} s (limit {} s); last error: {last_error}",
                limit.as_secs()
            ))
        }
        _ => Readiness::Ready,
    }
}

/// What `/readyz` reads: the process's breaker (which records the failing run) and the limit.
#[derive(Clone)]
pub struct Health {
    breaker: Arc<Breaker>,
    limit: Duration,
}

impl Health {
    /// Readiness over `breaker`'s record, unready after `limit` of continuous failure.
    pub fn new(breaker: Arc<Breaker>, limit: Duration) -> Self {
        Self { breaker, limit }
    }

    /// The verdict at `now`.
    pub fn check(&self, now: Instant) -> Readiness {
        let failing = self.breaker.failing();
        decide(
            failing
                .as_ref()
                .map(|(since, error)| (*since, error.as_str())),
            now,
            self.limit,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unready_only_after_the_limit_of_continuous_failure() {
        let t0 = Instant::now();
        let limit = Duration::from_secs(300);
        assert_eq!(decide(None, t0 + limit * 10, limit), Readiness::Ready);
        let failing = Some((t0, "HTTP 401 Unauthorized: missing bearer token"));
        assert_eq!(
            decide(failing, t0 + Duration::from_secs(299), limit),
            Readiness::Ready
        );
        let Readiness::NotReady(reason) = decide(failing, t0 + limit, limit) else {
            panic!("unready at the limit");
        };
        assert!(reason.contains("300 s"), "{reason}");
        assert!(reason.contains("HTTP 401"), "{reason}");
        // A clock read before the run began (another thread's instant) is not a failure.
        assert_eq!(
            decide(failing, t0 - Duration::from_secs(1), limit),
            Readiness::Ready
        );
    }

    #[test]
    fn a_success_makes_the_forwarder_ready_again() {
        let breaker = Arc::new(Breaker::new(3, Duration::from_secs(5)));
        let health = Health::new(breaker.clone(), Duration::from_secs(60));
        let t0 = Instant::now();
        breaker.failed(t0, "transport: connection refused");
        breaker.failed(
            t0 + Duration::from_secs(30),
            "transport: connection refused",
        );
        assert_eq!(health.check(t0 + Duration::from_secs(59)), Readiness::Ready);
        assert!(matches!(
            health.check(t0 + Duration::from_secs(61)),
            Readiness::NotReady(reason) if reason.contains("connection refused")
        ));
        breaker.succeeded();
        assert_eq!(health.check(t0 + Duration::from_secs(61)), Readiness::Ready);
    }
}
