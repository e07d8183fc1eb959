//! KZ header + body as the ingest server reads them: header, size cap, exact split, then the body
//! as a request and as a response (with required-field checks), and `peek_command`. Never
//! panics; whatever decodes re-encodes to a frame that decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ofd_protocol::kz::{
    decode_request, decode_response, encode_frame, peek_command, split_frame, Header,
    DEFAULT_MAX_FRAME, HEADER_LEN,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = Header::decode(data) {
        assert_eq!(&header.encode()[..], &data[..HEADER_LEN]);
    }
    let Ok((header, body)) = split_frame(data, DEFAULT_MAX_FRAME) else {
        return;
    };
    let _ = peek_command(body);
    if let Ok(request) = decode_request(body) {
        let frame = encode_frame(header, &request).expect("a decoded request re-encodes");
        let (_, again) = split_frame(&frame, u32::MAX).expect("our own frame splits");
        assert_eq!(decode_request(again).expect("our own request decodes"), request);
    }
    if let Ok(response) = decode_response(body) {
        let frame = encode_frame(header, &response).expect("a decoded response re-encodes");
        let (_, again) = split_frame(&frame, u32::MAX).expect("our own frame splits");
        assert_eq!(decode_response(again).expect("our own response decodes"), response);
    }
});
