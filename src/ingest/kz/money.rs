//! Money arithmetic in tiyn (1/100 tenge) with overflow and range checks.
//!
//! The wire carries `Money {bills, coins}`; everything the server adds up is converted to a
//! signed tiyn count first, so sums are exact and a malicious 2^64-tenge amount is a typed
//! refusal, not an overflow.

use ofd_protocol::kz::Money;

/// Why an amount was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// `coins` is above 99.
    #[error("coins {0} out of range 0–99")]
    CoinsOutOfRange(u32),
    /// The amount or a sum of amounts does not fit the counters.
    #[error("amount overflows")]
    Overflow,
    /// A required part of the amount is missing.
    #[error("amount is incomplete")]
    Incomplete,
}

/// Largest amount the server accepts in one value: 10^15 tiyn (10 trillion tenge).
const MAX_TIYN: i64 = 1_000_000_000_000_000;

/// `money` as a tiyn count.
pub fn tiyn(money: &Money) -> Result<i64, MoneyError> {
    let (Some(bills), Some(coins)) = (money.bills, money.coins) else {
        return Err(MoneyError::Incomplete);
    };
    if coins > 99 {
        return Err(MoneyError::CoinsOutOfRange(coins));
    }
    let total = i64::try_from(bills)
        .ok()
        .and_then(|b| b.checked_mul(100))
        .and_then(|b| b.checked_add(i64::from(coins)))
        .ok_or(MoneyError::Overflow)?;
    if total > MAX_TIYN {
        return Err(MoneyError::Overflow);
    }
    Ok(total)
}

/// `money` as tiyn, or 0 when absent.
pub fn tiyn_or_zero(money: Option<&Money>) -> Result<i64, MoneyError> {
    money.map(tiyn).transpose().map(Option::unwrap_or_default)
}

/// A non-negative tiyn count as `Money` (negative values are clamped to 0; callers carry the sign
/// separately, as `Revenue.is_negative` does).
pub fn money(tiyn: i64) -> Money {
    let tiyn = tiyn.max(0);
    Money {
        bills: Some((tiyn / 100) as u64),
        coins: Some((tiyn % 100) as u32),
    }
}

/// `a + b`, refusing overflow.
pub fn add(a: i64, b: i64) -> Result<i64, MoneyError> {
    a.checked_add(b).ok_or(MoneyError::Overflow)
}

/// `tiyn` formatted as tenge with two decimals (for the receipt URL).
pub fn tenge_text(tiyn: i64) -> String {
    let sign = if tiyn < 0 { "-" } else { "" };
    let abs = tiyn.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(bills: u64, coins: u32) -> Money {
        Money {
            bills: Some(bills),
            coins: Some(coins),
        }
    }

    #[test]
    fn converts_and_checks_ranges() {
        assert_eq!(tiyn(&m(150, 50)), Ok(15_050));
        assert_eq!(tiyn(&m(1, 100)), Err(MoneyError::CoinsOutOfRange(100)));
        assert_eq!(tiyn(&m(u64::MAX, 0)), Err(MoneyError::Overflow));
        assert_eq!(tiyn(&Money::default()), Err(MoneyError::Incomplete));
        assert_eq!(money(15_050), m(150, 50));
        assert_eq!(tenge_text(15_005), "150.05");
        assert_eq!(tenge_text(-7), "-0.07");
    }
}
