//! The fiscal sign the OFD assigns to a receipt (`TicketResponse.ticket_number`) and the receipt
//! check URL (`qr_code`).
//!
//! A sign is 10 decimal digits (the length seen in the field), unique among every sign this OFD
//! gave (the primary key of `kz_tickets`; the handler asks for another on the rare collision).
//! Signs run upwards from a random start with random gaps of 1..=[`MAX_GAP`]
//! ([`UpwardRun`]; its design note says why: index pages, guessing, several nodes).

use chrono::NaiveDateTime;

use super::local_time::compact;
use super::money::tenge_text;
use crate::store::upward_run::UpwardRun;

/// The smallest sign: 10 digits, no leading zero.
const FIRST: u64 = 1_000_000_000;
/// The largest 10-digit sign.
const LAST: u64 = 9_999_999_999;
/// The largest gap between two consecutive signs of a run.
const MAX_GAP: u64 = 16;

/// The run of signs this process hands out.
#[derive(Debug)]
pub struct TicketNumbers {
    run: UpwardRun,
}

impl Default for TicketNumbers {
    fn default() -> Self {
        TicketNumbers {
            run: UpwardRun::new(FIRST, LAST, MAX_GAP),
        }
    }
}

impl TicketNumbers {
    /// A candidate sign for one receipt; the next call gives a larger one (or, at the end of the
    /// range, one from a new run).
    pub fn draw(&self) -> String {
        self.run.draw().to_string()
    }

    /// `number` was already taken: start a new run at a random place.
    pub fn taken(&self) {
        self.run.taken();
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
    fn signs_are_ten_digits_and_run_upwards() {
        let signs = TicketNumbers::default();
        let drawn: Vec<u64> = (0..200).map(|_| number(&signs.draw())).collect();
        // Upwards, except where a run restarts at the end of the range.
        let upwards = drawn.windows(2).filter(|p| p[1] > p[0]).count();
        assert!(upwards >= 198, "{drawn:?}");
        signs.taken();
        number(&signs.draw());
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
