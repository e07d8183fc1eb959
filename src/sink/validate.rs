//! Per-line checks: what the stand-in authority requires of a forwarded document.
//!
//! Deliberately shallow: the sink checks the envelope and the shape each dialect's document must
//! have, not fiscal rules (the OFD already ran those before acknowledging).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::tax_batch::BatchLine;

use super::storage::CheckedLine;

/// Parse and check one line. `Err` means the line is unreadable and has no id to report against.
pub fn check_line(text: &str, reject_matching: Option<&str>) -> Result<CheckedLine, String> {
    let line: BatchLine<&RawValue> =
        serde_json::from_str(text).map_err(|e| format!("line is not a batch line: {e}"))?;
    let rejection = shape_error(&line).or_else(|| {
        reject_matching
            .filter(|pattern| !pattern.is_empty() && text.contains(pattern))
            .map(|pattern| format!("refused by fault injection (matches {pattern:?})"))
    });
    Ok(CheckedLine {
        id: line.id,
        dialect: line.dialect,
        text: text.to_owned(),
        rejection,
    })
}

/// The part of the OFD's KZ wrapper the shape check reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KzWrapper<'a> {
    system_id: Option<u64>,
    #[serde(borrow)]
    message: Option<&'a RawValue>,
}

/// Whether `raw` is a JSON object (a raw value holds no surrounding whitespace).
fn is_object(raw: &RawValue) -> bool {
    raw.get().starts_with('{')
}

/// The document's shape, read one level deep: the sink checks what it relies on without
/// building a tree of every document.
fn shape_error(line: &BatchLine<&RawValue>) -> Option<String> {
    if line.id.is_empty() {
        return Some("empty document id".into());
    }
    match line.dialect.as_str() {
        // FNS JSON: exactly one root (the document's name) holding an object.
        "ru" => match serde_json::from_str::<BTreeMap<String, &RawValue>>(line.document.get()) {
            Ok(root) if root.len() == 1 && root.values().all(|v| is_object(v)) => None,
            _ => Some("RU document must be {\"<rootName>\": {…}}".into()),
        },
        // The OFD's wrapper: the register's system id and the stored message.
        "kz" => match serde_json::from_str::<KzWrapper>(line.document.get()) {
            Ok(KzWrapper {
                system_id: Some(_),
                message: Some(_),
            }) => None,
            _ => Some("KZ document must be {\"systemId\": n, \"message\": …, …}".into()),
        },
        other => Some(format!("unknown dialect {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_shape_and_fault_pattern() {
        let ok =
            r#"{"id":"ru:1/1","dialect":"ru","receivedAt":1,"document":{"receipt":{"code":3}}}"#;
        assert!(check_line(ok, None).unwrap().rejection.is_none());
        assert!(check_line(ok, Some("1/1")).unwrap().rejection.is_some());
        let two_roots =
            r#"{"id":"ru:1/1","dialect":"ru","receivedAt":1,"document":{"a":{},"b":{}}}"#;
        assert!(check_line(two_roots, None).unwrap().rejection.is_some());
        let bad_dialect = r#"{"id":"x","dialect":"xx","receivedAt":1,"document":{"a":1}}"#;
        assert!(check_line(bad_dialect, None).unwrap().rejection.is_some());
        assert!(check_line("{not json", None).is_err());
    }
}
