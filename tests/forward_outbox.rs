//! The outbox on its own, on both backends: what a claim takes, and when a batch's lease is
//! written. A lease write takes SQLite's write turn, which ingest's commits queue for, so a
//! renewal that is not needed yet must not write; one that is needed must notice a take-over.

mod common;
mod forward_support;

use common::on_each_backend;
use forward_support::*;
use ofd::forward::outbox::{ClaimLimits, Outbox};

const LEASE_MS: i64 = 10_000;

fn limits(max_documents: i64) -> ClaimLimits {
    ClaimLimits {
        max_documents,
        max_bytes: 1 << 20,
        lease_ms: LEASE_MS,
    }
}

async fn stored_lease(store: &ofd::store::Store, batch_id: &str) -> i64 {
    sqlx::query_scalar("SELECT lease_until FROM forward_batches WHERE batch_id = $1")
        .bind(batch_id)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_take_the_oldest_unclaimed_documents_once() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        ingest(&store, ru_documents("9999078900001234", 1, 5)).await;
        let outbox = Outbox::new(&store);
        let now = 1_800_000_000_000;

        let first = outbox
            .claim(now, limits(3))
            .await
            .unwrap()
            .expect("a batch");
        let second = outbox
            .claim(now, limits(3))
            .await
            .unwrap()
            .expect("a batch");
        assert_eq!(first.documents.len(), 3);
        assert_eq!(second.documents.len(), 2);
        assert!(outbox.claim(now, limits(3)).await.unwrap().is_none());
        let first_ids: Vec<i64> = first.documents.iter().map(|d| d.row_id).collect();
        let second_ids: Vec<i64> = second.documents.iter().map(|d| d.row_id).collect();
        assert!(first_ids.windows(2).all(|w| w[0] < w[1]), "{first_ids:?}");
        assert!(first_ids.last() < second_ids.first(), "oldest first");

        // Each document carries the id of the batch that claimed it, and each batch row counts
        // its documents.
        for batch in [&first, &second] {
            let (documents, claimed): (i64, i64) = sqlx::query_as(
                "SELECT b.documents, (SELECT COUNT(*) FROM outbox o WHERE o.batch_id = b.batch_id)
                 FROM forward_batches b WHERE b.batch_id = $1",
            )
            .bind(&batch.id)
            .fetch_one(store.pool())
            .await
            .unwrap();
            assert_eq!(
                (documents, claimed),
                (batch.documents.len() as i64, documents)
            );
            assert_eq!(batch.lease_until, now + LEASE_MS);
            assert_eq!(stored_lease(&store, &batch.id).await, now + LEASE_MS);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_lease_is_written_once_half_of_it_is_gone_and_notices_a_take_over() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        ingest(&store, ru_documents("9999078900001234", 1, 2)).await;
        let outbox = Outbox::new(&store);
        let now = 1_800_000_000_000;
        let mut batch = outbox
            .claim(now, limits(10))
            .await
            .unwrap()
            .expect("a batch");

        // Less than half of the lease gone: nothing written, still ours.
        assert!(outbox
            .renew(&mut batch, now + 4_000, LEASE_MS)
            .await
            .unwrap());
        assert_eq!(stored_lease(&store, &batch.id).await, now + LEASE_MS);
        assert_eq!(batch.lease_until, now + LEASE_MS);

        // More than half gone: written again from the time of the renewal.
        assert!(outbox
            .renew(&mut batch, now + 6_000, LEASE_MS)
            .await
            .unwrap());
        assert_eq!(stored_lease(&store, &batch.id).await, now + 16_000);
        assert_eq!(batch.lease_until, now + 16_000);

        // Once the lease has run out another forwarder takes the batch over, under its id; the
        // first one's next renewal (its hold more than half gone) finds it gone.
        let other = Outbox::new(&store);
        let taken = other
            .take_over(now + 16_001, LEASE_MS)
            .await
            .unwrap()
            .expect("the expired batch");
        assert_eq!(taken.id, batch.id);
        assert_eq!(taken.documents.len(), 2);
        assert!(!outbox
            .renew(&mut batch, now + 16_002, LEASE_MS)
            .await
            .unwrap());
    })
    .await;
}
