//! The KZ token guard: how many wrong tokens a register, or a source address, may send, and
//! how long nothing from it is looked at afterwards.
//!
//! A KZ token is 32 bits; the guard is what makes guessing it hopeless. Per key (the register's
//! system id, and the source address) it counts wrong tokens; at `attempts` of them the key is
//! locked for `lockout`, and every further lockout in a row doubles that, up to
//! [`MAX_LOCKOUT`]. While a key is locked, a frame for it is closed unanswered *before* the
//! register is read or the token compared: the answer cannot depend on the guess, so a right
//! token sent during a lockout tells the sender nothing either. A key with no wrong token for
//! [`FORGET_AFTER`] is forgotten (its doubling starts over).
//!
//! Bound (defaults 10 attempts, 60 s doubling): a register can be guessed at about 120 times in
//! its first day under attack and 10 times a day after that, however many connections and
//! addresses the guesser uses; the unit test below runs that day.
//!
//! Pure: time is passed in. Memory: keys are forgotten as above, and at [`MAX_KEYS`] the keys
//! that are not locked are dropped first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The longest lockout.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(24 * 3600);
/// A key with no wrong token for this long is forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);
/// Keys held at most (beyond it, keys that are not locked are dropped).
pub const MAX_KEYS: usize = 100_000;

/// Who a wrong token is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GuardKey {
    /// The register the frame names.
    Register(u32),
    /// The address the frame came from.
    Source(IpAddr),
}

/// A key that has just been locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    /// Which key.
    pub key: GuardKey,
    /// Wrong tokens counted against it since its last lockout.
    pub attempts: u32,
    /// How long nothing from it is looked at.
    pub lasts: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    strikes: u32,
    locked_until: Option<Instant>,
    last_failure: Instant,
}

/// Wrong-token counts and lockouts per key.
#[derive(Debug)]
pub struct TokenGuard {
    attempts: u32,
    lockout: Duration,
    keys: HashMap<GuardKey, Record>,
}

impl TokenGuard {
    /// `attempts` wrong tokens (at least 1) before a first lockout of `lockout`.
    pub fn new(attempts: u32, lockout: Duration) -> Self {
        TokenGuard {
            attempts: attempts.max(1),
            lockout,
            keys: HashMap::new(),
        }
    }

    /// Whether any of `keys` is locked at `now`.
    pub fn locked(&self, keys: &[GuardKey], now: Instant) -> bool {
        keys.iter().any(|key| {
            self.keys
                .get(key)
                .and_then(|r| r.locked_until)
                .is_some_and(|until| now < until)
        })
    }

    /// Count one wrong token against each of `keys` at `now`; the keys this locked.
    pub fn fail(&mut self, keys: &[GuardKey], now: Instant) -> Vec<Lockout> {
        if self.keys.len() >= MAX_KEYS {
            self.sweep(now);
        }
        let mut locked = Vec::new();
        for key in keys {
            let record = self.keys.entry(*key).or_insert(Record {
                failures: 0,
                strikes: 0,
                locked_until: None,
                last_failure: now,
            });
            if now.saturating_duration_since(record.last_failure) >= FORGET_AFTER {
                record.failures = 0;
                record.strikes = 0;
            }
            record.last_failure = now;
            record.failures += 1;
            if record.failures >= self.attempts {
                let lasts = self
                    .lockout
                    .saturating_mul(1u32 << record.strikes.min(20))
                    .min(MAX_LOCKOUT);
                locked.push(Lockout {
                    key: *key,
                    attempts: record.failures,
                    lasts,
                });
                record.failures = 0;
                record.strikes = record.strikes.saturating_add(1);
                record.locked_until = Some(now + lasts);
            }
        }
        locked
    }

    /// Forget quiet keys; if still at the cap, drop every key not locked now.
    fn sweep(&mut self, now: Instant) {
        let locked = |r: &Record| r.locked_until.is_some_and(|until| now < until);
        self.keys.retain(|_, r| {
            locked(r) || now.saturating_duration_since(r.last_failure) < FORGET_AFTER
        });
        if self.keys.len() >= MAX_KEYS {
            self.keys.retain(|_, r| locked(r));
        }
    }

    /// Keys held (tests).
    pub fn tracked(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTER: GuardKey = GuardKey::Register(7);

    fn source(n: u8) -> GuardKey {
        GuardKey::Source(IpAddr::from([10, 0, 0, n]))
    }

    #[test]
    fn a_key_is_locked_at_its_attempts_and_each_lockout_in_a_row_doubles() {
        let t0 = Instant::now();
        let mut guard = TokenGuard::new(3, Duration::from_secs(60));
        assert!(guard.fail(&[REGISTER], t0).is_empty());
        assert!(guard.fail(&[REGISTER], t0).is_empty());
        assert!(!guard.locked(&[REGISTER], t0));
        let locked = guard.fail(&[REGISTER], t0);
        assert_eq!(
            locked,
            vec![Lockout {
                key: REGISTER,
                attempts: 3,
                lasts: Duration::from_secs(60)
            }]
        );
        assert!(guard.locked(&[REGISTER, source(1)], t0 + Duration::from_secs(59)));
        assert!(!guard.locked(&[source(1)], t0), "other keys are not locked");
        let t1 = t0 + Duration::from_secs(60);
        assert!(!guard.locked(&[REGISTER], t1), "cooled down");
        guard.fail(&[REGISTER], t1);
        guard.fail(&[REGISTER], t1);
        let again = guard.fail(&[REGISTER], t1);
        assert_eq!(again[0].lasts, Duration::from_secs(120), "doubled");
    }

    #[test]
    fn a_quiet_key_is_forgotten_and_starts_over() {
        let t0 = Instant::now();
        let mut guard = TokenGuard::new(1, Duration::from_secs(60));
        guard.fail(&[REGISTER], t0);
        guard.fail(&[REGISTER], t0 + Duration::from_secs(60));
        let later = t0 + Duration::from_secs(180) + FORGET_AFTER;
        assert_eq!(
            guard.fail(&[REGISTER], later)[0].lasts,
            Duration::from_secs(60)
        );
    }

    /// A guesser with any number of addresses, sending as fast as the guard lets it for a whole
    /// day: the register is guessed at no more than a few hundred times.
    #[test]
    fn a_day_of_guessing_from_any_number_of_addresses_gets_a_few_hundred_guesses() {
        let t0 = Instant::now();
        let mut guard = TokenGuard::new(10, Duration::from_secs(60));
        let mut evaluated = 0u32;
        let mut address = 0u32;
        let mut now = t0;
        let day = t0 + Duration::from_secs(24 * 3600);
        while now < day {
            // A fresh address for every guess: only the register's key can stop it.
            address = address.wrapping_add(1);
            let from = GuardKey::Source(IpAddr::from(address.to_be_bytes()));
            if !guard.locked(&[REGISTER, from], now) {
                evaluated += 1;
                guard.fail(&[REGISTER, from], now);
            }
            now += Duration::from_millis(100);
        }
        assert!(
            (100..=300).contains(&evaluated),
            "{evaluated} guesses evaluated in a day"
        );
    }

    #[test]
    fn memory_is_bounded_by_dropping_keys_that_are_not_locked() {
        let t0 = Instant::now();
        let mut guard = TokenGuard::new(2, Duration::from_secs(60));
        for n in 0..(MAX_KEYS as u32 + 10) {
            guard.fail(&[GuardKey::Register(n)], t0);
        }
        assert!(guard.tracked() <= MAX_KEYS);
    }
}
