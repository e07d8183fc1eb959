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
