//! The fiscal sign the OFD assigns to a receipt (`TicketResponse.ticket_number`) and the receipt
//! check URL (`qr_code`).
//!
//! # Design note: why the signs run upwards with random gaps
//!
//! A sign is 10 decimal digits (the length seen in the field), unique among every sign this OFD
//! gave (the primary key of `kz_tickets`; the handler asks for another on the rare collision).
//! It is also part of two index keys written with every receipt: that primary key and the
//! document key `<system id>/<sign>`.
//!
//! - **Not uniformly random.** Signs drawn uniformly from the whole range put every receipt of a
//!   commit on a different page of both indexes, so the pages a commit dirties, and the pages it
//!   must read back once the indexes outgrow the cache, grow with the number of signs ever given.
//!   On SQLite, 100,000 receipts into a fresh store raised the server's CPU per KZ exchange from
//!   143 to 183 µs (benches/README.md, issue 20); with signs that run upwards the same run stays
//!   within 132–153 µs, because each register's receipts land at the right edge of its part of
//!   the index, as RU documents (numbered by the drive) always did.
//! - **Not guessable from a neighbour's either.** Each sign is the previous one plus a gap drawn
//!   from 1..=[`MAX_GAP`] by the OS-seeded CSPRNG, so knowing one receipt's sign gives the next
//!   one's only 1 time in 16 — and the check page asks for the register's number, the total and
//!   the time as well.
//! - **Several nodes, restarts.** Each process starts its run at a random point of the range and
//!   jumps to a new random point when the run reaches the end of the range or a sign turns out
//!   to be taken (another node's run, or an earlier run of this one): runs never walk through
//!   each other sign by sign.
//!
//! The arithmetic is a pure function ([`advance`]); [`TicketNumbers`] holds the run.

use std::sync::Mutex;

use chrono::NaiveDateTime;
use rand::Rng as _;

use super::local_time::compact;
use super::money::tenge_text;

/// The smallest sign: 10 digits, no leading zero.
const FIRST: u64 = 1_000_000_000;
/// The largest 10-digit sign.
const LAST: u64 = 9_999_999_999;
/// The largest gap between two consecutive signs of a run.
pub const MAX_GAP: u64 = 16;

/// The sign after `current` with `gap` between them, or `None` when that would leave the
/// 10-digit range (the run must start again elsewhere).
pub fn advance(current: u64, gap: u64) -> Option<u64> {
    current.checked_add(gap).filter(|next| *next <= LAST)
}

/// A random place in the range to start a run from.
fn random_start() -> u64 {
    rand::thread_rng().gen_range(FIRST..=LAST)
}

/// The run of signs this process hands out (see the module's design note).
#[derive(Debug)]
pub struct TicketNumbers {
    next: Mutex<u64>,
}

impl Default for TicketNumbers {
    fn default() -> Self {
        TicketNumbers {
            next: Mutex::new(random_start()),
        }
    }
}

impl TicketNumbers {
    /// A candidate sign for one receipt; the next call gives a larger one (or, at the end of the
    /// range, one from a new run).
    pub fn draw(&self) -> String {
        let gap = rand::thread_rng().gen_range(1..=MAX_GAP);
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let number = *next;
        *next = advance(number, gap).unwrap_or_else(random_start);
        number.to_string()
    }

    /// `number` was already taken: start a new run at a random place.
    pub fn taken(&self) {
        *self.next.lock().unwrap_or_else(|p| p.into_inner()) = random_start();
    }
}

/// The receipt check URL: `<base>?i=<ticket>&f=<RNM>&s=<total>&t=<yyyyMMddTHHmmss>`.
pub fn qr_url(
    base: &str,
    ticket_number: &str,
    rnm: &str,
    total_tiyn: i64,
    at: NaiveDateTime,
) -> String {
    format!(
        "{base}?i={ticket_number}&f={rnm}&s={}&t={}",
        tenge_text(total_tiyn),
        compact(at)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(text: &str) -> u64 {
        assert_eq!(text.len(), 10, "{text}");
        assert!(text.bytes().all(|c| c.is_ascii_digit()), "{text}");
        text.parse().unwrap()
    }

    #[test]
    fn signs_run_upwards_in_ten_digits_with_small_random_gaps() {
        let signs = TicketNumbers::default();
        let drawn: Vec<u64> = (0..2_000).map(|_| number(&signs.draw())).collect();
        let mut gaps = std::collections::BTreeSet::new();
        for pair in drawn.windows(2) {
            // A run may restart at a random place only at the end of the range.
            if pair[1] < pair[0] {
                assert!(pair[0] > LAST - MAX_GAP, "{pair:?}");
                continue;
            }
            let gap = pair[1] - pair[0];
            assert!((1..=MAX_GAP).contains(&gap), "{pair:?}");
            gaps.insert(gap);
        }
        // The gaps are drawn, not fixed: over 2,000 signs every one of the 16 shows up.
        assert_eq!(gaps.len() as u64, MAX_GAP);
    }

    #[test]
    fn a_taken_sign_sends_the_run_elsewhere() {
        let signs = TicketNumbers::default();
        let before = number(&signs.draw());
        signs.taken();
        let after = number(&signs.draw());
        // The new run starts at a random place: at most 16 above the old one by chance once in
        // about 500 million.
        assert!(
            !(before..=before + MAX_GAP).contains(&after),
            "{before} {after}"
        );
    }

    #[test]
    fn a_run_ends_at_the_last_ten_digit_sign() {
        assert_eq!(advance(LAST - 3, 3), Some(LAST));
        assert_eq!(advance(LAST - 3, 4), None);
        assert_eq!(advance(u64::MAX, 1), None);
        assert_eq!(advance(FIRST, MAX_GAP), Some(FIRST + MAX_GAP));
    }

    #[test]
    fn qr_url_has_the_receipt_facts() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
            .and_then(|d| d.and_hms_opt(9, 8, 7))
            .unwrap();
        assert_eq!(
            qr_url(
                "http://check.example",
                "1234567890",
                "010203040506",
                15_050,
                at
            ),
            "http://check.example?i=1234567890&f=010203040506&s=150.50&t=20261123T090807"
        );
    }
}
