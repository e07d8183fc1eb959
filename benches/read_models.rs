//! Read-side benchmark (issue 14): generate RU documents through the real store (the same
//! multi-row insert the group-commit writer uses), run the projector over them, then time the
//! cabinet's queries — search, shifts, a month's totals — through the tenancy-scoped store
//! functions, and a CSV export through the real account API over HTTP. Not a timed test: the
//! figures go into `benches/README.md` with the command, commit and load average.
//!
//! Shape: `OFD_BENCH_REGISTERS` registers (default 1000) in organisations of 100, each sending
//! shifts of receipts (1–3 lines, cash or card, one in ten a refund) over up to a year, with
//! `OFD_BENCH_DOCS` documents in all (default 200000). `OFD_BENCH_DB` names the database (default:
//! a SQLite file in a temporary directory; a `postgres://` URL works too); when that database
//! already holds documents, generation is skipped and the existing ones are measured.
//! `OFD_BENCH_EXPORT` caps the exported rows (default 1000000), `OFD_BENCH_XLSX` the XLSX
//! export's (default 200000); `OFD_BENCH_BATCH` is the projector's batch (default 1000),
//! `OFD_BENCH_PROJECT_WORKERS` its concurrent steps on PostgreSQL (default 2, as `ofd project`).
//!
//! Run: `cargo bench --bench read_models` (release build; one run, a few minutes at the default
//! size on 2 cores).

use std::time::Instant;

use ofd::account::AccountOptions;
use ofd::project::{catch_up, Projector};
use ofd::store::reports::{DocumentFilter, RegisterSet};
use ofd::store::{Actor, Role, Store, Tenant};
use read_data::{env_or, generate, ms, percentiles};

#[path = "support/read_data.rs"]
mod read_data;

/// One export through the account API: (bytes, lines, seconds, RSS before, RSS peak in KiB),
/// the RSS sampled after every chunk received.
async fn export(addr: &std::net::SocketAddr, key: &str, query: &str) -> (u64, u64, f64, u64, u64) {
    let rss_before = rss_kib();
    let started = Instant::now();
    let mut response = reqwest::Client::new()
        .get(format!("http://{addr}/api/v1/documents/export?{query}"))
        .bearer_auth(key)
        .send()
        .await
        .expect("export");
    assert!(response.status().is_success(), "{}", response.status());
    let (mut bytes, mut lines) = (0u64, 0u64);
    let mut peak = rss_before;
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        peak = peak.max(rss_kib());
    }
    (
        bytes,
        lines,
        started.elapsed().as_secs_f64(),
        rss_before,
        peak,
    )
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes --bench; nothing else is taken from the command line.
    let registers = env_or("OFD_BENCH_REGISTERS", 1000) as usize;
    let documents = env_or("OFD_BENCH_DOCS", 200_000) as usize;
    let export_rows = env_or("OFD_BENCH_EXPORT", 1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let url = std::env::var("OFD_BENCH_DB")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let store = Store::open(&url).await.expect("open store");
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM documents")
        .fetch_one(store.pool())
        .await
        .expect("count");
    if existing == 0 {
        generate(&store, registers, documents).await;
    } else {
        println!("generate: skipped, {existing} documents already stored");
    }

    let projector = Projector::new(&store);
    let started = Instant::now();
    let batch = env_or("OFD_BENCH_BATCH", 1000) as i64;
    let workers = env_or("OFD_BENCH_PROJECT_WORKERS", 2) as usize;
    let step = catch_up(&projector, batch, workers)
        .await
        .expect("projects");
    let seconds = started.elapsed().as_secs_f64();
    if step.read > 0 {
        println!(
            "project: {} documents in {seconds:.1} s = {:.0} documents/s ({} undecodable)",
            step.read,
            step.read as f64 / seconds,
            step.undecodable
        );
    }

    // An accountant of the first organisation (100 registers), and that organisation's data.
    let org_id: i64 = sqlx::query_scalar("SELECT MIN(id) FROM organisations")
        .fetch_one(store.pool())
        .await
        .expect("org");
    let tenant: Tenant = store.tenant(
        Actor::Key {
            id: 0,
            org_id,
            role: Role::Accountant,
        },
        None,
    );
    let register_ids: Vec<i64> = sqlx::query_scalar(
        "SELECT r.id FROM registers r JOIN organisations o ON o.inn = r.org_inn \
         WHERE o.id = $1 ORDER BY r.id",
    )
    .bind(org_id)
    .fetch_all(store.pool())
    .await
    .expect("registers");
    let keys: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT fn_number, fd_number, register_id, shift_number FROM doc_index \
         WHERE register_id IN (SELECT r.id FROM registers r JOIN organisations o \
         ON o.inn = r.org_inn WHERE o.id = $1) AND kind = 'receipt' \
         ORDER BY document_id LIMIT 500",
    )
    .bind(org_id)
    .fetch_all(store.read_pool())
    .await
    .expect("keys");
    let (first_day, last_day): (i64, i64) =
        sqlx::query_as("SELECT MIN(doc_time) / 86400, MAX(doc_time) / 86400 FROM doc_index")
            .fetch_one(store.read_pool())
            .await
            .expect("days");
    let month_from = (last_day - 30).max(first_day);
    let runs = 200;
    let rid = |i: usize| register_ids[i * 7 % register_ids.len()];

    let (p50, p99) = percentiles(runs, |i| {
        let filter = DocumentFilter {
            register_id: Some(rid(i)),
            from_time: Some(month_from * 86_400),
            to_time: Some((last_day + 1) * 86_400),
            limit: 50,
            ..DocumentFilter::default()
        };
        let tenant = tenant.clone();
        async move {
            let page = tenant.search_documents(&filter).await.expect("search");
            assert!(!page.is_empty());
        }
    })
    .await;
    println!(
        "search register + month, first page of 50: p50 {} p99 {}",
        ms(p50),
        ms(p99)
    );

    let (p50, p99) = percentiles(runs, |i| {
        let (fn_number, fd, _, _) = keys[i % keys.len()].clone();
        let filter = DocumentFilter {
            fn_number: Some(fn_number),
            fd_number: Some(fd),
            limit: 50,
            ..DocumentFilter::default()
        };
        let tenant = tenant.clone();
        async move {
            assert_eq!(
                tenant
                    .search_documents(&filter)
                    .await
                    .expect("search")
                    .len(),
                1
            );
        }
    })
    .await;
    println!("search FN + FD: p50 {} p99 {}", ms(p50), ms(p99));

    let (p50, p99) = percentiles(runs, |i| {
        let (_, _, register, shift) = keys[i % keys.len()].clone();
        let filter = DocumentFilter {
            register_id: Some(register),
            shift_number: Some(shift),
            limit: 50,
            ..DocumentFilter::default()
        };
        let tenant = tenant.clone();
        async move {
            assert!(!tenant
                .search_documents(&filter)
                .await
                .expect("search")
                .is_empty());
        }
    })
    .await;
    println!("search register + shift: p50 {} p99 {}", ms(p50), ms(p99));

    let (p50, p99) = percentiles(runs, |i| {
        let tenant = tenant.clone();
        async move {
            tenant
                .shifts(
                    rid(i),
                    Some(month_from * 86_400),
                    Some((last_day + 1) * 86_400),
                    100,
                )
                .await
                .expect("shifts");
        }
    })
    .await;
    println!(
        "shifts of a register for a month: p50 {} p99 {}",
        ms(p50),
        ms(p99)
    );

    let (p50, p99) = percentiles(runs / 4, |_| {
        let tenant = tenant.clone();
        async move {
            let figures = tenant
                .period_figures(RegisterSet::default(), month_from, last_day + 1, 10)
                .await
                .expect("totals");
            assert!(!figures.days.is_empty());
            assert!(!figures.top_products.is_empty());
        }
    })
    .await;
    println!(
        "a month's daily totals + hours + top products, organisation of {} registers: p50 {} p99 {}",
        register_ids.len(),
        ms(p50),
        ms(p99)
    );

    // CSV export through the real account API, as an operator (every organisation); a key of
    // its own each run, since a database is measured again as it is.
    let key = store
        .create_api_key(&format!("bench-{}", std::process::id()))
        .await
        .expect("key")
        .secret
        .expose()
        .to_owned();
    let config = AccountOptions {
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        export_max_rows: Some(export_rows),
        ..AccountOptions::default()
    }
    .resolve()
    .expect("account config");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let account = ofd::account::spawn(store.clone(), &config, shutdown.clone())
        .await
        .expect("account API");
    for (name, query) in [
        ("CSV", "format=csv"),
        ("CSV with the delivery column", "format=csv&delivery=true"),
    ] {
        let (bytes, lines, seconds, before, peak) = export(&account.addr, &key, query).await;
        let rows = lines.saturating_sub(1);
        println!(
            "export {name}: {rows} documents ({} MiB) in {seconds:.1} s = {:.0} documents/s; \
             RSS {} MiB before, {} MiB peak",
            bytes >> 20,
            rows as f64 / seconds,
            before / 1024,
            peak / 1024
        );
    }
    let xlsx_rows = env_or("OFD_BENCH_XLSX", 200_000);
    let (bytes, _, seconds, before, peak) = export(
        &account.addr,
        &key,
        &format!("format=xlsx&limit={xlsx_rows}"),
    )
    .await;
    println!(
        "export XLSX: {xlsx_rows} documents asked ({} MiB) in {seconds:.1} s = {:.0} documents/s; \
         RSS {} MiB before, {} MiB peak",
        bytes >> 20,
        xlsx_rows as f64 / seconds,
        before / 1024,
        peak / 1024
    );
    shutdown.cancel();
    let _ = account.task.await;
    store.close().await;
}
