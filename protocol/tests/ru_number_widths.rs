//! Spec §5: VLN and FVLN decode at 0..8 bytes whatever the tag table's maximum ("devices often
//! send a fixed width"; FVLN "trailing zero padding allowed"). Over every VLN/FVLN tag of the
//! dictionary at every width: the padded document decodes to the same value, its FNS JSON equals
//! that of the minimal form (but for `rawData`, which is the bytes themselves), and ФЛК flags
//! exactly the widths above the table's maximum — `padded_number` when the extra bytes are zero,
//! `number_too_large` when the value needs them.

use ofd_protocol::ru::document::{find, Document, Value};
use ofd_protocol::ru::flk::{self, FlkLimits, Rule};
use ofd_protocol::ru::json::to_json;
use ofd_protocol::ru::tags::{self, TagSpec, TAGS};
use ofd_protocol::ru::tlv::Writer;
use ofd_protocol::ru::value::DataType;
use proptest::prelude::*;

/// Far in the future: the date rule never fires.
const NOW: i64 = 4_000_000_000;

/// Every VLN/FVLN tag with a parent it may stand under: the document (form 3) when the
/// dictionary resolves it there to the same spec, else an item (1059).
fn numeric_tags() -> Vec<(&'static TagSpec, Option<u16>)> {
    TAGS.iter()
        .filter(|s| matches!(s.ty, DataType::Vln | DataType::Fvln))
        .filter_map(|spec| {
            if tags::lookup(3, spec.tag) == Some(spec) {
                Some((spec, None))
            } else if tags::lookup(1059, spec.tag) == Some(spec) {
                Some((spec, Some(1059)))
            } else {
                None
            }
        })
        .collect()
}

/// A form-3 document carrying `value` under `tag` (inside a 1059 when `parent` says so).
fn document(tag: u16, parent: Option<u16>, value: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.begin(3).unwrap();
    if let Some(parent) = parent {
        w.begin(parent).unwrap();
    }
    w.tlv(tag, value).unwrap();
    if parent.is_some() {
        w.end().unwrap();
    }
    w.end().unwrap();
    w.finish().unwrap()
}

fn json_without_raw(raw: &[u8]) -> serde_json::Value {
    let doc = Document::decode(raw).expect("decodes");
    let mut json = to_json(&doc, &[]);
    json["receipt"]
        .as_object_mut()
        .expect("receipt object")
        .remove("rawData");
    json
}

fn value_of(raw: &[u8], tag: u16, parent: Option<u16>) -> Value<'_> {
    let doc = Document::decode(raw).expect("decodes");
    let level = match parent {
        Some(p) => match doc.get(p) {
            Some(Value::Stlv(items)) => items.clone(),
            other => panic!("parent {p}: {other:?}"),
        },
        None => doc.items.clone(),
    };
    find(&level, tag).cloned().expect("tag present")
}

fn width_rules(raw: &[u8]) -> Vec<Rule> {
    let violations = flk::check(raw, NOW, &FlkLimits::default());
    // The ingest path finds the widths in the decoder's walk: the same violations, same order.
    if let Ok((_, decoded)) = flk::decode_and_check(raw, NOW, &FlkLimits::default()) {
        assert_eq!(decoded, violations);
    }
    violations
        .into_iter()
        .map(|v| v.rule)
        .filter(|r| matches!(r, Rule::PaddedNumber | Rule::NumberTooLarge))
        .collect()
}

#[test]
fn the_dictionary_has_numeric_tags_to_test() {
    let tags = numeric_tags();
    assert!(tags.len() >= 10, "{}", tags.len());
    assert!(tags.iter().any(|(s, _)| s.tag == 1079));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_numeric_tag_decodes_at_every_width(seed: u64, point in 0u8..=6) {
        for (spec, parent) in numeric_tags() {
            let max = usize::from(spec.max_len);
            let (minimal, prefix) = match spec.ty {
                // A value that fits the table's maximum, in the fewest bytes.
                DataType::Vln => {
                    let v = if max >= 8 { seed } else { seed % (1u64 << (8 * max)) };
                    let len = (64 - v.leading_zeros() as usize).div_ceil(8);
                    (v.to_le_bytes()[..len].to_vec(), 0)
                }
                _ => {
                    let room = max.saturating_sub(1).min(7);
                    let m = if room >= 8 { seed } else { seed % (1u64 << (8 * room)) };
                    let len = (64 - m.leading_zeros() as usize).div_ceil(8).max(1);
                    let mut out = vec![point];
                    out.extend_from_slice(&m.to_le_bytes()[..len]);
                    (out, 1)
                }
            };
            let reference = document(spec.tag, parent, &minimal);
            let want_value = value_of(&reference, spec.tag, parent);
            let want_json = json_without_raw(&reference);
            prop_assert_eq!(width_rules(&reference), vec![]);
            for width in minimal.len().max(prefix)..=8 {
                let mut padded = minimal.clone();
                padded.resize(width, 0);
                let raw = document(spec.tag, parent, &padded);
                prop_assert_eq!(&value_of(&raw, spec.tag, parent), &want_value, "tag {} width {}", spec.tag, width);
                prop_assert_eq!(&json_without_raw(&raw), &want_json, "tag {} width {}", spec.tag, width);
                let want_rules = if width > max { vec![Rule::PaddedNumber] } else { vec![] };
                prop_assert_eq!(width_rules(&raw), want_rules, "tag {} width {}", spec.tag, width);
            }
            // A value that really needs more bytes than the table allows: decoded, and a ФЛК
            // error rather than an undecodable document.
            if max < 8 {
                let mut wide = vec![0u8; 8];
                wide[..prefix].copy_from_slice(&minimal[..prefix]);
                wide[7] = 1;
                let raw = document(spec.tag, parent, &wide);
                prop_assert!(Document::decode(&raw).is_ok());
                prop_assert_eq!(width_rules(&raw), vec![Rule::NumberTooLarge], "tag {}", spec.tag);
            }
            // Nine bytes are no VLN/FVLN at all.
            let raw = document(spec.tag, parent, &[0u8; 9]);
            prop_assert!(Document::decode(&raw).is_err());
        }
    }
}
