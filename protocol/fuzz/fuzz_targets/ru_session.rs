//! Session header decoding: never panics; whatever decodes re-encodes to the same 30 bytes, and
//! `frame_len` agrees with the decoded header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ofd_protocol::ru::session::{frame_len, SessionHeader, MAX_BODY_LEN, SESSION_HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    let decoded = SessionHeader::decode(data);
    let len = frame_len(data);
    if let Ok(header) = decoded {
        assert_eq!(header.encode().as_slice(), &data[..SESSION_HEADER_LEN]);
        assert!(usize::from(header.body_len) <= MAX_BODY_LEN);
        assert_eq!(len, Ok(Some(header.frame_len())));
        let _ = header.crc_matches(&data[SESSION_HEADER_LEN..]);
    } else if data.len() >= SESSION_HEADER_LEN {
        assert!(len.is_err());
    }
});
