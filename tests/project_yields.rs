//! The projector steps aside for ingest (`[project] yield_*`), on each backend: `ofd emulate`
//! sends RU documents through the real ingest port at a steady rate above the threshold while
//! the projector loop runs on its own store handle. While they arrive the projector reports
//! `ofd_project_yielding` 1 and the read tables fall behind what is stored; it never lets the
//! oldest unprojected document get much older than the lag allowed; once ingest stops it
//! catches up with every document and stops yielding. With the policy off it never yields.

mod common;
mod emulate_support;

use std::time::{Duration, Instant};

use common::on_each_backend;
use emulate_support::{emulate_args, serve_options};
use ofd::emulate::execute;
use ofd::ingest::Server;
use ofd::project::ProjectOptions;
use ofd::store::Store;
use prometheus::Registry;
use tokio_util::sync::CancellationToken;

/// The lag the projector may run up while it steps aside.
const MAX_LAG_MS: u64 = 3_000;

fn gauge(registry: &Registry, name: &str) -> f64 {
    registry
        .gather()
        .iter()
        .find(|m| m.name() == name)
        .and_then(|m| m.get_metric().first().map(|m| m.get_gauge().get_value()))
        .unwrap_or(-1.0)
}

async fn count(store: &Store, read: bool, sql: &str) -> i64 {
    let pool = if read {
        store.read_pool()
    } else {
        store.pool()
    };
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .expect("count")
}

/// What was seen while documents arrived: whether the projector yielded, the most documents
/// stored but not yet indexed, and the oldest unprojected document's greatest age (s).
#[derive(Debug, Default)]
struct Seen {
    yielded: bool,
    most_behind: i64,
    oldest_s: f64,
}

async fn run(url: &str, max_lag_ms: u64) -> Seen {
    let store = Store::open(url).await.expect("store");
    let mut options = serve_options(url);
    options.ingest.accept_unregistered = Some(true);
    let ingest = Server::start(options.resolve().expect("valid"))
        .await
        .expect("server starts");
    let target = ingest.local_addr().to_string();
    let registry = Registry::new();
    let shutdown = CancellationToken::new();
    let config = ProjectOptions {
        poll_ms: Some(20),
        yield_above: Some(50),
        yield_max_lag_ms: Some(max_lag_ms),
        ..Default::default()
    }
    .resolve()
    .expect("valid");
    let projector = ofd::project::spawn(&config, &store, &registry, shutdown.clone())
        .expect("projector starts");
    // 600 documents at 150 a second: four seconds above the threshold of 50.
    let words = [
        "--target",
        target.as_str(),
        "--dialect",
        "ru",
        "--registers",
        "20",
        "--documents-per-register",
        "30",
        "--concurrency",
        "20",
        "--rate",
        "150",
        "--seed",
        "23",
    ];
    let emulation = tokio::spawn(execute(emulate_args(&words)));
    let mut seen = Seen::default();
    while !emulation.is_finished() {
        seen.yielded |= gauge(&registry, "ofd_project_yielding") == 1.0;
        seen.oldest_s = seen
            .oldest_s
            .max(gauge(&registry, "ofd_project_lag_seconds"));
        let stored = count(&store, false, "SELECT COUNT(*) FROM documents").await;
        let indexed = count(&store, true, "SELECT COUNT(*) FROM doc_index").await;
        seen.most_behind = seen.most_behind.max(stored - indexed);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let summary = emulation.await.expect("joins").expect("emulation runs");
    assert_eq!(summary.acked, 600, "{summary:#?}");
    ingest.shutdown().await.expect("clean shutdown");
    // Ingest stopped: every document is projected and the projector no longer yields.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let indexed = count(&store, true, "SELECT COUNT(*) FROM doc_index").await;
        if indexed == 600 && gauge(&registry, "ofd_project_yielding") == 0.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{indexed} of 600 projected, yielding {}",
            gauge(&registry, "ofd_project_yielding")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    projector.await.expect("projector stops");
    store.close().await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projector_steps_aside_while_documents_arrive_and_catches_up_after() {
    on_each_backend(|db| async move {
        let seen = run(&db.url, MAX_LAG_MS).await;
        eprintln!("-- policy on: {seen:?}");
        assert!(seen.yielded, "{seen:?}");
        // At 150 a second, a second behind is 150 documents; the projector alone keeps within
        // a few (the run with the policy off below).
        assert!(seen.most_behind >= 150, "{seen:?}");
        // Never much older than allowed: the lag, one decision window, one gauge update.
        assert!(seen.oldest_s <= 3.0 + 2.0, "{seen:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_policy_off_the_projector_never_steps_aside() {
    on_each_backend(|db| async move {
        let seen = run(&db.url, 0).await;
        eprintln!("-- policy off: {seen:?}");
        assert!(!seen.yielded, "{seen:?}");
        assert!(seen.most_behind < 150, "{seen:?}");
    })
    .await;
}
