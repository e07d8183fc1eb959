//! Document decoding: never panics, and a decoded document survives JSON and back: the JSON of
//! the re-encoded TLV equals the first JSON (rawData aside). Re-encoding is canonical (U32 as 4
//! bytes, padded ИНН), so it may outgrow a tag's maximum; that one rejection is allowed. A number
//! the decoder took wider than its tag allows (devices pad; a ФЛК matter) is refused by the
//! encoder as `DoesNotFit`; that rejection is allowed too. The direct text writer of the ingest
//! path prints exactly the text of the JSON tree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ofd_protocol::ru::document::{Document, DocumentError};
use ofd_protocol::ru::json::{to_json, to_tlv, JsonError};
use ofd_protocol::ru::json_text::to_json_string;
use ofd_protocol::ru::value::ValueError;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = Document::decode(data) else {
        return;
    };
    let mut first = to_json(&doc, &[]);
    assert_eq!(to_json_string(&doc, &[]), first.to_string());
    let encoded = match to_tlv(&first) {
        Ok(encoded) => encoded,
        Err(JsonError::Value {
            source: ValueError::DoesNotFit { .. },
            ..
        }) => return,
        Err(e) => panic!("JSON produced by to_json does not encode: {e}"),
    };
    match Document::decode(&encoded.document) {
        Ok(again) => {
            let mut second = to_json(&again, &[]);
            strip_raw(&mut first);
            strip_raw(&mut second);
            assert_eq!(first, second);
        }
        Err(DocumentError::TooLong { .. }) => {}
        Err(e) => panic!("re-encoded document does not decode: {e}"),
    }
});

fn strip_raw(json: &mut serde_json::Value) {
    if let Some(root) = json.as_object_mut().and_then(|m| m.values_mut().next()) {
        if let Some(fields) = root.as_object_mut() {
            fields.remove("rawData");
        }
    }
}
