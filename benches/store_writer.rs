//! Group-commit writer throughput on SQLite: many concurrent submitters storing RU-sized
//! documents, the shape of the ingest hot path (one document per connection). Each iteration
//! stores `DOCS` new documents from `SUBMITTERS` concurrent tasks into a real WAL file with
//! `synchronous=FULL`, so the figure includes every fsync.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ofd::store::{ru_doc_key, Dialect, NewDocument, Store, Writer, WriterConfig};

const DOCS: usize = 20_000;
const SUBMITTERS: usize = 1_000;

fn document(fd: i64) -> NewDocument {
    let fn_number = "9999078900012345";
    NewDocument {
        dialect: Dialect::Ru,
        doc_key: ru_doc_key(fn_number, fd),
        fn_number: Some(fn_number.to_owned()),
        fd_number: Some(fd),
        system_id: None,
        form_code: 3,
        ffd_version: Some(4),
        doc_time: Some(1_700_000_000),
        received_at: 1_700_000_000_000,
        raw: vec![0x5a; 320],
        json: "x".repeat(900),
        ack: vec![0xa5; 60],
        flk_errors: None,
        sign_verdict: "unverified".to_owned(),
        unregistered: false,
        peer: Some("10.0.0.1:40000".to_owned()),
    }
}

fn writer_throughput(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = runtime.block_on(Store::open(&url)).expect("open store");
    let mut next_fd = 0i64;

    let mut group = c.benchmark_group("store_writer");
    group.throughput(Throughput::Elements(DOCS as u64));
    group.sample_size(10);
    group.bench_function("sqlite_insert_20k_from_1k_submitters", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let base = next_fd;
                next_fd += DOCS as i64;
                total += runtime.block_on(store_batch(store.clone(), base));
            }
            total
        })
    });
    group.finish();
}

/// Store `DOCS` documents numbered from `base`; returns the time until the last commit.
async fn store_batch(store: Store, base: i64) -> Duration {
    let (writer, task) = Writer::spawn(store, WriterConfig::default());
    let docs: Vec<Vec<NewDocument>> = (0..SUBMITTERS)
        .map(|s| {
            (s..DOCS)
                .step_by(SUBMITTERS)
                .map(|i| document(base + i as i64))
                .collect()
        })
        .collect();
    let started = Instant::now();
    let submitters: Vec<_> = docs
        .into_iter()
        .map(|docs| {
            let writer = writer.clone();
            tokio::spawn(async move {
                for doc in docs {
                    writer.store(doc).await.expect("stored");
                }
            })
        })
        .collect();
    drop(writer);
    for submitter in submitters {
        submitter.await.expect("submitter");
    }
    task.await.expect("writer task");
    started.elapsed()
}

criterion_group!(benches, writer_throughput);
criterion_main!(benches);
