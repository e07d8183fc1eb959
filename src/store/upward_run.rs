//! Numbers handed out upwards with small random gaps: the KZ fiscal signs (`ingest::kz::
//! fiscal_sign`) and the KZ system ids (`registers::add_register_in`).
//!
//! # Design note: why upwards, why gaps, why runs
//!
//! Both numbers lead keys of B-tree indexes written on the ack path: a sign is the primary key
//! of `kz_tickets` and the tail of the document key `<system id>/<sign>`; a system id leads the
//! document key, `documents (system_id, received_at)` and the register's `kz_state` row.
//!
//! - **Not uniformly random.** Numbers drawn from the whole range put neighbours in time on
//!   pages far apart, so a commit dirties (and, once the index outgrows the cache, reads back)
//!   one page per number, and the count grows with every number ever given. Numbers given
//!   upwards land at the right edge of the index, or of their register's part of it, as RU
//!   drives' numbers (sequential per batch of drives) always did. Measured (benches/README.md,
//!   issue 20): uniform signs took the server's CPU per KZ exchange from 143 to 183 µs over five
//!   rounds of 20,000 receipts; uniform system ids made each new fleet's registers land between
//!   the older ones', and the bytes written per KZ exchange grew 9.5 → 14.8 → 17.6 KiB over three
//!   fleets, against 9.8 → 10.0 → 9.7 KiB with ids given upwards.
//! - **Not guessable from a neighbour's either.** Each number is the previous one plus a gap
//!   drawn from `1..=max_gap` by the OS-seeded CSPRNG, so knowing one number gives the next
//!   only one time in `max_gap`. Neither is a credential: a KZ request is accepted on its token,
//!   and a receipt's check page asks for the register, the total and the time as well.
//! - **Several nodes, restarts.** Each process starts its run at a random point of the range and
//!   jumps to a new random point when the run reaches the end of the range or a number turns out
//!   to be taken (another node's run, or an earlier run of this process): runs never walk
//!   through each other number by number. The caller learns "taken" from a unique key, and
//!   calls [`UpwardRun::taken`].
//!
//! The arithmetic is a pure function ([`advance`]); [`UpwardRun`] holds the run.

use std::sync::Mutex;

use rand::Rng as _;

/// The number after `current` with `gap` between them, or `None` when that would pass `last`
/// (the run must start again elsewhere).
pub fn advance(current: u64, gap: u64, last: u64) -> Option<u64> {
    current.checked_add(gap).filter(|next| *next <= last)
}

/// A run of numbers in `first..=last`, each the previous one plus a random gap of
/// `1..=max_gap` (see the module's design note). `const`, so it can be a `static`.
#[derive(Debug)]
pub struct UpwardRun {
    first: u64,
    last: u64,
    max_gap: u64,
    /// The next number to hand out; `None` before the first draw (the run starts at a random
    /// place then).
    next: Mutex<Option<u64>>,
}

impl UpwardRun {
    /// A run over `first..=last` with gaps of `1..=max_gap`; it starts at a random place on its
    /// first draw.
    pub const fn new(first: u64, last: u64, max_gap: u64) -> Self {
        assert!(first <= last && max_gap >= 1);
        UpwardRun {
            first,
            last,
            max_gap,
            next: Mutex::new(None),
        }
    }

    /// A random place in the range to start a run from.
    fn random_start(&self) -> u64 {
        rand::thread_rng().gen_range(self.first..=self.last)
    }

    /// A candidate number; the next call gives a larger one (or, at the end of the range, one
    /// from a new run).
    pub fn draw(&self) -> u64 {
        let gap = rand::thread_rng().gen_range(1..=self.max_gap);
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let number = next.unwrap_or_else(|| self.random_start());
        *next = Some(advance(number, gap, self.last).unwrap_or_else(|| self.random_start()));
        number
    }

    /// The number last drawn was already taken: start a new run at a random place.
    pub fn taken(&self) {
        *self.next.lock().unwrap_or_else(|p| p.into_inner()) = Some(self.random_start());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: u64 = 1_000;
    const LAST: u64 = 9_999_999;

    #[test]
    fn numbers_run_upwards_in_range_with_small_random_gaps() {
        let run = UpwardRun::new(FIRST, LAST, 16);
        let drawn: Vec<u64> = (0..2_000).map(|_| run.draw()).collect();
        let mut gaps = std::collections::BTreeSet::new();
        for pair in drawn.windows(2) {
            assert!((FIRST..=LAST).contains(&pair[1]), "{pair:?}");
            // A run may restart at a random place only at the end of the range.
            if pair[1] < pair[0] {
                assert!(pair[0] > LAST - 16, "{pair:?}");
                continue;
            }
            let gap = pair[1] - pair[0];
            assert!((1..=16).contains(&gap), "{pair:?}");
            gaps.insert(gap);
        }
        // The gaps are drawn, not fixed: over 2,000 numbers every one of the 16 shows up.
        assert_eq!(gaps.len(), 16);
    }

    #[test]
    fn a_taken_number_sends_the_run_elsewhere() {
        let run = UpwardRun::new(FIRST, u64::from(u32::MAX), 16);
        let before = run.draw();
        run.taken();
        let after = run.draw();
        // The new run starts at a random place: at most 16 above the old one by chance once in
        // about 250 million.
        assert!(!(before..=before + 16).contains(&after), "{before} {after}");
    }

    #[test]
    fn a_run_ends_at_the_last_number() {
        assert_eq!(advance(LAST - 3, 3, LAST), Some(LAST));
        assert_eq!(advance(LAST - 3, 4, LAST), None);
        assert_eq!(advance(u64::MAX, 1, u64::MAX), None);
        // A range of one number: every draw is that number.
        let one = UpwardRun::new(7, 7, 16);
        assert_eq!((one.draw(), one.draw()), (7, 7));
    }
}
