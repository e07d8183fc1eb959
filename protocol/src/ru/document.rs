//! The decoded document: a tree of tags in wire order with typed, borrowed values.
//!
//! Decoding checks everything that needs no crypto and no ФЛК: exact nesting, the depth bound,
//! each value's length against its tag's maximum (and exact length for fixed fields), and each
//! value against its data type. VLN and FVLN are the exception the spec makes: up to 8 bytes
//! decode whatever the table says ([`decode_max`]); ФЛК flags a value wider than the table. It does **not** reorder, deduplicate or drop anything: tags stay
//! in wire order, a repeated tag is several items, an unknown tag is kept as raw bytes. Strings
//! stay CP866 bytes until someone asks for text, so a decode allocates one `Vec` per STLV level
//! and nothing per tag; that is what makes a million decodes a second per core possible.

use std::borrow::Cow;

use super::tags::{self, TagSpec};
use super::tlv::{Reader, Tlv, TlvError, MAX_DEPTH};
use super::value::{self, DataType, Fvln, ValueError};
use super::FfdVersion;

/// Why a document did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// The TLV framing is broken (overrun, trailing bytes).
    #[error(transparent)]
    Tlv(#[from] TlvError),
    /// The document tag is not a known form code.
    #[error("unknown document form {0}")]
    UnknownForm(u16),
    /// A value is longer than its tag allows.
    #[error("tag {tag}: {len} bytes exceed the maximum of {max}")]
    TooLong {
        /// The tag.
        tag: u16,
        /// Its length.
        len: usize,
        /// The dictionary maximum.
        max: usize,
    },
    /// A fixed-size value has another size (1077 must be 6 bytes).
    #[error("tag {tag}: {len} bytes, exactly {expected} required")]
    FixedLength {
        /// The tag.
        tag: u16,
        /// Its length.
        len: usize,
        /// The required length.
        expected: usize,
    },
    /// A value does not decode as its data type.
    #[error("tag {tag}: {source}")]
    Value {
        /// The tag.
        tag: u16,
        /// What is wrong with the value.
        source: ValueError,
    },
    /// STLVs nest deeper than the fixed bound.
    #[error("STLV nesting deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// A typed value, borrowing from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// Byte.
    Byte(u8),
    /// U16.
    U16(u16),
    /// U32.
    U32(u32),
    /// UnixTime: local wall-clock seconds, not UTC.
    UnixTime(u32),
    /// String: raw CP866 bytes; see [`Value::text`].
    String(&'a [u8]),
    /// ByteArray.
    Bytes(&'a [u8]),
    /// VLN.
    Vln(u64),
    /// FVLN.
    Fvln(Fvln),
    /// STLV: the nested items in wire order.
    Stlv(Vec<Item<'a>>),
    /// A tag the dictionary does not know: raw bytes, passed on untouched.
    Unknown(&'a [u8]),
}

impl Value<'_> {
    /// The text of a String value (CP866 decoded), `None` for other types.
    pub fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::String(bytes) => Some(value::decode_string(bytes)),
            _ => None,
        }
    }

    /// Any integer value widened to u64.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Byte(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) | Value::UnixTime(v) => Some(v.into()),
            Value::Vln(v) => Some(v),
            _ => None,
        }
    }
}

/// One tag and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item<'a> {
    /// The tag.
    pub tag: u16,
    /// Its decoded value.
    pub value: Value<'a>,
}

/// A decoded document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document<'a> {
    /// Form code (the document STLV tag).
    pub form: u16,
    /// The whole document STLV as received, tag and length included (for `rawData`, hashing).
    pub raw: &'a [u8],
    /// Top-level items in wire order.
    pub items: Vec<Item<'a>>,
}

impl<'a> Document<'a> {
    /// Decode a document STLV (e.g. [`super::Container::document`]); it must span all of `raw`.
    pub fn decode(raw: &'a [u8]) -> Result<Self, DocumentError> {
        Self::decode_noting_wide(raw, &mut Vec::new())
    }

    /// [`Document::decode`], also noting in `wide` every VLN/FVLN wider than its tag's table
    /// maximum (yet within the 8 bytes the decoder takes), in wire order, depth first: what ФЛК's
    /// width rules report ([`super::flk::decode_and_check`]), found in the same walk instead of a
    /// second one. (Vec::new does not allocate; nothing is noted in a well-formed document.)
    pub fn decode_noting_wide(
        raw: &'a [u8],
        wide: &mut Vec<WideNumber<'a>>,
    ) -> Result<Self, DocumentError> {
        let stlv = Tlv::read_exact(raw)?;
        let form = tags::form(stlv.tag).ok_or(DocumentError::UnknownForm(stlv.tag))?;
        if stlv.value.len() > usize::from(form.max_len) {
            return Err(DocumentError::TooLong {
                tag: stlv.tag,
                len: stlv.value.len(),
                max: form.max_len.into(),
            });
        }
        Ok(Self {
            form: stlv.tag,
            raw,
            items: decode_level(stlv.value, stlv.tag, 1, wide)?,
        })
    }

    /// The first top-level item with `tag`.
    pub fn get(&self, tag: u16) -> Option<&Value<'a>> {
        find(&self.items, tag)
    }

    /// The ФФД version from tag 1209 (or 1190, 1189 when 1209 is missing).
    pub fn ffd_version(&self) -> Option<FfdVersion> {
        [1209, 1190, 1189]
            .into_iter()
            .find_map(|tag| match self.get(tag) {
                Some(Value::Byte(v)) => FfdVersion::from_tag_value(*v),
                _ => None,
            })
    }

    /// The printed fiscal sign: the big-endian u32 of bytes 2..6 of tag 1077.
    pub fn fiscal_sign(&self) -> Option<u32> {
        match self.get(1077) {
            Some(Value::Bytes(b)) => printed_fiscal_sign(b),
            _ => None,
        }
    }
}

/// The first item with `tag` among `items`.
pub fn find<'v, 'a>(items: &'v [Item<'a>], tag: u16) -> Option<&'v Value<'a>> {
    items.iter().find(|i| i.tag == tag).map(|i| &i.value)
}

/// The printed fiscal sign of a 6-byte ФПД: the big-endian u32 of bytes 2..6.
pub fn printed_fiscal_sign(fpd: &[u8]) -> Option<u32> {
    let tail: &[u8; 4] = fpd.get(2..6)?.try_into().ok()?;
    Some(u32::from_be_bytes(*tail))
}

/// A VLN or FVLN longer than its tag's table maximum but no longer than [`WIRE_NUMBER_MAX`]:
/// it decodes, and ФЛК reports it (`padded_number` / `number_too_large`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WideNumber<'a> {
    /// The tag.
    pub tag: u16,
    /// Its value bytes as received.
    pub value: &'a [u8],
    /// The table's maximum length for the tag.
    pub max: usize,
}

/// Decode one level of TLVs under `parent`, at nesting `depth` (the document is depth 1).
fn decode_level<'a>(
    bytes: &'a [u8],
    parent: u16,
    depth: usize,
    wide: &mut Vec<WideNumber<'a>>,
) -> Result<Vec<Item<'a>>, DocumentError> {
    // A first pass over the headers sizes the Vec exactly (and checks framing once, cheaply).
    let mut count = 0;
    for tlv in Reader::new(bytes) {
        tlv?;
        count += 1;
    }
    let mut items = Vec::with_capacity(count);
    for tlv in Reader::new(bytes) {
        let tlv = tlv?;
        let value = match tags::lookup(parent, tlv.tag) {
            Some(spec) => decode_value(spec, tlv, depth, wide)?,
            None => Value::Unknown(tlv.value),
        };
        items.push(Item {
            tag: tlv.tag,
            value,
        });
    }
    Ok(items)
}

/// The most bytes a value of `spec` may have and still decode. VLN and FVLN decode up to 8 bytes
/// whatever the table's maximum (spec §5: "Decode 0..8 bytes; devices often send a fixed
/// width"): a wider value is a ФЛК matter ([`super::flk`], rules `padded_number` and
/// `number_too_large`), not an undecodable document.
pub fn decode_max(spec: &TagSpec) -> usize {
    match spec.ty {
        DataType::Vln | DataType::Fvln => usize::from(spec.max_len).max(WIRE_NUMBER_MAX),
        _ => usize::from(spec.max_len),
    }
}

/// The widest VLN or FVLN on the wire (u64).
pub const WIRE_NUMBER_MAX: usize = 8;

fn decode_value<'a>(
    spec: &TagSpec,
    tlv: Tlv<'a>,
    depth: usize,
    wide: &mut Vec<WideNumber<'a>>,
) -> Result<Value<'a>, DocumentError> {
    let (tag, v) = (tlv.tag, tlv.value);
    if v.len() > decode_max(spec) {
        return Err(DocumentError::TooLong {
            tag,
            len: v.len(),
            max: decode_max(spec),
        });
    }
    if spec.fixed && v.len() != usize::from(spec.max_len) {
        return Err(DocumentError::FixedLength {
            tag,
            len: v.len(),
            expected: spec.max_len.into(),
        });
    }
    if matches!(spec.ty, DataType::Vln | DataType::Fvln) && v.len() > usize::from(spec.max_len) {
        wide.push(WideNumber {
            tag,
            value: v,
            max: spec.max_len.into(),
        });
    }
    let typed =
        |r: Result<Value<'a>, ValueError>| r.map_err(|source| DocumentError::Value { tag, source });
    Ok(match spec.ty {
        DataType::Byte => typed(value::decode_byte(v).map(Value::Byte))?,
        DataType::U16 => typed(value::decode_u16(v).map(Value::U16))?,
        DataType::U32 => typed(value::decode_u32(v).map(Value::U32))?,
        DataType::UnixTime => typed(value::decode_u32(v).map(Value::UnixTime))?,
        DataType::String => Value::String(v),
        DataType::ByteArray => Value::Bytes(v),
        DataType::Vln => typed(value::decode_vln(v).map(Value::Vln))?,
        DataType::Fvln => typed(value::decode_fvln(v).map(Value::Fvln))?,
        DataType::Stlv => {
            if depth >= MAX_DEPTH {
                return Err(DocumentError::TooDeep);
            }
            Value::Stlv(decode_level(v, tag, depth + 1, wide)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ru::tlv::Writer;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn repeated_nested_and_unknown_tags() {
        let raw = h("0b001000b50404000c000000b504040009000000");
        let doc = Document::decode(&raw).unwrap();
        assert_eq!(doc.form, 11);
        assert_eq!(
            doc.items,
            vec![
                Item {
                    tag: 1205,
                    value: Value::U32(12)
                },
                Item {
                    tag: 1205,
                    value: Value::U32(9)
                }
            ]
        );
        let raw = h("070010002c040c0017040800f70304002a000000");
        let doc = Document::decode(&raw).unwrap();
        let Some(Value::Stlv(msg)) = doc.get(1068) else {
            panic!("1068 is an STLV")
        };
        let Some(Value::Stlv(param)) = find(msg, 1047) else {
            panic!("1047 is an STLV")
        };
        assert_eq!(find(param, 1015), Some(&Value::U32(42)));
        let mut w = Writer::new();
        w.begin(3).unwrap().tlv(9999, &[1, 2]).unwrap();
        let raw = w.finish().unwrap();
        let doc = Document::decode(&raw).unwrap();
        assert_eq!(doc.get(9999), Some(&Value::Unknown(&[1, 2])));
    }

    #[test]
    fn every_error_variant() {
        assert!(matches!(
            Document::decode(&[3, 0, 5, 0, 1]),
            Err(DocumentError::Tlv(TlvError::Overrun { .. }))
        ));
        assert_eq!(
            Document::decode(&[99, 0, 0, 0]),
            Err(DocumentError::UnknownForm(99))
        );
        let doc = |build: &dyn Fn(&mut Writer)| {
            let mut w = Writer::new();
            w.begin(3).unwrap();
            build(&mut w);
            w.finish().unwrap()
        };
        let raw = doc(&|w| {
            w.tlv(1041, &[b'1'; 17]).unwrap();
        });
        assert_eq!(
            Document::decode(&raw),
            Err(DocumentError::TooLong {
                tag: 1041,
                len: 17,
                max: 16
            })
        );
        let raw = doc(&|w| {
            w.tlv(1077, &[0; 5]).unwrap();
        });
        assert_eq!(
            Document::decode(&raw),
            Err(DocumentError::FixedLength {
                tag: 1077,
                len: 5,
                expected: 6
            })
        );
        let raw = doc(&|w| {
            w.tlv(1023, &[]).unwrap();
        });
        assert!(matches!(
            Document::decode(&raw),
            Err(DocumentError::Value { tag: 1023, .. })
        ));
        // MAX_DEPTH STLVs inside the document: one level too many.
        let mut raw = Vec::new();
        for tag in std::iter::repeat_n(1059u16, MAX_DEPTH).chain([3]) {
            let mut wrapped = tag.to_le_bytes().to_vec();
            wrapped.extend_from_slice(&(raw.len() as u16).to_le_bytes());
            wrapped.extend_from_slice(&raw);
            raw = wrapped;
        }
        assert_eq!(Document::decode(&raw), Err(DocumentError::TooDeep));
        let mut big = vec![3, 0, 0, 0];
        big.extend_from_slice(&[0xFF; 8]);
        big[2] = 8;
        assert!(matches!(
            Document::decode(&big),
            Err(DocumentError::Tlv(TlvError::Overrun { .. }))
        ));
    }
}
