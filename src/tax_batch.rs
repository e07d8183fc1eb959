//! The batch format between the forwarder and the tax authority (or `ofd tax-sink`).
//!
//! Design notes:
//! - A batch is JSON lines, gzip-compressed, one [`BatchLine`] per document, POSTed to
//!   [`BATCHES_PATH`] with its id in the [`BATCH_ID_HEADER`] header. The id is the idempotency key:
//!   the receiver records a batch id once, and a resend of the same id (after a lost response) gets
//!   the stored [`BatchReply`] again instead of a second copy of the documents.
//! - Each line carries a document id (`<dialect>:<doc_key>`, unique per document for ever), so the
//!   receiver can also spot the same document arriving under two different batch ids: that is the
//!   duplicate the forwarder must never cause, and what the sink's `duplicates` counter measures.
//! - The reply is per batch, with the lines the receiver refused and why: a refused document does
//!   not hold back the rest of its batch.
//! - Both sides share this module, so the format is written once; neither role imports the other.

use std::io::{Read, Write};

use flate2::{read::GzDecoder, write::GzEncoder, Compression};
use serde::{Deserialize, Serialize};

/// Where batches are POSTed on the receiver.
pub const BATCHES_PATH: &str = "/v1/batches";
/// The request header that carries the batch id (the idempotency key).
pub const BATCH_ID_HEADER: &str = "x-batch-id";
/// Content type of the decompressed body.
pub const CONTENT_TYPE: &str = "application/x-ndjson";

/// One document in a batch. `D` is how the document is held: a parsed value by default; the
/// forwarder writes it from the stored text and the sink checks it without building a tree
/// ([`serde_json::value::RawValue`]), the same line either way.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BatchLine<D = serde_json::Value> {
    /// Stable document id: `<dialect>:<doc_key>`.
    pub id: String,
    /// `ru` or `kz`.
    pub dialect: String,
    /// When the OFD committed the document (UTC, unix milliseconds).
    pub received_at: i64,
    /// RU: the FNS JSON (`{"<rootName>": {…, "rawData": …}}`); KZ: the ticket or report with the
    /// register's tax number, the fiscal sign the OFD assigned and its times.
    pub document: D,
}

/// Whether the receiver stored a batch now or had stored it before.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BatchStatus {
    /// First time this batch id was seen; its documents are stored.
    Accepted,
    /// The batch id was stored earlier; this is the stored answer again.
    Duplicate,
}

/// A line the receiver refused, with its reason.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RejectedLine {
    /// The [`BatchLine::id`] refused.
    pub id: String,
    /// Why, in words for the operator.
    pub reason: String,
}

/// The receiver's positive answer for a batch. Lines not listed in `rejected` are stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BatchReply {
    /// The batch id this answers.
    pub batch_id: String,
    /// Stored now, or stored before.
    pub status: BatchStatus,
    /// How many lines were stored.
    pub accepted: u64,
    /// Lines refused as invalid.
    pub rejected: Vec<RejectedLine>,
}

/// Why a batch body could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The body is not valid gzip.
    #[error("body is not gzip: {0}")]
    Gzip(std::io::Error),
    /// The decompressed body exceeds the receiver's limit.
    #[error("decompressed body exceeds {limit} bytes")]
    TooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The body is not UTF-8.
    #[error("body is not UTF-8")]
    NotUtf8,
}

/// Serialise one line (without the trailing newline); the batcher uses the length to bound
/// batches by bytes before compressing.
pub fn encode_line<D: Serialize>(line: &BatchLine<D>) -> Vec<u8> {
    // Serialising to a Vec fails only on I/O or a map with non-string keys: none here.
    serde_json::to_vec(line).unwrap_or_default()
}

/// Gzip already-serialised lines into one batch body.
pub fn compress_lines<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    for line in lines {
        encoder.write_all(line)?;
        encoder.write_all(b"\n")?;
    }
    encoder.finish()
}

/// Decompress a batch body into text, refusing more than `limit` bytes of output (a small gzip
/// body can expand without bound).
pub fn decompress(body: &[u8], limit: usize) -> Result<String, DecodeError> {
    let mut out = Vec::new();
    let mut decoder = GzDecoder::new(body).take(limit as u64 + 1);
    decoder.read_to_end(&mut out).map_err(DecodeError::Gzip)?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    String::from_utf8(out).map_err(|_| DecodeError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_through_gzip() {
        let line = BatchLine {
            id: "ru:1/2".into(),
            dialect: "ru".into(),
            received_at: 5,
            document: serde_json::json!({"receipt": {"code": 3}}),
        };
        let encoded = encode_line(&line);
        let body = compress_lines([encoded.as_slice(), encoded.as_slice()]).unwrap();
        let text = decompress(&body, 1 << 20).unwrap();
        let lines: Vec<BatchLine> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines, vec![line.clone(), line]);
    }

    #[test]
    fn decompress_refuses_oversize_and_non_gzip() {
        let big = vec![b'a'; 10_000];
        let body = compress_lines([big.as_slice()]).unwrap();
        assert!(matches!(
            decompress(&body, 100),
            Err(DecodeError::TooLarge { limit: 100 })
        ));
        assert!(matches!(
            decompress(b"plain", 100),
            Err(DecodeError::Gzip(_))
        ));
    }
}
