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
    /// The receiver refused the batch as a whole (4xx); retrying the same bytes will not help.
    #[error("refused: {0}")]
    Refused(String),
}
