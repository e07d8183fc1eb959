//! FNS JSON: the form in which documents go to the tax authority, and back to TLV.
//!
//! `{"<rootName>": {"code": 3, "<field>": …, "fiscalSign": 2853205313, "messageFiscalSign": …,
//! "rawData": "<base64>"}}`. Field names come from [`super::tags`] with the parent as context;
//! a known tag without a name is keyed by its decimal number; a tag unknown to the dictionary is
//! kept, as `"unknownTag<N>": "<hex of its value>"` (N decimal, hex lowercase), so that a device
//! sending tags of a newer ФФД loses nothing. Integers stay integers (money in kopecks, times in
//! local seconds), FVLN becomes a JSON number, byte arrays become base64, a tag that repeats or
//! may repeat becomes an array. Strings are CP866 text; the zero bytes some devices pad every
//! string with are dropped from its end, and the fixed-width ИНН / РН ККТ strings also lose
//! their trailing spaces ([`string_text`]).
//!
//! Derived fields: `code` is the form code; `fiscalSign` is the printed big-endian u32 of
//! bytes 2..6 of tag 1077; `messageFiscalSign` is the integer of the 8-byte ФПС from the
//! container trailer, read big-endian (inferred from the `81 06` prefix; the byte order lives in
//! [`MESSAGE_SIGN_BIG_ENDIAN`] only); `rawData` is base64 of document STLV ‖ ФПС.
//!
//! Round trip: [`to_tlv`] inverts [`to_json`] so that `to_json(decode(to_tlv(x))) == x` for any
//! `x` that `to_json` produced, `rawData` aside (it holds the original bytes, and JSON has no tag
//! order). Two facts of the wire form are not in the JSON and are rebuilt canonically: the tag
//! order (JSON key order), and the first two bytes of 1077, which the printed fiscal sign drops
//! (written as zero).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{Map, Number, Value as Json};

use super::document::{printed_fiscal_sign, Document, Item, Value};
use super::tags::{self, TagSpec};
use super::tlv::{TlvError, Writer};
use super::value::{self, DataType, Fvln, ValueError};

/// Byte order used to show the 8-byte ФПС as an integer (see the module notes).
pub const MESSAGE_SIGN_BIG_ENDIAN: bool = true;
/// Length of the message fiscal sign (ФПС) at the start of the container trailer.
pub const MESSAGE_SIGN_LEN: usize = 8;
/// Tag of the document fiscal sign (ФПД).
const TAG_FISCAL_SIGN: u16 = 1077;

/// Why JSON did not encode to TLV.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// The document is not an object with exactly one known root name.
    #[error("expected {{\"<form name>\": {{…}}}} with a known form name")]
    BadRoot,
    /// `code` disagrees with the root name.
    #[error("code {code} does not match the root form {form}")]
    CodeMismatch {
        /// The `code` field.
        code: u64,
        /// Form code of the root name.
        form: u16,
    },
    /// A key names no tag in its context.
    #[error("unknown field {key:?} under tag {parent}")]
    UnknownKey {
        /// Parent tag (form code or STLV).
        parent: u16,
        /// The key.
        key: String,
    },
    /// A value has the wrong JSON type or range for its tag.
    #[error("field {key:?}: expected {expected}")]
    BadValue {
        /// The key.
        key: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A value does not encode as its data type.
    #[error("field {key:?}: {source}")]
    Value {
        /// The key.
        key: String,
        /// The encoding error.
        source: ValueError,
    },
    /// The TLV does not fit (a value over 65535 bytes, nesting too deep).
    #[error(transparent)]
    Tlv(#[from] TlvError),
}

/// The FNS JSON of `document`; `trailer` is the container trailer (ФПС first), may be empty.
pub fn to_json(document: &Document<'_>, trailer: &[u8]) -> Json {
    let mut fields = level_to_json(&document.items, document.form);
    fields.insert("code".into(), document.form.into());
    let fps = trailer.get(..MESSAGE_SIGN_LEN);
    if let Some(fps) = fps.and_then(|f| <[u8; MESSAGE_SIGN_LEN]>::try_from(f).ok()) {
        let sign = if MESSAGE_SIGN_BIG_ENDIAN {
            u64::from_be_bytes(fps)
        } else {
            u64::from_le_bytes(fps)
        };
        fields.insert("messageFiscalSign".into(), sign.into());
    }
    let mut raw = Vec::with_capacity(document.raw.len() + MESSAGE_SIGN_LEN);
    raw.extend_from_slice(document.raw);
    raw.extend_from_slice(fps.unwrap_or_default());
    fields.insert("rawData".into(), BASE64.encode(raw).into());
    let root = tags::form(document.form).map_or("document", |f| f.name);
    let mut out = Map::new();
    out.insert(root.into(), Json::Object(fields));
    Json::Object(out)
}

fn level_to_json(items: &[Item<'_>], parent: u16) -> Map<String, Json> {
    let mut map = Map::new();
    for (i, item) in items.iter().enumerate() {
        let spec = tags::lookup(parent, item.tag);
        let key = key_for(parent, item.tag);
        if map.contains_key(&key) {
            continue; // already gathered with its first occurrence
        }
        let repeats = items[i + 1..].iter().any(|other| other.tag == item.tag);
        let json = if repeats || spec.is_some_and(|s| s.multi) {
            Json::Array(
                items[i..]
                    .iter()
                    .filter(|other| other.tag == item.tag)
                    .map(|other| value_to_json(spec, &other.value, item.tag))
                    .collect(),
            )
        } else {
            value_to_json(spec, &item.value, item.tag)
        };
        map.insert(key, json);
    }
    map
}

fn key_for(parent: u16, tag: u16) -> String {
    match tags::json_name(parent, tag) {
        Some(name) => name.to_owned(),
        None if tags::lookup(parent, tag).is_none() => unknown_tag_key(tag),
        None => tag.to_string(),
    }
}

/// Prefix of the key of a tag unknown to the dictionary.
pub const UNKNOWN_TAG_PREFIX: &str = "unknownTag";

/// `unknownTag<N>`: the key of tag `tag` unknown to the dictionary.
pub fn unknown_tag_key(tag: u16) -> String {
    format!("{UNKNOWN_TAG_PREFIX}{tag}")
}

/// The JSON text of a string value: CP866 decoded, trailing zero bytes dropped (device padding),
/// and for fixed-width strings (`pad_to` > 0: ИНН, РН ККТ) trailing spaces too.
pub fn string_text<'b>(spec: Option<&TagSpec>, bytes: &'b [u8]) -> std::borrow::Cow<'b, str> {
    let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    let text = value::decode_string(&bytes[..end]);
    if spec.is_some_and(|s| s.pad_to > 0) {
        match text {
            std::borrow::Cow::Borrowed(t) => std::borrow::Cow::Borrowed(t.trim_end_matches(' ')),
            std::borrow::Cow::Owned(t) => t.trim_end_matches(' ').to_owned().into(),
        }
    } else {
        text
    }
}

fn value_to_json(spec: Option<&TagSpec>, value: &Value<'_>, tag: u16) -> Json {
    match value {
        Value::Byte(v) => (*v).into(),
        Value::U16(v) => (*v).into(),
        Value::U32(v) | Value::UnixTime(v) => (*v).into(),
        Value::Vln(v) => (*v).into(),
        Value::Fvln(f) => Number::from_f64(f.to_f64()).map_or(Json::Null, Json::Number),
        Value::String(bytes) => string_text(spec, bytes).into_owned().into(),
        Value::Bytes(bytes) if tag == TAG_FISCAL_SIGN => {
            printed_fiscal_sign(bytes).map_or(Json::Null, Json::from)
        }
        Value::Unknown(bytes) => hex::encode(bytes).into(),
        Value::Bytes(bytes) => BASE64.encode(bytes).into(),
        Value::Stlv(items) => Json::Object(level_to_json(items, tag)),
    }
}

/// What [`to_tlv`] rebuilds from JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The document STLV.
    pub document: Vec<u8>,
    /// The ФПС from `messageFiscalSign`, if present.
    pub message_fiscal_sign: Option<[u8; MESSAGE_SIGN_LEN]>,
}

/// Encode FNS JSON back to a document STLV (see the module notes for what is canonicalised).
pub fn to_tlv(json: &Json) -> Result<Encoded, JsonError> {
    let root = json
        .as_object()
        .filter(|m| m.len() == 1)
        .ok_or(JsonError::BadRoot)?;
    let (name, body) = root.iter().next().ok_or(JsonError::BadRoot)?;
    let form = tags::form_by_name(name).ok_or(JsonError::BadRoot)?;
    let fields = body.as_object().ok_or(JsonError::BadRoot)?;
    let mut message_fiscal_sign = None;
    let mut w = Writer::new();
    w.begin(form.code)?;
    for (key, value) in fields {
        match key.as_str() {
            "code" => {
                let code = value.as_u64();
                if code != Some(form.code.into()) {
                    return Err(JsonError::CodeMismatch {
                        code: code.unwrap_or(u64::MAX),
                        form: form.code,
                    });
                }
            }
            "rawData" => {}
            "messageFiscalSign" => {
                let sign = value
                    .as_u64()
                    .ok_or_else(|| bad(key, "an unsigned integer"))?;
                message_fiscal_sign = Some(if MESSAGE_SIGN_BIG_ENDIAN {
                    sign.to_be_bytes()
                } else {
                    sign.to_le_bytes()
                });
            }
            _ => field_to_tlv(&mut w, form.code, key, value)?,
        }
    }
    Ok(Encoded {
        document: w.finish()?,
        message_fiscal_sign,
    })
}

fn bad(key: &str, expected: &'static str) -> JsonError {
    JsonError::BadValue {
        key: key.to_owned(),
        expected,
    }
}

fn field_to_tlv(w: &mut Writer, parent: u16, key: &str, value: &Json) -> Result<(), JsonError> {
    if let Some(number) = key.strip_prefix(UNKNOWN_TAG_PREFIX) {
        let tag = number
            .parse::<u16>()
            .ok()
            .filter(|tag| tags::lookup(parent, *tag).is_none())
            .ok_or_else(|| JsonError::UnknownKey {
                parent,
                key: key.to_owned(),
            })?;
        let hex_of = |value: &Json| {
            value
                .as_str()
                .and_then(|s| hex::decode(s).ok())
                .ok_or_else(|| bad(key, "hex of an unknown tag's bytes"))
        };
        let values = match value {
            Json::Array(values) => values.iter().collect(),
            one => vec![one],
        };
        for value in values {
            w.tlv(tag, &hex_of(value)?)?;
        }
        return Ok(());
    }
    let tag = tags::tag_for_name(parent, key).ok_or_else(|| JsonError::UnknownKey {
        parent,
        key: key.to_owned(),
    })?;
    let spec = tags::lookup(parent, tag);
    match value {
        Json::Array(values) => values
            .iter()
            .try_for_each(|v| one_to_tlv(w, spec, tag, key, v)),
        _ => one_to_tlv(w, spec, tag, key, value),
    }
}

fn one_to_tlv(
    w: &mut Writer,
    spec: Option<&TagSpec>,
    tag: u16,
    key: &str,
    value: &Json,
) -> Result<(), JsonError> {
    let Some(spec) = spec else {
        let bytes = value
            .as_str()
            .and_then(|s| BASE64.decode(s).ok())
            .ok_or_else(|| bad(key, "base64 of an unknown tag's bytes"))?;
        w.tlv(tag, &bytes)?;
        return Ok(());
    };
    let int = |max: u64| {
        value
            .as_u64()
            .filter(|v| *v <= max)
            .ok_or_else(|| bad(key, "an unsigned integer in range"))
    };
    let wrap = |source| JsonError::Value {
        key: key.to_owned(),
        source,
    };
    match spec.ty {
        DataType::Byte => {
            w.tlv(tag, &[int(u8::MAX.into())? as u8])?;
        }
        DataType::U16 => {
            w.tlv(tag, &(int(u16::MAX.into())? as u16).to_le_bytes())?;
        }
        DataType::U32 | DataType::UnixTime => {
            w.tlv(tag, &(int(u32::MAX.into())? as u32).to_le_bytes())?;
        }
        DataType::Vln => {
            let v = int(u64::MAX)?;
            w.tlv_with(tag, |buf| {
                value::encode_vln(v, spec.max_len.into(), buf).map_err(wrap)
            })?;
        }
        DataType::Fvln => {
            let f = value.as_f64().ok_or_else(|| bad(key, "a number"))?;
            let fvln = Fvln::from_f64(f, value::MAX_FVLN_POINT)
                .ok_or_else(|| bad(key, "a non-negative decimal"))?;
            w.tlv_with(tag, |buf| value::encode_fvln(fvln, buf).map_err(wrap))?;
        }
        DataType::String => {
            let text = value.as_str().ok_or_else(|| bad(key, "a string"))?;
            let pad = usize::from(spec.pad_to);
            w.tlv_with(tag, |buf| {
                let start = buf.len();
                value::encode_string(text, buf).map_err(wrap)?;
                while buf.len() - start < pad {
                    buf.push(b' ');
                }
                Ok::<(), JsonError>(())
            })?;
        }
        DataType::ByteArray if tag == TAG_FISCAL_SIGN => {
            let sign = value
                .as_u64()
                .and_then(|s| u32::try_from(s).ok())
                .ok_or_else(|| bad(key, "the printed fiscal sign, a u32"))?;
            let mut fpd = [0u8; 6];
            fpd[2..].copy_from_slice(&sign.to_be_bytes());
            w.tlv(tag, &fpd)?;
        }
        DataType::ByteArray => {
            let bytes = value
                .as_str()
                .and_then(|s| BASE64.decode(s).ok())
                .ok_or_else(|| bad(key, "a base64 string"))?;
            w.tlv(tag, &bytes)?;
        }
        DataType::Stlv => {
            let fields = value.as_object().ok_or_else(|| bad(key, "an object"))?;
            w.begin(tag)?;
            for (child_key, child) in fields {
                field_to_tlv(w, tag, child_key, child)?;
            }
            w.end()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Found by the `ru_document` fuzz target (2026-12-02): the decoder takes an 8-byte VLN
    /// (cash total 1031 inside 1068) that the table allows 6 bytes, as devices send (a ФЛК
    /// matter); its JSON then cannot be encoded back, and that must be a typed error naming the
    /// field, not a panic.
    #[test]
    fn a_number_wider_than_its_tag_decodes_but_is_refused_when_encoded_back() {
        let raw = hex::decode("060010002c040c000704080003e704002a000700").unwrap();
        let doc = Document::decode(&raw).expect("decodes: width is a ФЛК matter");
        let json = to_json(&doc, &[]);
        match to_tlv(&json) {
            Err(JsonError::Value {
                key,
                source: ValueError::DoesNotFit { max_len: 6, .. },
            }) => assert_eq!(key, "cashTotalSum"),
            other => panic!("expected a DoesNotFit refusal, got {other:?}"),
        }
    }

    #[test]
    fn nested_repeated_and_unknown() {
        let raw = hex::decode("0b001000b50404000c000000b504040009000000").unwrap();
        let doc = Document::decode(&raw).unwrap();
        let json = to_json(&doc, &[]);
        assert_eq!(
            json["fiscalReportCorrection"]["correctionKktReasonCode"],
            json!([12, 9])
        );
        assert_eq!(json["fiscalReportCorrection"]["code"], json!(11));
        let back = to_tlv(&json).unwrap();
        assert_eq!(back.document, raw);
        assert_eq!(back.message_fiscal_sign, None);
    }

    #[test]
    fn unknown_tags_are_kept_as_hex_and_come_back() {
        // Form 11 with a known 1205 and two copies of tag 9999, unknown to the dictionary.
        let raw = hex::decode("0b0013000f2702000001b5040400090000000f27010001").unwrap();
        let doc = Document::decode(&raw).unwrap();
        let json = to_json(&doc, &[]);
        let body = &json["fiscalReportCorrection"];
        assert_eq!(body["unknownTag9999"], json!(["0001", "01"]));
        assert_eq!(
            crate::ru::json_text::to_json_string(&doc, &[]),
            json.to_string()
        );
        let back = to_tlv(&json).unwrap();
        let again = to_json(&Document::decode(&back.document).unwrap(), &[]);
        assert_eq!(
            again["fiscalReportCorrection"]["unknownTag9999"],
            json!(["0001", "01"])
        );
        // A known tag cannot be smuggled in as unknown, and the value must be hex.
        assert!(matches!(
            to_tlv(&json!({"fiscalReportCorrection": {"unknownTag1205": "00"}})),
            Err(JsonError::UnknownKey { .. })
        ));
        assert!(matches!(
            to_tlv(&json!({"fiscalReportCorrection": {"unknownTag9999": "zz"}})),
            Err(JsonError::BadValue { .. })
        ));
    }

    #[test]
    fn strings_lose_trailing_zero_padding_and_decode_as_cp866() {
        // 1048 (user) "Ромашка" in CP866 padded with three zero bytes; 1018 (ИНН) with spaces
        // and zeros.
        let user: Vec<u8> = [0x90, 0xAE, 0xAC, 0xA0, 0xE8, 0xAA, 0xA0, 0, 0, 0].to_vec();
        let inn = b"7704358518 \0".to_vec();
        let mut w = Writer::new();
        w.begin(11).unwrap();
        w.tlv(1048, &user).unwrap();
        w.tlv(1018, &inn).unwrap();
        let raw = w.finish().unwrap();
        let doc = Document::decode(&raw).unwrap();
        let json = to_json(&doc, &[]);
        let body = &json["fiscalReportCorrection"];
        assert_eq!(body["user"], json!("Ромашка"));
        assert_eq!(body["userInn"], json!("7704358518"));
        assert_eq!(
            crate::ru::json_text::to_json_string(&doc, &[]),
            json.to_string()
        );
    }

    #[test]
    fn every_error_variant() {
        assert_eq!(to_tlv(&json!([])), Err(JsonError::BadRoot));
        assert_eq!(to_tlv(&json!({"nope": {}})), Err(JsonError::BadRoot));
        assert_eq!(
            to_tlv(&json!({"receipt": {"code": 4}})),
            Err(JsonError::CodeMismatch { code: 4, form: 3 })
        );
        assert!(matches!(
            to_tlv(&json!({"receipt": {"noSuchField": 1}})),
            Err(JsonError::UnknownKey { parent: 3, .. })
        ));
        assert!(matches!(
            to_tlv(&json!({"receipt": {"operationType": 256}})),
            Err(JsonError::BadValue { .. })
        ));
        assert!(matches!(
            to_tlv(&json!({"receipt": {"totalSum": 281474976710656u64}})),
            Err(JsonError::Value {
                source: ValueError::DoesNotFit { .. },
                ..
            })
        ));
        assert!(matches!(
            to_tlv(&json!({"receipt": {"user": "€"}})),
            Err(JsonError::Value {
                source: ValueError::NotCp866('€'),
                ..
            })
        ));
        let long = "a".repeat(70_000);
        assert!(matches!(
            to_tlv(&json!({"receipt": {"9999": BASE64.encode(long)}})),
            Err(JsonError::Tlv(TlvError::ValueTooLarge { .. }))
        ));
    }
}
