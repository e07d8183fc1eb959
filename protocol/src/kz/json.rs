//! Serde helpers for printing messages as JSON (`ofd decode`, stored document JSON).
//!
//! Every message leaves out its absent optional fields and empty repeated ones
//! (`skip_serializing_if` on each field): the wire format carries no field that was not sent, and
//! printing them all as `null`/`[]` made a stored KZ receipt's JSON ~5 KB against a 0.6 KB frame
//! (most of it nulls), past one SQLite page and most of the KZ JSON cost (benches/README.md,
//! issue 20). A reader sees a missing key where it saw `null` before.

/// Prints a `bytes` field that holds UTF-8 text (e.g. `qr_code`) as a string; invalid UTF-8 is
/// printed lossily so the output stays readable.
pub(crate) fn bytes_as_text<S: serde::Serializer>(
    value: &Option<Vec<u8>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(bytes) => serializer.serialize_some(&String::from_utf8_lossy(bytes)),
        None => serializer.serialize_none(),
    }
}

/// The JSON the OFD keeps for a KZ request frame: its header (never the token, which the header
/// does not serialise) and its decoded request, as `{"header":…,"request":…}`. A stored KZ
/// document holds only the frame; this renders its JSON whenever it is read (cabinet, exports,
/// forwarding), so the same bytes always print the same text. Refuses what the server would
/// not have stored: a frame that does not split or a body that is not a valid request.
pub fn document_json(frame: &[u8]) -> Result<String, super::FrameError> {
    #[derive(serde::Serialize)]
    struct Stored<'a> {
        header: &'a super::Header,
        request: &'a super::Request,
    }
    let (header, body) = super::split_frame(frame, u32::MAX)?;
    let request = super::decode_request(body)?;
    // These derive-only types hold no map with non-string keys and no serialiser that fails,
    // so this cannot fail; if it ever did, the error is printed where the message would be.
    Ok(serde_json::to_string(&Stored {
        header: &header,
        request: &request,
    })
    .unwrap_or_else(|error| format!("{{\"error\":\"{error}\"}}")))
}
