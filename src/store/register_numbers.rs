//! The numbers a register carries, checked as pure functions: the SIM's ICCID (19–20 digits,
//! Luhn check digit), the MSISDN and its last ten digits (the look-up key the seeds use), the RU
//! registration number РН ККТ, the KZ РНМ. The store refuses a register whose numbers fail here,
//! whoever enters it; every message names the field.
//!
//! РН ККТ (16 digits): the first ten are the ordinal number the tax authority assigns, the last
//! six a check number: CRC-16/CCITT (polynomial 0x1021, initial value 0xFFFF, no reflection,
//! no final xor — the `CRC_16_IBM_3740` parameter set) over the ASCII digits of the ordinal
//! number (10), the user's ИНН left-padded with zeros to 12 and the register's factory serial
//! left-padded with zeros to 20, written as a decimal number left-padded to 6 digits.
//! Source: Приказ ФНС России от 29.05.2017 № ММВ-7-20/484@, appendix "Порядок формирования
//! регистрационного номера контрольно-кассовой техники" (the layout as commonly described for
//! that order). Cross-checked against a number a register itself wrote: the fiscal-report
//! correction in `fixtures/ru/fiscal_report_correction_1_05.frame.hex` (yandex/ofd suite; see
//! `ofd decode` of it) carries РН ККТ 0000000005008570 (tag 1037) beside ИНН 7702203276 (1018)
//! and factory serial 000000000002 (1013), and this rule gives exactly 008570 for them; other
//! paddings (spaces, no padding) or a zero initial value do not. If an issued РН ККТ ever fails
//! here, this function is the one place to correct.
//! A serial longer than 20 characters cannot have a РН ККТ under that rule and is refused.

use super::tax_id::{check_ru_inn, TaxIdError};

/// Why a register's number was refused; the message names the field.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Wrong length or not decimal digits.
    #[error("{field}: {value:?} must be {expected}")]
    Shape {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
        /// What was expected, in words.
        expected: &'static str,
    },
    /// The digits are there but the check part does not match.
    #[error("{field}: {value:?} fails its check ({why})")]
    Check {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
        /// Which check.
        why: &'static str,
    },
    /// A taxpayer number the check needs is itself wrong.
    #[error(transparent)]
    TaxId(#[from] TaxIdError),
}

fn all_digits(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
}

/// Whether the Luhn check digit (the last one) of `digits` is right.
pub fn luhn_ok(digits: &str) -> bool {
    if !all_digits(digits) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// A SIM's ICCID: 19 or 20 digits whose last is the Luhn check digit.
pub fn check_iccid(iccid: &str) -> Result<(), NumberError> {
    if !all_digits(iccid) || !(19..=20).contains(&iccid.len()) {
        return Err(NumberError::Shape {
            field: "iccid",
            value: iccid.to_owned(),
            expected: "19 or 20 decimal digits",
        });
    }
    if !luhn_ok(iccid) {
        return Err(NumberError::Check {
            field: "iccid",
            value: iccid.to_owned(),
            why: "Luhn check digit",
        });
    }
    Ok(())
}

/// The last ten digits of a phone number (its `+`, spaces, brackets and dashes dropped); the
/// number must have 10 to 15 digits.
pub fn msisdn_tail(msisdn: &str) -> Result<String, NumberError> {
    let digits: String = msisdn.chars().filter(char::is_ascii_digit).collect();
    let clean = msisdn
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'));
    if !clean || !(10..=15).contains(&digits.len()) {
        return Err(NumberError::Shape {
            field: "msisdn",
            value: msisdn.to_owned(),
            expected: "a phone number of 10 to 15 digits",
        });
    }
    Ok(digits[digits.len() - 10..].to_owned())
}

/// The six-digit check part of a РН ККТ for `ordinal` (10 digits), `inn` and `serial`.
pub fn rn_kkt_check(ordinal: &str, inn: &str, serial: &str) -> String {
    let input = format!("{ordinal:0>10}{inn:0>12}{serial:0>20}");
    let crc = crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740).checksum(input.as_bytes());
    format!("{crc:06}")
}

/// A RU registration number РН ККТ: 16 digits whose last six are the check part over the
/// ordinal number, the owner's `inn` and the register's factory `serial` (see the module
/// header for the rule and its source).
pub fn check_rn_kkt(rn: &str, inn: &str, serial: &str) -> Result<(), NumberError> {
    if !all_digits(rn) || rn.len() != 16 {
        return Err(NumberError::Shape {
            field: "reg_number",
            value: rn.to_owned(),
            expected: "16 decimal digits (РН ККТ)",
        });
    }
    check_ru_inn("org_inn", inn)?;
    if serial.is_empty() || serial.len() > 20 {
        return Err(NumberError::Shape {
            field: "serial",
            value: serial.to_owned(),
            expected: "1 to 20 characters (the factory serial the РН ККТ is checked with)",
        });
    }
    if rn_kkt_check(&rn[..10], inn, serial) != rn[10..] {
        return Err(NumberError::Check {
            field: "reg_number",
            value: rn.to_owned(),
            why: "its last six digits do not match the ИНН and the factory serial",
        });
    }
    Ok(())
}

/// A KZ registration number in the tax authority's register, РНМ: 12 digits (no check digit
/// is published).
pub fn check_rnm(rnm: &str) -> Result<(), NumberError> {
    if !all_digits(rnm) || rnm.len() != 12 {
        return Err(NumberError::Shape {
            field: "reg_number",
            value: rnm.to_owned(),
            expected: "12 decimal digits (РНМ)",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_known_numbers_and_refuses_a_changed_digit() {
        // A published Luhn example and an ICCID-shaped number built on it.
        assert!(luhn_ok("79927398713"));
        assert!(!luhn_ok("79927398710"));
        let body = "897010123456789012";
        let check = (0..10)
            .find(|d| luhn_ok(&format!("{body}{d}")))
            .expect("one digit fits");
        assert!(check_iccid(&format!("{body}{check}")).is_ok());
        assert!(check_iccid(&format!("{body}{}", (check + 1) % 10)).is_err());
        assert!(check_iccid("89701").is_err());
        assert!(check_iccid("89701012345678901x8").is_err());
    }

    #[test]
    fn crc_parameters_are_the_ccitt_false_set() {
        // The standard check value of CRC-16/CCITT-FALSE over "123456789".
        let crc = crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740).checksum(b"123456789");
        assert_eq!(crc, 0x29B1);
    }

    #[test]
    fn rn_kkt_of_the_fixture_register_passes() {
        // Tags 1037 / 1018 / 1013 of fixtures/ru/fiscal_report_correction_1_05.frame.hex, a
        // document a register produced (not numbers we made up to fit the rule).
        assert_eq!(
            rn_kkt_check("0000000005", "7702203276", "000000000002"),
            "008570"
        );
        assert!(check_rn_kkt("0000000005008570", "7702203276", "000000000002").is_ok());
        assert!(check_rn_kkt("0000000005008571", "7702203276", "000000000002").is_err());
        // The serial as the register writes it and with its leading zeros dropped are the
        // same number once padded to 20.
        assert!(check_rn_kkt("0000000005008570", "7702203276", "2").is_ok());
    }

    #[test]
    fn rn_kkt_check_part_binds_inn_and_serial() {
        let inn = "7707083893";
        let serial = "00106700123456";
        let rn = format!("0000000001{}", rn_kkt_check("0000000001", inn, serial));
        assert_eq!(rn.len(), 16);
        assert!(check_rn_kkt(&rn, inn, serial).is_ok());
        assert!(check_rn_kkt(&rn, inn, "00106700123457").is_err());
        assert!(check_rn_kkt(&rn, "500100732259", serial).is_err());
        assert!(matches!(
            check_rn_kkt(&rn, "7707083894", serial),
            Err(NumberError::TaxId(_))
        ));
        assert!(check_rn_kkt("123", inn, serial).is_err());
    }

    #[test]
    fn msisdn_tail_is_the_last_ten_digits() {
        assert_eq!(msisdn_tail("+7 (701) 123-45-67").unwrap(), "7011234567");
        assert!(msisdn_tail("12345").is_err());
        assert!(msisdn_tail("+7 701 abc").is_err());
        assert!(check_rnm("123456789012").is_ok());
        assert!(check_rnm("12345678901").is_err());
    }
}
