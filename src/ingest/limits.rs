//! Per-source connection rate limit: a token bucket per source IP.
//!
//! The limiter lives inside the accept loop, which is a single task, so it needs no lock and
//! costs nothing on the per-frame path. Time is passed in, which keeps it testable.
//!
//! Memory is bounded: a bucket that has refilled completely carries no information (a new bucket
//! starts full), so such buckets are dropped on a periodic sweep; between sweeps the map holds at
//! most the sources seen in one sweep interval.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How often idle buckets are swept out.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Token buckets keyed by source address.
#[derive(Debug)]
pub struct SourceRateLimiter {
    /// Tokens added per second; 0 disables the limiter.
    rate: f64,
    /// Bucket capacity.
    burst: f64,
    buckets: HashMap<IpAddr, Bucket>,
    last_sweep: Instant,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl SourceRateLimiter {
    /// `rate` new connections per second per source with bursts of up to `burst` (at least 1);
    /// `rate == 0` admits everything.
    pub fn new(rate: u32, burst: u32, now: Instant) -> Self {
        SourceRateLimiter {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            buckets: HashMap::new(),
            last_sweep: now,
        }
    }

    /// Whether a new connection from `source` is admitted at `now` (and take its token if so).
    pub fn admit(&mut self, source: IpAddr, now: Instant) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        if now.saturating_duration_since(self.last_sweep) >= SWEEP_EVERY {
            self.sweep(now);
        }
        let (rate, burst) = (self.rate, self.burst);
        let bucket = self.buckets.entry(source).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Drop buckets that would be full by now: they are indistinguishable from new ones.
    fn sweep(&mut self, now: Instant) {
        let (rate, burst) = (self.rate, self.burst);
        self.buckets.retain(|_, b| {
            let refill = now.saturating_duration_since(b.updated).as_secs_f64() * rate;
            b.tokens + refill < burst
        });
        self.last_sweep = now;
    }

    /// Sources currently tracked (tests).
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn burst_then_refill_per_source() {
        let t0 = Instant::now();
        let mut limiter = SourceRateLimiter::new(2, 3, t0);
        assert!((0..3).all(|_| limiter.admit(A, t0)));
        assert!(!limiter.admit(A, t0), "burst exhausted");
        assert!(limiter.admit(B, t0), "other sources are not affected");
        assert!(
            limiter.admit(A, t0 + Duration::from_millis(500)),
            "one token after 0.5 s"
        );
        assert!(!limiter.admit(A, t0 + Duration::from_millis(500)));
    }

    #[test]
    fn zero_rate_admits_everything_and_tracks_nothing() {
        let t0 = Instant::now();
        let mut limiter = SourceRateLimiter::new(0, 0, t0);
        assert!((0..10_000).all(|_| limiter.admit(A, t0)));
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn refilled_buckets_are_swept() {
        let t0 = Instant::now();
        let mut limiter = SourceRateLimiter::new(100, 10, t0);
        assert!(limiter.admit(A, t0));
        assert!(limiter.admit(B, t0));
        assert_eq!(limiter.tracked(), 2);
        assert!(limiter.admit(B, t0 + SWEEP_EVERY));
        assert_eq!(limiter.tracked(), 1, "A refilled long ago and was dropped");
    }
}
