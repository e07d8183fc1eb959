//! Register wall-clock times (`DateTime` on the wire: local Almaty time, no zone) and the server's
//! own UTC clock.
//!
//! Registers send naive local times. The server needs them to (1) store `doc_time` as naive unix
//! seconds, (2) judge the age of an offline receipt against its own clock, which needs the
//! register's UTC offset (configurable; Kazakhstan has used UTC+5 country-wide since 2024).

use chrono::{Datelike as _, NaiveDate, NaiveDateTime, Timelike as _};
use ofd_protocol::kz::{Date, DateTime, Time};

/// A wire `DateTime` as a naive local date-time, or `None` if it is not a real calendar time.
pub fn naive(dt: &DateTime) -> Option<NaiveDateTime> {
    let date = dt.date.as_ref()?;
    let time = dt.time.as_ref()?;
    NaiveDate::from_ymd_opt(i32::try_from(date.year?).ok()?, date.month?, date.day?)?.and_hms_opt(
        time.hour?,
        time.minute?,
        time.second.unwrap_or(0),
    )
}

/// A naive local date-time as a wire `DateTime`.
pub fn wire(t: NaiveDateTime) -> DateTime {
    DateTime {
        date: Some(Date {
            year: Some(t.year().max(0) as u32),
            month: Some(t.month()),
            day: Some(t.day()),
        }),
        time: Some(Time {
            hour: Some(t.hour()),
            minute: Some(t.minute()),
            second: Some(t.second()),
        }),
    }
}

/// The register-local wall clock for a server UTC instant (unix milliseconds).
pub fn local_now(now_utc_ms: i64, utc_offset_secs: i32) -> NaiveDateTime {
    let secs = now_utc_ms.div_euclid(1000) + i64::from(utc_offset_secs);
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.naive_utc())
        .unwrap_or_default()
}

/// Naive local time as "unix seconds" of the wall clock (the `documents.doc_time` convention).
pub fn naive_secs(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp()
}

/// `yyyyMMddTHHmmss`, as in the receipt URL.
pub fn compact(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_impossible_dates() {
        let t = NaiveDate::from_ymd_opt(2026, 11, 23)
            .and_then(|d| d.and_hms_opt(10, 5, 7))
            .unwrap();
        assert_eq!(naive(&wire(t)), Some(t));
        let mut bad = wire(t);
        bad.date.as_mut().unwrap().month = Some(13);
        assert_eq!(naive(&bad), None);
        assert_eq!(compact(t), "20261123T100507");
        // 2026-11-23T05:05:07Z at UTC+5 is 10:05:07 local.
        let utc_ms = naive_secs(t) * 1000 - 5 * 3600 * 1000;
        assert_eq!(local_now(utc_ms, 5 * 3600), t);
    }
}
