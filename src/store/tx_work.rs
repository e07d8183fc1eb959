//! The unit of work the group-commit writer ([`super::writer`]) runs inside its transaction.
//!
//! It has a file of its own because both sides need it: the writer runs `TxWork`, and the
//! storing functions ([`super::documents`], the KZ commit) implement it; with the trait in
//! `writer.rs`, `documents.rs` and `writer.rs` imported each other.

use futures::future::BoxFuture;
use sqlx::AnyConnection;

/// A unit of database work that must commit atomically with the rest of its batch.
pub trait TxWork: Send + Sync + 'static {
    /// What the submitter gets back once the work has committed.
    type Output: Send + 'static;

    /// Do the work on `conn`, which is inside a transaction the writer owns (do not commit or
    /// roll back here). May run more than once if a batch is retried, so it must only act
    /// through `conn`.
    fn apply<'c>(
        &'c self,
        conn: &'c mut AnyConnection,
    ) -> BoxFuture<'c, Result<Self::Output, sqlx::Error>>;
}
