//! The fiscal sign the OFD assigns to a receipt (`TicketResponse.ticket_number`) and the receipt
//! check URL (`qr_code`).
//!
//! The sign is 10 decimal digits (the length seen in the field) drawn from the OS-seeded CSPRNG,
//! so it cannot be guessed from a neighbour's; uniqueness is enforced by the primary key of
//! `kz_tickets`, and the handler draws again on the (rare) collision.

use chrono::NaiveDateTime;
use rand::Rng as _;

use super::local_time::compact;
use super::money::tenge_text;

/// A fresh candidate ticket number: 10 digits, no leading zero.
pub fn draw_ticket_number() -> String {
    rand::thread_rng()
        .gen_range(1_000_000_000u64..10_000_000_000)
        .to_string()
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

    #[test]
    fn ticket_numbers_are_ten_digits_and_vary() {
        let a = draw_ticket_number();
        let b = draw_ticket_number();
        assert_eq!(a.len(), 10);
        assert!(a.bytes().all(|c| c.is_ascii_digit()));
        assert_ne!(a, b);
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
