//! JSON → TLV on arbitrary JSON: never panics; whatever encodes is a well-formed TLV.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ofd_protocol::ru::json::to_tlv;
use ofd_protocol::ru::tlv::Tlv;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(encoded) = to_tlv(&json) {
        Tlv::read_exact(&encoded.document).expect("to_tlv writes one well-formed STLV");
    }
});
