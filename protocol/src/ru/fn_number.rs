//! The fiscal drive (ФН) number: 16 ASCII digits, right-padded with spaces.
//!
//! It travels three ways: as ASCII in the session header, as packed BCD in the container header
//! (a padding space is the nibble `F`), and as the String tag 1041 in the document. All three are
//! normalised to one [`FnNumber`] so that cross-checks compare like with like.

use std::fmt;

/// Length of the ФН number in ASCII form.
pub const FN_NUMBER_LEN: usize = 16;

/// A validated ФН number: ASCII digits followed by zero or more padding spaces.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FnNumber([u8; FN_NUMBER_LEN]);

/// Why bytes are not a ФН number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FnNumberError {
    /// The ASCII form is not 1..=16 digits followed by spaces.
    #[error("ФН number is not digits padded with spaces")]
    NotDigits,
    /// The BCD form holds a nibble that is neither a digit nor trailing `F` padding.
    #[error("ФН number is not packed BCD digits")]
    NotBcd,
    /// The ASCII form is longer than 16 bytes.
    #[error("ФН number is {0} bytes long, at most 16 allowed")]
    TooLong(usize),
}

impl FnNumber {
    /// Validate 16 ASCII bytes as found in the session header.
    pub fn from_ascii(bytes: [u8; FN_NUMBER_LEN]) -> Result<Self, FnNumberError> {
        let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || bytes[digits..].iter().any(|&b| b != b' ') {
            return Err(FnNumberError::NotDigits);
        }
        Ok(Self(bytes))
    }

    /// Validate a string of up to 16 bytes (tag 1041, user input), padding it with spaces.
    pub fn parse(text: &[u8]) -> Result<Self, FnNumberError> {
        if text.len() > FN_NUMBER_LEN {
            return Err(FnNumberError::TooLong(text.len()));
        }
        let mut bytes = [b' '; FN_NUMBER_LEN];
        bytes[..text.len()].copy_from_slice(text);
        Self::from_ascii(bytes)
    }

    /// Decode the 8-byte packed BCD of the container header; `F` nibbles are trailing spaces.
    pub fn from_bcd(bcd: [u8; 8]) -> Result<Self, FnNumberError> {
        let mut bytes = [b' '; FN_NUMBER_LEN];
        for (i, byte) in bcd.iter().enumerate() {
            for (j, nibble) in [byte >> 4, byte & 0x0F].into_iter().enumerate() {
                bytes[2 * i + j] = match nibble {
                    0..=9 => b'0' + nibble,
                    0x0F => b' ',
                    _ => return Err(FnNumberError::NotBcd),
                };
            }
        }
        Self::from_ascii(bytes).map_err(|_| FnNumberError::NotBcd)
    }

    /// Packed BCD for the container header.
    pub fn to_bcd(&self) -> [u8; 8] {
        let nibble = |b: u8| if b == b' ' { 0x0F } else { b - b'0' };
        let mut bcd = [0u8; 8];
        for (i, out) in bcd.iter_mut().enumerate() {
            *out = (nibble(self.0[2 * i]) << 4) | nibble(self.0[2 * i + 1]);
        }
        bcd
    }

    /// The 16 ASCII bytes, padding included (the session-header and tag-1041 form).
    pub fn as_bytes(&self) -> &[u8; FN_NUMBER_LEN] {
        &self.0
    }

    /// The digits without padding (the key used for storage and display).
    pub fn digits(&self) -> &str {
        let len = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        // Only ASCII digits by construction, so this never fails.
        std::str::from_utf8(&self.0[..len]).unwrap_or_default()
    }

    /// The full 16 characters, padding included.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for FnNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.digits())
    }
}

impl fmt::Debug for FnNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FnNumber({:?})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcd_round_trip_with_padding() {
        let n = FnNumber::parse(b"999907891234567").unwrap();
        assert_eq!(n.as_str(), "999907891234567 ");
        assert_eq!(n.to_bcd(), [0x99, 0x99, 0x07, 0x89, 0x12, 0x34, 0x56, 0x7F]);
        assert_eq!(FnNumber::from_bcd(n.to_bcd()).unwrap(), n);
        assert_eq!(n.digits(), "999907891234567");
    }

    #[test]
    fn rejects_bad_forms() {
        assert_eq!(FnNumber::from_bcd([0xA9; 8]), Err(FnNumberError::NotBcd));
        // Padding in the middle is not padding.
        assert_eq!(
            FnNumber::from_bcd([0x99, 0xF9, 0, 0, 0, 0, 0, 0]),
            Err(FnNumberError::NotBcd)
        );
        assert_eq!(FnNumber::parse(b"12a"), Err(FnNumberError::NotDigits));
        assert_eq!(FnNumber::parse(b""), Err(FnNumberError::NotDigits));
        assert_eq!(
            FnNumber::parse(&[b'1'; 17]),
            Err(FnNumberError::TooLong(17))
        );
    }
}
