//! Container decoding: never panics; a decoded container re-encodes to the same bytes and its
//! document and trailer tile the body exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ofd_protocol::ru::container::{Container, ContainerHeader, CONTAINER_HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    let _ = ContainerHeader::decode(data);
    if let Ok(container) = Container::decode(data) {
        assert_eq!(
            CONTAINER_HEADER_LEN + container.document.len() + container.trailer.len(),
            data.len()
        );
        assert_eq!(container.to_bytes().as_deref(), Ok(data));
    }
});
