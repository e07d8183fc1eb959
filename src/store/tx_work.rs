//! The unit of work the group-commit writer ([`super::writer`]) runs inside its transaction.
//!
//! It has a file of its own because both sides need it: the writer runs `TxWork`, and the
//! storing functions ([`super::documents`], the KZ commit) implement it; with the trait in
//! `writer.rs`, `documents.rs` and `writer.rs` imported each other.

use futures::future::BoxFuture;
use futures::FutureExt as _;
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

    /// Whether the writer runs the works of this kind in one batch together, through
    /// [`TxWork::apply_all`], instead of one [`TxWork::apply`] each in queue order.
    const GROUPED: bool = false;

    /// Apply `items` (all of one batch, in queue order) in as few statements as the kind allows;
    /// one output per item, in order. It must have exactly the effect of applying them one after
    /// another: when it fails, the writer rolls the batch back and runs every item alone through
    /// [`TxWork::apply`].
    fn apply_all<'c>(
        items: Vec<&'c Self>,
        conn: &'c mut AnyConnection,
    ) -> BoxFuture<'c, Result<Vec<Self::Output>, sqlx::Error>>
    where
        Self: Sized,
    {
        async move {
            let mut outputs = Vec::with_capacity(items.len());
            for item in items {
                outputs.push(item.apply(conn).await?);
            }
            Ok(outputs)
        }
        .boxed()
    }
}
