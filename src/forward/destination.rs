//! Where batches go: the tax authority over HTTP(S), or files for air-gapped operators.

use std::path::PathBuf;

use super::{file_sink::FileSink, http_sink::HttpSink, outbox::Batch};
use crate::tax_batch::BatchReply;

/// Why a send did not get a positive answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// Worth retrying as is: connection refused or reset, timeout, 5xx, 408/429, a lost or
    /// garbled answer.
    #[error("transient: {0}")]
    Transient(String),
    /// The receiver refused the batch as a whole (4xx); retrying the same bytes will not help.
    #[error("refused: {0}")]
    Refused(String),
}

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
            Destination::Http(sink) => sink.url().to_string(),
            Destination::File(sink) => format!("file:{}", sink.dir().display()),
        }
    }
}

/// TLS material for the HTTP destination (PEM files).
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// CA certificates that sign the receiver's certificate.
    pub ca: Option<PathBuf>,
    /// Our client certificate chain, for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// The private key of the client certificate.
    pub client_key: Option<PathBuf>,
}
