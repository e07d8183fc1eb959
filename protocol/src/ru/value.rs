//! Scalar codecs of the ФФД data types.
//!
//! Decoders are lenient where devices are known to be (Byte and U32 accept shorter forms, VLN
//! accepts 0..=8 bytes, FVLN zero padding) and strict where leniency would hide corruption (a
//! value longer than its type can hold). Encoders write the canonical form: U32 as 4 bytes, VLN
//! and FVLN in the fewest bytes. Strings stay raw CP866 bytes until someone needs text.

use std::borrow::Cow;
use std::fmt;

/// The ФФД data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// One byte; flags and bit fields.
    Byte,
    /// u16 little-endian.
    U16,
    /// u32 little-endian, 0..=4 bytes accepted on input.
    U32,
    /// u32 little-endian seconds, local wall-clock time of the place of settlement.
    UnixTime,
    /// CP866 text.
    String,
    /// Raw bytes.
    ByteArray,
    /// Variable-length unsigned integer, little-endian (money in kopecks).
    Vln,
    /// Byte 0 = digits after the point, then a little-endian mantissa.
    Fvln,
    /// Nested TLVs.
    Stlv,
}

/// Why a scalar value did not decode or encode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The value has more bytes than its type can hold.
    #[error("{ty:?} value of {len} bytes is too long")]
    TooLong {
        /// Data type.
        ty: DataType,
        /// Bytes given.
        len: usize,
    },
    /// The value has a length its type does not allow.
    #[error("{ty:?} value of {len} bytes has the wrong length")]
    BadLength {
        /// Data type.
        ty: DataType,
        /// Bytes given.
        len: usize,
    },
    /// An FVLN point position above 18 cannot be shown as a decimal.
    #[error("FVLN point position {0} is out of range")]
    FvlnPoint(u8),
    /// A number does not fit the width it must be written in.
    #[error("{value} does not fit in {max_len} bytes")]
    DoesNotFit {
        /// Value to encode.
        value: u64,
        /// Width available.
        max_len: usize,
    },
    /// A character has no CP866 code.
    #[error("character {0:?} has no CP866 code")]
    NotCp866(char),
}

/// Byte: 1 byte; length 0 reads as 0.
pub fn decode_byte(v: &[u8]) -> Result<u8, ValueError> {
    match v {
        [] => Ok(0),
        [b] => Ok(*b),
        _ => Err(ValueError::TooLong {
            ty: DataType::Byte,
            len: v.len(),
        }),
    }
}

/// U16: exactly 2 bytes little-endian (0..=2 accepted).
pub fn decode_u16(v: &[u8]) -> Result<u16, ValueError> {
    if v.len() > 2 {
        return Err(ValueError::TooLong {
            ty: DataType::U16,
            len: v.len(),
        });
    }
    Ok(le_uint(v) as u16)
}

/// U32 / UnixTime: 0..=4 bytes little-endian.
pub fn decode_u32(v: &[u8]) -> Result<u32, ValueError> {
    if v.len() > 4 {
        return Err(ValueError::TooLong {
            ty: DataType::U32,
            len: v.len(),
        });
    }
    Ok(le_uint(v) as u32)
}

/// VLN: 0..=8 bytes little-endian.
pub fn decode_vln(v: &[u8]) -> Result<u64, ValueError> {
    if v.len() > 8 {
        return Err(ValueError::TooLong {
            ty: DataType::Vln,
            len: v.len(),
        });
    }
    Ok(le_uint(v))
}

/// Little-endian unsigned integer of at most 8 bytes.
fn le_uint(v: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf[..v.len()].copy_from_slice(v);
    u64::from_le_bytes(buf)
}

/// A decimal number as FVLN carries it: `mantissa / 10^point`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fvln {
    /// Digits after the decimal point.
    pub point: u8,
    /// The integer mantissa.
    pub mantissa: u64,
}

/// Largest point position shown as a decimal (u64 has 19 digits).
pub const MAX_FVLN_POINT: u8 = 18;

impl Fvln {
    /// The value as a float (for JSON); exact for the magnitudes registers use.
    pub fn to_f64(self) -> f64 {
        self.mantissa as f64 / 10f64.powi(i32::from(self.point))
    }

    /// The shortest FVLN whose [`Fvln::to_f64`] is exactly `value`, with at most `max_point`
    /// digits after the point. Neighbouring mantissas are tried too, because `value * 10^p`
    /// may round to one off the mantissa that produced `value`.
    pub fn from_f64(value: f64, max_point: u8) -> Option<Self> {
        if !value.is_finite() || value < 0.0 {
            return None;
        }
        (0..=max_point.min(MAX_FVLN_POINT)).find_map(|point| {
            let scaled = (value * 10f64.powi(i32::from(point))).round();
            if scaled >= MAX_FVLN_MANTISSA as f64 {
                return None;
            }
            let guess = scaled as u64;
            (guess.saturating_sub(2)..=guess.saturating_add(2))
                .map(|mantissa| Fvln { point, mantissa })
                .find(|f| f.mantissa < MAX_FVLN_MANTISSA && f.to_f64() == value)
        })
    }
}

/// FVLN mantissas have at most 7 bytes.
const MAX_FVLN_MANTISSA: u64 = 1 << 56;

impl fmt::Display for Fvln {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = 10u64.pow(u32::from(self.point));
        if self.point == 0 {
            write!(f, "{}", self.mantissa)
        } else {
            let width = usize::from(self.point);
            write!(
                f,
                "{}.{:0width$}",
                self.mantissa / scale,
                self.mantissa % scale
            )
        }
    }
}

/// FVLN: 1..=8 bytes: point position, then a little-endian mantissa (zero padding allowed).
pub fn decode_fvln(v: &[u8]) -> Result<Fvln, ValueError> {
    let Some((&point, mantissa)) = v.split_first() else {
        return Err(ValueError::BadLength {
            ty: DataType::Fvln,
            len: 0,
        });
    };
    if v.len() > 8 {
        return Err(ValueError::TooLong {
            ty: DataType::Fvln,
            len: v.len(),
        });
    }
    if point > MAX_FVLN_POINT {
        return Err(ValueError::FvlnPoint(point));
    }
    Ok(Fvln {
        point,
        mantissa: le_uint(mantissa),
    })
}

/// CP866 text of raw string bytes. Every byte has a CP866 character, so this cannot fail.
pub fn decode_string(v: &[u8]) -> Cow<'_, str> {
    if v.is_ascii() {
        // ASCII is the same in CP866; no copy. is_ascii guarantees valid UTF-8.
        return Cow::Borrowed(std::str::from_utf8(v).unwrap_or_default());
    }
    encoding_rs::IBM866.decode_without_bom_handling(v).0
}

/// Append the minimal little-endian bytes of `value` (no bytes for 0), at most `max_len`.
pub fn encode_vln(value: u64, max_len: usize, out: &mut Vec<u8>) -> Result<(), ValueError> {
    let len = (64 - value.leading_zeros() as usize).div_ceil(8);
    if len > max_len {
        return Err(ValueError::DoesNotFit { value, max_len });
    }
    out.extend_from_slice(&value.to_le_bytes()[..len]);
    Ok(())
}

/// Append an FVLN in the fewest bytes.
pub fn encode_fvln(value: Fvln, out: &mut Vec<u8>) -> Result<(), ValueError> {
    if value.point > MAX_FVLN_POINT {
        return Err(ValueError::FvlnPoint(value.point));
    }
    out.push(value.point);
    // At least one mantissa byte, so that the value is never just the point position.
    let len = (64 - value.mantissa.leading_zeros() as usize)
        .div_ceil(8)
        .max(1);
    if len > 7 {
        return Err(ValueError::DoesNotFit {
            value: value.mantissa,
            max_len: 7,
        });
    }
    out.extend_from_slice(&value.mantissa.to_le_bytes()[..len]);
    Ok(())
}

/// Append CP866 bytes of `text`.
pub fn encode_string(text: &str, out: &mut Vec<u8>) -> Result<(), ValueError> {
    if text.is_ascii() {
        out.extend_from_slice(text.as_bytes());
        return Ok(());
    }
    let (bytes, _, unmappable) = encoding_rs::IBM866.encode(text);
    if unmappable {
        let bad = text
            .chars()
            .find(|c| {
                let mut buf = [0u8; 4];
                encoding_rs::IBM866.encode(c.encode_utf8(&mut buf)).2
            })
            .unwrap_or('\u{FFFD}');
        return Err(ValueError::NotCp866(bad));
    }
    out.extend_from_slice(&bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn spec_vectors() {
        assert_eq!(decode_u32(&h("01000000")), Ok(1));
        assert_eq!(decode_vln(&h("e92d06")), Ok(404969));
        assert_eq!(decode_vln(&h("31040001f04f")), Ok(87892227523633));
        let mut out = Vec::new();
        assert_eq!(
            encode_vln(87892227523633222, 6, &mut out),
            Err(ValueError::DoesNotFit {
                value: 87892227523633222,
                max_len: 6
            })
        );
        let f = decode_fvln(&h("0215cd5b07")).unwrap();
        assert_eq!(f.to_string(), "1234567.89");
        assert_eq!(
            decode_fvln(&h("02d7370200000000")).unwrap().to_string(),
            "1453.67"
        );
        assert_eq!(decode_string(&h("92a5e1e2")), "Тест");
        assert_eq!(decode_u32(&h("8a029e55")), Ok(1436418698));
        assert_eq!(decode_byte(&h("03")), Ok(3));
        assert_eq!(decode_byte(&[]), Ok(0));
    }

    #[test]
    fn every_error_variant() {
        assert!(matches!(
            decode_byte(&[1, 2]),
            Err(ValueError::TooLong { .. })
        ));
        assert!(matches!(
            decode_u16(&[1, 2, 3]),
            Err(ValueError::TooLong { .. })
        ));
        assert!(matches!(
            decode_u32(&[0; 5]),
            Err(ValueError::TooLong { .. })
        ));
        assert!(matches!(
            decode_vln(&[0; 9]),
            Err(ValueError::TooLong { .. })
        ));
        assert!(matches!(
            decode_fvln(&[]),
            Err(ValueError::BadLength { .. })
        ));
        assert!(matches!(
            decode_fvln(&[0; 9]),
            Err(ValueError::TooLong { .. })
        ));
        assert_eq!(decode_fvln(&[19, 1]), Err(ValueError::FvlnPoint(19)));
        let mut out = Vec::new();
        assert_eq!(
            encode_string("a€", &mut out),
            Err(ValueError::NotCp866('€'))
        );
        assert!(matches!(
            encode_fvln(
                Fvln {
                    point: 0,
                    mantissa: u64::MAX
                },
                &mut out
            ),
            Err(ValueError::DoesNotFit { .. })
        ));
    }

    #[test]
    fn encoders_are_minimal() {
        let mut out = Vec::new();
        encode_vln(404969, 8, &mut out).unwrap();
        assert_eq!(out, h("e92d06"));
        out.clear();
        encode_fvln(decode_fvln(&h("02d7370200000000")).unwrap(), &mut out).unwrap();
        assert_eq!(out, h("02d73702"));
        out.clear();
        encode_string("Тест", &mut out).unwrap();
        assert_eq!(out, h("92a5e1e2"));
        assert_eq!(
            Fvln::from_f64(1453.67, 6),
            Some(Fvln {
                point: 2,
                mantissa: 145367
            })
        );
    }
}
