//! The one error every destination returns, in its own file so that the destinations
//! ([`super::http_sink`], [`super::file_sink`]) and the dispatcher over them
//! ([`super::destination`]) can all name it without importing each other.

/// Why a send did not get a positive answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// Worth retrying as is: connection refused or reset, timeout, 5xx, 408/429, a lost or
    /// garbled answer.
    #[error("transient: {0}")]
    Transient(String),
    /// The receiver answered the batch as a whole with a 4xx instead of an answer (wrong path,
    /// credentials, size …): a problem of the link or the configuration, retried after a fix,
    /// never a verdict on the documents.
    #[error("refused with HTTP {status}: {message}")]
    Refused {
        /// The HTTP status code.
        status: u16,
        /// What the receiver said.
        message: String,
    },
}
