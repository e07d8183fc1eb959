//! Taxpayer numbers and requisites, checked by the organisation's country: RU ИНН (10 digits for
//! a legal entity, 12 for an entrepreneur, each with its check digits) and КПП; KZ БИН/ИИН (12
//! digits with one check digit). Pure functions: the store refuses an organisation whose
//! requisites fail here, whoever enters it.

/// Which country's rules an organisation follows.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Country {
    /// Russia: ИНН, КПП, БИК.
    Ru,
    /// Kazakhstan: БИН/ИИН.
    Kz,
}

impl Country {
    /// The stored form, `ru` or `kz`.
    pub fn as_str(self) -> &'static str {
        match self {
            Country::Ru => "ru",
            Country::Kz => "kz",
        }
    }

    /// Parse the stored form.
    pub fn parse(text: &str) -> Option<Country> {
        match text {
            "ru" => Some(Country::Ru),
            "kz" => Some(Country::Kz),
            _ => None,
        }
    }
}

/// Why a requisite was refused; the message names the field.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TaxIdError {
    /// Not the right number of decimal digits.
    #[error("{field}: {value:?} must be {expected}")]
    Shape {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
        /// What was expected, in words.
        expected: &'static str,
    },
    /// The digits are there but a check digit is wrong.
    #[error("{field}: {value:?} has a wrong check digit")]
    CheckDigit {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
    },
}

fn digits(value: &str) -> Option<Vec<u32>> {
    value
        .bytes()
        .map(|b| b.is_ascii_digit().then(|| u32::from(b - b'0')))
        .collect()
}

fn weighted(digits: &[u32], weights: &[u32]) -> u32 {
    digits.iter().zip(weights).map(|(d, w)| d * w).sum()
}

/// RU ИНН check digit over `digits` with `weights` (sum mod 11 mod 10).
fn ru_check(digits: &[u32], weights: &[u32]) -> u32 {
    weighted(digits, weights) % 11 % 10
}

/// Validate a RU ИНН: 10 digits (legal entity) or 12 digits (entrepreneur), check digits as the
/// ФНС assigns them.
pub fn check_ru_inn(field: &'static str, inn: &str) -> Result<(), TaxIdError> {
    const W10: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
    const W11: [u32; 10] = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
    const W12: [u32; 11] = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
    let shape = || TaxIdError::Shape {
        field,
        value: inn.to_owned(),
        expected: "10 or 12 decimal digits",
    };
    let d = digits(inn).ok_or_else(shape)?;
    let valid = match d.len() {
        10 => ru_check(&d[..9], &W10) == d[9],
        12 => ru_check(&d[..10], &W11) == d[10] && ru_check(&d[..11], &W12) == d[11],
        _ => return Err(shape()),
    };
    valid.then_some(()).ok_or(TaxIdError::CheckDigit {
        field,
        value: inn.to_owned(),
    })
}

/// The check digit of a KZ БИН/ИИН whose first 11 digits are `body`, or `None` when the
/// number cannot have one (both weight passes give 10; such numbers are not issued).
pub fn kz_check_digit(body: &[u32]) -> Option<u32> {
    const FIRST: [u32; 11] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    const SECOND: [u32; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];
    let first = weighted(body, &FIRST) % 11;
    if first != 10 {
        return Some(first);
    }
    let second = weighted(body, &SECOND) % 11;
    (second != 10).then_some(second)
}

/// Validate a KZ БИН or ИИН: 12 digits, the last a check digit over the first 11.
pub fn check_kz_bin(field: &'static str, bin: &str) -> Result<(), TaxIdError> {
    let d = digits(bin)
        .filter(|d| d.len() == 12)
        .ok_or_else(|| TaxIdError::Shape {
            field,
            value: bin.to_owned(),
            expected: "12 decimal digits",
        })?;
    (kz_check_digit(&d[..11]) == Some(d[11]))
        .then_some(())
        .ok_or(TaxIdError::CheckDigit {
            field,
            value: bin.to_owned(),
        })
}

/// Validate the taxpayer number of an organisation of `country`.
pub fn check_tax_id(country: Country, field: &'static str, value: &str) -> Result<(), TaxIdError> {
    match country {
        Country::Ru => check_ru_inn(field, value),
        Country::Kz => check_kz_bin(field, value),
    }
}

/// Validate a RU КПП: 4 digits (tax office), 2 digits or capital Latin letters (reason), 3
/// digits (number).
pub fn check_kpp(kpp: &str) -> Result<(), TaxIdError> {
    let b = kpp.as_bytes();
    let ok = b.len() == 9
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4..6]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        && b[6..].iter().all(u8::is_ascii_digit);
    ok.then_some(()).ok_or_else(|| TaxIdError::Shape {
        field: "kpp",
        value: kpp.to_owned(),
        expected: "9 characters: 4 digits, 2 digits or capital letters, 3 digits",
    })
}

/// Validate a RU БИК (9 digits) or a KZ БИК (8 capital letters or digits, SWIFT style).
pub fn check_bik(country: Country, bik: &str) -> Result<(), TaxIdError> {
    let (ok, expected) = match country {
        Country::Ru => (
            bik.len() == 9 && bik.bytes().all(|b| b.is_ascii_digit()),
            "9 decimal digits",
        ),
        Country::Kz => (
            bik.len() == 8
                && bik
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()),
            "8 capital letters or digits",
        ),
    };
    ok.then_some(()).ok_or_else(|| TaxIdError::Shape {
        field: "bank_bik",
        value: bik.to_owned(),
        expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ru_inn_of_a_legal_entity() {
        // ПАО Сбербанк and ПАО «Газпром», public registry numbers.
        assert_eq!(check_ru_inn("inn", "7707083893"), Ok(()));
        assert_eq!(check_ru_inn("inn", "7736050003"), Ok(()));
        assert!(matches!(
            check_ru_inn("inn", "7707083894"),
            Err(TaxIdError::CheckDigit { .. })
        ));
        assert!(matches!(
            check_ru_inn("inn", "770708389"),
            Err(TaxIdError::Shape { .. })
        ));
        assert!(matches!(
            check_ru_inn("inn", "77070838a3"),
            Err(TaxIdError::Shape { .. })
        ));
    }

    #[test]
    fn ru_inn_of_an_entrepreneur() {
        assert_eq!(check_ru_inn("inn", "500100732259"), Ok(()));
        // Last digit, then the eleventh, wrong.
        assert!(matches!(
            check_ru_inn("inn", "500100732258"),
            Err(TaxIdError::CheckDigit { .. })
        ));
        assert!(matches!(
            check_ru_inn("inn", "500100732249"),
            Err(TaxIdError::CheckDigit { .. })
        ));
    }

    #[test]
    fn kz_bin_and_iin() {
        // A БИН whose first pass gives the check digit, and one that needs the second pass.
        assert_eq!(check_kz_bin("bin", "000740001307"), Ok(()));
        let body: Vec<u32> = "12345678901".bytes().map(|b| u32::from(b - b'0')).collect();
        let check = kz_check_digit(&body).expect("a check digit");
        let valid = format!("12345678901{check}");
        assert_eq!(check_kz_bin("bin", &valid), Ok(()));
        let wrong = format!("12345678901{}", (check + 1) % 10);
        assert!(matches!(
            check_kz_bin("bin", &wrong),
            Err(TaxIdError::CheckDigit { .. })
        ));
        assert!(matches!(
            check_kz_bin("bin", "00074000130"),
            Err(TaxIdError::Shape { .. })
        ));
        // The second pass: first-pass sum ≡ 10 (mod 11).
        let second: Vec<u32> = "00000000010".bytes().map(|b| u32::from(b - b'0')).collect();
        assert_eq!(
            weighted(&second, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]) % 11,
            10
        );
        assert_eq!(kz_check_digit(&second), Some(1));
    }

    #[test]
    fn kpp_and_bik() {
        assert_eq!(check_kpp("773601001"), Ok(()));
        assert_eq!(check_kpp("7736AB001"), Ok(()));
        assert!(check_kpp("77360100").is_err());
        assert!(check_kpp("7736ab001").is_err());
        assert_eq!(check_bik(Country::Ru, "044525225"), Ok(()));
        assert!(check_bik(Country::Ru, "04452522").is_err());
        assert_eq!(check_bik(Country::Kz, "HSBKKZKX"), Ok(()));
        assert!(check_bik(Country::Kz, "044525225").is_err());
    }
}
