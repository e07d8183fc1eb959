//! Where batches go: the tax authority over HTTP(S), or files for air-gapped operators.

use super::{file_sink::FileSink, http_sink::HttpSink, outbox::Batch, send_error::SendError};
use crate::tax_batch::BatchReply;

/// The HTTP destination's TLS settings, named here too because the role builds a [`Destination`]
/// from them.
pub use super::http_sink::TlsFiles;

/// A configured destination.
pub enum Destination {
    /// POST to a URL.
    Http(HttpSink),
    /// Write files under a directory.
    File(FileSink),
}

impl Destination {
    /// Send one batch and wait for the receiver's answer.
    pub async fn send(&self, batch: &Batch) -> Result<BatchReply, SendError> {
        let lines = batch.documents.iter().map(|d| d.line.as_slice());
        let body = crate::tax_batch::compress_lines(lines)
            .map_err(|e| SendError::Transient(format!("compressing: {e}")))?;
        match self {
            Destination::Http(sink) => sink.send(&batch.id, body).await,
            Destination::File(sink) => sink.send(batch, body).await,
        }
    }

    /// A short name for logs and the status command.
    pub fn describe(&self) -> String {
        match self {
            Destination::Http(sink) => crate::url_redact::redacted(sink.url()),
            Destination::File(sink) => format!("file:{}", sink.dir().display()),
        }
    }
}
