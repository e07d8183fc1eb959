//! Whole-frame path as the ingest server runs it: frame, cross-checks, document, JSON, and an
//! acknowledgement built from whatever header could be recovered. Never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ofd_protocol::ru::ack::{Ack, ResponseCode};
use ofd_protocol::ru::document::Document;
use ofd_protocol::ru::{check, json, ContainerHeader, Frame, SESSION_HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    match Frame::decode(data) {
        Ok(frame) => {
            assert_eq!(frame.to_bytes().as_deref(), Ok(data));
            let _ = check::cross_check(&frame);
            if let Ok(doc) = Document::decode(frame.container.document) {
                let _ = json::to_json(&doc, frame.container.trailer);
            }
            let ack = Ack::for_request(
                &frame.container.header,
                frame.session.a_version,
                "7704358518",
                0,
                ResponseCode::Accepted,
            );
            let reply = ack.frame().expect("an ack for a decoded header always builds");
            Frame::decode(&reply).expect("our own ack decodes");
        }
        Err(_) => {
            // The code-11 path: only the container header may be recoverable.
            if let Some(body) = data.get(SESSION_HEADER_LEN..) {
                if let Ok(header) = ContainerHeader::decode(body) {
                    let ack = Ack::for_request(
                        &header,
                        ofd_protocol::ru::session::AVersion::V1_05,
                        "7704358518",
                        0,
                        ResponseCode::Malformed,
                    );
                    let reply = ack.frame().expect("a code-11 ack always builds");
                    Frame::decode(&reply).expect("our own ack decodes");
                }
            }
        }
    }
});
