//! The wall clock, read one way.
//!
//! Decisions in this crate take the time as an argument (`now_ms: i64` in the forward outbox and
//! the KZ exchange, the document time in the RU checks) so that they are plain functions a test
//! can call with any time. The clock itself is read at the edge — a frame arrives, a row is
//! written, a batch is claimed — and through this module, so that every edge reads the same
//! clock in the same units (UTC, counted from the unix epoch, as `i64`) and a search for
//! `clock::` finds the places that look at the time.
//!
//! This is calendar time, for timestamps that are stored or sent. Timeouts, latencies and backoff
//! use the monotonic [`std::time::Instant`] instead, which does not jump when the system clock
//! is set.

/// Now, as milliseconds since the unix epoch (UTC). Row timestamps and lease deadlines.
pub fn unix_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Now, as whole seconds since the unix epoch (UTC), rounded down.
pub fn unix_seconds() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::*;

    /// The system clock read the standard library's way, for comparison.
    fn system_millis() -> i64 {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("test machine clock after 1970");
        i64::try_from(since.as_millis()).expect("fits in i64")
    }

    #[test]
    fn agrees_with_the_system_clock_to_the_second() {
        let before = system_millis();
        let millis = unix_millis();
        let seconds = unix_seconds();
        let after = system_millis();
        assert!(
            (before - 1_000..=after + 1_000).contains(&millis),
            "unix_millis {millis} outside [{before}, {after}] ± 1 s"
        );
        assert!(
            (before / 1_000 - 1..=after / 1_000 + 1).contains(&seconds),
            "unix_seconds {seconds} outside [{before}, {after}] ms ± 1 s"
        );
    }

    #[test]
    fn millis_count_milliseconds_and_seconds_count_seconds() {
        // 2020-01-01T00:00:00Z: a clock in seconds would read 1000 times less than this.
        let millis = unix_millis();
        assert!(
            millis > 1_577_836_800_000,
            "{millis} is not unix milliseconds"
        );
        let seconds = unix_seconds();
        assert!(
            (seconds - millis / 1_000).abs() <= 1,
            "seconds {seconds} and millis {millis} disagree"
        );
    }

    #[test]
    fn moves_forward_within_a_test() {
        let first = unix_millis();
        std::thread::sleep(Duration::from_millis(20));
        let second = unix_millis();
        assert!(
            second >= first + 10,
            "20 ms of sleep moved the clock from {first} to {second}"
        );
    }
}
