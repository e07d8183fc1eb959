//! SQLite keeps the read models in a file of their own beside the documents' file
//! (`src/store/read_file.rs`): the projector writes it while another connection holds the
//! documents' write lock, and a read file that no longer describes the documents (the database
//! restored from an older backup) is emptied on open and projected again.

mod common;
mod forward_support;

use std::time::Duration;

use common::TestDb;
use forward_support::{ingest, ru_documents};
use ofd::project::Projector;
use ofd::store::Store;

async fn indexed(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM doc_index")
        .fetch_one(store.read_pool())
        .await
        .expect("count")
}

/// Project until a step reads nothing; returns how many documents were applied.
async fn project_all(projector: &Projector) -> u64 {
    let mut applied = 0;
    loop {
        let step = projector
            .step(100, ofd::clock::unix_millis())
            .await
            .expect("step");
        applied += step.applied;
        if step.read == 0 {
            return applied;
        }
    }
}

fn path_of(db: &TestDb) -> std::path::PathBuf {
    std::path::PathBuf::from(db.url.strip_prefix("sqlite://").expect("sqlite URL"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projector_writes_while_the_documents_file_is_locked() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let projector = Projector::new(&store);
    // The first step takes the projector's lease, a row of the documents' file.
    assert_eq!(project_all(&projector).await, 0);
    ingest(&store, ru_documents("9999078900004401", 1, 30)).await;

    let documents = path_of(&db);
    let mut read_file = documents.as_os_str().to_owned();
    read_file.push("-read");
    assert!(std::path::Path::new(&read_file).exists(), "{read_file:?}");
    // The documents' file holds no read model any more.
    let in_documents: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'doc_index'",
    )
    .fetch_one(store.pool())
    .await
    .expect("schema");
    assert_eq!(in_documents, 0);

    // Another writer holds the documents' file (as ingest's group commit does) while the
    // projector works: before the read models had a file of their own, the projector's
    // transaction waited for it (up to the 10 s busy timeout, then failed).
    let mut holder = store.begin_write().await.expect("documents' write lock");
    sqlx::query("UPDATE outbox SET attempts = attempts WHERE document_id < 0")
        .execute(&mut *holder)
        .await
        .expect("write");
    let applied = tokio::time::timeout(Duration::from_secs(8), project_all(&projector))
        .await
        .expect("the projector did not wait for the documents' lock");
    assert_eq!(applied, 30);
    assert_eq!(indexed(&store).await, 30);
    holder.rollback().await.expect("rollback");
    projector.release_writer_lease().await.expect("lease");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_file_ahead_of_a_restored_backup_is_emptied_and_projected_again() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    ingest(&store, ru_documents("9999078900004402", 1, 5)).await;
    let dir = tempfile::tempdir().expect("dir");
    let copy = dir.path().join("backup.db");
    ofd::store::backup::backup(&db.url, &copy)
        .await
        .expect("backup");
    ingest(&store, ru_documents("9999078900004402", 6, 5)).await;
    let projector = Projector::new(&store);
    assert_eq!(project_all(&projector).await, 10);
    projector.release_writer_lease().await.expect("lease");
    store.close().await;

    // Restore: the backup replaces the documents' file; the read file stays where it is.
    let documents = path_of(&db);
    for suffix in ["-wal", "-shm"] {
        let mut side = documents.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(&side);
    }
    // A new file, as `cp` of a backup onto a stopped server's path makes after `rm`: copied
    // in place (the same inode), it shared SQLite's locks with a connection of the closed store
    // that sqlx's pool had not yet torn down on its worker thread, and under load the reopen
    // waited out the 5-s busy timeout (1 run in 40 beside two busy loops).
    std::fs::remove_file(&documents).expect("remove the documents' file");
    std::fs::copy(&copy, &documents).expect("restore");

    let store = db.open().await;
    assert_eq!(
        indexed(&store).await,
        0,
        "rows of documents the backup lacks"
    );
    let projector = Projector::new(&store);
    assert_eq!(project_all(&projector).await, 5);
    assert_eq!(indexed(&store).await, 5);
    projector.release_writer_lease().await.expect("lease");
    store.close().await;

    // Opened again with nothing changed, the read file is kept.
    let store = db.open().await;
    assert_eq!(indexed(&store).await, 5);
    store.close().await;
}

async fn setting(tx: &mut sqlx::Transaction<'static, sqlx::Any>) -> String {
    sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&mut **tx)
        .await
        .expect("show")
}

/// PostgreSQL has no read file; there the read models' transactions skip the WAL flush on
/// commit instead (`Store::begin_read_models_write`), and only those: the documents' stay
/// synchronous. The rows written that way are there when read back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_read_model_commits_do_not_wait_for_the_wal_and_document_commits_do() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("OFD_TEST_PG not set: PostgreSQL test skipped");
        return;
    };
    let store = db.open().await;
    let mut read = store.begin_read_models_write().await.expect("begin");
    assert_eq!(setting(&mut read).await, "off");
    sqlx::query("INSERT INTO project_cursor (name, last_id, updated_at) VALUES ('t', 7, 0)")
        .execute(&mut *read)
        .await
        .expect("insert");
    read.commit().await.expect("commit");
    let mut write = store.begin_write().await.expect("begin");
    assert_eq!(setting(&mut write).await, "on");
    write.rollback().await.expect("rollback");
    // SET LOCAL ends with its transaction: the pooled connection is synchronous again.
    let mut again = store.read_pool().begin().await.expect("begin");
    assert_eq!(setting(&mut again).await, "on");
    again.rollback().await.expect("rollback");
    let last: i64 = sqlx::query_scalar("SELECT last_id FROM project_cursor WHERE name = 't'")
        .fetch_one(store.read_pool())
        .await
        .expect("read back");
    assert_eq!(last, 7);
    store.close().await;
}
