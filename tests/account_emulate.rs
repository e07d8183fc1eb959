//! End to end, on each backend: `ofd emulate --account-url … --api-key …` provisions its own
//! fleet through a real account API and then sends its documents to a real ingest server on the
//! same database. KZ registers can only work with the system ids and tokens the API handed out,
//! RU registers only if the API registered their ФН numbers (unknown ones are refused), so every
//! document acknowledged proves the provisioning; every one is stored exactly once, also when
//! the RU fleet is run a second time.

mod account_support;
mod common;
mod emulate_support;

use account_support::Account;
use common::on_each_backend;
use emulate_support::{emulate_args, server};
use ofd::emulate::{execute, Summary};
use ofd::store::{Dialect, RegisterFilter, Store};

const REGISTERS: u64 = 3;
const DOCUMENTS: u64 = 8;

async fn emulate(dialect: &str, target: &str, account: &Account) -> Summary {
    let registers = REGISTERS.to_string();
    let documents = DOCUMENTS.to_string();
    let words = [
        "--target",
        target,
        "--dialect",
        dialect,
        "--registers",
        &registers,
        "--documents-per-register",
        &documents,
        "--concurrency",
        "3",
        "--seed",
        "5",
        "--fleet",
        "42",
        "--account-url",
        &account.url,
        "--api-key",
        &account.key,
        "--give-up-after",
        "30",
    ];
    execute(emulate_args(&words)).await.expect("emulation runs")
}

fn assert_all_acked(summary: &Summary) {
    let expected = REGISTERS * DOCUMENTS;
    assert_eq!(summary.documents, expected, "{summary:#?}");
    assert_eq!(summary.acked, expected, "{summary:#?}");
    assert_eq!(
        summary.rejected + summary.invalid + summary.undelivered,
        0,
        "{summary:#?}"
    );
}

/// (documents, distinct keys, documents flagged unregistered) of `dialect`.
async fn stored(store: &Store, dialect: Dialect) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT doc_key), \
         COUNT(CASE WHEN unregistered <> 0 THEN 1 END) \
         FROM documents WHERE dialect = $1",
    )
    .bind(dialect.as_str())
    .fetch_one(store.pool())
    .await
    .expect("document counts")
}

async fn registers_of(store: &Store, dialect: Dialect) -> usize {
    let filter = RegisterFilter {
        dialect: Some(dialect),
        status: None,
        org_inn: None,
        after_id: None,
        limit: 1000,
        cashier: None,
    };
    store.find_registers(&filter).await.expect("list").len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_provisions_its_fleet_through_the_account_api() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let account = Account::start(&store).await;
        let server = server(&db.url).await;
        let target = server.local_addr().to_string();

        let kz = emulate("kz", &target, &account).await;
        assert_all_acked(&kz);
        let ru = emulate("ru", &target, &account).await;
        assert_all_acked(&ru);
        // The same fleet again: its ФН numbers are already registered (409 counts as done) and
        // every resent document is answered from the store, not stored a second time.
        let again = emulate("ru", &target, &account).await;
        assert_all_acked(&again);
        server.shutdown().await.expect("clean shutdown");

        assert_eq!(registers_of(&store, Dialect::Kz).await, REGISTERS as usize);
        assert_eq!(registers_of(&store, Dialect::Ru).await, REGISTERS as usize);
        let (kz_rows, kz_keys, _) = stored(&store, Dialect::Kz).await;
        assert!(kz_rows > 0, "KZ documents were stored");
        assert_eq!(kz_rows, kz_keys, "one row per KZ document key");
        let (ru_rows, ru_keys, ru_unregistered) = stored(&store, Dialect::Ru).await;
        assert_eq!(
            ru_rows,
            (REGISTERS * DOCUMENTS) as i64,
            "every RU document stored"
        );
        assert_eq!(ru_rows, ru_keys, "one row per RU document key");
        assert_eq!(ru_unregistered, 0, "every ФН was provisioned");
        let owners = store.list_organisations().await.expect("organisations");
        assert_eq!(
            owners.len(),
            1 + REGISTERS as usize,
            "one KZ owner, one per RU register"
        );
        account.stop().await;
        store.close().await;
    })
    .await;
}
