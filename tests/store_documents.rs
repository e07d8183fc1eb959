//! Document storage through the group-commit writer: first arrival, resend, conflict, quarantine.

mod common;

use common::{count_rows, on_each_backend, ru_document};
use ofd::store::{
    insert_new_documents, Dialect, InsertOutcome, NewDocument, Quarantine, Writer, WriterConfig,
};
use sqlx::Row as _;

const FN: &str = "9999078900012345";

#[tokio::test]
async fn first_arrival_is_stored_with_pending_outbox_state() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
        let doc = ru_document(FN, 1, b"first");
        let outcome = writer.store(doc.clone()).await.unwrap();
        assert_eq!(outcome, InsertOutcome::Stored);

        let row = sqlx::query(
            "SELECT fn_number, fd_number, raw, ack, json, o.state, o.received_at AS queued_at, \
             d.received_at, flk_failed, peer FROM documents d JOIN outbox o ON o.document_id = d.id \
             WHERE dialect = 'ru' AND doc_key = $1",
        )
        .bind(&doc.doc_key)
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(row.get::<String, _>("fn_number"), FN);
        assert_eq!(row.get::<i64, _>("fd_number"), 1);
        assert_eq!(row.get::<Vec<u8>, _>("raw"), doc.raw);
        assert_eq!(row.get::<Vec<u8>, _>("ack"), doc.ack);
        assert_eq!(row.get::<String, _>("json"), doc.json);
        assert_eq!(row.get::<String, _>("state"), "pending", "queued by the insert");
        assert_eq!(
            row.get::<i64, _>("queued_at"),
            row.get::<i64, _>("received_at")
        );
        assert_eq!(row.get::<i64, _>("flk_failed"), 0);
        assert_eq!(
            row.get::<Option<String>, _>("peer").as_deref(),
            Some("127.0.0.1:40000")
        );
        drop(writer);
        task.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn resend_returns_stored_ack_and_keeps_one_row() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
        let first = ru_document(FN, 7, b"same bytes");
        assert_eq!(
            writer.store(first.clone()).await.unwrap(),
            InsertOutcome::Stored
        );
        // The resend carries the same container but the server would build a fresh ack for it;
        // the stored one must come back.
        let mut resend = first.clone();
        resend.ack = b"a different ack".to_vec();
        resend.received_at += 60_000;
        let outcome = writer.store(resend).await.unwrap();
        assert_eq!(
            outcome,
            InsertOutcome::Duplicate {
                ack: first.ack.clone()
            }
        );
        assert_eq!(count_rows(&db.url, "documents").await, 1);
        assert_eq!(count_rows(&db.url, "conflicts").await, 0);
        drop(writer);
        task.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn one_outbox_row_per_stored_document_also_in_a_group_commit_with_a_resend() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
        let first = ru_document(FN, 1, b"first");
        writer.store(first.clone()).await.unwrap();
        // Submitted together, so the writer commits them in one group (one multi-row insert):
        // the resend of the first is skipped by the key, the nine others are stored.
        let mut batch = vec![first.clone()];
        batch.extend((2..=10).map(|fd| ru_document(FN, fd, b"more")));
        let outcomes =
            futures::future::join_all(batch.into_iter().map(|doc| writer.store(doc))).await;
        assert!(matches!(outcomes[0], Ok(InsertOutcome::Duplicate { .. })));
        assert!(outcomes[1..]
            .iter()
            .all(|o| matches!(o, Ok(InsertOutcome::Stored))));
        let mismatched: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM documents d FULL OUTER JOIN outbox o ON o.document_id = d.id \
             WHERE o.document_id IS NULL OR d.id IS NULL OR o.received_at <> d.received_at",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(
            mismatched, 0,
            "each document has exactly its own outbox row"
        );
        assert_eq!(count_rows(&db.url, "outbox").await, 10);
        assert_eq!(count_rows(&db.url, "documents").await, 10);
        drop(writer);
        task.await.unwrap();
    })
    .await;
}

/// A resend storm is settled by the batch: every entry whose key is stored gets the stored
/// copy's ack from the bulk step, read once per batch; a conflicting copy is kept in
/// `conflicts` once however often it comes; only a key another dialect's entry took is left
/// for the one-at-a-time path.
#[tokio::test]
async fn a_batch_settles_its_resends_and_conflicts_as_one_at_a_time_would() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let a = ru_document(FN, 1, b"a");
        let b = ru_document(FN, 2, b"b");
        let mut tx = store.begin_write().await.unwrap();
        let first = insert_new_documents(&mut tx, &[&a, &b]).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(first, vec![Some(InsertOutcome::Stored); 2]);

        let fresh_ack = |mut doc: NewDocument| {
            doc.ack = b"an ack built for the resend".to_vec();
            doc
        };
        let a_resend = fresh_ack(a.clone());
        let b_conflict = ru_document(FN, 2, b"b, other bytes");
        let c = ru_document(FN, 3, b"c");
        let c_again = fresh_ack(c.clone());
        let d = ru_document(FN, 4, b"d");
        let d_conflict = ru_document(FN, 4, b"d, other bytes");
        let mut kz_same_key = ru_document(FN, 3, b"c");
        kz_same_key.dialect = Dialect::Kz;
        let batch = [
            &a_resend,
            &b_conflict,
            &c,
            &c_again,
            &d,
            &d_conflict,
            &kz_same_key,
            &b_conflict,
        ];
        let mut tx = store.begin_write().await.unwrap();
        let settled = insert_new_documents(&mut tx, &batch).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            settled,
            vec![
                Some(InsertOutcome::Duplicate { ack: a.ack.clone() }),
                Some(InsertOutcome::Conflict { ack: b.ack.clone() }),
                Some(InsertOutcome::Stored),
                Some(InsertOutcome::Duplicate { ack: c.ack.clone() }),
                Some(InsertOutcome::Stored),
                Some(InsertOutcome::Conflict { ack: d.ack.clone() }),
                None,
                Some(InsertOutcome::Conflict { ack: b.ack.clone() }),
            ]
        );
        assert_eq!(count_rows(&db.url, "documents").await, 4);
        let kept = |db_url: String| async move {
            sqlx::any::install_default_drivers();
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&db_url)
                .await
                .unwrap();
            let rows = sqlx::query("SELECT doc_key, raw FROM conflicts ORDER BY doc_key")
                .fetch_all(&mut conn)
                .await
                .unwrap();
            rows.iter()
                .map(|r| (r.get::<String, _>("doc_key"), r.get::<Vec<u8>, _>("raw")))
                .collect::<Vec<_>>()
        };
        let expected = vec![
            (b_conflict.doc_key.clone(), b_conflict.raw.clone()),
            (d_conflict.doc_key.clone(), d_conflict.raw.clone()),
        ];
        assert_eq!(kept(db.url.clone()).await, expected, "one row per copy");

        // The same conflicting copy again, alone in a later batch: still one row for it.
        let mut tx = store.begin_write().await.unwrap();
        let again = insert_new_documents(&mut tx, &[&d_conflict]).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            again,
            vec![Some(InsertOutcome::Conflict { ack: d.ack.clone() })]
        );
        assert_eq!(kept(db.url.clone()).await, expected, "kept once");
    })
    .await;
}

#[tokio::test]
async fn conflict_keeps_first_row_and_records_second_copy() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
        let first = ru_document(FN, 9, b"original");
        writer.store(first.clone()).await.unwrap();
        let other = ru_document(FN, 9, b"something else");
        let outcome = writer.store(other.clone()).await.unwrap();
        assert_eq!(
            outcome,
            InsertOutcome::Conflict {
                ack: first.ack.clone()
            }
        );
        // The same conflicting copy again: still answered with the stored ack, kept once.
        let again = writer.store(other.clone()).await.unwrap();
        assert_eq!(
            again,
            InsertOutcome::Conflict {
                ack: first.ack.clone()
            }
        );

        let stored = sqlx::query("SELECT raw, ack FROM documents WHERE doc_key = $1")
            .bind(&first.doc_key)
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].get::<Vec<u8>, _>("raw"), first.raw);
        assert_eq!(stored[0].get::<Vec<u8>, _>("ack"), first.ack);
        let kept = sqlx::query("SELECT doc_key, raw FROM conflicts")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].get::<String, _>("doc_key"), first.doc_key);
        assert_eq!(kept[0].get::<Vec<u8>, _>("raw"), other.raw);
        drop(writer);
        task.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn flk_failures_are_stored_and_flagged() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
        let mut doc = ru_document(FN, 11, b"flk");
        doc.flk_errors = Some("total_mismatch".into());
        doc.unregistered = true;
        assert_eq!(
            writer.store(doc.clone()).await.unwrap(),
            InsertOutcome::Stored
        );
        let row = sqlx::query("SELECT flk_failed, flk_errors, unregistered FROM documents")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(row.get::<i64, _>("flk_failed"), 1);
        assert_eq!(
            row.get::<Option<String>, _>("flk_errors").as_deref(),
            Some("total_mismatch")
        );
        assert_eq!(row.get::<i64, _>("unregistered"), 1);
        drop(writer);
        task.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn quarantine_keeps_refused_documents() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
        let q = Quarantine {
            dialect: Dialect::Ru,
            fn_number: Some(FN.into()),
            fd_number: Some(3),
            system_id: None,
            reason: "bad_fiscal_sign".into(),
            check: "sign".into(),
            error: "ФПД does not verify".into(),
            received_at: 1_700_000_000_000,
            peer: None,
            session: None,
            raw: b"tampered".to_vec(),
            ack: None,
        };
        let id = writer.submit(q.clone()).await.unwrap();
        let row = sqlx::query("SELECT id, reason, raw FROM quarantine")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(row.get::<i64, _>("id"), id);
        assert_eq!(row.get::<String, _>("reason"), "bad_fiscal_sign");
        assert_eq!(row.get::<Vec<u8>, _>("raw"), q.raw);
        assert_eq!(count_rows(&db.url, "documents").await, 0);
        drop(writer);
        task.await.unwrap();
    })
    .await;
}

/// Every pooled connection carries the store's per-connection settings, not only the first:
/// SQLite's durability and page cache, PostgreSQL's JIT off (the projector's batch read spent
/// most of its time compiling at ten million documents).
#[tokio::test]
async fn every_pooled_connection_has_the_store_settings() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(store.pool().acquire().await.unwrap());
        }
        for conn in &mut held {
            match store.backend() {
                ofd::store::Backend::Sqlite => {
                    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
                        .fetch_one(&mut **conn)
                        .await
                        .unwrap();
                    assert_eq!(synchronous, 2, "synchronous = FULL");
                    let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
                        .fetch_one(&mut **conn)
                        .await
                        .unwrap();
                    assert_eq!(cache, -16384);
                }
                ofd::store::Backend::Postgres => {
                    let jit: String = sqlx::query_scalar("SELECT current_setting('jit')")
                        .fetch_one(&mut **conn)
                        .await
                        .unwrap();
                    assert_eq!(jit, "off");
                }
            }
        }
    })
    .await;
}

/// SQLite writers of one process take turns in order (the ingest writer, the projector and the
/// forwarder under `ofd all`): a second turn starts only when the first is given back, a clone of
/// the store shares the queue, and while a background writer holds the turn with another one
/// waiting, ingest's writer goes next. PostgreSQL has no such queue.
#[tokio::test]
async fn sqlite_writers_of_one_process_take_turns() {
    use ofd::store::TurnTaker;
    use std::time::Duration;
    on_each_backend(|db| async move {
        let store = db.open().await;
        let first = store.sqlite_write_turn(TurnTaker::Background).await;
        match store.backend() {
            ofd::store::Backend::Sqlite => {
                assert!(first.is_some());
                let (order, mut taken) = tokio::sync::mpsc::unbounded_channel();
                let waiter = |taker: TurnTaker| {
                    let store = store.clone();
                    let order = order.clone();
                    tokio::spawn(async move {
                        let turn = store.sqlite_write_turn(taker).await;
                        order.send(taker).unwrap();
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        drop(turn);
                    })
                };
                // The second background writer queues before ingest's does.
                let background = waiter(TurnTaker::Background);
                tokio::time::sleep(Duration::from_millis(100)).await;
                let ingest = waiter(TurnTaker::Ingest);
                tokio::time::sleep(Duration::from_millis(100)).await;
                assert!(
                    taken.try_recv().is_err(),
                    "a second turn began while the first was held"
                );
                drop(first);
                for task in [background, ingest] {
                    tokio::time::timeout(Duration::from_secs(5), task)
                        .await
                        .expect("every turn begins once the one before is given back")
                        .unwrap();
                }
                let order: Vec<TurnTaker> = std::iter::from_fn(|| taken.try_recv().ok()).collect();
                assert_eq!(order, [TurnTaker::Ingest, TurnTaker::Background]);
            }
            ofd::store::Backend::Postgres => assert!(first.is_none()),
        }
    })
    .await;
}
