//! ФЛК (format-logical control): the content rules a well-formed document must also satisfy.
//!
//! Framing, CRC and cross-checks prove the bytes arrived intact; ФЛК asks whether the document
//! makes sense: does it carry every tag its form and ФФД version demand, do the item costs and the
//! payments add up to the total, is its time plausible. A failure is the register's fault and
//! earns reply code 14, but the document is still stored (spec §10), so this module only
//! *reports*: it returns every violation it finds, never an error, and never stops at the first.
//!
//! Design notes:
//!
//! - **Rules are data.** The mandatory-tag tables ([`MANDATORY`]) are rows keyed by ФФД version,
//!   form code and parent tag, each naming the ФФД table it transcribes. They come from a
//!   third-party transcription of the ФФД order (spec §11 #12), so the server starts in
//!   report-only mode; correcting a table is a one-row change.
//! - **Version from tag 1209**, never from the session header (spec §2). A document without 1209
//!   is ФФД 1.0, for which no tables ship: only the arithmetic and the date are checked.
//! - **Only the electronic form counts.** Tags the ФФД requires on paper only (1000 …) are not in
//!   the tables; "conditionally mandatory" tags are not enforced, because their conditions
//!   depend on registration data the protocol crate does not see.
//! - **Money is exact.** Kopecks are integers, so sums must match exactly; only price × quantity
//!   may differ from the item cost by the one kopeck that rounding can produce.
//! - **No clock.** The caller passes `now`; the document time (tag 1012) is local wall-clock
//!   time of the place of settlement, so the limit allows for the largest Russian UTC offset.

use std::fmt;

use super::document::{Document, DocumentError, Item, Value, WIRE_NUMBER_MAX};
use super::tags;
use super::tlv::{Reader, Tlv, TlvError, MAX_DEPTH};
use super::value::{decode_byte, decode_fvln, decode_u32, decode_vln, ValueError};
use super::value::{DataType, Fvln};
use super::FfdVersion;

/// Tag numbers the arithmetic and date rules read.
mod tag {
    pub const DATE_TIME: u16 = 1012;
    pub const TOTAL: u16 = 1020;
    pub const QUANTITY: u16 = 1023;
    pub const CASH: u16 = 1031;
    pub const ITEM_COST: u16 = 1043;
    pub const ITEM: u16 = 1059;
    pub const PRICE: u16 = 1079;
    pub const ELECTRONIC: u16 = 1081;
    pub const FFD_VERSION: u16 = 1209;
    pub const PREPAID: u16 = 1215;
    pub const CREDIT: u16 = 1216;
    pub const OTHER_PAYMENT: u16 = 1217;
    pub const CORRECTION_BASIS: u16 = 1174;
}

/// The payment tags whose sum must equal the total (1020): cash, electronic, prepayment
/// (advance) offset, credit, other consideration.
const PAYMENT_TAGS: [u16; 5] = [
    tag::CASH,
    tag::ELECTRONIC,
    tag::PREPAID,
    tag::CREDIT,
    tag::OTHER_PAYMENT,
];

/// Receipt-like forms: cash receipt (3), correction receipt (31), БСО (4), БСО correction (41).
const RECEIPT_FORMS: [u16; 4] = [3, 31, 4, 41];

/// One row of the mandatory-tag tables: in documents of `forms` under ФФД `version`, every
/// `parent` item (or the document itself when `parent` is `None`) must carry each of `tags`.
#[derive(Debug)]
pub struct MandatoryTags {
    /// The ФФД version the row belongs to.
    pub version: FfdVersion,
    /// Form codes the row applies to.
    pub forms: &'static [u16],
    /// `None`: the document's top level; `Some(t)`: each STLV `t` at the top level.
    pub parent: Option<u16>,
    /// Tags required in the electronic form.
    pub tags: &'static [u16],
    /// The ФФД table this row transcribes.
    pub source: &'static str,
}

const REGISTRATION: &[u16] = &[1, 11];
const OPEN_SHIFT: &[u16] = &[2];
const STATE_REPORT: &[u16] = &[21];
const RECEIPT: &[u16] = &[3, 4];
const CORRECTION: &[u16] = &[31, 41];
const CLOSE_SHIFT: &[u16] = &[5];
const CLOSE_FN: &[u16] = &[6];

/// The mandatory tags of ФФД 1.05, 1.1 and 1.2 (electronic form), transcribed from the tables of
/// the ФФД order as published in coop-fd's `fiscal-data` crate. Unverified against the order.
pub const MANDATORY: &[MandatoryTags] = &[
    // ФФД 1.05
    MandatoryTags {
        version: FfdVersion::V1_05,
        forms: REGISTRATION,
        parent: None,
        tags: &[
            1209, 1048, 1018, 1012, 1037, 1002, 1221, 1110, 1056, 1001, 1108, 1013, 1021, 1009,
            1187, 1188, 1189, 1040, 1041, 1077,
        ],
        source: "ФФД 1.05 table 15",
    },
    MandatoryTags {
        version: FfdVersion::V1_05,
        forms: OPEN_SHIFT,
        parent: None,
        tags: &[1209, 1018, 1012, 1038, 1037, 1188, 1189, 1040, 1041, 1077],
        source: "ФФД 1.05 table 18",
    },
    MandatoryTags {
        version: FfdVersion::V1_05,
        forms: STATE_REPORT,
        parent: None,
        tags: &[1209, 1018, 1012, 1037, 1040, 1041, 1077],
        source: "ФФД 1.05 table 19",
    },
    MandatoryTags {
        version: FfdVersion::V1_05,
        forms: RECEIPT,
        parent: None,
        tags: &[
            1209, 1042, 1012, 1038, 1054, 1037, 1059, 1020, 1040, 1041, 1077,
        ],
        source: "ФФД 1.05 table 20",
    },
    MandatoryTags {
        version: FfdVersion::V1_05,
        forms: &RECEIPT_FORMS,
        parent: Some(tag::ITEM),
        tags: &[1030, 1079, 1043],
        source: "ФФД 1.05 table 21",
    },
    MandatoryTags {
        version: FfdVersion::V1_05,
        forms: CORRECTION,
        parent: None,
        tags: &[
            1209, 1042, 1012, 1038, 1054, 1037, 1174, 1020, 1040, 1041, 1077,
        ],
        source: "ФФД 1.05 table 27",
    },
    MandatoryTags {
        version: FfdVersion::V1_05,
        forms: CORRECTION,
        parent: Some(tag::CORRECTION_BASIS),
        tags: &[1179],
        source: "ФФД 1.05 table 29",
    },
    MandatoryTags {
        version: FfdVersion::V1_05,
        forms: CLOSE_SHIFT,
        parent: None,
        tags: &[1209, 1018, 1012, 1038, 1037, 1118, 1111, 1040, 1041, 1077],
        source: "ФФД 1.05 table 30",
    },
    MandatoryTags {
        version: FfdVersion::V1_05,
        forms: CLOSE_FN,
        parent: None,
        tags: &[1209, 1048, 1018, 1012, 1038, 1037, 1040, 1041, 1077],
        source: "ФФД 1.05 table 31",
    },
    // ФФД 1.1
    MandatoryTags {
        version: FfdVersion::V1_1,
        forms: REGISTRATION,
        parent: None,
        tags: &[
            1209, 1048, 1018, 1012, 1037, 1002, 1221, 1110, 1056, 1001, 1108, 1207, 1193, 1126,
            1013, 1021, 1009, 1187, 1188, 1189, 1190, 1213, 1040, 1041, 1077,
        ],
        source: "ФФД 1.1 table 49",
    },
    MandatoryTags {
        version: FfdVersion::V1_1,
        forms: OPEN_SHIFT,
        parent: None,
        tags: &[1209, 1018, 1012, 1038, 1037, 1188, 1189, 1040, 1041, 1077],
        source: "ФФД 1.1 table 56",
    },
    MandatoryTags {
        version: FfdVersion::V1_1,
        forms: STATE_REPORT,
        parent: None,
        tags: &[1209, 1018, 1012, 1037, 1157, 1040, 1041, 1077],
        source: "ФФД 1.1 table 57",
    },
    MandatoryTags {
        version: FfdVersion::V1_1,
        forms: RECEIPT,
        parent: None,
        tags: &[
            1209, 1042, 1012, 1038, 1054, 1037, 1059, 1020, 1040, 1041, 1077,
        ],
        source: "ФФД 1.1 table 58",
    },
    MandatoryTags {
        version: FfdVersion::V1_1,
        forms: &RECEIPT_FORMS,
        parent: Some(tag::ITEM),
        tags: &[1030, 1079, 1023, 1043],
        source: "ФФД 1.1 table 59",
    },
    MandatoryTags {
        version: FfdVersion::V1_1,
        forms: CORRECTION,
        parent: None,
        tags: &[
            1209, 1042, 1012, 1038, 1054, 1037, 1174, 1059, 1020, 1040, 1041, 1077,
        ],
        source: "ФФД 1.1 table 65",
    },
    MandatoryTags {
        version: FfdVersion::V1_1,
        forms: CLOSE_SHIFT,
        parent: None,
        tags: &[
            1209, 1018, 1012, 1038, 1037, 1118, 1111, 1194, 1157, 1213, 1040, 1041, 1077,
        ],
        source: "ФФД 1.1 table 68",
    },
    MandatoryTags {
        version: FfdVersion::V1_1,
        forms: CLOSE_FN,
        parent: None,
        tags: &[1209, 1048, 1018, 1012, 1038, 1037, 1157, 1040, 1041, 1077],
        source: "ФФД 1.1 table 69",
    },
    // ФФД 1.2
    MandatoryTags {
        version: FfdVersion::V1_2,
        forms: REGISTRATION,
        parent: None,
        tags: &[
            1209, 1048, 1018, 1012, 1037, 1002, 1056, 1001, 1290, 1013, 1021, 1009, 1187, 1188,
            1189, 1190, 1213, 1040, 1041, 1077,
        ],
        source: "ФФД 1.2 table 87",
    },
    MandatoryTags {
        version: FfdVersion::V1_2,
        forms: &[11],
        parent: None,
        tags: &[1205],
        source: "ФФД 1.2 table 88",
    },
    MandatoryTags {
        version: FfdVersion::V1_2,
        forms: OPEN_SHIFT,
        parent: None,
        tags: &[1209, 1018, 1012, 1038, 1037, 1188, 1189, 1040, 1041, 1077],
        source: "ФФД 1.2 table 94",
    },
    MandatoryTags {
        version: FfdVersion::V1_2,
        forms: STATE_REPORT,
        parent: None,
        tags: &[1209, 1018, 1012, 1213, 1037, 1157, 1040, 1041, 1077],
        source: "ФФД 1.2 table 95",
    },
    MandatoryTags {
        version: FfdVersion::V1_2,
        forms: RECEIPT,
        parent: None,
        tags: &[
            1209, 1042, 1012, 1038, 1054, 1037, 1009, 1187, 1059, 1020, 1040, 1041, 1077,
        ],
        source: "ФФД 1.2 table 96",
    },
    MandatoryTags {
        version: FfdVersion::V1_2,
        forms: &RECEIPT_FORMS,
        parent: Some(tag::ITEM),
        tags: &[1079, 1023, 1043],
        source: "ФФД 1.2 table 97",
    },
    MandatoryTags {
        version: FfdVersion::V1_2,
        forms: CORRECTION,
        parent: None,
        tags: &[
            1209, 1042, 1012, 1038, 1054, 1037, 1174, 1009, 1187, 1059, 1020, 1040, 1041, 1077,
        ],
        source: "ФФД 1.2 table 120",
    },
    MandatoryTags {
        version: FfdVersion::V1_2,
        forms: CLOSE_SHIFT,
        parent: None,
        tags: &[
            1209, 1018, 1012, 1038, 1037, 1118, 1111, 1194, 1157, 1213, 1040, 1041, 1077,
        ],
        source: "ФФД 1.2 table 123",
    },
    MandatoryTags {
        version: FfdVersion::V1_2,
        forms: CLOSE_FN,
        parent: None,
        tags: &[
            1209, 1048, 1018, 1009, 1187, 1012, 1038, 1037, 1157, 1040, 1041, 1077,
        ],
        source: "ФФД 1.2 table 124",
    },
];

/// The largest UTC offset of a place of settlement in Russia (Kamchatka, UTC+12), seconds.
pub const MAX_LOCAL_OFFSET_SECS: i64 = 12 * 3600;

/// Tunable limits of the date rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlkLimits {
    /// How far a register's clock may run ahead before its document time counts as "far
    /// future", on top of [`MAX_LOCAL_OFFSET_SECS`]. Default one day.
    pub clock_skew_secs: i64,
}

impl Default for FlkLimits {
    fn default() -> Self {
        Self {
            clock_skew_secs: 24 * 3600,
        }
    }
}

/// The rule a violation breaks; [`Rule::id`] is its stable name for storage and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Rule {
    /// The document is not one well-formed STLV (normally caught before ФЛК).
    MalformedTlv,
    /// A value the rules read does not decode as its type.
    BadValue,
    /// Tag 1209 holds a value that is no known ФФД version.
    UnknownVersion,
    /// A tag the form and version require is missing from the document.
    MandatoryTag,
    /// A tag required inside an item (1059) or another nested STLV is missing there.
    MandatoryNestedTag,
    /// The item costs (1043) do not add up to the total (1020).
    ItemsTotal,
    /// The payments (1031, 1081, 1215, 1216, 1217) do not add up to the total (1020).
    PaymentsTotal,
    /// An item's price (1079) × quantity (1023) is more than a kopeck away from its cost (1043).
    ItemCost,
    /// The document time (1012) is too far in the future.
    FutureDate,
    /// A VLN/FVLN wider than its tag's maximum, the extra high bytes all zero (a fixed-width
    /// device): the value is fine, the encoding is not minimal.
    PaddedNumber,
    /// A VLN/FVLN whose value really needs more bytes than its tag's maximum.
    NumberTooLarge,
}

impl Rule {
    /// Stable snake-case name (`"mandatory_tag"`, `"items_total"` …).
    pub fn id(self) -> &'static str {
        match self {
            Rule::MalformedTlv => "malformed_tlv",
            Rule::BadValue => "bad_value",
            Rule::UnknownVersion => "unknown_version",
            Rule::MandatoryTag => "mandatory_tag",
            Rule::MandatoryNestedTag => "mandatory_nested_tag",
            Rule::ItemsTotal => "items_total",
            Rule::PaymentsTotal => "payments_total",
            Rule::ItemCost => "item_cost",
            Rule::FutureDate => "future_date",
            Rule::PaddedNumber => "padded_number",
            Rule::NumberTooLarge => "number_too_large",
        }
    }
}

/// One failed rule: which rule, the tag it concerns, and a sentence for the operator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// The rule broken.
    pub rule: Rule,
    /// The tag concerned, when there is one.
    pub tag: Option<u16>,
    /// Human-readable detail.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tag {
            Some(tag) => write!(f, "{} (tag {tag}): {}", self.rule.id(), self.message),
            None => write!(f, "{}: {}", self.rule.id(), self.message),
        }
    }
}

impl Violation {
    fn new(rule: Rule, tag: Option<u16>, message: String) -> Self {
        Self { rule, tag, message }
    }
}

/// Run every ФЛК rule over `document` (the document STLV: form-code tag, length, nested TLVs).
/// `now_utc` is the current time in Unix seconds (UTC). Returns the violations in a stable
/// order; an empty list means the document passes. Works on bytes that do not decode as a
/// document too; the ingest path, which needs the decoded document anyway, uses
/// [`decode_and_check`] and walks the bytes once.
pub fn check(document: &[u8], now_utc: i64, limits: &FlkLimits) -> Vec<Violation> {
    let mut out = Vec::new();
    let doc = match Tlv::read_exact(document) {
        Ok(doc) => doc,
        Err(e) => {
            out.push(malformed(None, e));
            return out;
        }
    };
    let top: Vec<Field<'_, '_>> = match doc.children().map(|t| t.map(Field::Tlv)).collect() {
        Ok(top) => top,
        Err(e) => {
            out.push(malformed(Some(doc.tag), e));
            return out;
        }
    };
    check_fields(doc.tag, &top, now_utc, limits, &mut out);
    if let Ok(tlvs) = doc.children().collect::<Result<Vec<_>, _>>() {
        check_number_widths(doc.tag, &tlvs, 1, &mut out);
    }
    out
}

/// Decode `raw` as a document ([`Document::decode`]) and run every ФЛК rule over it in the same
/// pass: the rules read the decoded values, and the width rules take the numbers the decoder
/// noted ([`Document::decode_noting_wide`]). For a document that decodes, the violations are
/// exactly those of [`check`], in the same order (`tests::decoded_and_raw_checks_agree`).
pub fn decode_and_check<'a>(
    raw: &'a [u8],
    now_utc: i64,
    limits: &FlkLimits,
) -> Result<(Document<'a>, Vec<Violation>), DocumentError> {
    let mut wide = Vec::new();
    let document = Document::decode_noting_wide(raw, &mut wide)?;
    let mut out = Vec::new();
    let top: Vec<Field<'_, 'a>> = document.items.iter().map(Field::Item).collect();
    check_fields(document.form, &top, now_utc, limits, &mut out);
    out.extend(
        wide.iter()
            .map(|number| width_violation(number.tag, number.value, number.max)),
    );
    Ok((document, out))
}

/// The rules other than the number widths, over the document's top-level fields.
fn check_fields(
    form: u16,
    top: &[Field<'_, '_>],
    now_utc: i64,
    limits: &FlkLimits,
    out: &mut Vec<Violation>,
) {
    let version = ffd_version(top, out);
    if let Some(version) = version {
        check_mandatory(form, version, top, out);
    }
    if RECEIPT_FORMS.contains(&form) {
        check_receipt_sums(top, out);
    }
    check_date(top, now_utc, limits, out);
}

/// One tag and its value as the rules read it: straight from the bytes ([`check`]) or from the
/// decoded document ([`decode_and_check`]). A decoded value of the type a rule reads is the value
/// that rule would decode from the bytes (same decoder functions); a tag the dictionary does not
/// know there is still raw bytes and is decoded here as before. The dictionary types every tag
/// the rules read as the rule does (`tests::the_dictionary_types_rule_tags_as_the_rules_read_them`),
/// so the "other type" arms below are never taken.
#[derive(Debug, Clone, Copy)]
enum Field<'v, 'a> {
    Tlv(Tlv<'a>),
    Item(&'v Item<'a>),
}

impl<'v, 'a> Field<'v, 'a> {
    fn tag(&self) -> u16 {
        match self {
            Field::Tlv(tlv) => tlv.tag,
            Field::Item(item) => item.tag,
        }
    }

    /// The bytes of a value the decoder left as bytes.
    fn bytes(&self) -> Option<&'a [u8]> {
        match *self {
            Field::Tlv(tlv) => Some(tlv.value),
            Field::Item(Item {
                value: Value::Unknown(b) | Value::String(b) | Value::Bytes(b),
                ..
            }) => Some(b),
            Field::Item(_) => None,
        }
    }

    fn byte(&self) -> Result<u8, ValueError> {
        match (self.bytes(), self) {
            (Some(bytes), _) => decode_byte(bytes),
            (
                None,
                Field::Item(Item {
                    value: Value::Byte(v),
                    ..
                }),
            ) => Ok(*v),
            _ => Err(other_type(DataType::Byte)),
        }
    }

    fn u32(&self) -> Result<u32, ValueError> {
        match (self.bytes(), self) {
            (Some(bytes), _) => decode_u32(bytes),
            (
                None,
                Field::Item(Item {
                    value: Value::U32(v) | Value::UnixTime(v),
                    ..
                }),
            ) => Ok(*v),
            _ => Err(other_type(DataType::U32)),
        }
    }

    fn vln(&self) -> Result<u64, ValueError> {
        match (self.bytes(), self) {
            (Some(bytes), _) => decode_vln(bytes),
            (
                None,
                Field::Item(Item {
                    value: Value::Vln(v),
                    ..
                }),
            ) => Ok(*v),
            _ => Err(other_type(DataType::Vln)),
        }
    }

    fn fvln(&self) -> Result<Fvln, ValueError> {
        match (self.bytes(), self) {
            (Some(bytes), _) => decode_fvln(bytes),
            (
                None,
                Field::Item(Item {
                    value: Value::Fvln(v),
                    ..
                }),
            ) => Ok(*v),
            _ => Err(other_type(DataType::Fvln)),
        }
    }

    /// The nested fields of an STLV.
    fn children(&self) -> Result<Vec<Field<'v, 'a>>, TlvError> {
        match (self.bytes(), self) {
            (Some(bytes), _) => Reader::new(bytes).map(|t| t.map(Field::Tlv)).collect(),
            (
                None,
                Field::Item(Item {
                    value: Value::Stlv(items),
                    ..
                }),
            ) => Ok(items.iter().map(Field::Item).collect()),
            _ => Ok(Vec::new()),
        }
    }
}

/// A decoded value of another type than a rule reads (unreachable with the shipped dictionary).
fn other_type(ty: DataType) -> ValueError {
    ValueError::BadLength { ty, len: 0 }
}

/// Every VLN/FVLN, at any depth, against its tag's maximum width: wider with zero high bytes is
/// [`Rule::PaddedNumber`], wider with a value that needs the bytes is [`Rule::NumberTooLarge`].
/// (The decoder takes both, up to 8 bytes.)
fn check_number_widths(parent: u16, tlvs: &[Tlv<'_>], depth: usize, out: &mut Vec<Violation>) {
    for tlv in tlvs {
        let Some(spec) = tags::lookup(parent, tlv.tag) else {
            continue;
        };
        let max = usize::from(spec.max_len);
        match spec.ty {
            // Above 8 bytes it is no number at all: the decoder refuses the document.
            DataType::Vln | DataType::Fvln
                if tlv.value.len() > max && tlv.value.len() <= WIRE_NUMBER_MAX =>
            {
                out.push(width_violation(tlv.tag, tlv.value, max));
            }
            DataType::Stlv if depth < MAX_DEPTH => {
                if let Ok(children) = tlv.children().collect::<Result<Vec<_>, _>>() {
                    check_number_widths(tlv.tag, &children, depth + 1, out);
                }
            }
            _ => {}
        }
    }
}

/// The violation of a number `value` of `tag` wider than its maximum `max`.
fn width_violation(tag: u16, value: &[u8], max: usize) -> Violation {
    let extra = &value[max..];
    let (rule, what) = if extra.iter().all(|b| *b == 0) {
        (Rule::PaddedNumber, "zero-padded")
    } else {
        (Rule::NumberTooLarge, "a value that does not fit")
    };
    Violation::new(
        rule,
        Some(tag),
        format!("tag {tag}: {} bytes, {what} (maximum {max})", value.len()),
    )
}

fn malformed(tag: Option<u16>, error: TlvError) -> Violation {
    Violation::new(Rule::MalformedTlv, tag, error.to_string())
}

fn bad_value(tag: u16, error: ValueError) -> Violation {
    Violation::new(Rule::BadValue, Some(tag), error.to_string())
}

/// The first top-level field with `tag`.
fn find<'v, 'a>(fields: &[Field<'v, 'a>], tag: u16) -> Option<Field<'v, 'a>> {
    fields.iter().find(|t| t.tag() == tag).copied()
}

/// The ФФД version from 1209; `None` when absent (ФФД 1.0) or unknown (reported).
fn ffd_version(top: &[Field<'_, '_>], out: &mut Vec<Violation>) -> Option<FfdVersion> {
    let field = find(top, tag::FFD_VERSION)?;
    let value = match field.byte() {
        Ok(value) => value,
        Err(e) => {
            out.push(bad_value(tag::FFD_VERSION, e));
            return None;
        }
    };
    let version = FfdVersion::from_tag_value(value);
    if version.is_none() {
        out.push(Violation::new(
            Rule::UnknownVersion,
            Some(tag::FFD_VERSION),
            format!("tag 1209 = {value} is no known ФФД version; mandatory tags not checked"),
        ));
    }
    version
}

fn check_mandatory(
    form: u16,
    version: FfdVersion,
    top: &[Field<'_, '_>],
    out: &mut Vec<Violation>,
) {
    let rows = MANDATORY
        .iter()
        .filter(|row| row.version == version && row.forms.contains(&form));
    for row in rows {
        match row.parent {
            None => {
                for &required in row.tags {
                    if find(top, required).is_none() {
                        out.push(Violation::new(
                            Rule::MandatoryTag,
                            Some(required),
                            format!("form {form} lacks tag {required} ({})", row.source),
                        ));
                    }
                }
            }
            Some(parent) => {
                let nested = top.iter().filter(|t| t.tag() == parent);
                for (index, item) in nested.enumerate() {
                    let children = match item.children() {
                        Ok(children) => children,
                        Err(e) => {
                            out.push(malformed(Some(parent), e));
                            continue;
                        }
                    };
                    for &required in row.tags {
                        if find(&children, required).is_none() {
                            out.push(Violation::new(
                                Rule::MandatoryNestedTag,
                                Some(required),
                                format!(
                                    "tag {parent} #{} lacks tag {required} ({})",
                                    index + 1,
                                    row.source
                                ),
                            ));
                        }
                    }
                }
            }
        }
    }
}

/// A VLN money value of tag `tag` in `fields`; `Err(())` when it does not decode (reported).
fn money(fields: &[Field<'_, '_>], tag: u16, out: &mut Vec<Violation>) -> Result<Option<u64>, ()> {
    match find(fields, tag).map(|t| t.vln()).transpose() {
        Ok(value) => Ok(value),
        Err(e) => {
            out.push(bad_value(tag, e));
            Err(())
        }
    }
}

/// Items add up to the total, payments add up to the total, each item's price × quantity
/// matches its cost. A rule whose inputs are missing is skipped: the mandatory-tag rules
/// report absences, and a sum over incomplete data would only repeat them.
fn check_receipt_sums(top: &[Field<'_, '_>], out: &mut Vec<Violation>) {
    let Ok(total) = money(top, tag::TOTAL, out) else {
        return;
    };

    let mut items_sum: u128 = 0;
    let mut items_complete = true;
    let mut item_count = 0usize;
    for (index, item) in top.iter().filter(|t| t.tag() == tag::ITEM).enumerate() {
        item_count += 1;
        let Ok(children) = item.children() else {
            // Reported by the mandatory-tag rules when a table covers this version.
            items_complete = false;
            continue;
        };
        match money(&children, tag::ITEM_COST, out) {
            Ok(Some(cost)) => {
                items_sum += u128::from(cost);
                check_item_cost(index + 1, &children, cost, out);
            }
            _ => items_complete = false,
        }
    }
    if let Some(total) = total {
        if item_count > 0 && items_complete && items_sum != u128::from(total) {
            out.push(Violation::new(
                Rule::ItemsTotal,
                Some(tag::TOTAL),
                format!("item costs (1043) add up to {items_sum}, total (1020) is {total}"),
            ));
        }
        check_payments(top, total, out);
    }
}

fn check_payments(top: &[Field<'_, '_>], total: u64, out: &mut Vec<Violation>) {
    let mut paid: u128 = 0;
    let mut any = false;
    for payment in PAYMENT_TAGS {
        for field in top.iter().filter(|t| t.tag() == payment) {
            match field.vln() {
                Ok(sum) => {
                    paid += u128::from(sum);
                    any = true;
                }
                Err(e) => {
                    out.push(bad_value(payment, e));
                    return;
                }
            }
        }
    }
    if any && paid != u128::from(total) {
        out.push(Violation::new(
            Rule::PaymentsTotal,
            Some(tag::TOTAL),
            format!(
                "payments (1031+1081+1215+1216+1217) add up to {paid}, total (1020) is {total}"
            ),
        ));
    }
}

/// `|price × quantity − cost| ≤ 1 kopeck`, in exact integer arithmetic: with quantity
/// `mantissa / 10^point`, compare `price × mantissa` with `cost × 10^point`.
fn check_item_cost(number: usize, item: &[Field<'_, '_>], cost: u64, out: &mut Vec<Violation>) {
    let (Some(price), Some(quantity)) = (find(item, tag::PRICE), find(item, tag::QUANTITY)) else {
        return;
    };
    let price = match price.vln() {
        Ok(price) => price,
        Err(e) => return out.push(bad_value(tag::PRICE, e)),
    };
    let quantity = match quantity.fvln() {
        Ok(quantity) => quantity,
        Err(e) => return out.push(bad_value(tag::QUANTITY, e)),
    };
    let scale = 10u128.pow(u32::from(quantity.point));
    let product = u128::from(price) * u128::from(quantity.mantissa);
    let expected = u128::from(cost) * scale;
    if product.abs_diff(expected) > scale {
        out.push(Violation::new(
            Rule::ItemCost,
            Some(tag::ITEM_COST),
            format!(
                "item #{number}: price {price} × quantity {quantity} is not cost {cost} \
                 within one kopeck"
            ),
        ));
    }
}

fn check_date(top: &[Field<'_, '_>], now_utc: i64, limits: &FlkLimits, out: &mut Vec<Violation>) {
    let Some(field) = find(top, tag::DATE_TIME) else {
        return;
    };
    let time = match field.u32() {
        Ok(time) => i64::from(time),
        Err(e) => return out.push(bad_value(tag::DATE_TIME, e)),
    };
    let latest = now_utc
        .saturating_add(MAX_LOCAL_OFFSET_SECS)
        .saturating_add(limits.clock_skew_secs);
    if time > latest {
        out.push(Violation::new(
            Rule::FutureDate,
            Some(tag::DATE_TIME),
            format!(
                "document time {time} is {}s ahead of now ({now_utc}, UTC) — more than the \
                 largest local offset plus {}s clock skew",
                time - now_utc,
                limits.clock_skew_secs
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_names_a_form_and_tags_and_tables_have_no_duplicates() {
        for row in MANDATORY {
            assert!(
                !row.forms.is_empty() && !row.tags.is_empty(),
                "{}",
                row.source
            );
            let mut tags = row.tags.to_vec();
            tags.sort_unstable();
            tags.dedup();
            assert_eq!(
                tags.len(),
                row.tags.len(),
                "duplicate tag in {}",
                row.source
            );
        }
    }

    /// What keeps [`decode_and_check`] equal to [`check`]: wherever the dictionary types a tag
    /// the rules read, it is the type the rule decodes (or the tag is unknown there and stays
    /// raw bytes), so no rule meets a decoded value of another type.
    #[test]
    fn the_dictionary_types_rule_tags_as_the_rules_read_them() {
        let numbers = [DataType::Vln];
        let top: Vec<(u16, &[DataType])> = [
            (tag::FFD_VERSION, &[DataType::Byte][..]),
            (tag::TOTAL, &numbers[..]),
            (tag::DATE_TIME, &[DataType::U32, DataType::UnixTime][..]),
        ]
        .into_iter()
        .chain(PAYMENT_TAGS.iter().map(|&t| (t, &numbers[..])))
        .chain(
            MANDATORY
                .iter()
                .filter_map(|row| row.parent)
                .chain([tag::ITEM])
                .map(|t| (t, &[DataType::Stlv][..])),
        )
        .collect();
        for form in tags::FORMS {
            for &(t, types) in &top {
                if let Some(spec) = tags::lookup(form.code, t) {
                    assert!(
                        types.contains(&spec.ty),
                        "form {} tag {t}: {:?}",
                        form.code,
                        spec.ty
                    );
                }
            }
        }
        for (t, ty) in [
            (tag::ITEM_COST, DataType::Vln),
            (tag::PRICE, DataType::Vln),
            (tag::QUANTITY, DataType::Fvln),
        ] {
            if let Some(spec) = tags::lookup(tag::ITEM, t) {
                assert_eq!(spec.ty, ty, "tag {t} in 1059");
            }
        }
    }

    #[test]
    fn every_fiscal_form_has_a_document_table_in_every_version() {
        for version in [FfdVersion::V1_05, FfdVersion::V1_1, FfdVersion::V1_2] {
            for form in [1u16, 11, 2, 21, 3, 31, 4, 41, 5, 6] {
                assert!(
                    MANDATORY.iter().any(|row| row.version == version
                        && row.parent.is_none()
                        && row.forms.contains(&form)
                        && row.tags.contains(&1077)),
                    "form {form} in {version:?}"
                );
            }
        }
    }
}
