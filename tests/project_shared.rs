//! Two projectors on one database (issue 18), on each backend: `ofd emulate` sends RU and KZ
//! documents through the real ingest port while two projector loops run over the same database,
//! each with its own store handle (its own pool, as two `ofd project` processes would have).
//! Every document is projected exactly once: the two projectors' "applied" counters add up to
//! the number of documents and the read tables are identical to what one projector's rebuild
//! makes of the same documents. On PostgreSQL both projectors did part of the work (their shard
//! cursor rows are locked `FOR UPDATE SKIP LOCKED`); on SQLite one held the writer lease and
//! the other stood by, and takes over once the first stops.

mod account_support;
mod common;
mod emulate_support;

use std::time::{Duration, Instant};

use account_support::Account;
use common::on_each_backend;
use emulate_support::{emulate_args, server};
use ofd::emulate::execute;
use ofd::project::{rebuild, ProjectOptions, Projector};
use ofd::store::{Backend, Store};
use prometheus::Registry;
use tokio_util::sync::CancellationToken;

async fn emulate(dialect: &str, ffd: &str, fleet: &str, target: &str, account: &Account) {
    let words = [
        "--target",
        target,
        "--dialect",
        dialect,
        "--ffd",
        ffd,
        "--registers",
        "3",
        "--documents-per-register",
        "40",
        "--concurrency",
        "3",
        "--seed",
        "18",
        "--fleet",
        fleet,
        "--account-url",
        &account.url,
        "--api-key",
        &account.key,
        "--give-up-after",
        "30",
    ];
    let summary = execute(emulate_args(&words)).await.expect("emulation runs");
    assert_eq!(summary.acked, 120, "{summary:#?}");
}

/// Every read table's rows, in a fixed order, as text.
async fn read_tables(store: &Store) -> Vec<String> {
    let mut out = Vec::new();
    for (table, order) in [
        ("doc_index", "document_id"),
        ("doc_items", "document_id"),
        ("project_shifts", "source, shift_number"),
        ("project_daily", "register_id, day"),
        ("project_daily_products", "register_id, day, name"),
        ("project_monthly_products", "register_id, month_day, name"),
    ] {
        let rows = sqlx::query(&format!("SELECT * FROM {table} ORDER BY {order}"))
            .fetch_all(store.read_pool())
            .await
            .expect("read table");
        out.extend(rows.iter().map(|row| common::row_text(table, row)));
    }
    out
}

fn applied(registry: &Registry) -> f64 {
    registry
        .gather()
        .iter()
        .find(|m| m.name() == "ofd_project_documents_total")
        .and_then(|m| {
            m.get_metric()
                .iter()
                .find(|m| {
                    m.get_label()
                        .iter()
                        .any(|l| l.name() == "outcome" && l.value() == "applied")
                })
                .map(|m| m.get_counter().get_value())
        })
        .unwrap_or(0.0)
}

struct Running {
    store: Store,
    registry: Registry,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

async fn start(url: &str) -> Running {
    let store = Store::open(url).await.expect("own store handle");
    let registry = Registry::new();
    let shutdown = CancellationToken::new();
    let config = ProjectOptions {
        // Small batches, so the two projectors take many turns while documents arrive.
        batch: Some(7),
        poll_ms: Some(10),
        sweep_ms: Some(50),
        ..Default::default()
    }
    .resolve()
    .expect("valid");
    let task = ofd::project::spawn(&config, &store, &registry, shutdown.clone())
        .expect("projector starts");
    Running {
        store,
        registry,
        shutdown,
        task,
    }
}

impl Running {
    async fn stop(self) -> f64 {
        self.shutdown.cancel();
        self.task.await.expect("projector stops");
        self.store.close().await;
        applied(&self.registry)
    }
}

async fn wait_caught_up(store: &Store, documents: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let indexed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM doc_index")
            .fetch_one(store.read_pool())
            .await
            .expect("count");
        if indexed == documents {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{indexed} of {documents} projected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_projectors_share_the_documents_and_project_each_once() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let account = Account::start(&store).await;
        let ingest = server(&db.url).await;
        let target = ingest.local_addr().to_string();
        let first = start(&db.url).await;
        if db.backend == Backend::Sqlite {
            // The first holds the writer lease before the second starts.
            let deadline = Instant::now() + Duration::from_secs(10);
            while sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM forward_leases WHERE name = 'projector'",
            )
            .fetch_one(store.pool())
            .await
            .expect("lease")
                == 0
            {
                assert!(
                    Instant::now() < deadline,
                    "the first projector took no lease"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let second = start(&db.url).await;
        // Documents arrive while both run.
        emulate("ru", "1.2", "181", &target, &account).await;
        emulate("kz", "1.2", "182", &target, &account).await;
        emulate("ru", "1.05", "183", &target, &account).await;
        ingest.shutdown().await.expect("clean shutdown");
        let documents: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM documents")
            .fetch_one(store.pool())
            .await
            .expect("count");
        assert!(documents > 300, "{documents} stored");
        wait_caught_up(&store, documents).await;
        let by_first = first.stop().await;

        // The second one carries on alone with what arrives after (on SQLite it takes the
        // lease over from the first, which gave it up on stopping).
        let server2 = server(&db.url).await;
        emulate(
            "ru",
            "1.1",
            "184",
            &server2.local_addr().to_string(),
            &account,
        )
        .await;
        server2.shutdown().await.expect("clean shutdown");
        let later = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM documents")
            .fetch_one(store.pool())
            .await
            .expect("count")
            - documents;
        wait_caught_up(&store, documents + later as i64).await;
        let by_second = second.stop().await;
        let documents = documents + later as i64;

        // Each document applied exactly once, between them.
        assert_eq!(by_first + by_second, documents as f64);
        match db.backend {
            // Both did part of the first wave.
            Backend::Postgres => assert!(
                by_first > 0.0 && by_second > later as f64,
                "first {by_first}, second {by_second}"
            ),
            // One writer at a time: the standby did nothing while the first held the lease.
            Backend::Sqlite => assert!(
                by_first == (documents - later as i64) as f64 && by_second == later as f64,
                "first {by_first}, second {by_second}"
            ),
        }
        let shared = read_tables(&store).await;
        let rebuilt = rebuild(&store, 1000, 2).await.expect("rebuild");
        assert_eq!(rebuilt.read as i64, documents);
        assert_eq!(rebuilt.undecodable, 0);
        assert_eq!(
            read_tables(&store).await,
            shared,
            "same as one projector's rebuild"
        );
        assert_eq!(
            Projector::new(&store).lag().await.expect("lag").documents,
            0
        );

        account.stop().await;
        store.close().await;
    })
    .await;
}
