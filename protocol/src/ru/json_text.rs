//! FNS JSON written straight to text: the exact string `to_json(document, trailer).to_string()`
//! gives, without building the `serde_json::Value` tree first.
//!
//! Why a second writer: the ingest server stores the FNS JSON of every document it accepts, and
//! building the tree (an owned `String` per key, a `Value` per field, a `BTreeMap` per level) and
//! then printing it was the largest share of the server's CPU after the kernel's. This module
//! serialises the borrowed [`Document`] directly. The tree form ([`super::json::to_json`]) stays
//! the reference — it is what `to_tlv` reads and what tools print — and a property test holds the
//! two byte-for-byte equal.
//!
//! The rules are those of [`super::json`]: a level's keys in byte order (the order of
//! `serde_json::Map`), the first occurrence of a key gathering every item with its tag, and the
//! derived `code`, `messageFiscalSign` and `rawData` replacing any field of the same name.

use std::borrow::Cow;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::document::{printed_fiscal_sign, Document, Item, Value};
use super::json::{to_json, MESSAGE_SIGN_BIG_ENDIAN, MESSAGE_SIGN_LEN};
use super::tags::{self, TagSpec};

/// Tag of the document fiscal sign (ФПД).
const TAG_FISCAL_SIGN: u16 = 1077;

/// Why a stored container has no FNS JSON: it is not a container, or its document does not
/// decode. Neither happens to what the ingest server stored (it decoded both before it
/// acknowledged); either means the row was written by something else or damaged since.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentJsonError {
    /// Header, length, CRC or document bounds of the container.
    #[error(transparent)]
    Container(#[from] super::ContainerError),
    /// The document inside it.
    #[error(transparent)]
    Document(#[from] super::DocumentError),
}

/// The FNS JSON of a whole container (header, document, trailer) as the OFD keeps it: a stored
/// RU document holds only the container, and its JSON is printed from it whenever it is read
/// (cabinet, exports, forwarding), so the same bytes always print the same text. Equal to
/// [`to_json_string`] of the document the ingest server decoded.
pub fn document_json(container: &[u8]) -> Result<String, DocumentJsonError> {
    let container = super::Container::decode(container)?;
    let document = Document::decode(container.document)?;
    Ok(to_json_string(&document, container.trailer))
}

/// The FNS JSON of `document` as text; `trailer` is the container trailer (ФПС first), may be
/// empty. Equal to `to_json(document, trailer).to_string()`.
pub fn to_json_string(document: &Document<'_>, trailer: &[u8]) -> String {
    let root = tags::form(document.form).map_or("document", |f| f.name);
    let view = Root {
        name: root,
        fields: RootFields { document, trailer },
    };
    // Serialising these views cannot fail (string keys, no fallible impl); should serde_json
    // ever say otherwise, the tree form gives the same text.
    serde_json::to_string(&view).unwrap_or_else(|_| to_json(document, trailer).to_string())
}

struct Root<'a> {
    name: &'a str,
    fields: RootFields<'a>,
}

impl Serialize for Root<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.name, &self.fields)?;
        map.end()
    }
}

struct RootFields<'a> {
    document: &'a Document<'a>,
    trailer: &'a [u8],
}

impl Serialize for RootFields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let document = self.document;
        let mut entries = level_entries(&document.items, document.form);
        let mut derived = vec![("code", Field::Integer(u64::from(document.form)))];
        let fps = self.trailer.get(..MESSAGE_SIGN_LEN);
        if let Some(fps) = fps.and_then(|f| <[u8; MESSAGE_SIGN_LEN]>::try_from(f).ok()) {
            let sign = if MESSAGE_SIGN_BIG_ENDIAN {
                u64::from_be_bytes(fps)
            } else {
                u64::from_le_bytes(fps)
            };
            derived.push(("messageFiscalSign", Field::Integer(sign)));
        }
        let mut raw = Vec::with_capacity(document.raw.len() + MESSAGE_SIGN_LEN);
        raw.extend_from_slice(document.raw);
        raw.extend_from_slice(fps.unwrap_or_default());
        derived.push(("rawData", Field::Text(BASE64.encode(raw))));
        for (key, field) in derived {
            entries.retain(|(existing, _)| existing != key);
            entries.push((Cow::Borrowed(key), field));
        }
        write_sorted(serializer, entries)
    }
}

/// One level's fields, keyed, in item order (sorted when written).
fn level_entries<'a>(items: &'a [Item<'a>], parent: u16) -> Vec<(Cow<'static, str>, Field<'a>)> {
    let mut entries: Vec<(Cow<'static, str>, Field<'a>)> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let key = match tags::json_name(parent, item.tag) {
            Some(name) => Cow::Borrowed(name),
            None if tags::lookup(parent, item.tag).is_none() => {
                Cow::Owned(super::json::unknown_tag_key(item.tag))
            }
            None => Cow::Owned(item.tag.to_string()),
        };
        if entries.iter().any(|(existing, _)| *existing == key) {
            continue; // gathered with its first occurrence
        }
        let spec = tags::lookup(parent, item.tag);
        let repeats = items[i + 1..].iter().any(|other| other.tag == item.tag);
        let field = if repeats || spec.is_some_and(|s| s.multi) {
            Field::Array {
                spec,
                tag: item.tag,
                items: &items[i..],
            }
        } else {
            Field::Value {
                spec,
                tag: item.tag,
                value: &item.value,
            }
        };
        entries.push((key, field));
    }
    entries
}

fn write_sorted<S: Serializer>(
    serializer: S,
    mut entries: Vec<(Cow<'_, str>, Field<'_>)>,
) -> Result<S::Ok, S::Error> {
    entries.sort_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes()));
    let mut map = serializer.serialize_map(Some(entries.len()))?;
    for (key, field) in &entries {
        map.serialize_entry(key.as_ref(), field)?;
    }
    map.end()
}

/// What one key of a level holds.
enum Field<'a> {
    /// One tag's value.
    Value {
        spec: Option<&'static TagSpec>,
        tag: u16,
        value: &'a Value<'a>,
    },
    /// Every item of `items` whose tag is `tag`, as an array.
    Array {
        spec: Option<&'static TagSpec>,
        tag: u16,
        items: &'a [Item<'a>],
    },
    /// A derived integer (`code`, `messageFiscalSign`).
    Integer(u64),
    /// A derived string (`rawData`).
    Text(String),
}

impl Serialize for Field<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Value { spec, tag, value } => ValueJson {
                spec: *spec,
                tag: *tag,
                value,
            }
            .serialize(serializer),
            Field::Array { spec, tag, items } => {
                let mut seq = serializer.serialize_seq(None)?;
                for item in items.iter().filter(|item| item.tag == *tag) {
                    seq.serialize_element(&ValueJson {
                        spec: *spec,
                        tag: *tag,
                        value: &item.value,
                    })?;
                }
                seq.end()
            }
            Field::Integer(n) => serializer.serialize_u64(*n),
            Field::Text(text) => serializer.serialize_str(text),
        }
    }
}

struct ValueJson<'a> {
    spec: Option<&'static TagSpec>,
    tag: u16,
    value: &'a Value<'a>,
}

impl Serialize for ValueJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.value {
            Value::Byte(v) => serializer.serialize_u8(*v),
            Value::U16(v) => serializer.serialize_u16(*v),
            Value::U32(v) | Value::UnixTime(v) => serializer.serialize_u32(*v),
            Value::Vln(v) => serializer.serialize_u64(*v),
            Value::Fvln(f) => {
                let x = f.to_f64();
                if x.is_finite() {
                    serializer.serialize_f64(x)
                } else {
                    serializer.serialize_unit()
                }
            }
            Value::String(bytes) => {
                serializer.serialize_str(&super::json::string_text(self.spec, bytes))
            }
            Value::Bytes(bytes) if self.tag == TAG_FISCAL_SIGN => {
                match printed_fiscal_sign(bytes) {
                    Some(sign) => serializer.serialize_u32(sign),
                    None => serializer.serialize_unit(),
                }
            }
            Value::Unknown(bytes) => serializer.serialize_str(&hex::encode(bytes)),
            Value::Bytes(bytes) => serializer.serialize_str(&BASE64.encode(bytes)),
            Value::Stlv(items) => write_sorted(serializer, level_entries(items, self.tag)),
        }
    }
}
