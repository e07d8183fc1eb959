//! How a period of days is read from a table of monthly figures and its table of daily ones:
//! whole months from the monthly table, and each partly covered month either as its days or as
//! the month less the days outside the period, whichever reads fewer days.
//!
//! Why: a product's sales for "the last 30 days" of an organisation of 100 registers summed
//! from the daily product rows reads 100 × 30 × (products sold a day) rows; from the monthly
//! rows plus at most half a month of days at each edge it reads a fraction of that (issue 14's
//! month's totals on PostgreSQL at ten million documents).
//!
//! Invariants:
//! - Exact: for figures that add up (counts, sums of money), the signed sum of the pieces over
//!   any daily figures equals the sum over the period's days, provided the monthly table holds
//!   the sum of its month's days. The projector writes both from the same deltas in one
//!   transaction, and retention drops a month of both together, so it does.
//! - At most three pieces a month (the month and the two edges taken off), and a piece of days
//!   never spans more than half its month.
//! - Pure: days in, pieces out; the caller turns them into SQL.

use chrono::{Datelike as _, Months, NaiveDate};

/// One part of a period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    /// The whole month starting on this day (days since 1970-01-01): the monthly table's key.
    Month(i64),
    /// Days `[from, to)` of the daily table, added (`sign` 1) or taken off (`sign` -1).
    Days {
        /// First day, inclusive.
        from: i64,
        /// Last day, exclusive.
        to: i64,
        /// 1 to add the days, -1 to take them off a month.
        sign: i64,
    },
}

/// The first day of the month `day` falls in, and the first day of the next month (days since
/// 1970-01-01); `None` outside chrono's dates.
pub fn month_of_day(day: i64) -> Option<(i64, i64)> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    let date = epoch.checked_add_signed(chrono::TimeDelta::try_days(day)?)?;
    let first = date.with_day(1)?;
    let next = first.checked_add_months(Months::new(1))?;
    Some((
        first.signed_duration_since(epoch).num_days(),
        next.signed_duration_since(epoch).num_days(),
    ))
}

/// The pieces that make up days `[from_day, to_day)`, in day order. An empty period has none;
/// days chrono cannot place are read as days.
pub fn pieces(from_day: i64, to_day: i64) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut day = from_day;
    while day < to_day {
        let Some((first, next)) = month_of_day(day) else {
            out.push(Piece::Days {
                from: day,
                to: to_day,
                sign: 1,
            });
            break;
        };
        let (from, to) = (day, next.min(to_day));
        let covered = to - from;
        let month = next - first;
        if covered == month {
            out.push(Piece::Month(first));
        } else if covered * 2 <= month {
            out.push(Piece::Days { from, to, sign: 1 });
        } else {
            out.push(Piece::Month(first));
            if from > first {
                out.push(Piece::Days {
                    from: first,
                    to: from,
                    sign: -1,
                });
            }
            if next > to {
                out.push(Piece::Days {
                    from: to,
                    to: next,
                    sign: -1,
                });
            }
        }
        day = to;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 2026-12-01 and 2027-01-01 as days since 1970-01-01.
    const DECEMBER: (i64, i64) = (20_788, 20_819);

    #[test]
    fn months_are_found_from_any_of_their_days() {
        assert_eq!(month_of_day(DECEMBER.0), Some(DECEMBER));
        assert_eq!(month_of_day(DECEMBER.1 - 1), Some(DECEMBER));
        assert_eq!(month_of_day(DECEMBER.1), Some((20_819, 20_850)));
        assert_eq!(month_of_day(0), Some((0, 31)));
        assert_eq!(month_of_day(-1), Some((-31, 0)));
    }

    #[test]
    fn the_last_thirty_days_are_a_month_less_its_first_days_and_the_next_months_first_days() {
        // 2026-11-04 .. 2026-12-04: November is 30 days, 27 of them asked for.
        let november = (20_758, DECEMBER.0);
        assert_eq!(
            pieces(november.0 + 3, DECEMBER.0 + 3),
            [
                Piece::Month(november.0),
                Piece::Days {
                    from: november.0,
                    to: november.0 + 3,
                    sign: -1
                },
                Piece::Days {
                    from: DECEMBER.0,
                    to: DECEMBER.0 + 3,
                    sign: 1
                },
            ]
        );
        assert_eq!(pieces(DECEMBER.0, DECEMBER.1), [Piece::Month(DECEMBER.0)]);
        assert_eq!(pieces(DECEMBER.0, DECEMBER.0), []);
        // A month's middle: less than half is read as days, more as the month less both edges.
        assert_eq!(
            pieces(DECEMBER.0 + 10, DECEMBER.0 + 20),
            [Piece::Days {
                from: DECEMBER.0 + 10,
                to: DECEMBER.0 + 20,
                sign: 1
            }]
        );
        assert_eq!(
            pieces(DECEMBER.0 + 2, DECEMBER.1 - 2),
            [
                Piece::Month(DECEMBER.0),
                Piece::Days {
                    from: DECEMBER.0,
                    to: DECEMBER.0 + 2,
                    sign: -1
                },
                Piece::Days {
                    from: DECEMBER.1 - 2,
                    to: DECEMBER.1,
                    sign: -1
                },
            ]
        );
    }

    proptest! {
        /// Any figures per day, any period: the pieces sum to what the days sum to, and a piece
        /// of days never reads more than half a month.
        #[test]
        fn the_pieces_sum_to_the_days_of_the_period(
            start in 20_000i64..21_000,
            from in 0i64..400,
            length in 0i64..400,
            seed in any::<u64>(),
        ) {
            let figure = |day: i64| (day.wrapping_mul(seed as i64 | 1) >> 7) % 1_000;
            let (from, to) = (start + from, start + from + length);
            let monthly = |first: i64| {
                let (_, next) = month_of_day(first).expect("month");
                (first..next).map(figure).sum::<i64>()
            };
            let mut total = 0;
            for piece in pieces(from, to) {
                match piece {
                    Piece::Month(first) => total += monthly(first),
                    Piece::Days { from, to, sign } => {
                        let (first, next) = month_of_day(from).expect("month");
                        prop_assert!(to <= next && (to - from) * 2 <= next - first);
                        total += sign * (from..to).map(figure).sum::<i64>();
                    }
                }
            }
            prop_assert_eq!(total, (from..to).map(figure).sum::<i64>());
        }
    }
}
