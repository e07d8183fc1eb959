//! Serde helpers for printing messages as JSON (`ofd decode`, stored document JSON).

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
