//! Per-source connection limits, decided in the accept loop before a connection takes a slot:
//!
//! - [`SourceRateLimiter`]: new connections per second, a token bucket per source IP. It lives
//!   inside the accept loop, which is a single task, so it needs no lock and costs nothing on the
//!   per-frame path. Time is passed in, which keeps it testable. Memory is bounded: a bucket that
//!   has refilled completely carries no information (a new bucket starts full), so such buckets
//!   are dropped on a periodic sweep; between sweeps the map holds at most the sources seen in
//!   one sweep interval.
//! - [`OpenConnections`]: connections *open* at once per source address and per source network
//!   (/24 for IPv4, /56 for IPv6), so that one address (or one small network) cannot hold every
//!   slot with slow connections. A rate limit alone does not stop that: ten slow connections a
//!   second fill 4,096 slots in seven minutes. The count is taken in the accept loop and given
//!   back when the connection task drops its [`OpenSlot`], on every exit path; an entry whose
//!   count falls to zero is removed at once, so the map holds only sources with open
//!   connections (at most `max_connections` of them).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
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

/// Why [`OpenConnections::open`] refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenRefusal {
    /// The source address has `per_address` connections open already.
    Address,
    /// The source's /24 (IPv4) or /56 (IPv6) has `per_network` connections open already.
    Network,
}

/// The network a source address is counted in: its /24 (IPv4) or /56 (IPv6); an IPv4-mapped
/// IPv6 address counts as its IPv4 address.
pub fn source_network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::from([a, b, c, 0])
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => source_network(IpAddr::V4(v4)),
            None => {
                let bits = u128::from(v6) & !((1u128 << 72) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

/// Connections open per source address and per source network, shared by the accept loops
/// and the connection tasks (which give their count back on drop).
#[derive(Debug, Clone)]
pub struct OpenConnections {
    per_address: u32,
    per_network: u32,
    counts: Arc<Mutex<OpenCounts>>,
}

#[derive(Debug, Default)]
struct OpenCounts {
    addresses: HashMap<IpAddr, u32>,
    networks: HashMap<IpAddr, u32>,
}

/// One admitted connection's place in [`OpenConnections`]; dropping it gives the place back.
#[derive(Debug)]
pub struct OpenSlot {
    owner: Option<(OpenConnections, IpAddr)>,
}

impl OpenConnections {
    /// At most `per_address` connections open from one address and `per_network` from one
    /// network; 0 turns that cap off.
    pub fn new(per_address: u32, per_network: u32) -> Self {
        OpenConnections {
            per_address,
            per_network,
            counts: Arc::default(),
        }
    }

    /// Count a new connection from `ip`, or say which cap it would break.
    pub fn open(&self, ip: IpAddr) -> Result<OpenSlot, OpenRefusal> {
        if self.per_address == 0 && self.per_network == 0 {
            return Ok(OpenSlot { owner: None });
        }
        let network = source_network(ip);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let address = counts.addresses.get(&ip).copied().unwrap_or(0);
        if self.per_address != 0 && address >= self.per_address {
            return Err(OpenRefusal::Address);
        }
        let in_network = counts.networks.get(&network).copied().unwrap_or(0);
        if self.per_network != 0 && in_network >= self.per_network {
            return Err(OpenRefusal::Network);
        }
        *counts.addresses.entry(ip).or_insert(0) += 1;
        *counts.networks.entry(network).or_insert(0) += 1;
        Ok(OpenSlot {
            owner: Some((self.clone(), ip)),
        })
    }

    /// Connections open from `ip` now (tests).
    pub fn open_from(&self, ip: IpAddr) -> u32 {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.addresses.get(&ip).copied().unwrap_or(0)
    }

    /// Sources tracked (tests: the maps hold only sources with open connections).
    pub fn tracked(&self) -> usize {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.addresses.len() + counts.networks.len()
    }

    fn close(&self, ip: IpAddr) {
        let mut guard = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let counts = &mut *guard;
        let network = source_network(ip);
        for (map, key) in [(&mut counts.addresses, ip), (&mut counts.networks, network)] {
            if let Some(n) = map.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&key);
                }
            }
        }
    }
}

impl Drop for OpenSlot {
    fn drop(&mut self) {
        if let Some((owner, ip)) = self.owner.take() {
            owner.close(ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_connections_are_capped_per_address_and_per_network_and_given_back() {
        let open = OpenConnections::new(2, 3);
        let a1 = open.open(A).expect("first");
        let _a2 = open.open(A).expect("second");
        assert_eq!(open.open(A).unwrap_err(), OpenRefusal::Address);
        let _b1 = open.open(B).expect("same /24, under its cap");
        assert_eq!(
            open.open(B).unwrap_err(),
            OpenRefusal::Network,
            "10.0.0.0/24 holds 3"
        );
        let elsewhere: IpAddr = "10.0.1.1".parse().expect("ip");
        assert!(open.open(elsewhere).is_ok(), "another /24");
        drop(a1);
        assert_eq!(open.open_from(A), 1);
        assert!(open.open(B).is_ok(), "a slot given back is free again");
    }

    #[test]
    fn closed_sources_leave_nothing_behind_and_zero_turns_the_caps_off() {
        let open = OpenConnections::new(5, 5);
        let slots: Vec<_> = (0..5).map(|_| open.open(A).expect("open")).collect();
        drop(slots);
        assert_eq!(open.tracked(), 0);
        let off = OpenConnections::new(0, 0);
        let slots: Vec<_> = (0..10_000).map(|_| off.open(A).expect("no cap")).collect();
        assert_eq!(slots.len(), 10_000);
        assert_eq!(off.tracked(), 0);
    }

    #[test]
    fn ipv6_sources_share_their_56_and_mapped_ipv4_counts_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2aff::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2a00:ffff::9".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:2b00::1".parse().expect("ip");
        assert_eq!(source_network(a), source_network(b));
        assert_ne!(source_network(a), source_network(c));
        let mapped: IpAddr = "::ffff:10.0.0.7".parse().expect("ip");
        assert_eq!(source_network(mapped), source_network(A));
    }

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
